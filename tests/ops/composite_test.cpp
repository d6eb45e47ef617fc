// Direct value tests of the composites against hand-written loops, their errors, their profiler
// regions, the fused softmax kernels, the batch_norm vjp, and composite cost = sum of primitive costs.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ops/op_def.h"
#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/ops.h"
#include "plumb/random.h"
#include "test_util.h"

namespace plumb {
namespace {

using namespace test_util;
// Deterministic values in [lo, hi) without going through the dispatcher.
Tensor filled_f64(Shape shape, uint64_t seed, double lo = -1, double hi = 1) {
  Tensor t = Tensor::empty(std::move(shape), DType::f64);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = lo + (hi - lo) * philox_uniform_f64(seed, static_cast<uint64_t>(i));
  return t;
}

void expect_near_all(const Tensor& got, const std::vector<double>& want, double tol = 1e-10) {
  const std::vector<double> g = values(got);
  ASSERT_EQ(g.size(), want.size());
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], tol) << "element " << i;
}

// Row-wise log-softmax of an (N, C) row-major buffer, by hand.
std::vector<double> log_softmax_rows(const std::vector<double>& x, int64_t n, int64_t c) {
  std::vector<double> out(x.size());
  for (int64_t i = 0; i < n; ++i) {
    double m = -INFINITY, s = 0;
    for (int64_t j = 0; j < c; ++j) m = std::max(m, x[i * c + j]);
    for (int64_t j = 0; j < c; ++j) s += std::exp(x[i * c + j] - m);
    for (int64_t j = 0; j < c; ++j) out[i * c + j] = x[i * c + j] - m - std::log(s);
  }
  return out;
}

// ---- softmax ----

TEST(Composite, SoftmaxRowsSumToOneAndMatchLoops) {
  Tensor x = filled_f64({3, 5}, 1, -3, 3);
  const std::vector<double> xv = values(x);
  const std::vector<double> want_log = log_softmax_rows(xv, 3, 5);
  std::vector<double> want(want_log.size());
  for (size_t i = 0; i < want.size(); ++i) want[i] = std::exp(want_log[i]);
  for (bool decompose : {true, false}) {
    DecomposeScope scope(decompose);
    Tensor y = softmax(x, 1);
    expect_near_all(y, want, 1e-12);
    expect_near_all(log_softmax(x, -1), want_log, 1e-12);
    const std::vector<double> yv = values(y);
    for (int r = 0; r < 3; ++r) {
      double s = 0;
      for (int j = 0; j < 5; ++j) s += yv[r * 5 + j];
      EXPECT_NEAR(s, 1.0, 1e-12);
    }
  }
}

TEST(Composite, SoftmaxAlongFirstAxisAnd0d) {
  Tensor x = vec({1, 2, 3, 4}, {2, 2});
  const double e = 1 / (1 + std::exp(2.0));  // softmax([a, a + 2])[0]
  expect_near_all(softmax(x, 0), {e, e, 1 - e, 1 - e}, 1e-12);
  expect_near_all(softmax(vec({7}, {}), 0), {1.0});
  expect_near_all(log_softmax(vec({7}, {}), -1), {0.0});
}

TEST(Composite, SoftmaxIsStableForLargeLogitsInF32) {
  Tensor x = cast(vec({1000, 1001, 1002, -1000, -1000, -1000}, {2, 3}), DType::f32);
  for (bool decompose : {true, false}) {
    DecomposeScope scope(decompose);
    const std::vector<double> y = values(softmax(x));
    const std::vector<double> ly = values(log_softmax(x));
    const double z = 1 + std::exp(1.0) + std::exp(2.0);
    EXPECT_NEAR(y[2], std::exp(2.0) / z, 1e-6);
    EXPECT_NEAR(y[3], 1.0 / 3, 1e-6);
    EXPECT_NEAR(ly[0], -std::log(z), 1e-5);
    for (double v : y) EXPECT_TRUE(std::isfinite(v));
  }
}

