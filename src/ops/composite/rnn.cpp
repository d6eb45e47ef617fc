// Recurrent cells as composites of primitives: lstm_cell, gru_cell, and lstm_layer (one LSTM layer in
// one direction, the unrolled cells; a fused kernel such as oneDNN's may stand in for it).
#include <string>

#include "ops/composite/composite.h"
#include "plumb/autograd.h"
#include "plumb/dispatch.h"

namespace plumb {

namespace {

// Checks a (gates*H, in) weight, its (gates*H) biases and returns H.
int64_t check_weights(std::string_view op, std::span<const TensorSpec> in, size_t wi, int64_t gates,
                      int64_t input_size, const TensorSpec& x) {
  const TensorSpec& w_ih = in[wi];
  const TensorSpec& w_hh = in[wi + 1];
  ops::composite::check_float_like(op, w_ih, x.dtype, "w_ih");
  ops::composite::check_float_like(op, w_hh, x.dtype, "w_hh");
  if (w_ih.shape.size() != 2 || w_ih.shape[0] % gates != 0)
    fail(op, ": w_ih must be (", gates, "*H, input_size), got ", shape_str(w_ih.shape));
  const int64_t h = w_ih.shape[0] / gates;
  if (w_ih.shape[1] != input_size)
    fail(op, ": w_ih ", shape_str(w_ih.shape), " expects input_size ", w_ih.shape[1], " but x has ", input_size,
         " features");
  if (w_hh.shape != Shape{gates * h, h})
    fail(op, ": w_hh must be ", shape_str(Shape{gates * h, h}), " to match w_ih ", shape_str(w_ih.shape), ", got ",
         shape_str(w_hh.shape));
  if (in.size() == wi + 3) fail(op, ": give both biases (b_ih, b_hh) or neither");
  if (in.size() == wi + 4) {
    const char* names[] = {"b_ih", "b_hh"};
    for (size_t k = 0; k < 2; ++k) {
      ops::composite::check_float_like(op, in[wi + 2 + k], x.dtype, names[k]);
      if (in[wi + 2 + k].shape != Shape{gates * h})
        fail(op, ": ", names[k], " must be ", shape_str(Shape{gates * h}), ", got ", shape_str(in[wi + 2 + k].shape));
    }
  }
  return h;
}

// A (N, H) state checked against x (N, I) and hidden size h.
void check_state(std::string_view op, const TensorSpec& s, const TensorSpec& x, int64_t n, int64_t h,
                 const char* what) {
  ops::composite::check_float_like(op, s, x.dtype, what);
  if (s.shape != Shape{n, h})
    fail(op, ": ", what, " must be ", shape_str(Shape{n, h}), " (batch ", n, ", hidden ", h, "), got ",
         shape_str(s.shape));
}

// Inputs (x, h, c, w_ih, w_hh[, b_ih, b_hh]); outputs (h', c'), each (N, H).
std::vector<TensorSpec> infer_lstm_cell(std::span<const TensorSpec> in, const Attrs&) {
  const TensorSpec& x = in[0];
  ops::check_float("lstm_cell", x, "x");
  if (x.shape.size() != 2) fail("lstm_cell: x must be (N, input_size), got ", shape_str(x.shape));
  const int64_t h = check_weights("lstm_cell", in, 3, 4, x.shape[1], x);
  check_state("lstm_cell", in[1], x, x.shape[0], h, "h");
  check_state("lstm_cell", in[2], x, x.shape[0], h, "c");
  return {in[1], in[2]};
}

// Inputs (x, h, w_ih, w_hh[, b_ih, b_hh]); output h' (N, H).
std::vector<TensorSpec> infer_gru_cell(std::span<const TensorSpec> in, const Attrs&) {
  const TensorSpec& x = in[0];
  ops::check_float("gru_cell", x, "x");
  if (x.shape.size() != 2) fail("gru_cell: x must be (N, input_size), got ", shape_str(x.shape));
  const int64_t h = check_weights("gru_cell", in, 2, 3, x.shape[1], x);
  check_state("gru_cell", in[1], x, x.shape[0], h, "h");
  return {in[1]};
}

// Inputs (x (T, N, I), h0, c0 (N, H), w_ih, w_hh[, b_ih, b_hh]); outputs (y (T, N, H), hT, cT).
std::vector<TensorSpec> infer_lstm_layer(std::span<const TensorSpec> in, const Attrs&) {
  const TensorSpec& x = in[0];
  ops::check_float("lstm_layer", x, "x");
  if (x.shape.size() != 3) fail("lstm_layer: x must be (T, N, input_size), got ", shape_str(x.shape));
  if (x.shape[0] < 1) fail("lstm_layer: x ", shape_str(x.shape), " has no time steps");
  const int64_t h = check_weights("lstm_layer", in, 3, 4, x.shape[2], x);
  if (h < 1) fail("lstm_layer: hidden size must be >= 1, w_ih is ", shape_str(in[3].shape));
  check_state("lstm_layer", in[1], x, x.shape[1], h, "h0");
  check_state("lstm_layer", in[2], x, x.shape[1], h, "c0");
  return {TensorSpec{{x.shape[0], x.shape[1], h}, x.dtype, x.device}, in[1], in[2]};
}

// x @ w^T (+ b): the input or hidden projection of every gate at once.
Tensor project(const Tensor& x, const Tensor& w, std::span<const Tensor> in, size_t bias_index) {
  return in.size() > bias_index ? linear(x, w, in[bias_index]) : linear(x, w);
}

// gates = W_ih x + b_ih + W_hh h + b_hh, (N, 4H) in order i, f, g, o;
// c' = sigmoid(f) * c + sigmoid(i) * tanh(g); h' = sigmoid(o) * tanh(c').
std::vector<Tensor> lstm_cell_decompose(std::span<const Tensor> in, const Attrs&) {
  const Tensor &x = in[0], &h = in[1], &c = in[2];
  const int64_t hs = h.size(1);
  Tensor gx = project(x, in[3], in, 5);  // named so the input projection runs first
  Tensor gates = add(gx, project(h, in[4], in, 6));
  // split, not slices: the gradient of the gates is one concat rather than a pad and an add per gate.
  const std::vector<Tensor> ifgo = split(gates, 1, {2 * hs, hs, hs});
  Tensor if_gates = sigmoid(ifgo[0]);  // i and f share one sigmoid
  Tensor g = tanh(ifgo[1]);
  Tensor o = sigmoid(ifgo[2]);
  const std::vector<Tensor> i_f = split(if_gates, 1, {hs, hs});
  Tensor c_next = add(mul(i_f[1], c), mul(i_f[0], g));
  Tensor h_next = mul(o, tanh(c_next));
  return {h_next, c_next};
}

// gi = W_ih x + b_ih, gh = W_hh h + b_hh, (N, 3H) in order r, z, n;
// r, z = sigmoid(gi + gh); n = tanh(gi_n + r * gh_n); h' = (1 - z) n + z h = n + z (h - n).
std::vector<Tensor> gru_cell_decompose(std::span<const Tensor> in, const Attrs&) {
  const Tensor &x = in[0], &h = in[1];
  const int64_t hs = h.size(1);
  Tensor gi = project(x, in[2], in, 4);
  Tensor gh = project(h, in[3], in, 5);
  const std::vector<Tensor> gi_rz_n = split(gi, 1, {2 * hs, hs}), gh_rz_n = split(gh, 1, {2 * hs, hs});
  Tensor rz = sigmoid(add(gi_rz_n[0], gh_rz_n[0]));
  const std::vector<Tensor> r_z = split(rz, 1, {hs, hs});
  Tensor n = tanh(add(gi_rz_n[1], mul(r_z[0], gh_rz_n[1])));
  Tensor h_next = add(n, mul(r_z[1], sub(h, n)));
  return {h_next};
}

// The cells unrolled over T; y stacks every step's h.
std::vector<Tensor> lstm_layer_decompose(std::span<const Tensor> in, const Attrs&) {
  const Tensor& x = in[0];
  LstmState s{in[1], in[2]};
  const Tensor b_ih = in.size() > 5 ? in[5] : Tensor(), b_hh = in.size() > 6 ? in[6] : Tensor();
  std::vector<Tensor> ys;
  ys.reserve(static_cast<size_t>(x.size(0)));
  const std::vector<Tensor> xs = unbind(x, 0);
  for (int64_t t = 0; t < x.size(0); ++t) {
    s = lstm_cell(xs[static_cast<size_t>(t)], s, in[3], in[4], b_ih, b_hh);
    ys.push_back(unsqueeze(s.h, 0));
  }
  return {concat(ys, 0), s.h, s.c};
}

// Inputs (gy (T, N, H), ghT, gcT (N, H), then lstm_layer's inputs); outputs one gradient per lstm_layer input.
std::vector<TensorSpec> infer_lstm_layer_backward(std::span<const TensorSpec> in, const Attrs& attrs) {
  if (in.size() != 8 && in.size() != 10)
    fail("lstm_layer_backward: expects (gy, ghT, gcT, x, h0, c0, w_ih, w_hh[, b_ih, b_hh]), got ", in.size(),
         " inputs");
  const std::vector<TensorSpec> fwd_out = infer_lstm_layer(in.subspan(3), attrs);
  const char* names[] = {"gy", "ghT", "gcT"};
  for (size_t k = 0; k < 3; ++k)
    if (in[k].shape != fwd_out[k].shape || in[k].dtype != fwd_out[k].dtype)
      fail("lstm_layer_backward: ", names[k], " is ", in[k].str(), " but the output it belongs to is ",
           fwd_out[k].str());
  return std::vector<TensorSpec>(in.begin() + 3, in.end());
}

// The gradients by differentiating the unrolled cells again (the forward is recomputed under autograd).
std::vector<Tensor> lstm_layer_backward_decompose(std::span<const Tensor> in, const Attrs& attrs) {
  std::vector<Tensor> leaves;
  for (size_t i = 3; i < in.size(); ++i) leaves.push_back(in[i].detach().set_requires_grad(true));
  std::vector<Tensor> outs;
  {
    EnableGradScope enable;
    outs = lstm_layer_decompose(leaves, attrs);
  }
  return grad(outs, leaves, {in[0], in[1], in[2]});
}

// The fused layer's gradient: one lstm_layer_backward, which a fused kernel may run too.
std::vector<Tensor> lstm_layer_vjp(const VjpArgs& v) {
  std::vector<Tensor> in{v.grad_outputs[0], v.grad_outputs[1], v.grad_outputs[2]};
  in.insert(in.end(), v.inputs.begin(), v.inputs.end());
  std::vector<Tensor> g = dispatch(PLUMB_OP("lstm_layer_backward"), in, NoAttrs{});
  for (size_t i = 0; i < g.size(); ++i)
    if (!v.needs_grad[i]) g[i] = Tensor();
  return g;
}

// Biases as the records take them: both, or neither; a lone bias is paired with zeros.
void push_biases(std::vector<Tensor>& in, const Tensor& b_ih, const Tensor& b_hh) {
  if (!b_ih.defined() && !b_hh.defined()) return;
  const Tensor& some = b_ih.defined() ? b_ih : b_hh;
  in.push_back(b_ih.defined() ? b_ih : ops::zeros_like(some));
  in.push_back(b_hh.defined() ? b_hh : ops::zeros_like(some));
}

}  // namespace

LstmState lstm_cell(const Tensor& x, const LstmState& state, const Tensor& w_ih, const Tensor& w_hh,
                    const Tensor& b_ih, const Tensor& b_hh) {
  std::vector<Tensor> in{x, state.h, state.c, w_ih, w_hh};
  push_biases(in, b_ih, b_hh);
  std::vector<Tensor> out = dispatch(PLUMB_OP("lstm_cell"), in, NoAttrs{});
  return {out[0], out[1]};
}

Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                const Tensor& b_hh) {
  std::vector<Tensor> in{x, h, w_ih, w_hh};
  push_biases(in, b_ih, b_hh);
  return dispatch1(PLUMB_OP("gru_cell"), in, NoAttrs{});
}

