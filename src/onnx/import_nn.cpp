// ONNX import converters: Conv, ConvTranspose, MaxPool, AveragePool, the global pools, Gemm and
// MatMul. Padding plumb's ops cannot express (asymmetric, SAME, ONNX's ceil mode) becomes an
// explicit pad before the op; ConvTranspose is plumb's conv_backward_input.
#include <algorithm>
#include <limits>

#include "onnx/import.h"
#include "plumb/ops.h"

namespace plumb::onnx_io {

namespace {

using Outs = std::vector<Tensor>;

std::string list_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// Kernel, strides, dilations and per-side pads of a windowed op over `nd` spatial dims.
struct Window {
  Shape kernel, stride, dilation, begin, end;
};

// Window sizes, strides, dilations and pads past this are rejected (no real model comes close).
constexpr int64_t kMaxWindow = int64_t{1} << 20;

Shape ints_or(const NodeCtx& c, std::string_view name, size_t nd, int64_t dflt) {
  Shape v = c.attr_ints(name);
  if (v.empty()) return Shape(nd, dflt);
  if (v.size() != nd) c.fail(name, " ", list_str(v), " has ", v.size(), " entries for ", nd, " spatial dims");
  for (int64_t e : v)
    if (e < 1 || e > kMaxWindow) c.fail(name, " ", list_str(v), " must be in [1, ", kMaxWindow, "]");
  return v;
}

void check_pads(const NodeCtx& c, const Shape& pads) {
  for (int64_t p : pads)
    if (p < 0 || p > kMaxWindow) c.fail("pads ", list_str(pads), " must be in [0, ", kMaxWindow, "]");
}

// Resolves auto_pad and pads for a window over input spatial sizes `in` (conv and pools).
Window window_of(const NodeCtx& c, const Shape& in, const Shape& kernel) {
  const size_t nd = in.size();
  Window w;
  w.kernel = kernel;
  w.stride = ints_or(c, "strides", nd, 1);
  w.dilation = ints_or(c, "dilations", nd, 1);
  w.begin.assign(nd, 0);
  w.end.assign(nd, 0);
  const std::string auto_pad = c.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    const Shape pads = c.attr_ints("pads");
    if (!pads.empty()) {
      if (pads.size() != 2 * nd) c.fail("pads ", list_str(pads), " need ", 2 * nd, " entries");
      check_pads(c, pads);
      for (size_t d = 0; d < nd; ++d) {
        w.begin[d] = pads[d];
        w.end[d] = pads[d + nd];
      }
    }
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t d = 0; d < nd; ++d) {
      const int64_t out = (in[d] + w.stride[d] - 1) / w.stride[d];
      const int64_t extent = (kernel[d] - 1) * w.dilation[d] + 1;
      const int64_t total = std::max<int64_t>(0, (out - 1) * w.stride[d] + extent - in[d]);
      const int64_t small = total / 2, large = total - total / 2;
      w.begin[d] = auto_pad == "SAME_UPPER" ? small : large;
      w.end[d] = auto_pad == "SAME_UPPER" ? large : small;
    }
  } else if (auto_pad != "VALID") {
    c.fail("auto_pad '", auto_pad, "' is not supported");
  }
  return w;
}

bool symmetric(const Window& w) { return w.begin == w.end; }

// [0, 0, b0, b1, ..., 0, 0, e0, e1, ...]: pads of an (N, C, *spatial) tensor in plumb's layout.
std::vector<int64_t> nc_pads(const Shape& begin, const Shape& end) {
  std::vector<int64_t> p{0, 0};
  p.insert(p.end(), begin.begin(), begin.end());
  p.insert(p.end(), {0, 0});
  p.insert(p.end(), end.begin(), end.end());
  return p;
}

Shape spatial_of(const TensorSpec& s) { return Shape(s.shape.begin() + 2, s.shape.end()); }

Tensor add_channel_bias(NodeCtx& c, const Tensor& y, size_t bias_input) {
  if (!c.has_input(bias_input)) return y;
  Tensor b = c.in(bias_input);
  if (b.dim() != 1 || b.size(0) != y.size(1))
    c.fail("bias B has shape ", shape_str(b.shape()), ", expected (", y.size(1), ")");
  Shape s(static_cast<size_t>(y.dim()), 1);
  s[1] = y.size(1);
  return add(y, reshape(b, s));
}

void check_conv_ranks(const NodeCtx& c, const TensorSpec& x, const TensorSpec& w) {
  if (w.shape.size() < 3 || w.shape.size() > 5)
    c.fail("weight W has shape ", shape_str(w.shape), "; plumb convolves 1-D, 2-D and 3-D inputs");
  if (x.shape.size() != w.shape.size())
    c.fail("input X has shape ", shape_str(x.shape), " but weight W has rank ", w.shape.size());
}

