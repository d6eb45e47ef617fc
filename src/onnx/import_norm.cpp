// ONNX import converters: normalization (BatchNormalization in inference, InstanceNormalization,
// LayerNormalization, LRN, MeanVarianceNormalization) and the softmax family (Softmax, LogSoftmax,
// Hardmax), with the 2-D coercion that opsets before 13 define.
#include "onnx/import.h"
#include "plumb/ops.h"

namespace plumb::onnx_io {

namespace {

using Outs = std::vector<Tensor>;

Tensor per_channel(const Tensor& t, int64_t rank) {
  Shape s(static_cast<size_t>(rank), 1);
  s[1] = t.numel();
  return reshape(t, s);
}

void require_float(const NodeCtx& c, const TensorSpec& s) {
  if (!is_floating(s.dtype)) c.fail("input must be floating, got ", dtype_name(s.dtype));
}

void require_channels(const NodeCtx& c, size_t i, const char* what, int64_t channels) {
  const TensorSpec s = c.spec(i);
  if (s.shape != Shape{channels}) c.fail(what, " has shape ", shape_str(s.shape), ", expected (", channels, ")");
}

// Inference uses the running statistics. training_mode=1 (opset 14) normalizes by the batch's own
// statistics and also returns the running ones updated with momentum: deterministic, so supported.
Outs convert_batch_norm(NodeCtx& c) {
  const bool training = c.opset() >= 14 && c.attr_int("training_mode", 0) != 0;
  if (c.opset() < 14 && (c.wants_output(1) || c.wants_output(2) || c.wants_output(3) || c.wants_output(4)))
    c.fail("the training outputs (mean, var, saved mean, saved var) are not supported");
  const TensorSpec xs = c.spec(0);
  require_float(c, xs);
  if (xs.shape.size() < 2) c.fail("input X must be (N, C, *), got ", shape_str(xs.shape));
  const int64_t ch = xs.shape[1];
  const char* names[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5; ++i) require_channels(c, i, names[i], ch);
  const double eps = c.attr_float("epsilon", 1e-5);
  BatchNormResult r = batch_norm(c.in(0), c.in(1), c.in(2), c.in(3), c.in(4), training, eps);
  if (!training) return {r.y};
  const double momentum = c.attr_float("momentum", 0.9);
  auto blend = [&](const Tensor& running, const Tensor& batch) {
    return add(mul(running, c.scalar(momentum, xs.dtype)), mul(batch, c.scalar(1 - momentum, xs.dtype)));
  };
  return {r.y, blend(c.in(3), r.batch_mean), blend(c.in(4), r.batch_var)};
}

// Per (sample, channel) over the spatial dims: plumb's layer_norm over (N, C, S), then scale and bias.
Outs convert_instance_norm(NodeCtx& c) {
  const TensorSpec xs = c.spec(0);
  require_float(c, xs);
  if (xs.shape.size() < 3) c.fail("input must be (N, C, *spatial), got ", shape_str(xs.shape));
  const int64_t n = xs.shape[0], ch = xs.shape[1], rank = static_cast<int64_t>(xs.shape.size());
  require_channels(c, 1, "scale", ch);
  require_channels(c, 2, "B", ch);
  const double eps = c.attr_float("epsilon", 1e-5);
  Tensor y = layer_norm(reshape(c.in(0), {n, ch, numel(xs.shape) / std::max<int64_t>(n * ch, 1)}), {}, {}, 1, eps);
  y = reshape(y, xs.shape);
  return {add(mul(y, per_channel(c.in(1), rank)), per_channel(c.in(2), rank))};
}

Outs convert_layer_norm(NodeCtx& c) {
  const TensorSpec xs = c.spec(0);
  require_float(c, xs);
  const int64_t rank = static_cast<int64_t>(xs.shape.size());
  const int64_t axis = node_axis(c, c.attr_int("axis", -1), rank);
  const double eps = c.attr_float("epsilon", 1e-5);
  const Shape normalized(xs.shape.begin() + axis, xs.shape.end());
  const int64_t dims = rank - axis;
  Tensor x = c.in(0);
  const bool has_b = c.has_input(2);
  Tensor y;
  if (c.spec(1).shape == normalized && (!has_b || c.spec(2).shape == normalized)) {
    y = layer_norm(x, c.in(1), has_b ? c.in(2) : Tensor(), dims, eps);
  } else {
    // Scale or bias that broadcast without matching the normalized shape: applied after.
    y = mul(layer_norm(x, {}, {}, dims, eps), c.in(1));
    if (has_b) y = add(y, c.in(2));
  }
  Outs out{y};
  if (c.wants_output(1) || c.wants_output(2)) {
    std::vector<int64_t> axes;
    for (int64_t d = axis; d < rank; ++d) axes.push_back(d);
    Tensor m = mean(x, axes, true);
    Tensor d = sub(x, m);
    out.push_back(m);
    out.push_back(rsqrt(add(mean(mul(d, d), axes, true), c.scalar(eps, xs.dtype))));
  }
  return out;
}

// ONNX sums channels c - floor((size-1)/2) .. c + ceil((size-1)/2); plumb's composite centres the
// other way for even sizes, which are built here from the same primitives.
Outs convert_lrn(NodeCtx& c) {
  const TensorSpec xs = c.spec(0);
  require_float(c, xs);
  if (xs.shape.size() < 2) c.fail("input must be (N, C, *), got ", shape_str(xs.shape));
  const int64_t size = c.attr_int("size", 0);
  if (size < 1 || size > (int64_t{1} << 20)) c.fail("size must be in [1, 2^20], got ", size);
  const double alpha = c.attr_float("alpha", 1e-4), beta = c.attr_float("beta", 0.75), bias = c.attr_float("bias", 1.0);
  Tensor x = c.in(0);
  if (size % 2 == 1 || numel(xs.shape) == 0) return {local_response_norm(x, size, alpha, beta, bias)};
  const int64_t n = xs.shape[0], ch = xs.shape[1];
  const int64_t s = numel(xs.shape) / std::max<int64_t>(n * ch, 1);
  const int64_t before = (size - 1) / 2, after = size / 2;
  Tensor sq = pad(reshape(mul(x, x), {n, 1, ch, s}), {0, 0, before, 0, 0, 0, after, 0}, 0.0);
  Tensor avg = avg_pool(sq, {size, 1}, {1, 1}, {0, 0}, false, true);
  const DType t = xs.dtype;
  Tensor denom = pow(add(mul(avg, c.scalar(alpha, t)), c.scalar(bias, t)), c.scalar(beta, t));
  return {div(x, reshape(denom, xs.shape))};
}

Outs convert_mvn(NodeCtx& c) {
  const TensorSpec xs = c.spec(0);
  require_float(c, xs);
  const int64_t rank = static_cast<int64_t>(xs.shape.size());
  std::vector<int64_t> axes = c.attr_ints("axes", {0, 2, 3});
  for (int64_t& a : axes) a = node_axis(c, a, rank);
  Tensor x = c.in(0);
  Tensor d = sub(x, mean(x, axes, true));
  Tensor sd = sqrt(mean(mul(d, d), axes, true));
  return {div(d, add(sd, c.scalar(1e-9, xs.dtype)))};
}

// ---- softmax family ----

enum class Soft { softmax, log_softmax, hardmax };

Tensor hardmax_last(NodeCtx& c, const Tensor& x, int64_t axis) {
  const int64_t n = x.shape()[static_cast<size_t>(axis)];
  check_table_size(c, {n}, "position table");
  Shape s(static_cast<size_t>(x.dim()), 1);
  s[static_cast<size_t>(axis)] = n;
  Tensor positions = c.lift(c.on_cpu([&] { return reshape(Tensor::arange(n, DType::i64), s); }));
  return cast(eq(positions, argmax(x, axis, true)), x.dtype());
}

Converter softmax_like(Soft kind) {
  return [kind](NodeCtx& c) -> Outs {
    const TensorSpec xs = c.spec(0);
    require_float(c, xs);
    const int64_t rank = static_cast<int64_t>(xs.shape.size());
    Tensor x = c.in(0);
    auto apply = [&](const Tensor& t, int64_t axis) {
      switch (kind) {
        case Soft::softmax: return softmax(t, axis);
        case Soft::log_softmax: return log_softmax(t, axis);
        case Soft::hardmax: return hardmax_last(c, t, axis);
      }
      return t;
    };
    if (c.opset() >= 13) {
      if (rank == 0) c.fail("input must have rank >= 1");
      return {apply(x, node_axis(c, c.attr_int("axis", -1), rank))};
    }
    // Before opset 13: the input is coerced to 2-D at `axis` and normalized along the second dim.
    int64_t axis = c.attr_int("axis", 1);
    if (axis < -rank || axis > rank) c.fail("axis ", axis, " is out of range for rank ", rank);
    if (axis < 0) axis += rank;
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < rank; ++d) (d < axis ? outer : inner) *= xs.shape[static_cast<size_t>(d)];
    return {reshape(apply(reshape(x, {outer, inner}), 1), xs.shape)};
  };
}

}  // namespace

void add_norm_converters(ConverterTable& t) {
  t["BatchNormalization"] = convert_batch_norm;
  t["InstanceNormalization"] = convert_instance_norm;
  t["LayerNormalization"] = convert_layer_norm;
  t["LRN"] = convert_lrn;
  t["MeanVarianceNormalization"] = convert_mvn;
  t["Softmax"] = softmax_like(Soft::softmax);
  t["LogSoftmax"] = softmax_like(Soft::log_softmax);
  t["Hardmax"] = softmax_like(Soft::hardmax);
}

}  // namespace plumb::onnx_io
