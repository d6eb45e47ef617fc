// ONNX import converters: shapes and movement (Reshape, Flatten, Transpose, Squeeze, Unsqueeze,
// Concat, Split, Slice, Pad, Expand, Tile), indexing (Gather, GatherElements) and the shape-valued
// and constant ops (Shape, Size, ConstantOfShape, Constant, Range), which fold to constants.
#include <algorithm>
#include <cmath>
#include <limits>

#include "onnx/import.h"
#include "onnx/tensor_proto.h"
#include "plumb/ops.h"

namespace plumb::onnx_io {

namespace {

using Outs = std::vector<Tensor>;

std::string list_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

Tensor i64_tensor(const std::vector<int64_t>& v, Shape shape) { return Tensor::from_vector<int64_t>(v, std::move(shape)); }

void check_target(const NodeCtx& c, const Shape& shape, DType dtype, std::string_view what) {
  if (absurd_shape(shape, dtype))
    c.fail(what, " ", shape_str(shape), " is absurd (negative, over 2^31 elements or over 16 GiB)");
}

// Axes from the attribute (before `input_opset`) or from the optional input `index`.
std::optional<std::vector<int64_t>> axes_of(const NodeCtx& c, int64_t input_opset, size_t index) {
  if (c.opset() < input_opset) {
    if (!c.has_attr("axes")) return std::nullopt;
    return c.attr_ints("axes");
  }
  if (!c.has_input(index)) return std::nullopt;
  return c.ints_of(index, "axes");
}

Outs convert_reshape(NodeCtx& c) {
  const TensorSpec x = c.spec(0);
  const std::vector<int64_t> target = c.ints_of(1, "shape");
  const bool allowzero = c.attr_int("allowzero", 0) != 0;
  Shape out(target.size());
  int64_t infer_at = -1, known = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t d = target[i];
    if (d == 0 && !allowzero) {
      if (i >= x.shape.size()) c.fail("shape ", list_str(target), " copies dim ", i, " (0) from an input of rank ", x.shape.size());
      d = x.shape[i];
    }
    if (d == -1) {
      if (infer_at >= 0) c.fail("shape ", list_str(target), " has more than one -1");
      infer_at = static_cast<int64_t>(i);
      continue;
    }
    if (d < 0) c.fail("shape ", list_str(target), " has a negative dim ", d);
    out[i] = d;
    if (d > 0 && known > (int64_t{1} << 40) / d) c.fail("shape ", list_str(target), " is absurd");
    known *= d;
  }
  const int64_t n = numel(x.shape);
  if (infer_at >= 0) {
    if (known == 0 || n % known != 0)
      c.fail("cannot infer the -1 of ", list_str(target), " for an input of shape ", shape_str(x.shape));
    out[static_cast<size_t>(infer_at)] = n / known;
  }
  check_target(c, out, x.dtype, "shape");
  if (numel(out) != n)
    c.fail("cannot reshape ", shape_str(x.shape), " (", n, " elements) to ", shape_str(out));
  return {reshape(c.in(0), out)};
}

Outs convert_flatten(NodeCtx& c) {
  const TensorSpec x = c.spec(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = c.attr_int("axis", 1);
  if (axis < -rank || axis > rank) c.fail("axis ", axis, " is out of range for rank ", rank);
  if (axis < 0) axis += rank;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < rank; ++d) (d < axis ? outer : inner) *= x.shape[static_cast<size_t>(d)];
  return {reshape(c.in(0), {outer, inner})};
}

Outs convert_transpose(NodeCtx& c) {
  const int64_t rank = static_cast<int64_t>(c.spec(0).shape.size());
  std::vector<int64_t> perm = c.attr_ints("perm");
  if (perm.empty())
    for (int64_t d = rank - 1; d >= 0; --d) perm.push_back(d);
  if (static_cast<int64_t>(perm.size()) != rank) c.fail("perm ", list_str(perm), " does not match rank ", rank);
  for (int64_t& p : perm) p = node_axis(c, p, rank, "perm entry");
  return {permute(c.in(0), perm)};
}

Outs convert_squeeze(NodeCtx& c) {
  const Shape& s = c.spec(0).shape;
  const int64_t rank = static_cast<int64_t>(s.size());
  const auto axes = axes_of(c, 13, 1);
  std::vector<bool> drop(s.size(), false);
  if (axes) {
    for (int64_t a : *axes) {
      const int64_t ax = node_axis(c, a, rank);
      if (s[static_cast<size_t>(ax)] != 1) c.fail("axis ", a, " has size ", s[static_cast<size_t>(ax)], ", not 1");
      drop[static_cast<size_t>(ax)] = true;
    }
  } else {
    for (size_t d = 0; d < s.size(); ++d) drop[d] = s[d] == 1;
  }
  Shape out;
  for (size_t d = 0; d < s.size(); ++d)
    if (!drop[d]) out.push_back(s[d]);
  return {reshape(c.in(0), out)};
}

Outs convert_unsqueeze(NodeCtx& c) {
  const Shape& s = c.spec(0).shape;
  const auto axes = axes_of(c, 13, 1);
  if (!axes) c.fail("axes are missing");
  const int64_t rank = static_cast<int64_t>(s.size() + axes->size());
  std::vector<bool> added(static_cast<size_t>(rank), false);
  for (int64_t a : *axes) {
    const int64_t ax = node_axis(c, a, rank);
    if (added[static_cast<size_t>(ax)]) c.fail("axes ", list_str(*axes), " repeat axis ", ax);
    added[static_cast<size_t>(ax)] = true;
  }
  Shape out;
  size_t next = 0;
  for (int64_t d = 0; d < rank; ++d) out.push_back(added[static_cast<size_t>(d)] ? 1 : s[next++]);
  return {reshape(c.in(0), out)};
}

Outs convert_concat(NodeCtx& c) {
  if (!c.has_attr("axis")) c.fail("attribute 'axis' is missing");
  std::vector<Tensor> xs;
  for (size_t i = 0; i < c.input_count(); ++i)
    if (c.has_input(i)) xs.push_back(c.in(i));
  if (xs.empty()) c.fail("needs at least one input");
  const int64_t axis = node_axis(c, c.attr_int("axis", 0), xs[0].dim());
  return {concat(xs, axis)};
}

Outs convert_split(NodeCtx& c) {
  const Shape& s = c.spec(0).shape;
  const int64_t axis = node_axis(c, c.attr_int("axis", 0), static_cast<int64_t>(s.size()));
  const int64_t len = s[static_cast<size_t>(axis)];
  std::vector<int64_t> sizes;
  if (c.opset() < 13) {
    sizes = c.attr_ints("split");
  } else if (c.has_input(1)) {
    sizes = c.ints_of(1, "split");
  }
  const int64_t n = static_cast<int64_t>(c.output_count());
  if (sizes.empty()) {
    if (n < 1) c.fail("has no outputs");
    if (len % n != 0) c.fail("axis ", axis, " of size ", len, " does not split into ", n, " equal parts");
    sizes.assign(static_cast<size_t>(n), len / n);
  }
  if (static_cast<int64_t>(sizes.size()) != n)
    c.fail("split ", list_str(sizes), " has ", sizes.size(), " entries for ", n, " outputs");
  int64_t total = 0;
  for (int64_t v : sizes) {
    if (v < 0 || v > len) c.fail("split ", list_str(sizes), " has an entry outside [0, ", len, "]");
    total += v;
  }
  if (total != len) c.fail("split ", list_str(sizes), " sums to ", total, ", not the axis size ", len);
  return split(c.in(0), axis, sizes);
}

// Indices start, start+step, ... before end, clamped as NumPy slices (any nonzero step).
std::vector<int64_t> slice_indices(int64_t start, int64_t end, int64_t step, int64_t n) {
  auto clampv = [](int64_t v, int64_t lo, int64_t hi) { return std::min(std::max(v, lo), hi); };
  if (start < 0) start = start < -n ? -1 : start + n;
  if (end < 0) end = end < -n ? -1 : end + n;
  std::vector<int64_t> out;
  if (step > 0) {
    start = clampv(start, 0, n);
    end = clampv(end, 0, n);
    const int64_t count = end > start ? (end - start - 1) / step + 1 : 0;  // no i += step past INT64_MAX
    for (int64_t k = 0; k < count; ++k) out.push_back(start + k * step);
  } else {
    start = clampv(start, -1, n - 1);
    end = clampv(end, -1, n - 1);
    const int64_t mag = step == std::numeric_limits<int64_t>::min() ? std::numeric_limits<int64_t>::max() : -step;
    const int64_t count = start > end ? (start - end - 1) / mag + 1 : 0;
    for (int64_t k = 0; k < count; ++k) out.push_back(start + k * step);
  }
  return out;
}

Outs convert_slice(NodeCtx& c) {
  const Shape& s = c.spec(0).shape;
  const int64_t rank = static_cast<int64_t>(s.size());
  std::vector<int64_t> starts = c.ints_of(1, "starts"), ends = c.ints_of(2, "ends"), axes, steps;
  if (c.has_input(3)) axes = c.ints_of(3, "axes");
  if (c.has_input(4)) steps = c.ints_of(4, "steps");
  if (starts.size() != ends.size()) c.fail("starts and ends differ in length");
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size())
    c.fail("starts, ends, axes and steps must have one entry per sliced axis");
  Tensor y = c.in(0);
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t axis = node_axis(c, axes[i], rank);
    if (seen[static_cast<size_t>(axis)]) c.fail("axis ", axis, " is sliced twice");
    seen[static_cast<size_t>(axis)] = true;
    const int64_t n = s[static_cast<size_t>(axis)];
    if (steps[i] == 0) c.fail("step 0 on axis ", axis);
    if (steps[i] > 0) {
      const auto idx = slice_indices(starts[i], ends[i], steps[i], n);
      if (idx.size() == static_cast<size_t>(n)) continue;  // the whole axis
      const int64_t lo = idx.empty() ? 0 : idx.front();
      const int64_t hi = idx.empty() ? 0 : idx.back() + 1;
      y = slice(y, axis, lo, hi, steps[i]);
    } else {
      // Negative steps: plumb's slice view steps forward, so the reversed indices are gathered.
      check_table_size(c, {n}, "index table");
      const auto idx = slice_indices(starts[i], ends[i], steps[i], n);
      y = index_select(y, axis, c.lift(i64_tensor(idx, {static_cast<int64_t>(idx.size())})));
    }
  }
  return {y};
}

