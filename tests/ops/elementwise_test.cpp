// Direct value tests of the elementwise ops: known values, integer and NaN semantics, casts, broadcasting
// and layouts on sizes large enough to take the parallel and strided paths, and infer's error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "plumb/autograd.h"
#include "plumb/ops.h"
#include "plumb/tensor.h"
#include "test_util.h"

namespace plumb {
namespace {

using namespace test_util;
TEST(Elementwise, UnaryKnownValues) {
  const Tensor x = f64({-2, 0, 0.5, 4}, {4});
  EXPECT_EQ(values(neg(x)), (std::vector<double>{2, -0.0, -0.5, -4}));
  EXPECT_EQ(values(abs(x)), (std::vector<double>{2, 0, 0.5, 4}));
  EXPECT_EQ(values(relu(x)), (std::vector<double>{0, 0, 0.5, 4}));
  EXPECT_EQ(values(clamp(x, -1, 1)), (std::vector<double>{-1, 0, 0.5, 1}));
  const Tensor p = f64({1, 4, 0.25}, {3});
  EXPECT_EQ(values(sqrt(p)), (std::vector<double>{1, 2, 0.5}));
  EXPECT_EQ(values(rsqrt(p)), (std::vector<double>{1, 0.5, 2}));
  EXPECT_DOUBLE_EQ(exp(f64({1}, {1})).item(), std::exp(1.0));
  EXPECT_DOUBLE_EQ(log(f64({std::exp(2.0)}, {1})).item(), 2.0);
  EXPECT_DOUBLE_EQ(tanh(f64({0.5}, {})).item(), std::tanh(0.5));
  // sigmoid is stable at both ends: no overflow to NaN.
  EXPECT_EQ(values(sigmoid(f64({-1000, 0, 1000}, {3}))), (std::vector<double>{0, 0.5, 1}));
  EXPECT_FLOAT_EQ(static_cast<float>(sigmoid(f32({-30}, {1})).item()), 1.0f / (1.0f + std::exp(30.0f)));
  EXPECT_EQ(exp(f32({0}, {})).dtype(), DType::f32);
  EXPECT_EQ(exp(f32({0}, {})).shape(), Shape{});
}

TEST(Elementwise, BinaryBroadcastValues) {
  const Tensor a = f64({1, 2}, {2, 1});
  const Tensor b = f64({10, 20, 30}, {3});
  const Tensor s = add(a, b);
  EXPECT_EQ(s.shape(), (Shape{2, 3}));
  EXPECT_EQ(values(s), (std::vector<double>{11, 21, 31, 12, 22, 32}));
  EXPECT_EQ(values(sub(a, b)), (std::vector<double>{-9, -19, -29, -8, -18, -28}));
  EXPECT_EQ(values(mul(a, b)), (std::vector<double>{10, 20, 30, 20, 40, 60}));
  EXPECT_EQ(values(div(b, a)), (std::vector<double>{10, 20, 30, 5, 10, 15}));
  EXPECT_EQ(values(pow(a, f64({2, 3, 0}, {3}))), (std::vector<double>{1, 1, 1, 4, 8, 1}));
  EXPECT_EQ(values(maximum(f64({1, 5}, {2}), f64({3}, {}))), (std::vector<double>{3, 5}));
  EXPECT_EQ(values(minimum(f64({1, 5}, {2}), f64({3}, {}))), (std::vector<double>{1, 3}));
}

TEST(Elementwise, ScalarOverloadsAndOperators) {
  const Tensor x = f32({1, 2, 4}, {3});
  EXPECT_EQ(values(x + 1.0), (std::vector<double>{2, 3, 5}));
  EXPECT_EQ(values(x - 1.0), (std::vector<double>{0, 1, 3}));
  EXPECT_EQ(values(x * 2.0), (std::vector<double>{2, 4, 8}));
  EXPECT_EQ(values(2.0 * x), (std::vector<double>{2, 4, 8}));
  EXPECT_EQ(values(x / 2.0), (std::vector<double>{0.5, 1, 2}));
  EXPECT_EQ(values(pow(x, 2.0)), (std::vector<double>{1, 4, 16}));
  EXPECT_EQ(values(-x), (std::vector<double>{-1, -2, -4}));
  EXPECT_EQ(values(x + x * x - x / x), (std::vector<double>{1, 5, 19}));
  EXPECT_EQ((x * 2.0).dtype(), DType::f32);  // the scalar takes the tensor's dtype
  // An integer tensor keeps its dtype too.
  const Tensor n = i64({1, -2}, {2});
  EXPECT_EQ((n + 3.0).dtype(), DType::i64);
  EXPECT_EQ(values(n * 3.0), (std::vector<double>{3, -6}));
}

TEST(Elementwise, IntegerSemanticsWrap) {
  const int32_t imax = std::numeric_limits<int32_t>::max(), imin = std::numeric_limits<int32_t>::min();
  const Tensor a = Tensor::from_vector<int32_t>({imax, imin, 7}, {3});
  const Tensor one = Tensor::from_vector<int32_t>({1}, {1});
  EXPECT_EQ(add(a, one).to_vector<int64_t>(), (std::vector<int64_t>{imin, imin + 1, 8}));
  EXPECT_EQ(sub(a, one).to_vector<int64_t>(), (std::vector<int64_t>{imax - 1, imax, 6}));
  EXPECT_EQ(neg(a).to_vector<int64_t>(), (std::vector<int64_t>{-imax, imin, -7}));
  const int64_t lmin = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(abs(i64({lmin, -5, 5}, {3})).to_vector<int64_t>(), (std::vector<int64_t>{lmin, 5, 5}));
  EXPECT_EQ(mul(i64({int64_t{1} << 62}, {1}), i64({4}, {1})).to_vector<int64_t>(), (std::vector<int64_t>{0}));
  const Tensor u = Tensor::from_vector<uint8_t>({0, 200, 16}, {3});
  EXPECT_EQ(sub(u, Tensor::from_vector<uint8_t>({1}, {})).to_vector<int64_t>(), (std::vector<int64_t>{255, 199, 15}));
  EXPECT_EQ(mul(u, Tensor::from_vector<uint8_t>({16}, {})).to_vector<int64_t>(), (std::vector<int64_t>{0, 128, 0}));
  EXPECT_EQ(neg(u).to_vector<int64_t>(), (std::vector<int64_t>{0, 56, 240}));
  EXPECT_EQ(relu(Tensor::from_vector<int8_t>({-3, 0, 9}, {3})).to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 9}));
  EXPECT_EQ(maximum(i64({3, -1}, {2}), i64({2}, {})).to_vector<int64_t>(), (std::vector<int64_t>{3, 2}));
  // bool: add is or, mul is and.
  const Tensor p = of_dtype({0, 0, 1, 1}, {4}, DType::boolean), q = of_dtype({0, 1, 0, 1}, {4}, DType::boolean);
  EXPECT_EQ(values(add(p, q)), (std::vector<double>{0, 1, 1, 1}));
  EXPECT_EQ(values(mul(p, q)), (std::vector<double>{0, 0, 0, 1}));
  EXPECT_EQ(values(maximum(p, q)), (std::vector<double>{0, 1, 1, 1}));
  EXPECT_EQ(values(minimum(p, q)), (std::vector<double>{0, 0, 0, 1}));
}

