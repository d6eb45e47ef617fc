// Conformance cases for uniform, normal and bernoulli. Random values can only be compared bitwise
// (backends must reproduce the Philox stream), so no gradient checks; the cost is the output write.
#include "harness.h"

namespace plumb::testing {

namespace {

RandomAttrs random_attrs(Shape shape, double a, double b, int64_t seed, int64_t offset, DType dtype) {
  RandomAttrs r;
  r.shape = std::move(shape);
  r.a = a;
  r.b = b;
  r.seed = seed;
  r.offset = offset;
  r.dtype = dtype;
  return r;
}

RandomAttrs truncated(RandomAttrs r, double lo, double hi) {
  r.lo = lo;
  r.hi = hi;
  return r;
}

OpCase random_case(std::string label, RandomAttrs r) {
  OpCase c;
  c.label = std::move(label);
  double written = 0;
  for (int64_t i = 0; i < numel(r.shape); ++i) written += static_cast<double>(dtype_size(r.dtype));
  c.expected_cost = cost_of(0, 0, written);
  c.attrs = attrs(std::move(r));
  c.check_grad = false;
  c.dtypes = {DType::f64};  // no floating inputs: the attrs' dtype is the output's
  return c;
}

}  // namespace

PLUMB_OP_CASES(uniform) {
  return {
      random_case("f32 matrix", random_attrs({3, 4}, -2, 3, 7, 0, DType::f32)),
      random_case("f64 with offset", random_attrs({5}, 0, 1, 123, 1000, DType::f64)),
      random_case("0-d", random_attrs({}, 1, 1, 1, 5, DType::f32)),
      random_case("empty", random_attrs({0, 3}, 0, 1, 1, 0, DType::f64)),
  };
}

PLUMB_OP_CASES(normal) {
  return {
      random_case("f32 standard", random_attrs({4, 3}, 0, 1, 9, 0, DType::f32)),
      random_case("f64 shifted", random_attrs({2, 2, 2}, 5, 0.5, 42, 77, DType::f64)),
      random_case("zero std", random_attrs({3}, -1, 0, 3, 0, DType::f32)),
      random_case("f32 truncated at 1 std", truncated(random_attrs({64}, 0, 1, 5, 0, DType::f32), -1, 1)),
      random_case("f64 truncated one-sided", truncated(random_attrs({7, 3}, 2, 0.5, 8, 40, DType::f64), 1.9, 5)),
  };
}

PLUMB_OP_CASES(bernoulli) {
  return {
      random_case("f32 half", random_attrs({6, 2}, 0.5, 0, 11, 0, DType::f32)),
      random_case("f64 rare", random_attrs({10}, 0.1, 0, 12, 500, DType::f64)),
      random_case("p = 1", random_attrs({4}, 1, 0, 13, 0, DType::f32)),
  };
}

}  // namespace plumb::testing
