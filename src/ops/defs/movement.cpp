// Movement ops: the views (reshape, permute, expand, slice, split), copy, concat and pad, plus the helpers
// transpose, squeeze, unsqueeze, unbind, flatten and contiguous composed from them.
#include <algorithm>
#include <optional>
#include <string>

#include "ops/op_def.h"

namespace plumb::ops {

namespace {

std::string list_str(const std::vector<int64_t>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "]";
}

// Resolves reshape's target (at most one -1) against the input's element count.
Shape resolve_reshape(const Shape& in, const Shape& target) {
  const int64_t n = numel(in);
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    const int64_t d = target[i];
    if (d == -1) {
      if (infer_at >= 0) fail("reshape: target shape ", list_str(target), " has more than one -1");
      infer_at = static_cast<int64_t>(i);
    } else if (d < 0) {
      fail("reshape: target shape ", list_str(target), " has negative dimension ", d);
    } else {
      known *= d;
    }
  }
  Shape out = target;
  if (infer_at >= 0) {
    if (known == 0 || n % known != 0)
      fail("reshape: cannot infer the -1 of ", list_str(target), " for an input of shape ", shape_str(in), " (", n,
           " elements)");
    out[infer_at] = n / known;
  } else if (known != n) {
    fail("reshape: cannot reshape ", shape_str(in), " (", n, " elements) to ", shape_str(target), " (", known,
         " elements)");
  }
  return out;
}

// Strides that let `new_shape` view memory laid out as (shape, strides), or nothing when the
// layout needs a copy (PyTorch's computeStride: split and merge only within contiguous chunks).
std::optional<Shape> view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape) {
  if (shape.empty() || numel(shape) == 0) return contiguous_strides(new_shape);
  Shape out(new_shape.size());
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = static_cast<int64_t>(shape.size()) - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= shape[tensor_d];
    const bool chunk_end = tensor_d == 0 || (shape[tensor_d - 1] != 1 &&
                                             strides[tensor_d - 1] != tensor_numel * chunk_base_stride);
    if (!chunk_end) continue;
    while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
      out[view_d] = view_numel * chunk_base_stride;
      view_numel *= new_shape[view_d];
      --view_d;
    }
    if (view_numel != tensor_numel) return std::nullopt;
    if (tensor_d > 0) {
      chunk_base_stride = strides[tensor_d - 1];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

// Runs `copy` as an implementation detail (not on the tape): a view op whose input layout cannot be viewed.
Tensor untaped_copy(const Tensor& x) {
  const bool prev = grad_mode_enabled();
  set_grad_mode_enabled(false);
  Tensor c;
  try {
    c = copy(x);
  } catch (...) {
    set_grad_mode_enabled(prev);
    throw;
  }
  set_grad_mode_enabled(prev);
  return c;
}

std::vector<int64_t> checked_perm(const std::vector<int64_t>& dims, int64_t rank) {
  if (static_cast<int64_t>(dims.size()) != rank)
    fail("permute: dims ", list_str(dims), " have ", dims.size(), " entries for an input of rank ", rank);
  std::vector<int64_t> perm(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = dims[i] < 0 ? dims[i] + rank : dims[i];
    if (d < 0 || d >= rank) fail("permute: dim ", dims[i], " in ", list_str(dims), " is out of range for rank ", rank);
    if (seen[d]) fail("permute: dims ", list_str(dims), " are not a permutation (", dims[i], " repeats)");
    seen[d] = true;
    perm[i] = d;
  }
  return perm;
}

Shape expand_shape(const Shape& in, const Shape& target) {
  const size_t m = target.size(), r = in.size();
  if (m < r)
    fail("expand: target shape ", list_str(target), " has fewer dims than the input ", shape_str(in));
  Shape out(m);
  for (size_t i = 0; i < m; ++i) {
    const int64_t t = target[i];
    if (i < m - r) {
      if (t < 0) fail("expand: new leading axis ", i, " of ", list_str(target), " needs a size >= 0, got ", t);
      out[i] = t;
      continue;
    }
    const int64_t s = in[i - (m - r)];
    if (t == -1 || t == s) {
      out[i] = s;
    } else if (t < 0) {
      fail("expand: target shape ", list_str(target), " has invalid size ", t);
    } else if (s == 1) {
      out[i] = t;
    } else {
      fail("expand: cannot expand axis ", i - (m - r), " of size ", s, " to ", t, " (input ", shape_str(in),
           ", target ", list_str(target), ")");
    }
  }
  return out;
}

struct SliceBounds {
  int64_t axis, start, len, step;
};

SliceBounds slice_bounds(const Shape& in, const SliceAttrs& a) {
  const int64_t rank = static_cast<int64_t>(in.size());
  const int64_t axis = normalize_axis(a.axis, rank, "slice");
  if (a.step <= 0) fail("slice: step must be positive, got ", a.step);
  const int64_t n = in[axis];
  auto clamp_bound = [n](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + n : v, 0, n); };
  const int64_t start = clamp_bound(a.start), stop = clamp_bound(a.stop);
  const int64_t len = stop > start ? (stop - start + a.step - 1) / a.step : 0;
  return {axis, start, len, a.step};
}

