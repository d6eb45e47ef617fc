// oneDNN pooling kernels (f32, plain ncw/nchw/ncdhw layouts, no copies): max and average pooling forward
// and average pooling backward, 1-D/2-D/3-D. Primitives are built once per geometry and cached. Max
// pooling backward is plumb's own kernel (max_pool.cpp): oneDNN's needs a forward's argmax workspace.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "backends/cpu/fast/fast.h"
#include "backends/cpu/fast/max_pool.h"
#include "backends/cpu/fast/onednn_common.h"
#include "ops/op_def.h"

namespace plumb::backends::fast {

namespace {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;

memory::format_tag plain_tag(size_t rank) {
  switch (rank) {
    case 3: return memory::format_tag::abc;
    case 4: return memory::format_tag::abcd;
    default: return memory::format_tag::abcde;
  }
}

// Geometry of one pooling call; also the cache key (with the algorithm and what is being built).
struct PoolGeometry {
  memory::dims src, dst, kernel, stride, pad_l, pad_r;
  bool ceil_overflow = false;  // some window runs past the right padding (ceil_mode)
};

// oneDNN sizes the output as (S + pl + pr - k) / s + 1 (floor): ceil_mode needs the extra right
// padding that yields our output size.
PoolGeometry pool_geometry(const Shape& x, const Shape& y, const Shape& kernel, const Shape& stride,
                           const Shape& padding) {
  PoolGeometry g;
  g.src.assign(x.begin(), x.end());
  g.dst.assign(y.begin(), y.end());
  for (size_t d = 0; d < kernel.size(); ++d) {
    const int64_t k = kernel[d], s = stride.empty() ? k : stride[d], p = padding.empty() ? 0 : padding[d];
    const int64_t need_r = (y[2 + d] - 1) * s + k - x[2 + d] - p;
    g.kernel.push_back(k);
    g.stride.push_back(s);
    g.pad_l.push_back(p);
    g.pad_r.push_back(std::max(p, need_r));
    g.ceil_overflow = g.ceil_overflow || need_r > p;
  }
  return g;
}

enum class Build : int64_t { forward_inference, backward, nan_check };

std::vector<int64_t> make_key(Build b, algorithm alg, const PoolGeometry& g) {
  std::vector<int64_t> k = {static_cast<int64_t>(b), static_cast<int64_t>(alg)};
  for (const memory::dims* d : {&g.src, &g.dst, &g.kernel, &g.stride, &g.pad_l, &g.pad_r}) {
    k.push_back(static_cast<int64_t>(d->size()));
    k.insert(k.end(), d->begin(), d->end());
  }
  return k;
}

struct PoolPrimitives {
  memory::desc src_md, dst_md;
  dnnl::pooling_forward fwd;   // inference
  dnnl::pooling_backward bwd;  // average pooling backward (no workspace)
  dnnl::reduction sum;         // nan_check: x summed to one value
};

void build_primitives(PoolPrimitives& p, Build b, algorithm alg, const PoolGeometry& g) {
  const memory::format_tag tag = plain_tag(g.src.size());
  dnnl::engine& eng = onednn_engine();
  p.src_md = memory::desc(g.src, memory::data_type::f32, tag);
  if (b == Build::nan_check) {
    p.dst_md = memory::desc(memory::dims(g.src.size(), 1), memory::data_type::f32, tag);
    p.sum = dnnl::reduction(
        dnnl::reduction::primitive_desc({algorithm::reduction_sum, p.src_md, p.dst_md, 0.f, 0.f}, eng));
    return;
  }
  p.dst_md = memory::desc(g.dst, memory::data_type::f32, tag);
  const prop_kind prop = b == Build::forward_inference ? prop_kind::forward_inference : prop_kind::forward_training;
  const dnnl::pooling_forward::desc fwd_d(prop, alg, p.src_md, p.dst_md, g.stride, g.kernel, g.pad_l, g.pad_r);
  const dnnl::pooling_forward::primitive_desc fwd_pd(fwd_d, eng);
  if (b == Build::forward_inference) {
    p.fwd = dnnl::pooling_forward(fwd_pd);
  } else {
    const dnnl::pooling_backward::desc bwd_d(alg, p.src_md, p.dst_md, g.stride, g.kernel, g.pad_l, g.pad_r);
    p.bwd = dnnl::pooling_backward(dnnl::pooling_backward::primitive_desc(bwd_d, eng, fwd_pd));
  }
}

// The primitives for `b` on this geometry, built on first use and cached.
const PoolPrimitives& primitives(Build b, algorithm alg, const PoolGeometry& g) {
  static std::mutex mu;
  static std::unordered_map<std::vector<int64_t>, PoolPrimitives, KeyHash> cache;
  std::vector<int64_t> key = make_key(b, alg, g);
  std::lock_guard lock(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  PoolPrimitives p;
  try {
    build_primitives(p, b, alg, g);
  } catch (const dnnl::error& e) {
    fail("pooling: oneDNN could not build a primitive for input ", shape_str(g.src), ", output ", shape_str(g.dst),
         ": ", e.what());
  }
  return cache.emplace(std::move(key), std::move(p)).first->second;
}

// oneDNN's include-padding average always divides by prod(kernel); PyTorch (and the reference) divide a
// window that runs past the right padding (ceil_mode) by its length clipped to the padded input.
// Returns, per output position of one plane, prod(kernel) / PyTorch's divisor.
std::vector<float> ceil_include_pad_factors(const PoolGeometry& g) {
  const size_t nd = g.kernel.size();
  int64_t plane = 1, kvol = 1;
  for (size_t d = 0; d < nd; ++d) {
    plane *= g.dst[2 + d];
    kvol *= g.kernel[d];
  }
  std::vector<float> f(plane);
  for (int64_t o = 0; o < plane; ++o) {
    int64_t rem = o, len = 1;
    for (size_t d = nd; d-- > 0;) {
      const int64_t od = rem % g.dst[2 + d];
      rem /= g.dst[2 + d];
      const int64_t start = od * g.stride[d] - g.pad_l[d];
      len *= std::min(start + g.kernel[d], g.src[2 + d] + g.pad_l[d]) - start;
    }
    f[o] = static_cast<float>(static_cast<double>(kvol) / static_cast<double>(len));
  }
  return f;
}

// oneDNN's max pooling drops NaN (it returns the max of the other values); the reference and PyTorch
// propagate it, so a diverging run is not masked. One vectorized sum over x (about a third of the pooling's
// own time) detects NaN; then the call runs the reference kernel. A sum that turns NaN from +inf and -inf
// only sends a call to the (equally correct) reference path.
bool has_nan(const Tensor& x) {
  // Small tensors: a plain scan beats starting a oneDNN primitive (which also rejects reducing one element).
  const int64_t n = x.numel();
  if (n <= 16384) {
    const float* p = x.data<float>();
    unsigned nan = 0;  // an unsigned accumulator vectorizes; a bool one does not
    for (int64_t i = 0; i < n; ++i) nan |= static_cast<unsigned>(p[i] != p[i]);
    return nan != 0;
  }
  PoolGeometry g;
  g.src.assign(x.shape().begin(), x.shape().end());
  const PoolPrimitives& p = primitives(Build::nan_check, algorithm::reduction_sum, g);
  float total = 0;
  dnnl::stream& stream = onednn_stream();
  p.sum.execute(stream,
                {{DNNL_ARG_SRC, wrap(p.src_md, x)}, {DNNL_ARG_DST, memory(p.dst_md, onednn_engine(), &total)}});
  stream.wait();
  return std::isnan(total);
}

// The f32 reference kernel of `op`, for calls with NaN input.
void run_reference(const OpDef& op, const KernelArgs& a) {
  for (const Kernel* k : ops::kernel_list(op))
    if (k->backend == "reference" && std::find(k->dtypes.begin(), k->dtypes.end(), DType::f32) != k->dtypes.end())
      return k->fn(a);
  fail(op.name, ": no f32 reference kernel");
}

algorithm avg_algorithm(bool count_include_pad) {
  return count_include_pad ? algorithm::pooling_avg_include_padding : algorithm::pooling_avg_exclude_padding;
}

// x: (N, C, *S) -> y: (N, C, *S_out)
void run_forward(const KernelArgs& a, algorithm alg, const PoolAttrs& at) {
  const Tensor& x = a.inputs[0];
  const Tensor& y = a.outputs[0];
  if (y.numel() == 0) return;
  const PoolGeometry g = pool_geometry(x.shape(), y.shape(), at.kernel, at.stride, at.padding);
  const PoolPrimitives& p = primitives(Build::forward_inference, alg, g);
  dnnl::stream& stream = onednn_stream();
  p.fwd.execute(stream, {{DNNL_ARG_SRC, wrap(p.src_md, x)}, {DNNL_ARG_DST, wrap(p.dst_md, y)}});
  stream.wait();
  if (alg == algorithm::pooling_avg_include_padding && g.ceil_overflow) {
    const std::vector<float> f = ceil_include_pad_factors(g);
    float* yp = y.data<float>();
    const int64_t plane = static_cast<int64_t>(f.size()), planes = y.numel() / plane;
    for (int64_t i = 0; i < planes; ++i)
      for (int64_t o = 0; o < plane; ++o) yp[i * plane + o] *= f[o];
  }
}

void max_pool_onednn(const KernelArgs& a) {
  // 2x2 stride-2 windows: one direct pass (max_pool.cpp) beats a NaN scan plus oneDNN's nchw kernel 4x.
  if (max_pool_2x2(a.inputs[0], a.outputs[0], ops::attrs_as<PoolAttrs>(a.attrs))) return;
  if (a.outputs[0].numel() > 0 && has_nan(a.inputs[0])) return run_reference(PLUMB_OP("max_pool"), a);
  run_forward(a, algorithm::pooling_max, ops::attrs_as<PoolAttrs>(a.attrs));
}

void avg_pool_onednn(const KernelArgs& a) {
  const auto& at = ops::attrs_as<PoolAttrs>(a.attrs);
  run_forward(a, avg_algorithm(at.count_include_pad), at);
}

// grad_y: (N, C, *S_out) -> grad_x: (N, C, *input_shape spatial)
void avg_pool_backward_onednn(const KernelArgs& a) {
  const auto& at = ops::attrs_as<PoolBackwardAttrs>(a.attrs);
  const Tensor& gy = a.inputs[0];
  const Tensor& gx = a.outputs[0];
  if (gx.numel() == 0) return;
  const PoolGeometry g = pool_geometry(gx.shape(), gy.shape(), at.kernel, at.stride, at.padding);
  const algorithm alg = avg_algorithm(at.count_include_pad);
  const PoolPrimitives& p = primitives(Build::backward, alg, g);
  Tensor diff_dst = gy;
  if (alg == algorithm::pooling_avg_include_padding && g.ceil_overflow) {
    // Rescale the gradient of windows whose divisor oneDNN gets wrong (see ceil_include_pad_factors).
    const std::vector<float> f = ceil_include_pad_factors(g);
    diff_dst = Tensor::empty(gy.shape(), DType::f32);
    const float* src = gy.data<float>();
    float* dst = diff_dst.data<float>();
    const int64_t plane = static_cast<int64_t>(f.size()), planes = gy.numel() / plane;
    for (int64_t i = 0; i < planes; ++i)
      for (int64_t o = 0; o < plane; ++o) dst[i * plane + o] = src[i * plane + o] * f[o];
  }
  dnnl::stream& stream = onednn_stream();
  p.bwd.execute(stream, {{DNNL_ARG_DIFF_DST, wrap(p.dst_md, diff_dst)}, {DNNL_ARG_DIFF_SRC, wrap(p.src_md, gx)}});
  stream.wait();
}

}  // namespace

void register_onednn_pool() {
  const std::vector<DType> f32 = {DType::f32};
  register_kernel(Kernel{"max_pool", DeviceType::cpu, "onednn", f32, &max_pool_onednn, 10, false});
  register_kernel(Kernel{"avg_pool", DeviceType::cpu, "onednn", f32, &avg_pool_onednn, 10, false});
  register_kernel(Kernel{"avg_pool_backward", DeviceType::cpu, "onednn", f32, &avg_pool_backward_onednn, 10, false});
}

}  // namespace plumb::backends::fast
