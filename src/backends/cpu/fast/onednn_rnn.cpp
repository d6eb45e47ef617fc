// A fused LSTM layer through oneDNN (f32), standing in for the lstm_layer composites:
//   lstm_layer(x (T, N, I), h0, c0 (N, H), w_ih (4H, I), w_hh (4H, H)[, b_ih, b_hh (4H)]) -> (y (T, N, H), hT, cT)
//   lstm_layer_backward(gy, ghT, gcT, <lstm_layer's inputs>) -> one gradient per lstm_layer input
// The backward reruns the forward in training mode (for oneDNN's workspace), then lstm_backward.
// PyTorch's (4H, in) weights are oneDNN's plain ldgoi layout (gates i, f, g, o are oneDNN's i, f, c~, o);
// they are reordered into the primitive's preferred layout every call, since training changes them.
#include <algorithm>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "backends/cpu/fast/fast.h"
#include "backends/cpu/fast/onednn_common.h"
#include "ops/op_def.h"

namespace plumb::backends::fast {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
constexpr auto f32 = memory::data_type::f32;

struct LstmPrimitives {
  memory::desc src_layer, iter, bias, dst_layer;   // plain: tnc, ldnc (1, 1, N, H), ldgo (1, 1, 4, H)
  memory::desc user_w_layer, user_w_iter;          // ldgoi: PyTorch's (4H, in)
  memory::desc w_layer, w_iter;                    // the primitive's choice
  dnnl::lstm_forward lstm;
  dnnl::reorder to_w_layer, to_w_iter;
};

void build(LstmPrimitives& p, int64_t t, int64_t n, int64_t i, int64_t h) {
  dnnl::engine& eng = onednn_engine();
  p.src_layer = memory::desc({t, n, i}, f32, tag::tnc);
  p.dst_layer = memory::desc({t, n, h}, f32, tag::tnc);
  p.iter = memory::desc({1, 1, n, h}, f32, tag::ldnc);
  p.bias = memory::desc({1, 1, 4, h}, f32, tag::ldgo);
  p.user_w_layer = memory::desc({1, 1, i, 4, h}, f32, tag::ldgoi);
  p.user_w_iter = memory::desc({1, 1, h, 4, h}, f32, tag::ldgoi);
  const memory::desc any_layer({1, 1, i, 4, h}, f32, tag::any), any_iter({1, 1, h, 4, h}, f32, tag::any);
  const dnnl::lstm_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::rnn_direction::unidirectional_left2right,
                                   p.src_layer, p.iter, p.iter, any_layer, any_iter, p.bias, p.dst_layer, p.iter,
                                   p.iter);
  const dnnl::lstm_forward::primitive_desc pd(d, eng);
  p.w_layer = pd.weights_layer_desc();
  p.w_iter = pd.weights_iter_desc();
  p.lstm = dnnl::lstm_forward(pd);
  p.to_w_layer = dnnl::reorder(dnnl::reorder::primitive_desc(eng, p.user_w_layer, eng, p.w_layer));
  p.to_w_iter = dnnl::reorder(dnnl::reorder::primitive_desc(eng, p.user_w_iter, eng, p.w_iter));
}

