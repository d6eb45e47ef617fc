// Direct tests of matmul: known values, the error messages of bad input, and the OpenBLAS kernel against
// the reference on strided operands (transposed views, sliced rows, broadcast and expanded batch dims,
// layouts that need a scratch copy) and on the folded single-GEMM path.
#include <gtest/gtest.h>

#include <cmath>

#include "ops/op_def.h"
#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/ops.h"
#include "test_util.h"

namespace plumb {
namespace {

using namespace test_util;
// Records which backend ran each op.
struct KernelLog : DispatchObserver {
  std::vector<std::string> backends;
  void on_op(const OpEvent& e) override {
    if (e.op->name == "matmul") backends.push_back(e.kernel ? e.kernel->backend : "none");
  }
};

// Logical-order plain product, independent of both kernels.
std::vector<double> naive(const Tensor& a, const Tensor& b) {
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  std::vector<double> y(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t p = 0; p < k; ++p) y[i * n + j] += va[i * k + p] * vb[p * n + j];
  return y;
}

void expect_close(const Tensor& got, const Tensor& want, double tol) {
  ASSERT_EQ(got.shape(), want.shape());
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], w[i], tol * (1 + std::abs(w[i]))) << "element " << i;
}

// Runs matmul on the forced backend and the reference and compares.
void expect_blas_matches_reference(const Tensor& a, const Tensor& b, double tol = 1e-5) {
  Tensor ref, fast;
  {
    BackendScope scope("reference");
    ref = matmul(a, b);
  }
  KernelLog log;
  {
    ObserverScope observe(&log);
    BackendScope scope("openblas");
    fast = matmul(a, b);
  }
  ASSERT_EQ(log.backends, std::vector<std::string>{"openblas"});
  expect_close(fast, ref, tol);
}

TEST(Matmul, KnownValues) {
  for (DType dtype : {DType::f64, DType::f32}) {
    Tensor a = vec({1, 2, 3, 4}, {2, 2}, dtype), b = vec({5, 6, 7, 8}, {2, 2}, dtype);
    for (const char* backend : {"reference", "openblas"}) {
      BackendScope scope(backend);
      Tensor y = matmul(a, b);
      EXPECT_EQ(y.dtype(), dtype);
      EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{19, 22, 43, 50})) << backend;
    }
  }
  // (2, 3) @ (3, 1)
  Tensor y = matmul(vec({1, 2, 3, 4, 5, 6}, {2, 3}), vec({1, 0, -1}, {3, 1}));
  EXPECT_EQ(y.shape(), (Shape{2, 1}));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{-2, -2}));
}

TEST(Matmul, BroadcastBatchValues) {
  // a: (2, 1, 2, 2) broadcasts against b: (3, 2, 2) to (2, 3, 2, 2).
  Tensor a = filled({2, 1, 2, 2}, 1, DType::f64), b = filled({3, 2, 2}, 2, DType::f64);
  for (const char* backend : {"reference", "openblas"}) {
    BackendScope scope(backend);
    Tensor y = matmul(a, b);
    ASSERT_EQ(y.shape(), (Shape{2, 3, 2, 2}));
    const std::vector<double> vy = y.to_vector<double>();
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j) {
        const std::vector<double> want = naive(slice(a, 0, i, i + 1), slice(b, 0, j, j + 1));
        for (int64_t e = 0; e < 4; ++e) EXPECT_NEAR(vy[(i * 3 + j) * 4 + e], want[e], 1e-12) << backend;
      }
  }
}

TEST(Matmul, DefaultKernelIsOpenBlasForF32AndF64) {
  for (DType dtype : {DType::f32, DType::f64}) {
    KernelLog log;
    ObserverScope observe(&log);
    matmul(filled({3, 4}, 1, dtype), filled({4, 2}, 2, dtype));
    EXPECT_EQ(log.backends, std::vector<std::string>{"openblas"});
  }
}

TEST(Matmul, BadInputErrors) {
  const Tensor m23 = filled({2, 3}, 1), m45 = filled({4, 5}, 2);
  EXPECT_EQ(error_of([&] { matmul(m23, m45); }), "matmul: a (2, 3) has 3 columns but b (4, 5) has 4 rows");
  EXPECT_NE(error_of([&] { matmul(filled({3}, 1), filled({3, 2}, 2)); }).find("matmul: operands must have rank >= 2"),
            std::string::npos);
  EXPECT_NE(error_of([&] { matmul(filled({2, 3}, 1, DType::f64), filled({3, 2}, 2)); }).find("matmul: operand dtypes differ"),
            std::string::npos);
  EXPECT_NE(error_of([&] { matmul(filled({2, 2, 3}, 1), filled({3, 3, 2}, 2)); }).find("matmul"), std::string::npos);
  Tensor ints = Tensor::zeros({2, 2}, DType::i64);
  EXPECT_NE(error_of([&] { matmul(ints, ints); }).find("matmul: a must be a floating tensor"), std::string::npos);
}

