// Direct tests of the convolution ops: known values, adjoint identities that tie the three ops
// together, the error messages of bad input, and the oneDNN kernels against the reference at
// ResNet-like shapes (1-D, 2-D, 3-D, groups, stride, dilation), including repeated (cached) calls.
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
double dot(const Tensor& a, const Tensor& b) {
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < va.size(); ++i) s += va[i] * vb[i];
  return s;
}

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double err = std::abs(g[i] - w[i]) / (1 + std::abs(w[i]));
    if (err > worst) worst = err, at = i;
  }
  EXPECT_LE(worst, tol) << what << ": element " << at << " got " << g[at] << " want " << w[at];
}

struct KernelLog : DispatchObserver {
  std::vector<std::string> backends;
  void on_op(const OpEvent& e) override { backends.push_back(e.op->name + ":" + (e.kernel ? e.kernel->backend : "none")); }
};

struct Geometry {
  std::string label;
  Shape x, w, stride, padding, dilation;
  int64_t groups = 1;
};

Shape output_shape(const Geometry& g) {
  const OpDef& op = op_def("conv");
  ConvAttrs a;
  a.stride = g.stride;
  a.padding = g.padding;
  a.dilation = g.dilation;
  a.groups = g.groups;
  std::vector<TensorSpec> in = {{g.x, DType::f32}, {g.w, DType::f32}};
  return op.infer(in, a)[0].shape;
}

TEST(Conv, KnownValues2D) {
  // 2x2 box filter over 1..16: sums of each 2x2 window.
  std::vector<double> xs(16);
  for (int i = 0; i < 16; ++i) xs[i] = i + 1;
  const Tensor x = vec(xs, {1, 1, 4, 4}), w = vec({1, 1, 1, 1}, {1, 1, 2, 2});
  Tensor y = conv(x, w);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{14, 18, 22, 30, 34, 38, 46, 50, 54}));
  // Stride 2 keeps every other window.
  EXPECT_EQ(conv(x, w, {2, 2}).to_vector<double>(), (std::vector<double>{14, 22, 46, 54}));
  // The gradient of a sum of windows w.r.t. the input counts how many windows cover each pixel.
  Tensor gx = conv_backward_input(Tensor::ones({1, 1, 3, 3}, DType::f64), w, {1, 1, 4, 4}, {}, {}, {}, 1);
  EXPECT_EQ(gx.to_vector<double>(), (std::vector<double>{1, 2, 2, 1, 2, 4, 4, 2, 2, 4, 4, 2, 1, 2, 2, 1}));
  // ... and w.r.t. the weight sums the pixels each tap sees.
  Tensor gw = conv_backward_weight(x, Tensor::ones({1, 1, 3, 3}, DType::f64), {1, 1, 2, 2}, {}, {}, {}, 1);
  EXPECT_EQ(gw.to_vector<double>(), (std::vector<double>{54, 63, 90, 99}));
}

TEST(Conv, KnownValues1DWithPaddingAndDilation) {
  const Tensor x = vec({1, 2, 3, 4, 5}, {1, 1, 5}), w = vec({1, 0, -1}, {1, 1, 3});
  EXPECT_EQ(conv(x, w).to_vector<double>(), (std::vector<double>{-2, -2, -2}));
  EXPECT_EQ(conv(x, w, {}, {1}).to_vector<double>(), (std::vector<double>{-2, -2, -2, -2, 4}));
  // Dilation 2 spreads the taps to x[i] - x[i + 4].
  EXPECT_EQ(conv(x, w, {}, {}, {2}).to_vector<double>(), (std::vector<double>{-4}));
}

TEST(Conv, KnownValuesGroups) {
  // Two groups of one channel each: output channel g sees only input channel g.
  const Tensor x = vec({1, 2, 3, 10, 20, 30}, {1, 2, 3}), w = vec({1, 1, 2, 2}, {2, 1, 2});
  EXPECT_EQ(conv(x, w, {}, {}, {}, 2).to_vector<double>(), (std::vector<double>{3, 5, 60, 100}));
}

