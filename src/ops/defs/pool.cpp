// Pooling: max_pool, avg_pool and their backward ops; 1-D/2-D/3-D from the kernel length.
// Output size follows PyTorch: floor_or_ceil((S + 2p - k) / s) + 1, and with ceil_mode the last
// window must start inside the input or the left padding.
#include <cmath>
#include <limits>
#include <string_view>

#include "ops/op_def.h"

namespace plumb::ops {

namespace {

// Kernel, stride and padding with the defaults filled in (empty stride = kernel, empty padding = 0).
struct PoolWindow {
  Shape kernel, stride, padding;
};

PoolWindow pool_window(std::string_view op, const Shape& kernel, const Shape& stride, const Shape& padding) {
  const size_t nd = kernel.size();
  if (nd < 1 || nd > 3) fail(op, ": kernel must have 1 to 3 spatial dims, got ", nd, " (kernel ", shape_str(kernel), ")");
  if (!stride.empty() && stride.size() != nd)
    fail(op, ": stride ", shape_str(stride), " has ", stride.size(), " dims but the kernel ", shape_str(kernel), " has ",
         nd);
  if (!padding.empty() && padding.size() != nd)
    fail(op, ": padding ", shape_str(padding), " has ", padding.size(), " dims but the kernel ", shape_str(kernel),
         " has ", nd);
  PoolWindow w{kernel, stride.empty() ? kernel : stride, padding.empty() ? Shape(nd, 0) : padding};
  for (size_t d = 0; d < nd; ++d) {
    if (w.kernel[d] < 1) fail(op, ": kernel ", shape_str(kernel), " must be positive in spatial dim ", d);
    if (w.stride[d] < 1) fail(op, ": stride ", shape_str(w.stride), " must be positive in spatial dim ", d);
    if (w.padding[d] < 0) fail(op, ": padding ", shape_str(w.padding), " must be non-negative in spatial dim ", d);
    if (w.padding[d] > w.kernel[d] / 2)
      fail(op, ": padding ", w.padding[d], " exceeds half the kernel ", w.kernel[d], " in spatial dim ", d);
  }
  return w;
}

// Validates x's shape against the window and returns the pooled shape (N, C, *S_out).
Shape pooled_shape(std::string_view op, const Shape& x, const PoolWindow& w, bool ceil_mode, std::string_view what) {
  const size_t nd = w.kernel.size();
  if (x.size() != nd + 2)
    fail(op, ": a ", nd, "-d kernel needs a rank-", nd + 2, " ", what, " (N, C, *spatial), got ", shape_str(x));
  Shape out = {x[0], x[1]};
  for (size_t d = 0; d < nd; ++d) {
    const int64_t s = x[2 + d], k = w.kernel[d], st = w.stride[d], p = w.padding[d];
    if (s < 1) fail(op, ": ", what, " ", shape_str(x), " has an empty spatial dim ", d);
    if (s + 2 * p < k)
      fail(op, ": kernel ", k, " is larger than the padded ", what, " (", s, " + 2*", p, " = ", s + 2 * p,
           ") in spatial dim ", d);
    int64_t o = (s + 2 * p - k + (ceil_mode ? st - 1 : 0)) / st + 1;
    if (ceil_mode && (o - 1) * st >= s + p) --o;  // the last window must start inside the input or left padding
    out.push_back(o);
  }
  return out;
}

int64_t kernel_volume(const Shape& kernel) { return numel(kernel); }

// Pooling fwd and bwd: (pooled elements) * prod(kernel), every tap counted, padding included.
Cost pool_cost(std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Shape& pooled,
               const Shape& kernel) {
  return io_bytes(in, out, static_cast<double>(numel(pooled)) * static_cast<double>(kernel_volume(kernel)));
}

std::vector<TensorSpec> infer_pool(std::string_view op, std::span<const TensorSpec> in, const Attrs& attrs) {
  const auto& a = attrs_as<PoolAttrs>(attrs);
  check_float(op, in[0], "input");
  const PoolWindow w = pool_window(op, a.kernel, a.stride, a.padding);
  return {{pooled_shape(op, in[0].shape, w, a.ceil_mode, "input"), in[0].dtype, in[0].device}};
}

Cost cost_pool(std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs& attrs) {
  return pool_cost(in, out, out[0].shape, attrs_as<PoolAttrs>(attrs).kernel);
}

// max_pool_backward(x, grad_y) -> grad_x (x's shape).
std::vector<TensorSpec> infer_max_pool_backward(std::span<const TensorSpec> in, const Attrs& attrs) {
  constexpr std::string_view op = "max_pool_backward";
  const auto& a = attrs_as<PoolAttrs>(attrs);
  check_same_device(op, in);
  check_float(op, in[0], "input");
  check_same_dtype(op, in[0], in[1]);
  const PoolWindow w = pool_window(op, a.kernel, a.stride, a.padding);
  const Shape pooled = pooled_shape(op, in[0].shape, w, a.ceil_mode, "input");
  if (in[1].shape != pooled)
    fail(op, ": grad_y has shape ", shape_str(in[1].shape), " but pooling input ", shape_str(in[0].shape),
         " gives ", shape_str(pooled));
  return {in[0]};
}

// avg_pool_backward(grad_y) -> grad_x of shape attrs.input_shape.
std::vector<TensorSpec> infer_avg_pool_backward(std::span<const TensorSpec> in, const Attrs& attrs) {
  constexpr std::string_view op = "avg_pool_backward";
  const auto& a = attrs_as<PoolBackwardAttrs>(attrs);
  check_float(op, in[0], "grad_y");
  for (int64_t d : a.input_shape)
    if (d < 0) fail(op, ": input_shape ", shape_str(a.input_shape), " has a negative dim");
  const PoolWindow w = pool_window(op, a.kernel, a.stride, a.padding);
  const Shape pooled = pooled_shape(op, a.input_shape, w, a.ceil_mode, "input_shape");
  if (in[0].shape != pooled)
    fail(op, ": grad_y has shape ", shape_str(in[0].shape), " but pooling input ", shape_str(a.input_shape),
         " gives ", shape_str(pooled));
  return {{a.input_shape, in[0].dtype, in[0].device}};
}

// Windows of `t` (N, C, *S) stacked on a new last axis: (N, C, *S_out, prod(kernel)), taps in window order
// (row-major over kernel offsets). Padding taps hold `pad_value`; the right side is padded as ceil_mode needs.
Tensor stack_windows(const Tensor& t, const PoolWindow& w, const Shape& pooled, double pad_value) {
  const size_t nd = w.kernel.size(), rank = nd + 2;
  std::vector<int64_t> pads(2 * rank, 0);
  for (size_t d = 0; d < nd; ++d) {
    const int64_t s = t.shape()[2 + d];
    pads[2 + d] = w.padding[d];
    pads[rank + 2 + d] = std::max<int64_t>(0, (pooled[2 + d] - 1) * w.stride[d] + w.kernel[d] - s - w.padding[d]);
  }
  const Tensor padded = pad(t, pads, pad_value);
  const int64_t taps = kernel_volume(w.kernel);
  std::vector<Tensor> views;
  views.reserve(taps);
  for (int64_t tap = 0; tap < taps; ++tap) {
    Tensor v = padded;
    int64_t rem = tap;
    for (size_t d = nd; d-- > 0;) {
      const int64_t off = rem % w.kernel[d];
      rem /= w.kernel[d];
      v = slice(v, static_cast<int64_t>(2 + d), off, off + (pooled[2 + d] - 1) * w.stride[d] + 1, w.stride[d]);
    }
    views.push_back(unsqueeze(v, static_cast<int64_t>(rank)));
  }
  return concat(views, static_cast<int64_t>(rank));
}

std::vector<Tensor> vjp_max_pool(const VjpArgs& v) {
  const auto& a = attrs_as<PoolAttrs>(v.attrs);
  return {max_pool_backward(v.inputs[0], v.grad_outputs[0], a.kernel, a.stride, a.padding, a.ceil_mode)};
}

std::vector<Tensor> vjp_avg_pool(const VjpArgs& v) {
  const auto& a = attrs_as<PoolAttrs>(v.attrs);
  return {avg_pool_backward(v.grad_outputs[0], v.inputs[0].shape(), a.kernel, a.stride, a.padding, a.ceil_mode,
                            a.count_include_pad)};
}

// max_pool_backward scatters grad_y to each window's argmax: linear in grad_y, so its adjoint gathers the
// incoming gradient at the argmax positions; w.r.t. x it is piecewise constant (zero almost everywhere).
std::vector<Tensor> vjp_max_pool_backward(const VjpArgs& v) {
  const auto& a = attrs_as<PoolAttrs>(v.attrs);
  const Tensor& x = v.inputs[0];
  const Tensor& h = v.grad_outputs[0];  // x-shaped
  std::vector<Tensor> grads(2);
  if (v.needs_grad[0]) grads[0] = zeros_like(x);
  if (v.needs_grad[1]) {
    const PoolWindow w = pool_window("max_pool_backward", a.kernel, a.stride, a.padding);
    const Shape pooled = v.inputs[1].shape();
    const int64_t last = static_cast<int64_t>(x.dim());
    // argmax over each window (first max in window order, as the kernels), then the same taps of h.
    const Tensor idx = argmax(stack_windows(x, w, pooled, -std::numeric_limits<double>::infinity()), last, true);
    grads[1] = squeeze(gather(stack_windows(h, w, pooled, 0.0), last, idx), last);
  }
  return grads;
}

// avg_pool_backward is linear in grad_y; its adjoint is avg_pool with the same window and divisors.
std::vector<Tensor> vjp_avg_pool_backward(const VjpArgs& v) {
  const auto& a = attrs_as<PoolBackwardAttrs>(v.attrs);
  return {avg_pool(v.grad_outputs[0], a.kernel, a.stride, a.padding, a.ceil_mode, a.count_include_pad)};
}

// Front ends store explicit stride and padding so traces and exports see the effective window.
PoolAttrs make_pool_attrs(Shape kernel, Shape stride, Shape padding, bool ceil_mode, bool count_include_pad) {
  PoolAttrs a;
  if (stride.empty()) stride = kernel;
  if (padding.empty()) padding = Shape(kernel.size(), 0);
  a.kernel = std::move(kernel);
  a.stride = std::move(stride);
  a.padding = std::move(padding);
  a.ceil_mode = ceil_mode;
  a.count_include_pad = count_include_pad;
  return a;
}

}  // namespace

void register_pool_ops() {
  register_op(OpDef{
      .name = "max_pool",
      .op_class = OpClass::reduction,
      .min_inputs = 1,
      .max_inputs = 1,
      .make_attrs = attrs_factory<PoolAttrs>(),
      .infer = [](std::span<const TensorSpec> in, const Attrs& a) { return infer_pool("max_pool", in, a); },
      .cost = cost_pool,
      .vjp = vjp_max_pool,
      .differentiable = true,
      .decompose = {},
      .view = {},
      .doc = "max pooling over 1-3 spatial dims; x (N, C, *S) -> (N, C, *S_out); padding counts as -inf",
  });
  register_op(OpDef{
      .name = "avg_pool",
      .op_class = OpClass::reduction,
      .min_inputs = 1,
      .max_inputs = 1,
      .make_attrs = attrs_factory<PoolAttrs>(),
      .infer = [](std::span<const TensorSpec> in, const Attrs& a) { return infer_pool("avg_pool", in, a); },
      .cost = cost_pool,
      .vjp = vjp_avg_pool,
      .differentiable = true,
      .decompose = {},
      .view = {},
      .doc = "average pooling over 1-3 spatial dims; count_include_pad picks the divisor (PyTorch rules)",
  });
  register_op(OpDef{
      .name = "max_pool_backward",
      .op_class = OpClass::reduction,
      .min_inputs = 2,
      .max_inputs = 2,
      .make_attrs = attrs_factory<PoolAttrs>(),
      .infer = infer_max_pool_backward,
      .cost =
          [](std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs& a) {
            return pool_cost(in, out, in[1].shape, attrs_as<PoolAttrs>(a).kernel);
          },
      .vjp = vjp_max_pool_backward,
      .differentiable = true,
      .decompose = {},
      .view = {},
      .doc = "gradient of max_pool: (x, grad_y) -> grad_x; each window's first max gets the gradient",
  });
  register_op(OpDef{
      .name = "avg_pool_backward",
      .op_class = OpClass::reduction,
      .min_inputs = 1,
      .max_inputs = 1,
      .make_attrs = attrs_factory<PoolBackwardAttrs>(),
      .infer = infer_avg_pool_backward,
      .cost =
          [](std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs& a) {
            return pool_cost(in, out, in[0].shape, attrs_as<PoolBackwardAttrs>(a).kernel);
          },
      .vjp = vjp_avg_pool_backward,
      .differentiable = true,
      .decompose = {},
      .view = {},
      .doc = "gradient of avg_pool: grad_y -> grad_x of shape input_shape",
  });
}

}  // namespace plumb::ops

