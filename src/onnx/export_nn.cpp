// Emitters of the network ops: convolution, pooling, softmax, linear, embedding, normalizations,
// dropout.
#include <algorithm>
#include <numeric>
#include <string>

#include "onnx/export.h"
#include "onnx/tensor_proto.h"
#include "plumb/error.h"
#include "plumb/op_attrs.h"

namespace plumb::onnx_io {

namespace {

using Node = graph::Node;
namespace pb = ::onnx;

const Shape& in_shape(const ExportContext& ctx, const Node& n, size_t i = 0) { return ctx.in_value(n, i).spec.shape; }

Shape or_default(const Shape& v, size_t n, int64_t dflt) { return v.empty() ? Shape(n, dflt) : v; }

// Symmetric padding as ONNX's [begin..., end...].
std::vector<int64_t> both_sides(const Shape& p) {
  std::vector<int64_t> r(p.begin(), p.end());
  r.insert(r.end(), p.begin(), p.end());
  return r;
}

bool used(const ExportContext& ctx, int value) {
  for (const Node& m : ctx.g.nodes)
    if (std::find(m.inputs.begin(), m.inputs.end(), value) != m.inputs.end()) return true;
  return std::find(ctx.g.outputs.begin(), ctx.g.outputs.end(), value) != ctx.g.outputs.end();
}

void emit_conv(ExportContext& ctx, const Node& n) {
  const auto& a = node_attrs<ConvAttrs>(n);
  const Shape& w = in_shape(ctx, n, 1);
  const size_t sp = w.size() - 2;
  pb::NodeProto& c = ctx.add(n, "Conv", {ctx.in(n, 0), ctx.in(n, 1)}, {ctx.out_name(n, 0)});
  attr(c, "kernel_shape", std::vector<int64_t>(w.begin() + 2, w.end()));
  attr(c, "strides", or_default(a.stride, sp, 1));
  attr(c, "pads", both_sides(or_default(a.padding, sp, 0)));
  attr(c, "dilations", or_default(a.dilation, sp, 1));
  attr(c, "group", a.groups);
}

// conv_backward_input(grad_y, w) is a transposed convolution of grad_y by the same weight; the
// output_padding picks result_shape among the sizes a strided convolution maps to one output size.
void emit_conv_transpose(ExportContext& ctx, const Node& n) {
  const auto& a = node_attrs<ConvBackwardAttrs>(n);
  const Shape& gy = in_shape(ctx, n, 0);
  const Shape& w = in_shape(ctx, n, 1);
  const size_t sp = w.size() - 2;
  const Shape stride = or_default(a.stride, sp, 1), pad = or_default(a.padding, sp, 0),
              dil = or_default(a.dilation, sp, 1);
  std::vector<int64_t> output_padding(sp);
  for (size_t i = 0; i < sp; ++i) {
    const int64_t natural = stride[i] * (gy[2 + i] - 1) + dil[i] * (w[2 + i] - 1) + 1 - 2 * pad[i];
    output_padding[i] = a.result_shape[2 + i] - natural;
    if (output_padding[i] < 0 || output_padding[i] >= std::max(stride[i], dil[i]))
      fail("onnx export: ", node_label(n), ": result size ", a.result_shape[2 + i], " in spatial dim ", i,
           " is not a transposed convolution's output (natural size ", natural, ")");
  }
  pb::NodeProto& c = ctx.add(n, "ConvTranspose", {ctx.in(n, 0), ctx.in(n, 1)}, {ctx.out_name(n, 0)});
  attr(c, "kernel_shape", std::vector<int64_t>(w.begin() + 2, w.end()));
  attr(c, "strides", stride);
  attr(c, "pads", both_sides(pad));
  attr(c, "dilations", dil);
  attr(c, "group", a.groups);
  if (std::any_of(output_padding.begin(), output_padding.end(), [](int64_t p) { return p != 0; }))
    attr(c, "output_padding", output_padding);
}

void emit_pool(ExportContext& ctx, const Node& n) {
  const auto& a = node_attrs<PoolAttrs>(n);
  const bool is_max = n.op->name == "max_pool";
  const size_t sp = a.kernel.size();
  pb::NodeProto& p = ctx.add(n, is_max ? "MaxPool" : "AveragePool", {ctx.in(n, 0)}, {ctx.out_name(n, 0)});
  attr(p, "kernel_shape", a.kernel);
  attr(p, "strides", a.stride.empty() ? a.kernel : a.stride);
  attr(p, "pads", both_sides(or_default(a.padding, sp, 0)));
  attr(p, "ceil_mode", int64_t{a.ceil_mode ? 1 : 0});
  if (!is_max) attr(p, "count_include_pad", int64_t{a.count_include_pad ? 1 : 0});
}

void emit_softmax(ExportContext& ctx, const Node& n) {
  const char* type = n.op->name == "softmax" ? "Softmax" : "LogSoftmax";
  const Shape& s = in_shape(ctx, n);
  if (s.empty()) {  // a 0-d input: through a (1) tensor, as Softmax needs an axis
    const std::string flat = ctx.temp(n, "flat"), soft = ctx.temp(n, "soft");
    ctx.add(n, "Reshape", {ctx.in(n, 0), ctx.ints({1}, ctx.out_name(n, 0) + "_shape1")}, {flat});
    attr(ctx.add(n, type, {flat}, {soft}), "axis", int64_t{0});
    ctx.add(n, "Reshape", {soft, ctx.ints({}, ctx.out_name(n, 0) + "_shape0")}, {ctx.out_name(n, 0)});
    return;
  }
  int64_t axis = node_attrs<AxisAttrs>(n).axis;
  if (axis < 0) axis += static_cast<int64_t>(s.size());
  attr(ctx.add(n, type, {ctx.in(n, 0)}, {ctx.out_name(n, 0)}), "axis", axis);
}

// x (..., in) @ w^T + b: Gemm for a matrix, else MatMul on the transposed weight and Add.
void emit_linear(ExportContext& ctx, const Node& n) {
  const std::string& y = ctx.out_name(n, 0);
  if (in_shape(ctx, n).size() == 2) {
    std::vector<std::string> ins{ctx.in(n, 0), ctx.in(n, 1)};
    if (n.inputs.size() == 3) ins.push_back(ctx.in(n, 2));
    attr(ctx.add(n, "Gemm", ins, {y}), "transB", int64_t{1});
    return;
  }
  const std::string wt = ctx.temp(n, "weight_t");
  attr(ctx.add(n, "Transpose", {ctx.in(n, 1)}, {wt}), "perm", std::vector<int64_t>{1, 0});
  if (n.inputs.size() == 2) {
    ctx.add(n, "MatMul", {ctx.in(n, 0), wt}, {y});
    return;
  }
  const std::string mm = ctx.temp(n, "matmul");
  ctx.add(n, "MatMul", {ctx.in(n, 0), wt}, {mm});
  ctx.add(n, "Add", {mm, ctx.in(n, 2)}, {y});
}

void emit_embedding(ExportContext& ctx, const Node& n) {
  attr(ctx.add(n, "Gather", {ctx.in(n, 0), ctx.in(n, 1)}, {ctx.out_name(n, 0)}), "axis", int64_t{0});
}

void emit_layer_norm(ExportContext& ctx, const Node& n) {
  const auto& a = node_attrs<LayerNormAttrs>(n);
  const TensorSpec& x = ctx.in_value(n, 0).spec;
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  const std::string& y = ctx.out_name(n, 0);
  if (ctx.opset >= 17) {
    std::string scale;
    if (n.inputs.size() >= 2) {
      scale = ctx.in(n, 1);
    } else {  // LayerNormalization needs a scale
      const Shape norm(x.shape.end() - a.normalized_dims, x.shape.end());
      scale = ctx.initializer(Tensor::ones(norm, x.dtype, kCPU), y + "_scale");
    }
    std::vector<std::string> ins{ctx.in(n, 0), scale};
    if (n.inputs.size() == 3) ins.push_back(ctx.in(n, 2));
    pb::NodeProto& ln = ctx.add(n, "LayerNormalization", ins, {y});
    attr(ln, "axis", rank - a.normalized_dims);
    attr(ln, "epsilon", a.eps);
    return;
  }
  // Before opset 17: (x - mean) / sqrt(var + eps) * weight + bias over the trailing axes.
  std::vector<int64_t> axes;
  for (int64_t d = rank - a.normalized_dims; d < rank; ++d) axes.push_back(d);
  auto reduce_mean = [&](const std::string& in, const std::string& out) {
    pb::NodeProto& r = ctx.add(n, "ReduceMean", {in}, {out});
    attr(r, "axes", axes);
    attr(r, "keepdims", int64_t{1});
  };
  const std::string mean = ctx.temp(n, "mean"), d = ctx.temp(n, "centered"), sq = ctx.temp(n, "squared"),
                    var = ctx.temp(n, "var"), ve = ctx.temp(n, "var_eps"), sd = ctx.temp(n, "std");
  reduce_mean(ctx.in(n, 0), mean);
  ctx.add(n, "Sub", {ctx.in(n, 0), mean}, {d});
  ctx.add(n, "Mul", {d, d}, {sq});
  reduce_mean(sq, var);
  ctx.add(n, "Add", {var, ctx.scalar(a.eps, x.dtype, y + "_eps")}, {ve});
  ctx.add(n, "Sqrt", {ve}, {sd});
  std::string cur = n.inputs.size() == 1 ? y : ctx.temp(n, "normalized");
  ctx.add(n, "Div", {d, sd}, {cur});
  if (n.inputs.size() >= 2) {
    const std::string scaled = n.inputs.size() == 2 ? y : ctx.temp(n, "scaled");
    ctx.add(n, "Mul", {cur, ctx.in(n, 1)}, {scaled});
    cur = scaled;
  }
  if (n.inputs.size() == 3) ctx.add(n, "Add", {cur, ctx.in(n, 2)}, {y});
}

void emit_batch_norm(ExportContext& ctx, const Node& n) {
  const auto& a = node_attrs<BatchNormAttrs>(n);
  if (a.training)
    fail("onnx export: ", node_label(n),
         " normalizes with batch statistics (training mode); export a model in eval mode");
  pb::NodeProto& bn = ctx.add(n, "BatchNormalization",
                              {ctx.in(n, 0), ctx.in(n, 1), ctx.in(n, 2), ctx.in(n, 3), ctx.in(n, 4)},
                              {ctx.out_name(n, 0)});
  attr(bn, "epsilon", a.eps);
  // In eval mode the statistics outputs are the running statistics themselves.
  for (size_t i = 1; i < 3; ++i)
    if (used(ctx, n.outputs[i])) ctx.add(n, "Identity", {ctx.in(n, i + 2)}, {ctx.out_name(n, i)});
}

// ONNX's LRN window is floor((size-1)/2) channels before and ceil((size-1)/2) after; plumb's (as
// PyTorch's) is size/2 before. They agree for odd sizes; an even size runs on reversed channels.
void emit_lrn(ExportContext& ctx, const Node& n) {
  const auto& a = node_attrs<LrnAttrs>(n);
  const std::string& y = ctx.out_name(n, 0);
  auto lrn = [&](const std::string& in, const std::string& out) {
    pb::NodeProto& l = ctx.add(n, "LRN", {in}, {out});
    attr(l, "size", a.size);
    attr(l, "alpha", a.alpha);
    attr(l, "beta", a.beta);
    attr(l, "bias", a.k);
  };
  if (a.size % 2 == 1) {
    lrn(ctx.in(n, 0), y);
    return;
  }
  const int64_t c = in_shape(ctx, n)[1];
  std::vector<int64_t> rev(static_cast<size_t>(c));
  std::iota(rev.rbegin(), rev.rend(), 0);
  const std::string index = ctx.ints(rev, y + "_reversed_channels");
  const std::string xr = ctx.temp(n, "reversed"), yr = ctx.temp(n, "lrn_reversed");
  attr(ctx.add(n, "Gather", {ctx.in(n, 0), index}, {xr}), "axis", int64_t{1});
  lrn(xr, yr);
  attr(ctx.add(n, "Gather", {yr, index}, {y}), "axis", int64_t{1});
}

void emit_dropout(ExportContext& ctx, const Node& n) {
  const auto& a = node_attrs<DropoutAttrs>(n);
  if (a.training && a.p > 0)
    fail("onnx export: ", node_label(n), " drops units (training mode, p=", a.p,
         "); export a model in eval mode");
  ctx.add(n, "Identity", {ctx.in(n, 0)}, {ctx.out_name(n, 0)});
}

}  // namespace

void add_nn_emitters(std::map<std::string, EmitFn, std::less<>>& t) {
  t["conv"] = emit_conv;
  t["conv_backward_input"] = emit_conv_transpose;
  t["max_pool"] = emit_pool;
  t["avg_pool"] = emit_pool;
  t["softmax"] = emit_softmax;
  t["log_softmax"] = emit_softmax;
  t["linear"] = emit_linear;
  t["embedding"] = emit_embedding;
  t["layer_norm"] = emit_layer_norm;
  t["batch_norm"] = emit_batch_norm;
  t["local_response_norm"] = emit_lrn;
  t["dropout"] = emit_dropout;
}

}  // namespace plumb::onnx_io