// Primitives built once per (T, N, I, H) and kept for the process; `what` names the op in errors.
template <class P, class Build>
const P& cached(const char* what, int64_t t, int64_t n, int64_t i, int64_t h, Build build) {
  static std::mutex mu;
  static std::unordered_map<std::vector<int64_t>, P, KeyHash> cache;
  std::vector<int64_t> key{t, n, i, h};
  std::lock_guard lock(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  P p;
  try {
    build(p, t, n, i, h);
  } catch (const dnnl::error& e) {
    fail(what, ": oneDNN could not build an LSTM for T=", t, " N=", n, " I=", i, " H=", h, ": ", e.what());
  }
  return cache.emplace(std::move(key), std::move(p)).first->second;
}

const LstmPrimitives& primitives(int64_t t, int64_t n, int64_t i, int64_t h) {
  return cached<LstmPrimitives>("lstm_layer", t, n, i, h, build);
}

struct LstmBackwardPrimitives {
  LstmPrimitives fwd;                              // plain descs and user layouts; lstm unused
  memory::desc fw_layer, fw_iter, bw_layer, bw_iter, dw_layer, dw_iter, workspace;
  dnnl::lstm_forward forward;                      // forward_training, writes the workspace
  dnnl::lstm_backward backward;
  dnnl::reorder to_fw_layer, to_fw_iter, to_bw_layer, to_bw_iter, from_dw_layer, from_dw_iter;
};

void build_backward(LstmBackwardPrimitives& b, int64_t t, int64_t n, int64_t i, int64_t h) {
  dnnl::engine& eng = onednn_engine();
  LstmPrimitives& p = b.fwd;
  p.src_layer = memory::desc({t, n, i}, f32, tag::tnc);
  p.dst_layer = memory::desc({t, n, h}, f32, tag::tnc);
  p.iter = memory::desc({1, 1, n, h}, f32, tag::ldnc);
  p.bias = memory::desc({1, 1, 4, h}, f32, tag::ldgo);
  p.user_w_layer = memory::desc({1, 1, i, 4, h}, f32, tag::ldgoi);
  p.user_w_iter = memory::desc({1, 1, h, 4, h}, f32, tag::ldgoi);
  const memory::desc any_layer({1, 1, i, 4, h}, f32, tag::any), any_iter({1, 1, h, 4, h}, f32, tag::any);
  const auto dir = dnnl::rnn_direction::unidirectional_left2right;
  const dnnl::lstm_forward::desc fd(dnnl::prop_kind::forward_training, dir, p.src_layer, p.iter, p.iter, any_layer,
                                    any_iter, p.bias, p.dst_layer, p.iter, p.iter);
  const dnnl::lstm_forward::primitive_desc fpd(fd, eng);
  const dnnl::lstm_backward::desc bd(dnnl::prop_kind::backward, dir, p.src_layer, p.iter, p.iter, any_layer, any_iter,
                                     p.bias, p.dst_layer, p.iter, p.iter, p.src_layer, p.iter, p.iter, any_layer,
                                     any_iter, p.bias, p.dst_layer, p.iter, p.iter);
  const dnnl::lstm_backward::primitive_desc bpd(bd, eng, fpd);
  b.fw_layer = fpd.weights_layer_desc();
  b.fw_iter = fpd.weights_iter_desc();
  b.bw_layer = bpd.weights_layer_desc();
  b.bw_iter = bpd.weights_iter_desc();
  b.dw_layer = bpd.diff_weights_layer_desc();
  b.dw_iter = bpd.diff_weights_iter_desc();
  b.workspace = fpd.workspace_desc();
  b.forward = dnnl::lstm_forward(fpd);
  b.backward = dnnl::lstm_backward(bpd);
  auto reorder = [&](const memory::desc& from, const memory::desc& to) {
    return dnnl::reorder(dnnl::reorder::primitive_desc(eng, from, eng, to));
  };
  b.to_fw_layer = reorder(p.user_w_layer, b.fw_layer);
  b.to_fw_iter = reorder(p.user_w_iter, b.fw_iter);
  b.to_bw_layer = reorder(p.user_w_layer, b.bw_layer);
  b.to_bw_iter = reorder(p.user_w_iter, b.bw_iter);
  b.from_dw_layer = reorder(b.dw_layer, p.user_w_layer);
  b.from_dw_iter = reorder(b.dw_iter, p.user_w_iter);
}

const LstmBackwardPrimitives& backward_primitives(int64_t t, int64_t n, int64_t i, int64_t h) {
  return cached<LstmBackwardPrimitives>("lstm_layer_backward", t, n, i, h, build_backward);
}

// A buffer of `md`'s size from plumb's allocator, so the memory studies see it.
Tensor buffer_for(const memory::desc& md) {
  return Tensor::empty({static_cast<int64_t>(md.get_size() / sizeof(float))}, DType::f32);
}

// b_ih + b_hh as oneDNN's single (4H) bias; zeros without biases. `in` points at lstm_layer's inputs.
Tensor summed_bias(std::span<const Tensor> in, int64_t h) {
  Tensor bias = Tensor::zeros({4 * h}, DType::f32);
  if (in.size() == 7) {
    const float *bi = in[5].data<float>(), *bh = in[6].data<float>();
    float* b = bias.data<float>();
    for (int64_t k = 0; k < 4 * h; ++k) b[k] = bi[k] + bh[k];
  }
  return bias;
}

// `user` reordered into a new buffer laid out as `md`.
memory reordered(const dnnl::reorder& r, const memory::desc& user_md, const Tensor& user, const memory::desc& md,
                 const Tensor& buf) {
  memory src = wrap(user_md, user), dst = wrap(md, buf);
  r.execute(onednn_stream(), src, dst);
  return dst;
}

void onednn_lstm_layer_backward(const KernelArgs& a) {
  const Tensor &gy = a.inputs[0], &ght = a.inputs[1], &gct = a.inputs[2];
  const std::span<const Tensor> in = a.inputs.subspan(3);
  const Tensor &x = in[0], &h0 = in[1], &c0 = in[2], &w_ih = in[3], &w_hh = in[4];
  const int64_t t = x.size(0), n = x.size(1), i = x.size(2), h = h0.size(1);
  for (const Tensor& g : a.outputs) std::fill_n(g.data<float>(), g.numel(), 0.f);
  if (n == 0) return;
  const LstmBackwardPrimitives& b = backward_primitives(t, n, i, h);
  const LstmPrimitives& p = b.fwd;
  dnnl::stream& stream = onednn_stream();
  const Tensor bias = summed_bias(in, h);
  // Forward in training mode: y, hT, cT again, and the workspace the backward reads.
  const Tensor y = Tensor::empty({t, n, h}, DType::f32), hn = Tensor::empty({n, h}, DType::f32),
               cn = Tensor::empty({n, h}, DType::f32), ws = buffer_for(b.workspace);
  const Tensor fwl = buffer_for(b.fw_layer), fwi = buffer_for(b.fw_iter);
  const memory ws_mem = wrap(b.workspace, ws);
  b.forward.execute(stream, {{DNNL_ARG_SRC_LAYER, wrap(p.src_layer, x)},
                             {DNNL_ARG_SRC_ITER, wrap(p.iter, h0)},
                             {DNNL_ARG_SRC_ITER_C, wrap(p.iter, c0)},
                             {DNNL_ARG_WEIGHTS_LAYER, reordered(b.to_fw_layer, p.user_w_layer, w_ih, b.fw_layer, fwl)},
                             {DNNL_ARG_WEIGHTS_ITER, reordered(b.to_fw_iter, p.user_w_iter, w_hh, b.fw_iter, fwi)},
                             {DNNL_ARG_BIAS, wrap(p.bias, bias)},
                             {DNNL_ARG_DST_LAYER, wrap(p.dst_layer, y)},
                             {DNNL_ARG_DST_ITER, wrap(p.iter, hn)},
                             {DNNL_ARG_DST_ITER_C, wrap(p.iter, cn)},
                             {DNNL_ARG_WORKSPACE, ws_mem}});
  // The backward accumulates into the weight and bias gradients: they start at zero.
  const Tensor bwl = buffer_for(b.bw_layer), bwi = buffer_for(b.bw_iter);
  const Tensor dwl = Tensor::zeros({static_cast<int64_t>(b.dw_layer.get_size() / sizeof(float))}, DType::f32);
  const Tensor dwi = Tensor::zeros({static_cast<int64_t>(b.dw_iter.get_size() / sizeof(float))}, DType::f32);
  const Tensor db = Tensor::zeros({4 * h}, DType::f32);
  memory dwl_mem = wrap(b.dw_layer, dwl), dwi_mem = wrap(b.dw_iter, dwi);
  b.backward.execute(stream, {{DNNL_ARG_SRC_LAYER, wrap(p.src_layer, x)},
                              {DNNL_ARG_SRC_ITER, wrap(p.iter, h0)},
                              {DNNL_ARG_SRC_ITER_C, wrap(p.iter, c0)},
                              {DNNL_ARG_WEIGHTS_LAYER, reordered(b.to_bw_layer, p.user_w_layer, w_ih, b.bw_layer, bwl)},
                              {DNNL_ARG_WEIGHTS_ITER, reordered(b.to_bw_iter, p.user_w_iter, w_hh, b.bw_iter, bwi)},
                              {DNNL_ARG_BIAS, wrap(p.bias, bias)},
                              {DNNL_ARG_DST_LAYER, wrap(p.dst_layer, y)},
                              {DNNL_ARG_DST_ITER, wrap(p.iter, hn)},
                              {DNNL_ARG_DST_ITER_C, wrap(p.iter, cn)},
                              {DNNL_ARG_DIFF_DST_LAYER, wrap(p.dst_layer, gy)},
                              {DNNL_ARG_DIFF_DST_ITER, wrap(p.iter, ght)},
                              {DNNL_ARG_DIFF_DST_ITER_C, wrap(p.iter, gct)},
                              {DNNL_ARG_WORKSPACE, ws_mem},
                              {DNNL_ARG_DIFF_SRC_LAYER, wrap(p.src_layer, a.outputs[0])},
                              {DNNL_ARG_DIFF_SRC_ITER, wrap(p.iter, a.outputs[1])},
                              {DNNL_ARG_DIFF_SRC_ITER_C, wrap(p.iter, a.outputs[2])},
                              {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl_mem},
                              {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi_mem},
                              {DNNL_ARG_DIFF_BIAS, wrap(p.bias, db)}});
  memory gw_ih = wrap(p.user_w_layer, a.outputs[3]), gw_hh = wrap(p.user_w_iter, a.outputs[4]);
  b.from_dw_layer.execute(stream, dwl_mem, gw_ih);
  b.from_dw_iter.execute(stream, dwi_mem, gw_hh);
  stream.wait();
  if (a.outputs.size() == 7)  // both biases enter as one sum: each gets the whole gradient
    for (size_t k = 5; k < 7; ++k) std::copy_n(db.data<float>(), 4 * h, a.outputs[k].data<float>());
}

void onednn_lstm_layer(const KernelArgs& a) {
  const Tensor &x = a.inputs[0], &h0 = a.inputs[1], &c0 = a.inputs[2], &w_ih = a.inputs[3], &w_hh = a.inputs[4];
  const Tensor &y = a.outputs[0], &h_t = a.outputs[1], &c_t = a.outputs[2];
  const int64_t t = x.size(0), n = x.size(1), i = x.size(2), h = h0.size(1);
  if (n == 0) return;  // nothing to compute; the outputs are empty
  const LstmPrimitives& p = primitives(t, n, i, h);
  dnnl::stream& stream = onednn_stream();
  const Tensor bias = summed_bias(a.inputs, h);
  const Tensor wl = buffer_for(p.w_layer), wi = buffer_for(p.w_iter);
  memory w_layer = wrap(p.w_layer, wl), w_iter = wrap(p.w_iter, wi);
  memory user_layer = wrap(p.user_w_layer, w_ih), user_iter = wrap(p.user_w_iter, w_hh);
  p.to_w_layer.execute(stream, user_layer, w_layer);
  p.to_w_iter.execute(stream, user_iter, w_iter);
  p.lstm.execute(stream, {{DNNL_ARG_SRC_LAYER, wrap(p.src_layer, x)},
                          {DNNL_ARG_SRC_ITER, wrap(p.iter, h0)},
                          {DNNL_ARG_SRC_ITER_C, wrap(p.iter, c0)},
                          {DNNL_ARG_WEIGHTS_LAYER, w_layer},
                          {DNNL_ARG_WEIGHTS_ITER, w_iter},
                          {DNNL_ARG_BIAS, wrap(p.bias, bias)},
                          {DNNL_ARG_DST_LAYER, wrap(p.dst_layer, y)},
                          {DNNL_ARG_DST_ITER, wrap(p.iter, h_t)},
                          {DNNL_ARG_DST_ITER_C, wrap(p.iter, c_t)}});
  stream.wait();
}

}  // namespace

// The records are the composites of src/ops/composite/rnn.cpp.
void register_onednn_rnn() {
  register_kernel(Kernel{"lstm_layer", DeviceType::cpu, "onednn", {DType::f32}, &onednn_lstm_layer, 10, false});
  register_kernel(Kernel{"lstm_layer_backward", DeviceType::cpu, "onednn", {DType::f32}, &onednn_lstm_layer_backward,
                         10, false});
}

}  // namespace plumb::backends::fast
