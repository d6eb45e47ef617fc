// Reference pooling kernels: plain loops over (N*C) planes, 1-D/2-D/3-D handled as 3-D with
// leading size-1 spatial dims. Window rules follow PyTorch (divisors, first-max ties, NaN propagation).
#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/cpu_util.h"
#include "backends/cpu/reference/reference.h"
#include "ops/op_def.h"

namespace plumb::backends::reference {

namespace {

// Pooling geometry as 3 spatial dims (missing leading dims: size 1, kernel 1, stride 1, padding 0).
struct Geometry {
  int64_t planes = 0;  // N * C
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, p[3] = {0, 0, 0};
  int64_t in_plane() const { return in[0] * in[1] * in[2]; }
  int64_t out_plane() const { return out[0] * out[1] * out[2]; }
  int64_t taps() const { return k[0] * k[1] * k[2]; }
};

// x_shape: (N, C, *S), y_shape: (N, C, *S_out); empty stride = kernel, empty padding = 0.
Geometry geometry(const Shape& x_shape, const Shape& y_shape, const Shape& kernel, const Shape& stride,
                  const Shape& padding) {
  Geometry g;
  const size_t nd = kernel.size(), lead = 3 - nd;
  g.planes = x_shape[0] * x_shape[1];
  for (size_t d = 0; d < nd; ++d) {
    g.in[lead + d] = x_shape[2 + d];
    g.out[lead + d] = y_shape[2 + d];
    g.k[lead + d] = kernel[d];
    g.s[lead + d] = stride.empty() ? kernel[d] : stride[d];
    g.p[lead + d] = padding.empty() ? 0 : padding[d];
  }
  return g;
}

// One output position's window along one dim: [lo, hi) inside the input; `padded_len` is the window
// length clipped to the padded input (PyTorch's count_include_pad divisor factor).
struct Span {
  int64_t lo, hi, padded_len;
};
Span window(const Geometry& g, int d, int64_t o) {
  const int64_t start = o * g.s[d] - g.p[d];
  const int64_t end_padded = std::min(start + g.k[d], g.in[d] + g.p[d]);
  return {std::max<int64_t>(start, 0), std::min(start + g.k[d], g.in[d]), end_padded - start};
}

// Small problems stay on the calling thread.
int64_t plane_grain(const Geometry& g) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, g.out_plane() * g.taps())); }

// Calls f(p) for every (N*C) plane p, planes in parallel.
template <class F>
void for_each_plane(const Geometry& g, F&& f) {
  parallel_for(g.planes, plane_grain(g), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) f(p);
  });
}

// Calls f(out_index, span_d, span_h, span_w) for every output position of a plane.
template <class F>
void for_each_window(const Geometry& g, F&& f) {
  int64_t o = 0;
  for (int64_t od = 0; od < g.out[0]; ++od) {
    const Span sd = window(g, 0, od);
    for (int64_t oh = 0; oh < g.out[1]; ++oh) {
      const Span sh = window(g, 1, oh);
      for (int64_t ow = 0; ow < g.out[2]; ++ow, ++o) f(o, sd, sh, window(g, 2, ow));
    }
  }
}

// Calls f(i) for the index i (within the plane) of every input element of a window, in window order.
template <class F>
void for_each_tap(const Geometry& g, const Span& sd, const Span& sh, const Span& sw, F&& f) {
  for (int64_t id = sd.lo; id < sd.hi; ++id)
    for (int64_t ih = sh.lo; ih < sh.hi; ++ih)
      for (int64_t iw = sw.lo; iw < sw.hi; ++iw) f((id * g.in[1] + ih) * g.in[2] + iw);
}

// Index (within the plane) of the window's max: the first max in window order, NaN wins (as PyTorch).
template <class T>
int64_t window_argmax(const T* x, const Geometry& g, const Span& sd, const Span& sh, const Span& sw) {
  int64_t best_i = (sd.lo * g.in[1] + sh.lo) * g.in[2] + sw.lo;
  T best = -std::numeric_limits<T>::infinity();
  for_each_tap(g, sd, sh, sw, [&](int64_t i) {
    if (x[i] > best || std::isnan(x[i])) {
      best = x[i];
      best_i = i;
    }
  });
  return best_i;
}

double avg_divisor(const Span& sd, const Span& sh, const Span& sw, bool count_include_pad) {
  if (count_include_pad) return static_cast<double>(sd.padded_len * sh.padded_len * sw.padded_len);
  return static_cast<double>((sd.hi - sd.lo) * (sh.hi - sh.lo) * (sw.hi - sw.lo));
}

