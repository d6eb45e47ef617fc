// ONNX import converters: unary math, activations, binary arithmetic, comparisons, logic, Where,
// Clip, Cast and the variadic Max/Min/Sum/Mean. Activations plumb lacks are built from primitives.
#include <cmath>
#include <limits>

#include "onnx/import.h"
#include "onnx/tensor_proto.h"
#include "plumb/ops.h"

namespace plumb::onnx_io {

namespace {

using Outs = std::vector<Tensor>;

Converter unary(Tensor (*fn)(const Tensor&)) {
  return [fn](NodeCtx& c) { return Outs{fn(c.in(0))}; };
}

Converter binary(Tensor (*fn)(const Tensor&, const Tensor&)) {
  return [fn](NodeCtx& c) { return Outs{fn(c.in(0), c.in(1))}; };
}

void require_float(const NodeCtx& c, const Tensor& x) {
  if (!is_floating(x.dtype())) c.fail("input must be floating, got ", dtype_name(x.dtype()));
}

// Integer division truncates toward zero in ONNX; plumb divides floats, and casting back truncates.
Outs convert_div(NodeCtx& c) {
  Tensor a = c.in(0), b = c.in(1);
  if (is_floating(a.dtype())) return {div(a, b)};
  if (a.dtype() == DType::boolean) c.fail("Div is not defined for bool");
  return {cast(div(cast(a, DType::f64), cast(b, DType::f64)), a.dtype())};
}

// The exponent may have another type than the base (opset 12): it is cast to the base's type.
Outs convert_pow(NodeCtx& c) {
  Tensor a = c.in(0), b = c.in(1);
  if (is_floating(a.dtype())) return {pow(a, b.dtype() == a.dtype() ? b : cast(b, a.dtype()))};
  if (!is_integral(a.dtype())) c.fail("Pow is not defined for ", dtype_name(a.dtype()));
  return {cast(pow(cast(a, DType::f64), cast(b, DType::f64)), a.dtype())};
}

// Variadic, broadcasting: folded pairwise left to right.
Converter variadic(Tensor (*fn)(const Tensor&, const Tensor&), bool average) {
  return [fn, average](NodeCtx& c) {
    if (c.input_count() == 0) c.fail("needs at least one input");
    Tensor acc = c.in(0);
    for (size_t i = 1; i < c.input_count(); ++i) acc = fn(acc, c.in(i));
    if (average) {
      require_float(c, acc);
      if (c.input_count() > 1) acc = div(acc, c.scalar(static_cast<double>(c.input_count()), acc.dtype()));
    }
    return Outs{acc};
  };
}

// Clip: min and max are optional scalar inputs (opset 11 on).
Outs convert_clip(NodeCtx& c) {
  Tensor x = c.in(0);
  const double inf = std::numeric_limits<double>::infinity();
  const bool has_min = c.has_input(1), has_max = c.has_input(2);
  const Tensor* lo = c.constant(1);
  const Tensor* hi = c.constant(2);
  if (is_floating(x.dtype()) && (!has_min || lo) && (!has_max || hi)) {
    const double l = lo ? lo->item() : -inf, h = hi ? hi->item() : inf;
    if (l <= h || std::isnan(l) || std::isnan(h)) return {clamp(x, l, h)};
  }
  // Integers, tensor bounds or min > max: max(x, min) then min(.., max), as NumPy's clip.
  Tensor y = x;
  if (has_min) y = maximum(y, c.in(1));
  if (has_max) y = minimum(y, c.in(2));
  return {y};
}

Outs convert_cast(NodeCtx& c) {
  const int64_t to = (c.attr_int("to", -1));
  if (to < 0) c.fail("attribute 'to' is missing");
  DType t;
  try {
    t = from_onnx_dtype(static_cast<int32_t>(to));
  } catch (const Error& e) {
    const std::string msg = e.what();
    c.fail(msg.rfind("onnx: ", 0) == 0 ? msg.substr(6) : msg);
  }
  Tensor x = c.in(0);
  if (x.dtype() == t) return {x};
  return {cast(x, t)};
}

Outs convert_cast_like(NodeCtx& c) {
  Tensor x = c.in(0);
  const DType t = c.spec(1).dtype;
  if (x.dtype() == t) return {x};
  return {cast(x, t)};
}

Outs convert_identity(NodeCtx& c) { return {c.in(0)}; }

// Dropout in inference: the input, and an all-true mask where asked.
Outs convert_dropout(NodeCtx& c) {
  bool training = false;
  if (c.opset() >= 12 && c.has_input(2)) {
    const Tensor t = c.need_constant(2, "training_mode");
    training = t.item() != 0;
  }
  if (training) {
    const double ratio = c.has_input(1) ? c.need_constant(1, "ratio").item() : c.attr_float("ratio", 0.5);
    if (ratio != 0) c.fail("training_mode=1 is not supported (plumb imports models for inference)");
  }
  Tensor x = c.in(0);
  Outs out{x};
  if (c.wants_output(1)) out.push_back(expand(c.scalar(1, DType::boolean), x.shape()));
  return out;
}

// ---- activations ----

Outs convert_reciprocal(NodeCtx& c) {
  Tensor x = c.in(0);
  require_float(c, x);
  return {div(c.scalar(1, x.dtype()), x)};
}

Outs convert_elu(NodeCtx& c) {
  Tensor x = c.in(0);
  require_float(c, x);
  const double alpha = c.attr_float("alpha", 1.0);
  const Tensor zero = c.scalar(0, x.dtype());
  Tensor neg_part = mul(sub(exp(x), c.scalar(1, x.dtype())), c.scalar(alpha, x.dtype()));
  return {where(gt(x, zero), x, neg_part)};
}

Outs convert_celu(NodeCtx& c) {
  Tensor x = c.in(0);
  require_float(c, x);
  const double alpha = c.attr_float("alpha", 1.0);
  const Tensor zero = c.scalar(0, x.dtype());
  Tensor e = mul(sub(exp(div(x, c.scalar(alpha, x.dtype()))), c.scalar(1, x.dtype())), c.scalar(alpha, x.dtype()));
  return {add(maximum(x, zero), minimum(e, zero))};
}

Outs convert_selu(NodeCtx& c) {
  Tensor x = c.in(0);
  require_float(c, x);
  const double alpha = c.attr_float("alpha", 1.67326319217681884765625);
  const double gamma = c.attr_float("gamma", 1.05070102214813232421875);
  const DType t = x.dtype();
  Tensor neg_part = sub(mul(exp(x), c.scalar(alpha, t)), c.scalar(alpha, t));
  return {mul(where(gt(x, c.scalar(0, t)), x, neg_part), c.scalar(gamma, t))};
}

Outs convert_leaky_relu(NodeCtx& c) {
  Tensor x = c.in(0);
  require_float(c, x);
  const double alpha = c.attr_float("alpha", 0.01);
  return {where(lt(x, c.scalar(0, x.dtype())), mul(x, c.scalar(alpha, x.dtype())), x)};
}

Outs convert_prelu(NodeCtx& c) {
  Tensor x = c.in(0), slope = c.in(1);
  return {where(lt(x, c.scalar(0, x.dtype())), mul(x, slope), x)};
}

Outs convert_thresholded_relu(NodeCtx& c) {
  Tensor x = c.in(0);
  require_float(c, x);
  const double alpha = c.attr_float("alpha", 1.0);
  return {where(gt(x, c.scalar(alpha, x.dtype())), x, c.scalar(0, x.dtype()))};
}

Outs convert_hard_sigmoid(NodeCtx& c) {
  Tensor x = c.in(0);
  require_float(c, x);
  const double alpha = c.attr_float("alpha", 0.2), beta = c.attr_float("beta", 0.5);
  return {clamp(add(mul(x, c.scalar(alpha, x.dtype())), c.scalar(beta, x.dtype())), 0, 1)};
}

Outs convert_hard_swish(NodeCtx& c) {
  Tensor x = c.in(0);
  require_float(c, x);
  Tensor gate = clamp(add(mul(x, c.scalar(1.0 / 6.0, x.dtype())), c.scalar(0.5, x.dtype())), 0, 1);
  return {mul(x, gate)};
}

// log(1 + e^x) = max(x, 0) + log(1 + e^-|x|): no overflow for large |x|.
Outs convert_softplus(NodeCtx& c) {
  Tensor x = c.in(0);
  require_float(c, x);
  Tensor tail = log(add(exp(neg(abs(x))), c.scalar(1, x.dtype())));
  return {add(relu(x), tail)};
}

Outs convert_softsign(NodeCtx& c) {
  Tensor x = c.in(0);
  require_float(c, x);
  return {div(x, add(abs(x), c.scalar(1, x.dtype())))};
}

Outs convert_sign(NodeCtx& c) {
  Tensor x = c.in(0);
  const DType t = x.dtype();
  if (t == DType::boolean) c.fail("Sign is not defined for bool");
  const Tensor zero = c.scalar(0, t);
  if (t == DType::u8) return {cast(gt(x, zero), t)};
  return {sub(cast(gt(x, zero), t), cast(lt(x, zero), t))};
}

Outs convert_shrink(NodeCtx& c) {
  Tensor x = c.in(0);
  const double bias = c.attr_float("bias", 0.0), lambd = c.attr_float("lambd", 0.5);
  const DType t = x.dtype();
  if (t == DType::boolean) c.fail("Shrink is not defined for bool");
  Tensor low = where(lt(x, c.scalar(-lambd, t)), add(x, c.scalar(bias, t)), c.scalar(0, t));
  return {where(gt(x, c.scalar(lambd, t)), sub(x, c.scalar(bias, t)), low)};
}

Outs convert_isnan(NodeCtx& c) {
  Tensor x = c.in(0);
  require_float(c, x);
  return {ne(x, x)};
}

Outs convert_isinf(NodeCtx& c) {
  Tensor x = c.in(0);
  require_float(c, x);
  const double inf = std::numeric_limits<double>::infinity();
  const bool pos = c.attr_int("detect_positive", 1) != 0, neg_ = c.attr_int("detect_negative", 1) != 0;
  if (pos && neg_) return {eq(abs(x), c.scalar(inf, x.dtype()))};
  if (pos) return {eq(x, c.scalar(inf, x.dtype()))};
  if (neg_) return {eq(x, c.scalar(-inf, x.dtype()))};
  return {lt(x, x)};  // detects nothing: all false
}

// ---- logic (bool tensors) ----

void require_bool(const NodeCtx& c, const Tensor& x) {
  if (x.dtype() != DType::boolean) c.fail("input must be bool, got ", dtype_name(x.dtype()));
}

Outs convert_and(NodeCtx& c) {
  Tensor a = c.in(0), b = c.in(1);
  require_bool(c, a);
  return {mul(a, b)};
}

Outs convert_or(NodeCtx& c) {
  Tensor a = c.in(0), b = c.in(1);
  require_bool(c, a);
  return {maximum(a, b)};
}

Outs convert_xor(NodeCtx& c) {
  Tensor a = c.in(0), b = c.in(1);
  require_bool(c, a);
  return {ne(a, b)};
}

Outs convert_not(NodeCtx& c) {
  Tensor x = c.in(0);
  require_bool(c, x);
  return {eq(x, c.scalar(0, DType::boolean))};
}

Outs convert_where(NodeCtx& c) { return {where(c.in(0), c.in(1), c.in(2))}; }

}  // namespace

void add_elementwise_converters(ConverterTable& t) {
  t["Abs"] = unary(abs);
  t["Neg"] = unary(neg);
  t["Exp"] = unary(exp);
  t["Log"] = unary(log);
  t["Sqrt"] = unary(sqrt);
  t["Relu"] = unary(relu);
  t["Sigmoid"] = unary(sigmoid);
  t["Tanh"] = unary(tanh);
  t["Reciprocal"] = convert_reciprocal;
  t["Identity"] = convert_identity;
  t["Add"] = binary(add);
  t["Sub"] = binary(sub);
  t["Mul"] = binary(mul);
  t["Div"] = convert_div;
  t["Pow"] = convert_pow;
  t["Equal"] = binary(eq);
  t["Greater"] = binary(gt);
  t["GreaterOrEqual"] = binary(ge);
  t["Less"] = binary(lt);
  t["LessOrEqual"] = binary(le);
  t["And"] = convert_and;
  t["Or"] = convert_or;
  t["Xor"] = convert_xor;
  t["Not"] = convert_not;
  t["Where"] = convert_where;
  t["Max"] = variadic(maximum, false);
  t["Min"] = variadic(minimum, false);
  t["Sum"] = variadic(add, false);
  t["Mean"] = variadic(add, true);
  t["Clip"] = convert_clip;
  t["Cast"] = convert_cast;
  t["CastLike"] = convert_cast_like;
  t["Dropout"] = convert_dropout;
  t["Elu"] = convert_elu;
  t["Celu"] = convert_celu;
  t["Selu"] = convert_selu;
  t["LeakyRelu"] = convert_leaky_relu;
  t["PRelu"] = convert_prelu;
  t["ThresholdedRelu"] = convert_thresholded_relu;
  t["HardSigmoid"] = convert_hard_sigmoid;
  t["HardSwish"] = convert_hard_swish;
  t["Softplus"] = convert_softplus;
  t["Softsign"] = convert_softsign;
  t["Sign"] = convert_sign;
  t["Shrink"] = convert_shrink;
  t["IsNaN"] = convert_isnan;
  t["IsInf"] = convert_isinf;
}

}  // namespace plumb::onnx_io