// Pads `x` along one axis only.
Tensor pad_axis(const Tensor& x, int64_t axis, int64_t begin, int64_t end) {
  if (begin == 0 && end == 0) return x;
  std::vector<int64_t> pads(2 * x.dim(), 0);
  pads[axis] = begin;
  pads[axis + x.dim()] = end;
  return pad(x, std::move(pads), 0.0);
}

Cost no_cost(std::span<const TensorSpec>, std::span<const TensorSpec>, const Attrs&) { return {}; }

// The ops that write a new tensor: bytes read and written, no flops.
Cost copy_cost(std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs&) {
  return io_bytes(in, out);
}

std::vector<TensorSpec> same_spec(std::span<const TensorSpec> in, const Attrs&) { return {in[0]}; }

// split: every piece has the input's shape but sizes[i] on the axis.
std::vector<TensorSpec> split_infer(std::span<const TensorSpec> in, const Attrs& attrs) {
  const auto& a = attrs_as<SplitAttrs>(attrs);
  const Shape& s = in[0].shape;
  if (s.empty()) fail("split: input must have rank >= 1, got a 0-d input");
  const int64_t axis = normalize_axis(a.axis, static_cast<int64_t>(s.size()), "split");
  int64_t total = 0;
  for (size_t i = 0; i < a.sizes.size(); ++i) {
    if (a.sizes[i] < 0) fail("split: size ", a.sizes[i], " (entry ", i, " of ", list_str(a.sizes), ") is negative");
    total += a.sizes[i];
  }
  if (total != s[axis])
    fail("split: sizes ", list_str(a.sizes), " sum to ", total, " but axis ", axis, " of input ", shape_str(s),
         " has length ", s[axis]);
  std::vector<TensorSpec> out;
  out.reserve(a.sizes.size());
  for (int64_t len : a.sizes) {
    Shape piece = s;
    piece[axis] = len;
    out.push_back({piece, in[0].dtype, in[0].device});
  }
  return out;
}

std::vector<TensorSpec> concat_infer(std::span<const TensorSpec> in, const Attrs& attrs) {
  const TensorSpec& first = in[0];
  const int64_t rank = static_cast<int64_t>(first.shape.size());
  if (rank == 0) fail("concat: inputs must have rank >= 1, input 0 is 0-d");
  const int64_t axis = normalize_axis(attrs_as<AxisAttrs>(attrs).axis, rank, "concat");
  check_same_device("concat", in);
  Shape out = first.shape;
  out[axis] = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const TensorSpec& s = in[i];
    if (s.dtype != first.dtype)
      fail("concat: input ", i, " has dtype ", dtype_name(s.dtype), " but input 0 has ", dtype_name(first.dtype));
    if (static_cast<int64_t>(s.shape.size()) != rank)
      fail("concat: input ", i, " has rank ", s.shape.size(), " but input 0 has rank ", rank);
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis && s.shape[d] != first.shape[d])
        fail("concat: input ", i, " has shape ", shape_str(s.shape), ", input 0 has ", shape_str(first.shape),
             "; they must match except on axis ", axis);
    out[axis] += s.shape[axis];
  }
  return {{out, first.dtype, first.device}};
}

