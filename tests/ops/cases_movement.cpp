// Conformance cases for the movement ops: reshape, permute, expand, slice, split, copy, concat, pad.
// Costs are counted element by element for the inputs cast to f32 (4 bytes per element).
#include <map>

#include "harness.h"
#include "plumb/autograd.h"
#include "test_util.h"

namespace plumb::testing {

namespace {

constexpr double kF32 = 4;

// Bytes of reading (or writing) every element of `shape` once at f32, counted one element at a time.
double f32_bytes(const Shape& shape) {
  double bytes = 0;
  const int64_t n = numel(shape);
  for (int64_t i = 0; i < n; ++i) bytes += kF32;
  return bytes;
}

ShapeAttrs shape_attrs(Shape s) {
  ShapeAttrs a;
  a.shape = std::move(s);
  return a;
}

PermuteAttrs perm_attrs(std::vector<int64_t> dims) {
  PermuteAttrs a;
  a.dims = std::move(dims);
  return a;
}

SliceAttrs slice_attrs(int64_t axis, int64_t start, int64_t stop, int64_t step) {
  SliceAttrs a;
  a.axis = axis;
  a.start = start;
  a.stop = stop;
  a.step = step;
  return a;
}

PadAttrs pad_attrs(std::vector<int64_t> pads, double value) {
  PadAttrs a;
  a.pads = std::move(pads);
  a.value = value;
  return a;
}

AxisAttrs axis_attrs(int64_t axis) {
  AxisAttrs a;
  a.axis = axis;
  return a;
}

// A view case: no FLOPs and no bytes.
OpCase view_case(std::string label, Tensor x, std::shared_ptr<Attrs> a) {
  OpCase c;
  c.label = std::move(label);
  c.inputs = {std::move(x)};
  c.attrs = std::move(a);
  c.expected_cost = cost_of(0, 0, 0);
  return c;
}

}  // namespace

PLUMB_OP_CASES(reshape) {
  return {
      view_case("split and merge", rand_f64({2, 3, 4}, 1), attrs(shape_attrs({6, 4}))),
      view_case("infer -1", rand_f64({2, 3, 4}, 2), attrs(shape_attrs({4, -1, 2}))),
      view_case("to 1-d", rand_f64({3, 2}, 3), attrs(shape_attrs({-1}))),
      view_case("size-1 dims", rand_f64({1, 5, 1}, 4), attrs(shape_attrs({5, 1, 1, 1}))),
      view_case("0-d to (1, 1)", rand_f64({}, 5), attrs(shape_attrs({1, 1}))),
      view_case("(1,) to 0-d", rand_f64({1}, 6), attrs(shape_attrs({}))),
  };
}

PLUMB_OP_CASES(permute) {
  return {
      view_case("transpose 2-d", rand_f64({3, 4}, 11), attrs(perm_attrs({1, 0}))),
      view_case("rotate 3-d", rand_f64({2, 3, 4}, 12), attrs(perm_attrs({2, 0, 1}))),
      view_case("negative dims", rand_f64({2, 1, 3}, 13), attrs(perm_attrs({-1, 0, -2}))),
      view_case("identity 1-d", rand_f64({5}, 14), attrs(perm_attrs({0}))),
      view_case("0-d", rand_f64({}, 15), attrs(perm_attrs({}))),
  };
}

PLUMB_OP_CASES(expand) {
  return {
      view_case("row to matrix", rand_f64({1, 4}, 21), attrs(shape_attrs({3, 4}))),
      view_case("new leading dims", rand_f64({3, 1}, 22), attrs(shape_attrs({2, 3, 5}))),
      view_case("-1 keeps a dim", rand_f64({2, 1, 3}, 23), attrs(shape_attrs({-1, 4, -1}))),
      view_case("0-d to matrix", rand_f64({}, 24), attrs(shape_attrs({2, 3}))),
      view_case("no-op", rand_f64({2, 3}, 25), attrs(shape_attrs({2, 3}))),
  };
}

PLUMB_OP_CASES(slice) {
  return {
      view_case("middle rows", rand_f64({5, 3}, 31), attrs(slice_attrs(0, 1, 4, 1))),
      view_case("negative bounds", rand_f64({3, 6}, 32), attrs(slice_attrs(-1, -4, -1, 1))),
      view_case("step 2", rand_f64({7, 2}, 33), attrs(slice_attrs(0, 1, 7, 2))),
      view_case("step 3 short tail", rand_f64({2, 8}, 34), attrs(slice_attrs(1, 0, 5, 3))),
      view_case("step 3 to the end", rand_f64({7}, 38), attrs(slice_attrs(0, 0, 7, 3))),
      view_case("clamped stop", rand_f64({4}, 35), attrs(slice_attrs(0, 2, 100, 1))),
      view_case("empty", rand_f64({3, 4}, 36), attrs(slice_attrs(1, 3, 1, 1))),
      view_case("size-1 axis", rand_f64({2, 1, 3}, 37), attrs(slice_attrs(1, 0, 1, 2))),
  };
}

PLUMB_OP_CASES(split) {
  auto split_attrs = [](int64_t axis, std::vector<int64_t> sizes) {
    SplitAttrs a;
    a.axis = axis;
    a.sizes = std::move(sizes);
    return attrs(a);
  };
  return {
      view_case("rows", rand_f64({5, 3}, 301), split_attrs(0, {2, 1, 2})),
      view_case("columns, negative axis", rand_f64({3, 6}, 302), split_attrs(-1, {1, 4, 1})),
      view_case("middle axis into ones", rand_f64({2, 4, 3}, 303), split_attrs(1, {1, 1, 1, 1})),
      view_case("empty pieces", rand_f64({2, 5}, 304), split_attrs(1, {0, 3, 0, 2})),
      view_case("one piece", rand_f64({4}, 305), split_attrs(0, {4})),
  };
}

PLUMB_OP_CASES(copy) {
  auto copy_case = [](std::string label, Tensor x) {
    OpCase c;
    c.label = std::move(label);
    c.expected_cost = cost_of(0, f32_bytes(x.shape()), f32_bytes(x.shape()));
    c.inputs = {std::move(x)};
    return c;
  };
  return {
      copy_case("matrix", rand_f64({3, 4}, 41)),
      copy_case("3-d", rand_f64({2, 3, 2}, 42)),
      copy_case("size-1 dims", rand_f64({1, 4, 1}, 43)),
      copy_case("0-d", rand_f64({}, 44)),
  };
}

PLUMB_OP_CASES(concat) {
  auto concat_case = [](std::string label, std::vector<Tensor> xs, int64_t axis) {
    OpCase c;
    c.label = std::move(label);
    double read = 0, written = 0;
    for (const Tensor& x : xs)
      for (int64_t i = 0; i < x.numel(); ++i) {
        read += kF32;     // every input element is read once...
        written += kF32;  // ...and lands in exactly one output element
      }
    c.expected_cost = cost_of(0, read, written);
    c.inputs = std::move(xs);
    c.attrs = attrs(axis_attrs(axis));
    return c;
  };
  return {
      concat_case("rows", {rand_f64({2, 3}, 51), rand_f64({1, 3}, 52), rand_f64({3, 3}, 53)}, 0),
      concat_case("columns", {rand_f64({2, 1}, 54), rand_f64({2, 4}, 55)}, 1),
      concat_case("middle axis, negative", {rand_f64({2, 2, 3}, 56), rand_f64({2, 1, 3}, 57)}, -2),
      concat_case("single input", {rand_f64({4}, 58)}, 0),
      concat_case("empty part", {rand_f64({2, 0}, 59), rand_f64({2, 3}, 60)}, 1),
  };
}

PLUMB_OP_CASES(pad) {
  auto pad_case = [](std::string label, Tensor x, std::vector<int64_t> pads, double value) {
    OpCase c;
    c.label = std::move(label);
    const int64_t r = x.dim();
    Shape out(r);
    for (int64_t d = 0; d < r; ++d) out[d] = x.shape()[d] + pads[d] + pads[d + r];
    c.expected_cost = cost_of(0, f32_bytes(x.shape()), f32_bytes(out));
    c.inputs = {std::move(x)};
    c.attrs = attrs(pad_attrs(std::move(pads), value));
    return c;
  };
  return {
      pad_case("2-d zeros", rand_f64({2, 3}, 61), {1, 0, 2, 1}, 0),
      pad_case("1-d value", rand_f64({4}, 62), {2, 3}, 1.5),
      pad_case("4-d spatial", rand_f64({1, 2, 2, 3}, 63), {0, 0, 1, 2, 0, 0, 1, 0}, -0.25),
      pad_case("negative crops", rand_f64({4, 5}, 64), {-1, 2, 0, -2}, 0),
      pad_case("no padding", rand_f64({2, 2}, 65), {0, 0, 0, 0}, 3),
      pad_case("0-d", rand_f64({}, 66), {}, 0),
  };
}

namespace {

using test_util::error_of;
using test_util::iota;
using test_util::values;

struct BackwardOps : DispatchObserver {
  std::map<std::string, int> count;
  void on_op(const OpEvent& e) override {
    if (e.phase == Phase::backward) count[e.op->name]++;
  }
};

}  // namespace

TEST(Split, PiecesAreViewsOfTheInput) {
  const Tensor x = iota({3, 4});
  const std::vector<Tensor> p = split(x, 1, {1, 3});
  ASSERT_EQ(p.size(), 2u);
  EXPECT_TRUE(p[0].same_storage(x));
  EXPECT_TRUE(p[1].same_storage(x));
  EXPECT_EQ(p[1].shape(), (Shape{3, 3}));
  EXPECT_EQ(values(p[0]), (std::vector<double>{0, 4, 8}));
  EXPECT_EQ(values(p[1]), (std::vector<double>{1, 2, 3, 5, 6, 7, 9, 10, 11}));
  // A transposed input stays a view too.
  const std::vector<Tensor> q = split(transpose(x, 0, 1), 0, {2, 2});
  EXPECT_TRUE(q[1].same_storage(x));
  EXPECT_EQ(values(q[1]), (std::vector<double>{2, 6, 10, 3, 7, 11}));
  EXPECT_TRUE(op_def("split").is_view());
}

TEST(Split, UnbindSqueezesEachStep) {
  const Tensor x = iota({3, 2, 2});
  const std::vector<Tensor> steps = unbind(x, 0);
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[2].shape(), (Shape{2, 2}));
  EXPECT_EQ(values(steps[2]), (std::vector<double>{8, 9, 10, 11}));
  const std::vector<Tensor> cols = unbind(x, -1);
  ASSERT_EQ(cols.size(), 2u);
  EXPECT_EQ(values(cols[1]), (std::vector<double>{1, 3, 5, 7, 9, 11}));
}