TEST(Composite, FusedSoftmaxMatchesDecompositionAndRunsUnderGrad) {
  Tensor x = filled_f64({2, 3, 4}, 3, -2, 2);
  for (int64_t axis : {0, 1, 2}) {
    std::vector<double> ref, ref_log;
    {
      DecomposeScope scope(true);
      ref = values(softmax(x, axis));
      ref_log = values(log_softmax(x, axis));
    }
    expect_near_all(softmax(x, axis), ref, 1e-12);
    expect_near_all(log_softmax(x, axis), ref_log, 1e-12);
  }
  // Under grad the fused kernel runs with the record's vjp; gradients match the decomposition's.
  Tensor a = filled_f64({3, 4}, 4).set_requires_grad(true);
  Tensor w = filled_f64({3, 4}, 5);
  for (bool log_form : {false, true}) {
    auto f = [&](bool decompose) {
      DecomposeScope scope(decompose);
      Tensor y = log_form ? log_softmax(a, 1) : softmax(a, 1);
      return values(grad({sum(mul(y, w))}, {a})[0]);
    };
    const std::vector<double> fused = f(false), decomposed = f(true);
    ASSERT_EQ(fused.size(), decomposed.size());
    for (size_t i = 0; i < fused.size(); ++i) EXPECT_NEAR(fused[i], decomposed[i], 1e-12);
  }
}

TEST(Composite, SoftmaxErrors) {
  EXPECT_EQ(error_of([] { softmax(vec({1, 2}, {2}), 1); }), "softmax: axis 1 is out of range for rank 1");
  EXPECT_EQ(error_of([] { softmax(idx({1, 2}, {2})); }), "softmax: input must be a floating tensor, got i64");
  EXPECT_EQ(error_of([] { log_softmax(vec({1}, {}), 2); }), "log_softmax: axis 2 is out of range for a 0-d input");
}

// ---- losses ----

TEST(Composite, CrossEntropyKnownExample) {
  // loss_0 = log(e^1 + e^2 + e^3) - 3, loss_1 = log(3)
  Tensor logits = vec({1, 2, 3, 1, 1, 1}, {2, 3});
  Tensor target = idx({2, 0}, {2});
  const double l0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3, l1 = std::log(3.0);
  EXPECT_NEAR(l0, 0.40760596444438, 1e-12);
  expect_near_all(cross_entropy(logits, target), {(l0 + l1) / 2}, 1e-12);
  expect_near_all(cross_entropy(logits, target, -100, 0, "sum"), {l0 + l1}, 1e-12);
  expect_near_all(cross_entropy(logits, target, -100, 0, "none"), {l0, l1}, 1e-12);
  // nll_loss on log-probabilities gives the same.
  expect_near_all(nll_loss(log_softmax(logits, 1), target), {(l0 + l1) / 2}, 1e-12);
}

TEST(Composite, CrossEntropyIgnoreIndexLeavesTheMeanDenominator) {
  Tensor logits = filled_f64({4, 3}, 7, -2, 2);
  const std::vector<double> lp = log_softmax_rows(values(logits), 4, 3);
  const std::vector<int64_t> t = {1, -100, 2, -100};
  const double want = -(lp[0 * 3 + 1] + lp[2 * 3 + 2]) / 2;
  expect_near_all(cross_entropy(logits, idx(t, {4})), {want}, 1e-12);
  expect_near_all(cross_entropy(logits, idx(t, {4}), -100, 0, "none"), {-lp[1], 0, -lp[8], 0}, 1e-12);
  // A custom ignore_index that is a real class.
  expect_near_all(cross_entropy(logits, idx({1, 0, 2, 0}, {4}), 0), {want}, 1e-12);
  // All ignored: 0/0 as in PyTorch.
  EXPECT_TRUE(std::isnan(cross_entropy(logits, idx({-100, -100, -100, -100}, {4})).item()));
}

TEST(Composite, CrossEntropyLabelSmoothingAsPyTorch) {
  // loss_i = (1 - eps) * -lp[t_i] + eps * mean_c(-lp[c]); mean over kept entries.
  Tensor logits = filled_f64({3, 4}, 8, -2, 2);
  const std::vector<double> lp = log_softmax_rows(values(logits), 3, 4);
  const std::vector<int64_t> t = {3, -100, 0};
  const double eps = 0.25;
  double total = 0;
  std::vector<double> per(3, 0.0);
  for (int i = 0; i < 3; ++i) {
    if (t[i] == -100) continue;
    double smooth = 0;
    for (int c = 0; c < 4; ++c) smooth -= lp[i * 4 + c];
    per[i] = (1 - eps) * -lp[i * 4 + t[i]] + eps * smooth / 4;
    total += per[i];
  }
  expect_near_all(cross_entropy(logits, idx(t, {3}), -100, eps), {total / 2}, 1e-12);
  expect_near_all(cross_entropy(logits, idx(t, {3}), -100, eps, "sum"), {total}, 1e-12);
  expect_near_all(cross_entropy(logits, idx(t, {3}), -100, eps, "none"), per, 1e-12);
  // A known value: PyTorch gives 0.803109 for this example with label_smoothing=0.1.
  expect_near_all(cross_entropy(vec({1, 2, 3, 1, 1, 1}, {2, 3}), idx({2, 0}, {2}), -100, 0.1), {0.8031091}, 1e-6);
}