TEST(Matmul, RecordAndCost) {
  const OpDef& op = op_def("matmul");
  EXPECT_EQ(op.op_class, OpClass::matrix);
  EXPECT_TRUE(op.differentiable);
  std::vector<TensorSpec> in = {{{5, 1, 3, 4}, DType::f32}, {{2, 4, 6}, DType::f32}};
  const auto out = op.infer(in, NoAttrs{});
  ASSERT_EQ(out[0].shape, (Shape{5, 2, 3, 6}));
  const Cost c = op_cost(op, in, out, NoAttrs{});
  EXPECT_DOUBLE_EQ(c.flops, 2.0 * 10 * 3 * 6 * 4);
  EXPECT_DOUBLE_EQ(c.bytes_read, 4.0 * (60 + 48));
  EXPECT_DOUBLE_EQ(c.bytes_written, 4.0 * 180);
}

TEST(Matmul, OpenBlasMatchesReferenceOnContiguousShapes) {
  for (DType dtype : {DType::f32, DType::f64}) {
    expect_blas_matches_reference(filled({33, 47}, 1, dtype), filled({47, 29}, 2, dtype));
    expect_blas_matches_reference(filled({3, 17, 9}, 3, dtype), filled({3, 9, 12}, 4, dtype));
    expect_blas_matches_reference(filled({1, 64}, 5, dtype), filled({64, 1}, 6, dtype));
  }
}

TEST(Matmul, OpenBlasTransposedOperands) {
  const Tensor at = filled({9, 6}, 1), bt = filled({5, 9}, 2);
  // a^T and b^T are views with unit row stride: BLAS reads them as 'T' operands.
  expect_blas_matches_reference(transpose(at, 0, 1), filled({9, 5}, 3));
  expect_blas_matches_reference(filled({6, 9}, 4), transpose(bt, 0, 1));
  expect_blas_matches_reference(transpose(at, 0, 1), transpose(bt, 0, 1));
  // Batched transposes (attention's q @ k^T).
  const Tensor q = filled({2, 3, 7, 8}, 5), k = filled({2, 3, 10, 8}, 6);
  expect_blas_matches_reference(q, transpose(k, -2, -1));
  expect_blas_matches_reference(transpose(transpose(k, -2, -1), -2, -1), transpose(q, -2, -1));
}

TEST(Matmul, OpenBlasSlicedAndCopiedOperands) {
  // Row stride larger than the row: ld > K.
  const Tensor wide = filled({6, 12}, 1);
  expect_blas_matches_reference(slice(wide, 1, 2, 9), filled({7, 4}, 2));
  // Every other element in both dims: neither stride is 1, so the kernel gathers a scratch copy.
  const Tensor big = filled({10, 14}, 3);
  const Tensor strided = slice(slice(big, 0, 0, 10, 2), 1, 0, 14, 2);  // (5, 7), strides (28, 2)
  expect_blas_matches_reference(strided, filled({7, 3}, 4));
  expect_blas_matches_reference(filled({4, 5}, 5), strided);
  // A 0-stride row dim (expanded rows overlap) also needs the copy.
  expect_blas_matches_reference(expand(filled({1, 6}, 6), {4, 6}), filled({6, 3}, 7));
  // Both operands gathered in a batch with a shared right operand.
  const Tensor big3 = filled({3, 8, 8}, 8);
  const Tensor a3 = slice(slice(big3, 1, 0, 8, 2), 2, 0, 8, 2);  // (3, 4, 4), strides (64, 16, 2)
  const Tensor b2 = slice(slice(big, 0, 0, 8, 2), 1, 0, 10, 2);   // (4, 5), strides (28, 2)
  expect_blas_matches_reference(a3, b2);
  expect_blas_matches_reference(a3, expand(b2, {3, 4, 5}));
}