TEST(Elementwise, ComparisonsAndNaN) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor a = f64({1, 2, 3, nan}, {4}), b = f64({2, 2, 2, nan}, {4});
  EXPECT_EQ(eq(a, b).dtype(), DType::boolean);
  EXPECT_EQ(values(eq(a, b)), (std::vector<double>{0, 1, 0, 0}));
  EXPECT_EQ(values(ne(a, b)), (std::vector<double>{1, 0, 1, 1}));
  EXPECT_EQ(values(lt(a, b)), (std::vector<double>{1, 0, 0, 0}));
  EXPECT_EQ(values(le(a, b)), (std::vector<double>{1, 1, 0, 0}));
  EXPECT_EQ(values(gt(a, b)), (std::vector<double>{0, 0, 1, 0}));
  EXPECT_EQ(values(ge(a, b)), (std::vector<double>{0, 1, 1, 0}));
  // maximum/minimum propagate NaN from either side.
  const Tensor m = maximum(f64({nan, 1, 2}, {3}), f64({0, nan, 1}, {3}));
  EXPECT_TRUE(std::isnan(values(m)[0]));
  EXPECT_TRUE(std::isnan(values(m)[1]));
  EXPECT_EQ(values(m)[2], 2);
  const Tensor n = minimum(f64({nan, 1}, {2}), f64({0, nan}, {2}));
  EXPECT_TRUE(std::isnan(values(n)[0]));
  EXPECT_TRUE(std::isnan(values(n)[1]));
  EXPECT_TRUE(std::isnan(relu(f64({nan}, {1})).item()));
  EXPECT_TRUE(std::isnan(clamp(f64({nan}, {1}), 0, 1).item()));
}