Shape kernel_of(const NodeCtx& c, const TensorSpec& w) {
  const Shape k(w.shape.begin() + 2, w.shape.end());
  for (int64_t e : k)
    if (e > kMaxWindow) c.fail("weight W ", shape_str(w.shape), " has a kernel over ", kMaxWindow);
  const Shape given = c.attr_ints("kernel_shape");
  if (!given.empty() && given != k)
    c.fail("kernel_shape ", list_str(given), " does not match weight W ", shape_str(w.shape));
  return k;
}

Outs convert_conv(NodeCtx& c) {
  const TensorSpec xs = c.spec(0), ws = c.spec(1);
  check_conv_ranks(c, xs, ws);
  const Window w = window_of(c, spatial_of(xs), kernel_of(c, ws));
  const int64_t group = c.attr_int("group", 1);
  Tensor x = c.in(0);
  Shape padding = w.begin;
  if (!symmetric(w)) {
    x = pad(x, nc_pads(w.begin, w.end), 0.0);
    padding.assign(padding.size(), 0);
  }
  return {add_channel_bias(c, conv(x, c.in(1), w.stride, padding, w.dilation, group), 2)};
}

// y = conv_backward_input(x, W) over the full output, then cropped (or extended) by the pads.
Outs convert_conv_transpose(NodeCtx& c) {
  const TensorSpec xs = c.spec(0), ws = c.spec(1);
  check_conv_ranks(c, xs, ws);
  const Shape in = spatial_of(xs), kernel = kernel_of(c, ws);
  const size_t nd = in.size();
  const int64_t group = c.attr_int("group", 1);
  const Shape stride = ints_or(c, "strides", nd, 1), dilation = ints_or(c, "dilations", nd, 1);
  Shape out_pad = c.attr_ints("output_padding");
  if (out_pad.empty()) out_pad.assign(nd, 0);
  if (out_pad.size() != nd) c.fail("output_padding ", list_str(out_pad), " needs ", nd, " entries");
  for (int64_t v : in)
    if (v < 1) c.fail("input X ", shape_str(xs.shape), " has an empty spatial dim");
  Shape full(nd), begin(nd, 0), end(nd, 0);
  for (size_t d = 0; d < nd; ++d) {
    if (out_pad[d] < 0 || out_pad[d] >= stride[d])
      c.fail("output_padding ", list_str(out_pad), " must be in [0, stride) (strides ", list_str(stride), ")");
    full[d] = stride[d] * (in[d] - 1) + out_pad[d] + (kernel[d] - 1) * dilation[d] + 1;
  }
  const std::string auto_pad = c.attr_string("auto_pad", "NOTSET");
  Shape output_shape = c.attr_ints("output_shape");
  if (output_shape.size() > nd) output_shape = Shape(output_shape.end() - static_cast<int64_t>(nd), output_shape.end());
  if (output_shape.empty() && (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER"))
    for (size_t d = 0; d < nd; ++d) output_shape.push_back(in[d] * stride[d]);
  if (!output_shape.empty()) {
    if (output_shape.size() != nd) c.fail("output_shape ", list_str(output_shape), " needs ", nd, " entries");
    for (int64_t v : output_shape)
      if (v < 1 || v > (int64_t{1} << 40)) c.fail("output_shape ", list_str(output_shape), " is out of range");
    for (size_t d = 0; d < nd; ++d) {
      const int64_t total = full[d] - output_shape[d];
      if (total < 0) {
        end[d] = total;  // a larger output: zeros appended at the end, as output_padding does
      } else if (auto_pad == "SAME_UPPER") {
        begin[d] = total / 2;
        end[d] = total - total / 2;
      } else {
        begin[d] = total - total / 2;
        end[d] = total / 2;
      }
    }
  } else if (auto_pad == "NOTSET") {
    const Shape pads = c.attr_ints("pads");
    if (!pads.empty()) {
      if (pads.size() != 2 * nd) c.fail("pads ", list_str(pads), " need ", 2 * nd, " entries");
      check_pads(c, pads);
      for (size_t d = 0; d < nd; ++d) {
        begin[d] = pads[d];
        end[d] = pads[d + nd];
      }
    }
  } else if (auto_pad != "VALID") {
    c.fail("auto_pad '", auto_pad, "' is not supported");
  }
  const int64_t c_out = ws.shape[1] * group;
  Shape result{xs.shape[0], c_out};
  bool direct = true;
  for (size_t d = 0; d < nd; ++d) direct = direct && begin[d] == end[d] && begin[d] >= 0;
  if (direct) {
    // Symmetric pads are the backward op's own padding: one node.
    for (size_t d = 0; d < nd; ++d) result.push_back(full[d] - 2 * begin[d]);
    Tensor y = conv_backward_input(c.in(0), c.in(1), result, stride, begin, dilation, group);
    return {add_channel_bias(c, y, 2)};
  }
  result.insert(result.end(), full.begin(), full.end());
  Tensor y = conv_backward_input(c.in(0), c.in(1), result, stride, Shape(nd, 0), dilation, group);
  Shape neg_begin(nd), neg_end(nd);
  for (size_t d = 0; d < nd; ++d) {
    neg_begin[d] = -begin[d];
    neg_end[d] = -end[d];
  }
  y = pad(y, nc_pads(neg_begin, neg_end), 0.0);  // negative pads crop
  return {add_channel_bias(c, y, 2)};
}

// ---- pooling ----

struct PoolPlan {
  Window w;
  Shape out;    // ONNX's output spatial sizes
  Shape extra;  // end padding that makes a floor-mode pool give `out`
  bool direct;  // plumb's pool with its own symmetric padding gives the same windows
  bool ceil_mode;
};

PoolPlan plan_pool(const NodeCtx& c, const TensorSpec& xs, bool average, bool allow_dilation = false) {
  if (xs.shape.size() < 3 || xs.shape.size() > 5)
    c.fail("input X has shape ", shape_str(xs.shape), "; plumb pools 1-D, 2-D and 3-D inputs (N, C, *spatial)");
  const Shape in = spatial_of(xs);
  const size_t nd = in.size();
  const Shape kernel = c.attr_ints("kernel_shape");
  if (kernel.size() != nd) c.fail("kernel_shape ", list_str(kernel), " needs ", nd, " entries");
  for (int64_t k : kernel)
    if (k < 1 || k > kMaxWindow) c.fail("kernel_shape ", list_str(kernel), " must be in [1, ", kMaxWindow, "]");
  PoolPlan p;
  p.w = window_of(c, in, kernel);
  if (!allow_dilation)
    for (int64_t d : p.w.dilation)
      if (d != 1) c.fail("dilations ", list_str(p.w.dilation), " are not supported (plumb pools without dilation)");
  p.ceil_mode = c.attr_int("ceil_mode", 0) != 0;
  p.direct = symmetric(p.w);
  for (size_t d = 0; d < nd; ++d) {
    const int64_t k = (kernel[d] - 1) * p.w.dilation[d] + 1, s = p.w.stride[d], b = p.w.begin[d], e = p.w.end[d];
    const int64_t span = in[d] + b + e - k;
    if (span < 0) c.fail("kernel ", list_str(kernel), " is larger than the padded input in spatial dim ", d);
    const int64_t o = (p.ceil_mode ? (span + s - 1) / s : span / s) + 1;
    p.out.push_back(o);
    p.extra.push_back(std::max<int64_t>(0, (o - 1) * s + k - (in[d] + b + e)));
    // plumb: padding <= kernel / 2, and in ceil mode the last window must start inside the input or
    // the left padding; averages also count windows past the padding differently, so those go explicit.
    if (b > k / 2) p.direct = false;
    if (p.extra.back() > 0 && (average || (o - 1) * s >= in[d] + b)) p.direct = false;
  }
  return p;
}

std::vector<int64_t> padded_pads(const PoolPlan& p) {
  Shape end = p.w.end;
  for (size_t d = 0; d < end.size(); ++d) end[d] += p.extra[d];
  return nc_pads(p.w.begin, end);
}

// Max pooling as its taps: the maximum over one strided slice of the padded input per kernel
// position, which allows dilation, and the Indices output (the first maximum's flat index into X,
// row-major, or column-major over the spatial dims with storage_order=1).
Outs max_pool_by_taps(NodeCtx& c, const TensorSpec& xs, const PoolPlan& p, Tensor x) {
  const size_t nd = p.out.size();
  const Shape in = spatial_of(xs);
  x = pad(x, padded_pads(p), -std::numeric_limits<double>::infinity());
  const bool want_indices = c.wants_output(1);
  const bool column_major = c.attr_int("storage_order", 0) != 0;
  Tensor best, best_index;
  Shape tap(nd, 0);
  const int64_t taps = numel(p.w.kernel);
  if (taps > 4096) c.fail("a ", list_str(p.w.kernel), " kernel has too many taps for dilation or Indices (at most 4096)");
  for (int64_t t = 0; t < taps; ++t) {
    int64_t rest = t;
    for (size_t d = nd; d-- > 0;) {
      tap[d] = rest % p.w.kernel[d];
      rest /= p.w.kernel[d];
    }
    Tensor v = x;
    for (size_t d = 0; d < nd; ++d) {
      const int64_t start = tap[d] * p.w.dilation[d];
      v = slice(v, static_cast<int64_t>(d + 2), start, start + (p.out[d] - 1) * p.w.stride[d] + 1, p.w.stride[d]);
    }
    Tensor index;
    if (want_indices) {
      // Flat index of this tap's input element for every output position; padding never wins.
      Shape shape{xs.shape[0], xs.shape[1]};
      shape.insert(shape.end(), p.out.begin(), p.out.end());
      const int64_t plane = numel(in);
      check_table_size(c, shape, "Indices table");
      Tensor table = Tensor::empty(shape, DType::i64, kCPU);
      int64_t* out = table.data<int64_t>();
      const int64_t positions = numel(p.out);
      for (int64_t nc = 0; nc < xs.shape[0] * xs.shape[1]; ++nc)
        for (int64_t o = 0; o < positions; ++o) {
          int64_t rem = o, flat = 0, stride_row = 1, stride_col = 1;
          Shape pos(nd);
          for (size_t d = nd; d-- > 0;) {
            pos[d] = (rem % p.out[d]) * p.w.stride[d] + tap[d] * p.w.dilation[d] - p.w.begin[d];
            rem /= p.out[d];
          }
          for (size_t d = nd; d-- > 0;) {
            const int64_t i = std::clamp<int64_t>(pos[d], 0, in[d] - 1);
            flat += i * stride_row;
            stride_row *= in[d];
          }
          if (column_major) {
            flat = 0;
            for (size_t d = 0; d < nd; ++d) {
              flat += std::clamp<int64_t>(pos[d], 0, in[d] - 1) * stride_col;
              stride_col *= in[d];
            }
          }
          out[nc * positions + o] = nc * plane + flat;
        }
      index = c.lift(table);
    }
    if (!best.defined()) {
      best = v;
      best_index = index;
      continue;
    }
    if (want_indices) {
      Tensor better = gt(v, best);
      best_index = where(better, index, best_index);
      best = where(better, v, best);
    } else {
      best = maximum(best, v);
    }
  }
  if (taps == 1) best = copy(best);
  return want_indices ? Outs{best, best_index} : Outs{best};
}

Outs convert_max_pool(NodeCtx& c) {
  const TensorSpec xs = c.spec(0);
  const PoolPlan p = plan_pool(c, xs, false, true);
  bool dilated = false;
  for (int64_t d : p.w.dilation) dilated = dilated || d != 1;
  if (dilated || c.wants_output(1)) {
    if (!is_floating(xs.dtype)) c.fail("input must be floating for dilation or Indices, got ", dtype_name(xs.dtype));
    return max_pool_by_taps(c, xs, p, c.in(0));
  }
  Tensor x = c.in(0);
  // 8-bit integers pool exactly in f32 (plumb's pools are floating).
  const bool small_int = xs.dtype == DType::u8 || xs.dtype == DType::i8;
  if (small_int) x = cast(x, DType::f32);
  Tensor y;
  if (p.direct) {
    y = max_pool(x, p.w.kernel, p.w.stride, p.w.begin, p.ceil_mode);
  } else {
    x = pad(x, padded_pads(p), -std::numeric_limits<double>::infinity());
    y = max_pool(x, p.w.kernel, p.w.stride, {}, false);
  }
  return {small_int ? cast(y, xs.dtype) : y};
}

// Explicit padding: window sums over the zero-padded input divided by each window's count of
// input (and, with count_include_pad, pad) elements; the counts are a constant.
Outs convert_average_pool(NodeCtx& c) {
  const TensorSpec xs = c.spec(0);
  const PoolPlan p = plan_pool(c, xs, true);
  const bool include_pad = c.attr_int("count_include_pad", 0) != 0;
  Tensor x = c.in(0);
  if (p.direct) return {avg_pool(x, p.w.kernel, p.w.stride, p.w.begin, p.ceil_mode, include_pad)};
  Tensor sums = avg_pool(pad(x, padded_pads(p), 0.0), p.w.kernel, p.w.stride, {}, false, true);
  // A window's count is the product of its per-axis counts: the sums are divided by one small
  // table per axis rather than by a materialized (1, 1, *out) product.
  const Shape in = spatial_of(xs);
  const size_t nd = in.size();
  Tensor y = sums;
  for (size_t d = 0; d < nd; ++d) {
    const int64_t b = p.w.begin[d], e = p.w.end[d], n = in[d];
    Shape shape(nd + 2, 1);
    shape[d + 2] = p.out[d];
    check_table_size(c, shape, "window count table");
    Tensor t = Tensor::empty(shape, DType::f64, kCPU);
    bool all_full = true;
    for (int64_t o = 0; o < p.out[d]; ++o) {
      // The window [lo, hi) in padded coordinates against the input [b, b+n) and the pads.
      const int64_t lo = o * p.w.stride[d], hi = lo + p.w.kernel[d];
      auto overlap = [&](int64_t a, int64_t z) { return std::max<int64_t>(0, std::min(hi, z) - std::max(lo, a)); };
      int64_t count = overlap(b, b + n);
      if (include_pad) count += overlap(0, b) + overlap(b + n, b + n + e);
      all_full = all_full && count == p.w.kernel[d];
      // The sums come from a counted average pool (sum / kernel size): the counts are scaled alike.
      t.data<double>()[o] = static_cast<double>(count) / static_cast<double>(p.w.kernel[d]);
    }
    if (all_full) continue;
    const DType dt = xs.dtype;
    y = div(y, c.lift(c.on_cpu([&] { return cast(t, dt); })));
  }
  return {y};
}

std::vector<int64_t> spatial_axes(const NodeCtx& c, const TensorSpec& s) {
  if (s.shape.size() < 3) c.fail("input X must be (N, C, *spatial), got ", shape_str(s.shape));
  std::vector<int64_t> axes;
  for (int64_t d = 2; d < static_cast<int64_t>(s.shape.size()); ++d) axes.push_back(d);
  return axes;
}

Outs convert_global_average_pool(NodeCtx& c) { return {mean(c.in(0), spatial_axes(c, c.spec(0)), true)}; }
Outs convert_global_max_pool(NodeCtx& c) { return {max(c.in(0), spatial_axes(c, c.spec(0)), true)}; }

// ---- matrix ----

Outs convert_gemm(NodeCtx& c) {
  const double alpha = c.attr_float("alpha", 1.0), beta = c.attr_float("beta", 1.0);
  const bool ta = c.attr_int("transA", 0) != 0, tb = c.attr_int("transB", 0) != 0;
  const TensorSpec as = c.spec(0), bs = c.spec(1);
  if (as.shape.size() != 2 || bs.shape.size() != 2)
    c.fail("A ", shape_str(as.shape), " and B ", shape_str(bs.shape), " must be matrices");
  const bool has_c = c.has_input(2);
  const int64_t n = tb ? bs.shape[0] : bs.shape[1];
  // x W^T + b with a vector bias is plumb's linear: one node, as a PyTorch Linear.
  if (!ta && tb && alpha == 1 && beta == 1 && (!has_c || c.spec(2).shape == Shape{n}))
    return {linear(c.in(0), c.in(1), has_c ? c.in(2) : Tensor())};
  Tensor a = ta ? permute(c.in(0), {1, 0}) : c.in(0);
  Tensor b = tb ? permute(c.in(1), {1, 0}) : c.in(1);
  Tensor y = matmul(a, b);
  if (alpha != 1) y = mul(y, c.scalar(alpha, y.dtype()));
  if (has_c && beta != 0) {
    Tensor bias = c.in(2);
    if (beta != 1) bias = mul(bias, c.scalar(beta, bias.dtype()));
    y = add(y, bias);
  }
  return {y};
}

// NumPy matmul: a 1-D operand gains an axis that the result then drops.
Outs convert_matmul(NodeCtx& c) {
  Tensor a = c.in(0), b = c.in(1);
  if (a.dim() == 0 || b.dim() == 0) c.fail("operands must have rank >= 1");
  const bool va = a.dim() == 1, vb = b.dim() == 1;
  if (va) a = reshape(a, {1, a.size(0)});
  if (vb) b = reshape(b, {b.size(0), 1});
  Tensor y = matmul(a, b);
  if (va || vb) {
    Shape s = y.shape();
    if (vb) s.erase(s.end() - 1);
    if (va) s.erase(s.end() - (vb ? 1 : 2));
    y = reshape(y, s);
  }
  return {y};
}

}  // namespace

void add_nn_converters(ConverterTable& t) {
  t["Conv"] = convert_conv;
  t["ConvTranspose"] = convert_conv_transpose;
  t["MaxPool"] = convert_max_pool;
  t["AveragePool"] = convert_average_pool;
  t["GlobalAveragePool"] = convert_global_average_pool;
  t["GlobalMaxPool"] = convert_global_max_pool;
  t["Gemm"] = convert_gemm;
  t["MatMul"] = convert_matmul;
}

}  // namespace plumb::onnx_io
