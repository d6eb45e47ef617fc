// Conformance cases for the elementwise ops: unary math, clamp, cast, binary arithmetic, comparisons, where.
// Costs are counted element by element as the harness prices them: floating inputs at f32 (4 bytes),
// integer and bool inputs at their own width; one FLOP per output element.
#include <cmath>

#include "harness.h"

namespace plumb::testing {

namespace {

double elem_bytes(DType t) { return is_floating(t) ? 4.0 : static_cast<double>(dtype_size(t)); }

// Reads every input element once, writes every output element once, one FLOP per output element.
Cost count_elementwise(const std::vector<Tensor>& inputs, const Shape& out_shape, double out_elem_bytes) {
  double flops = 0, read = 0, written = 0;
  for (const Tensor& t : inputs)
    for (int64_t i = 0; i < t.numel(); ++i) read += elem_bytes(t.dtype());
  const int64_t n = numel(out_shape);
  for (int64_t i = 0; i < n; ++i) {
    flops += 1;
    written += out_elem_bytes;
  }
  return cost_of(flops, read, written);
}

// A case whose output has `out_shape` (given literally, not computed) and elements of `out_elem_bytes`.
OpCase ew_case(std::string label, std::vector<Tensor> inputs, const Shape& out_shape, double out_elem_bytes = 4,
               std::shared_ptr<Attrs> a = std::make_shared<NoAttrs>()) {
  OpCase c;
  c.label = std::move(label);
  c.expected_cost = count_elementwise(inputs, out_shape, out_elem_bytes);
  c.inputs = std::move(inputs);
  c.attrs = std::move(a);
  return c;
}

OpCase no_grad(OpCase c) {
  c.check_grad = false;
  return c;
}

// Values on a quarter grid in [-1, 1]: exact in every float dtype, so ties and equalities survive casts.
Tensor grid_f64(Shape shape, uint64_t seed) {
  Tensor t = rand_f64(std::move(shape), seed, -1, 1);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = std::round(p[i] * 4) / 4;
  return t;
}

Tensor f64_tensor(const std::vector<double>& v, Shape shape) { return Tensor::from_vector(v, std::move(shape)); }

Tensor bool_tensor(const std::vector<int>& v, Shape shape) {
  Tensor t = Tensor::empty(std::move(shape), DType::boolean);
  for (size_t i = 0; i < v.size(); ++i) set_element_from_double(t, static_cast<int64_t>(i), v[i]);
  return t;
}

Tensor positive(Shape shape, uint64_t seed) { return rand_f64(std::move(shape), seed, 0.5, 2.0); }

ClampAttrs clamp_attrs(double lo, double hi) {
  ClampAttrs a;
  a.min = lo;
  a.max = hi;
  return a;
}

CastAttrs cast_attrs(DType t) {
  CastAttrs a;
  a.dtype = t;
  return a;
}

// The shape family every unary float op runs on: typical, 0-d, size-1 dims, empty.
std::vector<OpCase> unary_float_cases(uint64_t seed, double lo, double hi) {
  return {
      ew_case("2-d", {rand_f64({2, 3}, seed, lo, hi)}, {2, 3}),
      ew_case("0-d", {rand_f64({}, seed + 1, lo, hi)}, {}),
      ew_case("size-1 dims", {rand_f64({1, 4, 1}, seed + 2, lo, hi)}, {1, 4, 1}),
      ew_case("3-d", {rand_f64({2, 2, 3}, seed + 3, lo, hi)}, {2, 2, 3}),
      ew_case("empty", {rand_f64({0, 3}, seed + 4, lo, hi)}, {0, 3}),
  };
}

// Binary shape family: same shape, row broadcast, both operands broadcast, 0-d operand, empty.
std::vector<OpCase> binary_cases(uint64_t seed, const std::function<Tensor(Shape, uint64_t)>& a_gen,
                                 const std::function<Tensor(Shape, uint64_t)>& b_gen) {
  return {
      ew_case("same shape", {a_gen({2, 3}, seed), b_gen({2, 3}, seed + 1)}, {2, 3}),
      ew_case("broadcast row", {a_gen({2, 3}, seed + 2), b_gen({3}, seed + 3)}, {2, 3}),
      ew_case("broadcast both", {a_gen({2, 1, 3}, seed + 4), b_gen({4, 1}, seed + 5)}, {2, 4, 3}),
      ew_case("0-d operand", {a_gen({}, seed + 6), b_gen({2, 2}, seed + 7)}, {2, 2}),
      ew_case("size-1 both", {a_gen({1, 1}, seed + 8), b_gen({1}, seed + 9)}, {1, 1}),
      ew_case("empty", {a_gen({0, 3}, seed + 10), b_gen({1, 3}, seed + 11)}, {0, 3}),
  };
}

Tensor any_f64(Shape s, uint64_t seed) { return rand_f64(std::move(s), seed, -1, 1); }
Tensor nonzero_f64(Shape s, uint64_t seed) { return rand_away_from_zero(std::move(s), seed, 0.5, 2.0); }

// Integer and bool operands: the kernels cover them, gradients do not apply. Comparisons write bool
// (1 byte), the others write the operands' dtype.
std::vector<OpCase> integer_binary_cases(bool comparison) {
  const double i64_out = comparison ? 1 : 8, i32_out = comparison ? 1 : 4;
  return {
      no_grad(ew_case("i64 broadcast", {index_tensor({3, -7, 0, 12, 5, -1}, {2, 3}), index_tensor({2, -7, 4}, {3})},
                      {2, 3}, i64_out)),
      no_grad(ew_case("i32", {Tensor::from_vector<int32_t>({9, -4, 2, 2}, {4}),
                              Tensor::from_vector<int32_t>({9, 3, -2, 2}, {4})},
                      {4}, i32_out)),
      no_grad(ew_case("bool", {bool_tensor({0, 1, 1, 0}, {2, 2}), bool_tensor({1, 1, 0, 0}, {2, 2})}, {2, 2}, 1)),
  };
}

std::vector<OpCase> concat_cases(std::vector<OpCase> a, std::vector<OpCase> b) {
  for (OpCase& c : b) a.push_back(std::move(c));
  return a;
}

}  // namespace

// ---- unary ----

PLUMB_OP_CASES(neg) {
  return concat_cases(unary_float_cases(10, -2, 2),
                      {no_grad(ew_case("i64", {index_tensor({3, -4, 0, 9}, {2, 2})}, {2, 2}, 8))});
}
PLUMB_OP_CASES(exp) { return unary_float_cases(20, -2, 2); }
PLUMB_OP_CASES(log) { return unary_float_cases(30, 0.3, 3); }
PLUMB_OP_CASES(sqrt) { return unary_float_cases(40, 0.3, 3); }
PLUMB_OP_CASES(rsqrt) { return unary_float_cases(50, 0.3, 3); }
PLUMB_OP_CASES(sigmoid) { return unary_float_cases(60, -6, 6); }
PLUMB_OP_CASES(tanh) { return unary_float_cases(70, -3, 3); }

// abs and relu have a kink at 0: inputs stay away from it.
PLUMB_OP_CASES(abs) {
  return {
      ew_case("2-d", {rand_away_from_zero({2, 3}, 80)}, {2, 3}),
      ew_case("0-d", {rand_away_from_zero({}, 81)}, {}),
      ew_case("size-1 dims", {rand_away_from_zero({1, 5, 1}, 82)}, {1, 5, 1}),
      no_grad(ew_case("i64", {index_tensor({3, -4, 0, -9}, {4})}, {4}, 8)),
  };
}
PLUMB_OP_CASES(relu) {
  return {
      ew_case("2-d", {rand_away_from_zero({2, 3}, 90)}, {2, 3}),
      ew_case("0-d negative", {f64_tensor({-0.7}, {})}, {}),
      ew_case("size-1 dims", {rand_away_from_zero({3, 1, 2}, 92)}, {3, 1, 2}),
      no_grad(ew_case("i64", {index_tensor({3, -4, 0, -9, 7, 1}, {3, 2})}, {3, 2}, 8)),
  };
}

// Bounds away from the inputs (random values in [-1, 1] are not within 1e-6 of ±0.5).
PLUMB_OP_CASES(clamp) {
  return {
      ew_case("both bounds", {rand_f64({3, 4}, 100)}, {3, 4}, 4, attrs(clamp_attrs(-0.5, 0.5))),
      ew_case("0-d inside", {f64_tensor({0.25}, {})}, {}, 4, attrs(clamp_attrs(-1, 1))),
      ew_case("all below", {rand_f64({2, 2}, 101, -2, -1)}, {2, 2}, 4, attrs(clamp_attrs(0, 3))),
      ew_case("point interval", {f64_tensor({-1.5, 0.5, 2.5}, {3})}, {3}, 4, attrs(clamp_attrs(1, 1))),
  };
}

// Grad checks only where the output is f64: a rounded output has no usable central difference.
PLUMB_OP_CASES(cast) {
  return {
      ew_case("to f64", {rand_f64({2, 3}, 110)}, {2, 3}, 8, attrs(cast_attrs(DType::f64))),
      ew_case("0-d to f64", {rand_f64({}, 111)}, {}, 8, attrs(cast_attrs(DType::f64))),
      no_grad(ew_case("to f32", {grid_f64({3, 2}, 112)}, {3, 2}, 4, attrs(cast_attrs(DType::f32)))),
      no_grad(ew_case("to f16", {grid_f64({2, 3}, 113)}, {2, 3}, 2, attrs(cast_attrs(DType::f16)))),
      no_grad(ew_case("to bf16", {grid_f64({4}, 114)}, {4}, 2, attrs(cast_attrs(DType::bf16)))),
      no_grad(ew_case("to i32 truncates", {f64_tensor({2.75, -2.75, 0.25, -0.5, 7.5, 100.25}, {2, 3})}, {2, 3}, 4,
                      attrs(cast_attrs(DType::i32)))),
      no_grad(ew_case("to u8", {f64_tensor({0.5, 3.25, 255.5, 17.75}, {4})}, {4}, 1, attrs(cast_attrs(DType::u8)))),
      no_grad(ew_case("to bool", {f64_tensor({0, 0.5, -2, 0, 1e-3, -0.25}, {3, 2})}, {3, 2}, 1,
                      attrs(cast_attrs(DType::boolean)))),
      no_grad(ew_case("i64 to f32", {index_tensor({-3, 0, 7, 1 << 20}, {2, 2})}, {2, 2}, 4,
                      attrs(cast_attrs(DType::f32)))),
      no_grad(ew_case("i64 to i8 wraps", {index_tensor({-3, 200, 127, -129}, {4})}, {4}, 1,
                      attrs(cast_attrs(DType::i8)))),
      no_grad(ew_case("bool to f64", {bool_tensor({1, 0, 0, 1, 1, 1}, {2, 3})}, {2, 3}, 8,
                      attrs(cast_attrs(DType::f64)))),
      no_grad(ew_case("empty to i64", {rand_f64({0, 2}, 115)}, {0, 2}, 8, attrs(cast_attrs(DType::i64)))),
  };
}

// ---- binary ----

PLUMB_OP_CASES(add) { return concat_cases(binary_cases(200, any_f64, any_f64), integer_binary_cases(false)); }
PLUMB_OP_CASES(sub) {
  std::vector<OpCase> ints = integer_binary_cases(false);
  ints.pop_back();  // no bool subtraction
  return concat_cases(binary_cases(220, any_f64, any_f64), std::move(ints));
}
PLUMB_OP_CASES(mul) { return concat_cases(binary_cases(240, any_f64, any_f64), integer_binary_cases(false)); }
PLUMB_OP_CASES(div) { return binary_cases(260, any_f64, nonzero_f64); }
// A negative base with exponent 2: d/db (log of a negative base) is NaN, so only the base is checked.
static OpCase squared_case() {
  OpCase c = ew_case("squared (0-d exponent)", {rand_f64({2, 3}, 298, -2, 2), f64_tensor({2.0}, {})}, {2, 3});
  c.grad_inputs = {0};
  return c;
}

PLUMB_OP_CASES(pow) {
  auto exponent = [](Shape s, uint64_t seed) { return rand_f64(std::move(s), seed, -1.5, 1.5); };
  return concat_cases(binary_cases(280, positive, exponent),
                      {squared_case(),
                       ew_case("zero exponent", {positive({3}, 299), f64_tensor({0.0}, {})}, {3})});
}

// maximum/minimum: random operands plus exact ties (grid values), where central differences give 1/2 each,
// the even split the vjp promises.
static std::vector<OpCase> extremum_cases(uint64_t seed) {
  return concat_cases(
      concat_cases(binary_cases(seed, any_f64, any_f64),
                   {ew_case("ties", {f64_tensor({0.5, -0.25, 1, 0}, {4}), f64_tensor({0.5, 0.75, 1, -0.5}, {4})}, {4}),
                    ew_case("ties broadcast", {grid_f64({3, 4}, seed + 20), grid_f64({4}, seed + 21)}, {3, 4})}),
      integer_binary_cases(false));
}
PLUMB_OP_CASES(maximum) { return extremum_cases(300); }
PLUMB_OP_CASES(minimum) { return extremum_cases(330); }

// Comparisons: grid values so equal pairs exist in every dtype; bool output (1 byte).
static std::vector<OpCase> comparison_cases(uint64_t seed) {
  std::vector<OpCase> out = {
      ew_case("same shape", {grid_f64({3, 4}, seed), grid_f64({3, 4}, seed + 1)}, {3, 4}, 1),
      ew_case("broadcast", {grid_f64({2, 1, 3}, seed + 2), grid_f64({4, 3}, seed + 3)}, {2, 4, 3}, 1),
      ew_case("0-d operand", {grid_f64({5}, seed + 4), f64_tensor({0.25}, {})}, {5}, 1),
      ew_case("equal values", {f64_tensor({1, 2, 3}, {3}), f64_tensor({1, 0, 3}, {3})}, {3}, 1),
      ew_case("empty", {grid_f64({0}, seed + 5), grid_f64({1}, seed + 6)}, {0}, 1),
  };
  return concat_cases(std::move(out), integer_binary_cases(true));
}
PLUMB_OP_CASES(eq) { return comparison_cases(400); }
PLUMB_OP_CASES(ne) { return comparison_cases(410); }
PLUMB_OP_CASES(lt) { return comparison_cases(420); }
PLUMB_OP_CASES(le) { return comparison_cases(430); }
PLUMB_OP_CASES(gt) { return comparison_cases(440); }
PLUMB_OP_CASES(ge) { return comparison_cases(450); }

PLUMB_OP_CASES(where) {
  return {
      ew_case("same shape", {bool_tensor({1, 0, 0, 1, 1, 0}, {2, 3}), rand_f64({2, 3}, 500), rand_f64({2, 3}, 501)},
              {2, 3}),
      ew_case("broadcast all three", {bool_tensor({0, 1, 1}, {3}), rand_f64({2, 1}, 502), f64_tensor({-4}, {})},
              {2, 3}),
      ew_case("broadcast condition", {bool_tensor({1, 0}, {2, 1}), rand_f64({2, 4}, 503), rand_f64({4}, 504)},
              {2, 4}),
      ew_case("0-d", {bool_tensor({0}, {}), rand_f64({}, 505), rand_f64({}, 506)}, {}),
      no_grad(ew_case("i64 values", {bool_tensor({1, 0, 1, 0}, {4}), index_tensor({1, 2, 3, 4}, {4}),
                      index_tensor({-1, -2, -3, -4}, {4})},
                      {4}, 8)),
  };
}

}  // namespace plumb::testing
