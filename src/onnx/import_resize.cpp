// ONNX import converter: Resize (opsets 11-17; Upsample's successor). Resizing is separable, so
// each resized axis is one op with a constant table built here exactly as ONNX's reference
// computes it (coordinate transform, neighbour choice, coefficients): nearest mode reads the chosen
// input index (index_select); linear and cubic modes multiply by an (out x in) weight matrix.
#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "onnx/import.h"
#include "plumb/ops.h"

namespace plumb::onnx_io {

namespace {

using Outs = std::vector<Tensor>;

enum class Mode { nearest, linear, cubic };
enum class Transform { half_pixel, pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn, crop };
enum class Nearest { round_prefer_floor, round_prefer_ceil, floor, ceil };

struct ResizeAttrs {
  Mode mode = Mode::nearest;
  Transform transform = Transform::half_pixel;
  Nearest nearest = Nearest::round_prefer_floor;
  double cubic_a = -0.75, extrapolation = 0;
  bool exclude_outside = false;
};

// One output position's source taps (at most 4) and weights along an axis; `outside` means the
// extrapolation value. Fixed-size: an axis fills one per output position.
struct Taps {
  std::array<int64_t, 4> index{};
  std::array<double, 4> weight{};
  int count = 0;
  bool outside = false;
};

int coeffs(const ResizeAttrs& a, double ratio, bool integer, std::array<double, 4>& w) {
  if (a.mode == Mode::nearest) {
    bool right = true;  // an integer position, and ceil
    if (!integer) {
      switch (a.nearest) {
        case Nearest::round_prefer_floor: right = ratio > 0.5; break;
        case Nearest::round_prefer_ceil: right = ratio >= 0.5; break;
        case Nearest::floor: right = false; break;
        case Nearest::ceil: right = true; break;
      }
    }
    w = {right ? 0.0 : 1.0, right ? 1.0 : 0.0};
    return 2;
  }
  if (a.mode == Mode::linear) {
    w = {1 - ratio, ratio};
    return 2;
  }
  const double A = a.cubic_a, r = ratio, s = 1 - ratio;
  w = {((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A, ((A + 2) * r - (A + 3)) * r * r + 1,
       ((A + 2) * s - (A + 3)) * s * s + 1, ((A * (s + 1) - 5 * A) * (s + 1) + 8 * A) * (s + 1) - 4 * A};
  return 4;
}

// ONNX's reference: the n nearest indexes to x in the edge-padded axis, ties to the lower index.
Taps taps_for(const ResizeAttrs& a, int64_t x, int64_t in, double scale, double roi_start, double roi_end) {
  Taps t;
  const double out_width = scale * static_cast<double>(in);
  const double xd = static_cast<double>(x), ind = static_cast<double>(in);
  double xo = 0;
  switch (a.transform) {
    case Transform::align_corners: xo = out_width == 1 ? 0.0 : xd * (ind - 1) / (out_width - 1); break;
    case Transform::asymmetric: xo = xd / scale; break;
    case Transform::crop:
      xo = out_width == 1 ? (roi_end - roi_start) * (ind - 1) / 2
                          : xd * (roi_end - roi_start) * (ind - 1) / (out_width - 1);
      xo += roi_start * (ind - 1);
      if (!(xo >= 0 && xo <= ind - 1)) {  // NaN from a garbage roi counts as outside
        t.outside = true;
        return t;
      }
      break;
    case Transform::pytorch_half_pixel: xo = out_width == 1 ? -0.5 : (xd + 0.5) / scale - 0.5; break;
    case Transform::tf_half_pixel_for_nn: xo = (xd + 0.5) / scale; break;
    case Transform::half_pixel: xo = (xd + 0.5) / scale - 0.5; break;
  }
  const bool integer = xo == std::floor(xo);
  const double ratio = integer ? 1.0 : xo - std::floor(xo);
  std::array<double, 4> w{};
  const int n = coeffs(a, ratio, integer, w);
  const int64_t pad = (n + 1) / 2, limit = in + 2 * pad;
  const double xp = xo + static_cast<double>(pad);
  // The n nearest are n consecutive indexes around x (an integer x is the right end of its
  // window); only a window that leaves [0, limit) needs the search, over a small neighbourhood.
  const int64_t base = static_cast<int64_t>(std::floor(xp)) - (integer ? 1 : 0) - (n / 2 - 1);
  std::array<int64_t, 4> cand{};
  int found = 0;
  if (base >= 0 && base + n <= limit) {
    for (int i = 0; i < n; ++i) cand[static_cast<size_t>(i)] = base + i;
    found = n;
  } else {
    std::array<int64_t, 16> near{};
    int m = 0;
    const int64_t lo = std::max<int64_t>(0, std::min(limit, base) - n);
    for (int64_t i = lo; i < limit && m < 16; ++i) near[static_cast<size_t>(m++)] = i;
    std::stable_sort(near.begin(), near.begin() + m, [&](int64_t p, int64_t q) {
      const double dp = std::fabs(xp - static_cast<double>(p)), dq = std::fabs(xp - static_cast<double>(q));
      return dp != dq ? dp < dq : p < q;
    });
    found = std::min(n, m);
    std::copy(near.begin(), near.begin() + found, cand.begin());
    std::sort(cand.begin(), cand.begin() + found);
  }
  if (a.exclude_outside) {
    double total = 0;
    for (int i = 0; i < found; ++i) {
      const int64_t idx = cand[static_cast<size_t>(i)] - pad;
      if (idx < 0 || idx >= in) w[static_cast<size_t>(i)] = 0;
      total += w[static_cast<size_t>(i)];
    }
    for (int i = 0; i < found; ++i) w[static_cast<size_t>(i)] /= total;
  }
  for (int i = 0; i < found; ++i) {
    t.index[static_cast<size_t>(i)] = std::clamp<int64_t>(cand[static_cast<size_t>(i)] - pad, 0, in - 1);  // edge
    t.weight[static_cast<size_t>(i)] = w[static_cast<size_t>(i)];
  }
  t.count = found;
  return t;
}

// Resizes axis `axis` of x from `in` to `out` positions.
Tensor resize_axis(NodeCtx& c, const ResizeAttrs& a, Tensor x, int64_t axis, int64_t out, double scale,
                   double roi_start, double roi_end) {
  const int64_t in = x.shape()[static_cast<size_t>(axis)];
  const int64_t rank = x.dim();
  check_table_size(c, {out, 16}, "resize table");  // 72-byte Taps per position
  std::vector<Taps> taps;
  bool any_outside = false, identity = out == in;
  for (int64_t i = 0; i < out; ++i) {
    taps.push_back(taps_for(a, i, in, scale, roi_start, roi_end));
    const Taps& t = taps.back();
    any_outside = any_outside || t.outside;
    if (t.outside) {
      identity = false;
      continue;
    }
    double self = 0, other = 0;
    for (int k = 0; k < t.count; ++k) (t.index[static_cast<size_t>(k)] == i ? self : other) += std::fabs(t.weight[static_cast<size_t>(k)]);
    identity = identity && self == 1 && other == 0;
  }
  if (identity) return x;
  Shape mask_shape(static_cast<size_t>(rank), 1);
  mask_shape[static_cast<size_t>(axis)] = out;
  Tensor y;
  if (a.mode == Mode::nearest) {
    std::vector<int64_t> index(static_cast<size_t>(out), 0);
    for (int64_t i = 0; i < out; ++i) {
      const Taps& t = taps[static_cast<size_t>(i)];
      for (int k = 0; k < t.count; ++k)
        if (t.weight[static_cast<size_t>(k)] != 0) index[static_cast<size_t>(i)] = t.index[static_cast<size_t>(k)];
    }
    y = index_select(x, axis, c.lift(Tensor::from_vector<int64_t>(index, {out})));
  } else {
    if (!is_floating(x.dtype())) c.fail("linear and cubic modes need a floating input, got ", dtype_name(x.dtype()));
    // W: (out, in); the axis goes last, is multiplied by W^T, and comes back.
    check_table_size(c, {in, out}, "interpolation matrix");
    std::vector<double> wt(static_cast<size_t>(in * out), 0.0);  // W^T: (in, out)
    for (int64_t i = 0; i < out; ++i) {
      const Taps& t = taps[static_cast<size_t>(i)];
      for (int k = 0; k < t.count; ++k)
        wt[static_cast<size_t>(t.index[static_cast<size_t>(k)] * out + i)] += t.weight[static_cast<size_t>(k)];
    }
    Tensor w = Tensor::from_vector<double>(wt, {in, out});
    const DType dt = x.dtype();
    w = c.on_cpu([&] { return cast(w, dt); });
    std::vector<int64_t> perm;
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis) perm.push_back(d);
    perm.push_back(axis);
    std::vector<int64_t> inverse(static_cast<size_t>(rank));
    for (int64_t d = 0; d < rank; ++d) inverse[static_cast<size_t>(perm[static_cast<size_t>(d)])] = d;
    const bool last = axis == rank - 1;
    y = matmul(last ? x : permute(x, perm), c.lift(w));
    if (!last) y = permute(y, inverse);
  }
  if (any_outside) {
    Tensor mask = Tensor::empty(mask_shape, DType::boolean, kCPU);
    for (int64_t i = 0; i < out; ++i) mask.data<bool>()[i] = taps[static_cast<size_t>(i)].outside;
    y = where(c.lift(mask), c.scalar(a.extrapolation, x.dtype()), y);
  }
  return y;
}

Outs convert_resize(NodeCtx& c) {
  ResizeAttrs a;
  const std::string mode = c.attr_string("mode", "nearest");
  const std::string transform = c.attr_string("coordinate_transformation_mode", "half_pixel");
  const std::string nearest = c.attr_string("nearest_mode", "round_prefer_floor");
  a.cubic_a = c.attr_float("cubic_coeff_a", -0.75);
  a.extrapolation = c.attr_float("extrapolation_value", 0.0);
  a.exclude_outside = c.attr_int("exclude_outside", 0) != 0;
  static const std::pair<const char*, Mode> modes[] = {
      {"nearest", Mode::nearest}, {"linear", Mode::linear}, {"cubic", Mode::cubic}};
  static const std::pair<const char*, Transform> transforms[] = {
      {"half_pixel", Transform::half_pixel}, {"pytorch_half_pixel", Transform::pytorch_half_pixel},
      {"align_corners", Transform::align_corners}, {"asymmetric", Transform::asymmetric},
      {"tf_half_pixel_for_nn", Transform::tf_half_pixel_for_nn}, {"tf_crop_and_resize", Transform::crop}};
  static const std::pair<const char*, Nearest> nearest_modes[] = {
      {"round_prefer_floor", Nearest::round_prefer_floor}, {"round_prefer_ceil", Nearest::round_prefer_ceil},
      {"floor", Nearest::floor}, {"ceil", Nearest::ceil}};
  auto pick = [&](const auto& table, const std::string& value, const char* what, auto& out) {
    for (const auto& [name, v] : table)
      if (value == name) {
        out = v;
        return;
      }
    c.fail(what, " '", value, "' is not supported");
  };
  pick(modes, mode, "mode", a.mode);
  pick(transforms, transform, "coordinate_transformation_mode", a.transform);
  pick(nearest_modes, nearest, "nearest_mode", a.nearest);

  const TensorSpec xs = c.spec(0);
  const size_t rank = xs.shape.size();
  std::vector<double> roi;
  if (a.transform == Transform::crop) {
    if (!c.has_input(1)) c.fail("tf_crop_and_resize needs the roi input");
    roi = c.need_constant(1, "roi").to_vector<double>();
    if (roi.size() != 2 * rank) c.fail("roi has ", roi.size(), " values for an input of rank ", rank);
  }
  std::vector<double> scales;
  std::vector<int64_t> sizes;
  if (c.has_input(2)) scales = c.need_constant(2, "scales").to_vector<double>();
  if (c.has_input(3)) sizes = c.ints_of(3, "sizes");
  if (!scales.empty() && !sizes.empty()) c.fail("scales and sizes are both given");
  if (scales.empty() && sizes.empty()) c.fail("needs scales or sizes");
  Shape out(rank);
  std::vector<double> scale(rank);
  for (size_t d = 0; d < rank; ++d) {
    const double in = static_cast<double>(xs.shape[d]);
    if (!sizes.empty()) {
      if (sizes.size() != rank) c.fail("sizes has ", sizes.size(), " values for an input of rank ", rank);
      if (sizes[d] < 1 || sizes[d] > (int64_t{1} << 31)) c.fail("size ", sizes[d], " of axis ", d, " is out of range");
      out[d] = sizes[d];
      scale[d] = static_cast<double>(sizes[d]) / in;
    } else {
      if (scales.size() != rank) c.fail("scales has ", scales.size(), " values for an input of rank ", rank);
      if (!(scales[d] > 0) || !std::isfinite(scales[d])) c.fail("scale ", scales[d], " must be positive and finite");
      scale[d] = static_cast<double>(static_cast<float>(scales[d]));
      const double size = std::floor(scale[d] * in);
      if (!(size <= 2147483648.0)) c.fail("scale ", scales[d], " makes axis ", d, " absurdly long");
      out[d] = static_cast<int64_t>(size);
    }
    if (out[d] < 1 || xs.shape[d] < 1) c.fail("cannot resize axis ", d, " from ", xs.shape[d], " to ", out[d]);
  }
  if (absurd_shape(out, xs.dtype)) c.fail("output shape ", shape_str(out), " is absurd");
  Tensor y = c.in(0);
  // Innermost axis first, as ONNX's reference nests the interpolation.
  for (size_t k = rank; k-- > 0;) {
    const double rs = roi.empty() ? 0.0 : roi[k], re = roi.empty() ? 1.0 : roi[k + rank];
    y = resize_axis(c, a, y, static_cast<int64_t>(k), out[k], scale[k], rs, re);
  }
  return {y};
}

}  // namespace

void add_resize_converters(ConverterTable& t) { t["Resize"] = convert_resize; }

}  // namespace plumb::onnx_io
