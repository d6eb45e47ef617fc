#pragma once
// Recurrent layers over (T, N, I) sequences, built from the lstm_cell / gru_cell composites so the
// profiler sees every matmul and gate; a fused oneDNN LSTM stands in for the unrolled cells when
// asked and must agree with them.
#include <cstdint>
#include <string>

#include "plumb/nn/module.h"
#include "plumb/ops.h"

namespace plumb::nn {

enum class CellType : uint8_t { lstm, gru };

struct RnnOptions {
  CellType cell = CellType::lstm;
  int64_t input_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 1;
  bool bidirectional = false;
  bool bias = true;
  // LSTM only: run each layer as one fused op (oneDNN on CPU in f32) instead of unrolled cells; a batch
  // with variable lengths runs as cells (same results). See docs/rnn.md.
  bool fused = false;
};

struct RnnOutput {
  Tensor y;     // (T, N, D*H), D = 2 when bidirectional; zero past each sequence's length
  Tensor h, c;  // final states (L*D, N, H) as PyTorch orders them; c undefined for GRU
};

// Parameters are named as PyTorch's nn.LSTM / nn.GRU ("weight_ih_l0", "weight_hh_l0_reverse",
// "bias_ih_l1", ...) and initialized U(-1/sqrt(H), 1/sqrt(H)), so state dicts can be compared.
class Rnn : public Module {
 public:
  explicit Rnn(RnnOptions options);
  Tensor forward(const Tensor& x) override;  // x: (T, N, I) -> y
  // h0 / c0: (L*D, N, H) or undefined (zeros). lengths: (N) i64 on CPU or undefined (all T); a
  // shorter sequence stops updating its state at its length and the reverse direction starts there.
  // Like operator(), run() puts this module on the profiler's module path.
  RnnOutput run(const Tensor& x, const Tensor& h0 = {}, const Tensor& c0 = {}, const Tensor& lengths = {});
  const RnnOptions& options() const { return options_; }
  std::string type_name() const override;  // "LSTM" or "GRU"

 private:
  RnnOutput run_unscoped(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& lengths);
  RnnOptions options_;
};

// One cell with its own parameters ("weight_ih", "weight_hh", "bias_ih", "bias_hh"), for decoders
// that feed each step's output back (attention feeding).
class LstmCell : public Module {
 public:
  LstmCell(int64_t input_size, int64_t hidden_size, bool bias = true);
  Tensor forward(const Tensor& x) override;  // x: (N, I) -> h, from zero state
  LstmState step(const Tensor& x, const LstmState& state);  // on the module path, like operator()
  int64_t hidden_size() const { return hidden_size_; }
  std::string type_name() const override { return "LSTMCell"; }

 private:
  LstmState step_unscoped(const Tensor& x, const LstmState& state);
  int64_t hidden_size_;
};

class GruCell : public Module {
 public:
  GruCell(int64_t input_size, int64_t hidden_size, bool bias = true);
  Tensor forward(const Tensor& x) override;  // x: (N, I) -> h, from zero state
  Tensor step(const Tensor& x, const Tensor& h);  // on the module path, like operator()
  int64_t hidden_size() const { return hidden_size_; }
  std::string type_name() const override { return "GRUCell"; }

 private:
  Tensor step_unscoped(const Tensor& x, const Tensor& h);
  int64_t hidden_size_;
};

}  // namespace plumb::nn
