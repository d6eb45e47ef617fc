// Recurrent layers: Rnn (multi-layer, bidirectional, variable lengths) over the lstm_cell / gru_cell
// composites, or over the fused lstm_layer op; LstmCell and GruCell modules for step-by-step decoders.
#include "plumb/nn/rnn.h"

#include <cmath>
#include <string>
#include <vector>

#include "plumb/dispatch.h"
#include "plumb/nn/init.h"
#include "plumb/nn/layers.h"
#include "plumb/op.h"

namespace plumb::nn {

namespace {

// A parameter of the FactoryScope's dtype and device drawn from U(-1/sqrt(H), 1/sqrt(H)) as PyTorch's
// RNN reset_parameters. An empty Linear reads that dtype and device without drawing a random number.
Tensor make_param(Shape shape, int64_t hidden) {
  const Linear probe(1, 0, false);
  Tensor t = Tensor::empty(std::move(shape), probe.weight.dtype(), probe.weight.device());
  const double k = hidden > 0 ? 1.0 / std::sqrt(static_cast<double>(hidden)) : 0.0;
  init::uniform(t, -k, k);
  return t;
}

void check_sizes(const char* layer, int64_t input_size, int64_t hidden_size) {
  if (input_size < 1) fail(layer, ": input_size must be >= 1, got ", input_size);
  if (hidden_size < 1) fail(layer, ": hidden_size must be >= 1, got ", hidden_size);
}

// Per-step masks (N, 1) bool, true where step t < length; empty when every sequence runs all T steps.
std::vector<Tensor> step_masks(const Tensor& lengths, const Tensor& x) {
  const int64_t t_len = x.size(0), n = x.size(1);
  if (!lengths.defined()) return {};
  if (lengths.dim() != 1 || lengths.size(0) != n)
    fail("Rnn: lengths must be (N) = (", n, "), got ", shape_str(lengths.shape()));
  if (lengths.dtype() != DType::i64 && lengths.dtype() != DType::i32)
    fail("Rnn: lengths must be i64 or i32, got ", dtype_name(lengths.dtype()));
  std::vector<Tensor> masks;
  if (x.is_meta() || lengths.is_meta()) {  // shapes only
    for (int64_t t = 0; t < t_len; ++t) masks.push_back(Tensor::from_spec({{n, 1}, DType::boolean, x.device()}));
    return masks;
  }
  if (lengths.device().type != DeviceType::cpu) fail("Rnn: lengths must be a CPU tensor, got ", lengths.device().str());
  if (x.device().type != DeviceType::cpu)
    fail("Rnn: variable lengths are supported on CPU only; x is on ", x.device().str());
  const Tensor len = contiguous(lengths);
  std::vector<int64_t> lv(static_cast<size_t>(n));
  bool all_full = true;
  for (int64_t i = 0; i < n; ++i) {
    lv[i] = len.dtype() == DType::i64 ? len.data<int64_t>()[i] : len.data<int32_t>()[i];
    if (lv[i] < 0 || lv[i] > t_len)
      fail("Rnn: lengths[", i, "] = ", lv[i], " is outside [0, ", t_len, "] for a sequence of ", t_len, " steps");
    all_full = all_full && lv[i] == t_len;
  }
  if (all_full) return {};
  for (int64_t t = 0; t < t_len; ++t) {
    Tensor m = Tensor::empty({n, 1}, DType::boolean);
    for (int64_t i = 0; i < n; ++i) m.data<bool>()[i] = t < lv[i];
    masks.push_back(m);
  }
  return masks;
}

// Row i of `next` where the mask holds, else of `prev`.
Tensor keep(const std::vector<Tensor>& masks, int64_t t, const Tensor& next, const Tensor& prev) {
  return masks.empty() ? next : where(masks[t], next, prev);
}

// (T, N, H) from T tensors (N, H).
Tensor stack_steps(const std::vector<Tensor>& hs) {
  std::vector<Tensor> u;
  u.reserve(hs.size());
  for (const Tensor& h : hs) u.push_back(unsqueeze(h, 0));
  return concat(u, 0);
}

// x reversed along time.
Tensor reverse_time(const Tensor& x) {
  const int64_t t_len = x.size(0);
  std::vector<int64_t> idx(static_cast<size_t>(t_len));
  for (int64_t t = 0; t < t_len; ++t) idx[t] = t_len - 1 - t;
  Tensor index = Tensor::from_vector(idx, {t_len});
  if (x.is_meta()) index = Tensor::from_spec({{t_len}, DType::i64, kMeta});
  return index_select(x, 0, index);
}

struct DirOut {
  Tensor y, h, c;
};

}  // namespace

// ---- Rnn ----
Rnn::Rnn(RnnOptions options) : options_(options) {
  const char* layer = options.cell == CellType::lstm ? "LSTM" : "GRU";
  check_sizes(layer, options.input_size, options.hidden_size);
  if (options.num_layers < 1) fail(layer, ": num_layers must be >= 1, got ", options.num_layers);
  if (options.fused && options.cell != CellType::lstm) fail("GRU: fused is available for LSTM only");
  const int64_t gates = options.cell == CellType::lstm ? 4 : 3, h = options.hidden_size;
  const int64_t dirs = options.bidirectional ? 2 : 1;
  for (int64_t l = 0; l < options.num_layers; ++l) {
    const int64_t in = l == 0 ? options.input_size : dirs * h;
    for (int64_t d = 0; d < dirs; ++d) {
      const std::string sfx = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
      register_parameter("weight_ih" + sfx, make_param({gates * h, in}, h));
      register_parameter("weight_hh" + sfx, make_param({gates * h, h}, h));
      if (options.bias) {
        register_parameter("bias_ih" + sfx, make_param({gates * h}, h));
        register_parameter("bias_hh" + sfx, make_param({gates * h}, h));
      }
    }
  }
}

std::string Rnn::type_name() const { return options_.cell == CellType::lstm ? "LSTM" : "GRU"; }

Tensor Rnn::forward(const Tensor& x) { return run_unscoped(x, {}, {}, {}).y; }

RnnOutput Rnn::run(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& lengths) {
  if (name().empty()) return run_unscoped(x, h0, c0, lengths);
  ModuleScope scope(name());
  return run_unscoped(x, h0, c0, lengths);
}

RnnOutput Rnn::run_unscoped(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& lengths) {
  const RnnOptions& o = options_;
  const bool lstm = o.cell == CellType::lstm;
  const std::string layer = type_name();
  if (!x.defined() || x.dim() != 3)
    fail(layer, ": input must be (T, N, input_size), got ", x.defined() ? shape_str(x.shape()) : "undefined");
  if (x.size(2) != o.input_size)
    fail(layer, ": input has ", x.size(2), " features, expected input_size ", o.input_size);
  if (x.size(0) < 1) fail(layer, ": input ", shape_str(x.shape()), " has no time steps");
  const int64_t t_len = x.size(0), n = x.size(1), h = o.hidden_size, dirs = o.bidirectional ? 2 : 1;
  const Shape state_shape{o.num_layers * dirs, n, h};
  auto check_state = [&](const Tensor& s, const char* what) {
    if (s.defined() && s.shape() != state_shape)
      fail(layer, ": ", what, " must be ", shape_str(state_shape), ", got ", shape_str(s.shape()));
  };
  check_state(h0, "h0");
  check_state(c0, "c0");
  if (c0.defined() && !lstm) fail("GRU: has no cell state; c0 must be undefined");
  const std::vector<Tensor> masks = step_masks(lengths, x);
  const bool fused = o.fused && lstm && masks.empty();  // variable lengths run as cells

  // Parameters in registration order: per layer and direction w_ih, w_hh[, b_ih, b_hh].
  const std::vector<Tensor> params = parameters();
  const size_t per = o.bias ? 4 : 2;
  const Tensor zero_state = Tensor::zeros({n, h}, x.dtype(), x.device());
  // Per-(layer, direction) states and per-step inputs come from one split each: its gradient is one
  // concat, where a slice per piece would pad every piece's gradient to the full size and add them.
  const std::vector<Tensor> h0s = h0.defined() ? unbind(h0, 0) : std::vector<Tensor>{};
  const std::vector<Tensor> c0s = c0.defined() ? unbind(c0, 0) : std::vector<Tensor>{};
  auto initial = [&](const std::vector<Tensor>& s, int64_t k) {
    return s.empty() ? zero_state : s[static_cast<size_t>(k)];
  };

  Tensor input = x;
  std::vector<Tensor> h_final, c_final;
  for (int64_t l = 0; l < o.num_layers; ++l) {
    std::vector<Tensor> ys;
    for (int64_t d = 0; d < dirs; ++d) {
      const int64_t k = l * dirs + d;
      const Tensor* p = &params[static_cast<size_t>(k) * per];
      const Tensor b_ih = o.bias ? p[2] : Tensor(), b_hh = o.bias ? p[3] : Tensor();
      DirOut out;
      if (fused) {
        std::vector<Tensor> in{d == 1 ? reverse_time(input) : input, initial(h0s, k), initial(c0s, k), p[0], p[1]};
        if (o.bias) {
          in.push_back(b_ih);
          in.push_back(b_hh);
        }
        std::vector<Tensor> r = dispatch(op_def("lstm_layer"), in, NoAttrs{});
        out = {d == 1 ? reverse_time(r[0]) : r[0], r[1], r[2]};
      } else {
        Tensor hs = initial(h0s, k), cs = lstm ? initial(c0s, k) : Tensor();
        std::vector<Tensor> steps(static_cast<size_t>(t_len));
        const std::vector<Tensor> xs = unbind(input, 0);
        for (int64_t i = 0; i < t_len; ++i) {
          const int64_t t = d == 1 ? t_len - 1 - i : i;  // the reverse direction starts at its last valid step
          const Tensor& xt = xs[static_cast<size_t>(t)];
          Tensor hn;
          if (lstm) {
            const LstmState s = lstm_cell(xt, {hs, cs}, p[0], p[1], b_ih, b_hh);
            hn = s.h;
            cs = keep(masks, t, s.c, cs);
          } else {
            hn = gru_cell(xt, hs, p[0], p[1], b_ih, b_hh);
          }
          hs = keep(masks, t, hn, hs);
          steps[static_cast<size_t>(t)] = masks.empty() ? hn : where(masks[t], hn, Tensor::zeros({}, hn.dtype(), hn.device()));
        }
        out = {stack_steps(steps), hs, cs};
      }
      ys.push_back(out.y);
      h_final.push_back(unsqueeze(out.h, 0));
      if (lstm) c_final.push_back(unsqueeze(out.c, 0));
    }
    input = dirs == 1 ? ys[0] : concat(ys, 2);
  }
  RnnOutput result;
  result.y = input;
  result.h = concat(h_final, 0);
  if (lstm) result.c = concat(c_final, 0);
  return result;
}

// ---- cells ----
LstmCell::LstmCell(int64_t input_size, int64_t hidden_size, bool bias) : hidden_size_(hidden_size) {
  check_sizes("LSTMCell", input_size, hidden_size);
  register_parameter("weight_ih", make_param({4 * hidden_size, input_size}, hidden_size));
  register_parameter("weight_hh", make_param({4 * hidden_size, hidden_size}, hidden_size));
  if (bias) {
    register_parameter("bias_ih", make_param({4 * hidden_size}, hidden_size));
    register_parameter("bias_hh", make_param({4 * hidden_size}, hidden_size));
  }
}

LstmState LstmCell::step(const Tensor& x, const LstmState& state) {
  if (name().empty()) return step_unscoped(x, state);
  ModuleScope scope(name());
  return step_unscoped(x, state);
}

LstmState LstmCell::step_unscoped(const Tensor& x, const LstmState& state) {
  if (!x.defined() || x.dim() != 2) fail("LSTMCell: input must be (N, input_size)");
  const std::vector<Tensor> p = parameters();
  const Tensor zero = Tensor::zeros({x.size(0), hidden_size_}, x.dtype(), x.device());
  const LstmState s{state.h.defined() ? state.h : zero, state.c.defined() ? state.c : zero};
  return lstm_cell(x, s, p[0], p[1], p.size() > 2 ? p[2] : Tensor(), p.size() > 2 ? p[3] : Tensor());
}

Tensor LstmCell::forward(const Tensor& x) { return step_unscoped(x, {}).h; }

GruCell::GruCell(int64_t input_size, int64_t hidden_size, bool bias) : hidden_size_(hidden_size) {
  check_sizes("GRUCell", input_size, hidden_size);
  register_parameter("weight_ih", make_param({3 * hidden_size, input_size}, hidden_size));
  register_parameter("weight_hh", make_param({3 * hidden_size, hidden_size}, hidden_size));
  if (bias) {
    register_parameter("bias_ih", make_param({3 * hidden_size}, hidden_size));
    register_parameter("bias_hh", make_param({3 * hidden_size}, hidden_size));
  }
}

Tensor GruCell::step(const Tensor& x, const Tensor& h) {
  if (name().empty()) return step_unscoped(x, h);
  ModuleScope scope(name());
  return step_unscoped(x, h);
}

Tensor GruCell::step_unscoped(const Tensor& x, const Tensor& h) {
  if (!x.defined() || x.dim() != 2) fail("GRUCell: input must be (N, input_size)");
  const std::vector<Tensor> p = parameters();
  const Tensor hs = h.defined() ? h : Tensor::zeros({x.size(0), hidden_size_}, x.dtype(), x.device());
  return gru_cell(x, hs, p[0], p[1], p.size() > 2 ? p[2] : Tensor(), p.size() > 2 ? p[3] : Tensor());
}

Tensor GruCell::forward(const Tensor& x) { return step_unscoped(x, Tensor()); }

}  // namespace plumb::nn