TEST(Composite, CrossEntropySpatialAndGradient) {
  // (N, C, d) logits with (N, d) targets: the class axis is 1.
  Tensor logits = filled_f64({2, 3, 2}, 9, -2, 2);
  const std::vector<double> x = values(logits);
  const std::vector<int64_t> t = {0, 2, 1, 1};
  double want = 0;
  for (int n = 0; n < 2; ++n)
    for (int d = 0; d < 2; ++d) {
      double m = -INFINITY, s = 0;
      for (int c = 0; c < 3; ++c) m = std::max(m, x[(n * 3 + c) * 2 + d]);
      for (int c = 0; c < 3; ++c) s += std::exp(x[(n * 3 + c) * 2 + d] - m);
      want += -(x[(n * 3 + t[n * 2 + d]) * 2 + d] - m - std::log(s));
    }
  expect_near_all(cross_entropy(logits, idx(t, {2, 2})), {want / 4}, 1e-12);

  // d(mean CE)/d logits = (softmax - onehot) / N
  Tensor l2 = filled_f64({2, 3}, 10).set_requires_grad(true);
  Tensor g = grad({cross_entropy(l2, idx({1, 2}, {2}))}, {l2})[0];
  const std::vector<double> lp = log_softmax_rows(values(l2), 2, 3);
  std::vector<double> want_g(6);
  for (int i = 0; i < 6; ++i) want_g[i] = std::exp(lp[i]) / 2;
  want_g[1] -= 0.5;
  want_g[5] -= 0.5;
  expect_near_all(g, want_g, 1e-12);
}