// Edge and reflect padding read each output position from an input position: one index_select of
// a constant index table per padded axis (negative pads crop first).
Tensor pad_by_index(NodeCtx& c, Tensor x, const std::vector<int64_t>& pads, bool reflect) {
  const size_t rank = static_cast<size_t>(x.dim());
  for (size_t d = 0; d < rank; ++d) {
    int64_t b = pads[d], e = pads[d + rank];
    int64_t n = x.shape()[d];
    if (b < 0 || e < 0) {
      x = slice(x, static_cast<int64_t>(d), std::max<int64_t>(-b, 0), n - std::max<int64_t>(-e, 0));
      n = x.shape()[d];
      b = std::max<int64_t>(b, 0);
      e = std::max<int64_t>(e, 0);
    }
    if (b == 0 && e == 0) continue;
    if (n == 0) c.fail("cannot pad an empty axis ", d, " in ", reflect ? "reflect" : "edge", " mode");
    check_table_size(c, {n + b + e}, "index table");
    if (reflect && (b >= n || e >= n)) c.fail("reflect pads ", b, ", ", e, " must be smaller than axis ", d, " (", n, ")");
    std::vector<int64_t> idx;
    for (int64_t j = -b; j < n + e; ++j) {
      int64_t i = j;
      if (reflect) {
        if (i < 0) i = -i;
        if (i >= n) i = 2 * (n - 1) - i;
      } else {
        i = std::clamp<int64_t>(i, 0, n - 1);
      }
      idx.push_back(i);
    }
    x = index_select(x, static_cast<int64_t>(d), c.lift(i64_tensor(idx, {static_cast<int64_t>(idx.size())})));
  }
  return x;
}