TEST(Elementwise, Where) {
  const Tensor cond = of_dtype({1, 0, 1}, {3}, DType::boolean);
  const Tensor y = where(cond, f32({1, 2}, {2, 1}), f32({-1}, {}));
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(y.dtype(), DType::f32);
  EXPECT_EQ(values(y), (std::vector<double>{1, -1, 1, 2, -1, 2}));
  EXPECT_EQ(where(cond, i64({5, 6, 7}, {3}), i64({0}, {})).to_vector<int64_t>(), (std::vector<int64_t>{5, 0, 7}));
}

TEST(Elementwise, CastConversions) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = f64({2.75, -2.75, 1e10, -1e10, nan, 0.5}, {6});
  const int64_t big = std::numeric_limits<int32_t>::max(), small = std::numeric_limits<int32_t>::min();
  // Truncates toward zero, saturates out of range, NaN -> 0.
  EXPECT_EQ(cast(x, DType::i32).to_vector<int64_t>(), (std::vector<int64_t>{2, -2, big, small, 0, 0}));
  EXPECT_EQ(cast(x, DType::u8).to_vector<int64_t>(), (std::vector<int64_t>{2, 0, 255, 0, 0, 0}));
  EXPECT_EQ(values(cast(x, DType::boolean)), (std::vector<double>{1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(values(cast(f64({0, -0.0, 3}, {3}), DType::boolean)), (std::vector<double>{0, 0, 1}));
  // Integer narrowing wraps as two's complement.
  EXPECT_EQ(cast(i64({200, -129, 127}, {3}), DType::i8).to_vector<int64_t>(), (std::vector<int64_t>{-56, 127, 127}));
  // f16 / bf16 round to nearest even and convert back exactly.
  const Tensor h = cast(f32({1.0f, 0.1f, 65504.0f, 1e6f}, {4}), DType::f16);
  EXPECT_EQ(h.dtype(), DType::f16);
  const std::vector<double> hv = values(cast(h, DType::f32));
  EXPECT_EQ(hv[0], 1.0);
  EXPECT_EQ(hv[1], static_cast<double>(f16_to_f32(f32_to_f16(0.1f))));
  EXPECT_EQ(hv[2], 65504.0);
  EXPECT_TRUE(std::isinf(hv[3]));
  const Tensor bf = cast(f64({3.140625, 1.0 / 3}, {2}), DType::bf16);
  EXPECT_EQ(values(bf), (std::vector<double>{3.140625, static_cast<double>(bf16_to_f32(f32_to_bf16(1.0f / 3)))}));
  EXPECT_EQ(values(cast(of_dtype({1, 0}, {2}, DType::boolean), DType::f16)), (std::vector<double>{1, 0}));
  EXPECT_EQ(cast(h, DType::bf16).dtype(), DType::bf16);
  // Every dtype pair runs.
  const DType all[] = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i64,
                       DType::i32, DType::i8,  DType::u8,  DType::boolean};
  for (DType from : all)
    for (DType to : all) {
      const Tensor t = cast(of_dtype({0, 1, 3}, {3}, from), to);
      const std::vector<double> want = to == DType::boolean || from == DType::boolean ? std::vector<double>{0, 1, 1}
                                                                                        : std::vector<double>{0, 1, 3};
      EXPECT_EQ(values(t), want) << dtype_name(from) << " -> " << dtype_name(to);
    }
}

TEST(Elementwise, HalfArithmetic) {
  const Tensor a = cast(f32({1.5f, -2.0f, 0.25f}, {3}), DType::f16);
  const Tensor b = cast(f32({0.5f}, {1}), DType::f16);
  const Tensor s = add(a, b);
  EXPECT_EQ(s.dtype(), DType::f16);
  EXPECT_EQ(values(s), (std::vector<double>{2.0, -1.5, 0.75}));
  EXPECT_EQ(values(mul(a, b)), (std::vector<double>{0.75, -1.0, 0.125}));
  EXPECT_EQ(values(gt(a, b)), (std::vector<double>{1, 0, 0}));
  const Tensor e = exp(cast(f32({0.0f, 1.0f}, {2}), DType::bf16));
  EXPECT_EQ(e.dtype(), DType::bf16);
  EXPECT_EQ(values(e)[0], 1.0);
  EXPECT_EQ(values(e)[1], static_cast<double>(bf16_to_f32(f32_to_bf16(std::exp(1.0f)))));
}

// Sizes above the parallel grain, broadcast and view layouts, against a per-element computation.
TEST(Elementwise, LargeAndStridedLayouts) {
  const int64_t rows = 700, cols = 300;
  Tensor a = Tensor::empty({rows, cols}, DType::f32);
  Tensor bias = Tensor::empty({cols}, DType::f32);
  float* ap = a.data<float>();
  float* bp = bias.data<float>();
  for (int64_t i = 0; i < rows * cols; ++i) ap[i] = static_cast<float>((i * 37) % 101) / 10.0f - 5.0f;
  for (int64_t j = 0; j < cols; ++j) bp[j] = static_cast<float>(j) * 0.5f;

  const Tensor same = mul(a, a);  // contiguous same-shape fast path
  const float* sp = same.data<float>();
  for (int64_t i = 0; i < rows * cols; ++i) ASSERT_EQ(sp[i], ap[i] * ap[i]) << i;

  const Tensor row = add(a, bias);  // (N, C) + (C)
  const float* rp = row.data<float>();
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) ASSERT_EQ(rp[i * cols + j], ap[i * cols + j] + bp[j]);

  const Tensor col = sub(a, slice(a, 1, 0, 1));  // (N, C) - (N, 1) strided view
  const float* cp = col.data<float>();
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) ASSERT_EQ(cp[i * cols + j], ap[i * cols + j] - ap[i * cols]);

  const Tensor t = transpose(a, 0, 1);  // non-contiguous input
  const Tensor tt = exp(t);
  ASSERT_EQ(tt.shape(), (Shape{cols, rows}));
  const float* tp = tt.data<float>();
  for (int64_t j = 0; j < cols; ++j)
    for (int64_t i = 0; i < rows; ++i) ASSERT_EQ(tp[j * rows + i], std::exp(ap[i * cols + j]));

  const Tensor e = expand(reshape(bias, {1, cols}), {rows, cols});  // zero-stride input
  const Tensor mixed = maximum(t, transpose(e, 0, 1));
  const float* mp = mixed.data<float>();
  for (int64_t j = 0; j < cols; ++j)
    for (int64_t i = 0; i < rows; ++i) ASSERT_EQ(mp[j * rows + i], std::max(ap[i * cols + j], bp[j]));

  const Tensor w = where(gt(a, bias), a, bias);
  const float* wp = w.data<float>();
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) ASSERT_EQ(wp[i * cols + j], std::max(ap[i * cols + j], bp[j]));
}

