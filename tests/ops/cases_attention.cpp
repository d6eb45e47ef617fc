// Conformance cases for dot_attention, additive_attention and sampled_softmax_loss, plus their forward values
// against plain loops, and the log-uniform candidate sampler.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "harness.h"
#include "test_util.h"

namespace plumb::testing {

namespace {

Tensor bool_tensor(const std::vector<double>& v, Shape s) { return test_util::of_dtype(v, std::move(s), DType::boolean); }

// Every row keeps at least one position.
Tensor attention_mask() { return bool_tensor({1, 1, 0, 1, 0, 1, 1, 0}, {2, 4}); }

OpCase attention_case(std::string label, std::vector<Tensor> inputs) {
  OpCase c;
  c.label = std::move(label);
  c.inputs = std::move(inputs);
  return c;
}

std::vector<Tensor> sampled_softmax_inputs() {
  // Row 0's target 2 and row 1's target 7 are also among the sampled classes (accidental hits).
  return {rand_f64({3, 4}, 31), rand_f64({10, 4}, 32), rand_f64({10}, 33), index_tensor({2, 7, 0}, {3}),
          index_tensor({7, 1, 4, 2}, {4}), rand_f64({3}, 34, -3, -1), rand_f64({4}, 35, -3, -1)};
}

}  // namespace

PLUMB_OP_CASES(dot_attention) {
  return {
      attention_case("no mask", {rand_f64({2, 3}, 1), rand_f64({2, 4, 3}, 2), rand_f64({2, 4, 2}, 3)}),
      attention_case("mask", {rand_f64({2, 3}, 4), rand_f64({2, 4, 3}, 5), rand_f64({2, 4, 2}, 6), attention_mask()}),
  };
}

PLUMB_OP_CASES(additive_attention) {
  return {
      attention_case("no mask", {rand_f64({2, 3}, 7), rand_f64({2, 4, 5}, 8), rand_f64({2, 4, 2}, 9), rand_f64({6, 3}, 10),
                                 rand_f64({6, 5}, 11), rand_f64({6}, 12)}),
      attention_case("mask", {rand_f64({2, 3}, 13), rand_f64({2, 4, 5}, 14), rand_f64({2, 4, 2}, 15),
                              rand_f64({6, 3}, 16), rand_f64({6, 5}, 17), rand_f64({6}, 18), attention_mask()}),
  };
}

PLUMB_OP_CASES(sampled_softmax_loss) {
  OpCase c = attention_case("accidental hits", sampled_softmax_inputs());
  OpCase i32 = attention_case("i32 target", sampled_softmax_inputs());
  i32.inputs[3] = Tensor::from_vector(std::vector<int32_t>{5, 1, 9}, {3});
  return {c, i32};
}

namespace {

using test_util::error_of;

// (N, T) scores -> weights and context by plain loops; mask entry 0 excludes a position.
void attend_by_hand(const std::vector<double>& scores, const std::vector<double>& mask, const std::vector<double>& v,
                    int64_t N, int64_t T, int64_t Dv, std::vector<double>& w, std::vector<double>& ctx) {
  w.assign(N * T, 0);
  ctx.assign(N * Dv, 0);
  for (int64_t n = 0; n < N; ++n) {
    double m = -INFINITY, z = 0;
    for (int64_t t = 0; t < T; ++t)
      if (mask.empty() || mask[n * T + t] != 0) m = std::max(m, scores[n * T + t]);
    for (int64_t t = 0; t < T; ++t)
      if (mask.empty() || mask[n * T + t] != 0) z += std::exp(scores[n * T + t] - m);
    for (int64_t t = 0; t < T; ++t) {
      w[n * T + t] = (mask.empty() || mask[n * T + t] != 0) ? std::exp(scores[n * T + t] - m) / z : 0;
      for (int64_t d = 0; d < Dv; ++d) ctx[n * Dv + d] += w[n * T + t] * v[(n * T + t) * Dv + d];
    }
  }
}

void expect_all_near(const Tensor& got, const std::vector<double>& want, double tol, const char* what) {
  const std::vector<double> g = got.to_vector<double>();
  ASSERT_EQ(g.size(), want.size()) << what;
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], tol) << what << " element " << i;
}

