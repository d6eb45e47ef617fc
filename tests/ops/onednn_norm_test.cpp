// The oneDNN batch-norm kernels against plain-loop expectations computed here in f64: called directly
// (independent of the composite records) and through the dispatcher and autograd.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "harness.h"
#include "ops/op_def.h"
#include "plumb/autograd.h"
#include "test_util.h"

namespace plumb::backends::fast {
// Defined in src/backends/cpu/fast/onednn_norm.cpp.
void onednn_batch_norm(const KernelArgs& a);
void onednn_batch_norm_backward(const KernelArgs& a);
}  // namespace plumb::backends::fast

namespace plumb {
namespace {

using namespace test_util;
using testing::rand_f64;

void expect_close(const Tensor& got, const std::vector<double>& want, double tol, const std::string& what) {
  const std::vector<double> g = got.to_vector<double>();
  ASSERT_EQ(g.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(g[i], want[i], tol * (1 + std::abs(want[i]))) << what << " element " << i;
}

// x: (N, C, *S) as (N, C, inner) for the loops below.
struct Layout {
  int64_t n, c, inner;
  explicit Layout(const Shape& s) : n(s[0]), c(s[1]), inner(numel(s) / std::max<int64_t>(1, s[0] * s[1])) {}
  int64_t at(int64_t i, int64_t ch, int64_t j) const { return (i * c + ch) * inner + j; }
  double count() const { return static_cast<double>(n * inner); }
};

struct Forward {
  std::vector<double> y, mean, var;
};

// Training: batch statistics over N and the spatial dims, biased variance. Eval: the running stats.
Forward batch_norm_loops(const Shape& shape, const std::vector<double>& x, const std::vector<double>& w,
                         const std::vector<double>& b, const std::vector<double>& rm, const std::vector<double>& rv,
                         bool training, double eps) {
  const Layout l(shape);
  Forward f{std::vector<double>(x.size()), std::vector<double>(l.c), std::vector<double>(l.c)};
  for (int64_t ch = 0; ch < l.c; ++ch) {
    double m = rm[ch], v = rv[ch];
    if (training) {
      double s = 0, ss = 0;
      for (int64_t i = 0; i < l.n; ++i)
        for (int64_t j = 0; j < l.inner; ++j) s += x[l.at(i, ch, j)];
      m = s / l.count();
      for (int64_t i = 0; i < l.n; ++i)
        for (int64_t j = 0; j < l.inner; ++j) ss += (x[l.at(i, ch, j)] - m) * (x[l.at(i, ch, j)] - m);
      v = ss / l.count();
    }
    f.mean[ch] = m;
    f.var[ch] = v;
    for (int64_t i = 0; i < l.n; ++i)
      for (int64_t j = 0; j < l.inner; ++j)
        f.y[l.at(i, ch, j)] = (x[l.at(i, ch, j)] - m) / std::sqrt(v + eps) * w[ch] + b[ch];
  }
  return f;
}

struct Backward {
  std::vector<double> gx, gw, gb;
};

Backward batch_norm_backward_loops(const Shape& shape, const std::vector<double>& gy, const std::vector<double>& x,
                                   const std::vector<double>& w, const std::vector<double>& mean,
                                   const std::vector<double>& var, bool training, double eps) {
  const Layout l(shape);
  Backward r{std::vector<double>(x.size()), std::vector<double>(l.c), std::vector<double>(l.c)};
  for (int64_t ch = 0; ch < l.c; ++ch) {
    const double invstd = 1 / std::sqrt(var[ch] + eps);
    double sg = 0, sgx = 0;
    for (int64_t i = 0; i < l.n; ++i)
      for (int64_t j = 0; j < l.inner; ++j) {
        const int64_t k = l.at(i, ch, j);
        sg += gy[k];
        sgx += gy[k] * (x[k] - mean[ch]) * invstd;
      }
    r.gb[ch] = sg;
    r.gw[ch] = sgx;
    for (int64_t i = 0; i < l.n; ++i)
      for (int64_t j = 0; j < l.inner; ++j) {
        const int64_t k = l.at(i, ch, j);
        const double xhat = (x[k] - mean[ch]) * invstd;
        r.gx[k] = training ? w[ch] * invstd * (gy[k] - sg / l.count() - xhat * sgx / l.count())
                           : gy[k] * w[ch] * invstd;
      }
  }
  return r;
}

struct Inputs {
  Shape shape;
  Tensor x, w, b, rm, rv, gy;  // f32
};

Inputs make_inputs(const Shape& shape, uint64_t seed) {
  const int64_t c = shape[1];
  Inputs in{shape,
            to_f32(rand_f64(shape, seed, -2, 3)),
            to_f32(rand_f64({c}, seed + 1, 0.5, 1.5)),
            to_f32(rand_f64({c}, seed + 2, -1, 1)),
            to_f32(rand_f64({c}, seed + 3, -0.5, 0.5)),
            to_f32(rand_f64({c}, seed + 4, 0.5, 2)),
            to_f32(rand_f64(shape, seed + 5, -1, 1))};
  return in;
}

std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }

const std::vector<Shape> kShapes = {{8, 3},       {4, 5, 7},     {2, 3, 5, 6}, {2, 16, 4, 4},
                                    {3, 20, 2, 3}, {3, 20, 1, 1}, {2, 2, 3, 4, 5}};
constexpr double kTol = 2e-5;

TEST(OnednnNorm, ForwardDirect) {
  uint64_t seed = 1;
  for (const Shape& shape : kShapes) {
    for (bool training : {true, false}) {
      const Inputs in = make_inputs(shape, seed += 10);
      BatchNormAttrs a;
      a.training = training;
      a.eps = 1e-3;
      const std::vector<Tensor> inputs = {in.x, in.w, in.b, in.rm, in.rv};
      std::vector<Tensor> outputs = {Tensor::empty(shape), Tensor::empty({shape[1]}), Tensor::empty({shape[1]})};
      backends::fast::onednn_batch_norm(KernelArgs{inputs, outputs, a});
      const Forward want = batch_norm_loops(shape, vals(in.x), vals(in.w), vals(in.b), vals(in.rm), vals(in.rv),
                                            training, a.eps);
      const std::string what = shape_str(shape) + (training ? " training" : " eval");
      expect_close(outputs[0], want.y, kTol, what + " y");
      expect_close(outputs[1], want.mean, kTol, what + " mean");
      expect_close(outputs[2], want.var, kTol, what + " var");
    }
  }
}

TEST(OnednnNorm, BackwardDirect) {
  uint64_t seed = 500;
  for (const Shape& shape : kShapes) {
    for (bool training : {true, false}) {
      const Inputs in = make_inputs(shape, seed += 10);
      BatchNormAttrs a;
      a.training = training;
      a.eps = 1e-5;
      // Training uses the batch statistics of x; eval any given stats (here the "running" ones).
      Tensor mean = in.rm, var = in.rv;
      if (training) {
        const Forward f = batch_norm_loops(shape, vals(in.x), vals(in.w), vals(in.b), vals(in.rm), vals(in.rv), true,
                                           a.eps);
        mean = to_f32(Tensor::from_vector(f.mean, {shape[1]}));
        var = to_f32(Tensor::from_vector(f.var, {shape[1]}));
      }
      const std::vector<Tensor> inputs = {in.gy, in.x, in.w, mean, var};
      std::vector<Tensor> outputs = {Tensor::empty(shape), Tensor::empty({shape[1]}), Tensor::empty({shape[1]})};
      backends::fast::onednn_batch_norm_backward(KernelArgs{inputs, outputs, a});
      const Backward want =
          batch_norm_backward_loops(shape, vals(in.gy), vals(in.x), vals(in.w), vals(mean), vals(var), training, a.eps);
      const std::string what = shape_str(shape) + (training ? " training" : " eval");
      expect_close(outputs[0], want.gx, 1e-4, what + " grad_x");
      expect_close(outputs[1], want.gw, 1e-4, what + " grad_weight");
      expect_close(outputs[2], want.gb, 1e-4, what + " grad_bias");
    }
  }
}

// Through the dispatcher: the fused kernel is the default for f32, and autograd reaches
// batch_norm_backward's fused kernel via the composite's vjp.
TEST(OnednnNorm, ThroughDispatcherAndAutograd) {
  const OpDef& op = op_def("batch_norm");
  ASSERT_FALSE(ops::kernel_list(op).empty());
  EXPECT_EQ(ops::kernel_list(op)[0]->backend, "onednn");
  EXPECT_EQ(ops::kernel_list(op_def("batch_norm_backward"))[0]->backend, "onednn");

  const Shape shape = {3, 4, 5, 2};
  Inputs in = make_inputs(shape, 900);
  const Forward f =
      batch_norm_loops(shape, vals(in.x), vals(in.w), vals(in.b), vals(in.rm), vals(in.rv), true, 1e-5);
  in.x.set_requires_grad(true);
  in.w.set_requires_grad(true);
  in.b.set_requires_grad(true);
  const BatchNormResult r = batch_norm(in.x, in.w, in.b, in.rm, in.rv, true, 1e-5);
  expect_close(r.y, f.y, kTol, "y");
  expect_close(r.batch_mean, f.mean, kTol, "mean");
  expect_close(r.batch_var, f.var, kTol, "var");
  const std::vector<Tensor> g = grad({r.y}, {in.x, in.w, in.b}, {in.gy});
  const Backward want =
      batch_norm_backward_loops(shape, vals(in.gy), vals(in.x), vals(in.w), f.mean, f.var, true, 1e-5);
  expect_close(g[0], want.gx, 1e-4, "grad_x");
  expect_close(g[1], want.gw, 1e-4, "grad_weight");
  expect_close(g[2], want.gb, 1e-4, "grad_bias");

  // Eval: y from the running stats, which come back as the mean/var outputs.
  const BatchNormResult e = batch_norm(in.x.detach(), in.w.detach(), in.b.detach(), in.rm, in.rv, false, 1e-5);
  const Forward fe =
      batch_norm_loops(shape, vals(in.x), vals(in.w), vals(in.b), vals(in.rm), vals(in.rv), false, 1e-5);
  expect_close(e.y, fe.y, kTol, "eval y");
  expect_close(e.batch_mean, vals(in.rm), 0, "eval mean");
  expect_close(e.batch_var, vals(in.rv), 0, "eval var");
}

// Repeated calls reuse the cached primitive and give identical results.
TEST(OnednnNorm, CachedPrimitiveIsDeterministic) {
  const Inputs in = make_inputs({4, 6, 3, 3}, 77);
  BatchNormAttrs a;
  const std::vector<Tensor> inputs = {in.x, in.w, in.b, in.rm, in.rv};
  std::vector<double> first;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<Tensor> outputs = {Tensor::empty(in.shape), Tensor::empty({6}), Tensor::empty({6})};
    backends::fast::onednn_batch_norm(KernelArgs{inputs, outputs, a});
    if (rep == 0) first = vals(outputs[0]);
    else EXPECT_EQ(vals(outputs[0]), first);
  }
}

}  // namespace
}  // namespace plumb