TEST(Conv, DefaultKernelIsOneDnnForF32) {
  KernelLog log;
  {
    ObserverScope observe(&log);
    const Tensor x = filled({1, 2, 5, 5}, 1), w = filled({3, 2, 3, 3}, 2);
    Tensor y = conv(x, w);
    conv_backward_input(y, w, x.shape(), {}, {}, {}, 1);
    conv_backward_weight(x, y, w.shape(), {}, {}, {}, 1);
    conv(filled({1, 2, 5, 5}, 1, DType::f64), filled({3, 2, 3, 3}, 2, DType::f64));
  }
  EXPECT_EQ(log.backends, (std::vector<std::string>{"conv:onednn", "conv_backward_input:onednn",
                                                     "conv_backward_weight:onednn", "conv:reference"}));
}

// <conv(x, w), gy> = <x, bwd_input(gy, w)> = <w, bwd_weight(x, gy)>: the backward ops are the adjoints.
TEST(Conv, BackwardOpsAreAdjoints) {
  const std::vector<Geometry> geometries = {
      {"2-D stride 2", {2, 3, 7, 6}, {4, 3, 3, 2}, {2, 2}, {1, 0}, {}, 1},
      {"2-D groups dilation", {1, 4, 8, 8}, {6, 2, 3, 3}, {1, 2}, {2, 2}, {2, 1}, 2},
      {"1-D", {3, 2, 11}, {3, 2, 4}, {3}, {2}, {2}, 1},
      {"3-D", {1, 2, 5, 4, 4}, {3, 2, 2, 3, 2}, {2, 1, 1}, {0, 1, 1}, {1, 1, 2}, 1},
  };
  for (const char* backend : {"reference", "onednn"}) {
    for (DType dtype : {DType::f64, DType::f32}) {
      if (dtype == DType::f64 && std::string(backend) == "onednn") continue;
      BackendScope scope(backend);
      for (const Geometry& g : geometries) {
        const Tensor x = filled(g.x, 1, dtype), w = filled(g.w, 2, dtype), gy = filled(output_shape(g), 3, dtype);
        const double lhs = dot(conv(x, w, g.stride, g.padding, g.dilation, g.groups), gy);
        const double via_input =
            dot(x, conv_backward_input(gy, w, g.x, g.stride, g.padding, g.dilation, g.groups));
        const double via_weight =
            dot(w, conv_backward_weight(x, gy, g.w, g.stride, g.padding, g.dilation, g.groups));
        const double tol = dtype == DType::f64 ? 1e-10 : 1e-4;
        EXPECT_NEAR(via_input, lhs, tol * (1 + std::abs(lhs))) << backend << " " << g.label;
        EXPECT_NEAR(via_weight, lhs, tol * (1 + std::abs(lhs))) << backend << " " << g.label;
      }
    }
  }
}

TEST(Conv, GradientsFlowThroughAutograd) {
  Tensor x = filled({1, 2, 5, 5}, 1, DType::f64), w = filled({3, 2, 3, 3}, 2, DType::f64);
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  Tensor y = conv(x, w, {2, 2}, {1, 1});
  const Tensor gy = filled(y.shape(), 3, DType::f64);
  const std::vector<Tensor> g = grad({y}, {x, w}, {gy});
  NoGradScope no_grad;
  expect_close(g[0], conv_backward_input(gy, w.detach(), x.shape(), {2, 2}, {1, 1}, {}, 1), 1e-12, "grad x");
  expect_close(g[1], conv_backward_weight(x.detach(), gy, w.shape(), {2, 2}, {1, 1}, {}, 1), 1e-12, "grad w");
}

