// Elementwise ops: unary math, clamp, cast, binary arithmetic with NumPy broadcasting, comparisons, where.
#include <string>

#include "ops/op_def.h"

namespace plumb::ops {
namespace {

// Which dtypes a unary op accepts; infer names them in its error.
enum class UnaryKind { floating, numeric };
// Which dtypes a binary op accepts (both operands share one dtype) and what it returns.
enum class BinaryKind {
  any,         // add, mul, maximum, minimum: every dtype (bool: or / and)
  no_bool,     // sub: NumPy rejects bool subtraction too
  floating,    // div, pow: no integer division or integer powers
  comparison,  // eq ... ge: every dtype, output bool
};

std::vector<TensorSpec> unary_infer(const std::string& op, std::span<const TensorSpec> in, UnaryKind kind) {
  const TensorSpec& x = in[0];
  if (kind == UnaryKind::floating && !is_floating(x.dtype))
    fail(op, ": input must be floating (f64, f32, f16, bf16), got ", dtype_name(x.dtype));
  if (kind == UnaryKind::numeric && !is_floating(x.dtype) && !is_integral(x.dtype))
    fail(op, ": input must be floating or integer (f64, f32, f16, bf16, i64, i32, i8, u8), got ",
         dtype_name(x.dtype));
  return {x};
}

std::vector<TensorSpec> binary_infer(const std::string& op, std::span<const TensorSpec> in, BinaryKind kind) {
  check_same_device(op, in);
  check_same_dtype(op, in[0], in[1]);
  const DType t = in[0].dtype;
  if (kind == BinaryKind::floating && !is_floating(t))
    fail(op, ": operands must be floating (f64, f32, f16, bf16), got ", dtype_name(t));
  if (kind == BinaryKind::no_bool && t == DType::boolean) fail(op, ": not defined for bool operands");
  Shape shape = broadcast_shapes(in[0].shape, in[1].shape, op);
  return {{std::move(shape), kind == BinaryKind::comparison ? DType::boolean : t, in[0].device}};
}

// Every elementwise op costs 1 FLOP per output element (docs/cost_model.md).
Cost per_output_cost(std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs&) {
  return io_bytes(in, out, elems_of(out[0]));
}

Tensor zero_like_scalar(const Tensor& t) { return scalar_like(t, 0.0); }
Tensor one_like_scalar(const Tensor& t) { return scalar_like(t, 1.0); }

// A gradient for a broadcast operand: summed back to the operand's shape.
Tensor unbroadcast(const Tensor& g, const Tensor& operand) { return sum_to(g, operand.shape()); }

// Unary vjps receive (x, y, g) and return dL/dx.
using UnaryGrad = std::function<Tensor(const Tensor& x, const Tensor& y, const Tensor& g, const Attrs&)>;

void register_unary(const std::string& name, UnaryKind kind, UnaryGrad grad, std::string doc) {
  OpDef def;
  def.name = name;
  def.op_class = OpClass::elementwise;
  def.min_inputs = def.max_inputs = 1;
  def.infer = [name, kind](std::span<const TensorSpec> in, const Attrs&) { return unary_infer(name, in, kind); };
  def.cost = per_output_cost;
  def.vjp = [grad](const VjpArgs& a) -> std::vector<Tensor> {
    if (!a.needs_grad[0]) return {Tensor()};
    return {grad(a.inputs[0], a.outputs[0], a.grad_outputs[0], a.attrs)};
  };
  def.differentiable = true;
  def.doc = std::move(doc);
  register_op(std::move(def));
}

// Binary vjps receive the inputs, output, gradient and which inputs need one.
using BinaryGrad = std::function<std::vector<Tensor>(const Tensor& a, const Tensor& b, const Tensor& y,
                                                     const Tensor& g, const std::vector<bool>& needs)>;

void register_binary(const std::string& name, BinaryKind kind, BinaryGrad grad, std::string doc) {
  OpDef def;
  def.name = name;
  def.op_class = OpClass::elementwise;
  def.min_inputs = def.max_inputs = 2;
  def.infer = [name, kind](std::span<const TensorSpec> in, const Attrs&) { return binary_infer(name, in, kind); };
  def.cost = per_output_cost;
  if (grad) {
    def.vjp = [grad](const VjpArgs& a) {
      return grad(a.inputs[0], a.inputs[1], a.outputs[0], a.grad_outputs[0], a.needs_grad);
    };
    def.differentiable = true;
  } else {
    def.differentiable = false;  // comparisons: piecewise constant, bool output
  }
  def.doc = std::move(doc);
  register_op(std::move(def));
}

// Gradient split of maximum/minimum: `pick` is a > b (maximum) or a < b (minimum); ties share evenly.
std::vector<Tensor> extremum_grad(const Tensor& a, const Tensor& b, const Tensor& g, const std::vector<bool>& needs,
                                  const Tensor& pick) {
  const Tensor w = where(pick, one_like_scalar(g), where(eq(a, b), scalar_like(g, 0.5), zero_like_scalar(g)));
  const Tensor ga = mul(g, w);
  return {needs[0] ? unbroadcast(ga, a) : Tensor(), needs[1] ? unbroadcast(sub(g, ga), b) : Tensor()};
}

}  // namespace

void register_elementwise_ops() {
  using K = UnaryKind;
  register_unary("neg", K::numeric, [](const Tensor&, const Tensor&, const Tensor& g, const Attrs&) { return neg(g); },
                 "-x");
  register_unary("exp", K::floating,
                 [](const Tensor&, const Tensor& y, const Tensor& g, const Attrs&) { return mul(g, y); }, "e^x");
  register_unary("log", K::floating,
                 [](const Tensor& x, const Tensor&, const Tensor& g, const Attrs&) { return div(g, x); },
                 "natural logarithm");
  register_unary("sqrt", K::floating,
                 [](const Tensor&, const Tensor& y, const Tensor& g, const Attrs&) { return div(g, mul(y, 2.0)); },
                 "square root");
  // d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 y^3
  register_unary("rsqrt", K::floating,
                 [](const Tensor&, const Tensor& y, const Tensor& g, const Attrs&) {
                   return mul(g, mul(mul(y, mul(y, y)), -0.5));
                 },
                 "1 / sqrt(x)");
  // sign(x) * g, with 0 at the kink as in PyTorch
  register_unary("abs", K::numeric,
                 [](const Tensor& x, const Tensor&, const Tensor& g, const Attrs&) {
                   const Tensor zero = zero_like_scalar(x);
                   return where(gt(x, zero), g, where(lt(x, zero), neg(g), zero_like_scalar(g)));
                 },
                 "|x|");
  register_unary("relu", K::numeric,
                 [](const Tensor& x, const Tensor&, const Tensor& g, const Attrs&) {
                   return where(gt(x, zero_like_scalar(x)), g, zero_like_scalar(g));
                 },
                 "max(x, 0)");
  register_unary("sigmoid", K::floating,
                 [](const Tensor&, const Tensor& y, const Tensor& g, const Attrs&) {
                   return mul(g, mul(y, sub(one_like_scalar(y), y)));
                 },
                 "1 / (1 + e^-x)");
  register_unary("tanh", K::floating,
                 [](const Tensor&, const Tensor& y, const Tensor& g, const Attrs&) {
                   return mul(g, sub(one_like_scalar(y), mul(y, y)));
                 },
                 "hyperbolic tangent");

  {  // clamp: float only; the gradient passes where min <= x <= max
    OpDef def;
    def.name = "clamp";
    def.op_class = OpClass::elementwise;
    def.min_inputs = def.max_inputs = 1;
    def.make_attrs = attrs_factory<ClampAttrs>();
    def.infer = [](std::span<const TensorSpec> in, const Attrs& attrs) {
      const auto& a = attrs_as<ClampAttrs>(attrs);
      if (a.min > a.max) fail("clamp: min ", a.min, " is greater than max ", a.max);
      return unary_infer("clamp", in, K::floating);
    };
    def.cost = per_output_cost;
    def.vjp = [](const VjpArgs& a) -> std::vector<Tensor> {
      if (!a.needs_grad[0]) return {Tensor()};
      const auto& c = attrs_as<ClampAttrs>(a.attrs);
      const Tensor& x = a.inputs[0];
      const Tensor& g = a.grad_outputs[0];
      const Tensor zero = zero_like_scalar(g);
      return {where(lt(x, scalar_like(x, c.min)), zero, where(gt(x, scalar_like(x, c.max)), zero, g))};
    };
    def.differentiable = true;
    def.doc = "min(max(x, min), max)";
    register_op(std::move(def));
  }

  {  // cast: any dtype to any dtype; differentiable between floating dtypes
    OpDef def;
    def.name = "cast";
    def.op_class = OpClass::elementwise;
    def.min_inputs = def.max_inputs = 1;
    def.make_attrs = attrs_factory<CastAttrs>();
    def.infer = [](std::span<const TensorSpec> in, const Attrs& attrs) {
      return std::vector<TensorSpec>{{in[0].shape, attrs_as<CastAttrs>(attrs).dtype, in[0].device}};
    };
    def.cost = per_output_cost;
    def.vjp = [](const VjpArgs& a) -> std::vector<Tensor> {
      const Tensor& x = a.inputs[0];
      const Tensor& g = a.grad_outputs[0];
      if (!a.needs_grad[0] || !is_floating(x.dtype()) || !is_floating(g.dtype())) return {Tensor()};
      return {cast(g, x.dtype())};
    };
    def.differentiable = true;
    def.doc = "convert to another dtype (float to int truncates toward zero and saturates; NaN -> 0)";
    register_op(std::move(def));
  }

  using B = BinaryKind;
  register_binary("add", B::any,
                  [](const Tensor& a, const Tensor& b, const Tensor&, const Tensor& g, const std::vector<bool>& n) {
                    return std::vector<Tensor>{n[0] ? unbroadcast(g, a) : Tensor(), n[1] ? unbroadcast(g, b) : Tensor()};
                  },
                  "a + b (bool: or)");
  register_binary("sub", B::no_bool,
                  [](const Tensor& a, const Tensor& b, const Tensor&, const Tensor& g, const std::vector<bool>& n) {
                    return std::vector<Tensor>{n[0] ? unbroadcast(g, a) : Tensor(),
                                               n[1] ? unbroadcast(neg(g), b) : Tensor()};
                  },
                  "a - b");
  register_binary("mul", B::any,
                  [](const Tensor& a, const Tensor& b, const Tensor&, const Tensor& g, const std::vector<bool>& n) {
                    return std::vector<Tensor>{n[0] ? unbroadcast(mul(g, b), a) : Tensor(),
                                               n[1] ? unbroadcast(mul(g, a), b) : Tensor()};
                  },
                  "a * b (bool: and)");
  register_binary("div", B::floating,
                  [](const Tensor& a, const Tensor& b, const Tensor& y, const Tensor& g, const std::vector<bool>& n) {
                    const Tensor q = div(g, b);  // dL/da; dL/db = -g a / b^2 = -q y
                    return std::vector<Tensor>{n[0] ? unbroadcast(q, a) : Tensor(),
                                               n[1] ? unbroadcast(neg(mul(q, y)), b) : Tensor()};
                  },
                  "a / b");
  // As PyTorch: the exponent-0 terms of da and the base-0 terms of db are 0, not NaN.
  register_binary("pow", B::floating,
                  [](const Tensor& a, const Tensor& b, const Tensor& y, const Tensor& g, const std::vector<bool>& n) {
                    Tensor ga, gb;
                    const Tensor zero = zero_like_scalar(g);
                    if (n[0]) {
                      const Tensor d = mul(b, pow(a, sub(b, 1.0)));
                      ga = unbroadcast(mul(g, where(eq(b, zero_like_scalar(b)), zero, d)), a);
                    }
                    if (n[1]) {
                      const Tensor d = mul(y, log(a));
                      gb = unbroadcast(mul(g, where(eq(a, zero_like_scalar(a)), zero, d)), b);
                    }
                    return std::vector<Tensor>{ga, gb};
                  },
                  "a ^ b");
  register_binary("maximum", B::any,
                  [](const Tensor& a, const Tensor& b, const Tensor&, const Tensor& g, const std::vector<bool>& n) {
                    return extremum_grad(a, b, g, n, gt(a, b));
                  },
                  "elementwise max (NaN propagates; ties split the gradient evenly)");
  register_binary("minimum", B::any,
                  [](const Tensor& a, const Tensor& b, const Tensor&, const Tensor& g, const std::vector<bool>& n) {
                    return extremum_grad(a, b, g, n, lt(a, b));
                  },
                  "elementwise min (NaN propagates; ties split the gradient evenly)");
  register_binary("eq", B::comparison, nullptr, "a == b -> bool");
  register_binary("ne", B::comparison, nullptr, "a != b -> bool");
  register_binary("lt", B::comparison, nullptr, "a < b -> bool");
  register_binary("le", B::comparison, nullptr, "a <= b -> bool");
  register_binary("gt", B::comparison, nullptr, "a > b -> bool");
  register_binary("ge", B::comparison, nullptr, "a >= b -> bool");

  {  // where(cond, a, b): the kernel is chosen by a's dtype
    OpDef def;
    def.name = "where";
    def.op_class = OpClass::elementwise;
    def.min_inputs = def.max_inputs = 3;
    def.key_input = 1;
    def.infer = [](std::span<const TensorSpec> in, const Attrs&) {
      check_same_device("where", in);
      if (in[0].dtype != DType::boolean) fail("where: condition must be bool, got ", dtype_name(in[0].dtype));
      check_same_dtype("where", in[1], in[2]);
      Shape shape = broadcast_shapes(broadcast_shapes(in[0].shape, in[1].shape, "where"), in[2].shape, "where");
      return std::vector<TensorSpec>{{std::move(shape), in[1].dtype, in[1].device}};
    };
    def.cost = per_output_cost;
    def.vjp = [](const VjpArgs& a) {
      const Tensor& cond = a.inputs[0];
      const Tensor& g = a.grad_outputs[0];
      const Tensor zero = zero_like_scalar(g);
      std::vector<Tensor> out(3);
      if (a.needs_grad[1]) out[1] = unbroadcast(where(cond, g, zero), a.inputs[1]);
      if (a.needs_grad[2]) out[2] = unbroadcast(where(cond, zero, g), a.inputs[2]);
      return out;
    };
    def.differentiable = true;
    def.doc = "cond ? a : b, broadcast";
    register_op(std::move(def));
  }
}

}  // namespace plumb::ops

