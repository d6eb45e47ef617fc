// Golden tests: plumb against PyTorch outputs and gradients written by scripts/make_golden.py.
// Each case runs twice: f64 on the reference backend (tolerance 1e-10) and f32 on the default
// kernels, i.e. the fast backends where they are registered (tolerance 1e-4).
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "golden/golden_common.h"
#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/ops.h"

namespace plumb {
namespace {

using namespace golden;

// ---- per-family runners: plumb's answer for each expected key ----

Results run_matmul(const GoldenCase& c, const Inputs& in) {
  Tensor a = leaf(in, "a"), b = leaf(in, "b");
  const Tensor b_op = c.attrs.at("transpose_b").get<bool>() ? transpose(b, b.dim() - 2, b.dim() - 1) : b;
  Tensor y = matmul(a, b_op);
  auto g = grad({y}, {a, b}, {need(in, "cot_y")});
  return {{"y", y}, {"grad_a", g[0]}, {"grad_b", g[1]}};
}

Results run_conv(const GoldenCase& c, const Inputs& in) {
  const Shape stride = shape_attr(c.attrs, "stride"), padding = shape_attr(c.attrs, "padding"),
              dilation = shape_attr(c.attrs, "dilation");
  const int64_t groups = c.attrs.at("groups").get<int64_t>();
  Tensor x = leaf(in, "x"), w = leaf(in, "w");
  const Tensor& gy = need(in, "cot_y");
  Tensor y = conv(x, w, stride, padding, dilation, groups);
  auto g = grad({y}, {x, w}, {gy});
  // The backward ops called directly, as a framework user (or another vjp) would.
  Tensor gx = conv_backward_input(gy, need(in, "w"), x.shape(), stride, padding, dilation, groups);
  Tensor gw = conv_backward_weight(need(in, "x"), gy, w.shape(), stride, padding, dilation, groups);
  return {{"y", y}, {"grad_x", g[0]}, {"grad_w", g[1]}, {"grad_x@direct", gx}, {"grad_w@direct", gw}};
}

Results run_pool(const GoldenCase& c, const Inputs& in) {
  const Shape kernel = shape_attr(c.attrs, "kernel"), stride = shape_attr(c.attrs, "stride"),
              padding = shape_attr(c.attrs, "padding");
  const bool ceil_mode = c.attrs.at("ceil_mode").get<bool>();
  const bool count_include_pad = c.attrs.at("count_include_pad").get<bool>();
  Tensor x = leaf(in, "x");
  const Tensor& gy = need(in, "cot_y");
  Tensor y, direct;
  if (c.attrs.at("kind").get<std::string>() == "max") {
    y = max_pool(x, kernel, stride, padding, ceil_mode);
    direct = max_pool_backward(need(in, "x"), gy, kernel, stride, padding, ceil_mode);
  } else {
    y = avg_pool(x, kernel, stride, padding, ceil_mode, count_include_pad);
    direct = avg_pool_backward(gy, x.shape(), kernel, stride, padding, ceil_mode, count_include_pad);
  }
  auto g = grad({y}, {x}, {gy});
  return {{"y", y}, {"grad_x", g[0]}, {"grad_x@direct", direct}};
}

Results run_batch_norm(const GoldenCase& c, const Inputs& in) {
  Tensor x = leaf(in, "x"), weight = leaf(in, "weight"), bias = leaf(in, "bias");
  BatchNormResult r = batch_norm(x, weight, bias, need(in, "running_mean"), need(in, "running_var"),
                                 c.attrs.at("training").get<bool>(), c.attrs.at("eps").get<double>());
  auto g = grad({r.y}, {x, weight, bias}, {need(in, "cot_y")});
  return {{"y", r.y},           {"batch_mean", r.batch_mean}, {"batch_var", r.batch_var},
          {"grad_x", g[0]},     {"grad_weight", g[1]},        {"grad_bias", g[2]}};
}

Results run_cross_entropy(const GoldenCase& c, const Inputs& in) {
  Tensor logits = leaf(in, "logits");
  Tensor y = cross_entropy(logits, need(in, "target"), c.attrs.at("ignore_index").get<int64_t>(),
                           c.attrs.at("label_smoothing").get<double>(), c.attrs.at("reduction").get<std::string>());
  auto g = grad({y}, {logits}, {need(in, "cot_y")});
  return {{"y", y}, {"grad_logits", g[0]}};
}

Results run_lrn(const GoldenCase& c, const Inputs& in) {
  Tensor x = leaf(in, "x");
  Tensor y = local_response_norm(x, c.attrs.at("size").get<int64_t>(), c.attrs.at("alpha").get<double>(),
                                 c.attrs.at("beta").get<double>(), c.attrs.at("k").get<double>());
  auto g = grad({y}, {x}, {need(in, "cot_y")});
  return {{"y", y}, {"grad_x", g[0]}};
}

Results run_layer_norm(const GoldenCase& c, const Inputs& in) {
  Tensor x = leaf(in, "x"), weight = leaf(in, "weight"), bias = leaf(in, "bias");
  Tensor y = layer_norm(x, weight, bias, c.attrs.at("normalized_dims").get<int64_t>(), c.attrs.at("eps").get<double>());
  auto g = grad({y}, {x, weight, bias}, {need(in, "cot_y")});
  return {{"y", y}, {"grad_x", g[0]}, {"grad_weight", g[1]}, {"grad_bias", g[2]}};
}

Results run_softmax(const GoldenCase& c, const Inputs& in) {
  Tensor x = leaf(in, "x");
  const int64_t axis = c.attrs.at("axis").get<int64_t>();
  Tensor y = c.attrs.at("kind").get<std::string>() == "softmax" ? softmax(x, axis) : log_softmax(x, axis);
  auto g = grad({y}, {x}, {need(in, "cot_y")});
  return {{"y", y}, {"grad_x", g[0]}};
}

Results run_mse_loss(const GoldenCase& c, const Inputs& in) {
  Tensor a = leaf(in, "a"), b = leaf(in, "b");
  Tensor y = mse_loss(a, b, c.attrs.at("reduction").get<std::string>());
  auto g = grad({y}, {a, b}, {need(in, "cot_y")});
  return {{"y", y}, {"grad_a", g[0]}, {"grad_b", g[1]}};
}

TEST(Golden, Matmul) { run_family("matmul", run_matmul); }
TEST(Golden, Conv) { run_family("conv", run_conv); }
TEST(Golden, Pool) { run_family("pool", run_pool); }
TEST(Golden, BatchNorm) { run_family("batch_norm", run_batch_norm); }
TEST(Golden, CrossEntropy) { run_family("cross_entropy", run_cross_entropy); }
TEST(Golden, LocalResponseNorm) { run_family("lrn", run_lrn); }
TEST(Golden, LayerNorm) { run_family("layer_norm", run_layer_norm); }
TEST(Golden, Softmax) { run_family("softmax", run_softmax); }
TEST(Golden, MseLoss) { run_family("mse_loss", run_mse_loss); }

// The manifest must cover exactly the families tested here and in ctc_golden_test.cpp, so a new family in
// the script gets a test.
TEST(Golden, ManifestFamiliesAreTested) {
  const GoldenData& data = golden_data();
  ASSERT_TRUE(data.error.empty()) << data.error;
  const std::vector<std::string> known = {"matmul", "conv", "pool", "batch_norm", "cross_entropy",
                                          "lrn", "layer_norm", "softmax", "mse_loss", "ctc"};
  for (const GoldenCase& c : data.cases)
    EXPECT_NE(std::find(known.begin(), known.end(), c.family), known.end())
        << c.name << ": family '" << c.family << "' has no golden test";
}

}  // namespace
}  // namespace plumb
