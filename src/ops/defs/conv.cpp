// The convolution family: N-d convolution (1-D, 2-D, 3-D from the weight's rank) and its two
// backward ops, each differentiable (all three are bilinear in their two operands).
#include <string>

#include "ops/op_def.h"

namespace plumb::ops {

namespace {

std::string list_str(const Shape& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "]";
}

// Stride, padding and dilation with empty vectors replaced by their defaults (1, 0, 1).
struct ConvGeometry {
  Shape stride, padding, dilation;
  int64_t groups = 1;
};

ConvGeometry resolve_geometry(std::string_view op, size_t spatial, const Shape& stride, const Shape& padding,
                              const Shape& dilation, int64_t groups) {
  auto resolve = [&](const Shape& v, int64_t dflt, const char* what) {
    if (v.empty()) return Shape(spatial, dflt);
    if (v.size() != spatial)
      fail(op, ": ", what, " ", list_str(v), " has ", v.size(), " values for a ", spatial, "-D convolution");
    return v;
  };
  ConvGeometry g{resolve(stride, 1, "stride"), resolve(padding, 0, "padding"), resolve(dilation, 1, "dilation"),
                 groups};
  for (size_t i = 0; i < spatial; ++i) {
    if (g.stride[i] < 1) fail(op, ": stride ", list_str(g.stride), " must be positive");
    if (g.dilation[i] < 1) fail(op, ": dilation ", list_str(g.dilation), " must be positive");
    if (g.padding[i] < 0) fail(op, ": padding ", list_str(g.padding), " must be non-negative");
  }
  if (groups < 1) fail(op, ": groups must be positive, got ", groups);
  return g;
}

// Validates x (N, C, *S) against w (O, C/groups, *K) and returns y's shape (N, O, *S_out).
Shape conv_output_shape(std::string_view op, const Shape& x, const Shape& w, const ConvGeometry& g,
                        const char* x_name = "input", const char* w_name = "weight") {
  const size_t spatial = w.size() - 2;
  if (x.size() != w.size())
    fail(op, ": ", x_name, " ", shape_str(x), " has rank ", x.size(), " but ", w_name, " ", shape_str(w),
         " has rank ", w.size(), " (a ", spatial, "-D convolution takes (N, C, *spatial))");
  if (x[1] != w[1] * g.groups)
    fail(op, ": ", x_name, " has ", x[1], " channels, ", w_name, " expects ", w[1] * g.groups, " (groups=", g.groups,
         ")");
  if (w[0] % g.groups != 0)
    fail(op, ": ", w_name, " has ", w[0], " output channels, not divisible by groups=", g.groups);
  Shape y = {x[0], w[0]};
  for (size_t i = 0; i < spatial; ++i) {
    if (w[2 + i] < 1) fail(op, ": ", w_name, " ", shape_str(w), " has an empty kernel");
    const int64_t extent = g.dilation[i] * (w[2 + i] - 1) + 1;
    const int64_t padded = x[2 + i] + 2 * g.padding[i];
    if (extent > padded)
      fail(op, ": kernel extent ", extent, " (kernel ", w[2 + i], ", dilation ", g.dilation[i],
           ") exceeds the padded ", x_name, " size ", padded, " (size ", x[2 + i], ", padding ", g.padding[i],
           ") in spatial dim ", i);
    y.push_back((padded - extent) / g.stride[i] + 1);
  }
  return y;
}

void check_operands(std::string_view op, std::span<const TensorSpec> in, const char* a_name, const char* b_name) {
  check_same_device(op, in);
  check_float(op, in[0], a_name);
  check_float(op, in[1], b_name);
  check_same_dtype(op, in[0], in[1]);
}

// The weight shape fixes the dimensionality: rank 3, 4 or 5 for 1-D, 2-D or 3-D.
void check_weight_rank(std::string_view op, const Shape& w, const char* what) {
  if (w.size() < 3 || w.size() > 5)
    fail(op, ": ", what, " ", shape_str(w), " must have rank 3, 4 or 5 (a 1-D, 2-D or 3-D convolution)");
}

// 2 * N * O * prod(S_out) * (C/groups) * prod(K): one multiply-add per output element and tap.
double conv_flops(const Shape& y, const Shape& w) {
  double f = 2.0 * static_cast<double>(numel(y)) * static_cast<double>(w[1]);
  for (size_t i = 2; i < w.size(); ++i) f *= static_cast<double>(w[i]);
  return f;
}

template <class A>  // ConvAttrs or ConvBackwardAttrs
ConvGeometry geometry_of(std::string_view op, size_t spatial, const A& a) {
  return resolve_geometry(op, spatial, a.stride, a.padding, a.dilation, a.groups);
}

// The geometry fields every conv op's attrs carry (ConvAttrs or ConvBackwardAttrs), for the front ends.
template <class A>
A conv_attrs(Shape stride, Shape padding, Shape dilation, int64_t groups) {
  A a;
  a.stride = std::move(stride);
  a.padding = std::move(padding);
  a.dilation = std::move(dilation);
  a.groups = groups;
  return a;
}

// ---- conv(x, w): x (N, C, *S), w (O, C/groups, *K) -> y (N, O, *S_out) ----

std::vector<TensorSpec> infer_conv(std::span<const TensorSpec> in, const Attrs& attrs) {
  check_operands("conv", in, "input", "weight");
  check_weight_rank("conv", in[1].shape, "weight");
  const ConvGeometry g = geometry_of("conv", in[1].shape.size() - 2, attrs_as<ConvAttrs>(attrs));
  return {TensorSpec{conv_output_shape("conv", in[0].shape, in[1].shape, g), in[0].dtype, in[0].device}};
}

Cost cost_conv(std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs&) {
  return io_bytes(in, out, conv_flops(out[0].shape, in[1].shape));
}

std::vector<Tensor> vjp_conv(const VjpArgs& v) {
  const auto& a = attrs_as<ConvAttrs>(v.attrs);
  const Tensor& x = v.inputs[0];
  const Tensor& w = v.inputs[1];
  const Tensor& g = v.grad_outputs[0];
  std::vector<Tensor> grads(2);
  if (v.needs_grad[0]) grads[0] = conv_backward_input(g, w, x.shape(), a.stride, a.padding, a.dilation, a.groups);
  if (v.needs_grad[1]) grads[1] = conv_backward_weight(x, g, w.shape(), a.stride, a.padding, a.dilation, a.groups);
  return grads;
}

// ---- conv_backward_input(grad_y, w) -> grad_x of shape result_shape ----

std::vector<TensorSpec> infer_conv_backward_input(std::span<const TensorSpec> in, const Attrs& attrs) {
  const auto& a = attrs_as<ConvBackwardAttrs>(attrs);
  check_operands("conv_backward_input", in, "grad_y", "weight");
  const Shape& w = in[1].shape;
  check_weight_rank("conv_backward_input", w, "weight");
  const ConvGeometry g = geometry_of("conv_backward_input", w.size() - 2, a);
  const Shape y = conv_output_shape("conv_backward_input", a.result_shape, w, g, "result_shape");
  if (in[0].shape != y)
    fail("conv_backward_input: grad_y has shape ", shape_str(in[0].shape), " but convolving an input of shape ",
         shape_str(a.result_shape), " with weight ", shape_str(w), " gives ", shape_str(y));
  return {TensorSpec{a.result_shape, in[0].dtype, in[0].device}};
}

Cost cost_conv_backward_input(std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs&) {
  return io_bytes(in, out, conv_flops(in[0].shape, in[1].shape));
}

// bwd_input(gy, w) is the adjoint of x -> conv(x, w): <bwd_input(gy, w), x> = <gy, conv(x, w)>. So for an
// upstream G (shaped like x): d/d gy = conv(G, w) and d/d w = bwd_weight(G, gy).
std::vector<Tensor> vjp_conv_backward_input(const VjpArgs& v) {
  const auto& a = attrs_as<ConvBackwardAttrs>(v.attrs);
  const Tensor& gy = v.inputs[0];
  const Tensor& w = v.inputs[1];
  const Tensor& G = v.grad_outputs[0];
  std::vector<Tensor> grads(2);
  if (v.needs_grad[0]) grads[0] = conv(G, w, a.stride, a.padding, a.dilation, a.groups);
  if (v.needs_grad[1]) grads[1] = conv_backward_weight(G, gy, w.shape(), a.stride, a.padding, a.dilation, a.groups);
  return grads;
}

// ---- conv_backward_weight(x, grad_y) -> grad_w of shape result_shape ----

std::vector<TensorSpec> infer_conv_backward_weight(std::span<const TensorSpec> in, const Attrs& attrs) {
  const auto& a = attrs_as<ConvBackwardAttrs>(attrs);
  check_operands("conv_backward_weight", in, "input", "grad_y");
  const Shape& w = a.result_shape;
  check_weight_rank("conv_backward_weight", w, "result_shape");
  const ConvGeometry g = geometry_of("conv_backward_weight", w.size() - 2, a);
  const Shape y = conv_output_shape("conv_backward_weight", in[0].shape, w, g, "input", "result_shape");
  if (in[1].shape != y)
    fail("conv_backward_weight: grad_y has shape ", shape_str(in[1].shape), " but convolving input ",
         shape_str(in[0].shape), " with a weight of shape ", shape_str(w), " gives ", shape_str(y));
  return {TensorSpec{w, in[0].dtype, in[0].device}};
}

Cost cost_conv_backward_weight(std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs&) {
  return io_bytes(in, out, conv_flops(in[1].shape, out[0].shape));
}

// bwd_weight(x, gy) is the adjoint of w -> conv(x, w): <bwd_weight(x, gy), w> = <gy, conv(x, w)>. So for an
// upstream G (shaped like w): d/d x = bwd_input(gy, G) and d/d gy = conv(x, G).
std::vector<Tensor> vjp_conv_backward_weight(const VjpArgs& v) {
  const auto& a = attrs_as<ConvBackwardAttrs>(v.attrs);
  const Tensor& x = v.inputs[0];
  const Tensor& gy = v.inputs[1];
  const Tensor& G = v.grad_outputs[0];
  std::vector<Tensor> grads(2);
  if (v.needs_grad[0]) grads[0] = conv_backward_input(gy, G, x.shape(), a.stride, a.padding, a.dilation, a.groups);
  if (v.needs_grad[1]) grads[1] = conv(x, G, a.stride, a.padding, a.dilation, a.groups);
  return grads;
}

}  // namespace

void register_conv_ops() {
  register_op(OpDef{
      .name = "conv",
      .op_class = OpClass::convolution,
      .min_inputs = 2,
      .max_inputs = 2,
      .make_attrs = attrs_factory<ConvAttrs>(),
      .infer = infer_conv,
      .cost = cost_conv,
      .vjp = vjp_conv,
      .differentiable = true,
      .doc = "N-d convolution: x (N, C, *S), w (O, C/groups, *K) -> (N, O, *S_out)",
  });
  register_op(OpDef{
      .name = "conv_backward_input",
      .op_class = OpClass::convolution,
      .min_inputs = 2,
      .max_inputs = 2,
      .make_attrs = attrs_factory<ConvBackwardAttrs>(),
      .infer = infer_conv_backward_input,
      .cost = cost_conv_backward_input,
      .vjp = vjp_conv_backward_input,
      .differentiable = true,
      .doc = "gradient of conv w.r.t. its input: grad_y (N, O, *S_out), w -> (N, C, *S)",
  });
  register_op(OpDef{
      .name = "conv_backward_weight",
      .op_class = OpClass::convolution,
      .min_inputs = 2,
      .max_inputs = 2,
      .make_attrs = attrs_factory<ConvBackwardAttrs>(),
      .infer = infer_conv_backward_weight,
      .cost = cost_conv_backward_weight,
      .vjp = vjp_conv_backward_weight,
      .differentiable = true,
      .doc = "gradient of conv w.r.t. its weight: x (N, C, *S), grad_y (N, O, *S_out) -> (O, C/groups, *K)",
  });
}

}  // namespace plumb::ops

