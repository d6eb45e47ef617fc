// Conformance cases for the optimizer updates. Costs are counted by brute force: every element walks
// through the update's formula and counts each multiply, add, divide and sqrt it performs (a
// multiply-add is two of them); every input element is read and every output element written once,
// at 4 bytes (f32).
#include "harness.h"

namespace plumb::testing {
namespace {

OptimAttrs optim(double lr, double momentum = 0, double weight_decay = 0, bool nesterov = false) {
  OptimAttrs a;
  a.lr = lr;
  a.momentum = momentum;
  a.weight_decay = weight_decay;
  a.nesterov = nesterov;
  return a;
}

// Bytes for n_in inputs and n_out outputs of `elems` f32 elements each, one element at a time.
Cost count_bytes(int64_t elems, int n_in, int n_out, double flops) {
  double read = 0, written = 0;
  for (int64_t e = 0; e < elems; ++e) {
    for (int i = 0; i < n_in; ++i) read += 4;
    for (int o = 0; o < n_out; ++o) written += 4;
  }
  return cost_of(flops, read, written);
}

OpCase make_case(std::string label, std::vector<Tensor> inputs, const OptimAttrs& a, double flops, int n_out) {
  OpCase c;
  c.label = std::move(label);
  const int64_t elems = inputs[0].numel();
  c.expected_cost = count_bytes(elems, static_cast<int>(inputs.size()), n_out, flops);
  c.inputs = std::move(inputs);
  c.attrs = attrs(a);
  c.check_grad = false;
  return c;
}

double sgd_count(int64_t elems, const OptimAttrs& a, bool has_buf) {
  double f = 0;
  for (int64_t e = 0; e < elems; ++e) {
    if (a.weight_decay != 0) f += 2;     // g = grad + wd * p: mul, add
    if (has_buf) f += 2;                 // buf = momentum * buf + g: mul, add
    if (has_buf && a.nesterov) f += 2;   // g = g + momentum * buf: mul, add
    f += 2;                              // p = p - lr * g: mul, sub
  }
  return f;
}

double adam_count(int64_t elems, const OptimAttrs& a) {
  double f = 0;
  for (int64_t e = 0; e < elems; ++e) {
    if (a.weight_decay != 0) f += a.decoupled_weight_decay ? 1 : 2;  // p *= 1 - lr*wd  |  g += wd * p
    f += 1 + 1 + 1;      // m = b1 * m + (1 - b1) * g: mul, mul, add
    f += 1 + 1 + 1 + 1;  // v = b2 * v + (1 - b2) * (g * g): mul, mul, mul, add
    f += 1 + 1 + 1;      // denom = sqrt(v) / sqrt(bc2) + eps: sqrt, div, add
    f += 1 + 1 + 1;      // p = p - step_size * (m / denom): div, mul, sub
  }
  return f;
}

double rmsprop_count(int64_t elems, const OptimAttrs& a, bool has_buf) {
  double f = 0;
  for (int64_t e = 0; e < elems; ++e) {
    if (a.weight_decay != 0) f += 2;  // g = grad + wd * p
    f += 1 + 1 + 1 + 1;               // s = alpha * s + (1 - alpha) * (g * g)
    f += 1 + 1;                       // avg = sqrt(s) + eps
    if (has_buf) f += 1 + 1 + 1 + 2;  // buf = momentum * buf + g / avg; p = p - lr * buf
    else f += 1 + 2;                  // p = p - lr * (g / avg)
  }
  return f;
}

double adagrad_count(int64_t elems, const OptimAttrs& a) {
  double f = 0;
  for (int64_t e = 0; e < elems; ++e) {
    if (a.weight_decay != 0) f += 2;  // g = grad + wd * p
    f += 1 + 1;                       // sum = sum + g * g
    f += 1 + 1;                       // std = sqrt(sum) + eps
    f += 1 + 1 + 1;                   // p = p - lr * (g / std)
  }
  return f;
}

OpCase sgd_case(std::string label, Shape shape, OptimAttrs a, uint64_t seed) {
  const bool has_buf = a.momentum != 0;
  std::vector<Tensor> in = {rand_f64(shape, seed), rand_f64(shape, seed + 1)};
  if (has_buf) in.push_back(rand_f64(shape, seed + 2));
  return make_case(std::move(label), std::move(in), a, sgd_count(numel(shape), a, has_buf), has_buf ? 2 : 1);
}

OpCase adam_case(std::string label, Shape shape, OptimAttrs a, uint64_t seed) {
  // v (the second moment) is non-negative.
  std::vector<Tensor> in = {rand_f64(shape, seed), rand_f64(shape, seed + 1), rand_f64(shape, seed + 2),
                            rand_f64(shape, seed + 3, 0.01, 1)};
  return make_case(std::move(label), std::move(in), a, adam_count(numel(shape), a), 3);
}

OpCase rmsprop_case(std::string label, Shape shape, OptimAttrs a, uint64_t seed) {
  const bool has_buf = a.momentum != 0;
  std::vector<Tensor> in = {rand_f64(shape, seed), rand_f64(shape, seed + 1), rand_f64(shape, seed + 2, 0.01, 1)};
  if (has_buf) in.push_back(rand_f64(shape, seed + 3));
  return make_case(std::move(label), std::move(in), a, rmsprop_count(numel(shape), a, has_buf), has_buf ? 3 : 2);
}

OpCase adagrad_case(std::string label, Shape shape, OptimAttrs a, uint64_t seed) {
  std::vector<Tensor> in = {rand_f64(shape, seed), rand_f64(shape, seed + 1), rand_f64(shape, seed + 2, 0.01, 1)};
  return make_case(std::move(label), std::move(in), a, adagrad_count(numel(shape), a), 2);
}

}  // namespace

PLUMB_OP_CASES(sgd_update) {
  return {
      sgd_case("plain", {2, 3}, optim(0.1), 10),
      sgd_case("weight decay, 0-d", {}, optim(0.1, 0, 0.01), 20),
      sgd_case("momentum", {3, 1, 2}, optim(0.05, 0.9), 30),
      sgd_case("nesterov with weight decay", {5}, optim(0.05, 0.9, 0.1, true), 40),
      sgd_case("empty", {0, 3}, optim(0.1, 0.9), 50),
  };
}

PLUMB_OP_CASES(adam_update) {
  OptimAttrs adam = optim(0.01);
  OptimAttrs l2 = optim(0.01, 0, 0.05);
  l2.step = 3;
  OptimAttrs adamw = optim(0.01, 0, 0.05);
  adamw.decoupled_weight_decay = true;
  adamw.step = 7;
  adamw.beta1 = 0.8;
  adamw.beta2 = 0.99;
  return {
      adam_case("first step", {2, 3}, adam, 100),
      adam_case("L2 weight decay, step 3", {4}, l2, 110),
      adam_case("AdamW, step 7", {2, 1, 3}, adamw, 120),
      adam_case("0-d", {}, adam, 130),
  };
}

PLUMB_OP_CASES(rmsprop_update) {
  OptimAttrs alpha = optim(0.01, 0, 0.02);
  alpha.alpha = 0.9;
  return {
      rmsprop_case("plain", {2, 3}, optim(0.01), 200),
      rmsprop_case("momentum", {3, 2}, optim(0.01, 0.9), 210),
      rmsprop_case("weight decay, alpha 0.9", {1, 5}, alpha, 220),
      rmsprop_case("0-d with momentum", {}, optim(0.02, 0.5, 0.1), 230),
  };
}

PLUMB_OP_CASES(adagrad_update) {
  return {
      adagrad_case("plain", {2, 3}, optim(0.1), 300),
      adagrad_case("weight decay", {4, 1}, optim(0.1, 0, 0.05), 310),
      adagrad_case("0-d", {}, optim(0.5), 320),
  };
}

}  // namespace plumb::testing