TEST(Elementwise, GradientsThroughOps) {
  // maximum: ties split the gradient evenly.
  Tensor a = f64({1, 2, 3}, {3}).set_requires_grad(true);
  Tensor b = f64({1, 5, 0}, {3}).set_requires_grad(true);
  backward(sum(maximum(a, b)));
  EXPECT_EQ(values(a.grad()), (std::vector<double>{0.5, 0, 1}));
  EXPECT_EQ(values(b.grad()), (std::vector<double>{0.5, 1, 0}));
  // Broadcast operands get their gradient summed back to their own shape.
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3}).set_requires_grad(true);
  Tensor r = f64({10, 20, 30}, {3}).set_requires_grad(true);
  backward(sum(mul(x, r)));
  EXPECT_EQ(values(x.grad()), (std::vector<double>{10, 20, 30, 10, 20, 30}));
  EXPECT_EQ(values(r.grad()), (std::vector<double>{5, 7, 9}));
  // cast between floating dtypes passes the gradient back in the input's dtype.
  Tensor c = f32({1, 2}, {2}).set_requires_grad(true);
  backward(sum(mul(cast(c, DType::f64), f64({3, 4}, {2}))));
  EXPECT_EQ(c.grad().dtype(), DType::f32);
  EXPECT_EQ(values(c.grad()), (std::vector<double>{3, 4}));
  // Comparisons carry no gradient.
  Tensor d = f64({1, 2}, {2}).set_requires_grad(true);
  EXPECT_FALSE(gt(d, f64({0}, {})).requires_grad());
}

