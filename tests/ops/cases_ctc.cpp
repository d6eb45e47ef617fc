// Conformance cases for ctc_loss and ctc_loss_backward, plus direct tests: the loss against a brute-force
// sum over every alignment, value checks that infer cannot do, and greedy decoding.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "harness.h"
#include "ops/defs/ctc.h"
#include "plumb/autograd.h"
#include "test_util.h"

namespace plumb::testing {

namespace {

CtcAttrs ctc_attrs(int64_t blank, std::string reduction, bool zero_infinity = false) {
  CtcAttrs a;
  a.blank = blank;
  a.reduction = std::move(reduction);
  a.zero_infinity = zero_infinity;
  return a;
}

double elem_bytes(const Tensor& t) { return is_floating(t.dtype()) ? 4.0 : static_cast<double>(dtype_size(t.dtype())); }

// The label bound the cost model uses: S for padded targets, ceil(numel / N) for concatenated ones.
int64_t label_bound(const Tensor& targets, int64_t n) {
  return targets.dim() == 2 ? targets.size(1) : (targets.numel() + n - 1) / n;
}

// Brute force: every input element read once, every output element written once; one lattice cell per
// (t, n, s) with s over 2S+1 extended labels, 12 FLOPs each (docs/sequence_ops.md).
Cost counted(const std::vector<Tensor>& inputs, const Shape& out_shape, bool backward, const std::string& reduction) {
  const Tensor& lp = inputs[0];
  const int64_t T = lp.size(0), N = lp.size(1), C = lp.size(2), S = label_bound(inputs[1], N);
  double flops = 0, read = 0, written = 0;
  for (const Tensor& t : inputs)
    for (int64_t i = 0; i < t.numel(); ++i) read += elem_bytes(t);
  for (int64_t i = 0; i < numel(out_shape); ++i) written += 4;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < 2 * S + 1; ++s) flops += backward ? 12 + 12 + 4 : 12;
  if (backward) {
    for (int64_t i = 0; i < T * N * C; ++i) flops += 4;
  } else if (reduction == "sum") {
    for (int64_t n = 1; n < N; ++n) flops += 1;
  } else if (reduction == "mean") {
    for (int64_t n = 0; n < N; ++n) flops += 2;
  }
  return cost_of(flops, read, written);
}

// Unnormalized scores are fine: the loss and its gradient are defined for any log_probs.
Tensor scores(Shape shape, uint64_t seed) { return rand_f64(std::move(shape), seed, -2.5, -0.1); }

OpCase loss_case(std::string label, std::vector<Tensor> inputs, CtcAttrs a) {
  OpCase c;
  c.label = std::move(label);
  const int64_t n = inputs[0].size(1);
  c.expected_cost = counted(inputs, a.reduction == "none" ? Shape{n} : Shape{}, false, a.reduction);
  c.inputs = std::move(inputs);
  c.attrs = attrs(std::move(a));
  c.grad_inputs = {0};
  return c;
}

OpCase backward_case(std::string label, std::vector<Tensor> inputs, CtcAttrs a, uint64_t seed) {
  const int64_t n = inputs[0].size(1);
  inputs.push_back(rand_f64(a.reduction == "none" ? Shape{n} : Shape{}, seed, 0.5, 1.5));
  OpCase c;
  c.label = std::move(label);
  c.expected_cost = counted(inputs, inputs[0].shape(), true, a.reduction);
  c.inputs = std::move(inputs);
  c.attrs = attrs(std::move(a));
  c.check_grad = false;
  return c;
}

// (T, N, C, padded S) = (6, 3, 5, 3): lengths vary, item 0 repeats a label (needs a blank between).
std::vector<Tensor> padded_inputs() {
  return {scores({6, 3, 5}, 11), index_tensor({2, 2, 3, 1, 4, -1, 3, 0, 0}, {3, 3}), index_tensor({6, 5, 3}, {3}),
          index_tensor({3, 2, 1}, {3})};
}
// Concatenated targets, blank = 2: labels never use 2.
std::vector<Tensor> concat_inputs() {
  return {scores({5, 2, 4}, 12), index_tensor({1, 3, 3, 0}, {4}), index_tensor({5, 4}, {2}), index_tensor({2, 2}, {2})};
}
// Item 1 has an empty target; item 2's repeated labels need 5 frames but it has 3 (impossible).
std::vector<Tensor> edge_inputs() {
  return {scores({4, 3, 3}, 13), index_tensor({1, 2, 1, 1, 1}, {5}), index_tensor({4, 2, 3}, {3}),
          index_tensor({2, 0, 3}, {3})};
}

// The same inputs with i32 targets and lengths.
std::vector<Tensor> as_i32(std::vector<Tensor> in) {
  for (size_t i = 1; i < in.size(); ++i) {
    std::vector<int32_t> v;
    for (int64_t x : in[i].to_vector<int64_t>()) v.push_back(static_cast<int32_t>(x));
    in[i] = Tensor::from_vector(v, in[i].shape());
  }
  return in;
}

}  // namespace