TEST(Composite, LossErrors) {
  Tensor logits = vec({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(error_of([&] { cross_entropy(logits, idx({0, 1, 2}, {3})); }),
            "cross_entropy: target shape (3,) does not match logits shape (2, 3) (expected target (2,))");
  EXPECT_EQ(error_of([&] { cross_entropy(logits, vec({0, 1}, {2})); }),
            "cross_entropy: target must be an integer index tensor (i64 or i32), got f64");
  EXPECT_EQ(error_of([&] { cross_entropy(logits, idx({0, 1}, {2}), -100, 0, "avg"); }),
            "cross_entropy: unknown reduction 'avg' (expected mean, sum or none)");
  EXPECT_EQ(error_of([&] { cross_entropy(logits, idx({0, 1}, {2}), -100, 1.5); }),
            "cross_entropy: label_smoothing must be in [0, 1], got 1.5");
  EXPECT_EQ(error_of([&] { cross_entropy(logits, idx({0, 3}, {2})); }),
            "cross_entropy: target value 3 at position 1 is out of range [0, 3)");
  EXPECT_EQ(error_of([&] { cross_entropy(logits, idx({-1, 0}, {2})); }),
            "cross_entropy: target value -1 at position 0 is out of range [0, 3)");
  EXPECT_EQ(error_of([&] { nll_loss(logits, idx({0, 5}, {2})); }),
            "nll_loss: target value 5 at position 1 is out of range [0, 3)");
  EXPECT_EQ(error_of([&] { cross_entropy(vec({1}, {}), idx({0}, {})); }),
            "cross_entropy: logits must be (C) or (N, C, d...), got a 0-d tensor");
  EXPECT_EQ(error_of([&] { mse_loss(logits, vec({1, 2, 3}, {3})); }),
            "mse_loss: input shape (2, 3) and target shape (3,) differ");
  EXPECT_EQ(error_of([&] { mse_loss(logits, logits, "max"); }),
            "mse_loss: unknown reduction 'max' (expected mean, sum or none)");
  EXPECT_EQ(error_of([&] { mse_loss(logits, cast(logits, DType::f32)); }),
            "mse_loss: target is f32 but the input is f64; cast one first");
}

TEST(Composite, MseLossValues) {
  Tensor a = vec({1, 2, 3, 4}, {2, 2}), b = vec({0, 2, 5, 1}, {2, 2});
  expect_near_all(mse_loss(a, b), {(1 + 0 + 4 + 9) / 4.0});
  expect_near_all(mse_loss(a, b, "sum"), {14});
  expect_near_all(mse_loss(a, b, "none"), {1, 0, 4, 9});
}

// ---- linear, embedding ----

TEST(Composite, LinearMatchesLoops) {
  Tensor x = filled_f64({2, 3, 4}, 11), w = filled_f64({5, 4}, 12), b = filled_f64({5}, 13);
  const std::vector<double> xv = values(x), wv = values(w), bv = values(b);
  std::vector<double> want(30);
  for (int r = 0; r < 6; ++r)
    for (int o = 0; o < 5; ++o) {
      double s = bv[o];
      for (int i = 0; i < 4; ++i) s += xv[r * 4 + i] * wv[o * 4 + i];
      want[r * 5 + o] = s;
    }
  Tensor y = linear(x, w, b);
  EXPECT_EQ(y.shape(), (Shape{2, 3, 5}));
  expect_near_all(y, want, 1e-12);
  for (auto& v : want) v = 0;
  for (int r = 0; r < 6; ++r)
    for (int o = 0; o < 5; ++o)
      for (int i = 0; i < 4; ++i) want[r * 5 + o] += xv[r * 4 + i] * wv[o * 4 + i];
  expect_near_all(linear(x, w), want, 1e-12);
  EXPECT_EQ(linear(filled_f64({4}, 14), w, b).shape(), (Shape{5}));
  EXPECT_EQ(error_of([&] { linear(x, filled_f64({5, 3}, 1)); }),
            "linear: input has 4 features, weight (5, 3) expects 3");
  EXPECT_EQ(error_of([&] { linear(x, w, filled_f64({4}, 1)); }), "linear: bias must be (5,) to match weight (5, 4), got (4,)");
  EXPECT_EQ(error_of([&] { linear(x, filled_f64({5}, 1)); }), "linear: weight must be (out, in), got (5,)");
}

TEST(Composite, EmbeddingRowsAndGradient) {
  Tensor w = vec({0, 1, 10, 11, 20, 21}, {3, 2});
  Tensor e = embedding(w, idx({2, 0, 2, 1}, {2, 2}));
  EXPECT_EQ(e.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(values(e), (std::vector<double>{20, 21, 0, 1, 20, 21, 10, 11}));
  EXPECT_EQ(values(embedding(w, idx({1}, {}))), (std::vector<double>{10, 11}));
  EXPECT_EQ(values(embedding(w, Tensor::from_vector(std::vector<int32_t>{0, 2}, {2}))),
            (std::vector<double>{0, 1, 20, 21}));
  // Repeated rows accumulate their gradients.
  Tensor wg = filled_f64({3, 2}, 15).set_requires_grad(true);
  Tensor g = grad({sum(embedding(wg, idx({2, 0, 2}, {3})))}, {wg})[0];
  EXPECT_EQ(values(g), (std::vector<double>{1, 1, 0, 0, 2, 2}));
  EXPECT_EQ(error_of([&] { embedding(w, idx({0, 3}, {2})); }), "embedding: index value 3 at position 1 is out of range [0, 3)");
  EXPECT_EQ(error_of([&] { embedding(w, vec({0}, {1})); }),
            "embedding: indices must be an integer index tensor (i64 or i32), got f64");
  EXPECT_EQ(error_of([&] { embedding(vec({1, 2}, {2}), idx({0}, {1})); }),
            "embedding: weight must be (num_embeddings, dim), got (2,)");
}

// ---- layer_norm ----

TEST(Composite, LayerNormMatchesLoops) {
  Tensor x = filled_f64({2, 3, 4}, 21, -2, 2), w = filled_f64({3, 4}, 22, 0.5, 1.5), b = filled_f64({3, 4}, 23);
  const std::vector<double> xv = values(x), wv = values(w), bv = values(b);
  const double eps = 1e-3;
  std::vector<double> want(24), plain(24);
  for (int n = 0; n < 2; ++n) {
    double m = 0, v = 0;
    for (int i = 0; i < 12; ++i) m += xv[n * 12 + i] / 12;
    for (int i = 0; i < 12; ++i) v += (xv[n * 12 + i] - m) * (xv[n * 12 + i] - m) / 12;
    for (int i = 0; i < 12; ++i) {
      plain[n * 12 + i] = (xv[n * 12 + i] - m) / std::sqrt(v + eps);
      want[n * 12 + i] = plain[n * 12 + i] * wv[i] + bv[i];
    }
  }
  expect_near_all(layer_norm(x, w, b, 2, eps), want, 1e-12);
  expect_near_all(layer_norm(x, {}, {}, 2, eps), plain, 1e-12);
  // Bias without weight: the weight is ones.
  std::vector<double> shifted(24);
  for (int i = 0; i < 24; ++i) shifted[i] = plain[i] + bv[i % 12];
  expect_near_all(layer_norm(x, {}, b, 2, eps), shifted, 1e-12);
  EXPECT_EQ(error_of([&] { layer_norm(x, filled_f64({4}, 1), {}, 2); }),
            "layer_norm: weight shape (4,) does not match normalized shape (3, 4) of input (2, 3, 4)");
  EXPECT_EQ(error_of([&] { layer_norm(x, {}, {}, 4); }),
            "layer_norm: normalized_dims=4 must be in [1, 3] for input (2, 3, 4)");
}

// ---- batch_norm ----

struct BnRef {
  std::vector<double> y, mean, var;
};

// x: (N, C, S) row-major; by hand, with batch or given statistics.
BnRef bn_loops(const std::vector<double>& x, int n, int c, int s, const std::vector<double>& w,
               const std::vector<double>& b, const std::vector<double>* mean, const std::vector<double>* var,
               double eps) {
  BnRef r;
  r.y.resize(x.size());
  r.mean.assign(c, 0);
  r.var.assign(c, 0);
  for (int ch = 0; ch < c; ++ch) {
    double m = 0, v = 0;
    if (mean) {
      m = (*mean)[ch];
      v = (*var)[ch];
    } else {
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < s; ++j) m += x[(i * c + ch) * s + j] / (n * s);
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < s; ++j) v += std::pow(x[(i * c + ch) * s + j] - m, 2) / (n * s);
    }
    r.mean[ch] = m;
    r.var[ch] = v;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < s; ++j) {
        const int k = (i * c + ch) * s + j;
        r.y[k] = (x[k] - m) / std::sqrt(v + eps) * w[ch] + b[ch];
      }
  }
  return r;
}