Outs convert_pad(NodeCtx& c) {
  const std::string mode = c.attr_string("mode", "constant");
  if (mode != "constant" && mode != "edge" && mode != "reflect")
    c.fail("mode '", mode, "' is not supported (constant, edge and reflect are)");
  const Shape& s = c.spec(0).shape;
  const std::vector<int64_t> pads = c.ints_of(1, "pads");
  double value = 0;
  if (c.has_input(2)) {
    const Tensor v = c.need_constant(2, "constant_value");
    if (v.numel() != 1) c.fail("constant_value must have one element, got ", shape_str(v.shape()));
    value = v.item();
  }
  if (pads.size() != 2 * s.size())
    c.fail("pads ", list_str(pads), " have ", pads.size(), " entries for an input of rank ", s.size());
  for (int64_t p : pads)
    if (p > (int64_t{1} << 31) || p < -(int64_t{1} << 31)) c.fail("pads ", list_str(pads), " are absurd");
  Shape out = s;
  for (size_t d = 0; d < s.size(); ++d) out[d] += pads[d] + pads[d + s.size()];
  check_target(c, out, c.spec(0).dtype, "padded shape");
  if (mode != "constant") return {pad_by_index(c, c.in(0), pads, mode == "reflect")};
  return {pad(c.in(0), pads, value)};
}

