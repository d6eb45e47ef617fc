#pragma once
// The op conformance harness: each cases_<family>.cpp registers sample inputs per op; harness.cpp
// runs every case on every backend against cpu/reference, gradient-checks it in f64, checks its
// cost against a brute-force count, on meta, and with non-contiguous inputs.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "plumb/dispatch.h"
#include "plumb/op.h"
#include "plumb/op_attrs.h"
#include "plumb/ops.h"

namespace plumb::testing {

struct OpCase {
  std::string label;                 // short description, e.g. "broadcast row"
  std::vector<Tensor> inputs;        // float inputs in f64; index/bool inputs in their own dtype
  std::shared_ptr<Attrs> attrs = std::make_shared<NoAttrs>();
  bool check_grad = true;            // gradient-check the floating inputs in f64
  std::vector<int> grad_inputs;      // which inputs to check; empty = every floating input
  // Counted by brute force in the cases file, for the case's inputs cast to f32 (index and bool
  // inputs keep their dtype), i.e. 4 bytes per floating element.
  std::optional<Cost> expected_cost;
  double atol = 1e-4, rtol = 1e-4;   // f32 vs f64-reference tolerance
  double grad_tol = 1e-5;            // f64 numeric vs analytic gradient tolerance
  double grad_step = 1e-6;           // central-difference step
  std::vector<DType> dtypes = {DType::f64, DType::f32};  // floating inputs are cast to each
};

using CaseFn = std::function<std::vector<OpCase>()>;

struct CaseRegistrar {
  CaseRegistrar(const char* op, CaseFn fn);
};

// Registers cases for `op`: PLUMB_OP_CASES(add) { return {...}; }
#define PLUMB_CASES_CAT2(a, b) a##b
#define PLUMB_CASES_CAT(a, b) PLUMB_CASES_CAT2(a, b)
#define PLUMB_OP_CASES(op)                                                                          \
  static std::vector<::plumb::testing::OpCase> PLUMB_CASES_CAT(cases_fn_, op)();                  \
  static ::plumb::testing::CaseRegistrar PLUMB_CASES_CAT(cases_reg_, op)(#op,                     \
                                                                         &PLUMB_CASES_CAT(cases_fn_, op)); \
  static std::vector<::plumb::testing::OpCase> PLUMB_CASES_CAT(cases_fn_, op)()

// Deterministic f64 tensor with values uniform in [lo, hi).
Tensor rand_f64(Shape shape, uint64_t seed, double lo = -1, double hi = 1);
// Values bounded away from zero (|x| in [lo, hi]), for ops with kinks or poles at 0.
Tensor rand_away_from_zero(Shape shape, uint64_t seed, double lo = 0.2, double hi = 1.5);
Tensor index_tensor(const std::vector<int64_t>& values, Shape shape);  // i64
template <class A>
std::shared_ptr<Attrs> attrs(A a) {
  return std::make_shared<A>(std::move(a));
}
Cost cost_of(double flops, double bytes_read, double bytes_written);

const std::vector<std::pair<std::string, CaseFn>>& all_cases();

}  // namespace plumb::testing