TEST(Matmul, OpenBlasBroadcastBatch) {
  // Expanded batch dims have stride 0 and are never materialized.
  const Tensor b = expand(filled({1, 4, 3}, 1), {5, 4, 3});
  EXPECT_EQ(b.strides()[0], 0);
  expect_blas_matches_reference(filled({5, 2, 4}, 2), b);
  expect_blas_matches_reference(filled({2, 1, 3, 4}, 3), filled({6, 4, 2}, 4));
  expect_blas_matches_reference(filled({3, 4}, 5), filled({2, 2, 4, 6}, 6));
  expect_blas_matches_reference(expand(filled({3, 1, 2, 4}, 7), {3, 4, 2, 4}), filled({4, 4, 5}, 8));
}

TEST(Matmul, OpenBlasFoldedBatch) {
  // A linear layer: x (B, T, in) @ w^T with w (out, in): one GEMM of (B*T, in) x (in, out).
  const Tensor x = filled({4, 5, 8}, 1), w = filled({6, 8}, 2);
  expect_blas_matches_reference(x, transpose(w, 0, 1));
  expect_blas_matches_reference(x, filled({8, 6}, 3));
  // A batch slice whose batch stride is not M rows: not foldable, runs per batch.
  const Tensor rows = slice(filled({4, 6, 8}, 4), 1, 0, 3);
  expect_blas_matches_reference(rows, filled({8, 2}, 5));
  // A padded row stride carried consistently through the batch is still one GEMM.
  const Tensor padded = slice(filled({4, 5, 10}, 6), 2, 0, 8);
  expect_blas_matches_reference(padded, transpose(w, 0, 1));
  // M == 1 rows spread over the batch.
  expect_blas_matches_reference(filled({7, 1, 8}, 7), transpose(w, 0, 1));
}

TEST(Matmul, GradientsSumOverBroadcastBatch) {
  // y = a @ b with a: (2, 3, 4) and a shared b: (4, 5). grad_a = gy @ b^T, grad_b = sum over batch of a^T @ gy.
  Tensor a = filled({2, 3, 4}, 1, DType::f64), b = filled({4, 5}, 2, DType::f64);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  const Tensor gy = filled({2, 3, 5}, 3, DType::f64);
  const std::vector<Tensor> g = grad({matmul(a, b)}, {a, b}, {gy});
  ASSERT_EQ(g[0].shape(), a.shape());
  ASSERT_EQ(g[1].shape(), b.shape());
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>(), vg = gy.to_vector<double>();
  const std::vector<double> ga = g[0].to_vector<double>(), gb = g[1].to_vector<double>();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t p = 0; p < 4; ++p) {
        double want = 0;
        for (int64_t j = 0; j < 5; ++j) want += vg[(n * 3 + i) * 5 + j] * vb[p * 5 + j];
        EXPECT_NEAR(ga[(n * 3 + i) * 4 + p], want, 1e-12);
      }
  for (int64_t p = 0; p < 4; ++p)
    for (int64_t j = 0; j < 5; ++j) {
      double want = 0;
      for (int64_t n = 0; n < 2; ++n)
        for (int64_t i = 0; i < 3; ++i) want += va[(n * 3 + i) * 4 + p] * vg[(n * 3 + i) * 5 + j];
      EXPECT_NEAR(gb[p * 5 + j], want, 1e-12);
    }
}

TEST(Matmul, EmptyAndDegenerateShapes) {
  for (const char* backend : {"reference", "openblas"}) {
    BackendScope scope(backend);
    Tensor y = matmul(filled({2, 0}, 1), filled({0, 3}, 2));
    ASSERT_EQ(y.shape(), (Shape{2, 3}));
    EXPECT_EQ(y.to_vector<double>(), std::vector<double>(6, 0.0)) << backend;
    EXPECT_EQ(matmul(filled({0, 2, 3}, 3), filled({3, 4}, 4)).shape(), (Shape{0, 2, 4}));
    EXPECT_EQ(matmul(filled({2, 0, 3}, 3), filled({3, 4}, 4)).shape(), (Shape{2, 0, 4}));
  }
}

TEST(Matmul, MetaDeviceComputesShapeOnly) {
  Tensor a = Tensor::empty({8, 128, 64}, DType::f32, kMeta), b = Tensor::empty({64, 32}, DType::f32, kMeta);
  Tensor y = matmul(a, b);
  EXPECT_TRUE(y.is_meta());
  EXPECT_EQ(y.shape(), (Shape{8, 128, 32}));
}

}  // namespace
}  // namespace plumb
