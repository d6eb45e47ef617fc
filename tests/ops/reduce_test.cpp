// Direct value tests of the reductions and sum_to: known values, dtypes, NaN and tie rules, every kernel
// path (inner, outer, blocked full reduction, strided input) on large inputs, gradients, and infer's errors.
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
// x = 0..23 as (2, 3, 4)
Tensor iota234() {
  std::vector<double> v(24);
  for (int i = 0; i < 24; ++i) v[i] = i;
  return f64(v, {2, 3, 4});
}

TEST(Reduce, SumValuesAndShapes) {
  const Tensor x = iota234();
  EXPECT_EQ(sum(x).shape(), Shape{});
  EXPECT_EQ(sum(x).item(), 276);
  const Tensor s1 = sum(x, {1});
  EXPECT_EQ(s1.shape(), (Shape{2, 4}));
  EXPECT_EQ(values(s1), (std::vector<double>{12, 15, 18, 21, 48, 51, 54, 57}));
  const Tensor s02 = sum(x, {0, -1}, true);
  EXPECT_EQ(s02.shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(values(s02), (std::vector<double>{60, 92, 124}));
  EXPECT_EQ(sum(x, {}, true).shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(sum(f64({5}, {}), {}).item(), 5);
  EXPECT_EQ(values(mean(x, {2})), (std::vector<double>{1.5, 5.5, 9.5, 13.5, 17.5, 21.5}));
  EXPECT_EQ(mean(x).item(), 11.5);
  EXPECT_EQ(values(max(x, {0, 1})), (std::vector<double>{20, 21, 22, 23}));
  EXPECT_EQ(max(x).item(), 23);
  const Tensor am = argmax(f64({1, 7, 3, 9, 2, 9}, {2, 3}), 1);
  EXPECT_EQ(am.dtype(), DType::i64);
  EXPECT_EQ(am.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(argmax(f64({1, 7, 3, 9, 2, 9}, {2, 3}), 0, true).shape(), (Shape{1, 3}));
  EXPECT_EQ(argmax(f64({1, 7, 3, 9, 2, 9}, {2, 3}), -2).to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 1}));
}

TEST(Reduce, IntegerAndBoolDtypes) {
  const Tensor n = Tensor::from_vector<int32_t>({2147483647, 1, -5, 4}, {2, 2});
  const Tensor s = sum(n, {0});
  EXPECT_EQ(s.dtype(), DType::i64);  // as NumPy: no overflow at i32
  EXPECT_EQ(s.to_vector<int64_t>(), (std::vector<int64_t>{2147483642, 5}));
  const Tensor flags = of_dtype({1, 0, 1, 1, 1, 0}, {2, 3}, DType::boolean);
  EXPECT_EQ(sum(flags).dtype(), DType::i64);
  EXPECT_EQ(sum(flags).item(), 4);
  EXPECT_EQ(values(max(flags, {1})), (std::vector<double>{1, 1}));
  EXPECT_EQ(max(i64({-3, -9}, {2})).item(), -3);
  EXPECT_EQ(max(Tensor::from_vector<uint8_t>({0, 0}, {2})).item(), 0);
  EXPECT_EQ(argmax(Tensor::from_vector<int8_t>({-128, -128, -127}, {3}), 0).item(), 2);
  EXPECT_EQ(argmax(Tensor::from_vector<int8_t>({-128, -128}, {2}), 0).item(), 0);
  const Tensor h = sum(cast(f32({0.5f, 1.5f, 2.0f}, {3}), DType::f16));
  EXPECT_EQ(h.dtype(), DType::f16);
  EXPECT_EQ(h.item(), 4.0);
  EXPECT_EQ(mean(cast(f32({1.0f, 2.0f}, {2}), DType::bf16)).item(), 1.5);
}

TEST(Reduce, NaNInfinityAndTies) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(std::isnan(max(f64({1, nan, 3}, {3})).item()));
  EXPECT_TRUE(std::isnan(max(f64({nan, 1}, {2})).item()));
  EXPECT_EQ(argmax(f64({1, nan, 3, nan}, {4}), 0).item(), 1);  // the first NaN, as NumPy
  EXPECT_EQ(max(f64({-inf, -inf}, {2})).item(), -inf);
  EXPECT_EQ(argmax(f64({-inf, -inf}, {2}), 0).item(), 0);
  EXPECT_EQ(argmax(f64({-inf, -std::numeric_limits<double>::max()}, {2}), 0).item(), 1);
  EXPECT_EQ(argmax(f64({2, 5, 5, 1, 5}, {5}), 0).item(), 1);  // the first of tied maxima
  EXPECT_TRUE(std::isnan(sum(f64({1, nan}, {2})).item()));
}

