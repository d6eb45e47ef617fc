// softmax and log_softmax: numerically stable (the row max is subtracted first).
#include "ops/composite/composite.h"

namespace plumb {

namespace {

// The reduction axes of a softmax over `axis`: {axis}, or all (none) for a 0-d input.
std::vector<int64_t> softmax_axes(const Tensor& x, int64_t axis) {
  if (x.dim() == 0) return {};
  return {normalize_axis(axis, x.dim(), "softmax")};
}

std::vector<TensorSpec> infer_softmax(std::string_view op, std::span<const TensorSpec> in, const Attrs& a) {
  const int64_t axis = ops::attrs_as<AxisAttrs>(a).axis;
  ops::check_float(op, in[0], "input");
  const int64_t rank = static_cast<int64_t>(in[0].shape.size());
  if (rank == 0) {
    if (axis != 0 && axis != -1) fail(op, ": axis ", axis, " is out of range for a 0-d input");
  } else {
    normalize_axis(axis, rank, op);
  }
  return {in[0]};
}

// x - max(x): the max is taken from a detached x since the result does not depend on it.
Tensor shifted(const Tensor& x, const std::vector<int64_t>& axes) { return sub(x, max(x.detach(), axes, true)); }

}  // namespace

Tensor softmax(const Tensor& x, int64_t axis) {
  AxisAttrs a;
  a.axis = axis;
  return ops::call(PLUMB_OP("softmax"), {x}, a);
}

Tensor log_softmax(const Tensor& x, int64_t axis) {
  AxisAttrs a;
  a.axis = axis;
  return ops::call(PLUMB_OP("log_softmax"), {x}, a);
}

namespace ops::composite {

void register_softmax_ops() {
  register_op(OpDef{
      .name = "softmax",
      .op_class = OpClass::elementwise,
      .min_inputs = 1,
      .max_inputs = 1,
      .make_attrs = attrs_factory<AxisAttrs>(),
      .infer = [](std::span<const TensorSpec> in, const Attrs& a) { return infer_softmax("softmax", in, a); },
      // y = softmax(x): dx = y * (g - sum(g * y)) along the axis. Used when a fused kernel runs.
      .vjp =
          [](const VjpArgs& v) {
            const auto axes = softmax_axes(v.inputs[0], attrs_as<AxisAttrs>(v.attrs).axis);
            const Tensor& y = v.outputs[0];
            const Tensor& g = v.grad_outputs[0];
            return std::vector<Tensor>{mul(y, sub(g, sum(mul(g, y), axes, true)))};
          },
      .differentiable = true,
      // y = exp(x - max) / sum(exp(x - max))
      .decompose =
          [](std::span<const Tensor> in, const Attrs& a) {
            if (in[0].numel() == 0) return std::vector<Tensor>{copy(in[0])};  // an empty axis has no max
            const auto axes = softmax_axes(in[0], attrs_as<AxisAttrs>(a).axis);
            Tensor e = exp(shifted(in[0], axes));
            return std::vector<Tensor>{div(e, sum(e, axes, true))};
          },
      .doc = "exp(x) / sum(exp(x)) along an axis (max subtracted for stability)",
  });

  register_op(OpDef{
      .name = "log_softmax",
      .op_class = OpClass::elementwise,
      .min_inputs = 1,
      .max_inputs = 1,
      .make_attrs = attrs_factory<AxisAttrs>(),
      .infer = [](std::span<const TensorSpec> in, const Attrs& a) { return infer_softmax("log_softmax", in, a); },
      // y = log_softmax(x): dx = g - exp(y) * sum(g) along the axis.
      .vjp =
          [](const VjpArgs& v) {
            const auto axes = softmax_axes(v.inputs[0], attrs_as<AxisAttrs>(v.attrs).axis);
            const Tensor& g = v.grad_outputs[0];
            return std::vector<Tensor>{sub(g, mul(exp(v.outputs[0]), sum(g, axes, true)))};
          },
      .differentiable = true,
      // y = (x - max) - log(sum(exp(x - max)))
      .decompose =
          [](std::span<const Tensor> in, const Attrs& a) {
            if (in[0].numel() == 0) return std::vector<Tensor>{copy(in[0])};
            const auto axes = softmax_axes(in[0], attrs_as<AxisAttrs>(a).axis);
            Tensor z = shifted(in[0], axes);
            return std::vector<Tensor>{sub(z, log(sum(exp(z), axes, true)))};
          },
      .doc = "x - log(sum(exp(x))) along an axis (max subtracted for stability)",
  });
}

}  // namespace ops::composite
}  // namespace plumb
