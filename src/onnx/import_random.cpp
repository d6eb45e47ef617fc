// ONNX import converters of the random ops: RandomNormal, RandomUniform, their *Like forms and
// Bernoulli, onto plumb's normal, uniform and (uniform f64 < p). A `seed` attribute picks plumb's
// draw (seed, offset 0) by the rule in docs/onnx.md, "Random ops"; without one the process
// generator hands out a seed and offset, as a native call would.
#include <cmath>
#include <cstring>

#include "onnx/import.h"
#include "onnx/tensor_proto.h"
#include "plumb/dispatch.h"
#include "plumb/op.h"
#include "plumb/op_attrs.h"
#include "plumb/ops.h"
#include "plumb/random.h"

namespace plumb::onnx_io {

uint64_t plumb_seed(float seed) {
  if (seed >= 0 && seed < 18446744073709551616.0f && std::floor(seed) == seed) return static_cast<uint64_t>(seed);
  uint32_t bits = 0;  // negative, fractional or not finite: the float's bits pick the stream
  std::memcpy(&bits, &seed, sizeof bits);
  return bits;
}

bool is_random_onnx_op(std::string_view op_type) {
  return op_type == "RandomNormal" || op_type == "RandomUniform" || op_type == "RandomNormalLike" ||
         op_type == "RandomUniformLike" || op_type == "Bernoulli";
}

namespace {

using Outs = std::vector<Tensor>;

DType dtype_attr(const NodeCtx& c, DType dflt) {
  if (!c.has_attr("dtype")) return dflt;
  return from_onnx_dtype(static_cast<int32_t>(c.attr_int("dtype", 0)));
}

// One plumb draw of `op` ("normal", "uniform") with parameters a, b on the working device.
Tensor draw(NodeCtx& c, const char* op, const Shape& shape, double a, double b, DType dtype) {
  if (absurd_shape(shape, dtype))
    c.fail("shape ", shape_str(shape), " is absurd (negative, over 2^31 elements or 16 GiB)");
  RandomAttrs attrs;
  attrs.shape = shape;
  attrs.a = a;
  attrs.b = b;
  attrs.dtype = dtype;
  attrs.device = c.device();
  if (c.has_attr("seed")) {
    attrs.seed = static_cast<int64_t>(plumb_seed(static_cast<float>(c.attr_float("seed", 0))));
  } else {
    Generator& gen = default_generator();
    attrs.seed = static_cast<int64_t>(gen.seed());
    attrs.offset = static_cast<int64_t>(gen.take(static_cast<uint64_t>(numel(shape))));
  }
  return dispatch1(op_def(op), {}, attrs);
}

Outs random_normal(NodeCtx& c) {
  if (!c.has_attr("shape")) c.fail("attribute 'shape' is missing");
  const std::vector<int64_t> shape = c.attr_ints("shape");
  return {draw(c, "normal", Shape(shape.begin(), shape.end()), c.attr_float("mean", 0), c.attr_float("scale", 1),
               dtype_attr(c, DType::f32))};
}

Outs random_uniform(NodeCtx& c) {
  if (!c.has_attr("shape")) c.fail("attribute 'shape' is missing");
  const std::vector<int64_t> shape = c.attr_ints("shape");
  return {draw(c, "uniform", Shape(shape.begin(), shape.end()), c.attr_float("low", 0), c.attr_float("high", 1),
               dtype_attr(c, DType::f32))};
}

// The *Like forms read only the input's shape (and dtype, when no `dtype` is given).
Outs random_normal_like(NodeCtx& c) {
  const TensorSpec s = c.spec(0);
  return {draw(c, "normal", s.shape, c.attr_float("mean", 0), c.attr_float("scale", 1), dtype_attr(c, s.dtype))};
}

Outs random_uniform_like(NodeCtx& c) {
  const TensorSpec s = c.spec(0);
  return {draw(c, "uniform", s.shape, c.attr_float("low", 0), c.attr_float("high", 1), dtype_attr(c, s.dtype))};
}

// y = (u < p) for u ~ U[0, 1) in f64: plumb's bernoulli kernel, with a tensor of probabilities.
Outs bernoulli(NodeCtx& c) {
  const TensorSpec s = c.spec(0);
  if (!is_floating(s.dtype)) c.fail("input must be a floating tensor of probabilities, got ", dtype_name(s.dtype));
  const DType out = dtype_attr(c, s.dtype);
  Tensor p = c.in(0);
  if (p.dtype() != DType::f64) p = cast(p, DType::f64);
  const Tensor y = lt(draw(c, "uniform", s.shape, 0, 1, DType::f64), p);
  return {out == DType::boolean ? y : cast(y, out)};
}

}  // namespace

void add_random_converters(ConverterTable& t) {
  t["RandomNormal"] = random_normal;
  t["RandomUniform"] = random_uniform;
  t["RandomNormalLike"] = random_normal_like;
  t["RandomUniformLike"] = random_uniform_like;
  t["Bernoulli"] = bernoulli;
}

}  // namespace plumb::onnx_io