// ONNX Expand broadcasts both ways: the result has the broadcast of the input and target shapes.
Outs convert_expand(NodeCtx& c) {
  const TensorSpec x = c.spec(0);
  const std::vector<int64_t> target = c.ints_of(1, "shape");
  for (int64_t d : target)
    if (d < 0) c.fail("shape ", list_str(target), " has a negative dim");
  Shape out;
  try {
    out = broadcast_shapes(x.shape, target, "Expand");
  } catch (const Error& e) {
    c.fail(e.what());
  }
  check_target(c, out, x.dtype, "shape");
  return {expand(c.in(0), out)};
}

// Tile: (d0, d1, ...) viewed as (1, d0, 1, d1, ...), expanded to (r0, d0, r1, d1, ...), then merged.
Outs convert_tile(NodeCtx& c) {
  const TensorSpec x = c.spec(0);
  const std::vector<int64_t> reps = c.ints_of(1, "repeats");
  if (reps.size() != x.shape.size())
    c.fail("repeats ", list_str(reps), " has ", reps.size(), " entries for an input of rank ", x.shape.size());
  Shape split_shape, expanded, out;
  for (size_t d = 0; d < reps.size(); ++d) {
    if (reps[d] < 0 || reps[d] > (int64_t{1} << 31)) c.fail("repeats ", list_str(reps), " has an entry out of range");
    split_shape.insert(split_shape.end(), {1, x.shape[d]});
    expanded.insert(expanded.end(), {reps[d], x.shape[d]});
    out.push_back(reps[d] * x.shape[d]);
  }
  check_target(c, out, x.dtype, "tiled shape");
  if (x.shape.empty()) return {c.in(0)};
  return {reshape(expand(reshape(c.in(0), split_shape), expanded), out)};
}

// Indices may be negative in ONNX: constant ones are wrapped here, others by a where at run time.
Tensor wrap_indices(NodeCtx& c, size_t i, int64_t n) {
  const TensorSpec s = c.spec(i);
  if (s.dtype != DType::i64 && s.dtype != DType::i32) c.fail("indices must be i64 or i32, got ", dtype_name(s.dtype));
  if (const Tensor* k = c.constant(i)) {
    std::vector<int64_t> v = int_values(*k);
    for (int64_t& e : v) {
      if (e < -n || e >= n) c.fail("index ", e, " is out of range for an axis of size ", n);
      if (e < 0) e += n;
    }
    return c.lift(i64_tensor(v, k->shape()));
  }
  Tensor idx = c.in(i);
  return where(lt(idx, c.scalar(0, idx.dtype())), add(idx, c.scalar(static_cast<double>(n), idx.dtype())), idx);
}