namespace ops::composite {

void register_rnn_ops() {
  register_op(OpDef{
      .name = "lstm_cell",
      .op_class = OpClass::matrix,
      .min_inputs = 5,
      .max_inputs = 7,
      .infer = infer_lstm_cell,
      .differentiable = true,
      .decompose = lstm_cell_decompose,
      .doc = "one LSTM step (gates i, f, g, o as PyTorch): (x, h, c, w_ih, w_hh[, b_ih, b_hh]) -> (h', c')",
  });
  register_op(OpDef{
      .name = "gru_cell",
      .op_class = OpClass::matrix,
      .min_inputs = 4,
      .max_inputs = 6,
      .infer = infer_gru_cell,
      .differentiable = true,
      .decompose = gru_cell_decompose,
      .doc = "one GRU step (gates r, z, n as PyTorch): (x, h, w_ih, w_hh[, b_ih, b_hh]) -> h'",
  });
  register_op(OpDef{
      .name = "lstm_layer",
      .op_class = OpClass::matrix,
      .min_inputs = 5,
      .max_inputs = 7,
      .infer = infer_lstm_layer,
      .vjp = lstm_layer_vjp,
      .differentiable = true,
      .decompose = lstm_layer_decompose,
      .doc = "an LSTM over a (T, N, I) sequence, one layer and direction: (x, h0, c0, w_ih, w_hh[, b_ih, b_hh]) -> "
             "(y, hT, cT)",
  });
  register_op(OpDef{
      .name = "lstm_layer_backward",
      .op_class = OpClass::matrix,
      .min_inputs = 8,
      .max_inputs = 10,
      .infer = infer_lstm_layer_backward,
      .decompose = lstm_layer_backward_decompose,
      .doc = "gradients of lstm_layer: (gy, ghT, gcT, x, h0, c0, w_ih, w_hh[, b_ih, b_hh]) -> one per lstm_layer input",
  });
}

}  // namespace ops::composite
}  // namespace plumb
