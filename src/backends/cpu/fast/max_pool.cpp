// Max pooling backward (f32) without a workspace: each window's argmax is found again in x and grad_y
// written there. oneDNN's backward needs the argmax workspace of a training-mode forward, which plumb
// does not keep between ops (it would rerun the forward, plus a NaN scan); this kernel reads x once.
// Window rules are the reference's: the first max in window order wins, a NaN wins over any number (a
// later NaN over an earlier one), padding never wins. 2x2 windows with stride 2 (the common case) run
// four windows per SSE vector; other geometries a plain loop. The forward of the 2x2 case is here too
// (max_pool_2x2, called by the oneDNN max pooling kernel): one pass over x with NaN propagated, where
// oneDNN needs a NaN scan first.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "backends/cpu/fast/max_pool.h"

#include "backends/cpu/fast/fast.h"
#include "ops/op_def.h"
#include "plumb/thread_pool.h"

namespace plumb::backends::fast {

namespace {

// Pooling geometry as 3 spatial dims (missing leading dims: size 1, kernel 1, stride 1, padding 0).
struct Geometry {
  int64_t planes = 0;  // N * C
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, p[3] = {0, 0, 0};
  int64_t in_plane() const { return in[0] * in[1] * in[2]; }
  int64_t out_plane() const { return out[0] * out[1] * out[2]; }
};

// x_shape: (N, C, *S), y_shape: (N, C, *S_out); empty stride = kernel, empty padding = 0.
Geometry geometry(const Shape& x_shape, const Shape& y_shape, const PoolAttrs& at) {
  Geometry g;
  const size_t nd = at.kernel.size(), lead = 3 - nd;
  g.planes = x_shape[0] * x_shape[1];
  for (size_t d = 0; d < nd; ++d) {
    g.in[lead + d] = x_shape[2 + d];
    g.out[lead + d] = y_shape[2 + d];
    g.k[lead + d] = at.kernel[d];
    g.s[lead + d] = at.stride.empty() ? at.kernel[d] : at.stride[d];
    g.p[lead + d] = at.padding.empty() ? 0 : at.padding[d];
  }
  return g;
}

// 2x2 windows with stride 2 and no padding (per depth slice in 3-D), every window inside the input.
bool tiles_2x2(const Geometry& g) {
  return g.k[0] == 1 && g.s[0] == 1 && g.p[0] == 0 && g.k[1] == 2 && g.k[2] == 2 && g.s[1] == 2 && g.s[2] == 2 &&
         g.p[1] == 0 && g.p[2] == 0 && 2 * g.out[1] <= g.in[1] && 2 * g.out[2] <= g.in[2];
}

// Input elements per parallel chunk, at least (whole planes): below that a pool wake-up costs more than
// the split saves.
constexpr int64_t kPlaneGrain = 32768;

// The reference's update rule for one tap: strictly greater, or NaN.
inline bool takes(float v, float best) { return v > best || v != v; }

// One 2x2 window (a b / d e) in window order: the winning tap's index 0..3.
inline int argmax_2x2(float a, float b, float d, float e) {
  float best = a;
  int idx = 0;
  if (takes(b, best)) best = b, idx = 1;
  if (takes(d, best)) best = d, idx = 2;
  if (takes(e, best)) idx = 3;
  return idx;
}

#if defined(__SSE2__)
// The rule of argmax_2x2, lane-wise with masks, on windows (a b / d e) with gradients g: the gradient
// each tap receives, (ga, gb, gd, ge).
struct Taps {
  __m128 a, b, d, e;
};
inline Taps route_2x2(__m128 a, __m128 b, __m128 d, __m128 e, __m128 g) {
  const auto take = [](__m128 v, __m128 best) { return _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_cmpunord_ps(v, v)); };
  const auto pick = [](__m128 m, __m128 v, __m128 old) { return _mm_or_ps(_mm_and_ps(m, v), _mm_andnot_ps(m, old)); };
  __m128 best = a;
  const __m128 tb = take(b, best);
  best = pick(tb, b, best);
  const __m128 td = take(d, best);
  best = pick(td, d, best);
  const __m128 te = take(e, best);
  // The winner is the last tap that took; a when none did.
  const __m128 later_d = _mm_or_ps(td, te);
  const __m128 sel_b = _mm_andnot_ps(later_d, tb), sel_d = _mm_andnot_ps(te, td);
  return {_mm_andnot_ps(_mm_or_ps(later_d, tb), g), _mm_and_ps(sel_b, g), _mm_and_ps(sel_d, g), _mm_and_ps(te, g)};
}

// The window maxima under the same rule: the value of the tap argmax_2x2 picks.
inline __m128 max_2x2(__m128 a, __m128 b, __m128 d, __m128 e) {
  const auto take = [](__m128 v, __m128 best) { return _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_cmpunord_ps(v, v)); };
  const auto pick = [](__m128 m, __m128 v, __m128 old) { return _mm_or_ps(_mm_and_ps(m, v), _mm_andnot_ps(m, old)); };
  __m128 best = a;
  best = pick(take(b, best), b, best);
  best = pick(take(d, best), d, best);
  return pick(take(e, best), e, best);
}