std::vector<TensorSpec> pad_infer(std::span<const TensorSpec> in, const Attrs& attrs) {
  const auto& a = attrs_as<PadAttrs>(attrs);
  const Shape& s = in[0].shape;
  const size_t rank = s.size();
  if (a.pads.size() != 2 * rank)
    fail("pad: pads ", list_str(a.pads), " have ", a.pads.size(), " entries; an input of rank ", rank, " needs ",
         2 * rank, " (begin_0.., end_0..)");
  Shape out(rank);
  for (size_t d = 0; d < rank; ++d) {
    out[d] = s[d] + a.pads[d] + a.pads[d + rank];
    if (out[d] < 0)
      fail("pad: pads ", list_str(a.pads), " crop axis ", d, " of size ", s[d], " below zero");
  }
  return {{out, in[0].dtype, in[0].device}};
}

}  // namespace

}  // namespace plumb::ops

// ---- front-end functions ----

namespace plumb {

using ops::call;

Tensor reshape(const Tensor& x, Shape shape) {
  const Shape target = ops::resolve_reshape(x.shape(), shape);
  Tensor src = x;
  if (!x.is_meta() && !ops::view_strides(x.shape(), x.strides(), target)) src = contiguous(x);
  ShapeAttrs a;
  a.shape = std::move(shape);
  return call(PLUMB_OP("reshape"), {src}, a);
}

Tensor permute(const Tensor& x, std::vector<int64_t> dims) {
  PermuteAttrs a;
  a.dims = std::move(dims);
  return call(PLUMB_OP("permute"), {x}, a);
}

Tensor transpose(const Tensor& x, int64_t a, int64_t b) {
  const int64_t rank = x.dim();
  const int64_t ia = normalize_axis(a, rank, "transpose"), ib = normalize_axis(b, rank, "transpose");
  std::vector<int64_t> dims(rank);
  for (int64_t i = 0; i < rank; ++i) dims[i] = i;
  std::swap(dims[ia], dims[ib]);
  return permute(x, std::move(dims));
}

Tensor expand(const Tensor& x, Shape shape) {
  ShapeAttrs a;
  a.shape = std::move(shape);
  return call(PLUMB_OP("expand"), {x}, a);
}

Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t stop, int64_t step) {
  SliceAttrs a;
  a.axis = axis;
  a.start = start;
  a.stop = stop;
  a.step = step;
  return call(PLUMB_OP("slice"), {x}, a);
}

Tensor concat(const std::vector<Tensor>& xs, int64_t axis) {
  if (xs.empty()) fail("concat: needs at least one input");
  AxisAttrs a;
  a.axis = axis;
  return dispatch1(PLUMB_OP("concat"), xs, a);
}

std::vector<Tensor> split(const Tensor& x, int64_t axis, std::vector<int64_t> sizes) {
  SplitAttrs a;
  a.axis = axis;
  a.sizes = std::move(sizes);
  const Tensor in[] = {x};
  return dispatch(PLUMB_OP("split"), in, a);
}

std::vector<Tensor> unbind(const Tensor& x, int64_t axis) {
  if (x.dim() == 0) fail("unbind: input must have rank >= 1, got a 0-d input");
  const int64_t a = normalize_axis(axis, x.dim(), "unbind");
  std::vector<Tensor> parts = split(x, a, std::vector<int64_t>(static_cast<size_t>(x.shape()[a]), 1));
  for (Tensor& p : parts) p = squeeze(p, a);
  return parts;
}

Tensor pad(const Tensor& x, std::vector<int64_t> pads, double value) {
  PadAttrs a;
  a.pads = std::move(pads);
  a.value = value;
  return call(PLUMB_OP("pad"), {x}, a);
}

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : copy(x); }