TEST(Conv, BadInputErrors) {
  const Tensor x = filled({1, 3, 5, 5}, 1), w4 = filled({2, 4, 3, 3}, 2), w = filled({2, 3, 3, 3}, 3);
  EXPECT_EQ(error_of([&] { conv(x, w4); }), "conv: input has 3 channels, weight expects 4 (groups=1)");
  EXPECT_EQ(error_of([&] { conv(filled({1, 4, 5, 5}, 1), filled({3, 2, 3, 3}, 2), {}, {}, {}, 2); }),
            "conv: weight has 3 output channels, not divisible by groups=2");
  EXPECT_NE(error_of([&] { conv(filled({1, 3, 5}, 1), w); }).find("conv: input (1, 3, 5) has rank 3 but weight"),
            std::string::npos);
  EXPECT_NE(error_of([&] { conv(filled({1, 3}, 1), filled({2, 3}, 2)); }).find("must have rank 3, 4 or 5"),
            std::string::npos);
  EXPECT_NE(error_of([&] { conv(filled({1, 3, 2, 2}, 1), w); }).find("conv: kernel extent 3"), std::string::npos);
  EXPECT_NE(error_of([&] { conv(x, w, {}, {}, {3, 3}); }).find("conv: kernel extent 7"), std::string::npos);
  EXPECT_EQ(error_of([&] { conv(x, w, {0, 1}); }), "conv: stride [0, 1] must be positive");
  EXPECT_EQ(error_of([&] { conv(x, w, {}, {}, {1, 0}); }), "conv: dilation [1, 0] must be positive");
  EXPECT_EQ(error_of([&] { conv(x, w, {}, {-1, 0}); }), "conv: padding [-1, 0] must be non-negative");
  EXPECT_EQ(error_of([&] { conv(x, w, {1, 1, 1}); }), "conv: stride [1, 1, 1] has 3 values for a 2-D convolution");
  EXPECT_EQ(error_of([&] { conv(x, w, {}, {1}); }), "conv: padding [1] has 1 values for a 2-D convolution");
  EXPECT_EQ(error_of([&] { conv(x, w, {}, {}, {}, 0); }), "conv: groups must be positive, got 0");
  EXPECT_NE(error_of([&] { conv(x, filled({2, 3, 3, 3}, 1, DType::f64)); }).find("conv: operand dtypes differ"),
            std::string::npos);
  // Backward ops validate grad_y against the shapes they were given.
  EXPECT_NE(error_of([&] { conv_backward_input(filled({1, 2, 4, 4}, 1), w, {1, 3, 5, 5}, {}, {}, {}, 1); })
                .find("conv_backward_input: grad_y has shape (1, 2, 4, 4) but convolving an input of shape "
                      "(1, 3, 5, 5) with weight (2, 3, 3, 3) gives (1, 2, 3, 3)"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { conv_backward_input(filled({1, 2, 3, 3}, 1), w, {1, 4, 5, 5}, {}, {}, {}, 1); }),
            "conv_backward_input: result_shape has 4 channels, weight expects 3 (groups=1)");
  EXPECT_NE(error_of([&] { conv_backward_weight(x, filled({1, 2, 3, 2}, 1), {2, 3, 3, 3}, {}, {}, {}, 1); })
                .find("conv_backward_weight: grad_y has shape (1, 2, 3, 2)"),
            std::string::npos);
}

TEST(Conv, RecordsAndCost) {
  for (const char* name : {"conv", "conv_backward_input", "conv_backward_weight"}) {
    const OpDef& op = op_def(name);
    EXPECT_EQ(op.op_class, OpClass::convolution) << name;
    EXPECT_TRUE(op.differentiable) << name;
  }
  // ResNet's first layer at batch 1: 2 * 64 * 112 * 112 * 3 * 7 * 7 FLOPs.
  ConvAttrs a;
  a.stride = {2, 2};
  a.padding = {3, 3};
  std::vector<TensorSpec> in = {{{1, 3, 224, 224}, DType::f32}, {{64, 3, 7, 7}, DType::f32}};
  const auto out = op_def("conv").infer(in, a);
  ASSERT_EQ(out[0].shape, (Shape{1, 64, 112, 112}));
  EXPECT_DOUBLE_EQ(op_cost(op_def("conv"), in, out, a).flops, 2.0 * 64 * 112 * 112 * 3 * 7 * 7);
}

