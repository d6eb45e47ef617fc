// Conformance cases for index_select, gather and scatter_add. Costs are counted element by element:
// floating inputs at f32 (4 bytes), indices at their own width (i64: 8, i32: 4).
#include "harness.h"

namespace plumb::testing {

namespace {

AxisAttrs axis_attrs(int64_t axis) {
  AxisAttrs a;
  a.axis = axis;
  return a;
}

Tensor index_i32(const std::vector<int32_t>& values, Shape shape) { return Tensor::from_vector(values, shape); }

double elem_bytes(const Tensor& t) { return is_floating(t.dtype()) ? 4.0 : static_cast<double>(dtype_size(t.dtype())); }

// index_select / gather: read each index entry, then one table element per output element; write the output.
OpCase lookup_case(std::string label, Tensor x, Tensor index, int64_t axis, const Shape& out_shape) {
  OpCase c;
  c.label = std::move(label);
  double read = 0, written = 0;
  for (int64_t i = 0; i < index.numel(); ++i) read += elem_bytes(index);
  for (int64_t i = 0; i < numel(out_shape); ++i) {
    read += 4;     // the gathered element
    written += 4;  // its copy in the output
  }
  c.expected_cost = cost_of(0, read, written);
  c.inputs = {std::move(x), std::move(index)};
  c.attrs = attrs(axis_attrs(axis));
  return c;
}

}  // namespace

PLUMB_OP_CASES(index_select) {
  return {
      lookup_case("rows", rand_f64({5, 3}, 1), index_tensor({4, 0, 2, 2}, {4}), 0, {4, 3}),
      lookup_case("columns, i32", rand_f64({2, 4}, 2), index_i32({3, 1}, {2}), 1, {2, 2}),
      lookup_case("middle axis, negative axis", rand_f64({2, 3, 2}, 3), index_tensor({1, 1, 0, 2, 1}, {5}), -2,
                  {2, 5, 2}),
      lookup_case("1-d table", rand_f64({6}, 4), index_tensor({5, 0}, {2}), 0, {2}),
      lookup_case("empty index", rand_f64({3, 2}, 5), index_tensor({}, {0}), 0, {0, 2}),
  };
}

PLUMB_OP_CASES(gather) {
  return {
      lookup_case("axis 0", rand_f64({3, 4}, 11), index_tensor({2, 0, 1, 2, 1, 1, 0, 0}, {2, 4}), 0, {2, 4}),
      lookup_case("axis 1, smaller index", rand_f64({3, 4}, 12), index_tensor({3, 3, 0, 1, 2, 0}, {3, 2}), 1, {3, 2}),
      lookup_case("3-d last axis, i32", rand_f64({2, 2, 3}, 13),
                  index_i32({2, 0, 1, 1, 0, 0, 2, 2}, {2, 2, 2}), -1, {2, 2, 2}),
      lookup_case("repeated, larger along axis", rand_f64({2, 2}, 14), index_tensor({1, 1, 1, 0, 0, 0}, {3, 2}), 0,
                  {3, 2}),
      lookup_case("1-d", rand_f64({5}, 15), index_tensor({4, 4, 0}, {3}), 0, {3}),
  };
}

PLUMB_OP_CASES(scatter_add) {
  auto scatter_case = [](std::string label, Tensor x, Tensor index, Tensor src, int64_t axis) {
    OpCase c;
    c.label = std::move(label);
    double flops = 0, read = 0, written = 0;
    for (int64_t i = 0; i < x.numel(); ++i) {
      read += 4;     // x is read once
      written += 4;  // and the output written once
    }
    for (int64_t i = 0; i < src.numel(); ++i) {
      flops += 1;                  // one add per source element
      read += 4 + elem_bytes(index);  // its value and its index
    }
    c.expected_cost = cost_of(flops, read, written);
    c.inputs = {std::move(x), std::move(index), std::move(src)};
    c.attrs = attrs(axis_attrs(axis));
    return c;
  };
  return {
      scatter_case("axis 0 with repeats", rand_f64({3, 2}, 21), index_tensor({2, 0, 2, 2}, {2, 2}),
                   rand_f64({2, 2}, 22), 0),
      scatter_case("axis 1, smaller index", rand_f64({2, 4}, 23), index_tensor({3, 0, 1, 1, 3}, {1, 5}),
                   rand_f64({1, 5}, 24), 1),
      scatter_case("3-d middle axis, i32", rand_f64({2, 3, 2}, 25),
                   index_i32({0, 2, 1, 1, 2, 2, 0, 0}, {2, 2, 2}), rand_f64({2, 2, 2}, 26), 1),
      scatter_case("1-d", rand_f64({4}, 27), index_tensor({3, 3, 1}, {3}), rand_f64({3}, 28), -1),
      scatter_case("empty src", rand_f64({2, 2}, 29), index_tensor({}, {0, 2}), rand_f64({0, 2}, 30), 0),
  };
}

}  // namespace plumb::testing