// Four 2x2 windows side by side: x0, x1 point at 8 floats of two input rows, gy at 4 gradients; writes
// 8 floats of each gx row.
inline void windows4_2x2(const float* x0, const float* x1, const float* gy, float* g0, float* g1) {
  const __m128 r00 = _mm_loadu_ps(x0), r01 = _mm_loadu_ps(x0 + 4);
  const __m128 r10 = _mm_loadu_ps(x1), r11 = _mm_loadu_ps(x1 + 4);
  const Taps t = route_2x2(_mm_shuffle_ps(r00, r01, _MM_SHUFFLE(2, 0, 2, 0)), _mm_shuffle_ps(r00, r01, _MM_SHUFFLE(3, 1, 3, 1)),
                           _mm_shuffle_ps(r10, r11, _MM_SHUFFLE(2, 0, 2, 0)), _mm_shuffle_ps(r10, r11, _MM_SHUFFLE(3, 1, 3, 1)),
                           _mm_loadu_ps(gy));
  _mm_storeu_ps(g0, _mm_unpacklo_ps(t.a, t.b));
  _mm_storeu_ps(g0 + 4, _mm_unpackhi_ps(t.a, t.b));
  _mm_storeu_ps(g1, _mm_unpacklo_ps(t.d, t.e));
  _mm_storeu_ps(g1 + 4, _mm_unpackhi_ps(t.d, t.e));
}

// One 2x2 window, in lane 0 (a scalar version branches, which random data mispredicts).
inline void window1_2x2(const float* x0, const float* x1, const float* gy, float* g0, float* g1) {
  const Taps t = route_2x2(_mm_load_ss(x0), _mm_load_ss(x0 + 1), _mm_load_ss(x1), _mm_load_ss(x1 + 1), _mm_load_ss(gy));
  _mm_store_ss(g0, t.a);
  _mm_store_ss(g0 + 1, t.b);
  _mm_store_ss(g1, t.d);
  _mm_store_ss(g1 + 1, t.e);
}
#endif

// 2x2 windows, stride 2, no padding, every window inside the input: x plane (H, W), gy plane (OH, OW)
// with 2*OH <= H, 2*OW <= W. Writes every element of the gx plane (rows and columns no window covers: 0).
void plane_2x2(const float* x, const float* gy, float* gx, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  for (int64_t r = 0; r < oh; ++r) {
    const float* x0 = x + 2 * r * w;
    const float* x1 = x0 + w;
    float* g0 = gx + 2 * r * w;
    float* g1 = g0 + w;
    const float* gr = gy + r * ow;
    int64_t c = 0;
#if defined(__SSE2__)
    for (; c + 4 <= ow; c += 4) windows4_2x2(x0 + 2 * c, x1 + 2 * c, gr + c, g0 + 2 * c, g1 + 2 * c);
    for (; c < ow; ++c) window1_2x2(x0 + 2 * c, x1 + 2 * c, gr + c, g0 + 2 * c, g1 + 2 * c);
#endif
    for (; c < ow; ++c) {
      const int idx = argmax_2x2(x0[2 * c], x0[2 * c + 1], x1[2 * c], x1[2 * c + 1]);
      const float v = gr[c];
      g0[2 * c] = idx == 0 ? v : 0.0f;
      g0[2 * c + 1] = idx == 1 ? v : 0.0f;
      g1[2 * c] = idx == 2 ? v : 0.0f;
      g1[2 * c + 1] = idx == 3 ? v : 0.0f;
    }
    if (2 * ow < w) {
      std::fill(g0 + 2 * ow, g0 + w, 0.0f);
      std::fill(g1 + 2 * ow, g1 + w, 0.0f);
    }
  }
  std::fill(gx + 2 * oh * w, gx + h * w, 0.0f);
}

// Any geometry: zero the plane, then add each window's gradient at its argmax (windows may overlap).
void plane_general(const Geometry& g, const float* x, const float* gy, float* gx) {
  std::fill(gx, gx + g.in_plane(), 0.0f);
  int64_t o = 0;
  for (int64_t od = 0; od < g.out[0]; ++od) {
    const int64_t d0 = od * g.s[0] - g.p[0];
    const int64_t dlo = std::max<int64_t>(d0, 0), dhi = std::min(d0 + g.k[0], g.in[0]);
    for (int64_t oh = 0; oh < g.out[1]; ++oh) {
      const int64_t h0 = oh * g.s[1] - g.p[1];
      const int64_t hlo = std::max<int64_t>(h0, 0), hhi = std::min(h0 + g.k[1], g.in[1]);
      for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) {
        const int64_t w0 = ow * g.s[2] - g.p[2];
        const int64_t wlo = std::max<int64_t>(w0, 0), whi = std::min(w0 + g.k[2], g.in[2]);
        int64_t best_i = (dlo * g.in[1] + hlo) * g.in[2] + wlo;
        float best = -std::numeric_limits<float>::infinity();
        for (int64_t id = dlo; id < dhi; ++id)
          for (int64_t ih = hlo; ih < hhi; ++ih) {
            const int64_t row = (id * g.in[1] + ih) * g.in[2];
            for (int64_t iw = wlo; iw < whi; ++iw)
              if (takes(x[row + iw], best)) {
                best = x[row + iw];
                best_i = row + iw;
              }
          }
        gx[best_i] += gy[o];
      }
    }
  }
}

