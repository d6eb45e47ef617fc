// Conformance cases for the recurrent composites: lstm_cell, gru_cell and lstm_layer (the unrolled
// cells; in f32 the fused oneDNN kernel and its vjp are checked against them by the harness).
#include "harness.h"

namespace plumb::testing {

namespace {

constexpr double kF = 4;  // f32 bytes

// Brute-force count of the decompositions' primitives at f32: loops over every element touched.
struct Tally {
  double flops = 0, read = 0, written = 0;
  void touch(double& what, int64_t elements) {
    for (int64_t e = 0; e < elements; ++e) what += kF;
  }
  // (M, K) x (K, N): 2 FLOPs per multiply-add.
  void matmul(int64_t m, int64_t k, int64_t n) {
    touch(read, m * k);
    touch(read, k * n);
    for (int64_t i = 0; i < m * n; ++i)
      for (int64_t p = 0; p < k; ++p) flops += 2;
    touch(written, m * n);
  }
  // One FLOP per output element; inputs read at their own sizes.
  void elementwise(std::initializer_list<int64_t> inputs, int64_t out) {
    for (int64_t in : inputs) touch(read, in);
    for (int64_t i = 0; i < out; ++i) flops += 1;
    touch(written, out);
  }
  // linear(x (N, K), w (G, K)[, b (G)]): a matmul with the transposed (view) weight, then the bias.
  void linear(int64_t n, int64_t k, int64_t g, bool bias) {
    matmul(n, k, g);
    if (bias) elementwise({n * g, g}, n * g);
  }
  void lstm_cell(int64_t n, int64_t i, int64_t h, bool bias) {
    linear(n, i, 4 * h, bias);
    linear(n, h, 4 * h, bias);
    elementwise({4 * n * h, 4 * n * h}, 4 * n * h);  // gates
    elementwise({2 * n * h}, 2 * n * h);              // sigmoid(i, f)
    elementwise({n * h}, n * h);                      // tanh(g)
    elementwise({n * h}, n * h);                      // sigmoid(o)
    for (int k = 0; k < 3; ++k) elementwise({n * h, n * h}, n * h);  // f c, i g, their sum
    elementwise({n * h}, n * h);                      // tanh(c')
    elementwise({n * h, n * h}, n * h);               // o tanh(c')
  }
  void gru_cell(int64_t n, int64_t i, int64_t h, bool bias) {
    linear(n, i, 3 * h, bias);
    linear(n, h, 3 * h, bias);
    elementwise({2 * n * h, 2 * n * h}, 2 * n * h);  // r, z pre-activations
    elementwise({2 * n * h}, 2 * n * h);             // sigmoid
    elementwise({n * h, n * h}, n * h);              // r gh_n
    elementwise({n * h, n * h}, n * h);              // + gi_n
    elementwise({n * h}, n * h);                     // tanh
    for (int k = 0; k < 3; ++k) elementwise({n * h, n * h}, n * h);  // h - n, z (h - n), n + ...
  }
  Cost cost() const { return cost_of(flops, read, written); }
};

// x (N, I), state (N, H), weights for `gates` gates; biases when `bias`. Seeds keep inputs distinct.
std::vector<Tensor> cell_inputs(int64_t n, int64_t i, int64_t h, int64_t gates, bool bias, bool lstm) {
  std::vector<Tensor> in{rand_f64({n, i}, 1), rand_f64({n, h}, 2)};
  if (lstm) in.push_back(rand_f64({n, h}, 3));
  in.push_back(rand_f64({gates * h, i}, 4, -0.8, 0.8));
  in.push_back(rand_f64({gates * h, h}, 5, -0.8, 0.8));
  if (bias) {
    in.push_back(rand_f64({gates * h}, 6, -0.5, 0.5));
    in.push_back(rand_f64({gates * h}, 7, -0.5, 0.5));
  }
  return in;
}

OpCase cell_case(std::string label, int64_t n, int64_t i, int64_t h, bool bias, bool lstm) {
  OpCase c;
  c.label = std::move(label);
  c.inputs = cell_inputs(n, i, h, lstm ? 4 : 3, bias, lstm);
  Tally t;
  if (lstm) {
    t.lstm_cell(n, i, h, bias);
  } else {
    t.gru_cell(n, i, h, bias);
  }
  c.expected_cost = t.cost();
  return c;
}

// x (T, N, I), h0, c0 (N, H), LSTM weights.
OpCase layer_case(std::string label, int64_t t, int64_t n, int64_t i, int64_t h, bool bias) {
  OpCase c;
  c.label = std::move(label);
  c.inputs = cell_inputs(n, i, h, 4, bias, true);
  c.inputs[0] = rand_f64({t, n, i}, 11);
  Tally tally;
  for (int64_t s = 0; s < t; ++s) tally.lstm_cell(n, i, h, bias);
  tally.touch(tally.read, t * n * h);  // concat of the steps' h into y: a copy, no FLOPs
  tally.touch(tally.written, t * n * h);
  c.expected_cost = tally.cost();
  return c;
}

}  // namespace

PLUMB_OP_CASES(lstm_cell) {
  return {
      cell_case("with biases", 2, 3, 4, true, true),
      cell_case("no biases", 3, 2, 3, false, true),
      cell_case("batch 1, hidden 1", 1, 2, 1, true, true),
  };
}

PLUMB_OP_CASES(gru_cell) {
  return {
      cell_case("with biases", 2, 3, 4, true, false),
      cell_case("no biases", 3, 2, 3, false, false),
      cell_case("batch 1, hidden 1", 1, 2, 1, true, false),
  };
}

PLUMB_OP_CASES(lstm_layer) {
  return {
      layer_case("3 steps with biases", 3, 2, 3, 4, true),
      layer_case("2 steps no biases", 2, 3, 2, 3, false),
      layer_case("1 step", 1, 1, 2, 2, true),
  };
}

// The gradients of lstm_layer: (gy, ghT, gcT, lstm_layer's inputs). Not differentiable itself.
OpCase layer_backward_case(std::string label, int64_t t, int64_t n, int64_t i, int64_t h, bool bias) {
  OpCase c = layer_case(std::move(label), t, n, i, h, bias);
  c.inputs.insert(c.inputs.begin(), {rand_f64({t, n, h}, 21), rand_f64({n, h}, 22), rand_f64({n, h}, 23)});
  c.expected_cost.reset();  // its cost is its decomposition's: the recomputed forward plus every vjp primitive
  return c;
}

PLUMB_OP_CASES(lstm_layer_backward) {
  return {
      layer_backward_case("3 steps with biases", 3, 2, 3, 4, true),
      layer_backward_case("2 steps no biases", 2, 3, 2, 3, false),
  };
}

}  // namespace plumb::testing
