// Direct value tests for pooling: known values, PyTorch's ceil_mode and divisor rules, ties, errors,
// and the oneDNN kernels against the reference on shapes larger than the conformance cases.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "harness.h"
#include "ops/op_def.h"
#include "plumb/autograd.h"
#include "test_util.h"

namespace plumb {
namespace {

using namespace test_util;
using testing::rand_f64;

void expect_values(const Tensor& t, const std::vector<double>& want, double tol = 1e-6) {
  const std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  for (size_t i = 0; i < w.size(); ++i) ASSERT_NEAR(g[i], w[i], tol * (1 + std::abs(w[i]))) << what << " element " << i;
}

// Runs f under each CPU pooling backend.
template <class F>
void on_each_backend(F&& f) {
  for (const char* b : {"reference", "onednn"}) {
    SCOPED_TRACE(b);
    BackendScope scope(b);
    f();
  }
}

// Expects `f` to throw plumb::Error whose message contains `needle`.
template <class F>
void expect_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Pool, MaxPool2dKnownValues) {
  on_each_backend([] {
    std::vector<float> v;
    for (int i = 0; i < 16; ++i) v.push_back(static_cast<float>(i));
    const Tensor x = f32(v, {1, 1, 4, 4});
    expect_values(max_pool(x, {2, 2}), {5, 7, 13, 15});
    // 3x3, stride 1, padding 1: padding never wins (it is -inf), even over negative inputs.
    const Tensor neg = f32({-1, -2, -3, -4}, {1, 1, 2, 2});
    expect_values(max_pool(neg, {3, 3}, {1, 1}, {1, 1}), {-1, -1, -1, -1});
  });
}

TEST(Pool, AvgPoolDivisors) {
  on_each_backend([] {
    const Tensor ones = Tensor::ones({1, 1, 3, 3});
    const double e = 6.0 / 9, c = 4.0 / 9;
    expect_values(avg_pool(ones, {3, 3}, {1, 1}, {1, 1}, false, true), {c, e, c, e, 1, e, c, e, c});
    expect_values(avg_pool(ones, {3, 3}, {1, 1}, {1, 1}, false, false), {1, 1, 1, 1, 1, 1, 1, 1, 1});
  });
}

// PyTorch: avg_pool1d(ones(1, 1, 6), 3, 2, 1, ceil_mode=True) is [2/3, 1, 1, 1/2] with count_include_pad
// (the last window is clipped to the padded input, not divided by 3) and all ones without.
TEST(Pool, AvgPoolCeilModeDivisorsMatchPyTorch) {
  on_each_backend([] {
    const Tensor ones = Tensor::ones({1, 1, 6});
    expect_values(avg_pool(ones, {3}, {2}, {1}, true, true), {2.0 / 3, 1, 1, 0.5});
    expect_values(avg_pool(ones, {3}, {2}, {1}, true, false), {1, 1, 1, 1});
    const Tensor x = f32({1, 2, 3, 4, 5, 6}, {1, 1, 6});
    expect_values(avg_pool(x, {3}, {2}, {1}, true, true), {3.0 / 3, 9.0 / 3, 15.0 / 3, 6.0 / 2});
    expect_values(avg_pool(x, {3}, {2}, {1}, true, false), {3.0 / 2, 9.0 / 3, 15.0 / 3, 6.0 / 1});
    // Gradients use the same divisors.
    expect_values(avg_pool_backward(Tensor::ones({1, 1, 4}), {1, 1, 6}, {3}, {2}, {1}, true, true),
                  {1.0 / 3, 2.0 / 3, 1.0 / 3, 2.0 / 3, 1.0 / 3, 1.0 / 3 + 1.0 / 2});
    expect_values(avg_pool_backward(Tensor::ones({1, 1, 4}), {1, 1, 6}, {3}, {2}, {1}, true, false),
                  {1.0 / 2, 1.0 / 2 + 1.0 / 3, 1.0 / 3, 2.0 / 3, 1.0 / 3, 1.0 / 3 + 1});
  });
}

TEST(Pool, OutputShapes) {
  const Tensor x1 = Tensor::zeros({1, 1, 5});
  EXPECT_EQ(max_pool(x1, {2}).shape(), (Shape{1, 1, 2}));
  EXPECT_EQ(max_pool(x1, {2}, {}, {}, true).shape(), (Shape{1, 1, 3}));
  // ceil_mode drops a last window that would start in the right padding: S=3, k=2, s=2, p=1 -> 2.
  EXPECT_EQ(max_pool(Tensor::zeros({1, 1, 3}), {2}, {2}, {1}, true).shape(), (Shape{1, 1, 2}));
  EXPECT_EQ(max_pool(Tensor::zeros({2, 3, 7, 8, 9}), {3, 2, 3}, {2, 2, 3}, {1, 1, 0}).shape(), (Shape{2, 3, 4, 5, 3}));
  // Stride defaults to the kernel, padding to zero, and the front end records them explicitly.
  EXPECT_EQ(avg_pool(Tensor::zeros({1, 2, 6, 6}), {3, 2}).shape(), (Shape{1, 2, 2, 3}));
}

TEST(Pool, MaxPoolBackwardTiesGoToFirstMax) {
  on_each_backend([] {
    // Window (2x2, stride 2) of equal values: the first in row-major window order gets the gradient.
    const Tensor x = f32({7, 7, 1, 2, 7, 7, 3, 3}, {1, 1, 2, 4});
    const Tensor gy = f32({10, 20}, {1, 1, 1, 2});
    expect_values(max_pool_backward(x, gy, {2, 2}, {}, {}, false), {10, 0, 0, 0, 0, 0, 20, 0});
    // Overlapping windows accumulate into the shared max.
    const Tensor x1 = f32({0, 5, 1, 0}, {1, 1, 4});
    expect_values(max_pool_backward(x1, f32({1, 2, 4}, {1, 1, 3}), {2}, {1}, {}, false), {0, 3, 4, 0});
  });
}

// NaN propagates (as in PyTorch) on every backend: the window's output is NaN and its gradient goes to the NaN.
TEST(Pool, MaxPoolPropagatesNaN) {
  on_each_backend([] {
    for (int pos = 0; pos < 4; ++pos) {
      std::vector<float> v = {1, 2, 3, 4, 0, 0, 0, 0};
      v[pos] = std::nanf("");
      const Tensor x = f32(v, {1, 1, 2, 4});
      const std::vector<double> y = max_pool(x, {2, 2}).to_vector<double>();
      EXPECT_TRUE(std::isnan(y[pos / 2])) << "NaN at " << pos;
      EXPECT_EQ(y[1 - pos / 2], pos < 2 ? 4 : 2) << "NaN at " << pos;
      std::vector<double> want(8, 0);
      want[pos] = 1;
      want[pos < 2 ? 3 : 1] = 1;  // the other window's max: 4 at index 3, or 2 at index 1
      expect_values(max_pool_backward(x, Tensor::ones({1, 1, 1, 2}), {2, 2}, {}, {}, false), want);
    }
  });
}

TEST(Pool, AutogradUsesBackwardOps) {
  Tensor x = rand_f64({1, 2, 4, 4}, 5);
  x.set_requires_grad(true);
  Tensor y = max_pool(x, {2, 2});
  const auto g = grad({y}, {x}, {Tensor::ones(y.shape(), DType::f64)});
  // Each 2x2 window sends exactly one 1 to its max: the gradient sums to the window count.
  double total = 0;
  for (double v : g[0].to_vector<double>()) total += v;
  EXPECT_DOUBLE_EQ(total, 8.0);

  Tensor xa = rand_f64({1, 1, 4, 4}, 6);
  xa.set_requires_grad(true);
  const auto ga = grad({avg_pool(xa, {2, 2})}, {xa}, {Tensor::ones({1, 1, 2, 2}, DType::f64)});
  expect_values(ga[0], std::vector<double>(16, 0.25));
}

TEST(Pool, Errors) {
  const Tensor x = Tensor::zeros({1, 2, 5, 5});
  expect_error([&] { max_pool(x, {3, 3}, {1, 1}, {2, 1}); }, "max_pool: padding 2 exceeds half the kernel 3");
  expect_error([&] { avg_pool(x, {3, 3}, {1, 1, 1}); }, "avg_pool: stride (1, 1, 1) has 3 dims");
  expect_error([&] { max_pool(x, {3, 3}, {}, {1}); }, "max_pool: padding (1,) has 1 dims");
  expect_error([&] { max_pool(x, {7, 2}); }, "max_pool: kernel 7 is larger than the padded input");
  expect_error([&] { max_pool(x, {2}); }, "max_pool: a 1-d kernel needs a rank-3 input");
  expect_error([&] { max_pool(x, {2, 2, 2, 2}); }, "max_pool: kernel must have 1 to 3 spatial dims");
  expect_error([&] { max_pool(x, {0, 2}); }, "must be positive");
  expect_error([&] { max_pool(x, {2, 2}, {0, 1}); }, "stride (0, 1) must be positive");
  expect_error([&] { max_pool(Tensor::zeros({1, 2, 5, 5}, DType::i64), {2, 2}); }, "max_pool: input must be a floating");
  expect_error([&] { max_pool_backward(x, Tensor::zeros({1, 2, 3, 3}), {2, 2}, {}, {}, false); },
               "max_pool_backward: grad_y has shape (1, 2, 3, 3) but pooling input (1, 2, 5, 5) gives (1, 2, 2, 2)");
  expect_error([&] { max_pool_backward(x, Tensor::zeros({1, 2, 2, 2}, DType::f64), {2, 2}, {}, {}, false); },
               "max_pool_backward: operand dtypes differ");
  expect_error([&] { avg_pool_backward(Tensor::zeros({1, 2, 2, 2}), {1, 2, 6}, {2, 2}, {}, {}, false, true); },
               "avg_pool_backward: a 2-d kernel needs a rank-4 input_shape");
  expect_error([&] { avg_pool_backward(Tensor::zeros({1, 2, 2, 3}), {1, 2, 5, 5}, {2, 2}, {}, {}, false, true); },
               "avg_pool_backward: grad_y has shape (1, 2, 2, 3)");
}

struct Config {
  Shape x, kernel, stride, padding;
  bool ceil_mode;
};

// The oneDNN kernels against the reference in f32 on shapes large enough for oneDNN's vectorized paths.
TEST(Pool, OnednnMatchesReference) {
  const std::vector<Config> configs = {
      {{2, 3, 9, 11}, {3, 3}, {2, 2}, {1, 1}, false},
      {{2, 3, 9, 11}, {3, 3}, {2, 2}, {1, 1}, true},
      {{2, 16, 8, 8}, {2, 2}, {2, 2}, {0, 0}, false},
      {{1, 5, 10, 7}, {2, 3}, {3, 2}, {1, 0}, true},
      {{3, 4, 17}, {4}, {3}, {2}, true},
      {{3, 4, 17}, {5}, {1}, {2}, false},
      {{1, 3, 5, 6, 7}, {3, 2, 3}, {2, 2, 2}, {1, 1, 0}, true},
      {{2, 2, 4, 5, 6}, {2, 2, 2}, {1, 1, 1}, {0, 1, 1}, false},
  };
  uint64_t seed = 100;
  for (const Config& c : configs) {
    const Tensor x = to_f32(rand_f64(c.x, seed++));
    const std::string what = "x " + shape_str(c.x) + " kernel " + shape_str(c.kernel) + (c.ceil_mode ? " ceil" : "");
    Tensor y_ref, y_dnn;
    {
      BackendScope b("reference");
      y_ref = max_pool(x, c.kernel, c.stride, c.padding, c.ceil_mode);
    }
    {
      BackendScope b("onednn");
      y_dnn = max_pool(x, c.kernel, c.stride, c.padding, c.ceil_mode);
    }
    expect_close(y_dnn, y_ref, 0, what + " max_pool");
    const Tensor gy = to_f32(rand_f64(y_ref.shape(), seed++));
    for (bool include : {true, false}) {
      std::vector<Tensor> ref(3), dnn(3);
      for (int backend = 0; backend < 2; ++backend) {
        BackendScope b(backend == 0 ? "reference" : "onednn");
        std::vector<Tensor>& out = backend == 0 ? ref : dnn;
        out[0] = avg_pool(x, c.kernel, c.stride, c.padding, c.ceil_mode, include);
        out[1] = avg_pool_backward(gy, c.x, c.kernel, c.stride, c.padding, c.ceil_mode, include);
        out[2] = max_pool_backward(x, gy, c.kernel, c.stride, c.padding, c.ceil_mode);
      }
      const std::string w = what + (include ? " include pad" : " exclude pad");
      expect_close(dnn[0], ref[0], 1e-6, w + " avg_pool");
      expect_close(dnn[1], ref[1], 1e-6, w + " avg_pool_backward");
      expect_close(dnn[2], ref[2], 1e-6, w + " max_pool_backward");
    }
  }
}

// Kernels are picked as documented: oneDNN for f32, the reference for f64.
TEST(Pool, KernelSelection) {
  const std::vector<const Kernel*>& ks = ops::kernel_list(op_def("max_pool"));
  ASSERT_GE(ks.size(), 2u);
  EXPECT_EQ(ks[0]->backend, "onednn");
  EXPECT_EQ(ks[0]->priority, 10);
  for (const char* name : {"max_pool", "avg_pool", "max_pool_backward", "avg_pool_backward"}) {
    const OpDef& op = op_def(name);
    EXPECT_EQ(op.op_class, OpClass::reduction) << name;
    EXPECT_TRUE(op.differentiable) << name;
  }
}

}  // namespace
}  // namespace plumb
