// Direct value tests of index_select, gather and scatter_add: known values, i32 indices, other dtypes,
// out-of-range indices (the kernel-side check), bad shapes (infer), and gradients.
#include <gtest/gtest.h>

#include "ops/op_def.h"
#include "plumb/autograd.h"
#include "plumb/ops.h"
#include "test_util.h"

namespace plumb {
namespace {

using namespace test_util;
Tensor idx32(std::vector<int32_t> v, Shape shape) { return Tensor::from_vector(v, std::move(shape)); }

TEST(Index, IndexSelectRowsAndColumns) {
  Tensor x = iota({3, 4});
  EXPECT_EQ(values(index_select(x, 0, idx({2, 0, 2}, {3}))),
            (std::vector<double>{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}));
  EXPECT_EQ(values(index_select(x, 1, idx32({3, 0}, {2}))), (std::vector<double>{3, 0, 7, 4, 11, 8}));
  EXPECT_EQ(index_select(x, -1, idx({}, {0})).shape(), (Shape{3, 0}));
  // Any dtype moves as bytes.
  Tensor h = Tensor::empty({3}, DType::f16);
  for (int64_t i = 0; i < 3; ++i) set_element_from_double(h, i, 0.5 * static_cast<double>(i));
  EXPECT_EQ(index_select(h, 0, idx({2, 1}, {2})).to_vector<double>(), (std::vector<double>{1.0, 0.5}));
  Tensor b = Tensor::from_vector(std::vector<uint8_t>{0, 1, 1}, {3});
  EXPECT_EQ(index_select(b, 0, idx({0, 2}, {2})).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1}));
}

TEST(Index, OutOfRangeIndexThrowsFromTheKernel) {
  Tensor x = iota({5, 2});
  EXPECT_EQ(error_of([&] { index_select(x, 0, idx({1, 7}, {2})); }),
            "index_select: index 7 is out of range for axis 0 of size 5");
  EXPECT_EQ(error_of([&] { index_select(x, 0, idx32({-1}, {1})); }),
            "index_select: index -1 is out of range for axis 0 of size 5");
  EXPECT_EQ(error_of([&] { gather(x, 1, idx({0, 2}, {1, 2})); }), "gather: index 2 is out of range for axis 1 of size 2");
  EXPECT_EQ(error_of([&] { scatter_add(x, 0, idx({5}, {1, 1}), vec({1}, {1, 1})); }),
            "scatter_add: index 5 is out of range for axis 0 of size 5");
}

TEST(Index, InferRejectsBadShapesAndDTypes) {
  Tensor x = iota({3, 4});
  EXPECT_EQ(error_of([&] { index_select(x, 0, vec({0}, {1})); }), "index_select: index must be i64 or i32, got f64");
  EXPECT_EQ(error_of([&] { index_select(x, 0, idx({0, 1}, {1, 2})); }), "index_select: index must be 1-d, got shape (1, 2)");
  EXPECT_EQ(error_of([&] { index_select(x, 2, idx({0}, {1})); }), "index_select: axis 2 is out of range for rank 2");
  EXPECT_EQ(error_of([&] { gather(x, 0, idx({0}, {1})); }),
            "gather: index has rank 1 but input has rank 2 (shapes (1,) and (3, 4))");
  EXPECT_EQ(error_of([&] { gather(x, 0, idx({0, 0, 0, 0, 0}, {1, 5})); }),
            "gather: index (1, 5) is larger than input (3, 4) on axis 1");
  EXPECT_EQ(error_of([&] { scatter_add(x, 0, idx({0, 1}, {1, 2}), vec({1, 2, 3}, {1, 3})); }),
            "scatter_add: src shape (1, 3) must equal index shape (1, 2)");
  EXPECT_EQ(error_of([&] { scatter_add(x, 0, idx({0}, {1, 1}), Tensor::zeros({1, 1}, DType::f32)); }),
            "scatter_add: src has dtype f32 but input has f64");
}

