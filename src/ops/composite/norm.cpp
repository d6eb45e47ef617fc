// Normalizations: layer_norm, batch_norm (+ batch_norm_backward, its vjp), local_response_norm.
#include <cmath>

#include "ops/composite/composite.h"

namespace plumb {

namespace {

// ---- layer_norm ----
// Inputs: x, or (x, weight), or (x, weight, bias); weight and bias have the normalized dims' shape.
// The front-end passes an all-ones weight when only a bias is given.
std::vector<TensorSpec> infer_layer_norm(std::span<const TensorSpec> in, const Attrs& attrs) {
  const auto& a = ops::attrs_as<LayerNormAttrs>(attrs);
  const TensorSpec& x = in[0];
  ops::check_float("layer_norm", x, "input");
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (a.normalized_dims < 1 || a.normalized_dims > rank)
    fail("layer_norm: normalized_dims=", a.normalized_dims, " must be in [1, ", rank, "] for input ",
         shape_str(x.shape));
  if (!(a.eps >= 0)) fail("layer_norm: eps must be >= 0, got ", a.eps);
  const Shape normalized(x.shape.end() - a.normalized_dims, x.shape.end());
  if (numel(normalized) == 0) fail("layer_norm: normalized shape ", shape_str(normalized), " has no elements");
  const char* names[] = {"input", "weight", "bias"};
  for (size_t i = 1; i < in.size(); ++i) {
    ops::composite::check_float_like("layer_norm", in[i], x.dtype, names[i]);
    if (in[i].shape != normalized)
      fail("layer_norm: ", names[i], " shape ", shape_str(in[i].shape), " does not match normalized shape ",
           shape_str(normalized), " of input ", shape_str(x.shape));
  }
  return {x};
}

std::vector<int64_t> trailing_axes(int64_t rank, int64_t count) {
  std::vector<int64_t> axes;
  for (int64_t d = rank - count; d < rank; ++d) axes.push_back(d);
  return axes;
}

// ---- batch_norm ----
// Checks in[xi] is a floating (N, C, *) tensor and every other input has its dtype; returns C.
int64_t check_per_channel(std::string_view op, std::span<const TensorSpec> in, size_t xi, const char* const* names) {
  const TensorSpec& x = in[xi];
  ops::check_float(op, x, "input");
  if (x.shape.size() < 2) fail(op, ": input must be (N, C, *), got ", shape_str(x.shape));
  for (size_t i = 0; i < in.size(); ++i)
    if (i != xi) ops::composite::check_float_like(op, in[i], x.dtype, names[i]);
  return x.shape[1];
}

// Reduction axes of a per-channel statistic: N and every spatial dim.
std::vector<int64_t> channel_stat_axes(int64_t rank) {
  std::vector<int64_t> axes{0};
  for (int64_t d = 2; d < rank; ++d) axes.push_back(d);
  return axes;
}

// A (C) tensor reshaped to broadcast against (N, C, *): (1, C, 1, ...).
Tensor per_channel(const Tensor& t, int64_t rank) {
  Shape s(static_cast<size_t>(rank), 1);
  s[1] = t.size(0);
  return reshape(t, s);
}

void check_channel_shape(std::string_view op, const TensorSpec& s, int64_t c, const char* name,
                         const TensorSpec& x) {
  if (s.shape != Shape{c})
    fail(op, ": ", name, " must be ", shape_str(Shape{c}), " for input ", shape_str(x.shape), ", got ",
         shape_str(s.shape));
}

// Inputs (x, weight, bias, running_mean, running_var); outputs (y, mean, var), all stats (C).
std::vector<TensorSpec> infer_batch_norm(std::span<const TensorSpec> in, const Attrs& attrs) {
  const auto& a = ops::attrs_as<BatchNormAttrs>(attrs);
  static const char* const names[] = {"input", "weight", "bias", "running_mean", "running_var"};
  const int64_t c = check_per_channel("batch_norm", in, 0, names);
  for (size_t i = 1; i < 5; ++i) check_channel_shape("batch_norm", in[i], c, names[i], in[0]);
  if (!(a.eps >= 0)) fail("batch_norm: eps must be >= 0, got ", a.eps);
  if (a.training && c > 0 && numel(in[0].shape) == 0)
    fail("batch_norm: training needs at least one value per channel, input is ", shape_str(in[0].shape));
  const TensorSpec stat{{c}, in[0].dtype, in[0].device};
  return {in[0], stat, stat};
}

// Inputs (grad_y, x, weight, mean, var); outputs (grad_x, grad_weight, grad_bias).
std::vector<TensorSpec> infer_batch_norm_backward(std::span<const TensorSpec> in, const Attrs& attrs) {
  const auto& a = ops::attrs_as<BatchNormAttrs>(attrs);
  static const char* const names[] = {"grad_y", "input", "weight", "mean", "var"};
  const int64_t c = check_per_channel("batch_norm_backward", in, 1, names);
  const TensorSpec& x = in[1];
  if (in[0].shape != x.shape)
    fail("batch_norm_backward: grad_y shape ", shape_str(in[0].shape), " does not match input ", shape_str(x.shape));
  for (size_t i = 2; i < 5; ++i) check_channel_shape("batch_norm_backward", in[i], c, names[i], x);
  if (!(a.eps >= 0)) fail("batch_norm_backward: eps must be >= 0, got ", a.eps);
  if (a.training && c > 0 && numel(x.shape) == 0)
    fail("batch_norm_backward: training needs at least one value per channel, input is ", shape_str(x.shape));
  const TensorSpec stat{{c}, x.dtype, x.device};
  return {x, stat, stat};
}

// The batch statistics are returned detached: they are non-differentiable outputs (the vjp of the
// fused path ignores their gradients too), and in eval mode the running stats get no gradient.
std::vector<Tensor> batch_norm_decompose(std::span<const Tensor> in, const Attrs& attrs) {
  const auto& a = ops::attrs_as<BatchNormAttrs>(attrs);
  const Tensor& x = in[0];
  const int64_t rank = x.dim();
  if (a.training) {
    const auto axes = channel_stat_axes(rank);
    Tensor m = mean(x, axes);
    Tensor d = sub(x, per_channel(m, rank));
    Tensor v = mean(mul(d, d), axes);
    Tensor scale = mul(in[1], rsqrt(add(v, a.eps)));  // (C): weight / sqrt(var + eps)
    Tensor y = add(mul(d, per_channel(scale, rank)), per_channel(in[2], rank));
    return {y, m.detach(), v.detach()};
  }
  // eval: y = x * scale + (bias - running_mean * scale), folded per channel.
  Tensor rm = in[3].detach(), rv = in[4].detach();
  Tensor scale = mul(in[1], rsqrt(add(rv, a.eps)));
  Tensor shift = sub(in[2], mul(rm, scale));
  Tensor y = add(mul(x, per_channel(scale, rank)), per_channel(shift, rank));
  return {y, rm, rv};
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t normalized_dims, double eps) {
  LayerNormAttrs a;
  a.normalized_dims = normalized_dims;
  a.eps = eps;
  if (!weight.defined() && !bias.defined()) return ops::call(PLUMB_OP("layer_norm"), {x}, a);
  if (!bias.defined()) return ops::call(PLUMB_OP("layer_norm"), {x, weight}, a);
  // Bias without weight: the weight is ones of the bias's shape (infer checks that shape).
  const Tensor w = weight.defined() ? weight : ops::ones_like(bias);
  return ops::call(PLUMB_OP("layer_norm"), {x, w, bias}, a);
}

BatchNormResult batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                           const Tensor& running_var, bool training, double eps) {
  BatchNormAttrs a;
  a.training = training;
  a.eps = eps;
  if (!x.defined()) fail("batch_norm: input is undefined");
  if (x.dim() < 2) fail("batch_norm: input must be (N, C, *), got ", shape_str(x.shape()));
  if (!training && (!running_mean.defined() || !running_var.defined()))
    fail("batch_norm: eval mode needs running_mean and running_var");
  // Missing affine parameters are the identity; running stats are unused in training mode.
  const int64_t c = x.size(1);
  auto or_fill = [&](const Tensor& t, double v) { return t.defined() ? t : Tensor::full({c}, v, x.dtype(), x.device()); };
  std::vector<Tensor> in{x, or_fill(weight, 1), or_fill(bias, 0), or_fill(running_mean, 0), or_fill(running_var, 1)};
  std::vector<Tensor> out = dispatch(PLUMB_OP("batch_norm"), in, a);
  return {out[0], out[1], out[2]};
}

Tensor local_response_norm(const Tensor& x, int64_t size, double alpha, double beta, double k) {
  LrnAttrs a;
  a.size = size;
  a.alpha = alpha;
  a.beta = beta;
  a.k = k;
  return ops::call(PLUMB_OP("local_response_norm"), {x}, a);
}

namespace ops::composite {

void register_norm_ops() {
  register_op(OpDef{
      .name = "layer_norm",
      .op_class = OpClass::elementwise,
      .min_inputs = 1,
      .max_inputs = 3,
      .make_attrs = attrs_factory<LayerNormAttrs>(),
      .infer = infer_layer_norm,
      .differentiable = true,
      // (x - mean) / sqrt(var + eps) * weight + bias over the trailing dims; var is biased.
      .decompose =
          [](std::span<const Tensor> in, const Attrs& attrs) {
            const auto& a = attrs_as<LayerNormAttrs>(attrs);
            const Tensor& x = in[0];
            const auto axes = trailing_axes(x.dim(), a.normalized_dims);
            Tensor d = sub(x, mean(x, axes, true));
            Tensor y = mul(d, rsqrt(add(mean(mul(d, d), axes, true), a.eps)));
            if (in.size() >= 2) y = mul(y, in[1]);
            if (in.size() == 3) y = add(y, in[2]);
            return std::vector<Tensor>{y};
          },
      .doc = "normalize the trailing dims to zero mean and unit variance, then scale and shift",
  });

  register_op(OpDef{
      .name = "batch_norm",
      .op_class = OpClass::elementwise,
      .min_inputs = 5,
      .max_inputs = 5,
      .make_attrs = attrs_factory<BatchNormAttrs>(),
      .infer = infer_batch_norm,
      // For a fused kernel under grad. Gradients of the outputs mean/var are ignored (non-differentiable
      // batch statistics); running stats get none.
      .vjp =
          [](const VjpArgs& v) {
            std::vector<Tensor> grads(5);
            if (!v.needs_grad[0] && !v.needs_grad[1] && !v.needs_grad[2]) return grads;
            std::vector<Tensor> bw_in{v.grad_outputs[0], v.inputs[0], v.inputs[1], v.outputs[1], v.outputs[2]};
            std::vector<Tensor> g = dispatch(PLUMB_OP("batch_norm_backward"), bw_in, v.attrs);
            for (size_t i = 0; i < 3; ++i)
              if (v.needs_grad[i]) grads[i] = g[i];
            return grads;
          },
      .differentiable = true,
      .decompose = batch_norm_decompose,
      .doc = "per-channel normalization of (N, C, *) by batch (training) or running (eval) statistics",
  });

  register_op(OpDef{
      .name = "batch_norm_backward",
      .op_class = OpClass::elementwise,
      .min_inputs = 5,
      .max_inputs = 5,
      .make_attrs = attrs_factory<BatchNormAttrs>(),
      .infer = infer_batch_norm_backward,
      .differentiable = true,
      // xhat = (x - mean) * invstd; grad_bias = sum(gy); grad_weight = sum(gy * xhat);
      // training: grad_x = weight * invstd * (gy - mean(gy) - xhat * mean(gy * xhat)); eval: gy * weight * invstd.
      .decompose =
          [](std::span<const Tensor> in, const Attrs& attrs) {
            const auto& a = attrs_as<BatchNormAttrs>(attrs);
            const Tensor& gy = in[0];
            const Tensor& x = in[1];
            const int64_t rank = x.dim();
            const auto axes = channel_stat_axes(rank);
            Tensor invstd = rsqrt(add(in[4], a.eps));  // (C)
            Tensor xhat = mul(sub(x, per_channel(in[3], rank)), per_channel(invstd, rank));
            Tensor grad_bias = sum(gy, axes);
            Tensor grad_weight = sum(mul(gy, xhat), axes);
            Tensor scale = per_channel(mul(in[2], invstd), rank);
            Tensor grad_x;
            if (a.training) {
              const double count = static_cast<double>(x.numel() / std::max<int64_t>(x.size(1), 1));
              Tensor mean_gy = per_channel(div(grad_bias, count), rank);
              Tensor mean_gy_xhat = per_channel(div(grad_weight, count), rank);
              grad_x = mul(sub(sub(gy, mean_gy), mul(xhat, mean_gy_xhat)), scale);
            } else {
              grad_x = mul(gy, scale);
            }
            return std::vector<Tensor>{grad_x, grad_weight, grad_bias};
          },
      .doc = "gradients of batch_norm: (grad_x, grad_weight, grad_bias)",
  });

  register_op(OpDef{
      .name = "local_response_norm",
      .op_class = OpClass::elementwise,
      .min_inputs = 1,
      .max_inputs = 1,
      .make_attrs = attrs_factory<LrnAttrs>(),
      .infer =
          [](std::span<const TensorSpec> in, const Attrs& attrs) {
            const auto& a = attrs_as<LrnAttrs>(attrs);
            check_float("local_response_norm", in[0], "input");
            if (in[0].shape.size() < 2)
              fail("local_response_norm: input must be (N, C, *), got ", shape_str(in[0].shape));
            if (a.size < 1) fail("local_response_norm: size must be >= 1, got ", a.size);
            return std::vector<TensorSpec>{in[0]};
          },
      .differentiable = true,
      // b_c = x_c / (k + alpha/size * sum_{window} x^2)^beta; the window sum is an average pool over the
      // channel axis of (N, 1, C, S), zero padded size/2 before and (size-1)/2 after.
      .decompose =
          [](std::span<const Tensor> in, const Attrs& attrs) {
            const auto& a = attrs_as<LrnAttrs>(attrs);
            const Tensor& x = in[0];
            if (x.numel() == 0) return std::vector<Tensor>{copy(x)};  // pooling needs non-empty extents
            const int64_t n = x.size(0), c = x.size(1);
            const int64_t s = numel(std::span<const int64_t>(x.shape()).subspan(2));
            const int64_t before = a.size / 2, after = (a.size - 1) / 2;
            Tensor sq = reshape(mul(x, x), {n, 1, c, s});
            Tensor avg;
            if (before == after) {  // odd size: the pool's own zero padding (counted) is the window
              avg = avg_pool(sq, {a.size, 1}, {1, 1}, {before, 0}, false, true);
            } else {
              Tensor padded = pad(sq, {0, 0, before, 0, 0, 0, after, 0});
              avg = avg_pool(padded, {a.size, 1}, {1, 1}, {0, 0}, false, true);
            }
            Tensor denom = pow(add(mul(avg, a.alpha), a.k), a.beta);
            return std::vector<Tensor>{div(x, reshape(denom, x.shape()))};
          },
      .doc = "AlexNet's local response normalization across channels",
  });
}

}  // namespace ops::composite
}  // namespace plumb