Outs convert_gather(NodeCtx& c) {
  const TensorSpec x = c.spec(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (rank == 0) c.fail("data must have rank >= 1");
  const int64_t axis = node_axis(c, c.attr_int("axis", 0), rank);
  const TensorSpec is = c.spec(1);
  Tensor idx = wrap_indices(c, 1, x.shape[static_cast<size_t>(axis)]);
  Shape out(x.shape.begin(), x.shape.begin() + axis);
  out.insert(out.end(), is.shape.begin(), is.shape.end());
  out.insert(out.end(), x.shape.begin() + axis + 1, x.shape.end());
  if (is.shape.size() != 1) idx = reshape(idx, {numel(is.shape)});
  Tensor y = index_select(c.in(0), axis, idx);
  if (y.shape() != out) y = reshape(y, out);
  return {y};
}

Outs convert_gather_elements(NodeCtx& c) {
  const TensorSpec x = c.spec(0);
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  const int64_t axis = node_axis(c, c.attr_int("axis", 0), rank);
  Tensor idx = wrap_indices(c, 1, x.shape[static_cast<size_t>(axis)]);
  return {gather(c.in(0), axis, idx)};
}

// ---- shape-valued and constant ops: CPU constants, whatever the inputs' device ----

Outs convert_shape(NodeCtx& c) {
  const Shape& s = c.spec(0).shape;
  const int64_t rank = static_cast<int64_t>(s.size());
  int64_t start = c.attr_int("start", 0), end = c.attr_int("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  std::vector<int64_t> v;
  for (int64_t d = start; d < end; ++d) v.push_back(s[static_cast<size_t>(d)]);
  return {i64_tensor(v, {static_cast<int64_t>(v.size())})};
}

Outs convert_size(NodeCtx& c) { return {i64_tensor({numel(c.spec(0).shape)}, {})}; }

Outs convert_constant_of_shape(NodeCtx& c) {
  const std::vector<int64_t> shape = c.ints_of(0, "input");
  Tensor value = c.has_attr("value") ? c.attr_tensor("value") : cpu_scalar(0, DType::f32);
  if (value.numel() != 1) c.fail("value must have one element, got ", shape_str(value.shape()));
  check_target(c, shape, value.dtype(), "shape");
  check_constant_size(c, shape, value.dtype(), "shape");
  return {expand(reshape(value, {}), shape)};  // exact for every dtype; the fold makes it contiguous
}

Outs convert_constant(NodeCtx& c) {
  if (c.has_attr("value")) return {c.attr_tensor("value")};
  if (c.has_attr("value_float")) return {cpu_scalar(c.attr_float("value_float", 0), DType::f32)};
  if (c.has_attr("value_int")) return {cpu_scalar(static_cast<double>(c.attr_int("value_int", 0)), DType::i64)};
  if (c.has_attr("value_floats")) {
    const std::vector<double> v = c.attr_floats("value_floats");
    std::vector<float> f(v.begin(), v.end());
    return {Tensor::from_vector<float>(f, {static_cast<int64_t>(f.size())})};
  }
  if (c.has_attr("value_ints")) {
    const std::vector<int64_t> v = c.attr_ints("value_ints");
    return {i64_tensor(v, {static_cast<int64_t>(v.size())})};
  }
  if (c.has_attr("sparse_value")) c.fail("sparse_value is not supported");
  if (c.has_attr("value_string") || c.has_attr("value_strings")) c.fail("string constants are not supported");
  c.fail("has no value attribute");
}

Outs convert_range(NodeCtx& c) {
  const Tensor start = c.need_constant(0, "start"), limit = c.need_constant(1, "limit"),
               delta = c.need_constant(2, "delta");
  const DType t = start.dtype();
  if (start.numel() != 1 || limit.numel() != 1 || delta.numel() != 1) c.fail("start, limit and delta must be scalars");
  if (is_integral(t)) {
    // Exact integer arithmetic (int64 bounds do not survive a double).
    const int64_t s = int_values(start)[0], l = int_values(limit)[0], d = int_values(delta)[0];
    if (d == 0) c.fail("delta is 0");
    const __int128 span = static_cast<__int128>(l) - s;
    const __int128 count = span / d + ((span % d != 0 && ((span > 0) == (d > 0))) ? 1 : 0);
    if (count > (int64_t{1} << 31)) c.fail("range of ", static_cast<double>(count), " elements is absurd");
    const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
    check_table_size(c, {n}, "range");
    Tensor out = Tensor::empty({n}, t, kCPU);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = s + i * d;  // between start and limit: no overflow
      if (t == DType::i64)
        out.data<int64_t>()[i] = v;
      else if (t == DType::i32)
        out.data<int32_t>()[i] = static_cast<int32_t>(v);
      else
        set_element_from_double(out, i, static_cast<double>(v));
    }
    return {out};
  }
  const double s = start.item(), l = limit.item(), d = delta.item();
  if (!(d != 0) || !std::isfinite(s) || !std::isfinite(l) || !std::isfinite(d)) c.fail("start, limit and delta must be finite, delta nonzero");
  const double count = std::ceil((l - s) / d);
  if (count > 2147483648.0) c.fail("range of ", count, " elements is absurd");
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  check_table_size(c, {n}, "range");
  Tensor out = Tensor::empty({n}, t, kCPU);
  for (int64_t i = 0; i < n; ++i) set_element_from_double(out, i, s + static_cast<double>(i) * d);
  return {out};
}

}  // namespace

void add_shape_converters(ConverterTable& t) {
  t["Reshape"] = convert_reshape;
  t["Flatten"] = convert_flatten;
  t["Transpose"] = convert_transpose;
  t["Squeeze"] = convert_squeeze;
  t["Unsqueeze"] = convert_unsqueeze;
  t["Concat"] = convert_concat;
  t["Split"] = convert_split;
  t["Slice"] = convert_slice;
  t["Pad"] = convert_pad;
  t["Expand"] = convert_expand;
  t["Tile"] = convert_tile;
  t["Gather"] = convert_gather;
  t["GatherElements"] = convert_gather_elements;
  t["Shape"] = convert_shape;
  t["Size"] = convert_size;
  t["ConstantOfShape"] = convert_constant_of_shape;
  t["Constant"] = convert_constant;
  t["Range"] = convert_range;
}

}  // namespace plumb::onnx_io