// (x: (N, C, *S), grad_y: (N, C, *S_out)) -> grad_x: (N, C, *S); (N, C) planes in parallel.
void max_pool_backward_native(const KernelArgs& a) {
  const auto& at = ops::attrs_as<PoolAttrs>(a.attrs);
  const Tensor& x = a.inputs[0];
  const Tensor& gy = a.inputs[1];
  const Tensor& gx = a.outputs[0];
  if (gx.numel() == 0) return;
  const Geometry g = geometry(x.shape(), gy.shape(), at);
  const float* px = x.data<float>();
  const float* pgy = gy.data<float>();
  float* pgx = gx.data<float>();
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const bool tile_2x2 = tiles_2x2(g);
  const int64_t grain = std::max<int64_t>(1, kPlaneGrain / std::max<int64_t>(1, in_plane));
  parallel_for(g.planes, grain, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = px + p * in_plane;
      const float* gyp = pgy + p * out_plane;
      float* gxp = pgx + p * in_plane;
      if (tile_2x2) {
        for (int64_t d = 0; d < g.in[0]; ++d)
          plane_2x2(xp + d * g.in[1] * g.in[2], gyp + d * g.out[1] * g.out[2], gxp + d * g.in[1] * g.in[2], g.in[1],
                    g.in[2], g.out[1], g.out[2]);
      } else {
        plane_general(g, xp, gyp, gxp);
      }
    }
  });
}

// Forward, same tiling: y plane (OH, OW) = the 2x2 maxima of x plane (H, W).
void forward_plane_2x2(const float* x, float* y, int64_t w, int64_t oh, int64_t ow) {
  for (int64_t r = 0; r < oh; ++r) {
    const float* x0 = x + 2 * r * w;
    const float* x1 = x0 + w;
    float* yr = y + r * ow;
    int64_t c = 0;
#if defined(__SSE2__)
    for (; c + 4 <= ow; c += 4) {
      const __m128 r00 = _mm_loadu_ps(x0 + 2 * c), r01 = _mm_loadu_ps(x0 + 2 * c + 4);
      const __m128 r10 = _mm_loadu_ps(x1 + 2 * c), r11 = _mm_loadu_ps(x1 + 2 * c + 4);
      _mm_storeu_ps(yr + c, max_2x2(_mm_shuffle_ps(r00, r01, _MM_SHUFFLE(2, 0, 2, 0)),
                                    _mm_shuffle_ps(r00, r01, _MM_SHUFFLE(3, 1, 3, 1)),
                                    _mm_shuffle_ps(r10, r11, _MM_SHUFFLE(2, 0, 2, 0)),
                                    _mm_shuffle_ps(r10, r11, _MM_SHUFFLE(3, 1, 3, 1))));
    }
    for (; c < ow; ++c)
      _mm_store_ss(yr + c, max_2x2(_mm_load_ss(x0 + 2 * c), _mm_load_ss(x0 + 2 * c + 1), _mm_load_ss(x1 + 2 * c),
                                   _mm_load_ss(x1 + 2 * c + 1)));
#endif
    for (; c < ow; ++c) {
      const float t[4] = {x0[2 * c], x0[2 * c + 1], x1[2 * c], x1[2 * c + 1]};
      yr[c] = t[argmax_2x2(t[0], t[1], t[2], t[3])];
    }
  }
}

}  // namespace

bool max_pool_2x2(const Tensor& x, const Tensor& y, const PoolAttrs& at) {
  if (x.dtype() != DType::f32 || y.numel() == 0) return false;
  const Geometry g = geometry(x.shape(), y.shape(), at);
  if (!tiles_2x2(g)) return false;
  const float* px = x.data<float>();
  float* py = y.data<float>();
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane();
  const int64_t in_slice = in_plane / g.in[0], out_slice = out_plane / g.in[0];  // one depth slice
  const int64_t grain = std::max<int64_t>(1, kPlaneGrain / std::max<int64_t>(1, in_slice));
  parallel_for(g.planes * g.in[0], grain, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) forward_plane_2x2(px + p * in_slice, py + p * out_slice, g.in[2], g.out[1], g.out[2]);
  });
  return true;
}

void register_native_pool() {
  register_kernel(
      Kernel{"max_pool_backward", DeviceType::cpu, "native", {DType::f32}, &max_pool_backward_native, 10, false});
}

}  // namespace plumb::backends::fast