// NaN inside the unrolled lanes, in a column reduction and across the blocks of a full reduction.
TEST(Reduce, NaNOnEveryPath) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const int64_t rows = 300, cols = 257;
  Tensor x = Tensor::zeros({rows, cols}, DType::f32);
  float* p = x.data<float>();
  p[5 * cols + 100] = nan;        // row 5, column 100
  p[5 * cols + 200] = nan;        // a later NaN in the same row
  p[7 * cols + 3] = 1.0f;
  const std::vector<double> rmax = values(max(x, {1}));
  const std::vector<int64_t> rarg = argmax(x, 1).to_vector<int64_t>();
  EXPECT_TRUE(std::isnan(rmax[5]));
  EXPECT_EQ(rarg[5], 100);
  EXPECT_EQ(rmax[7], 1.0);
  EXPECT_EQ(rarg[7], 3);
  EXPECT_EQ(rmax[8], 0.0);
  const std::vector<double> cmax = values(max(x, {0}));
  const std::vector<int64_t> carg = argmax(x, 0).to_vector<int64_t>();
  EXPECT_TRUE(std::isnan(cmax[100]));
  EXPECT_EQ(carg[100], 5);
  EXPECT_EQ(cmax[3], 1.0);
  EXPECT_EQ(carg[3], 7);
  EXPECT_EQ(cmax[4], 0.0);
  Tensor big = Tensor::zeros({1 << 18}, DType::f32);
  big.data<float>()[200000] = nan;
  big.data<float>()[250000] = nan;
  big.data<float>()[7] = 5.0f;
  EXPECT_TRUE(std::isnan(max(big).item()));
  EXPECT_EQ(argmax(big, 0).item(), 200000);
  EXPECT_TRUE(std::isnan(sum(big).item()));
  big.data<float>()[200000] = 0;
  big.data<float>()[250000] = 0;
  EXPECT_EQ(max(big).item(), 5.0);
  EXPECT_EQ(argmax(big, 0).item(), 7);
}

TEST(Reduce, EmptyExtents) {
  const Tensor e = Tensor::zeros({0, 3}, DType::f32);
  EXPECT_EQ(values(sum(e, {0})), (std::vector<double>{0, 0, 0}));
  const Tensor m = mean(e, {0});
  for (double v : values(m)) EXPECT_TRUE(std::isnan(v));
  EXPECT_EQ(sum(e, {1}).shape(), (Shape{0}));
  EXPECT_EQ(max(e, {1}).shape(), (Shape{0}));  // reduces 3 elements into each of 0 outputs: fine
  EXPECT_EQ(sum(e).item(), 0);
}

// Compares every kernel path against a brute-force double sum: inner reduction (axis 1), outer
// reduction over rows (axis 0), a blocked full reduction, and strided inputs.
TEST(Reduce, LargeInputsEveryPath) {
  const int64_t rows = 1200, cols = 333;
  Tensor x = Tensor::empty({rows, cols}, DType::f32);
  float* p = x.data<float>();
  for (int64_t i = 0; i < rows * cols; ++i) p[i] = static_cast<float>((i * 7919) % 1009) / 100.0f - 5.0f;
  auto at = [&](int64_t r, int64_t c) { return static_cast<double>(p[r * cols + c]); };

  const std::vector<double> by_row = values(sum(x, {1}));
  const std::vector<double> row_max = values(max(x, {1}));
  const std::vector<int64_t> row_arg = argmax(x, 1).to_vector<int64_t>();
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0, m = -1e30;
    int64_t arg = 0;
    for (int64_t c = 0; c < cols; ++c) {
      s += at(r, c);
      if (at(r, c) > m) m = at(r, c), arg = c;
    }
    ASSERT_NEAR(by_row[r], s, 1e-3) << r;
    ASSERT_EQ(row_max[r], m) << r;
    ASSERT_EQ(row_arg[r], arg) << r;
  }
  const std::vector<double> by_col = values(sum(x, {0}));
  const std::vector<double> col_mean = values(mean(x, {0}, true));
  const std::vector<double> col_max = values(max(x, {0}));
  const std::vector<int64_t> col_arg = argmax(x, 0).to_vector<int64_t>();
  for (int64_t c = 0; c < cols; ++c) {
    double s = 0, m = -1e30;
    int64_t arg = 0;
    for (int64_t r = 0; r < rows; ++r) {
      s += at(r, c);
      if (at(r, c) > m) m = at(r, c), arg = r;
    }
    ASSERT_NEAR(by_col[c], s, 1e-3) << c;
    ASSERT_NEAR(col_mean[c], s / rows, 1e-5) << c;
    ASSERT_EQ(col_max[c], m) << c;
    ASSERT_EQ(col_arg[c], arg) << c;
  }
  double total = 0, best = -1e30;
  int64_t best_at = 0;
  for (int64_t i = 0; i < rows * cols; ++i) {
    total += p[i];
    if (p[i] > best) best = p[i], best_at = i;
  }
  EXPECT_NEAR(sum(x).item(), total, 1e-2);
  EXPECT_NEAR(mean(x).item(), total / (rows * cols), 1e-6);
  EXPECT_EQ(max(x).item(), best);
  EXPECT_EQ(argmax(reshape(x, {-1}), 0).item(), best_at);  // first maximum across blocks
  // The same reductions through a transposed (non-contiguous) view.
  const Tensor t = transpose(x, 0, 1);
  EXPECT_EQ(values(sum(t, {1})), by_col);
  EXPECT_EQ(values(max(t, {0})), row_max);
  EXPECT_EQ(argmax(t, 1).to_vector<int64_t>(), col_arg);
  EXPECT_NEAR(sum(t).item(), total, 1e-2);
  // Integer totals are exact.
  Tensor n = Tensor::empty({1 << 17}, DType::i64);
  int64_t* np = n.data<int64_t>();
  int64_t want = 0;
  for (int64_t i = 0; i < n.numel(); ++i) want += (np[i] = i * 3 - 7);
  EXPECT_EQ(sum(n).to_vector<int64_t>()[0], want);
}

