// Reference convolutions: direct loops over every output element and kernel tap, 1-D to 3-D
// (lower dimensionalities run as 3-D with leading unit spatial dims). Accumulates in double.
#include <algorithm>
#include <vector>

#include "backends/cpu/cpu_util.h"
#include "backends/cpu/reference/reference.h"
#include "plumb/op_attrs.h"

namespace plumb::backends::reference {

namespace {

// Shapes of one convolution y = conv(x, w), padded to three spatial dims.
struct Geometry {
  int64_t n = 0, c = 0, o = 0, groups = 1, cg = 0, og = 0;  // cg = C/groups, og = O/groups
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, pad[3] = {0, 0, 0}, dil[3] = {1, 1, 1};

  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t k_size() const { return k[0] * k[1] * k[2]; }
};

// x: (N, C, *S), w: (O, C/groups, *K), y: (N, O, *S_out); empty attr vectors mean 1 / 0 / 1.
Geometry make_geometry(const Shape& x, const Shape& w, const Shape& y, const Shape& stride, const Shape& padding,
                       const Shape& dilation, int64_t groups) {
  Geometry g;
  g.n = x[0];
  g.c = x[1];
  g.o = w[0];
  g.groups = groups;
  g.cg = w[1];
  g.og = w[0] / groups;
  const size_t spatial = w.size() - 2, lead = 3 - spatial;
  for (size_t i = 0; i < spatial; ++i) {
    g.in[lead + i] = x[2 + i];
    g.out[lead + i] = y[2 + i];
    g.k[lead + i] = w[2 + i];
    if (!stride.empty()) g.stride[lead + i] = stride[i];
    if (!padding.empty()) g.pad[lead + i] = padding[i];
    if (!dilation.empty()) g.dil[lead + i] = dilation[i];
  }
  return g;
}

Geometry make_geometry(const Shape& x, const Shape& w, const Shape& y, const Attrs& attrs, bool backward) {
  if (backward) {
    const auto& a = static_cast<const ConvBackwardAttrs&>(attrs);
    return make_geometry(x, w, y, a.stride, a.padding, a.dilation, a.groups);
  }
  const auto& a = static_cast<const ConvAttrs&>(attrs);
  return make_geometry(x, w, y, a.stride, a.padding, a.dilation, a.groups);
}

// Calls f(input spatial index, kernel tap index) for every tap of output position (od, oh, ow) that lands
// inside the (unpadded) input.
template <class F>
void for_each_tap(const Geometry& g, int64_t od, int64_t oh, int64_t ow, F&& f) {
  for (int64_t kd = 0; kd < g.k[0]; ++kd) {
    const int64_t id = od * g.stride[0] - g.pad[0] + kd * g.dil[0];
    if (id < 0 || id >= g.in[0]) continue;
    for (int64_t kh = 0; kh < g.k[1]; ++kh) {
      const int64_t ih = oh * g.stride[1] - g.pad[1] + kh * g.dil[1];
      if (ih < 0 || ih >= g.in[1]) continue;
      for (int64_t kw = 0; kw < g.k[2]; ++kw) {
        const int64_t iw = ow * g.stride[2] - g.pad[2] + kw * g.dil[2];
        if (iw < 0 || iw >= g.in[2]) continue;
        f((id * g.in[1] + ih) * g.in[2] + iw, (kd * g.k[1] + kh) * g.k[2] + kw);
      }
    }
  }
}

// y[n, o, p] = sum over c in o's group and taps t of x[n, c, p*s - pad + t*d] * w[o, c, t]
template <class T>
void conv_forward(const T* x, const T* w, T* y, const Geometry& g) {
  parallel_for(g.n * g.o, 1, [&](int64_t begin, int64_t end) {
    for (int64_t no = begin; no < end; ++no) {
      const int64_t n = no / g.o, o = no % g.o, group = o / g.og;
      T* yo = y + no * g.out_size();
      for (int64_t od = 0; od < g.out[0]; ++od)
        for (int64_t oh = 0; oh < g.out[1]; ++oh)
          for (int64_t ow = 0; ow < g.out[2]; ++ow) {
            double acc = 0;
            for (int64_t c = 0; c < g.cg; ++c) {
              const T* xc = x + (n * g.c + group * g.cg + c) * g.in_size();
              const T* wc = w + (o * g.cg + c) * g.k_size();
              for_each_tap(g, od, oh, ow, [&](int64_t xi, int64_t wi) {
                acc += static_cast<double>(xc[xi]) * static_cast<double>(wc[wi]);
              });
            }
            yo[(od * g.out[1] + oh) * g.out[2] + ow] = static_cast<T>(acc);
          }
    }
  });
}

// gx[n, c, i] = sum over o in c's group, positions p and taps t with p*s - pad + t*d = i of gy[n, o, p] * w[o, c, t]
template <class T>
void conv_backward_input(const T* gy, const T* w, T* gx, const Geometry& g) {
  parallel_for(g.n * g.c, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(g.in_size()));
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t n = nc / g.c, ci = nc % g.c, group = ci / g.cg, c = ci % g.cg;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t o = group * g.og; o < (group + 1) * g.og; ++o) {
        const T* gyo = gy + (n * g.o + o) * g.out_size();
        const T* wc = w + (o * g.cg + c) * g.k_size();
        for (int64_t od = 0; od < g.out[0]; ++od)
          for (int64_t oh = 0; oh < g.out[1]; ++oh)
            for (int64_t ow = 0; ow < g.out[2]; ++ow) {
              const double v = static_cast<double>(gyo[(od * g.out[1] + oh) * g.out[2] + ow]);
              for_each_tap(g, od, oh, ow, [&](int64_t xi, int64_t wi) { acc[xi] += v * static_cast<double>(wc[wi]); });
            }
      }
      T* gxc = gx + nc * g.in_size();
      for (int64_t i = 0; i < g.in_size(); ++i) gxc[i] = static_cast<T>(acc[i]);
    }
  });
}

