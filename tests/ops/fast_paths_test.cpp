// The fast kernels' work-splitting paths (row-split GEMM, one-row GEMV, batch-split convolutions with
// partial weight-gradient sums, the weight gradient as a batch-channel swapped forward, the direct
// one-input-channel convolutions) only engage above size or shape thresholds the harness's tiny cases
// never reach, or on shapes they do not cover; these shapes cross them and compare
// against the reference kernels. Max pooling (backward, and the forward's 2x2 path) is checked against
// the reference on ties, NaN, -inf, padding, overlapping windows and ceil mode, on planes split over the
// pool.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "ops/op_def.h"
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

TEST(FastPaths, SwappedWeightGradientMatchesReference) {
  // Few input channels, >= 16 output channels, batch >= 16, stride 1: the weight gradient runs as a
  // forward convolution over the batch; (24, 6, 12, 10) also crosses the batch-split threshold.
  struct Case {
    Shape x, w;
    Shape padding;
  };
  const Case cases[] = {{{24, 6, 12, 10}, {16, 6, 5, 3}, {0, 0}},
                        {{16, 3, 9, 9}, {32, 3, 3, 3}, {1, 1}},
                        {{17, 2, 8, 8}, {16, 2, 5, 5}, {2, 1}}};
  uint64_t seed = 20;
  for (const Case& c : cases) {
    Shape ys = {c.x[0], c.w[0]};
    for (size_t i = 2; i < 4; ++i) ys.push_back(c.x[i] + 2 * c.padding[i - 2] - c.w[i] + 1);
    const Tensor x = filled(c.x, seed++), gy = filled(ys, seed++);
    Tensor ref;
    {
      BackendScope reference("reference");
      ref = conv_backward_weight(x, gy, c.w, {1, 1}, c.padding, {1, 1}, 1);
    }
    expect_close(conv_backward_weight(x, gy, c.w, {1, 1}, c.padding, {1, 1}, 1), ref, 1e-4,
                 "conv backward weight x " + shape_str(c.x) + " w " + shape_str(c.w));
  }
}

TEST(FastPaths, OneChannelDirectConvolutionsMatchReference) {
  // One input channel, stride 1: the direct kernels (where the CPU has AVX-512; oneDNN otherwise). Widths
  // of one, two and three vectors with a masked tail, output-channel blocks with remainders, a kernel
  // width the weight-gradient kernel leaves to oneDNN (4), and LeNet's first layer split over the pool.
  struct Case {
    Shape x, w, padding;
  };
  const Case cases[] = {{{5, 1, 28, 28}, {6, 1, 5, 5}, {2, 2}}, {{3, 1, 7, 37}, {4, 1, 3, 3}, {1, 1}},
                        {{2, 1, 9, 16}, {8, 1, 7, 7}, {3, 3}},   {{2, 1, 5, 40}, {3, 1, 2, 4}, {0, 1}},
                        {{2, 1, 6, 6}, {13, 1, 3, 5}, {1, 2}},   {{1, 1, 12, 3}, {2, 1, 3, 3}, {0, 0}}};
  uint64_t seed = 30;
  for (const Case& c : cases) {
    const Tensor x = filled(c.x, seed++), w = filled(c.w, seed++);
    Tensor ref[2], gy;
    {
      BackendScope reference("reference");
      ref[0] = conv(x, w, {1, 1}, c.padding);
      gy = filled(ref[0].shape(), seed++);
      ref[1] = conv_backward_weight(x, gy, c.w, {1, 1}, c.padding, {1, 1}, 1);
    }
    const std::string what = "x " + shape_str(c.x) + " w " + shape_str(c.w);
    expect_close(conv(x, w, {1, 1}, c.padding), ref[0], 1e-5, what + " conv");
    expect_close(conv_backward_weight(x, gy, c.w, {1, 1}, c.padding, {1, 1}, 1), ref[1], 1e-4,
                 what + " conv backward weight");
  }
}