namespace plumb {

Tensor max_pool(const Tensor& x, Shape kernel, Shape stride, Shape padding, bool ceil_mode) {
  return ops::call(PLUMB_OP("max_pool"), {x},
                   ops::make_pool_attrs(std::move(kernel), std::move(stride), std::move(padding), ceil_mode, true));
}

Tensor avg_pool(const Tensor& x, Shape kernel, Shape stride, Shape padding, bool ceil_mode, bool count_include_pad) {
  return ops::call(PLUMB_OP("avg_pool"), {x},
                   ops::make_pool_attrs(std::move(kernel), std::move(stride), std::move(padding), ceil_mode,
                                        count_include_pad));
}

Tensor max_pool_backward(const Tensor& x, const Tensor& grad_y, Shape kernel, Shape stride, Shape padding,
                         bool ceil_mode) {
  return ops::call(PLUMB_OP("max_pool_backward"), {x, grad_y},
                   ops::make_pool_attrs(std::move(kernel), std::move(stride), std::move(padding), ceil_mode, true));
}

Tensor avg_pool_backward(const Tensor& grad_y, const Shape& input_shape, Shape kernel, Shape stride, Shape padding,
                         bool ceil_mode, bool count_include_pad) {
  const PoolAttrs p =
      ops::make_pool_attrs(std::move(kernel), std::move(stride), std::move(padding), ceil_mode, count_include_pad);
  PoolBackwardAttrs a;
  a.kernel = p.kernel;
  a.stride = p.stride;
  a.padding = p.padding;
  a.ceil_mode = ceil_mode;
  a.count_include_pad = count_include_pad;
  a.input_shape = input_shape;
  return ops::call(PLUMB_OP("avg_pool_backward"), {grad_y}, a);
}

}  // namespace plumb
