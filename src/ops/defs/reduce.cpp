// Reductions: sum, mean, max over a set of axes (keepdim), argmax over one axis; sum_to for broadcast grads.
#include <algorithm>
#include <string>

#include "ops/op_def.h"

namespace plumb::ops {
namespace {

enum class ReduceKind {
  sum,   // every dtype; integer and bool inputs sum to i64 (as NumPy)
  mean,  // floating only
  max,   // every dtype; no identity, so an empty reduced extent is an error
};

// Which input axes `axes` reduces (empty: all); validates range and duplicates.
std::vector<bool> reduced_mask(const std::string& op, const Shape& shape, const std::vector<int64_t>& axes) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<bool> mask(shape.size(), axes.empty());
  for (int64_t axis : axes) {
    const int64_t a = normalize_axis(axis, rank, op);
    if (mask[a]) fail(op, ": axis ", a, " appears twice in axes ", attr_value_str(AttrValue(axes)));
    mask[a] = true;
  }
  return mask;
}

Shape reduced_shape(const Shape& shape, const std::vector<bool>& mask, bool keepdim) {
  Shape out;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!mask[d]) out.push_back(shape[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

void check_nonempty_extent(const std::string& op, const Shape& shape, const std::vector<bool>& mask) {
  for (size_t d = 0; d < shape.size(); ++d)
    if (mask[d] && shape[d] == 0) fail(op, ": cannot reduce over axis ", d, " of size 0 (no identity)");
}

std::vector<TensorSpec> reduce_infer(const std::string& op, ReduceKind kind, std::span<const TensorSpec> in,
                                     const Attrs& attrs) {
  const auto& a = attrs_as<ReduceAttrs>(attrs);
  const TensorSpec& x = in[0];
  if (kind == ReduceKind::mean && !is_floating(x.dtype))
    fail(op, ": input must be floating (f64, f32, f16, bf16), got ", dtype_name(x.dtype));
  const std::vector<bool> mask = reduced_mask(op, x.shape, a.axes);
  if (kind == ReduceKind::max) check_nonempty_extent(op, x.shape, mask);
  DType out = x.dtype;
  if (kind == ReduceKind::sum && !is_floating(x.dtype)) out = DType::i64;
  return {{reduced_shape(x.shape, mask, a.keepdim), out, x.device}};
}

// The output shape with reduced axes kept as size 1: what a gradient broadcasts from.
Shape keepdim_shape(const Tensor& x, const std::vector<int64_t>& axes) {
  return reduced_shape(x.shape(), reduced_mask("reduce", x.shape(), axes), true);
}

Tensor reshape_to(const Tensor& t, const Shape& shape) { return t.shape() == shape ? t : reshape(t, shape); }

// sum/max/argmax: one combine per input element beyond the first of each output (never negative).
Cost combine_cost(std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs&) {
  return io_bytes(in, out, std::max(0.0, elems_of(in[0]) - elems_of(out[0])));
}

void register_reduce(const std::string& name, ReduceKind kind, VjpFn vjp, std::string doc) {
  OpDef def;
  def.name = name;
  def.op_class = OpClass::reduction;
  def.min_inputs = def.max_inputs = 1;
  def.make_attrs = attrs_factory<ReduceAttrs>();
  def.infer = [name, kind](std::span<const TensorSpec> in, const Attrs& attrs) {
    return reduce_infer(name, kind, in, attrs);
  };
  if (kind == ReduceKind::mean) {
    def.cost = [](std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs&) {
      return io_bytes(in, out, elems_of(in[0]));  // the adds plus one divide per output
    };
  } else {
    def.cost = combine_cost;
  }
  def.vjp = std::move(vjp);
  def.differentiable = true;
  def.doc = std::move(doc);
  register_op(std::move(def));
}

}  // namespace

void register_reduce_ops() {
  register_reduce(
      "sum", ReduceKind::sum,
      [](const VjpArgs& a) -> std::vector<Tensor> {
        if (!a.needs_grad[0]) return {Tensor()};
        const Tensor& x = a.inputs[0];
        const Shape kd = keepdim_shape(x, attrs_as<ReduceAttrs>(a.attrs).axes);
        return {expand(reshape_to(a.grad_outputs[0], kd), x.shape())};
      },
      "sum over axes (integers sum to i64)");
  register_reduce(
      "mean", ReduceKind::mean,
      [](const VjpArgs& a) -> std::vector<Tensor> {
        if (!a.needs_grad[0]) return {Tensor()};
        const Tensor& x = a.inputs[0];
        const Shape kd = keepdim_shape(x, attrs_as<ReduceAttrs>(a.attrs).axes);
        int64_t count = 1;  // elements per output
        for (size_t d = 0; d < kd.size(); ++d)
          if (kd[d] != x.shape()[d] || kd[d] == 1) count *= x.shape()[d];
        const double scale = count > 0 ? 1.0 / static_cast<double>(count) : 0.0;
        return {expand(reshape_to(mul(a.grad_outputs[0], scale), kd), x.shape())};
      },
      "mean over axes");
  register_reduce(
      "max", ReduceKind::max,
      [](const VjpArgs& a) -> std::vector<Tensor> {
        if (!a.needs_grad[0]) return {Tensor()};
        const Tensor& x = a.inputs[0];
        const auto& attrs = attrs_as<ReduceAttrs>(a.attrs);
        const Shape kd = keepdim_shape(x, attrs.axes);
        // Tied maxima share the gradient evenly.
        const Tensor hit = cast(eq(x, reshape_to(a.outputs[0], kd)), x.dtype());
        const Tensor count = sum(hit, attrs.axes, true);
        return {mul(hit, div(reshape_to(a.grad_outputs[0], kd), count))};
      },
      "max over axes (NaN propagates)");

  OpDef def;
  def.name = "argmax";
  def.op_class = OpClass::reduction;
  def.min_inputs = def.max_inputs = 1;
  def.make_attrs = attrs_factory<ArgReduceAttrs>();
  def.infer = [](std::span<const TensorSpec> in, const Attrs& attrs) {
    const auto& a = attrs_as<ArgReduceAttrs>(attrs);
    const TensorSpec& x = in[0];
    const int64_t axis = normalize_axis(a.axis, static_cast<int64_t>(x.shape.size()), "argmax");
    std::vector<bool> mask(x.shape.size(), false);
    mask[axis] = true;
    check_nonempty_extent("argmax", x.shape, mask);
    return std::vector<TensorSpec>{{reduced_shape(x.shape, mask, a.keepdim), DType::i64, x.device}};
  };
  def.cost = combine_cost;
  def.differentiable = false;  // an index, piecewise constant in x
  def.doc = "index of the first maximum along an axis, i64";
  register_op(std::move(def));
}

}  // namespace plumb::ops

namespace plumb {

namespace {
ReduceAttrs reduce_attrs(std::vector<int64_t> axes, bool keepdim) {
  ReduceAttrs a;
  a.axes = std::move(axes);
  a.keepdim = keepdim;
  return a;
}
}  // namespace

Tensor sum(const Tensor& x, std::vector<int64_t> axes, bool keepdim) {
  return ops::call(PLUMB_OP("sum"), {x}, reduce_attrs(std::move(axes), keepdim));
}

Tensor mean(const Tensor& x, std::vector<int64_t> axes, bool keepdim) {
  return ops::call(PLUMB_OP("mean"), {x}, reduce_attrs(std::move(axes), keepdim));
}

Tensor max(const Tensor& x, std::vector<int64_t> axes, bool keepdim) {
  return ops::call(PLUMB_OP("max"), {x}, reduce_attrs(std::move(axes), keepdim));
}

Tensor argmax(const Tensor& x, int64_t axis, bool keepdim) {
  ArgReduceAttrs a;
  a.axis = axis;
  a.keepdim = keepdim;
  return ops::call(PLUMB_OP("argmax"), {x}, a);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  const Shape& xs = x.shape();
  if (xs == shape) return x;
  if (shape.size() > xs.size())
    fail("sum_to: cannot sum ", shape_str(xs), " to ", shape_str(shape), ", which has more axes");
  const size_t lead = xs.size() - shape.size();
  std::vector<int64_t> axes;
  for (size_t i = 0; i < lead; ++i) axes.push_back(static_cast<int64_t>(i));
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == xs[lead + i]) continue;
    if (shape[i] != 1) fail("sum_to: shape ", shape_str(shape), " does not broadcast to ", shape_str(xs));
    axes.push_back(static_cast<int64_t>(lead + i));
  }
  // Empty axes would mean "all" to sum; here it means the shapes differ only by size-1 axes.
  const Tensor s = axes.empty() ? x : sum(x, axes, false);
  return s.shape() == shape ? s : reshape(s, shape);
}

}  // namespace plumb
