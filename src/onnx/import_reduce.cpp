// ONNX import converters: reductions (ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceL1, ReduceL2,
// ReduceLogSum, ReduceLogSumExp, ReduceSumSquare) and ArgMax / ArgMin, from plumb's sum, mean, max
// and argmax.
#include <algorithm>
#include <limits>

#include "onnx/import.h"
#include "plumb/ops.h"

namespace plumb::onnx_io {

namespace {

using Outs = std::vector<Tensor>;

struct ReduceSpec {
  std::vector<int64_t> axes;  // normalized, sorted; empty with noop = identity
  bool keepdim = true;
  bool noop = false;
};

// Axes come from an attribute, or (ReduceSum from opset 13) from the optional second input.
ReduceSpec reduce_spec(const NodeCtx& c, bool axes_input) {
  ReduceSpec r;
  r.keepdim = c.attr_int("keepdims", 1) != 0;
  std::vector<int64_t> axes;
  if (axes_input) {
    if (c.has_input(1)) axes = c.ints_of(1, "axes");
    if (axes.empty() && c.attr_int("noop_with_empty_axes", 0) != 0) r.noop = true;
  } else {
    axes = c.attr_ints("axes");
  }
  const int64_t rank = static_cast<int64_t>(c.spec(0).shape.size());
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    const int64_t ax = node_axis(c, a, rank);
    if (seen[static_cast<size_t>(ax)]) c.fail("axis ", a, " appears twice in axes");
    seen[static_cast<size_t>(ax)] = true;
  }
  for (int64_t d = 0; d < rank; ++d)
    if (seen[static_cast<size_t>(d)] || (axes.empty() && !r.noop)) r.axes.push_back(d);
  return r;
}

// plumb reduces "all axes" for an empty list; a 0-d input has nothing to reduce.
bool nothing_to_reduce(const NodeCtx& c, const ReduceSpec& r) { return r.noop || c.spec(0).shape.empty(); }

// Sum keeps the input's dtype in ONNX; plumb sums integers to i64.
Tensor sum_as(const Tensor& x, const ReduceSpec& r) {
  Tensor s = sum(x, r.axes, r.keepdim);
  return s.dtype() == x.dtype() ? s : cast(s, x.dtype());
}

enum class Kind { sum, mean, max, min, l1, l2, log_sum, log_sum_exp, sum_square };

Converter reducer(Kind kind) {
  return [kind](NodeCtx& c) -> Outs {
    const ReduceSpec r = reduce_spec(c, kind == Kind::sum && c.opset() >= 13);
    Tensor x = c.in(0);
    const DType t = x.dtype();
    if (nothing_to_reduce(c, r)) {
      switch (kind) {
        case Kind::l1: return {abs(x)};
        case Kind::l2: return {abs(x)};
        case Kind::sum_square: return {mul(x, x)};
        case Kind::log_sum: return {log(x)};
        default: return {x};
      }
    }
    switch (kind) {
      case Kind::sum: return {sum_as(x, r)};
      case Kind::mean: return {mean(x, r.axes, r.keepdim)};
      case Kind::max: return {max(x, r.axes, r.keepdim)};
      case Kind::min:
        if (t == DType::u8 || t == DType::boolean) c.fail("ReduceMin on ", dtype_name(t), " is not supported");
        return {neg(max(neg(x), r.axes, r.keepdim))};
      case Kind::l1: return {sum_as(abs(x), r)};
      case Kind::l2: {
        if (!is_floating(t)) c.fail("input must be floating, got ", dtype_name(t));
        return {sqrt(sum(mul(x, x), r.axes, r.keepdim))};
      }
      case Kind::sum_square: return {sum_as(mul(x, x), r)};
      case Kind::log_sum: return {log(sum(x, r.axes, r.keepdim))};
      case Kind::log_sum_exp: {
        // max subtracted for stability; an all -inf slice keeps its -inf through the where.
        if (!is_floating(t)) c.fail("input must be floating, got ", dtype_name(t));
        Tensor m = max(x, r.axes, true);
        const Tensor inf = c.scalar(std::numeric_limits<double>::infinity(), t);
        m = where(eq(abs(m), inf), c.scalar(0, t), m);
        Tensor y = add(log(sum(exp(sub(x, m)), r.axes, true)), m);
        if (!r.keepdim) {
          Shape s;
          for (int64_t d = 0; d < y.dim(); ++d)
            if (std::find(r.axes.begin(), r.axes.end(), d) == r.axes.end()) s.push_back(y.shape()[static_cast<size_t>(d)]);
          y = reshape(y, s);
        }
        return {y};
      }
    }
    c.fail("internal: unknown reduction");
  };
}

// ArgMax / ArgMin; select_last_index reverses the axis, so the first hit there is the last one.
Converter arg_reducer(bool is_min) {
  return [is_min](NodeCtx& c) -> Outs {
    const TensorSpec s = c.spec(0);
    const int64_t rank = static_cast<int64_t>(s.shape.size());
    if (rank == 0) c.fail("input must have rank >= 1");
    const int64_t axis = node_axis(c, c.attr_int("axis", 0), rank);
    const bool keepdim = c.attr_int("keepdims", 1) != 0;
    const bool last = c.attr_int("select_last_index", 0) != 0;
    Tensor x = c.in(0);
    if (is_min) {
      if (x.dtype() == DType::u8 || x.dtype() == DType::boolean)
        c.fail("ArgMin on ", dtype_name(x.dtype()), " is not supported");
      x = neg(x);
    }
    const int64_t n = s.shape[static_cast<size_t>(axis)];
    if (!last) return {argmax(x, axis, keepdim)};
    check_table_size(c, {n}, "index table");
    std::vector<int64_t> rev;
    for (int64_t i = n - 1; i >= 0; --i) rev.push_back(i);
    Tensor idx = c.lift(Tensor::from_vector<int64_t>(rev, {n}));
    Tensor i = argmax(index_select(x, axis, idx), axis, keepdim);
    return {sub(c.scalar(static_cast<double>(n - 1), DType::i64), i)};
  };
}

// CumSum as a product with a constant (n x n) triangular matrix along the axis: exact sums in the
// input's float type (integers through f64); the matrix's FLOPs are what the graph costs.
Outs convert_cumsum(NodeCtx& c) {
  const TensorSpec xs = c.spec(0);
  const int64_t rank = static_cast<int64_t>(xs.shape.size());
  if (rank == 0) c.fail("input must have rank >= 1");
  const std::vector<int64_t> axis_v = c.ints_of(1, "axis");
  if (axis_v.size() != 1) c.fail("axis must have one element");
  const int64_t axis = node_axis(c, axis_v[0], rank);
  const bool exclusive = c.attr_int("exclusive", 0) != 0, reverse = c.attr_int("reverse", 0) != 0;
  const int64_t n = xs.shape[static_cast<size_t>(axis)];
  if (xs.dtype == DType::boolean) c.fail("CumSum is not defined for bool");
  const DType work = is_floating(xs.dtype) ? xs.dtype : DType::f64;
  if (work != DType::f32 && work != DType::f64) c.fail("CumSum on ", dtype_name(xs.dtype), " is not supported");
  check_table_size(c, {n, n}, "triangular matrix");
  Tensor tri = Tensor::zeros({n, n}, work, kCPU);  // tri[j][i]: does input j add to output i
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < n; ++i) {
      const bool in = reverse ? (exclusive ? j > i : j >= i) : (exclusive ? j < i : j <= i);
      if (in) set_element_from_double(tri, j * n + i, 1);
    }
  Tensor x = c.in(0);
  if (x.dtype() != work) x = cast(x, work);
  std::vector<int64_t> perm, inverse(static_cast<size_t>(rank));
  for (int64_t d = 0; d < rank; ++d)
    if (d != axis) perm.push_back(d);
  perm.push_back(axis);
  for (int64_t d = 0; d < rank; ++d) inverse[static_cast<size_t>(perm[static_cast<size_t>(d)])] = d;
  const bool last = axis == rank - 1;
  Tensor y = rank == 1 ? reshape(matmul(reshape(x, {1, n}), c.lift(tri)), {n})
                       : matmul(last ? x : permute(x, perm), c.lift(tri));
  if (rank > 1 && !last) y = permute(y, inverse);
  return {y.dtype() == xs.dtype ? y : cast(y, xs.dtype)};
}

}  // namespace

void add_reduce_converters(ConverterTable& t) {
  t["CumSum"] = convert_cumsum;
  t["ReduceSum"] = reducer(Kind::sum);
  t["ReduceMean"] = reducer(Kind::mean);
  t["ReduceMax"] = reducer(Kind::max);
  t["ReduceMin"] = reducer(Kind::min);
  t["ReduceL1"] = reducer(Kind::l1);
  t["ReduceL2"] = reducer(Kind::l2);
  t["ReduceLogSum"] = reducer(Kind::log_sum);
  t["ReduceLogSumExp"] = reducer(Kind::log_sum_exp);
  t["ReduceSumSquare"] = reducer(Kind::sum_square);
  t["ArgMax"] = arg_reducer(false);
  t["ArgMin"] = arg_reducer(true);
}

}  // namespace plumb::onnx_io