TEST(Composite, BatchNormTrainingAndEval) {
  Tensor x = filled_f64({3, 2, 4}, 31, -2, 2), w = filled_f64({2}, 32, 0.5, 1.5), b = filled_f64({2}, 33);
  Tensor rm = filled_f64({2}, 34), rv = filled_f64({2}, 35, 0.5, 1.5);
  const double eps = 1e-3;
  const BnRef train = bn_loops(values(x), 3, 2, 4, values(w), values(b), nullptr, nullptr, eps);
  BatchNormResult r = batch_norm(x, w, b, rm, rv, true, eps);
  expect_near_all(r.y, train.y, 1e-12);
  expect_near_all(r.batch_mean, train.mean, 1e-12);
  expect_near_all(r.batch_var, train.var, 1e-12);  // biased

  const std::vector<double> rmv = values(rm), rvv = values(rv);
  const BnRef eval = bn_loops(values(x), 3, 2, 4, values(w), values(b), &rmv, &rvv, eps);
  BatchNormResult e = batch_norm(x, w, b, rm, rv, false, eps);
  expect_near_all(e.y, eval.y, 1e-12);
  expect_near_all(e.batch_mean, rmv);  // eval: the outputs are the running stats
  expect_near_all(e.batch_var, rvv);

  // No affine parameters and no running stats in training: identity scale, zero shift.
  const BnRef plain = bn_loops(values(x), 3, 2, 4, {1, 1}, {0, 0}, nullptr, nullptr, 1e-5);
  expect_near_all(batch_norm(x, {}, {}, {}, {}, true).y, plain.y, 1e-12);
  EXPECT_EQ(error_of([&] { batch_norm(x, w, b, {}, {}, false); }),
            "batch_norm: eval mode needs running_mean and running_var");
  EXPECT_EQ(error_of([&] { batch_norm(x, filled_f64({3}, 1), b, rm, rv, true); }),
            "batch_norm: weight must be (2,) for input (3, 2, 4), got (3,)");
  EXPECT_EQ(error_of([&] { batch_norm(filled_f64({4}, 1), {}, {}, {}, {}, true); }),
            "batch_norm: input must be (N, C, *), got (4,)");
}

