// The fast kernels' work-splitting paths (row-split GEMM, one-row GEMV, batch-split convolutions with
// partial weight-gradient sums) only engage above size thresholds the harness's tiny cases never reach;
// these shapes cross them and compare against the reference kernels.
#include <gtest/gtest.h>

#include "plumb/dispatch.h"
#include "plumb/ops.h"
#include "test_util.h"

namespace plumb {
namespace {

using test_util::filled;

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const auto g = got.to_vector<double>(), w = want.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_NEAR(g[i], w[i], tol * (1 + std::abs(w[i]))) << what << " element " << i;
}

TEST(FastPaths, RowSplitGemmMatchesReference) {
  // 2^20 multiply-adds and more: C's rows are split over the pool.
  for (DType t : {DType::f32, DType::f64}) {
    const Tensor a = filled({150, 97}, 1, t), b = filled({97, 130}, 2, t);
    const Tensor bt = transpose(filled({130, 97}, 3, t), 0, 1);  // a transposed operand
    Tensor ref, ref_t;
    {
      BackendScope reference("reference");
      ref = matmul(a, b);
      ref_t = matmul(a, bt);
    }
    expect_close(matmul(a, b), ref, 1e-5, "gemm");
    expect_close(matmul(a, bt), ref_t, 1e-5, "gemm with transposed b");
  }
}

TEST(FastPaths, OneRowGemvMatchesReference) {
  for (DType t : {DType::f32, DType::f64}) {
    const Tensor x = filled({1, 300}, 4, t), w = filled({100, 300}, 5, t);
    const Tensor wt = transpose(w, 0, 1);                // (300, 100), strided
    const Tensor xs = slice(filled({3, 300}, 6, t), 0, 1, 2);  // one row of a larger matrix
    Tensor ref, ref_s;
    {
      BackendScope reference("reference");
      ref = matmul(x, wt);
      ref_s = matmul(xs, wt);
    }
    expect_close(matmul(x, wt), ref, 1e-5, "gemv");
    expect_close(matmul(xs, wt), ref_s, 1e-5, "gemv on a sliced row");
  }
}

TEST(FastPaths, BatchSplitConvolutionsMatchReference) {
  // ~2.4M multiply-adds per op: the batch is split over the pool; the weight gradient sums partials.
  const Shape xs{12, 8, 16, 16}, ws{16, 8, 3, 3}, ys{12, 16, 16, 16};
  const Tensor x = filled(xs, 7), w = filled(ws, 8), gy = filled(ys, 9);
  Tensor ref[3];
  {
    BackendScope reference("reference");
    ref[0] = conv(x, w, {1, 1}, {1, 1});
    ref[1] = conv_backward_input(gy, w, xs, {1, 1}, {1, 1}, {1, 1}, 1);
    ref[2] = conv_backward_weight(x, gy, ws, {1, 1}, {1, 1}, {1, 1}, 1);
  }
  expect_close(conv(x, w, {1, 1}, {1, 1}), ref[0], 1e-4, "conv");
  expect_close(conv_backward_input(gy, w, xs, {1, 1}, {1, 1}, {1, 1}, 1), ref[1], 1e-4, "conv backward input");
  expect_close(conv_backward_weight(x, gy, ws, {1, 1}, {1, 1}, {1, 1}, 1), ref[2], 1e-4, "conv backward weight");
}

}  // namespace
}  // namespace plumb