TEST(Reduce, SumTo) {
  const Tensor x = iota234();
  EXPECT_TRUE(sum_to(x, {2, 3, 4}).same_storage(x));  // nothing to sum: x itself
  const Tensor a = sum_to(x, {3, 1});
  EXPECT_EQ(a.shape(), (Shape{3, 1}));
  EXPECT_EQ(values(a), (std::vector<double>{60, 92, 124}));
  const Tensor b = sum_to(x, {4});
  EXPECT_EQ(values(b), (std::vector<double>{60, 66, 72, 78}));
  const Tensor c = sum_to(x, {2, 1, 1});
  EXPECT_EQ(values(c), (std::vector<double>{66, 210}));
  EXPECT_EQ(sum_to(x, {}).item(), 276);
  EXPECT_EQ(sum_to(f64({1, 2}, {1, 2}), {2}).shape(), (Shape{2}));  // only a size-1 axis dropped
  EXPECT_ERROR(sum_to(x, {5}), "sum_to: shape (5,) does not broadcast to (2, 3, 4)");
  EXPECT_ERROR(sum_to(f64({1, 2}, {2}), {1, 2}), "sum_to: cannot sum (2,) to (1, 2)");
}

TEST(Reduce, Gradients) {
  // max: tied maxima share the gradient evenly (three ways here), others get none.
  Tensor x = f64({3, 1, 3, 3, 0, 2}, {2, 3}).set_requires_grad(true);
  backward(sum(max(x)));
  const std::vector<double> g = values(x.grad());
  EXPECT_NEAR(g[0], 1.0 / 3, 1e-15);
  EXPECT_EQ(g[1], 0);
  EXPECT_NEAR(g[2], 1.0 / 3, 1e-15);
  EXPECT_NEAR(g[3], 1.0 / 3, 1e-15);
  EXPECT_EQ(g[4], 0);
  Tensor y = f64({1, 2, 3, 4, 5, 6}, {2, 3}).set_requires_grad(true);
  backward(sum(mul(mean(y, {1}), f64({1, 10}, {2}))));
  const std::vector<double> gy = values(y.grad());
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(gy[i], 1.0 / 3, 1e-15);
  for (int i = 3; i < 6; ++i) EXPECT_NEAR(gy[i], 10.0 / 3, 1e-14);
  Tensor z = f64({1, 2, 3, 4}, {2, 2}).set_requires_grad(true);
  backward(sum(mul(sum(z, {0}, true), f64({2, 5}, {1, 2}))));
  EXPECT_EQ(values(z.grad()), (std::vector<double>{2, 5, 2, 5}));
  EXPECT_FALSE(argmax(z, 0).requires_grad());
}

TEST(Reduce, MetaDevice) {
  const Tensor x = Tensor::empty({8, 3, 5}, DType::f32, kMeta);
  EXPECT_EQ(sum(x, {1}).shape(), (Shape{8, 5}));
  EXPECT_EQ(mean(x, {0, 2}, true).shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(argmax(x, -1).dtype(), DType::i64);
  EXPECT_EQ(sum(Tensor::empty({4}, DType::u8, kMeta)).dtype(), DType::i64);
}

TEST(Reduce, InferErrors) {
  const Tensor x = iota234();
  EXPECT_ERROR(sum(x, {1, -2}), "sum: axis 1 appears twice in axes [1, -2]");
  EXPECT_ERROR(mean(x, {3}), "mean: axis 3 is out of range for rank 3");
  EXPECT_ERROR(max(x, {-4}), "max: axis -4 is out of range for rank 3");
  EXPECT_ERROR(mean(i64({1, 2}, {2})), "mean: input must be floating (f64, f32, f16, bf16), got i64");
  EXPECT_ERROR(max(Tensor::zeros({2, 0}), {1}), "max: cannot reduce over axis 1 of size 0");
  EXPECT_ERROR(max(Tensor::zeros({0})), "max: cannot reduce over axis 0 of size 0");
  EXPECT_ERROR(argmax(Tensor::zeros({3, 0}), 1), "argmax: cannot reduce over axis 1 of size 0");
  EXPECT_ERROR(argmax(f64({1}, {}), 0), "argmax: axis 0 is out of range for rank 0");
  EXPECT_ERROR(sum(f64({1}, {}), {0}), "sum: axis 0 is out of range for rank 0");
}

}  // namespace
}  // namespace plumb