// gw[o, c, t] = sum over n and positions p of gy[n, o, p] * x[n, c, p*s - pad + t*d]
template <class T>
void conv_backward_weight(const T* x, const T* gy, T* gw, const Geometry& g) {
  parallel_for(g.o, 1, [&](int64_t begin, int64_t end) {
    std::vector<double> acc(static_cast<size_t>(g.cg * g.k_size()));
    for (int64_t o = begin; o < end; ++o) {
      const int64_t group = o / g.og;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t n = 0; n < g.n; ++n) {
        const T* gyo = gy + (n * g.o + o) * g.out_size();
        for (int64_t c = 0; c < g.cg; ++c) {
          const T* xc = x + (n * g.c + group * g.cg + c) * g.in_size();
          double* ac = acc.data() + c * g.k_size();
          for (int64_t od = 0; od < g.out[0]; ++od)
            for (int64_t oh = 0; oh < g.out[1]; ++oh)
              for (int64_t ow = 0; ow < g.out[2]; ++ow) {
                const double v = static_cast<double>(gyo[(od * g.out[1] + oh) * g.out[2] + ow]);
                for_each_tap(g, od, oh, ow,
                             [&](int64_t xi, int64_t wi) { ac[wi] += v * static_cast<double>(xc[xi]); });
              }
        }
      }
      T* gwo = gw + o * g.cg * g.k_size();
      for (size_t i = 0; i < acc.size(); ++i) gwo[i] = static_cast<T>(acc[i]);
    }
  });
}

// conv: inputs (x, w), output y
void conv(const KernelArgs& a) {
  const Tensor &x = a.inputs[0], &w = a.inputs[1];
  Tensor& y = a.outputs[0];
  const Geometry g = make_geometry(x.shape(), w.shape(), y.shape(), a.attrs, false);
  cpu::with_float(x.dtype(), [&](auto t) {
    using T = decltype(t);
    conv_forward<T>(x.data<T>(), w.data<T>(), y.data<T>(), g);
  });
}

// conv_backward_input: inputs (grad_y, w), output grad_x
void conv_bwd_input(const KernelArgs& a) {
  const Tensor &gy = a.inputs[0], &w = a.inputs[1];
  Tensor& gx = a.outputs[0];
  const Geometry g = make_geometry(gx.shape(), w.shape(), gy.shape(), a.attrs, true);
  cpu::with_float(gy.dtype(), [&](auto t) {
    using T = decltype(t);
    conv_backward_input<T>(gy.data<T>(), w.data<T>(), gx.data<T>(), g);
  });
}

// conv_backward_weight: inputs (x, grad_y), output grad_w
void conv_bwd_weight(const KernelArgs& a) {
  const Tensor &x = a.inputs[0], &gy = a.inputs[1];
  Tensor& gw = a.outputs[0];
  const Geometry g = make_geometry(x.shape(), gw.shape(), gy.shape(), a.attrs, true);
  cpu::with_float(x.dtype(), [&](auto t) {
    using T = decltype(t);
    conv_backward_weight<T>(x.data<T>(), gy.data<T>(), gw.data<T>(), g);
  });
}

}  // namespace

void register_conv() {
  register_kernel(Kernel{"conv", DeviceType::cpu, "reference", cpu::kFloatTypes, &conv, 0, false});
  register_kernel(
      Kernel{"conv_backward_input", DeviceType::cpu, "reference", cpu::kFloatTypes, &conv_bwd_input, 0, false});
  register_kernel(
      Kernel{"conv_backward_weight", DeviceType::cpu, "reference", cpu::kFloatTypes, &conv_bwd_weight, 0, false});
}

}  // namespace plumb::backends::reference