TEST(Attention, DotMatchesLoops) {
  const int64_t N = 2, T = 4, D = 3, Dv = 2;
  Tensor q = rand_f64({N, D}, 1), k = rand_f64({N, T, D}, 2), v = rand_f64({N, T, Dv}, 3), mask = attention_mask();
  const auto qv = q.to_vector<double>(), kv = k.to_vector<double>(), vv = v.to_vector<double>(),
             mv = mask.to_vector<double>();
  std::vector<double> scores(N * T, 0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t d = 0; d < D; ++d) scores[n * T + t] += qv[n * D + d] * kv[(n * T + t) * D + d];
  for (bool masked : {false, true}) {
    std::vector<double> w, ctx;
    attend_by_hand(scores, masked ? mv : std::vector<double>{}, vv, N, T, Dv, w, ctx);
    AttentionResult r = dot_attention(q, k, v, masked ? mask : Tensor{});
    expect_all_near(r.weights, w, 1e-12, "weights");
    expect_all_near(r.context, ctx, 1e-12, "context");
  }
  EXPECT_EQ(dot_attention(test_util::to_f32(q), test_util::to_f32(k), test_util::to_f32(v)).context.shape(),
            (Shape{N, Dv}));
}

TEST(Attention, AdditiveMatchesLoops) {
  const int64_t N = 2, T = 4, Dq = 3, Dk = 5, Dv = 2, A = 6;
  Tensor q = rand_f64({N, Dq}, 7), k = rand_f64({N, T, Dk}, 8), v = rand_f64({N, T, Dv}, 9), wq = rand_f64({A, Dq}, 10),
         wk = rand_f64({A, Dk}, 11), va = rand_f64({A}, 12), mask = attention_mask();
  const auto qv = q.to_vector<double>(), kv = k.to_vector<double>(), vv = v.to_vector<double>(),
             wqv = wq.to_vector<double>(), wkv = wk.to_vector<double>(), vav = va.to_vector<double>(),
             mv = mask.to_vector<double>();
  std::vector<double> scores(N * T, 0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t a = 0; a < A; ++a) {
        double h = 0;
        for (int64_t d = 0; d < Dq; ++d) h += wqv[a * Dq + d] * qv[n * Dq + d];
        for (int64_t d = 0; d < Dk; ++d) h += wkv[a * Dk + d] * kv[(n * T + t) * Dk + d];
        scores[n * T + t] += vav[a] * std::tanh(h);
      }
  for (bool masked : {false, true}) {
    std::vector<double> w, ctx;
    attend_by_hand(scores, masked ? mv : std::vector<double>{}, vv, N, T, Dv, w, ctx);
    AttentionResult r = additive_attention(q, k, v, wq, wk, va, masked ? mask : Tensor{});
    expect_all_near(r.weights, w, 1e-12, "weights");
    expect_all_near(r.context, ctx, 1e-12, "context");
  }
}

TEST(Attention, RejectsBadShapes) {
  Tensor q = rand_f64({2, 3}, 1), k = rand_f64({2, 4, 3}, 2), v = rand_f64({2, 4, 2}, 3);
  EXPECT_NE(error_of([&] { dot_attention(q, rand_f64({2, 4, 5}, 2), v); }).find("different widths D"), std::string::npos);
  EXPECT_NE(error_of([&] { dot_attention(q, k, rand_f64({2, 5, 2}, 3)); }).find("different lengths T"), std::string::npos);
  EXPECT_NE(error_of([&] { dot_attention(q, k, v, rand_f64({2, 4}, 1)); }).find("mask must be bool"), std::string::npos);
  EXPECT_NE(error_of([&] { additive_attention(q, k, v, rand_f64({6, 2}, 1), rand_f64({6, 3}, 1), rand_f64({6}, 1)); })
                .find("w_q must be (A, Dq) = (6, 3)"),
            std::string::npos);
}

// The loss by plain loops: TF's formula with the true class first and accidental hits at -FLT_MAX.
std::vector<double> sampled_loss_by_hand(const std::vector<Tensor>& in) {
  const auto h = in[0].to_vector<double>(), w = in[1].to_vector<double>(), b = in[2].to_vector<double>(),
             lqt = in[5].to_vector<double>(), lqs = in[6].to_vector<double>();
  const auto t = in[3].to_vector<int64_t>(), s = in[4].to_vector<int64_t>();
  const int64_t N = in[0].size(0), D = in[0].size(1), S = in[4].size(0);
  auto logit = [&](int64_t n, int64_t c) {
    double z = b[c];
    for (int64_t d = 0; d < D; ++d) z += h[n * D + d] * w[c * D + d];
    return z;
  };
  std::vector<double> out;
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> z{logit(n, t[n]) - lqt[n]};
    for (int64_t j = 0; j < S; ++j)
      z.push_back(s[j] == t[n] ? -std::numeric_limits<float>::max() : logit(n, s[j]) - lqs[j]);
    double m = -INFINITY, sum = 0;
    for (double v : z) m = std::max(m, v);
    for (double v : z) sum += std::exp(v - m);
    out.push_back(-(z[0] - m - std::log(sum)));
  }
  return out;
}

