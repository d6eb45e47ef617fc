// oneDNN convolutions (f32): forward, backward data and backward weights for 1-D, 2-D and 3-D with
// groups, stride, padding and dilation. Primitives are created once per shape and attributes and
// cached. Most primitives pick their own memory layout (format any): where that is the plain layout
// of plumb's tensors they read and write plumb's buffers directly; otherwise (blocked layouts, which
// run up to several times faster on AVX-512) operands are reordered through per-thread scratch
// buffers. Shapes where the reorders cost more than blocking gains run on the plain layout. Two shape
// classes take other routes: the weight gradient of few-input-channel layers runs as a forward
// convolution with batch and channels swapped (swap_weight_gradient), and one-input-channel layers run
// plumb's direct AVX-512 kernels (conv_direct.h) where the CPU has them.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "backends/cpu/fast/conv_direct.h"
#include "backends/cpu/fast/onednn_common.h"
#include "plumb/op.h"
#include "plumb/op_attrs.h"
#include "plumb/thread_pool.h"

namespace plumb::backends::fast {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
constexpr memory::data_type kF32 = memory::data_type::f32;

constexpr size_t kMaxCachedPrimitives = 4096;

// backward_weights_swapped: the weight gradient as a forward convolution with batch and channels swapped
// (see swap_weight_gradient).
enum class ConvKind : int64_t { forward = 0, backward_data = 1, backward_weights = 2, backward_weights_swapped = 3 };

// One convolution's shapes: x (N, C, *S), w (O, C/groups, *K), y (N, O, *S_out), and its attributes.
struct ConvShape {
  Shape x, w, y;
  memory::dims stride, padding, dilation;  // oneDNN conventions: dilation counts the gaps (torch's - 1)
  int64_t groups = 1;
};

ConvShape make_shape(const Shape& x, const Shape& w, const Shape& y, const Shape& stride, const Shape& padding,
                     const Shape& dilation, int64_t groups) {
  const size_t spatial = w.size() - 2;
  ConvShape s{x, w, y, memory::dims(spatial, 1), memory::dims(spatial, 0), memory::dims(spatial, 0), groups};
  for (size_t i = 0; i < spatial; ++i) {
    if (!stride.empty()) s.stride[i] = stride[i];
    if (!padding.empty()) s.padding[i] = padding[i];
    if (!dilation.empty()) s.dilation[i] = dilation[i] - 1;
  }
  return s;
}

std::vector<int64_t> cache_key(ConvKind kind, const ConvShape& s) {
  std::vector<int64_t> key;
  key.reserve(4 + 3 * s.x.size() + 3 * s.stride.size());
  key.push_back(static_cast<int64_t>(kind));
  key.push_back(s.groups);
  for (const auto* v : {&s.x, &s.w, &s.y}) key.insert(key.end(), v->begin(), v->end());
  for (const auto* v : {&s.stride, &s.padding, &s.dilation}) key.insert(key.end(), v->begin(), v->end());
  return key;
}

// Plain (row-major) descriptors of plumb's tensors.
tag activation_tag(size_t rank) { return rank == 3 ? tag::ncw : rank == 4 ? tag::nchw : tag::ncdhw; }
tag weight_tag(size_t rank, bool grouped) {
  if (grouped) return rank == 3 ? tag::goiw : rank == 4 ? tag::goihw : tag::goidhw;
  return rank == 3 ? tag::oiw : rank == 4 ? tag::oihw : tag::oidhw;
}

// Weights as oneDNN sees them: (G, O/G, C/G, *K) when grouped, plumb's (O, C/G, *K) otherwise (same bytes).
memory::dims weight_dims(const ConvShape& s) {
  memory::dims d = to_dims(s.w);
  if (s.groups > 1) {
    d[0] /= s.groups;
    d.insert(d.begin(), s.groups);
  }
  return d;
}

// One operand slot of a cached primitive: plumb's plain layout, the primitive's layout, and the
// reorder between them when they differ.
struct Slot {
  int arg = 0;  // DNNL_ARG_*
  memory::desc plain, impl;
  dnnl::reorder reorder;  // plain -> impl for inputs, impl -> plain for the output
  memory::desc scratchpad;  // the reorder's
  bool reordered = false;
};

// Scratchpads are user-managed (per thread, passed at execution) so one cached primitive can run on
// several pool threads at once; library-managed ones are shared per primitive.
struct ConvPrimitive {
  dnnl::primitive prim;
  memory::desc scratchpad;
  Slot in0, in1, out;
};

Slot make_slot(int arg, const memory::desc& plain, const memory::desc& impl, bool is_output) {
  Slot s;
  s.arg = arg;
  s.plain = plain;
  s.impl = impl;
  s.reordered = impl != plain;
  if (s.reordered) {
    dnnl::engine& e = onednn_engine();
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::reorder::primitive_desc pd = is_output ? dnnl::reorder::primitive_desc(e, impl, e, plain, attr)
                                                       : dnnl::reorder::primitive_desc(e, plain, e, impl, attr);
    s.reorder = dnnl::reorder(pd);
    s.scratchpad = pd.scratchpad_desc();
  }
  return s;
}

// Measured on AVX-512 at ResNet shapes, layout any plus reorders wins except (a) pointwise convolutions
// (1x1, stride 1, no padding) over large images, which are plain GEMMs whose reorders would double the
// memory traffic, (b) the input gradient of few-channel layers (the RGB stem), whose blocked layout
// pads 3 channels to 16 (at 6 channels, LeNet's second conv, blocked already runs 1.7x faster), and
// (c) weight gradients over small images (7x7), where reordering the large weight gradient costs more
// than the short reduction gains.
bool prefer_plain(ConvKind kind, const ConvShape& s) {
  bool pointwise = s.groups == 1;
  int64_t positions = 1;
  for (size_t i = 2; i < s.w.size(); ++i) {
    pointwise = pointwise && s.w[i] == 1 && s.stride[i - 2] == 1 && s.padding[i - 2] == 0;
    positions *= s.y[i];
  }
  if (pointwise && positions >= 28 * 28) return true;
  if (kind == ConvKind::backward_data) return s.groups == 1 && s.w[1] < 4;
  if (kind == ConvKind::backward_weights) return s.groups == 1 && positions < 14 * 14;
  return false;
}

// The weight gradient gw[o,c,k] = sum over n, p of x[n,c,p+k] gy[n,o,p] (stride 1, no dilation) is a
// forward convolution of x read as (C, N, *S) with gy read as weights (O, N, *S_out), giving gw read as
// (C, O, *K). For layers with few input channels and a large batch this turns oneDNN's blocked backward
// (which pads C to the vector width) into a forward over N channels: 2x faster at LeNet's second layer
// (x (64,6,14,14), w (16,6,5,5)). Few output channels lose (the gy weights pad instead), so O >= 16.
bool swap_weight_gradient(const ConvShape& s) {
  if (s.groups != 1 || s.x.size() != 4 || s.x[0] < 16 || s.x[1] >= 16 || s.w[0] < 16) return false;
  for (size_t i = 0; i < s.stride.size(); ++i)
    if (s.stride[i] != 1 || s.dilation[i] != 0) return false;
  return true;
}

// Dims `d` over the bytes of a row-major tensor whose first two dims are d[1], d[0] (the swapped views).
dnnl::memory::desc swapped_view(const memory::dims& d) {
  memory::dims strides(d.size(), 1);
  for (size_t i = d.size() - 1; i > 2; --i) strides[i - 1] = strides[i] * d[i];
  int64_t plane = 1;
  for (size_t i = 2; i < d.size(); ++i) plane *= d[i];
  strides[0] = plane;
  strides[1] = plane * d[0];
  return memory::desc(d, kF32, strides);
}

std::shared_ptr<ConvPrimitive> create_swapped(const ConvShape& s) {
  using namespace dnnl;
  engine& eng = onednn_engine();
  const int64_t n = s.x[0], c = s.x[1], o = s.w[0];
  memory::dims xd = {c, n}, gd = {o, n}, wd = {c, o};
  for (size_t i = 2; i < s.x.size(); ++i) {
    xd.push_back(s.x[i]);
    gd.push_back(s.y[i]);
    wd.push_back(s.w[i]);
  }
  const memory::desc x_view = swapped_view(xd), g_view = swapped_view(gd), w_view = swapped_view(wd);
  const memory::desc x_any(xd, kF32, tag::any), g_any(gd, kF32, tag::any), w_any(wd, kF32, tag::any);
  const convolution_forward::desc d(prop_kind::forward_inference, algorithm::convolution_direct, x_any, g_any, w_any,
                                    s.stride, s.dilation, s.padding, s.padding);
  primitive_attr attr;
  attr.set_scratchpad_mode(scratchpad_mode::user);
  const convolution_forward::primitive_desc pd(d, attr, eng);
  auto p = std::make_shared<ConvPrimitive>();
  p->prim = convolution_forward(pd);
  p->scratchpad = pd.scratchpad_desc();
  p->in0 = make_slot(DNNL_ARG_SRC, x_view, pd.src_desc(), false);
  p->in1 = make_slot(DNNL_ARG_WEIGHTS, g_view, pd.weights_desc(), false);
  p->out = make_slot(DNNL_ARG_DST, w_view, pd.dst_desc(), true);
  return p;
}

std::shared_ptr<ConvPrimitive> create(ConvKind kind, const ConvShape& s) {
  using namespace dnnl;
  if (kind == ConvKind::backward_weights_swapped) {
    try {
      return create_swapped(s);
    } catch (const dnnl::error&) {
      // No forward implementation for the swapped shapes: the plain backward below serves the same key.
    }
  }
  engine& eng = onednn_engine();
  const size_t rank = s.x.size();
  const memory::dims xd = to_dims(s.x), wd = weight_dims(s), yd = to_dims(s.y);
  const memory::desc x_plain(xd, kF32, activation_tag(rank)), y_plain(yd, kF32, activation_tag(rank));
  const memory::desc w_plain(wd, kF32, weight_tag(rank, s.groups > 1));
  const bool plain = prefer_plain(kind, s);
  const memory::desc x_any = plain ? x_plain : memory::desc(xd, kF32, tag::any);
  const memory::desc w_any = plain ? w_plain : memory::desc(wd, kF32, tag::any);
  const memory::desc y_any = plain ? y_plain : memory::desc(yd, kF32, tag::any);
  const memory::dims& pad = s.padding;  // symmetric; oneDNN's output-size check floors like plumb's

  const convolution_forward::desc fwd_desc(prop_kind::forward_training, algorithm::convolution_direct, x_any, w_any,
                                           y_any, s.stride, s.dilation, pad, pad);
  primitive_attr attr;
  attr.set_scratchpad_mode(scratchpad_mode::user);
  const convolution_forward::primitive_desc fwd_pd(fwd_desc, attr, eng);
  auto p = std::make_shared<ConvPrimitive>();
  switch (kind) {
    case ConvKind::forward:
      p->prim = convolution_forward(fwd_pd);
      p->scratchpad = fwd_pd.scratchpad_desc();
      p->in0 = make_slot(DNNL_ARG_SRC, x_plain, fwd_pd.src_desc(), false);
      p->in1 = make_slot(DNNL_ARG_WEIGHTS, w_plain, fwd_pd.weights_desc(), false);
      p->out = make_slot(DNNL_ARG_DST, y_plain, fwd_pd.dst_desc(), true);
      break;
    case ConvKind::backward_data: {
      const convolution_backward_data::desc d(algorithm::convolution_direct, x_any, w_any, y_any, s.stride,
                                              s.dilation, pad, pad);
      const convolution_backward_data::primitive_desc pd(d, attr, eng, fwd_pd);
      p->prim = convolution_backward_data(pd);
      p->scratchpad = pd.scratchpad_desc();
      p->in0 = make_slot(DNNL_ARG_DIFF_DST, y_plain, pd.diff_dst_desc(), false);
      p->in1 = make_slot(DNNL_ARG_WEIGHTS, w_plain, pd.weights_desc(), false);
      p->out = make_slot(DNNL_ARG_DIFF_SRC, x_plain, pd.diff_src_desc(), true);
      break;
    }
    case ConvKind::backward_weights_swapped:  // when create_swapped could not build one
    case ConvKind::backward_weights: {
      const convolution_backward_weights::desc d(algorithm::convolution_direct, x_any, w_any, y_any, s.stride,
                                                 s.dilation, pad, pad);
      const convolution_backward_weights::primitive_desc pd(d, attr, eng, fwd_pd);
      p->prim = convolution_backward_weights(pd);
      p->scratchpad = pd.scratchpad_desc();
      p->in0 = make_slot(DNNL_ARG_SRC, x_plain, pd.src_desc(), false);
      p->in1 = make_slot(DNNL_ARG_DIFF_DST, y_plain, pd.diff_dst_desc(), false);
      p->out = make_slot(DNNL_ARG_DIFF_WEIGHTS, w_plain, pd.diff_weights_desc(), true);
      break;
    }
  }
  return p;
}

std::shared_ptr<ConvPrimitive> cached(ConvKind kind, const ConvShape& s) {
  static std::mutex mu;
  static std::unordered_map<std::vector<int64_t>, std::shared_ptr<ConvPrimitive>, KeyHash> cache;
  std::vector<int64_t> key = cache_key(kind, s);
  std::lock_guard lock(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  std::shared_ptr<ConvPrimitive> p;
  try {
    p = create(kind, s);
  } catch (const dnnl::error& e) {
    static const char* names[] = {"conv", "conv_backward_input", "conv_backward_weight", "conv_backward_weight"};
    fail(names[static_cast<int>(kind)], " (onednn): cannot create a primitive for input ", shape_str(s.x),
         ", weight ", shape_str(s.w), ", output ", shape_str(s.y), ", groups=", s.groups, ": ", e.what());
  }
  // Bounded for workloads whose shapes never repeat (variable-length 1-D inputs); in-flight entries
  // stay alive through their shared_ptr.
  if (cache.size() >= kMaxCachedPrimitives) cache.clear();
  cache.emplace(std::move(key), p);
  return p;
}

// Per-thread scratch for operands in the primitive's layout; grows, never shrinks, reused by every call.
struct Scratch {
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<void, Free> data;
  size_t size = 0;
  void* get(size_t bytes) {
    if (bytes > size) {
      data.reset();
      const size_t rounded = (bytes + 63) / 64 * 64;
      data.reset(std::aligned_alloc(64, rounded));
      if (!data) fail("onednn: out of memory allocating ", rounded, " bytes of reorder scratch");
      size = rounded;
    }
    return data.get();
  }
};

// Runs a cached primitive over plumb buffers: reorders inputs in and the output out where layouts differ.
void execute(const ConvPrimitive& p, const void* a, const void* b, void* out) {
  thread_local Scratch scratch[3], pad;
  dnnl::engine& eng = onednn_engine();
  dnnl::stream& stream = onednn_stream();
  apply_onednn_threads();
  const Slot* slots[3] = {&p.in0, &p.in1, &p.out};
  void* ptrs[3] = {const_cast<void*>(a), const_cast<void*>(b), out};
  memory user[3], impl[3];
  for (int i = 0; i < 3; ++i) {
    user[i] = memory(slots[i]->plain, eng, ptrs[i]);
    impl[i] = slots[i]->reordered ? memory(slots[i]->impl, eng, scratch[i].get(slots[i]->impl.get_size())) : user[i];
  }
  // One per-thread scratchpad buffer serves each step in turn (the stream runs them in order).
  const auto scratchpad = [&](const memory::desc& md) { return memory(md, eng, pad.get(md.get_size())); };
  for (int i = 0; i < 2; ++i)
    if (slots[i]->reordered)
      slots[i]->reorder.execute(stream, {{DNNL_ARG_FROM, user[i]},
                                         {DNNL_ARG_TO, impl[i]},
                                         {DNNL_ARG_SCRATCHPAD, scratchpad(slots[i]->scratchpad)}});
  p.prim.execute(stream, {{p.in0.arg, impl[0]},
                          {p.in1.arg, impl[1]},
                          {p.out.arg, impl[2]},
                          {DNNL_ARG_SCRATCHPAD, scratchpad(p.scratchpad)}});
  if (p.out.reordered)
    p.out.reorder.execute(stream, {{DNNL_ARG_FROM, impl[2]},
                                   {DNNL_ARG_TO, user[2]},
                                   {DNNL_ARG_SCRATCHPAD, scratchpad(p.out.scratchpad)}});
  stream.wait();
}

// oneDNN runs single-threaded (see configure_library_threads); convolutions with enough work split the
// batch over plumb's pool, one primitive call per part. Below this many multiply-adds a pool wake-up
// costs more than it saves.
constexpr int64_t kParallelConvMacs = int64_t{1} << 19;

int64_t conv_macs(const ConvShape& s) {
  int64_t macs = s.y[0] * s.w[0];
  for (size_t i = 1; i < s.w.size(); ++i) macs *= s.w[i];
  for (size_t i = 2; i < s.y.size(); ++i) macs *= s.y[i];
  return macs;
}

// Number of batch parts to run in parallel: 1 when the work is small or already inside a parallel region.
int64_t batch_parts(const ConvShape& s) {
  const int64_t n = s.x[0];
  if (n < 2 || conv_macs(s) < kParallelConvMacs) return 1;
  return std::min<int64_t>(num_threads(), n);
}

// s with the batch cut to [begin, end).
ConvShape batch_slice(const ConvShape& s, int64_t begin, int64_t end) {
  ConvShape part = s;
  part.x[0] = part.y[0] = end - begin;
  return part;
}

// One-input-channel 2-D convolutions with stride 1 and no dilation run plumb's direct kernels
// (conv_direct.h) where the CPU has them: g gets their geometry.
bool stem_geometry(const ConvShape& s, bool weight_gradient, StemConv& g) {
  if (s.x.size() != 4 || s.groups != 1 || s.x[1] != 1) return false;
  for (size_t i = 0; i < 2; ++i)
    if (s.stride[i] != 1 || s.dilation[i] != 0) return false;
  g = StemConv{s.x[0], s.w[0], s.x[2], s.x[3], s.w[2], s.w[3], s.padding[0], s.padding[1], s.y[2], s.y[3]};
  return stem_conv_supported(g, weight_gradient);
}

// Batch-independent convolutions (forward, backward data): in (N, ...) and out (N, ...) split by sample.
void run_batched(ConvKind kind, const ConvShape& s, const float* in, const float* w, float* out) {
  const int64_t parts = batch_parts(s);
  const int64_t n = s.x[0];
  const bool fwd = kind == ConvKind::forward;
  const int64_t x_per = numel(s.x) / n, y_per = numel(s.y) / n;
  const int64_t in_per = fwd ? x_per : y_per, out_per = fwd ? y_per : x_per;
  StemConv stem{};
  const bool direct = fwd && stem_geometry(s, false, stem);
  // Samples [begin, end).
  const auto run = [&](int64_t begin, int64_t end) {
    if (direct) {
      StemConv g = stem;
      g.n = end - begin;
      stem_conv_forward(g, in + begin * in_per, w, out + begin * out_per);
    } else {
      execute(*cached(kind, begin == 0 && end == n ? s : batch_slice(s, begin, end)), in + begin * in_per, w,
              out + begin * out_per);
    }
  };
  if (parts <= 1) return run(0, n);
  parallel_for(parts, 1, [&](int64_t pb, int64_t pe) {
    for (int64_t part = pb; part < pe; ++part) {
      const int64_t begin = n * part / parts, end = n * (part + 1) / parts;
      if (begin < end) run(begin, end);
    }
  });
}
// Empty operands: nothing to write, or a sum over nothing (zeros).
bool handle_empty(const Tensor& a, const Tensor& b, const Tensor& out) {
  if (out.numel() == 0) return true;
  if (a.numel() == 0 || b.numel() == 0) {
    std::memset(out.raw_data(), 0, out.nbytes());
    return true;
  }
  return false;
}

// conv: x (N, C, *S), w (O, C/groups, *K) -> y (N, O, *S_out)
void conv_forward(const KernelArgs& k) {
  const Tensor &x = k.inputs[0], &w = k.inputs[1];
  const Tensor& y = k.outputs[0];
  if (handle_empty(x, w, y)) return;
  const auto& a = static_cast<const ConvAttrs&>(k.attrs);
  const ConvShape s = make_shape(x.shape(), w.shape(), y.shape(), a.stride, a.padding, a.dilation, a.groups);
  run_batched(ConvKind::forward, s, x.data<float>(), w.data<float>(), y.data<float>());
}

// conv_backward_input: grad_y (N, O, *S_out), w (O, C/groups, *K) -> grad_x (N, C, *S)
void conv_backward_data(const KernelArgs& k) {
  const Tensor &gy = k.inputs[0], &w = k.inputs[1];
  const Tensor& gx = k.outputs[0];
  if (handle_empty(gy, w, gx)) return;
  const auto& a = static_cast<const ConvBackwardAttrs&>(k.attrs);
  const ConvShape s = make_shape(gx.shape(), w.shape(), gy.shape(), a.stride, a.padding, a.dilation, a.groups);
  run_batched(ConvKind::backward_data, s, gy.data<float>(), w.data<float>(), gx.data<float>());
}

// conv_backward_weight: x (N, C, *S), grad_y (N, O, *S_out) -> grad_w (O, C/groups, *K)
// Split by batch: part 0 writes grad_w, the others partial sums that are added after.
void conv_backward_weights(const KernelArgs& k) {
  const Tensor &x = k.inputs[0], &gy = k.inputs[1];
  const Tensor& gw = k.outputs[0];
  if (handle_empty(x, gy, gw)) return;
  const auto& a = static_cast<const ConvBackwardAttrs&>(k.attrs);
  const ConvShape s = make_shape(x.shape(), gw.shape(), gy.shape(), a.stride, a.padding, a.dilation, a.groups);
  const int64_t parts = batch_parts(s);
  const ConvKind kind = swap_weight_gradient(s) ? ConvKind::backward_weights_swapped : ConvKind::backward_weights;
  StemConv stem{};
  const bool direct = stem_geometry(s, true, stem);
  const int64_t n = s.x[0], x_per = numel(s.x) / n, y_per = numel(s.y) / n, w_numel = gw.numel();
  // The gradient over samples [begin, end) into dst.
  const auto run = [&](int64_t begin, int64_t end, float* dst) {
    if (direct) {
      StemConv g = stem;
      g.n = end - begin;
      stem_conv_backward_weight(g, x.data<float>() + begin * x_per, gy.data<float>() + begin * y_per, dst);
    } else {
      execute(*cached(kind, begin == 0 && end == n ? s : batch_slice(s, begin, end)), x.data<float>() + begin * x_per,
              gy.data<float>() + begin * y_per, dst);
    }
  };
  if (parts <= 1) return run(0, n, gw.data<float>());
  std::vector<float> partial(static_cast<size_t>((parts - 1) * w_numel));
  float* pgw = gw.data<float>();
  parallel_for(parts, 1, [&](int64_t pb, int64_t pe) {
    for (int64_t part = pb; part < pe; ++part) {
      const int64_t begin = n * part / parts, end = n * (part + 1) / parts;
      float* dst = part == 0 ? pgw : partial.data() + (part - 1) * w_numel;
      if (begin == end) {
        std::fill(dst, dst + w_numel, 0.0f);
        continue;
      }
      run(begin, end, dst);
    }
  });
  for (int64_t part = 1; part < parts; ++part) {
    const float* src = partial.data() + (part - 1) * w_numel;
    for (int64_t i = 0; i < w_numel; ++i) pgw[i] += src[i];
  }
}

}  // namespace

void register_onednn_conv() {
  register_kernel(Kernel{"conv", DeviceType::cpu, "onednn", {DType::f32}, &conv_forward, 10, false});
  register_kernel(
      Kernel{"conv_backward_input", DeviceType::cpu, "onednn", {DType::f32}, &conv_backward_data, 10, false});
  register_kernel(
      Kernel{"conv_backward_weight", DeviceType::cpu, "onednn", {DType::f32}, &conv_backward_weights, 10, false});
}

}  // namespace plumb::backends::fast