TEST(Split, Errors) {
  EXPECT_EQ(error_of([] { split(iota({2, 5}), 1, {2, 2}); }),
            "split: sizes [2, 2] sum to 4 but axis 1 of input (2, 5) has length 5");
  EXPECT_EQ(error_of([] { split(iota({2, 5}), 1, {6, -1}); }),
            "split: size -1 (entry 1 of [6, -1]) is negative");
  EXPECT_EQ(error_of([] { split(iota({2, 5}), 2, {5}); }), "split: axis 2 is out of range for rank 2");
  EXPECT_EQ(error_of([] { split(iota({}), 0, {}); }), "split: input must have rank >= 1, got a 0-d input");
  EXPECT_EQ(error_of([] { unbind(iota({2}), -2); }), "unbind: axis -2 is out of range for rank 1");
}

// Only some pieces reach the loss: the others' gradient is zero, and the whole backward of the
// split is one concat (no pad, no add), checked against central differences in f64.
TEST(Split, GradientWithPiecesThatGetNone) {
  Tensor x = rand_f64({4, 7}, 310);
  x.set_requires_grad(true);
  const Tensor w1 = rand_f64({4, 3}, 311), w3 = rand_f64({4, 1}, 312);
  auto loss_of = [&](const Tensor& in) {
    const std::vector<Tensor> p = split(in, 1, {2, 3, 1, 1});
    return add(sum(mul(p[1], w1)), sum(mul(p[3], w3)));
  };
  BackwardOps ops;
  Tensor g;
  {
    ObserverScope scope(&ops);
    g = grad({loss_of(x)}, {x})[0];
  }
  EXPECT_EQ(ops.count["concat"], 1);
  EXPECT_EQ(ops.count["pad"], 0);
  EXPECT_EQ(ops.count["add"], 0);
  const std::vector<double> gv = values(g), w1v = values(w1), w3v = values(w3);
  for (int64_t r = 0; r < 4; ++r) {
    for (int64_t c = 0; c < 7; ++c) {
      const double want = c >= 2 && c < 5 ? w1v[r * 3 + (c - 2)] : c == 6 ? w3v[r] : 0.0;
      EXPECT_EQ(gv[r * 7 + c], want) << "row " << r << " col " << c;
    }
  }
  NoGradScope no_grad;
  const double h = 1e-6;
  const std::vector<double> xv = values(x);
  for (int64_t i = 0; i < 28; ++i) {
    std::vector<double> plus = xv, minus = xv;
    plus[i] += h;
    minus[i] -= h;
    const double numeric = (values(loss_of(Tensor::from_vector(plus, {4, 7})))[0] -
                            values(loss_of(Tensor::from_vector(minus, {4, 7})))[0]) / (2 * h);
    EXPECT_NEAR(gv[i], numeric, 1e-6) << "element " << i;
  }
}

}  // namespace plumb::testing