TEST(Index, GatherMatchesTorchSemantics) {
  // torch.gather(t, 1, [[0, 0], [1, 0]]) with t = [[1, 2], [3, 4]] -> [[1, 1], [4, 3]]
  Tensor t = vec({1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(values(gather(t, 1, idx({0, 0, 1, 0}, {2, 2}))), (std::vector<double>{1, 1, 4, 3}));
  // Axis 0, index smaller than the input on the other axis: out[i][j] = x[index[i][j]][j].
  Tensor x = iota({3, 4});
  EXPECT_EQ(values(gather(x, 0, idx32({2, 0, 1, 1, 0, 2}, {3, 2}))), (std::vector<double>{8, 1, 4, 5, 0, 9}));
}

TEST(Index, ScatterAddAccumulatesRepeats) {
  Tensor x = Tensor::zeros({3, 2}, DType::f64);
  // Rows 2, 0, 2 receive src rows 0, 1, 2: row 2 gets two contributions.
  Tensor out = scatter_add(x, 0, idx({2, 2, 0, 0, 2, 2}, {3, 2}), vec({1, 2, 3, 4, 5, 6}, {3, 2}));
  EXPECT_EQ(values(out), (std::vector<double>{3, 4, 0, 0, 6, 8}));
  EXPECT_EQ(values(x), (std::vector<double>(6, 0.0)));  // out of place
  // Integers add too; axis 1 with an index narrower than x on axis 0.
  Tensor xi = Tensor::from_vector(std::vector<int64_t>{1, 1, 1, 1, 1, 1}, {2, 3});
  Tensor si = Tensor::from_vector(std::vector<int64_t>{10, 20, 30}, {1, 3});
  EXPECT_EQ(scatter_add(xi, 1, idx({2, 2, 0}, {1, 3}), si).to_vector<int64_t>(),
            (std::vector<int64_t>{31, 1, 31, 1, 1, 1}));
  // f32 and a 3-d middle axis.
  Tensor x3 = Tensor::zeros({2, 2, 2}, DType::f32);
  Tensor s3 = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 1, 2});
  EXPECT_EQ(scatter_add(x3, 1, idx({1, 0, 0, 0}, {2, 1, 2}), s3).to_vector<float>(),
            (std::vector<float>{0, 2, 1, 0, 3, 4, 0, 0}));
}

TEST(Index, CostsReadOnlyTheGatheredRows) {
  // An embedding-style lookup: 3 rows of a (1000, 8) f32 table read 3 * 8 * 4 bytes plus the index.
  const OpDef& op = op_def("index_select");
  AxisAttrs a;
  std::vector<TensorSpec> in{{{1000, 8}, DType::f32, kCPU}, {{3}, DType::i64, kCPU}};
  const Cost c = op_cost(op, in, op.infer(in, a), a);
  EXPECT_EQ(c.flops, 0);
  EXPECT_EQ(c.bytes_read, 3 * 8 * 4 + 3 * 8);
  EXPECT_EQ(c.bytes_written, 3 * 8 * 4);
}

Tensor grad_of(const Tensor& out, const Tensor& x, const Tensor& cot) { return grad({out}, {x}, {cot})[0]; }

TEST(Index, Gradients) {
  Tensor x = iota({3, 2});
  x.set_requires_grad(true);
  // Row 1 picked twice: its gradient is the sum of both cotangent rows.
  Tensor g = grad_of(index_select(x, 0, idx({1, 2, 1}, {3})), x, vec({1, 2, 3, 4, 5, 6}, {3, 2}));
  EXPECT_EQ(values(g), (std::vector<double>{0, 0, 6, 8, 3, 4}));
  g = grad_of(index_select(x, 1, idx32({1, 1, 0}, {3})), x, vec({1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3}));
  EXPECT_EQ(values(g), (std::vector<double>{3, 3, 6, 9, 9, 15}));

  g = grad_of(gather(x, 1, idx({1, 1, 0, 1, 0, 0}, {3, 2})), x, vec({1, 2, 3, 4, 5, 6}, {3, 2}));
  EXPECT_EQ(values(g), (std::vector<double>{0, 3, 3, 4, 11, 0}));

  Tensor base = iota({3});
  Tensor src = vec({1, 2}, {2});
  base.set_requires_grad(true);
  src.set_requires_grad(true);
  auto gs = grad({scatter_add(base, 0, idx({2, 0}, {2}), src)}, {base, src}, {vec({7, 8, 9}, {3})});
  EXPECT_EQ(values(gs[0]), (std::vector<double>{7, 8, 9}));
  EXPECT_EQ(values(gs[1]), (std::vector<double>{9, 7}));
}

}  // namespace
}  // namespace plumb
