// Direct value tests of the movement ops: views and their aliasing, copies of strided layouts in every
// dtype, concat, pad, the composed helpers, gradients, and the error messages of bad input.
#include <gtest/gtest.h>

#include <cstring>

#include "ops/op_def.h"
#include "plumb/autograd.h"
#include "plumb/ops.h"
#include "test_util.h"

namespace plumb {
namespace {

using namespace test_util;
TEST(Movement, ReshapeIsAViewOfContiguousInput) {
  Tensor x = iota({24});
  Tensor y = reshape(x, {2, 3, 4});
  EXPECT_EQ(y.shape(), (Shape{2, 3, 4}));
  EXPECT_TRUE(y.same_storage(x));
  EXPECT_EQ(values(y), values(x));
  EXPECT_EQ(reshape(x, {4, -1}).shape(), (Shape{4, 6}));
  EXPECT_EQ(reshape(iota({1, 1}), {}).shape(), Shape{});
}

TEST(Movement, ReshapeOfTransposedInputCopies) {
  Tensor x = iota({2, 3});
  Tensor t = transpose(x, 0, 1);  // (3, 2): [[0, 3], [1, 4], [2, 5]]
  EXPECT_FALSE(t.is_contiguous());
  Tensor y = reshape(t, {6});
  EXPECT_FALSE(y.same_storage(x));
  EXPECT_EQ(values(y), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST(Movement, ReshapeOfViewableStridedInputStaysAView) {
  Tensor x = iota({4, 6});
  Tensor s = slice(x, 1, 0, 3);  // (4, 3) with row stride 6
  Tensor y = reshape(s, {2, 2, 3});
  EXPECT_TRUE(y.same_storage(x));
  EXPECT_EQ(values(y), values(s));
  // Merging the rows of a column slice is not viewable: it copies.
  Tensor z = reshape(s, {12});
  EXPECT_FALSE(z.same_storage(x));
  EXPECT_EQ(values(z), (std::vector<double>{0, 1, 2, 6, 7, 8, 12, 13, 14, 18, 19, 20}));
}

TEST(Movement, ExpandThenReshapeCopies) {
  Tensor x = vec({1, 2, 3}, {1, 3});
  Tensor e = expand(x, {2, 3});
  EXPECT_EQ(e.strides(), (Shape{0, 1}));
  EXPECT_TRUE(e.same_storage(x));
  Tensor y = reshape(e, {6});
  EXPECT_FALSE(y.same_storage(x));
  EXPECT_EQ(values(y), (std::vector<double>{1, 2, 3, 1, 2, 3}));
}

TEST(Movement, ReshapeDirectDispatchOfUnviewableLayoutStillWorks) {
  // The record's view function, called without the front-end's contiguous(), views a copy.
  Tensor t = transpose(iota({2, 3}), 0, 1);
  ShapeAttrs a;
  a.shape = {6};
  std::vector<Tensor> in{t};
  Tensor y = dispatch1(op_def("reshape"), in, a);
  EXPECT_EQ(values(y), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST(Movement, ReshapeErrors) {
  EXPECT_EQ(error_of([] { reshape(iota({2, 3}), {-1, -1}); }), "reshape: target shape [-1, -1] has more than one -1");
  EXPECT_EQ(error_of([] { reshape(iota({2, 3}), {4}); }),
            "reshape: cannot reshape (2, 3) (6 elements) to (4,) (4 elements)");
  EXPECT_EQ(error_of([] { reshape(iota({2, 3}), {4, -1}); }),
            "reshape: cannot infer the -1 of [4, -1] for an input of shape (2, 3) (6 elements)");
  EXPECT_EQ(error_of([] { reshape(iota({2, 3}), {-2, 3}); }), "reshape: target shape [-2, 3] has negative dimension -2");
}

TEST(Movement, PermuteValuesAndErrors) {
  Tensor x = iota({2, 3, 4});
  Tensor y = permute(x, {2, 0, 1});
  EXPECT_EQ(y.shape(), (Shape{4, 2, 3}));
  EXPECT_TRUE(y.same_storage(x));
  // y[k, i, j] = x[i, j, k]
  for (int64_t k = 0; k < 4; ++k)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j)
        EXPECT_EQ(element_as_double(y, (k * 2 + i) * 3 + j), static_cast<double>((i * 3 + j) * 4 + k));
  EXPECT_EQ(error_of([&] { permute(x, {0, 0, 1}); }), "permute: dims [0, 0, 1] are not a permutation (0 repeats)");
  EXPECT_EQ(error_of([&] { permute(x, {0, 1}); }), "permute: dims [0, 1] have 2 entries for an input of rank 3");
  EXPECT_EQ(error_of([&] { permute(x, {0, 1, 3}); }), "permute: dim 3 in [0, 1, 3] is out of range for rank 3");
}

TEST(Movement, ExpandRules) {
  Tensor x = vec({1, 2}, {2, 1});
  Tensor y = expand(x, {3, -1, 4});
  EXPECT_EQ(y.shape(), (Shape{3, 2, 4}));
  EXPECT_EQ(y.strides(), (Shape{0, 1, 0}));
  EXPECT_EQ(element_as_double(y, 2 * 8 + 1 * 4 + 3), 2.0);
  EXPECT_EQ(expand(Tensor::scalar(5, DType::f64), {2, 2}).to_vector<double>(), (std::vector<double>{5, 5, 5, 5}));
  EXPECT_EQ(error_of([&] { expand(x, {3, 3}); }),
            "expand: cannot expand axis 0 of size 2 to 3 (input (2, 1), target [3, 3])");
  EXPECT_EQ(error_of([&] { expand(x, {4}); }), "expand: target shape [4] has fewer dims than the input (2, 1)");
  EXPECT_EQ(error_of([&] { expand(x, {-1, 2, 1}); }), "expand: new leading axis 0 of [-1, 2, 1] needs a size >= 0, got -1");
}

TEST(Movement, SliceBounds) {
  Tensor x = iota({10});
  EXPECT_EQ(values(slice(x, 0, 2, 5)), (std::vector<double>{2, 3, 4}));
  EXPECT_EQ(values(slice(x, 0, -3, 100)), (std::vector<double>{7, 8, 9}));
  EXPECT_EQ(values(slice(x, 0, 1, 10, 4)), (std::vector<double>{1, 5, 9}));
  EXPECT_EQ(values(slice(x, 0, -100, 2)), (std::vector<double>{0, 1}));
  EXPECT_EQ(slice(x, 0, 6, 3).shape(), (Shape{0}));
  Tensor m = iota({3, 4});
  Tensor s = slice(m, -1, 1, 4, 2);  // columns 1 and 3
  EXPECT_TRUE(s.same_storage(m));
  EXPECT_EQ(values(s), (std::vector<double>{1, 3, 5, 7, 9, 11}));
  EXPECT_EQ(error_of([&] { slice(x, 0, 0, 5, 0); }), "slice: step must be positive, got 0");
  EXPECT_EQ(error_of([&] { slice(x, 1, 0, 5); }), "slice: axis 1 is out of range for rank 1");
}

// Fills a strided (transposed) view of each dtype, copies it and compares bits.
TEST(Movement, CopyHandlesEveryDTypeAndStride) {
  const DType all[] = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i64,
                       DType::i32, DType::i8,  DType::u8,  DType::boolean};
  for (DType dt : all) {
    Tensor base = Tensor::zeros({3, 4}, dt);
    for (int64_t i = 0; i < 12; ++i) set_element_from_double(base, i, dt == DType::boolean ? i % 2 : i % 7 - 2 * (dt != DType::u8));
    Tensor t = transpose(base, 0, 1);
    Tensor c = copy(t);
    EXPECT_TRUE(c.is_contiguous()) << dtype_name(dt);
    EXPECT_FALSE(c.same_storage(base)) << dtype_name(dt);
    EXPECT_EQ(c.dtype(), dt);
    const size_t w = dtype_size(dt);
    for (int64_t i = 0; i < 12; ++i) {
      const int64_t r = i / 3, col = i % 3;  // c[r, col] = base[col, r]
      const char* got = static_cast<const char*>(c.raw_data()) + i * w;
      const char* want = static_cast<const char*>(base.raw_data()) + (col * 4 + r) * w;
      EXPECT_EQ(std::memcmp(got, want, w), 0) << dtype_name(dt) << " element " << i;
    }
    // Zero strides (expand) and a negative-free offset view (slice) also copy.
    Tensor e = copy(expand(slice(base, 0, 1, 2), {2, 4}));
    EXPECT_EQ(e.shape(), (Shape{2, 4}));
    for (int64_t i = 0; i < 8; ++i)
      EXPECT_EQ(element_as_double(e, i), element_as_double(base, 4 + i % 4)) << dtype_name(dt);
  }
}

TEST(Movement, ContiguousReturnsItselfWhenContiguous) {
  Tensor x = iota({2, 3});
  Tensor c = contiguous(x);
  EXPECT_EQ(c.impl_ptr(), x.impl_ptr());
  Tensor t = contiguous(transpose(x, 0, 1));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(values(t), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST(Movement, ConcatValuesAndErrors) {
  Tensor a = iota({2, 2});
  Tensor b = vec({10, 11, 12, 13, 14, 15}, {2, 3});
  EXPECT_EQ(values(concat({a, b}, 1)), (std::vector<double>{0, 1, 10, 11, 12, 2, 3, 13, 14, 15}));
  EXPECT_EQ(values(concat({a, transpose(a, 0, 1)}, 0)), (std::vector<double>{0, 1, 2, 3, 0, 2, 1, 3}));
  Tensor i = Tensor::from_vector(std::vector<int64_t>{1, 2}, {2});
  Tensor j = Tensor::from_vector(std::vector<int64_t>{3}, {1});
  EXPECT_EQ(concat({i, j}, 0).to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(error_of([&] { concat({a, b}, 0); }),
            "concat: input 1 has shape (2, 3), input 0 has (2, 2); they must match except on axis 0");
  EXPECT_EQ(error_of([&] { concat({a, Tensor::zeros({2, 2}, DType::f32)}, 0); }),
            "concat: input 1 has dtype f32 but input 0 has f64");
  EXPECT_EQ(error_of([&] { concat({a, iota({4})}, 0); }), "concat: input 1 has rank 1 but input 0 has rank 2");
  EXPECT_EQ(error_of([&] { concat({}, 0); }), "concat: needs at least one input");
  EXPECT_EQ(error_of([&] { concat({Tensor::scalar(1)}, 0); }), "concat: inputs must have rank >= 1, input 0 is 0-d");
}

TEST(Movement, PadValues) {
  Tensor x = vec({1, 2, 3, 4}, {2, 2});
  // One row of 9 above, one column of 9 to the right.
  EXPECT_EQ(values(pad(x, {1, 0, 0, 1}, 9)), (std::vector<double>{9, 9, 9, 1, 2, 9, 3, 4, 9}));
  // Negative pads crop: drop row 0, add a zero column in front.
  EXPECT_EQ(values(pad(x, {-1, 1, 0, 0}, 0)), (std::vector<double>{0, 3, 4}));
  Tensor i = Tensor::from_vector(std::vector<int64_t>{5, 6}, {2});
  EXPECT_EQ(pad(i, {1, 2}, -1).to_vector<int64_t>(), (std::vector<int64_t>{-1, 5, 6, -1, -1}));
  Tensor h = Tensor::full({2}, 1.5, DType::f16);
  EXPECT_EQ(pad(h, {1, 0}, 0.25).to_vector<double>(), (std::vector<double>{0.25, 1.5, 1.5}));
  Tensor bf = Tensor::full({1}, 2, DType::bf16);
  EXPECT_EQ(pad(bf, {0, 1}, -3).to_vector<double>(), (std::vector<double>{2, -3}));
  EXPECT_EQ(error_of([&] { pad(x, {1, 1}); }),
            "pad: pads [1, 1] have 2 entries; an input of rank 2 needs 4 (begin_0.., end_0..)");
  EXPECT_EQ(error_of([&] { pad(x, {-2, 0, -1, 0}); }), "pad: pads [-2, 0, -1, 0] crop axis 0 of size 2 below zero");
}

TEST(Movement, HelpersShapes) {
  Tensor x = iota({2, 1, 3});
  EXPECT_EQ(squeeze(x, 1).shape(), (Shape{2, 3}));
  EXPECT_EQ(squeeze(x, -2).shape(), (Shape{2, 3}));
  EXPECT_EQ(unsqueeze(x, 0).shape(), (Shape{1, 2, 1, 3}));
  EXPECT_EQ(unsqueeze(x, -1).shape(), (Shape{2, 1, 3, 1}));
  EXPECT_EQ(flatten(x).shape(), (Shape{2, 3}));
  EXPECT_EQ(flatten(x, 0).shape(), (Shape{6}));
  EXPECT_EQ(flatten(Tensor::scalar(1)).shape(), (Shape{1}));
  EXPECT_EQ(transpose(x, 0, -1).shape(), (Shape{3, 1, 2}));
  // squeeze/unsqueeze of a transposed tensor stay views.
  Tensor t = transpose(iota({2, 3}), 0, 1);
  EXPECT_TRUE(unsqueeze(t, 1).same_storage(t));
  EXPECT_EQ(values(unsqueeze(t, 1)), values(t));
  EXPECT_EQ(error_of([&] { squeeze(x, 0); }), "squeeze: axis 0 has size 2, not 1 (shape (2, 1, 3))");
  EXPECT_EQ(error_of([&] { unsqueeze(x, 4); }), "unsqueeze: axis 4 is out of range for rank 4");
}

TEST(Movement, ViewsCostNothingAndCopiesCostBytes) {
  const OpDef& r = op_def("reshape");
  ShapeAttrs a;
  a.shape = {6};
  std::vector<TensorSpec> in{{{2, 3}, DType::f32, kCPU}};
  const Cost c = op_cost(r, in, r.infer(in, a), a);
  EXPECT_EQ(c.flops + c.bytes_read + c.bytes_written, 0);
  const OpDef& cp = op_def("copy");
  const Cost cc = op_cost(cp, in, cp.infer(in, NoAttrs{}), NoAttrs{});
  EXPECT_EQ(cc.bytes_read, 24);
  EXPECT_EQ(cc.bytes_written, 24);
  EXPECT_EQ(op_def("slice").op_class, OpClass::movement);
  EXPECT_TRUE(op_def("permute").is_view());
  EXPECT_FALSE(op_def("copy").is_view());
}

TEST(Movement, MetaTensorsFlowThroughViewsAndCopies) {
  Tensor x = Tensor::empty({4, 6}, DType::f32, kMeta);
  Tensor y = reshape(transpose(x, 0, 1), {24});
  EXPECT_TRUE(y.is_meta());
  EXPECT_EQ(y.shape(), Shape{24});
  EXPECT_EQ(pad(x, {1, 1, 1, 1}).shape(), (Shape{6, 8}));
  EXPECT_EQ(concat({x, x}, 1).shape(), (Shape{4, 12}));
}

// ---- gradients, through the tape ----

Tensor grad_of(const Tensor& out, const Tensor& x, const Tensor& cot) { return grad({out}, {x}, {cot})[0]; }

TEST(Movement, SliceGradientScattersBack) {
  Tensor x = iota({7});
  x.set_requires_grad(true);
  // Step 3 from 1: positions 1 and 4.
  Tensor g = grad_of(slice(x, 0, 1, 7, 3), x, vec({10, 20}, {2}));
  EXPECT_EQ(values(g), (std::vector<double>{0, 10, 0, 0, 20, 0, 0}));
  // Step 3 from 0 to the end: positions 0, 3, 6 (the interleaved zeros overshoot and are trimmed).
  g = grad_of(slice(x, 0, 0, 7, 3), x, vec({1, 2, 3}, {3}));
  EXPECT_EQ(values(g), (std::vector<double>{1, 0, 0, 2, 0, 0, 3}));
  // Step 1 on a matrix's columns.
  Tensor m = iota({2, 3});
  m.set_requires_grad(true);
  g = grad_of(slice(m, 1, 1, 3), m, vec({1, 2, 3, 4}, {2, 2}));
  EXPECT_EQ(values(g), (std::vector<double>{0, 1, 2, 0, 3, 4}));
}

TEST(Movement, PadConcatPermuteReshapeGradients) {
  Tensor x = iota({2, 2});
  x.set_requires_grad(true);
  Tensor g = grad_of(pad(x, {1, 0, 0, 1}, 5), x, iota({3, 3}));
  EXPECT_EQ(values(g), (std::vector<double>{3, 4, 6, 7}));
  g = grad_of(pad(x, {-1, 1, 0, 0}), x, vec({7, 8, 9}, {1, 3}));
  EXPECT_EQ(values(g), (std::vector<double>{0, 0, 8, 9}));

  Tensor y = iota({2, 1});
  y.set_requires_grad(true);
  auto gs = grad({concat({x, y}, 1)}, {x, y}, {iota({2, 3})});
  EXPECT_EQ(values(gs[0]), (std::vector<double>{0, 1, 3, 4}));
  EXPECT_EQ(values(gs[1]), (std::vector<double>{2, 5}));

  Tensor z = iota({2, 3, 4});
  z.set_requires_grad(true);
  g = grad_of(permute(z, {1, 2, 0}), z, permute(z.detach(), {1, 2, 0}));
  EXPECT_EQ(values(g), values(z));
  Tensor t = transpose(z, 0, 2);  // (4, 3, 2), not viewable as (24,)
  g = grad_of(reshape(t, {24}), z, iota({24}));
  EXPECT_EQ(values(g), values(copy(transpose(reshape(iota({24}), {4, 3, 2}), 0, 2))));
  t = transpose(z, 0, 2);  // a fresh graph: the previous backward freed the last one
  g = grad_of(copy(t), z, iota({4, 3, 2}));
  EXPECT_EQ(values(g), values(copy(transpose(iota({4, 3, 2}), 0, 2))));
}

}  // namespace
}  // namespace plumb
