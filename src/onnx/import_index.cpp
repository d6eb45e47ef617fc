// ONNX import converters built from indexing and masks: Trilu, EyeLike, OneHot, GatherND,
// DepthToSpace and SpaceToDepth. Index tables and masks are constants computed from shapes.
#include <algorithm>

#include "onnx/import.h"
#include "onnx/tensor_proto.h"
#include "plumb/ops.h"

namespace plumb::onnx_io {

namespace {

using Outs = std::vector<Tensor>;

Tensor i64_tensor(const std::vector<int64_t>& v, Shape shape) { return Tensor::from_vector<int64_t>(v, std::move(shape)); }

int64_t scalar_int(const NodeCtx& c, size_t i, std::string_view what) {
  const std::vector<int64_t> v = c.ints_of(i, what);
  if (v.size() != 1) c.fail("input '", what, "' must have one element, got ", v.size());
  return v[0];
}

Outs convert_trilu(NodeCtx& c) {
  const TensorSpec xs = c.spec(0);
  if (xs.shape.size() < 2) c.fail("input must have rank >= 2, got ", shape_str(xs.shape));
  const int64_t k = c.has_input(1) ? scalar_int(c, 1, "k") : 0;
  const bool upper = c.attr_int("upper", 1) != 0;
  const int64_t m = xs.shape[xs.shape.size() - 2], n = xs.shape.back();
  check_table_size(c, {m, n}, "mask");
  Tensor mask = Tensor::empty({m, n}, DType::boolean, kCPU);
  bool* p = mask.data<bool>();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) p[i * n + j] = upper ? j - i >= k : j - i <= k;
  return {where(c.lift(mask), c.in(0), c.scalar(0, xs.dtype))};
}

// A constant from the input's shape alone, like Shape.
Outs convert_eye_like(NodeCtx& c) {
  const TensorSpec xs = c.spec(0);
  if (xs.shape.size() != 2) c.fail("input must be 2-D, got ", shape_str(xs.shape));
  DType t = xs.dtype;
  if (c.has_attr("dtype")) {
    try {
      t = from_onnx_dtype(static_cast<int32_t>(c.attr_int("dtype", 0)));
    } catch (const Error& e) {
      c.fail(e.what());
    }
  }
  const int64_t k = c.attr_int("k", 0);
  check_constant_size(c, xs.shape, t, "output");
  if (k < -xs.shape[0] || k > xs.shape[1]) return {Tensor::zeros(xs.shape, t, kCPU)};  // the diagonal misses
  Tensor out = Tensor::zeros(xs.shape, t, kCPU);
  for (int64_t i = 0; i < xs.shape[0]; ++i) {
    const int64_t j = i + k;
    if (j >= 0 && j < xs.shape[1]) set_element_from_double(out, i * xs.shape[1] + j, 1);
  }
  return {out};
}

Outs convert_one_hot(NodeCtx& c) {
  const TensorSpec is = c.spec(0);
  const Tensor depth_t = c.need_constant(1, "depth");
  if (depth_t.numel() != 1) c.fail("depth must have one element, got ", shape_str(depth_t.shape()));
  const double depth_value = depth_t.item();  // any numeric type; a float depth truncates
  if (!(depth_value >= 1 && depth_value <= 2147483648.0)) c.fail("depth ", depth_value, " is out of range");
  const int64_t depth = static_cast<int64_t>(depth_value);
  check_table_size(c, {depth}, "position table");
  const TensorSpec vs = c.spec(2);
  if (vs.shape != Shape{2}) c.fail("values must be [off, on], got shape ", shape_str(vs.shape));
  const int64_t rank = static_cast<int64_t>(is.shape.size()) + 1;
  const int64_t axis = node_axis(c, c.attr_int("axis", -1), rank);
  Tensor idx = c.in(0);
  if (idx.dtype() != DType::i64) idx = cast(idx, DType::i64);  // float indices truncate, as ONNX casts them
  idx = where(lt(idx, c.scalar(0, DType::i64)), add(idx, c.scalar(static_cast<double>(depth), DType::i64)), idx);
  Shape unsq = is.shape, pos_shape(static_cast<size_t>(rank), 1);
  unsq.insert(unsq.begin() + axis, 1);
  pos_shape[static_cast<size_t>(axis)] = depth;
  std::vector<int64_t> positions(static_cast<size_t>(depth));
  for (int64_t i = 0; i < depth; ++i) positions[static_cast<size_t>(i)] = i;
  Tensor hit = eq(reshape(idx, unsq), c.lift(i64_tensor(positions, pos_shape)));
  Tensor values = c.in(2);
  Tensor off = reshape(slice(values, 0, 0, 1), {}), on = reshape(slice(values, 0, 1, 2), {});
  return {where(hit, on, off)};
}

// Indices (..., k) address the first k dims after batch_dims; the data is flattened over them and
// read with one index_select of linear indices.
Outs convert_gather_nd(NodeCtx& c) {
  const TensorSpec ds = c.spec(0), is = c.spec(1);
  if (is.dtype != DType::i64 && is.dtype != DType::i32) c.fail("indices must be i64 or i32");
  const int64_t b = c.attr_int("batch_dims", 0);
  const int64_t r = static_cast<int64_t>(ds.shape.size()), q = static_cast<int64_t>(is.shape.size());
  if (q < 1) c.fail("indices must have rank >= 1");
  const int64_t k = is.shape.back();
  if (b < 0 || b >= std::min(q, r) || k < 1 || b + k > r)
    c.fail("batch_dims ", b, " and index depth ", k, " do not fit data ", shape_str(ds.shape), " and indices ",
           shape_str(is.shape));
  for (int64_t d = 0; d < b; ++d)
    if (ds.shape[static_cast<size_t>(d)] != is.shape[static_cast<size_t>(d)])
      c.fail("batch dim ", d, " differs between data ", shape_str(ds.shape), " and indices ", shape_str(is.shape));
  std::vector<int64_t> dims(ds.shape.begin() + b, ds.shape.begin() + b + k), strides(static_cast<size_t>(k));
  int64_t inner = 1;
  for (int64_t j = k - 1; j >= 0; --j) {
    strides[static_cast<size_t>(j)] = inner;
    inner *= dims[static_cast<size_t>(j)];
  }
  int64_t batch = 1;
  for (int64_t d = 0; d < b; ++d) batch *= ds.shape[static_cast<size_t>(d)];
  Tensor idx = c.in(1);
  if (idx.dtype() != DType::i64) idx = cast(idx, DType::i64);
  const Tensor dims_t = c.lift(i64_tensor(dims, {k}));
  idx = where(lt(idx, c.scalar(0, DType::i64)), add(idx, dims_t), idx);
  Tensor linear = sum(mul(idx, c.lift(i64_tensor(strides, {k}))), {q - 1});
  if (b > 0) {
    // Each batch entry reads its own block of `inner` rows.
    std::vector<int64_t> offsets(static_cast<size_t>(batch));
    for (int64_t i = 0; i < batch; ++i) offsets[static_cast<size_t>(i)] = i * inner;
    Shape off_shape(is.shape.begin(), is.shape.begin() + b);
    off_shape.resize(static_cast<size_t>(q - 1), 1);
    linear = add(linear, c.lift(i64_tensor(offsets, off_shape)));
  }
  Shape rest(ds.shape.begin() + b + k, ds.shape.end());
  Shape flat{batch * inner};
  flat.insert(flat.end(), rest.begin(), rest.end());
  Shape out(is.shape.begin(), is.shape.end() - 1);
  out.insert(out.end(), rest.begin(), rest.end());
  const int64_t count = numel(Shape(is.shape.begin(), is.shape.end() - 1));
  Tensor y = index_select(reshape(c.in(0), flat), 0, reshape(linear, {count}));
  return {reshape(y, out)};
}

Outs convert_depth_to_space(NodeCtx& c) {
  const TensorSpec xs = c.spec(0);
  if (xs.shape.size() != 4) c.fail("input must be (N, C, H, W), got ", shape_str(xs.shape));
  const int64_t bs = c.attr_int("blocksize", 0);
  const int64_t n = xs.shape[0], ch = xs.shape[1], h = xs.shape[2], w = xs.shape[3];
  if (bs < 1 || bs > ch || ch % (bs * bs) != 0) c.fail("blocksize ", bs, " does not divide ", ch, " channels into blocks");
  const std::string mode = c.attr_string("mode", "DCR");
  const int64_t co = ch / (bs * bs);
  Tensor y;
  if (mode == "DCR") {
    y = permute(reshape(c.in(0), {n, bs, bs, co, h, w}), {0, 3, 4, 1, 5, 2});
  } else if (mode == "CRD") {
    y = permute(reshape(c.in(0), {n, co, bs, bs, h, w}), {0, 1, 4, 2, 5, 3});
  } else {
    c.fail("mode '", mode, "' is not DCR or CRD");
  }
  return {reshape(y, {n, co, h * bs, w * bs})};
}

Outs convert_space_to_depth(NodeCtx& c) {
  const TensorSpec xs = c.spec(0);
  if (xs.shape.size() != 4) c.fail("input must be (N, C, H, W), got ", shape_str(xs.shape));
  const int64_t bs = c.attr_int("blocksize", 0);
  const int64_t n = xs.shape[0], ch = xs.shape[1], h = xs.shape[2], w = xs.shape[3];
  if (bs < 1 || bs > std::max<int64_t>(h, 1) || h % bs != 0 || w % bs != 0) c.fail("blocksize ", bs, " does not divide ", h, "x", w);
  Tensor y = permute(reshape(c.in(0), {n, ch, h / bs, bs, w / bs, bs}), {0, 3, 5, 1, 2, 4});
  return {reshape(y, {n, ch * bs * bs, h / bs, w / bs})};
}

// ---- scatter and compress ----

// Indices may be negative; `dims` holds each indexed axis's size (broadcast along the last axis).
Tensor wrap_negative(NodeCtx& c, Tensor idx, const Tensor& dims) {
  if (idx.dtype() != DType::i64) idx = cast(idx, DType::i64);
  return where(lt(idx, c.scalar(0, DType::i64)), add(idx, dims), idx);
}

// reduction none writes each update over the data (ONNX leaves duplicate indices undefined);
// add accumulates, as plumb's scatter_add does.
Tensor scatter_with(NodeCtx& c, const Tensor& data, int64_t axis, const Tensor& index, const Tensor& updates,
                    const std::string& reduction) {
  if (reduction == "add") return scatter_add(data, axis, index, updates);
  if (reduction != "none") c.fail("reduction '", reduction, "' is not supported (none and add are)");
  const Tensor zeros = expand(c.scalar(0, data.dtype()), data.shape());
  const Tensor hits = scatter_add(zeros, axis, index, expand(c.scalar(1, data.dtype()), updates.shape()));
  const Tensor placed = scatter_add(zeros, axis, index, updates);
  return where(gt(hits, c.scalar(0, data.dtype())), placed, data);
}

Outs convert_scatter_elements(NodeCtx& c) {
  const TensorSpec ds = c.spec(0), is = c.spec(1), us = c.spec(2);
  if (is.dtype != DType::i64 && is.dtype != DType::i32) c.fail("indices must be i64 or i32");
  if (is.shape != us.shape) c.fail("indices ", shape_str(is.shape), " and updates ", shape_str(us.shape), " differ");
  const int64_t rank = static_cast<int64_t>(ds.shape.size());
  const int64_t axis = node_axis(c, c.attr_int("axis", 0), rank);
  const Tensor dims = c.scalar(static_cast<double>(ds.shape[static_cast<size_t>(axis)]), DType::i64);
  const Tensor idx = wrap_negative(c, c.in(1), dims);
  return {scatter_with(c, c.in(0), axis, idx, c.in(2), c.attr_string("reduction", "none"))};
}

// The data is flattened over the k indexed dims; each index row becomes one linear row index,
// expanded over the remaining dims, and scattered along axis 0.
Outs convert_scatter_nd(NodeCtx& c) {
  const TensorSpec ds = c.spec(0), is = c.spec(1), us = c.spec(2);
  if (is.dtype != DType::i64 && is.dtype != DType::i32) c.fail("indices must be i64 or i32");
  const int64_t r = static_cast<int64_t>(ds.shape.size()), q = static_cast<int64_t>(is.shape.size());
  if (q < 1) c.fail("indices must have rank >= 1");
  const int64_t k = is.shape.back();
  if (k < 1 || k > r) c.fail("index depth ", k, " does not fit data ", shape_str(ds.shape));
  Shape rest(ds.shape.begin() + k, ds.shape.end());
  Shape want(is.shape.begin(), is.shape.end() - 1);
  want.insert(want.end(), rest.begin(), rest.end());
  if (us.shape != want) c.fail("updates have shape ", shape_str(us.shape), ", expected ", shape_str(want));
  std::vector<int64_t> dims(ds.shape.begin(), ds.shape.begin() + k), strides(static_cast<size_t>(k));
  int64_t rows = 1;
  for (int64_t j = k - 1; j >= 0; --j) {
    strides[static_cast<size_t>(j)] = rows;
    rows *= dims[static_cast<size_t>(j)];
  }
  const int64_t m = numel(Shape(is.shape.begin(), is.shape.end() - 1));
  Tensor idx = wrap_negative(c, c.in(1), c.lift(i64_tensor(dims, {k})));
  Tensor linear = reshape(sum(mul(idx, c.lift(i64_tensor(strides, {k}))), {q - 1}), {m});
  Shape flat{rows}, upd_shape{m}, col(rest.size() + 1, 1);
  flat.insert(flat.end(), rest.begin(), rest.end());
  upd_shape.insert(upd_shape.end(), rest.begin(), rest.end());
  col[0] = m;
  Tensor index = expand(reshape(linear, col), upd_shape);
  Tensor y = scatter_with(c, reshape(c.in(0), flat), 0, index, reshape(c.in(2), upd_shape),
                          c.attr_string("reduction", "none"));
  return {reshape(y, ds.shape)};
}

// The kept positions come from the condition, which must be constant (it sets the output's shape).
Outs convert_compress(NodeCtx& c) {
  const TensorSpec xs = c.spec(0);
  const Tensor cond = c.need_constant(1, "condition");
  if (cond.dim() != 1) c.fail("condition must be 1-D, got ", shape_str(cond.shape()));
  const bool has_axis = c.has_attr("axis");
  const int64_t rank = static_cast<int64_t>(xs.shape.size());
  const int64_t axis = has_axis ? node_axis(c, c.attr_int("axis", 0), rank) : 0;
  const int64_t n = has_axis ? xs.shape[static_cast<size_t>(axis)] : numel(xs.shape);
  const std::vector<double> keep = cond.to_vector<double>();
  std::vector<int64_t> idx;
  for (size_t i = 0; i < keep.size(); ++i) {
    if (keep[i] == 0) continue;
    if (static_cast<int64_t>(i) >= n) c.fail("condition selects position ", i, " of an axis of size ", n);
    idx.push_back(static_cast<int64_t>(i));
  }
  Tensor x = has_axis ? c.in(0) : reshape(c.in(0), {n});
  return {index_select(x, axis, c.lift(i64_tensor(idx, {static_cast<int64_t>(idx.size())})))};
}

}  // namespace

void add_index_converters(ConverterTable& t) {
  t["ScatterElements"] = convert_scatter_elements;
  t["ScatterND"] = convert_scatter_nd;
  t["Compress"] = convert_compress;
  t["Trilu"] = convert_trilu;
  t["EyeLike"] = convert_eye_like;
  t["OneHot"] = convert_one_hot;
  t["GatherND"] = convert_gather_nd;
  t["DepthToSpace"] = convert_depth_to_space;
  t["SpaceToDepth"] = convert_space_to_depth;
}

}  // namespace plumb::onnx_io