TEST(Elementwise, MetaDeviceInfersOnly) {
  const Tensor a = Tensor::empty({4, 1, 3}, DType::f32, kMeta), b = Tensor::empty({5, 1}, DType::f32, kMeta);
  const Tensor y = add(a, b);
  EXPECT_TRUE(y.is_meta());
  EXPECT_EQ(y.shape(), (Shape{4, 5, 3}));
  EXPECT_EQ(lt(a, b).dtype(), DType::boolean);
  EXPECT_EQ(cast(a, DType::bf16).dtype(), DType::bf16);
}

TEST(Elementwise, InferErrors) {
  const Tensor x32 = f32({1, 2, 3}, {3}), x64 = f64({1, 2, 3}, {3}), n = i64({1, 2, 3}, {3});
  const Tensor flag = of_dtype({1, 0, 1}, {3}, DType::boolean);
  EXPECT_ERROR(exp(n), "exp: input must be floating (f64, f32, f16, bf16), got i64");
  EXPECT_ERROR(sigmoid(flag), "sigmoid: input must be floating");
  EXPECT_ERROR(neg(flag), "neg: input must be floating or integer");
  EXPECT_ERROR(clamp(n, 0, 1), "clamp: input must be floating");
  EXPECT_ERROR(clamp(x32, 2, 1), "clamp: min 2 is greater than max 1");
  EXPECT_ERROR(add(x32, x64), "add: operand dtypes differ (f32 vs f64)");
  EXPECT_ERROR(mul(x32, f32({1, 2}, {2})), "mul: shapes (3,) and (2,) do not broadcast");
  EXPECT_ERROR(div(n, n), "div: operands must be floating");
  EXPECT_ERROR(pow(n, n), "pow: operands must be floating");
  EXPECT_ERROR(sub(flag, flag), "sub: not defined for bool operands");
  EXPECT_ERROR(lt(x32, n), "lt: operand dtypes differ (f32 vs i64)");
  EXPECT_ERROR(where(x32, x32, x32), "where: condition must be bool, got f32");
  EXPECT_ERROR(where(flag, x32, x64), "where: operand dtypes differ");
  EXPECT_ERROR(where(flag, x32, f32({1, 2}, {2})), "where: shapes");
}

}  // namespace
}  // namespace plumb