// Values in {-2, ..., 2} (many ties), with NaN and -inf planted at the given flat positions.
Tensor pool_input(const Shape& shape, uint64_t seed, const std::vector<int64_t>& nans,
                  const std::vector<int64_t>& neg_infs) {
  std::vector<float> v = filled(shape, seed).to_vector<float>();
  for (float& e : v) e = std::round(e * 2);
  for (int64_t i : nans) v[static_cast<size_t>(i)] = std::nanf("");
  for (int64_t i : neg_infs) v[static_cast<size_t>(i)] = -std::numeric_limits<float>::infinity();
  return Tensor::from_vector(v, shape);
}

TEST(FastPaths, MaxPoolBackwardMatchesReference) {
  struct Case {
    Shape x, kernel, stride, padding;
    bool ceil_mode;
  };
  const Case cases[] = {
      {{4, 6, 28, 28}, {2, 2}, {2, 2}, {0, 0}, false},  // LeNet's first pooling: the 2x2 path, planes split
      {{3, 5, 9, 11}, {2, 2}, {2, 2}, {0, 0}, false},   // odd sizes: an uncovered last row and column
      {{2, 3, 9, 11}, {2, 2}, {2, 2}, {0, 0}, true},    // ceil mode: partial windows (general path)
      {{2, 4, 10, 10}, {3, 3}, {2, 2}, {1, 1}, false},  // padding and overlapping windows
      {{2, 3, 7, 8}, {3, 2}, {1, 2}, {1, 0}, true},     // uneven kernel and stride
      {{2, 3, 17}, {2}, {2}, {0}, false},               // 1-D
      {{2, 2, 4, 6, 6}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, false},  // 3-D
      {{1, 2, 4, 6, 6}, {1, 2, 2}, {1, 2, 2}, {0, 0, 0}, false},  // 3-D with the 2x2 path per depth slice
  };
  uint64_t seed = 40;
  for (const Case& c : cases) {
    const int64_t n = numel(c.x);
    // NaN alone, two NaN in one window (the later wins), -inf everywhere in the first window.
    const Tensor x = pool_input(c.x, seed++, {n / 3, n / 2, n / 2 + 1}, {0, 1, c.x.back(), c.x.back() + 1});
    const std::string what = "x " + shape_str(c.x) + " kernel " + shape_str(c.kernel) + (c.ceil_mode ? " ceil" : "");
    Tensor ref, gy, y_ref;
    {
      BackendScope reference("reference");
      y_ref = max_pool(x, c.kernel, c.stride, c.padding, c.ceil_mode);
      gy = filled(y_ref.shape(), seed++);
      ref = max_pool_backward(x, gy, c.kernel, c.stride, c.padding, c.ceil_mode);
    }
    const Tensor got = max_pool_backward(x, gy, c.kernel, c.stride, c.padding, c.ceil_mode);
    expect_close(got, ref, 0, what + " backward");
    // The forward (2x2 tiling: plumb's direct kernel) gives the same values, NaN where the reference has it.
    const std::vector<float> y = max_pool(x, c.kernel, c.stride, c.padding, c.ceil_mode).to_vector<float>();
    const std::vector<float> want = y_ref.to_vector<float>();
    ASSERT_EQ(y.size(), want.size()) << what;
    int nans = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      nans += std::isnan(want[i]) ? 1 : 0;
      if (std::isnan(want[i])) EXPECT_TRUE(std::isnan(y[i])) << what << " forward element " << i;
      else EXPECT_EQ(y[i], want[i]) << what << " forward element " << i;
    }
    EXPECT_GT(nans, 0) << what;  // the planted NaN reached the output
  }
}

TEST(FastPaths, MaxPoolBackwardUsesTheNativeKernel) {
  const std::vector<const Kernel*>& ks = ops::kernel_list(op_def("max_pool_backward"));
  ASSERT_FALSE(ks.empty());
  EXPECT_EQ(ks[0]->backend, "native");
}

}  // namespace
}  // namespace plumb