// The record's vjp (used when a fused kernel runs under grad) against autograd through the decomposition.
TEST(Composite, BatchNormVjpMatchesDecomposition) {
  for (bool training : {true, false}) {
    Tensor x = filled_f64({3, 2, 2}, 41, -2, 2).set_requires_grad(true);
    Tensor w = filled_f64({2}, 42, 0.5, 1.5).set_requires_grad(true);
    Tensor b = filled_f64({2}, 43).set_requires_grad(true);
    Tensor rm = filled_f64({2}, 44), rv = filled_f64({2}, 45, 0.5, 1.5);
    Tensor gy = filled_f64({3, 2, 2}, 46);
    BatchNormAttrs a;
    a.training = training;
    a.eps = 1e-3;
    const OpDef& op = op_def("batch_norm");
    std::vector<Tensor> in{x, w, b, rm, rv};
    std::vector<Tensor> out;
    {
      DecomposeScope scope(true);
      out = dispatch(op, in, a);
    }
    const std::vector<Tensor> want = grad({out[0]}, {x, w, b}, {gy});
    std::vector<Tensor> din{x.detach(), w.detach(), b.detach(), rm, rv};
    std::vector<Tensor> dout{out[0].detach(), out[1].detach(), out[2].detach()};
    std::vector<Tensor> gout{gy, Tensor::zeros({2}, DType::f64), Tensor::zeros({2}, DType::f64)};
    VjpArgs args{din, dout, gout, a, {true, true, true, false, false}};
    std::vector<Tensor> got;
    {
      NoGradScope no_grad;
      got = op.vjp(args);
    }
    ASSERT_EQ(got.size(), 5u);
    for (int i = 0; i < 3; ++i) expect_near_all(got[i], values(want[i]), 1e-10);
    EXPECT_FALSE(got[3].defined());
    EXPECT_FALSE(got[4].defined());
  }
}

TEST(Composite, BatchNormStatisticsAreNotDifferentiable) {
  Tensor x = filled_f64({4, 2}, 47).set_requires_grad(true);
  BatchNormResult r = batch_norm(x, {}, {}, {}, {}, true);
  EXPECT_TRUE(r.y.requires_grad());
  EXPECT_FALSE(r.batch_mean.requires_grad());
  EXPECT_FALSE(r.batch_var.requires_grad());
}

// ---- local_response_norm ----

std::vector<double> lrn_loops(const std::vector<double>& x, int n, int c, int s, int size, double alpha, double beta,
                              double k) {
  std::vector<double> out(x.size());
  for (int i = 0; i < n; ++i)
    for (int ch = 0; ch < c; ++ch)
      for (int j = 0; j < s; ++j) {
        double sq = 0;
        for (int cc = ch - size / 2; cc <= ch + (size - 1) / 2; ++cc)
          if (cc >= 0 && cc < c) sq += x[(i * c + cc) * s + j] * x[(i * c + cc) * s + j];
        const int idx = (i * c + ch) * s + j;
        out[idx] = x[idx] / std::pow(k + alpha / size * sq, beta);
      }
  return out;
}

TEST(Composite, LocalResponseNormMatchesLoop) {
  Tensor x = filled_f64({2, 6, 2, 2}, 51, -3, 3);
  for (int size : {1, 2, 3, 4, 5, 8}) {
    const std::vector<double> want = lrn_loops(values(x), 2, 6, 4, size, 0.7, 0.75, 1.5);
    expect_near_all(local_response_norm(x, size, 0.7, 0.75, 1.5), want, 1e-12);
  }
  // AlexNet's setting on (N, C) and (N, C, L).
  Tensor x3 = filled_f64({2, 7, 3}, 52, -3, 3);
  expect_near_all(local_response_norm(x3, 5, 1e-4, 0.75, 2.0), lrn_loops(values(x3), 2, 7, 3, 5, 1e-4, 0.75, 2.0),
                  1e-12);
  Tensor x2 = filled_f64({3, 4}, 53, -3, 3);
  expect_near_all(local_response_norm(x2, 3, 1.0, 0.5, 1.0), lrn_loops(values(x2), 3, 4, 1, 3, 1.0, 0.5, 1.0), 1e-12);
  EXPECT_EQ(error_of([&] { local_response_norm(x, 0); }), "local_response_norm: size must be >= 1, got 0");
  EXPECT_EQ(error_of([&] { local_response_norm(filled_f64({4}, 1)); }),
            "local_response_norm: input must be (N, C, *), got (4,)");
}

// ---- dropout ----

