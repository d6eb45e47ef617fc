// Direct tests of the optimizer update ops: values against hand-written per-element loops (sizes that
// cross the kernels' blocks and parallel chunks), output counts, class, and bad-input errors.
#include <gtest/gtest.h>

#include <cmath>

#include "plumb/dispatch.h"
#include "plumb/op_attrs.h"
#include "test_util.h"

namespace plumb {
namespace {

using test_util::error_of;
using test_util::filled;
using test_util::values;

std::vector<Tensor> run(const std::string& op, std::vector<Tensor> in, const OptimAttrs& a) {
  return dispatch(op_def(op), in, a);
}

// Non-negative values for second moments and sums.
Tensor positive(Shape shape, uint64_t seed, DType dtype) {
  Tensor t = filled(std::move(shape), seed, DType::f64);
  Tensor out = Tensor::empty(t.shape(), dtype);
  for (int64_t i = 0; i < t.numel(); ++i) set_element_from_double(out, i, std::abs(element_as_double(t, i)) + 0.01);
  return out;
}

void expect_close(const Tensor& got, const std::vector<double>& want, double tol, const std::string& what) {
  const std::vector<double> g = values(got);
  ASSERT_EQ(g.size(), want.size()) << what;
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_NEAR(g[i], want[i], tol * std::max(1.0, std::abs(want[i]))) << what << " element " << i;
}

struct Sizes {
  DType dtype;
  int64_t n;
  double tol;
};
// 1000 crosses several 256-element blocks with a tail; 70001 spans more than one parallel chunk.
const Sizes kSizes[] = {{DType::f64, 1000, 1e-14}, {DType::f64, 70001, 1e-14}, {DType::f32, 1000, 1e-6}};

TEST(OptimOps, SgdMatchesLoop) {
  for (const Sizes& s : kSizes) {
    for (int variant = 0; variant < 3; ++variant) {
      OptimAttrs a;
      a.lr = 0.05;
      a.weight_decay = variant == 0 ? 0 : 0.01;
      a.momentum = variant == 0 ? 0 : 0.9;
      a.nesterov = variant == 2;
      Tensor p = filled({s.n}, 1, s.dtype), g = filled({s.n}, 2, s.dtype), b = filled({s.n}, 3, s.dtype);
      std::vector<Tensor> in = {p, g};
      if (a.momentum != 0) in.push_back(b);
      const auto out = run("sgd_update", in, a);
      ASSERT_EQ(out.size(), a.momentum != 0 ? 2u : 1u);
      std::vector<double> wp, wb;
      const auto pv = values(p), gv = values(g), bv = values(b);
      for (int64_t i = 0; i < s.n; ++i) {
        double gi = gv[i] + a.weight_decay * pv[i];
        if (a.momentum != 0) {
          const double nb = a.momentum * bv[i] + gi;
          wb.push_back(nb);
          gi = a.nesterov ? gi + a.momentum * nb : nb;
        }
        wp.push_back(pv[i] - a.lr * gi);
      }
      const std::string what = "sgd variant " + std::to_string(variant) + " n=" + std::to_string(s.n);
      expect_close(out[0], wp, s.tol, what + " param");
      if (a.momentum != 0) expect_close(out[1], wb, s.tol, what + " buf");
    }
  }
}

TEST(OptimOps, AdamMatchesLoop) {
  for (const Sizes& s : kSizes) {
    for (int variant = 0; variant < 3; ++variant) {
      OptimAttrs a;
      a.lr = 0.01;
      a.step = 1 + 2 * variant;
      a.weight_decay = variant == 0 ? 0 : 0.1;
      a.decoupled_weight_decay = variant == 2;
      Tensor p = filled({s.n}, 4, s.dtype), g = filled({s.n}, 5, s.dtype), m = filled({s.n}, 6, s.dtype);
      Tensor v = positive({s.n}, 7, s.dtype);
      const auto out = run("adam_update", {p, g, m, v}, a);
      ASSERT_EQ(out.size(), 3u);
      const auto pv = values(p), gv = values(g), mv = values(m), vv = values(v);
      std::vector<double> wp, wm, wv;
      const double bc1 = 1 - std::pow(a.beta1, a.step), bc2 = 1 - std::pow(a.beta2, a.step);
      for (int64_t i = 0; i < s.n; ++i) {
        double pi = pv[i], gi = gv[i];
        if (a.decoupled_weight_decay) pi *= 1 - a.lr * a.weight_decay;
        else gi += a.weight_decay * pi;
        const double mi = a.beta1 * mv[i] + (1 - a.beta1) * gi;
        const double vi = a.beta2 * vv[i] + (1 - a.beta2) * gi * gi;
        wm.push_back(mi);
        wv.push_back(vi);
        wp.push_back(pi - a.lr / bc1 * mi / (std::sqrt(vi) / std::sqrt(bc2) + a.eps));
      }
      const std::string what = "adam variant " + std::to_string(variant) + " n=" + std::to_string(s.n);
      expect_close(out[0], wp, s.tol, what + " param");
      expect_close(out[1], wm, s.tol, what + " exp_avg");
      expect_close(out[2], wv, s.tol, what + " exp_avg_sq");
    }
  }
}

TEST(OptimOps, RmsPropMatchesLoop) {
  for (const Sizes& s : kSizes) {
    for (int variant = 0; variant < 2; ++variant) {
      OptimAttrs a;
      a.lr = 0.01;
      a.alpha = 0.95;
      a.momentum = variant == 1 ? 0.9 : 0;
      a.weight_decay = variant == 1 ? 0.05 : 0;
      Tensor p = filled({s.n}, 8, s.dtype), g = filled({s.n}, 9, s.dtype), b = filled({s.n}, 10, s.dtype);
      Tensor sq = positive({s.n}, 11, s.dtype);
      std::vector<Tensor> in = {p, g, sq};
      if (a.momentum != 0) in.push_back(b);
      const auto out = run("rmsprop_update", in, a);
      ASSERT_EQ(out.size(), a.momentum != 0 ? 3u : 2u);
      const auto pv = values(p), gv = values(g), sv = values(sq), bv = values(b);
      std::vector<double> wp, ws, wb;
      for (int64_t i = 0; i < s.n; ++i) {
        const double gi = gv[i] + a.weight_decay * pv[i];
        const double si = a.alpha * sv[i] + (1 - a.alpha) * gi * gi;
        ws.push_back(si);
        const double avg = std::sqrt(si) + a.eps;
        if (a.momentum != 0) {
          const double nb = a.momentum * bv[i] + gi / avg;
          wb.push_back(nb);
          wp.push_back(pv[i] - a.lr * nb);
        } else {
          wp.push_back(pv[i] - a.lr * gi / avg);
        }
      }
      const std::string what = "rmsprop variant " + std::to_string(variant) + " n=" + std::to_string(s.n);
      expect_close(out[0], wp, s.tol, what + " param");
      expect_close(out[1], ws, s.tol, what + " square_avg");
      if (a.momentum != 0) expect_close(out[2], wb, s.tol, what + " buf");
    }
  }
}

TEST(OptimOps, AdagradMatchesLoop) {
  for (const Sizes& s : kSizes) {
    OptimAttrs a;
    a.lr = 0.1;
    a.eps = 1e-10;
    a.weight_decay = 0.02;
    Tensor p = filled({s.n}, 12, s.dtype), g = filled({s.n}, 13, s.dtype), sum = positive({s.n}, 14, s.dtype);
    const auto out = run("adagrad_update", {p, g, sum}, a);
    ASSERT_EQ(out.size(), 2u);
    const auto pv = values(p), gv = values(g), sv = values(sum);
    std::vector<double> wp, ws;
    for (int64_t i = 0; i < s.n; ++i) {
      const double gi = gv[i] + a.weight_decay * pv[i];
      const double si = sv[i] + gi * gi;
      ws.push_back(si);
      wp.push_back(pv[i] - a.lr * gi / (std::sqrt(si) + a.eps));
    }
    expect_close(out[0], wp, s.tol, "adagrad param n=" + std::to_string(s.n));
    expect_close(out[1], ws, s.tol, "adagrad sum n=" + std::to_string(s.n));
  }
}

TEST(OptimOps, KnownValues) {
  // One plain SGD step: 1 - 0.5 * 2 = 0; Adam's first step moves each element by lr (sign of g).
  OptimAttrs a;
  a.lr = 0.5;
  EXPECT_EQ(values(run("sgd_update", {test_util::f64({1, 3}, {2}), test_util::f64({2, -4}, {2})}, a)[0]),
            (std::vector<double>{0, 5}));
  a.lr = 0.1;
  a.eps = 0;
  const auto out = run("adam_update",
                       {test_util::f64({1, 1}, {2}), test_util::f64({3, -0.5}, {2}), Tensor::zeros({2}, DType::f64),
                        Tensor::zeros({2}, DType::f64)},
                       a);
  EXPECT_NEAR(values(out[0])[0], 0.9, 1e-15);
  EXPECT_NEAR(values(out[0])[1], 1.1, 1e-15);
}

TEST(OptimOps, ClassAndNotDifferentiable) {
  for (const char* name : {"sgd_update", "adam_update", "rmsprop_update", "adagrad_update"}) {
    const OpDef& op = op_def(name);
    EXPECT_EQ(op.op_class, OpClass::optimizer) << name;
    EXPECT_FALSE(op.differentiable) << name;
    EXPECT_FALSE(static_cast<bool>(op.vjp)) << name;
  }
}

TEST(OptimOps, CostCountsPerElementFlops) {
  OptimAttrs a;
  const TensorSpec s{{10}, DType::f32, kCPU};
  std::vector<TensorSpec> in4 = {s, s, s, s}, out3 = {s, s, s};
  const Cost c = op_cost(op_def("adam_update"), in4, out3, a);
  EXPECT_DOUBLE_EQ(c.flops, 130);  // 13 per element
  EXPECT_DOUBLE_EQ(c.bytes_read, 160);
  EXPECT_DOUBLE_EQ(c.bytes_written, 120);
}

TEST(OptimOps, BadInputs) {
  OptimAttrs a;
  const Tensor p = Tensor::zeros({3}, DType::f32), g = Tensor::zeros({3}, DType::f32);
  EXPECT_NE(error_of([&] { run("sgd_update", {p, Tensor::zeros({4}, DType::f32)}, a); })
                .find("sgd_update: grad has shape (4,), param has (3,)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { run("sgd_update", {p, Tensor::zeros({3}, DType::f64)}, a); })
                .find("sgd_update: grad has dtype f64, param has f32"),
            std::string::npos);
  EXPECT_NE(error_of([&] { run("adam_update", {p, g, p, Tensor::zeros({3}, DType::i64)}, a); })
                .find("adam_update: exp_avg_sq must be a floating tensor, got i64"),
            std::string::npos);
  OptimAttrs mom = a;
  mom.momentum = 0.9;
  EXPECT_NE(error_of([&] { run("sgd_update", {p, g}, mom); }).find("needs a momentum buffer"), std::string::npos);
  EXPECT_NE(error_of([&] { run("sgd_update", {p, g, p}, a); }).find("takes no momentum buffer"), std::string::npos);
  EXPECT_NE(error_of([&] { run("rmsprop_update", {p, g, p}, mom); }).find("needs a momentum buffer"),
            std::string::npos);
  OptimAttrs nest = a;
  nest.nesterov = true;
  EXPECT_NE(error_of([&] { run("sgd_update", {p, g}, nest); }).find("nesterov requires momentum > 0"),
            std::string::npos);
  OptimAttrs step0 = a;
  step0.step = 0;
  EXPECT_NE(error_of([&] { run("adam_update", {p, g, p, p}, step0); }).find("adam_update: step is 1-based, got 0"),
            std::string::npos);
  OptimAttrs neg = a;
  neg.lr = -1;
  EXPECT_NE(error_of([&] { run("adagrad_update", {p, g, p}, neg); }).find("adagrad_update: lr must be >= 0"),
            std::string::npos);
}

}  // namespace
}  // namespace plumb