PLUMB_OP_CASES(ctc_loss) {
  return {
      loss_case("padded, mean", padded_inputs(), ctc_attrs(0, "mean")),
      loss_case("padded, sum", padded_inputs(), ctc_attrs(0, "sum")),
      loss_case("padded, none", padded_inputs(), ctc_attrs(0, "none")),
      loss_case("concatenated, blank 2", concat_inputs(), ctc_attrs(2, "mean")),
      loss_case("i32 indices", as_i32(padded_inputs()), ctc_attrs(0, "sum")),
      loss_case("empty target, impossible item zeroed", edge_inputs(), ctc_attrs(0, "none", true)),
      loss_case("empty target, impossible item zeroed, mean", edge_inputs(), ctc_attrs(0, "mean", true)),
  };
}

PLUMB_OP_CASES(ctc_loss_backward) {
  return {
      backward_case("padded, mean", padded_inputs(), ctc_attrs(0, "mean"), 21),
      backward_case("padded, none", padded_inputs(), ctc_attrs(0, "none"), 22),
      backward_case("concatenated, blank 2, sum", concat_inputs(), ctc_attrs(2, "sum"), 23),
      backward_case("impossible item zeroed", edge_inputs(), ctc_attrs(0, "none", true), 24),
  };
}

namespace {

using test_util::error_of;
using test_util::i64;

// -log sum over every path of length T that collapses to `target` (merge repeats, drop blanks).
double brute_force_nll(const std::vector<double>& lp, int64_t T, int64_t C, const std::vector<int64_t>& target,
                       int64_t blank) {
  double total = 0;
  std::vector<int64_t> path(static_cast<size_t>(T), 0);
  std::function<void(int64_t, double)> walk = [&](int64_t t, double logp) {
    if (t == T) {
      std::vector<int64_t> out;
      int64_t prev = -1;
      for (int64_t c : path) {
        if (c != blank && c != prev) out.push_back(c);
        prev = c;
      }
      if (out == target) total += std::exp(logp);
      return;
    }
    for (int64_t c = 0; c < C; ++c) {
      path[t] = c;
      walk(t + 1, logp + lp[t * C + c]);
    }
  };
  walk(0, 0.0);
  return -std::log(total);
}

TEST(Ctc, LossMatchesBruteForceOverAlignments) {
  // Normalized frames so probabilities are meaningful; T = 5, C = 3 gives 243 paths per item.
  const int64_t T = 5, N = 4, C = 3;
  Tensor lp = log_softmax(rand_f64({T, N, C}, 5, -2, 2), 2);
  const std::vector<double> v = lp.to_vector<double>();
  const std::vector<std::vector<int64_t>> targets = {{1, 1}, {1, 2, 1}, {}, {2}};
  const std::vector<int64_t> in_len = {5, 5, 3, 4};
  for (int64_t blank : {0, 1, 2}) {
    std::vector<int64_t> flat, tl;
    std::vector<std::vector<int64_t>> used;
    for (const auto& t : targets) {
      // Relabel so no label equals the blank: the classes other than the blank, in order.
      std::vector<int64_t> r;
      for (int64_t x : t) r.push_back(x - 1 + (x - 1 >= blank ? 1 : 0));
      used.push_back(r);
      flat.insert(flat.end(), r.begin(), r.end());
      tl.push_back(static_cast<int64_t>(r.size()));
    }
    Tensor loss = ctc_loss(lp, i64(flat, {static_cast<int64_t>(flat.size())}), i64(in_len, {N}), i64(tl, {N}), blank,
                           "none");
    const std::vector<double> got = loss.to_vector<double>();
    for (int64_t n = 0; n < N; ++n) {
      std::vector<double> item;
      for (int64_t t = 0; t < in_len[n]; ++t)
        for (int64_t c = 0; c < C; ++c) item.push_back(v[(t * N + n) * C + c]);
      EXPECT_NEAR(got[n], brute_force_nll(item, in_len[n], C, used[n], blank), 1e-12) << "blank " << blank << " item " << n;
    }
  }
}

TEST(Ctc, HandComputedTwoFrames) {
  // T = 2, C = 2, target [1]: paths (b,1), (1,b), (1,1).
  const double p0b = 0.6, p01 = 0.4, p1b = 0.3, p11 = 0.7;
  Tensor lp = test_util::f64({std::log(p0b), std::log(p01), std::log(p1b), std::log(p11)}, {2, 1, 2});
  Tensor loss = ctc_loss(lp, i64({1}, {1, 1}), i64({2}, {1}), i64({1}, {1}), 0, "sum");
  EXPECT_NEAR(loss.item(), -std::log(p0b * p11 + p01 * p1b + p01 * p11), 1e-14);
}

TEST(Ctc, ReductionsAndZeroInfinity) {
  std::vector<Tensor> in = edge_inputs();
  Tensor none = ctc_loss(in[0], in[1], in[2], in[3], 0, "none");
  const std::vector<double> v = none.to_vector<double>();
  EXPECT_TRUE(std::isinf(v[2]) && v[2] > 0) << "repeated labels 1,1,1 need 5 frames, item has 3";
  Tensor zeroed = ctc_loss(in[0], in[1], in[2], in[3], 0, "none", true);
  EXPECT_EQ(zeroed.to_vector<double>()[2], 0.0);
  EXPECT_EQ(zeroed.to_vector<double>()[0], v[0]);
  // mean: each loss over its target length clamped to >= 1, then the batch mean.
  Tensor mean = ctc_loss(in[0], in[1], in[2], in[3], 0, "mean", true);
  EXPECT_NEAR(mean.item(), (v[0] / 2 + v[1] / 1 + 0.0 / 3) / 3, 1e-12);
  Tensor sum = ctc_loss(in[0], in[1], in[2], in[3], 0, "sum", true);
  EXPECT_NEAR(sum.item(), v[0] + v[1], 1e-12);
}

TEST(Ctc, GradientOfImpossibleItemIsNanUnlessZeroed) {
  std::vector<Tensor> in = edge_inputs();
  for (bool zero : {false, true}) {
    Tensor lp = in[0].detach();
    lp.set_requires_grad(true);
    Tensor loss = ctc_loss(lp, in[1], in[2], in[3], 0, "sum", zero);
    const std::vector<double> g = grad({loss}, {lp}, {Tensor::scalar(1.0, DType::f64)})[0].to_vector<double>();
    // item 2 (n = 2) over its 3 frames
    for (int64_t t = 0; t < 3; ++t)
      for (int64_t c = 0; c < 3; ++c) {
        const double x = g[(t * 3 + 2) * 3 + c];
        if (zero) EXPECT_EQ(x, 0.0);
        else EXPECT_TRUE(std::isnan(x));
      }
    // item 0 stays finite either way
    EXPECT_TRUE(std::isfinite(g[0]));
  }
}

TEST(Ctc, ValuesInferCannotSeeAreCheckedWithOneError) {
  Tensor lp = rand_f64({4, 2, 3}, 1, -2, -0.1);
  auto call = [&](std::vector<int64_t> tg, Shape ts, std::vector<int64_t> il, std::vector<int64_t> tl) {
    return error_of([&] { ctc_loss(lp, i64(tg, ts), i64(il, {2}), i64(tl, {2})); });
  };
  EXPECT_EQ(call({1, 2, 1, 0}, {2, 2}, {4, 4}, {2, 1}), "");
  EXPECT_NE(call({1, 2, 1, 0}, {2, 2}, {5, 4}, {2, 1}).find("input_lengths[0] = 5 is outside [0, T] with T = 4"),
            std::string::npos);
  EXPECT_NE(call({1, 3, 1, 0}, {2, 2}, {4, 4}, {2, 1}).find("target label 3 (item 0, position 1) is out of range [0, 3)"),
            std::string::npos);
  EXPECT_NE(call({1, 0, 1, 0}, {2, 2}, {4, 4}, {2, 1}).find("is the blank index"), std::string::npos);
  EXPECT_NE(call({1, 2, 1, 0}, {2, 2}, {4, 4}, {3, 1}).find("target_lengths[0] = 3 exceeds the padded target length S = 2"),
            std::string::npos);
  EXPECT_NE(call({1, 2, 1}, {3}, {4, 4}, {2, 2}).find("concatenated targets hold 3 labels"), std::string::npos);
  EXPECT_NE(call({1, 2, 1, 0}, {2, 2}, {4, -1}, {2, 1}).find("input_lengths[1] = -1"), std::string::npos);
  // Padding past a target's length is never read, whatever it holds.
  EXPECT_EQ(call({1, 2, 1, -7}, {2, 2}, {4, 4}, {2, 1}), "");
}

TEST(Ctc, InferRejectsBadShapesAndAttributes) {
  Tensor lp = rand_f64({4, 2, 3}, 1, -2, -0.1);
  Tensor tg = i64({1, 2, 1, 0}, {2, 2}), il = i64({4, 4}, {2}), tl = i64({2, 1}, {2});
  EXPECT_NE(error_of([&] { ctc_loss(lp, tg, il, tl, 3); }).find("blank 3 is out of range [0, 3)"), std::string::npos);
  EXPECT_NE(error_of([&] { ctc_loss(lp, tg, il, tl, 0, "avg"); }).find("unknown reduction 'avg'"), std::string::npos);
  EXPECT_NE(error_of([&] { ctc_loss(rand_f64({4, 3}, 1), tg, il, tl); }).find("log_probs must be (T, N, C)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ctc_loss(lp, i64({1, 2, 1}, {3, 1}), il, tl); }).find("must have N = 2 rows"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ctc_loss(lp, tg, i64({4}, {1}), tl); }).find("input_lengths must be (2)"), std::string::npos);
  EXPECT_NE(error_of([&] { ctc_loss(lp, cast(tg, DType::f64), il, tl); }).find("targets must be an integer index"),
            std::string::npos);
  // Shapes only: on meta nothing is read.
  Tensor meta = ctc_loss(Tensor::from_spec({{50, 8, 29}, DType::f32, kMeta}),
                         Tensor::from_spec({{8, 12}, DType::i64, kMeta}), Tensor::from_spec({{8}, DType::i64, kMeta}),
                         Tensor::from_spec({{8}, DType::i64, kMeta}), 28, "none");
  EXPECT_EQ(meta.shape(), (Shape{8}));
  EXPECT_TRUE(meta.is_meta());
}

TEST(Ctc, GreedyDecodeMergesRepeatsAndDropsBlanks) {
  // Frames' argmax per item: item 0: 1 1 0 1 2 2 (-> 1 1 2), item 1 (length 4): 0 2 2 0 (-> 2), blank 0.
  const int64_t T = 6, N = 2, C = 3;
  const std::vector<std::vector<int64_t>> best = {{1, 1, 0, 1, 2, 2}, {0, 2, 2, 0, 1, 1}};
  std::vector<double> v(T * N * C, -3.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = 0; t < T; ++t) v[(t * N + n) * C + best[n][t]] = -0.1;
  Tensor lp = test_util::f64(v, {T, N, C});
  const auto out = ctc_greedy_decode(lp, i64({6, 4}, {2}));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], (std::vector<int64_t>{1, 1, 2}));
  EXPECT_EQ(out[1], (std::vector<int64_t>{2}));
  // Blank 2: the same frames decode with 0 as a label and 2 dropped.
  const auto out2 = ctc_greedy_decode(test_util::to_f32(lp), i64({6, 6}, {2}), 2);
  EXPECT_EQ(out2[0], (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(out2[1], (std::vector<int64_t>{0, 0, 1}));
  EXPECT_NE(error_of([&] { ctc_greedy_decode(lp, i64({7, 4}, {2})); }).find("input_lengths[0] = 7 is outside [0, 6]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { ctc_greedy_decode(lp, i64({6, 4}, {2}), 3); }).find("blank 3 is out of range"),
            std::string::npos);
  EXPECT_TRUE(ctc_greedy_decode(lp, i64({0, 0}, {2}))[0].empty());
}

}  // namespace
}  // namespace plumb::testing