TEST(Composite, DropoutTrainingEvalAndEdges) {
  Tensor x = filled_f64({50, 40}, 61, 0.5, 1.5);
  // eval and p = 0 hand back x itself.
  EXPECT_TRUE(dropout(x, 0.5, false).same_storage(x));
  EXPECT_TRUE(dropout(x, 0.0, true).same_storage(x));
  // p = 1: zeros.
  for (double v : values(dropout(x, 1.0, true))) EXPECT_EQ(v, 0.0);
  // training: each element is 0 or x / (1 - p); about 1 - p of them are kept.
  manual_seed(7);
  Tensor y = dropout(x, 0.3, true);
  const std::vector<double> xv = values(x), yv = values(y);
  int kept = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0) continue;
    ++kept;
    EXPECT_NEAR(yv[i], xv[i] / 0.7, 1e-12);
  }
  EXPECT_NEAR(static_cast<double>(kept) / static_cast<double>(xv.size()), 0.7, 0.05);
  // Reproducible from the seed; the next call draws a new mask.
  manual_seed(7);
  EXPECT_EQ(values(dropout(x, 0.3, true)), yv);
  EXPECT_NE(values(dropout(x, 0.3, true)), yv);
  // The mask is bernoulli(1 - p) from the same counters.
  manual_seed(9);
  Tensor d = dropout(x, 0.4, true);
  manual_seed(9);
  Tensor mask = bernoulli({50, 40}, 0.6, DType::f64);
  expect_near_all(d, values(div(mul(x, mask), 0.6)), 1e-12);
  // The gradient is the mask scaled.
  Tensor xg = filled_f64({3, 4}, 62).set_requires_grad(true);
  Tensor yg = dropout(xg, 0.5, true);
  const std::vector<double> g = values(grad({sum(yg)}, {xg})[0]), ygv = values(yg);
  for (size_t i = 0; i < g.size(); ++i) EXPECT_EQ(g[i], ygv[i] == 0 ? 0.0 : 2.0);
  EXPECT_EQ(error_of([&] { dropout(x, 1.5, true); }), "dropout: p must be in [0, 1], got 1.5");
  EXPECT_EQ(error_of([&] { dropout(x, -0.1, false); }), "dropout: p must be in [0, 1], got -0.1");
}

TEST(Composite, EmptyInputs) {
  for (bool decompose : {true, false}) {
    DecomposeScope scope(decompose);
    EXPECT_EQ(softmax(Tensor::zeros({3, 0}, DType::f64), 1).shape(), (Shape{3, 0}));
    EXPECT_EQ(log_softmax(Tensor::zeros({0, 4}, DType::f64), 1).shape(), (Shape{0, 4}));
  }
  EXPECT_EQ(local_response_norm(Tensor::zeros({2, 0, 3}, DType::f64)).shape(), (Shape{2, 0, 3}));
  EXPECT_EQ(linear(Tensor::zeros({0, 3}, DType::f64), filled_f64({2, 3}, 1)).shape(), (Shape{0, 2}));
  EXPECT_EQ(embedding(filled_f64({4, 2}, 1), idx({}, {0})).shape(), (Shape{0, 2}));
  EXPECT_EQ(cross_entropy(Tensor::zeros({0, 3}, DType::f64), idx({}, {0}), -100, 0, "sum").item(), 0.0);
}

// ---- cost and profiling ----

// Sums the cost of every primitive the dispatcher reports; regions are recorded as they open.
struct Recorder : DispatchObserver {
  Cost total;
  std::vector<std::string> ops;
  std::vector<std::vector<std::string>> regions;
  std::vector<std::string> opened;
  void on_op(const OpEvent& e) override {
    total += e.cost;
    ops.push_back(e.op->name);
    regions.emplace_back(e.regions.begin(), e.regions.end());
  }
  void on_region_begin(std::string_view name, int64_t) override { opened.emplace_back(name); }
};

