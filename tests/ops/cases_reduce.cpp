// Conformance cases for the reductions: sum, mean, max, argmax. Costs are counted by brute force: every
// input element is mapped to the output it folds into; sum/max/argmax spend one combine per element after
// the first of each output, mean one add per element (n - 1 adds plus the divide). Floating inputs are
// priced at f32 (4 bytes), integer and bool inputs at their own width.
#include <cmath>
#include <map>

#include "harness.h"

namespace plumb::testing {

namespace {

double elem_bytes(DType t) { return is_floating(t) ? 4.0 : static_cast<double>(dtype_size(t)); }

// `reduced` lists the (non-negative) reduced dims; out_elem_bytes is the output's element size.
Cost count_reduce(const Tensor& x, const std::vector<int64_t>& reduced, bool is_mean, double out_elem_bytes) {
  const Shape& shape = x.shape();
  std::vector<bool> is_reduced(shape.size(), false);
  for (int64_t d : reduced) is_reduced[static_cast<size_t>(d)] = true;
  int64_t n_out = 1;
  for (size_t d = 0; d < shape.size(); ++d)
    if (!is_reduced[d]) n_out *= shape[d];
  std::map<int64_t, int64_t> folded;  // output index -> input elements folded into it
  for (int64_t o = 0; o < n_out; ++o) folded[o] = 0;
  double read = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    // Unravel i, then ravel its kept coordinates.
    std::vector<int64_t> idx(shape.size());
    int64_t rem = i;
    for (size_t d = shape.size(); d-- > 0;) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
    }
    int64_t o = 0;
    for (size_t d = 0; d < shape.size(); ++d)
      if (!is_reduced[d]) o = o * shape[d] + idx[d];
    folded[o] += 1;
    read += elem_bytes(x.dtype());
  }
  double flops = 0, written = 0;
  for (const auto& [o, n] : folded) {
    flops += is_mean ? static_cast<double>(n) : static_cast<double>(std::max<int64_t>(n - 1, 0));
    written += out_elem_bytes;
  }
  return cost_of(flops, read, written);
}

ReduceAttrs reduce_attrs(std::vector<int64_t> axes, bool keepdim) {
  ReduceAttrs a;
  a.axes = std::move(axes);
  a.keepdim = keepdim;
  return a;
}

enum class Kind { sum, mean, max };

// `axes` go to the op as written; `reduced` is the same set normalized, for the brute-force count.
OpCase reduce_case(Kind kind, std::string label, Tensor x, std::vector<int64_t> axes, bool keepdim,
                   std::vector<int64_t> reduced) {
  OpCase c;
  c.label = std::move(label);
  const double out_bytes = kind == Kind::sum && !is_floating(x.dtype()) ? 8 : elem_bytes(x.dtype());
  c.expected_cost = count_reduce(x, reduced, kind == Kind::mean, out_bytes);
  c.inputs = {std::move(x)};
  c.attrs = attrs(reduce_attrs(std::move(axes), keepdim));
  if (!is_floating(c.inputs[0].dtype())) c.check_grad = false;
  return c;
}

// The shape family all three float reductions run on.
std::vector<OpCase> float_cases(Kind k, uint64_t seed) {
  return {
      reduce_case(k, "last axis", rand_f64({2, 3}, seed), {1}, false, {1}),
      reduce_case(k, "first axis keepdim", rand_f64({3, 4}, seed + 1), {0}, true, {0}),
      reduce_case(k, "two of three axes", rand_f64({2, 3, 4}, seed + 2), {0, 2}, false, {0, 2}),
      reduce_case(k, "middle, negative axis", rand_f64({2, 3, 2}, seed + 3), {-2}, true, {1}),
      reduce_case(k, "all (empty axes)", rand_f64({3, 2}, seed + 4), {}, false, {0, 1}),
      reduce_case(k, "all keepdim", rand_f64({2, 2, 2}, seed + 5), {}, true, {0, 1, 2}),
      reduce_case(k, "0-d", rand_f64({}, seed + 6), {}, false, {}),
      reduce_case(k, "size-1 axis", rand_f64({4, 1}, seed + 7), {1}, false, {1}),
      reduce_case(k, "1-d", rand_f64({5}, seed + 8), {0}, false, {0}),
  };
}

