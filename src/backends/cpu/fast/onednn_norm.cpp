// oneDNN fused kernels for the batch-norm composites (f32; layouts: see NormPrimitives):
//   batch_norm(x, weight, bias, running_mean, running_var) -> (y, mean, var)
//   batch_norm_backward(grad_y, x, weight, mean, var) -> (grad_x, grad_weight, grad_bias)
// x: (N, C) or (N, C, *S) with 1-3 spatial dims; the rest are (C). Primitives are cached per shape.
#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/cpu/fast/fast.h"
#include "backends/cpu/fast/onednn_common.h"
#include "ops/op_def.h"

namespace plumb::backends::fast {

namespace {

using dnnl::memory;
using dnnl::normalization_flags;
using dnnl::prop_kind;

// What a cache entry holds: training forward, eval forward, training backward, eval backward.
enum class Mode : int64_t { forward_training, forward_eval, backward_training, backward_eval };

// oneDNN 2.6 runs batch norm on plain NC* data with slow generic code (ncsp_bnorm; the reference
// implementation for 3-D), about 5-50x slower than its JIT on channel-blocked data. So x is described as
// 4-D/5-D and, when it has spatial extent, reordered into a blocked layout (nChw16c / nChw8c) for the JIT
// and back; with no spatial extent, (N, C) is already channels-last and runs in place with no copy.
struct NormPrimitives {
  memory::desc user_md;  // the plain layout of the tensors as plumb holds them
  memory::desc work_md;  // the layout batch norm runs in; equal to user_md when no reorder is needed
  memory::desc stat_md;  // (C)
  bool reorder = false;
  dnnl::primitive bnorm;
  dnnl::reorder to_work, from_work;
};

normalization_flags flags_for(Mode m) {
  normalization_flags f = normalization_flags::use_scale | normalization_flags::use_shift;
  if (m == Mode::forward_eval || m == Mode::backward_eval) f = f | normalization_flags::use_global_stats;
  return f;
}

// x (N, C, *S) as 4-D or 5-D dims: (N, C) -> (N, C, 1, 1), (N, C, L) -> (N, C, L, 1).
memory::dims norm_dims(const Shape& x) {
  memory::dims d(x.begin(), x.end());
  while (d.size() < 4) d.push_back(1);
  return d;
}

// The primitive for `m` on data laid out as `md`.
dnnl::primitive make_bnorm(Mode m, const memory::desc& md, float eps, std::string* impl = nullptr) {
  const normalization_flags flags = flags_for(m);
  dnnl::engine& eng = onednn_engine();
  if (m == Mode::forward_eval) {
    const dnnl::batch_normalization_forward::primitive_desc pd({prop_kind::forward_inference, md, eps, flags}, eng);
    if (impl) *impl = pd.impl_info_str();
    return dnnl::batch_normalization_forward(pd);
  }
  const dnnl::batch_normalization_forward::primitive_desc fpd({prop_kind::forward_training, md, eps, flags}, eng);
  if (m == Mode::forward_training) {
    if (impl) *impl = fpd.impl_info_str();
    return dnnl::batch_normalization_forward(fpd);
  }
  const dnnl::batch_normalization_backward::primitive_desc bpd({prop_kind::backward, md, md, eps, flags}, eng, fpd);
  if (impl) *impl = bpd.impl_info_str();
  return dnnl::batch_normalization_backward(bpd);
}

void build(NormPrimitives& p, Mode m, const Shape& x, float eps) {
  const memory::dims dims = norm_dims(x);
  const bool five = dims.size() == 5;
  int64_t spatial = 1;
  for (size_t d = 2; d < dims.size(); ++d) spatial *= dims[d];
  p.stat_md = memory::desc({x[1]}, memory::data_type::f32, memory::format_tag::a);
  if (spatial == 1) {
    // With no spatial extent NCHW and NHWC are the same bytes; NHWC gets the JIT.
    p.user_md = memory::desc(dims, memory::data_type::f32, five ? memory::format_tag::acdeb : memory::format_tag::acdb);
    p.work_md = p.user_md;
    p.bnorm = make_bnorm(m, p.work_md, eps);
    return;
  }
  p.user_md = memory::desc(dims, memory::data_type::f32, five ? memory::format_tag::abcde : memory::format_tag::abcd);
  const memory::format_tag blocked[] = {five ? memory::format_tag::aBcde16b : memory::format_tag::aBcd16b,
                                        five ? memory::format_tag::aBcde8b : memory::format_tag::aBcd8b};
  for (memory::format_tag tag : blocked) {
    const memory::desc md(dims, memory::data_type::f32, tag);
    std::string impl;
    dnnl::primitive prim = make_bnorm(m, md, eps, &impl);
    if (impl.find("jit") == std::string::npos) continue;  // this ISA has no JIT for this block size
    p.work_md = md;
    p.bnorm = prim;
    p.reorder = true;
    dnnl::engine& eng = onednn_engine();
    p.to_work = dnnl::reorder(dnnl::reorder::primitive_desc(eng, p.user_md, eng, p.work_md));
    p.from_work = dnnl::reorder(dnnl::reorder::primitive_desc(eng, p.work_md, eng, p.user_md));
    return;
  }
  p.work_md = p.user_md;  // no JIT for blocked data here: the plain-layout implementation, no copies
  p.bnorm = make_bnorm(m, p.work_md, eps);
}

const NormPrimitives& primitives(Mode m, const Shape& x, float eps) {
  static std::mutex mu;
  static std::unordered_map<std::vector<int64_t>, NormPrimitives, KeyHash> cache;
  uint32_t eps_bits;
  std::memcpy(&eps_bits, &eps, sizeof eps_bits);
  std::vector<int64_t> key = {static_cast<int64_t>(m), static_cast<int64_t>(eps_bits)};
  key.insert(key.end(), x.begin(), x.end());
  std::lock_guard lock(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  NormPrimitives p;
  try {
    build(p, m, x, eps);
  } catch (const dnnl::error& e) {
    fail("batch_norm: oneDNN could not build a primitive for input ", shape_str(x), ": ", e.what());
  }
  return cache.emplace(std::move(key), std::move(p)).first->second;
}

// A work-layout buffer, from plumb's allocator so the memory studies see it.
Tensor work_buffer(const NormPrimitives& p) {
  return Tensor::empty({static_cast<int64_t>(p.work_md.get_size() / sizeof(float))}, DType::f32);
}

// `t` (user layout) as work-layout memory: reordered into `buf` when the primitive needs a blocked layout.
memory to_work(const NormPrimitives& p, const Tensor& t, const Tensor& buf) {
  if (!p.reorder) return wrap(p.user_md, t);
  memory src = wrap(p.user_md, t), dst = wrap(p.work_md, buf);
  p.to_work.execute(onednn_stream(), src, dst);
  return dst;
}

void copy_f32(const Tensor& dst, const Tensor& src) {
  std::memcpy(dst.raw_data(), src.raw_data(), static_cast<size_t>(src.numel()) * sizeof(float));
}

void fill_f32(const Tensor& t, float v) { std::fill_n(t.data<float>(), t.numel(), v); }

}  // namespace

// Inputs (x, weight, bias, running_mean, running_var) -> (y, mean, var). Training: batch statistics over N
// and the spatial dims, biased variance. Eval: normalized by the running stats, which are copied out.
void onednn_batch_norm(const KernelArgs& a) {
  const auto& at = ops::attrs_as<BatchNormAttrs>(a.attrs);
  const Tensor &x = a.inputs[0], &w = a.inputs[1], &b = a.inputs[2], &rm = a.inputs[3], &rv = a.inputs[4];
  const Tensor &y = a.outputs[0], &mean = a.outputs[1], &var = a.outputs[2];
  if (x.numel() == 0) {  // no elements per channel: the batch statistics are 0/0
    if (at.training) {
      fill_f32(mean, std::numeric_limits<float>::quiet_NaN());
      fill_f32(var, std::numeric_limits<float>::quiet_NaN());
    } else {
      copy_f32(mean, rm);
      copy_f32(var, rv);
    }
    return;
  }
  // Forward runs in place in the work layout: x -> work -> y.
  const NormPrimitives& p =
      primitives(at.training ? Mode::forward_training : Mode::forward_eval, x.shape(), static_cast<float>(at.eps));
  dnnl::stream& stream = onednn_stream();
  const Tensor buf = p.reorder ? work_buffer(p) : Tensor();
  const memory src = to_work(p, x, buf);
  memory dst = p.reorder ? src : wrap(p.user_md, y);
  const Tensor& stat_mean = at.training ? mean : rm;  // training writes the batch stats, eval reads the running ones
  const Tensor& stat_var = at.training ? var : rv;
  p.bnorm.execute(stream, {{DNNL_ARG_SRC, src},
                           {DNNL_ARG_DST, dst},
                           {DNNL_ARG_SCALE, wrap(p.stat_md, w)},
                           {DNNL_ARG_SHIFT, wrap(p.stat_md, b)},
                           {DNNL_ARG_MEAN, wrap(p.stat_md, stat_mean)},
                           {DNNL_ARG_VARIANCE, wrap(p.stat_md, stat_var)}});
  if (p.reorder) {
    memory out = wrap(p.user_md, y);
    p.from_work.execute(stream, dst, out);
  }
  stream.wait();
  if (!at.training) {
    copy_f32(mean, rm);
    copy_f32(var, rv);
  }
}

// Inputs (grad_y, x, weight, mean, var) -> (grad_x, grad_weight, grad_bias). Training: the full gradient
// through the batch statistics (mean, var are the forward's). Eval: grad_x = grad_y * weight / sqrt(var + eps).
void onednn_batch_norm_backward(const KernelArgs& a) {
  const auto& at = ops::attrs_as<BatchNormAttrs>(a.attrs);
  const Tensor &gy = a.inputs[0], &x = a.inputs[1], &w = a.inputs[2], &mean = a.inputs[3], &var = a.inputs[4];
  const Tensor &gx = a.outputs[0], &gw = a.outputs[1], &gb = a.outputs[2];
  if (x.numel() == 0) {  // sums over no elements
    fill_f32(gw, 0.f);
    fill_f32(gb, 0.f);
    return;
  }
  const NormPrimitives& p =
      primitives(at.training ? Mode::backward_training : Mode::backward_eval, x.shape(), static_cast<float>(at.eps));
  dnnl::stream& stream = onednn_stream();
  // Backward runs in place on grad_y's work copy: (x, grad_y) -> work -> grad_x.
  const Tensor x_buf = p.reorder ? work_buffer(p) : Tensor(), gy_buf = p.reorder ? work_buffer(p) : Tensor();
  const memory src = to_work(p, x, x_buf);
  const memory diff_dst = to_work(p, gy, gy_buf);
  memory diff_src = p.reorder ? diff_dst : wrap(p.user_md, gx);
  // oneDNN 2.6 requires a SHIFT argument for the backward with use_shift though the gradient does not
  // depend on it; the weight buffer (C floats, read-only) stands in.
  const memory scale = wrap(p.stat_md, w);
  p.bnorm.execute(stream, {{DNNL_ARG_SRC, src},
                           {DNNL_ARG_DIFF_DST, diff_dst},
                           {DNNL_ARG_SCALE, scale},
                           {DNNL_ARG_SHIFT, scale},
                           {DNNL_ARG_MEAN, wrap(p.stat_md, mean)},
                           {DNNL_ARG_VARIANCE, wrap(p.stat_md, var)},
                           {DNNL_ARG_DIFF_SRC, diff_src},
                           {DNNL_ARG_DIFF_SCALE, wrap(p.stat_md, gw)},
                           {DNNL_ARG_DIFF_SHIFT, wrap(p.stat_md, gb)}});
  if (p.reorder) {
    memory out = wrap(p.user_md, gx);
    p.from_work.execute(stream, diff_src, out);
  }
  stream.wait();
}

// The records are the composites of src/ops/composite/norm.cpp; these kernels stand in for them in f32.
void register_onednn_norm() {
  register_kernel(Kernel{"batch_norm", DeviceType::cpu, "onednn", {DType::f32}, &onednn_batch_norm, 10, false});
  register_kernel(
      Kernel{"batch_norm_backward", DeviceType::cpu, "onednn", {DType::f32}, &onednn_batch_norm_backward, 10, false});
}

}  // namespace plumb::backends::fast