namespace plumb {

Tensor conv(const Tensor& x, const Tensor& w, Shape stride, Shape padding, Shape dilation, int64_t groups) {
  const auto a = ops::conv_attrs<ConvAttrs>(std::move(stride), std::move(padding), std::move(dilation), groups);
  return ops::call(PLUMB_OP("conv"), {x, w}, a);
}

Tensor conv_backward_input(const Tensor& grad_y, const Tensor& w, const Shape& input_shape, Shape stride,
                           Shape padding, Shape dilation, int64_t groups) {
  auto a = ops::conv_attrs<ConvBackwardAttrs>(std::move(stride), std::move(padding), std::move(dilation), groups);
  a.result_shape = input_shape;
  return ops::call(PLUMB_OP("conv_backward_input"), {grad_y, w}, a);
}

Tensor conv_backward_weight(const Tensor& x, const Tensor& grad_y, const Shape& weight_shape, Shape stride,
                            Shape padding, Shape dilation, int64_t groups) {
  auto a = ops::conv_attrs<ConvBackwardAttrs>(std::move(stride), std::move(padding), std::move(dilation), groups);
  a.result_shape = weight_shape;
  return ops::call(PLUMB_OP("conv_backward_weight"), {x, grad_y}, a);
}

}  // namespace plumb