Tensor bool_tensor(const std::vector<int>& v, Shape shape) {
  Tensor t = Tensor::empty(std::move(shape), DType::boolean);
  for (size_t i = 0; i < v.size(); ++i) set_element_from_double(t, static_cast<int64_t>(i), v[i]);
  return t;
}

std::vector<OpCase> append(std::vector<OpCase> a, std::vector<OpCase> b) {
  for (OpCase& c : b) a.push_back(std::move(c));
  return a;
}

ArgReduceAttrs arg_attrs(int64_t axis, bool keepdim) {
  ArgReduceAttrs a;
  a.axis = axis;
  a.keepdim = keepdim;
  return a;
}

// argmax writes i64 (8 bytes); the count is the same as max's.
OpCase argmax_case(std::string label, Tensor x, int64_t axis, bool keepdim, int64_t reduced_dim) {
  OpCase c;
  c.label = std::move(label);
  c.expected_cost = count_reduce(x, {reduced_dim}, false, 8);
  c.inputs = {std::move(x)};
  c.attrs = attrs(arg_attrs(axis, keepdim));
  return c;
}

}  // namespace

PLUMB_OP_CASES(sum) {
  return append(float_cases(Kind::sum, 10),
                {
                    reduce_case(Kind::sum, "empty axis is 0", rand_f64({0, 3}, 30), {0}, false, {0}),
                    reduce_case(Kind::sum, "i64 to i64", index_tensor({4, -9, 2, 7, 0, 3}, {2, 3}), {0}, false, {0}),
                    reduce_case(Kind::sum, "bool counts as i64", bool_tensor({1, 0, 1, 1, 1, 0}, {3, 2}), {}, false,
                                {0, 1}),
                });
}

PLUMB_OP_CASES(mean) {
  return append(float_cases(Kind::mean, 40),
                {reduce_case(Kind::mean, "4-d spatial", rand_f64({2, 2, 2, 3}, 60), {2, 3}, true, {2, 3})});
}

// Random values have unique maxima; the tie case has exactly two equal maxima per row, where central
// differences give 1/2 to each, the even split the vjp promises.
PLUMB_OP_CASES(max) {
  return append(float_cases(Kind::max, 70),
                {
                    reduce_case(Kind::max, "two-way ties",
                                Tensor::from_vector<double>({0.5, 0.5, -1, 0.25, 0.75, 0.75}, {2, 3}), {1}, false,
                                {1}),
                    reduce_case(Kind::max, "i64", index_tensor({4, -9, 2, 7, 0, 3}, {3, 2}), {-1}, true, {1}),
                    reduce_case(Kind::max, "bool", bool_tensor({0, 0, 1, 0}, {2, 2}), {0}, false, {0}),
                });
}

PLUMB_OP_CASES(argmax) {
  return {
      argmax_case("last axis", rand_f64({3, 4}, 90), 1, false, 1),
      argmax_case("first axis keepdim", rand_f64({3, 4}, 91), 0, true, 0),
      argmax_case("middle, negative axis", rand_f64({2, 3, 2}, 92), -2, false, 1),
      argmax_case("ties: first wins", Tensor::from_vector<double>({0.5, 1, 1, -1, -1, -1}, {2, 3}), 1, false, 1),
      argmax_case("1-d", rand_f64({6}, 93), 0, false, 0),
      argmax_case("size-1 axis", rand_f64({3, 1}, 94), 1, true, 1),
      argmax_case("i64", index_tensor({4, -9, 2, 7, 7, 3}, {2, 3}), 1, false, 1),
  };
}

}  // namespace plumb::testing