namespace plumb {

namespace {
Tensor unary_call(const OpDef& op, const Tensor& x) { return ops::call(op, {x}); }
Tensor binary_call(const OpDef& op, const Tensor& a, const Tensor& b) { return ops::call(op, {a, b}); }
}  // namespace

Tensor neg(const Tensor& x) { return unary_call(PLUMB_OP("neg"), x); }
Tensor exp(const Tensor& x) { return unary_call(PLUMB_OP("exp"), x); }
Tensor log(const Tensor& x) { return unary_call(PLUMB_OP("log"), x); }
Tensor sqrt(const Tensor& x) { return unary_call(PLUMB_OP("sqrt"), x); }
Tensor rsqrt(const Tensor& x) { return unary_call(PLUMB_OP("rsqrt"), x); }
Tensor abs(const Tensor& x) { return unary_call(PLUMB_OP("abs"), x); }
Tensor relu(const Tensor& x) { return unary_call(PLUMB_OP("relu"), x); }
Tensor sigmoid(const Tensor& x) { return unary_call(PLUMB_OP("sigmoid"), x); }
Tensor tanh(const Tensor& x) { return unary_call(PLUMB_OP("tanh"), x); }

Tensor clamp(const Tensor& x, double min, double max) {
  ClampAttrs a;
  a.min = min;
  a.max = max;
  return ops::call(PLUMB_OP("clamp"), {x}, a);
}

Tensor cast(const Tensor& x, DType dtype) {
  CastAttrs a;
  a.dtype = dtype;
  return ops::call(PLUMB_OP("cast"), {x}, a);
}

Tensor add(const Tensor& a, const Tensor& b) { return binary_call(PLUMB_OP("add"), a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_call(PLUMB_OP("sub"), a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_call(PLUMB_OP("mul"), a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary_call(PLUMB_OP("div"), a, b); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary_call(PLUMB_OP("pow"), a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary_call(PLUMB_OP("maximum"), a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary_call(PLUMB_OP("minimum"), a, b); }
Tensor eq(const Tensor& a, const Tensor& b) { return binary_call(PLUMB_OP("eq"), a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_call(PLUMB_OP("ne"), a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_call(PLUMB_OP("lt"), a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_call(PLUMB_OP("le"), a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_call(PLUMB_OP("gt"), a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_call(PLUMB_OP("ge"), a, b); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  return ops::call(PLUMB_OP("where"), {cond, a, b});
}

Tensor add(const Tensor& a, double b) { return add(a, ops::scalar_like(a, b)); }
Tensor sub(const Tensor& a, double b) { return sub(a, ops::scalar_like(a, b)); }
Tensor mul(const Tensor& a, double b) { return mul(a, ops::scalar_like(a, b)); }
Tensor div(const Tensor& a, double b) { return div(a, ops::scalar_like(a, b)); }
Tensor pow(const Tensor& a, double b) { return pow(a, ops::scalar_like(a, b)); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator*(double a, const Tensor& b) { return mul(ops::scalar_like(b, a), b); }

}  // namespace plumb