// oneDNN against the reference at shapes big enough to take its blocked (reordered) paths.
TEST(Conv, OneDnnMatchesReference) {
  const std::vector<Geometry> geometries = {
      {"resnet 3x3", {2, 16, 14, 14}, {32, 16, 3, 3}, {1, 1}, {1, 1}, {}, 1},
      {"resnet downsample 1x1 stride 2", {2, 32, 14, 14}, {64, 32, 1, 1}, {2, 2}, {}, {}, 1},
      {"resnet stem 7x7 stride 2", {1, 3, 32, 32}, {16, 3, 7, 7}, {2, 2}, {3, 3}, {}, 1},
      {"pointwise over a large image (plain layout)", {2, 8, 28, 30}, {16, 8, 1, 1}, {}, {}, {}, 1},
      {"grouped dilated", {2, 8, 12, 10}, {12, 4, 3, 3}, {1, 2}, {2, 1}, {2, 1}, 2},
      {"depthwise", {2, 16, 9, 9}, {16, 1, 3, 3}, {1, 1}, {1, 1}, {}, 16},
      {"uneven stride remainder", {1, 8, 10, 11}, {8, 8, 3, 3}, {2, 3}, {}, {}, 1},
      {"1-D", {2, 8, 50}, {16, 8, 5}, {2}, {2}, {3}, 1},
      {"1-D grouped", {2, 8, 20}, {8, 2, 3}, {}, {1}, {}, 4},
      {"3-D", {1, 4, 6, 7, 8}, {8, 4, 3, 3, 3}, {1, 2, 1}, {1, 1, 0}, {1, 1, 2}, 1},
      {"3-D grouped", {1, 8, 5, 5, 5}, {8, 4, 2, 2, 2}, {}, {}, {}, 2},
  };
  for (const Geometry& g : geometries) {
    const Tensor x = filled(g.x, 11), w = filled(g.w, 12), gy = filled(output_shape(g), 13);
    Tensor ref[3], fast[3];
    auto run_all = [&](Tensor* out) {
      out[0] = conv(x, w, g.stride, g.padding, g.dilation, g.groups);
      out[1] = conv_backward_input(gy, w, g.x, g.stride, g.padding, g.dilation, g.groups);
      out[2] = conv_backward_weight(x, gy, g.w, g.stride, g.padding, g.dilation, g.groups);
    };
    {
      BackendScope scope("reference");
      run_all(ref);
    }
    KernelLog log;
    {
      ObserverScope observe(&log);
      BackendScope scope("onednn");
      run_all(fast);
      Tensor again[3];
      run_all(again);  // the cached primitives give the same bits
      for (int i = 0; i < 3; ++i) EXPECT_EQ(again[i].to_vector<float>(), fast[i].to_vector<float>()) << g.label;
    }
    for (const std::string& b : log.backends) EXPECT_NE(b.find(":onednn"), std::string::npos) << g.label << " " << b;
    const char* names[] = {"forward", "backward input", "backward weight"};
    for (int i = 0; i < 3; ++i) expect_close(fast[i], ref[i], 2e-5, g.label + " " + names[i]);
  }
}

TEST(Conv, OneDnnNonContiguousInputs) {
  // A channels-last buffer viewed as NCHW: the dispatcher hands the kernel a contiguous copy.
  const Tensor nhwc = filled({2, 6, 6, 8}, 1);
  const Tensor x = permute(nhwc, {0, 3, 1, 2});
  ASSERT_FALSE(x.is_contiguous());
  const Tensor w = permute(filled({3, 3, 8, 4}, 2), {3, 2, 0, 1});  // (4, 8, 3, 3), non-contiguous
  Tensor ref, fast;
  {
    BackendScope scope("reference");
    ref = conv(x, w, {1, 1}, {1, 1});
  }
  fast = conv(x, w, {1, 1}, {1, 1});
  expect_close(fast, ref, 2e-5, "non-contiguous");
}

TEST(Conv, EmptyBatchAndChannels) {
  for (const char* backend : {"reference", "onednn"}) {
    BackendScope scope(backend);
    Tensor y = conv(filled({0, 2, 5, 5}, 1), filled({3, 2, 3, 3}, 2));
    EXPECT_EQ(y.shape(), (Shape{0, 3, 3, 3}));
    // No examples: the weight gradient is a sum over nothing.
    Tensor gw = conv_backward_weight(filled({0, 2, 5, 5}, 1), filled({0, 3, 3, 3}, 2), {3, 2, 3, 3}, {}, {}, {}, 1);
    EXPECT_EQ(gw.to_vector<double>(), std::vector<double>(54, 0.0)) << backend;
  }
}

TEST(Conv, MetaDeviceComputesShapeOnly) {
  Tensor x = Tensor::empty({32, 64, 56, 56}, DType::f32, kMeta), w = Tensor::empty({128, 64, 3, 3}, DType::f32, kMeta);
  Tensor y = conv(x, w, {2, 2}, {1, 1});
  EXPECT_TRUE(y.is_meta());
  EXPECT_EQ(y.shape(), (Shape{32, 128, 28, 28}));
}

}  // namespace
}  // namespace plumb