// x: (N, C, *S) -> y: (N, C, *S_out)
void max_pool_kernel(const KernelArgs& a) {
  const auto& at = ops::attrs_as<PoolAttrs>(a.attrs);
  const Geometry g = geometry(a.inputs[0].shape(), a.outputs[0].shape(), at.kernel, at.stride, at.padding);
  cpu::with_float(a.inputs[0].dtype(), [&](auto t) {
    using T = decltype(t);
    const T* x = a.inputs[0].data<T>();
    T* y = a.outputs[0].data<T>();
    for_each_plane(g, [&](int64_t p) {
      const T* xp = x + p * g.in_plane();
      T* yp = y + p * g.out_plane();
      for_each_window(g, [&](int64_t o, const Span& sd, const Span& sh, const Span& sw) {
        yp[o] = xp[window_argmax(xp, g, sd, sh, sw)];
      });
    });
  });
}

// x: (N, C, *S) -> y: (N, C, *S_out)
void avg_pool_kernel(const KernelArgs& a) {
  const auto& at = ops::attrs_as<PoolAttrs>(a.attrs);
  const Geometry g = geometry(a.inputs[0].shape(), a.outputs[0].shape(), at.kernel, at.stride, at.padding);
  cpu::with_float(a.inputs[0].dtype(), [&](auto t) {
    using T = decltype(t);
    const T* x = a.inputs[0].data<T>();
    T* y = a.outputs[0].data<T>();
    for_each_plane(g, [&](int64_t p) {
      const T* xp = x + p * g.in_plane();
      T* yp = y + p * g.out_plane();
      for_each_window(g, [&](int64_t o, const Span& sd, const Span& sh, const Span& sw) {
        T acc = 0;
        for_each_tap(g, sd, sh, sw, [&](int64_t i) { acc += xp[i]; });
        yp[o] = static_cast<T>(acc / avg_divisor(sd, sh, sw, at.count_include_pad));
      });
    });
  });
}

// (x: (N, C, *S), grad_y: (N, C, *S_out)) -> grad_x: (N, C, *S); recomputes each window's argmax.
void max_pool_backward_kernel(const KernelArgs& a) {
  const auto& at = ops::attrs_as<PoolAttrs>(a.attrs);
  const Geometry g = geometry(a.inputs[0].shape(), a.inputs[1].shape(), at.kernel, at.stride, at.padding);
  cpu::with_float(a.inputs[0].dtype(), [&](auto t) {
    using T = decltype(t);
    const T* x = a.inputs[0].data<T>();
    const T* gy = a.inputs[1].data<T>();
    T* gx = a.outputs[0].data<T>();
    for_each_plane(g, [&](int64_t p) {
      const T* xp = x + p * g.in_plane();
      const T* gyp = gy + p * g.out_plane();
      T* gxp = gx + p * g.in_plane();
      std::fill(gxp, gxp + g.in_plane(), T(0));
      for_each_window(g, [&](int64_t o, const Span& sd, const Span& sh, const Span& sw) {
        gxp[window_argmax(xp, g, sd, sh, sw)] += gyp[o];
      });
    });
  });
}

// grad_y: (N, C, *S_out) -> grad_x: (N, C, *input_shape spatial)
void avg_pool_backward_kernel(const KernelArgs& a) {
  const auto& at = ops::attrs_as<PoolBackwardAttrs>(a.attrs);
  const Geometry g = geometry(a.outputs[0].shape(), a.inputs[0].shape(), at.kernel, at.stride, at.padding);
  cpu::with_float(a.inputs[0].dtype(), [&](auto t) {
    using T = decltype(t);
    const T* gy = a.inputs[0].data<T>();
    T* gx = a.outputs[0].data<T>();
    for_each_plane(g, [&](int64_t p) {
      const T* gyp = gy + p * g.out_plane();
      T* gxp = gx + p * g.in_plane();
      std::fill(gxp, gxp + g.in_plane(), T(0));
      for_each_window(g, [&](int64_t o, const Span& sd, const Span& sh, const Span& sw) {
        const T share = static_cast<T>(gyp[o] / avg_divisor(sd, sh, sw, at.count_include_pad));
        for_each_tap(g, sd, sh, sw, [&](int64_t i) { gxp[i] += share; });
      });
    });
  });
}

}  // namespace

void register_pool() {
  register_kernel(Kernel{"max_pool", DeviceType::cpu, "reference", cpu::kFloatTypes, &max_pool_kernel, 0, false});
  register_kernel(Kernel{"avg_pool", DeviceType::cpu, "reference", cpu::kFloatTypes, &avg_pool_kernel, 0, false});
  register_kernel(Kernel{"max_pool_backward", DeviceType::cpu, "reference", cpu::kFloatTypes,
                         &max_pool_backward_kernel, 0, false});
  register_kernel(Kernel{"avg_pool_backward", DeviceType::cpu, "reference", cpu::kFloatTypes,
                         &avg_pool_backward_kernel, 0, false});
}

}  // namespace plumb::backends::reference