Tensor copy(const Tensor& x) { return call(PLUMB_OP("copy"), {x}); }

Tensor squeeze(const Tensor& x, int64_t axis) {
  const int64_t a = normalize_axis(axis, x.dim(), "squeeze");
  if (x.shape()[a] != 1) fail("squeeze: axis ", axis, " has size ", x.shape()[a], ", not 1 (shape ", shape_str(x.shape()), ")");
  Shape s = x.shape();
  s.erase(s.begin() + a);
  return reshape(x, std::move(s));
}

Tensor unsqueeze(const Tensor& x, int64_t axis) {
  const int64_t a = normalize_axis(axis, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(s.begin() + a, 1);
  return reshape(x, std::move(s));
}

Tensor flatten(const Tensor& x, int64_t start_axis) {
  if (x.dim() == 0) return reshape(x, {1});
  const int64_t a = normalize_axis(start_axis, x.dim(), "flatten");
  Shape s(x.shape().begin(), x.shape().begin() + a);
  s.push_back(numel(std::span<const int64_t>(x.shape()).subspan(a)));
  return reshape(x, std::move(s));
}

}  // namespace plumb

// ---- records ----

namespace plumb::ops {

void register_movement_ops() {
  register_op(OpDef{
      .name = "reshape",
      .op_class = OpClass::movement,
      .min_inputs = 1,
      .max_inputs = 1,
      .make_attrs = attrs_factory<ShapeAttrs>(),
      .infer =
          [](std::span<const TensorSpec> in, const Attrs& attrs) -> std::vector<TensorSpec> {
            return {{resolve_reshape(in[0].shape, attrs_as<ShapeAttrs>(attrs).shape), in[0].dtype, in[0].device}};
          },
      .cost = no_cost,
      .vjp = [](const VjpArgs& a) -> std::vector<Tensor> { return {reshape(a.grad_outputs[0], a.inputs[0].shape())}; },
      .differentiable = true,
      .view =
          [](const Tensor& x, const TensorSpec& out, const Attrs&) {
            if (auto st = view_strides(x.shape(), x.strides(), out.shape))
              return Tensor::view_of(x, out.shape, *st, x.offset());
            // Called directly on a layout that cannot be viewed (the front-end copies first): view a copy.
            Tensor c = untaped_copy(x);
            return Tensor::view_of(c, out.shape, contiguous_strides(out.shape), c.offset());
          },
      .doc = "view with a new shape (one -1 inferred); copies first when the strides do not allow a view",
  });

  register_op(OpDef{
      .name = "permute",
      .op_class = OpClass::movement,
      .min_inputs = 1,
      .max_inputs = 1,
      .make_attrs = attrs_factory<PermuteAttrs>(),
      .infer =
          [](std::span<const TensorSpec> in, const Attrs& attrs) -> std::vector<TensorSpec> {
            const auto perm = checked_perm(attrs_as<PermuteAttrs>(attrs).dims, in[0].shape.size());
            Shape out(perm.size());
            for (size_t i = 0; i < perm.size(); ++i) out[i] = in[0].shape[perm[i]];
            return {{out, in[0].dtype, in[0].device}};
          },
      .cost = no_cost,
      .vjp =
          [](const VjpArgs& a) -> std::vector<Tensor> {
            const auto perm = checked_perm(attrs_as<PermuteAttrs>(a.attrs).dims, a.inputs[0].dim());
            std::vector<int64_t> inverse(perm.size());
            for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int64_t>(i);
            return {permute(a.grad_outputs[0], inverse)};
          },
      .differentiable = true,
      .view =
          [](const Tensor& x, const TensorSpec& out, const Attrs& attrs) {
            const auto perm = checked_perm(attrs_as<PermuteAttrs>(attrs).dims, x.dim());
            Shape strides(perm.size());
            for (size_t i = 0; i < perm.size(); ++i) strides[i] = x.strides()[perm[i]];
            return Tensor::view_of(x, out.shape, strides, x.offset());
          },
      .doc = "view with the axes reordered: out axis i is input axis dims[i]",
  });

  register_op(OpDef{
      .name = "expand",
      .op_class = OpClass::movement,
      .min_inputs = 1,
      .max_inputs = 1,
      .make_attrs = attrs_factory<ShapeAttrs>(),
      .infer =
          [](std::span<const TensorSpec> in, const Attrs& attrs) -> std::vector<TensorSpec> {
            return {{expand_shape(in[0].shape, attrs_as<ShapeAttrs>(attrs).shape), in[0].dtype, in[0].device}};
          },
      .cost = no_cost,
      .vjp = [](const VjpArgs& a) -> std::vector<Tensor> { return {sum_to(a.grad_outputs[0], a.inputs[0].shape())}; },
      .differentiable = true,
      .view =
          [](const Tensor& x, const TensorSpec& out, const Attrs&) {
            const size_t m = out.shape.size(), r = x.shape().size();
            Shape strides(m, 0);
            for (size_t j = 0; j < r; ++j)
              strides[m - r + j] = x.shape()[j] == out.shape[m - r + j] ? x.strides()[j] : 0;
            return Tensor::view_of(x, out.shape, strides, x.offset());
          },
      .doc = "broadcast view to a larger shape (NumPy rules, -1 keeps an axis); expanded axes have stride 0",
  });

  register_op(OpDef{
      .name = "slice",
      .op_class = OpClass::movement,
      .min_inputs = 1,
      .max_inputs = 1,
      .make_attrs = attrs_factory<SliceAttrs>(),
      .infer =
          [](std::span<const TensorSpec> in, const Attrs& attrs) -> std::vector<TensorSpec> {
            const SliceBounds b = slice_bounds(in[0].shape, attrs_as<SliceAttrs>(attrs));
            Shape out = in[0].shape;
            out[b.axis] = b.len;
            return {{out, in[0].dtype, in[0].device}};
          },
      .cost = no_cost,
      .vjp =
          [](const VjpArgs& a) -> std::vector<Tensor> {
            const Tensor& x = a.inputs[0];
            const SliceBounds b = slice_bounds(x.shape(), attrs_as<SliceAttrs>(a.attrs));
            const int64_t n = x.shape()[b.axis];
            Tensor g = a.grad_outputs[0];
            if (b.step == 1) return {pad_axis(g, b.axis, b.start, n - b.start - b.len)};
            // Strided: interleave step-1 zeros after each element ((L) -> (L, step) -> (L*step)),
            // then trim or pad the tail and shift by start.
            Tensor e = unsqueeze(g, b.axis + 1);
            e = pad_axis(e, b.axis + 1, 0, b.step - 1);
            Shape s = g.shape();
            s[b.axis] = b.len * b.step;
            e = reshape(e, s);
            const int64_t rem = n - b.start, total = b.len * b.step;
            if (total > rem) e = slice(e, b.axis, 0, rem);
            return {pad_axis(e, b.axis, b.start, std::max<int64_t>(0, rem - total))};
          },
      .differentiable = true,
      .view =
          [](const Tensor& x, const TensorSpec& out, const Attrs& attrs) {
            const SliceBounds b = slice_bounds(x.shape(), attrs_as<SliceAttrs>(attrs));
            Shape strides = x.strides();
            const int64_t offset = x.offset() + (b.len > 0 ? b.start * strides[b.axis] : 0);
            strides[b.axis] *= b.step;
            return Tensor::view_of(x, out.shape, strides, offset);
          },
      .doc = "view of x[start:stop:step] along one axis (Python bounds, clamped; step > 0)",
  });

  register_op(OpDef{
      .name = "split",
      .op_class = OpClass::movement,
      .min_inputs = 1,
      .max_inputs = 1,
      .make_attrs = attrs_factory<SplitAttrs>(),
      .infer = split_infer,
      .cost = no_cost,
      // One concat, not one pad per piece: the engine hands zeros for pieces that got no gradient.
      .vjp =
          [](const VjpArgs& a) -> std::vector<Tensor> {
            const Tensor& x = a.inputs[0];
            const int64_t axis = normalize_axis(attrs_as<SplitAttrs>(a.attrs).axis, x.dim(), "split");
            if (a.grad_outputs.empty()) return {Tensor::zeros(x.shape(), x.dtype(), x.device())};
            return {concat(std::vector<Tensor>(a.grad_outputs.begin(), a.grad_outputs.end()), axis)};
          },
      .differentiable = true,
      .views =
          [](const Tensor& x, std::span<const TensorSpec> out, const Attrs& attrs) {
            const auto& a = attrs_as<SplitAttrs>(attrs);
            const int64_t axis = normalize_axis(a.axis, x.dim(), "split");
            std::vector<Tensor> pieces;
            pieces.reserve(out.size());
            int64_t start = 0;
            for (size_t i = 0; i < out.size(); ++i) {
              const int64_t len = a.sizes[i];
              const int64_t offset = x.offset() + (len > 0 ? start * x.strides()[axis] : 0);
              pieces.push_back(Tensor::view_of(x, out[i].shape, x.strides(), offset));
              start += len;
            }
            return pieces;
          },
      .doc = "views of consecutive pieces of x along one axis (sizes sum to its length); vjp is one concat",
  });

  register_op(OpDef{
      .name = "copy",
      .op_class = OpClass::movement,
      .min_inputs = 1,
      .max_inputs = 1,
      .infer = same_spec,
      .cost = copy_cost,
      .vjp = [](const VjpArgs& a) -> std::vector<Tensor> { return {a.grad_outputs[0]}; },
      .differentiable = true,
      .doc = "a new contiguous tensor with x's values (any strides in)",
  });

  register_op(OpDef{
      .name = "concat",
      .op_class = OpClass::movement,
      .min_inputs = 1,
      .max_inputs = -1,
      .make_attrs = attrs_factory<AxisAttrs>(),
      .infer = concat_infer,
      .cost = copy_cost,
      .vjp =
          [](const VjpArgs& a) -> std::vector<Tensor> {
            const int64_t axis = normalize_axis(attrs_as<AxisAttrs>(a.attrs).axis, a.inputs[0].dim(), "concat");
            std::vector<Tensor> grads(a.inputs.size());
            int64_t off = 0;
            for (size_t i = 0; i < a.inputs.size(); ++i) {
              const int64_t len = a.inputs[i].shape()[axis];
              if (a.needs_grad[i]) grads[i] = slice(a.grad_outputs[0], axis, off, off + len);
              off += len;
            }
            return grads;
          },
      .differentiable = true,
      .doc = "joins tensors along an existing axis; shapes match elsewhere",
  });

  register_op(OpDef{
      .name = "pad",
      .op_class = OpClass::movement,
      .min_inputs = 1,
      .max_inputs = 1,
      .make_attrs = attrs_factory<PadAttrs>(),
      .infer = pad_infer,
      .cost = copy_cost,
      .vjp =
          [](const VjpArgs& a) -> std::vector<Tensor> {
            const auto& pads = attrs_as<PadAttrs>(a.attrs).pads;
            const Tensor& x = a.inputs[0];
            const int64_t rank = x.dim();
            Tensor g = a.grad_outputs[0];
            if (std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p >= 0; })) {
              for (int64_t d = 0; d < rank; ++d)
                if (pads[d] != 0 || pads[d + rank] != 0) g = slice(g, d, pads[d], pads[d] + x.shape()[d]);
              return {g};
            }
            // Negative pads crop: the gradient pads back what was cropped and crops what was padded.
            std::vector<int64_t> neg(pads.size());
            for (size_t i = 0; i < pads.size(); ++i) neg[i] = -pads[i];
            return {pad(g, neg, 0.0)};
          },
      .differentiable = true,
      .doc = "constant padding; pads = [begin_0.., end_0..] as in ONNX (negative pads crop)",
  });
}

}  // namespace plumb::ops