TEST(Composite, SoftmaxCostIsTheSumOfItsPrimitives) {
  // f32 (2, 3) over the last axis, counted by hand: per row of 3 the max and the sum combine 2 times each,
  // sub, exp and div touch 3 elements each.
  const Shape s{2, 3};
  double flops = 0, read = 0, written = 0;
  for (int r = 0; r < 2; ++r) {
    for (int j = 1; j < 3; ++j) flops += 2;  // max and sum combines
    for (int j = 0; j < 3; ++j) flops += 3;  // sub, exp, div
  }
  // bytes: max reads x, writes row maxima; sub reads x and maxima, writes z; exp reads z, writes e;
  // sum reads e, writes row sums; div reads e and sums, writes y.
  const double x = 6 * 4, row = 2 * 4;
  read = x + (x + row) + x + x + (x + row);
  written = row + x + x + row + x;
  const OpDef& op = op_def("softmax");
  AxisAttrs a;
  a.axis = -1;
  std::vector<TensorSpec> in{{s, DType::f32, kCPU}};
  const std::vector<TensorSpec> out = op.infer(in, a);
  const Cost c = op_cost(op, in, out, a);
  EXPECT_DOUBLE_EQ(c.flops, flops);
  EXPECT_DOUBLE_EQ(c.bytes_read, read);
  EXPECT_DOUBLE_EQ(c.bytes_written, written);

  // The same total from the primitives' own records, as the profiler sees them run.
  Recorder rec;
  {
    ObserverScope scope(&rec);
    DecomposeScope decompose(true);
    softmax(cast(filled_f64(s, 71), DType::f32), -1);
  }
  // The cast that builds the input is outside the softmax region.
  Cost prim;
  for (size_t i = 0; i < rec.ops.size(); ++i) {
    if (rec.regions[i].empty()) continue;
    EXPECT_EQ(rec.regions[i], (std::vector<std::string>{"softmax"}));
  }
  EXPECT_EQ(rec.ops, (std::vector<std::string>{"cast", "max", "sub", "exp", "sum", "div"}));
  Cost cast_cost = op_cost(op_def("cast"), std::vector<TensorSpec>{{s, DType::f64, kCPU}},
                           std::vector<TensorSpec>{{s, DType::f32, kCPU}}, CastAttrs{});
  EXPECT_DOUBLE_EQ(rec.total.flops - cast_cost.flops, flops);
  EXPECT_DOUBLE_EQ(rec.total.bytes_read - cast_cost.bytes_read, read);
  EXPECT_DOUBLE_EQ(rec.total.bytes_written - cast_cost.bytes_written, written);
}

TEST(Composite, ProfilerSeesNestedRegions) {
  Tensor logits = filled_f64({2, 3}, 72);
  Recorder rec;
  {
    ObserverScope scope(&rec);
    cross_entropy(logits, idx({0, 2}, {2}));
  }
  // log_softmax runs as its fused kernel: one event inside the cross_entropy region.
  EXPECT_EQ(rec.opened, (std::vector<std::string>{"cross_entropy", "nll_loss"}));
  ASSERT_FALSE(rec.ops.empty());
  EXPECT_EQ(rec.ops[0], "log_softmax");
  for (const auto& r : rec.regions) {
    ASSERT_FALSE(r.empty());
    EXPECT_EQ(r[0], "cross_entropy");
  }
  // Decomposed all the way down, every primitive sits under its composites.
  Recorder deep;
  {
    ObserverScope scope(&deep);
    DecomposeScope decompose(true);
    cross_entropy(logits, idx({0, 2}, {2}));
  }
  EXPECT_EQ(deep.opened, (std::vector<std::string>{"cross_entropy", "log_softmax", "nll_loss"}));
  ASSERT_FALSE(deep.ops.empty());
  EXPECT_EQ(deep.ops[0], "max");
  EXPECT_EQ(deep.regions[0], (std::vector<std::string>{"cross_entropy", "log_softmax"}));
  EXPECT_EQ(deep.regions.back(), (std::vector<std::string>{"cross_entropy", "nll_loss"}));
  // With a fused kernel the softmax is one event, costed by its decomposition.
  Recorder fused;
  {
    ObserverScope scope(&fused);
    softmax(logits, 1);
  }
  ASSERT_EQ(fused.ops, (std::vector<std::string>{"softmax"}));
  std::vector<TensorSpec> in{logits.spec()};
  AxisAttrs a;
  a.axis = 1;
  EXPECT_DOUBLE_EQ(fused.total.flops, op_cost(op_def("softmax"), in, in, a).flops);
  EXPECT_DOUBLE_EQ(fused.total.flops, 2 * 2 + 2 * 2 + 3 * 6);  // max, sum combines; sub, exp, div
}

TEST(Composite, RecordsAreComposites) {
  for (const char* name : {"softmax", "log_softmax", "cross_entropy", "nll_loss", "mse_loss", "linear", "embedding",
                           "layer_norm", "batch_norm", "batch_norm_backward", "local_response_norm", "dropout"}) {
    const OpDef& op = op_def(name);
    EXPECT_TRUE(op.is_composite()) << name;
    EXPECT_TRUE(op.differentiable) << name;
    EXPECT_FALSE(static_cast<bool>(op.cost)) << name << ": cost comes from the decomposition";
  }
  EXPECT_TRUE(static_cast<bool>(op_def("batch_norm").vjp));
  EXPECT_EQ(op_def("linear").op_class, OpClass::matrix);
  EXPECT_EQ(op_def("cross_entropy").op_class, OpClass::reduction);
  EXPECT_EQ(op_def("embedding").op_class, OpClass::movement);
}

}  // namespace
}  // namespace plumb