TEST(SampledSoftmax, MatchesLoops) {
  const std::vector<Tensor> in = sampled_softmax_inputs();
  Tensor loss = sampled_softmax_loss(in[0], in[1], in[2], in[3], in[4], in[5], in[6]);
  expect_all_near(loss, sampled_loss_by_hand(in), 1e-12, "loss");
}

TEST(SampledSoftmax, AllClassesSampledIsTheFullSoftmax) {
  // Every class sampled with log q = 0: the accidental hit removes the duplicate of the true class.
  const int64_t N = 3, V = 6, D = 4;
  Tensor h = rand_f64({N, D}, 41), w = rand_f64({V, D}, 42), b = rand_f64({V}, 43), t = index_tensor({4, 0, 5}, {N});
  Tensor all = index_tensor({0, 1, 2, 3, 4, 5}, {V});
  Tensor loss = sampled_softmax_loss(h, w, b, t, all, Tensor::zeros({N}, DType::f64), Tensor::zeros({V}, DType::f64));
  Tensor full = cross_entropy(linear(h, w, b), t, -100, 0, "none");
  expect_all_near(loss, full.to_vector<double>(), 1e-12, "loss");
}

TEST(SampledSoftmax, RejectsBadInputs) {
  std::vector<Tensor> in = sampled_softmax_inputs();
  EXPECT_NE(error_of([&] { sampled_softmax_loss(in[0], in[1], in[2], index_tensor({2, 10, 0}, {3}), in[4], in[5], in[6]); })
                .find("target value 10 at position 1 is out of range [0, 10)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { sampled_softmax_loss(in[0], in[1], in[2], in[3], in[4], in[5], in[5]); })
                .find("log_q_sampled must be (4,)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { sampled_softmax_loss(in[0], rand_f64({10, 5}, 1), in[2], in[3], in[4], in[5], in[6]); })
                .find("weight must be (V, 4)"),
            std::string::npos);
}

TEST(LogUniformCandidates, FollowsTheZipfianLaw) {
  const int64_t V = 1000;
  Tensor target = index_tensor({0, 17, 999}, {3});
  const CandidateSample a = log_uniform_candidates(target, 64, V, 7);
  const CandidateSample b = log_uniform_candidates(target, 64, V, 7);
  EXPECT_EQ(a.sampled.to_vector<int64_t>(), b.sampled.to_vector<int64_t>()) << "same seed, same draw";
  const auto ids = a.sampled.to_vector<int64_t>();
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), ids.size()) << "unique draws";
  for (int64_t k : ids) EXPECT_TRUE(k >= 0 && k < V);
  EXPECT_EQ(a.log_q_target.dtype(), DType::f32);
  // Without uniqueness the expected count is num_sampled * P(k).
  const CandidateSample r = log_uniform_candidates(target, 20000, V, 3, false, DType::f64);
  const auto lqt = r.log_q_target.to_vector<double>();
  auto p = [&](int64_t k) { return std::log((k + 2.0) / (k + 1.0)) / std::log(V + 1.0); };
  EXPECT_NEAR(lqt[1], std::log(20000 * p(17)), 1e-12);
  std::map<int64_t, int64_t> count;
  for (int64_t k : r.sampled.to_vector<int64_t>()) ++count[k];
  // P(0) = log 2 / log 1001 = 0.1003: 2006 of 20000 expected, sd about 42.
  EXPECT_NEAR(static_cast<double>(count[0]), 20000 * p(0), 250);
  EXPECT_NEAR(static_cast<double>(count[1]), 20000 * p(1), 250);
  // Unique draws: 1 - (1 - P)^tries, so at most 0 and at least num_sampled * P-ish for a frequent class.
  const auto lq0 = a.log_q_target.to_vector<double>()[0];
  EXPECT_LT(lq0, 0.0);
  EXPECT_GT(lq0, std::log(p(0)));
  EXPECT_NE(error_of([&] { log_uniform_candidates(target, 5, 10, 1); }).find("target value 17"), std::string::npos);
  EXPECT_NE(error_of([&] { log_uniform_candidates(target, 2000, V, 1); }).find("cannot draw 2000 distinct"),
            std::string::npos);
}

}  // namespace
}  // namespace plumb::testing
