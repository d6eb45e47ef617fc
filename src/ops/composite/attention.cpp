// Attention and sampled softmax as composites of primitives (docs/sequence_ops.md): the profiler sees their
// matmuls, tanh, softmax and gathers. Class: matrix (their work is the score and context matmuls).
#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

#include "ops/composite/composite.h"
#include "plumb/random.h"

namespace plumb {

namespace {

// query (N, D), keys (N, T, Dk), values (N, T, Dv), mask (N, T) bool; `dk` is the key width the scores need.
void check_attention_inputs(std::string_view op, const TensorSpec& q, const TensorSpec& k, const TensorSpec& v,
                            const TensorSpec* mask) {
  ops::check_float(op, q, "query");
  ops::composite::check_float_like(op, k, q.dtype, "keys");
  ops::composite::check_float_like(op, v, q.dtype, "values");
  if (q.shape.size() != 2) fail(op, ": query must be (N, D), got ", shape_str(q.shape));
  if (k.shape.size() != 3) fail(op, ": keys must be (N, T, D), got ", shape_str(k.shape));
  if (v.shape.size() != 3) fail(op, ": values must be (N, T, Dv), got ", shape_str(v.shape));
  if (k.shape[0] != q.shape[0] || v.shape[0] != q.shape[0])
    fail(op, ": batch sizes differ: query ", shape_str(q.shape), ", keys ", shape_str(k.shape), ", values ",
         shape_str(v.shape));
  if (v.shape[1] != k.shape[1])
    fail(op, ": keys ", shape_str(k.shape), " and values ", shape_str(v.shape), " have different lengths T");
  if (mask) {
    if (mask->dtype != DType::boolean) fail(op, ": mask must be bool (true = attend), got ", dtype_name(mask->dtype));
    if (mask->shape != Shape{k.shape[0], k.shape[1]})
      fail(op, ": mask must be (N, T) = ", shape_str(Shape{k.shape[0], k.shape[1]}), ", got ", shape_str(mask->shape));
  }
}

std::vector<TensorSpec> attention_outputs(const TensorSpec& q, const TensorSpec& k, const TensorSpec& v) {
  return {TensorSpec{{q.shape[0], v.shape[2]}, q.dtype, q.device}, TensorSpec{{k.shape[0], k.shape[1]}, q.dtype, q.device}};
}

// scores (N, T) -> weights (N, T) and context (N, Dv). Masked positions score -inf: their weight is exactly 0
// (a row with no unmasked position has no distribution: NaN, as in PyTorch).
std::vector<Tensor> attend(const Tensor& scores, const Tensor& values, const Tensor* mask) {
  Tensor s = scores;
  if (mask) s = where(*mask, s, ops::scalar_like(s, -std::numeric_limits<double>::infinity()));
  Tensor w = softmax(s, 1);
  Tensor context = squeeze(matmul(unsqueeze(w, 1), values), 1);  // (N, 1, T) x (N, T, Dv)
  return {context, w};
}

// hidden (N, D), weight (V, D), bias (V), target (N), sampled (S), log_q_target (N), log_q_sampled (S).
std::vector<TensorSpec> infer_sampled_softmax(std::span<const TensorSpec> in, const Attrs&) {
  constexpr std::string_view op = "sampled_softmax_loss";
  const TensorSpec &h = in[0], &w = in[1], &b = in[2], &t = in[3], &s = in[4], &lqt = in[5], &lqs = in[6];
  ops::check_same_device(op, in);
  ops::check_float(op, h, "hidden");
  ops::composite::check_float_like(op, w, h.dtype, "weight");
  ops::composite::check_float_like(op, b, h.dtype, "bias");
  ops::composite::check_float_like(op, lqt, h.dtype, "log_q_target");
  ops::composite::check_float_like(op, lqs, h.dtype, "log_q_sampled");
  ops::composite::check_index(op, t, "target");
  ops::composite::check_index(op, s, "sampled");
  if (h.shape.size() != 2) fail(op, ": hidden must be (N, D), got ", shape_str(h.shape));
  if (w.shape.size() != 2 || w.shape[1] != h.shape[1])
    fail(op, ": weight must be (V, ", h.shape[1], ") to match hidden ", shape_str(h.shape), ", got ", shape_str(w.shape));
  if (b.shape != Shape{w.shape[0]}) fail(op, ": bias must be (", w.shape[0], "), got ", shape_str(b.shape));
  if (t.shape != Shape{h.shape[0]}) fail(op, ": target must be (", h.shape[0], "), got ", shape_str(t.shape));
  if (s.shape.size() != 1) fail(op, ": sampled must be 1-d (S), got ", shape_str(s.shape));
  if (lqt.shape != t.shape) fail(op, ": log_q_target must be ", shape_str(t.shape), ", got ", shape_str(lqt.shape));
  if (lqs.shape != s.shape) fail(op, ": log_q_sampled must be ", shape_str(s.shape), ", got ", shape_str(lqs.shape));
  return {TensorSpec{t.shape, h.dtype, h.device}};
}

}  // namespace

AttentionResult dot_attention(const Tensor& query, const Tensor& keys, const Tensor& values, const Tensor& mask) {
  std::vector<Tensor> in{query, keys, values};
  if (mask.defined()) in.push_back(mask);
  std::vector<Tensor> out = dispatch(PLUMB_OP("dot_attention"), in, NoAttrs{});
  return {out[0], out[1]};
}

AttentionResult additive_attention(const Tensor& query, const Tensor& keys, const Tensor& values, const Tensor& w_q,
                                   const Tensor& w_k, const Tensor& v, const Tensor& mask) {
  std::vector<Tensor> in{query, keys, values, w_q, w_k, v};
  if (mask.defined()) in.push_back(mask);
  std::vector<Tensor> out = dispatch(PLUMB_OP("additive_attention"), in, NoAttrs{});
  return {out[0], out[1]};
}

Tensor sampled_softmax_loss(const Tensor& hidden, const Tensor& weight, const Tensor& bias, const Tensor& target,
                            const Tensor& sampled, const Tensor& log_q_target, const Tensor& log_q_sampled) {
  return ops::call(PLUMB_OP("sampled_softmax_loss"),
                   {hidden, weight, bias, target, sampled, log_q_target, log_q_sampled});
}

CandidateSample log_uniform_candidates(const Tensor& target, int64_t num_sampled, int64_t range_max, uint64_t seed,
                                       bool unique, DType dtype) {
  constexpr std::string_view op = "log_uniform_candidates";
  if (range_max < 1) fail(op, ": range_max must be positive, got ", range_max);
  if (num_sampled < 0) fail(op, ": num_sampled must be non-negative, got ", num_sampled);
  if (unique && num_sampled > range_max)
    fail(op, ": cannot draw ", num_sampled, " distinct classes from range_max = ", range_max);
  if (!target.defined() || target.device().type != DeviceType::cpu)
    fail(op, ": target must be a CPU index tensor");
  ops::composite::check_index(op, target.spec(), "target");
  ops::composite::check_index_values(op, target, range_max, "target");
  const double log_range = std::log1p(static_cast<double>(range_max));
  // P(k) = log((k + 2) / (k + 1)) / log(range_max + 1)
  auto prob = [&](int64_t k) { return std::log1p(1.0 / static_cast<double>(k + 1)) / log_range; };
  std::vector<int64_t> ids;
  std::unordered_set<int64_t> seen;
  int64_t tries = 0;
  while (static_cast<int64_t>(ids.size()) < num_sampled) {
    // TF's LogUniformSampler: floor(exp(u * log(range_max + 1))) - 1.
    const double u = philox_uniform_f64(seed, static_cast<uint64_t>(tries++));
    int64_t k = static_cast<int64_t>(std::floor(std::exp(u * log_range))) - 1;
    k = std::clamp<int64_t>(k, 0, range_max - 1);
    if (unique && !seen.insert(k).second) continue;
    ids.push_back(k);
  }
  // Expected count of class k in the draws: num_sampled * P(k), or with unique draws the probability that
  // k shows up in `tries` attempts, 1 - (1 - P(k))^tries (TF's formula).
  auto log_expected = [&](int64_t k) {
    const double p = prob(k);
    return unique ? std::log(-std::expm1(static_cast<double>(tries) * std::log1p(-p)))
                  : std::log(static_cast<double>(num_sampled) * p);
  };
  const std::vector<int64_t> t = target.to_vector<int64_t>();
  std::vector<double> lqt, lqs;
  for (int64_t k : t) lqt.push_back(log_expected(k));
  for (int64_t k : ids) lqs.push_back(log_expected(k));
  CandidateSample out;
  out.sampled = Tensor::from_vector(ids, {num_sampled});
  out.log_q_target = cast(Tensor::from_vector(lqt, {static_cast<int64_t>(lqt.size())}), dtype);
  out.log_q_sampled = cast(Tensor::from_vector(lqs, {num_sampled}), dtype);
  return out;
}

namespace ops::composite {

void register_attention_ops() {
  // Luong's dot score, unscaled: score_t = q . k_t.
  register_op(OpDef{
      .name = "dot_attention",
      .op_class = OpClass::matrix,
      .min_inputs = 3,
      .max_inputs = 4,
      .infer =
          [](std::span<const TensorSpec> in, const Attrs&) {
            check_attention_inputs("dot_attention", in[0], in[1], in[2], in.size() == 4 ? &in[3] : nullptr);
            if (in[1].shape[2] != in[0].shape[1])
              fail("dot_attention: query ", shape_str(in[0].shape), " and keys ", shape_str(in[1].shape),
                   " have different widths D");
            return attention_outputs(in[0], in[1], in[2]);
          },
      .differentiable = true,
      .decompose =
          [](std::span<const Tensor> in, const Attrs&) {
            // (N, 1, D) x (N, D, T) -> (N, T)
            Tensor scores = squeeze(matmul(unsqueeze(in[0], 1), transpose(in[1], 1, 2)), 1);
            return attend(scores, in[2], in.size() == 4 ? &in[3] : nullptr);
          },
      .doc = "dot-product attention: weights softmax(q . k_t) over T (masked), context sum_t w_t v_t",
  });

  // Bahdanau: score_t = v . tanh(W_q q + W_k k_t).
  register_op(OpDef{
      .name = "additive_attention",
      .op_class = OpClass::matrix,
      .min_inputs = 6,
      .max_inputs = 7,
      .infer =
          [](std::span<const TensorSpec> in, const Attrs&) {
            constexpr std::string_view op = "additive_attention";
            check_attention_inputs(op, in[0], in[1], in[2], in.size() == 7 ? &in[6] : nullptr);
            const TensorSpec &wq = in[3], &wk = in[4], &v = in[5];
            check_float_like(op, wq, in[0].dtype, "w_q");
            check_float_like(op, wk, in[0].dtype, "w_k");
            check_float_like(op, v, in[0].dtype, "v");
            if (v.shape.size() != 1) fail(op, ": v must be (A), got ", shape_str(v.shape));
            const int64_t a = v.shape[0];
            if (wq.shape != Shape{a, in[0].shape[1]})
              fail(op, ": w_q must be (A, Dq) = ", shape_str(Shape{a, in[0].shape[1]}), ", got ", shape_str(wq.shape));
            if (wk.shape != Shape{a, in[1].shape[2]})
              fail(op, ": w_k must be (A, Dk) = ", shape_str(Shape{a, in[1].shape[2]}), ", got ", shape_str(wk.shape));
            return attention_outputs(in[0], in[1], in[2]);
          },
      .differentiable = true,
      .decompose =
          [](std::span<const Tensor> in, const Attrs&) {
            Tensor pq = unsqueeze(linear(in[0], in[3]), 1);        // (N, 1, A)
            Tensor pk = linear(in[1], in[4]);                      // (N, T, A)
            Tensor h = tanh(add(pq, pk));                          // (N, T, A)
            Tensor scores = squeeze(matmul(h, unsqueeze(in[5], 1)), 2);  // (N, T, A) x (A, 1) -> (N, T)
            return attend(scores, in[2], in.size() == 7 ? &in[6] : nullptr);
          },
      .doc = "additive (Bahdanau) attention: weights softmax(v . tanh(W_q q + W_k k_t)) (masked), context",
  });

  // TF's sampled_softmax_loss (num_true = 1, remove_accidental_hits, subtract_log_q): logits of the true class
  // and the S sampled ones, minus their log expected counts; a sampled class equal to the row's target gets
  // -FLT_MAX; cross-entropy with the true class at position 0.
  register_op(OpDef{
      .name = "sampled_softmax_loss",
      .op_class = OpClass::matrix,
      .min_inputs = 7,
      .max_inputs = 7,
      .infer = infer_sampled_softmax,
      .differentiable = true,
      .decompose =
          [](std::span<const Tensor> in, const Attrs&) {
            const Tensor &hidden = in[0], &weight = in[1], &bias = in[2], &target = in[3], &sampled = in[4];
            if (!weight.is_meta()) {
              check_index_values("sampled_softmax_loss", target, weight.size(0), "target");
              check_index_values("sampled_softmax_loss", sampled, weight.size(0), "sampled");
            }
            // True logits: row-wise dot with the target's weight row, (N).
            Tensor true_logit = add(sum(mul(hidden, index_select(weight, 0, target)), {1}), index_select(bias, 0, target));
            true_logit = sub(true_logit, in[5]);
            // Sampled logits: (N, D) x (D, S) + bias, (N, S).
            Tensor sampled_logits = sub(linear(hidden, index_select(weight, 0, sampled), index_select(bias, 0, sampled)),
                                        in[6]);
            const Tensor ids = target.dtype() == sampled.dtype() ? sampled : cast(sampled, target.dtype());
            Tensor hit = eq(unsqueeze(target, 1), unsqueeze(ids, 0));  // (N, S) accidental hits
            sampled_logits = where(hit, scalar_like(sampled_logits, -std::numeric_limits<float>::max()), sampled_logits);
            Tensor logits = concat({unsqueeze(true_logit, 1), sampled_logits}, 1);  // (N, 1 + S)
            Tensor zero = Tensor::zeros({hidden.size(0)}, DType::i64, hidden.device());
            return std::vector<Tensor>{cross_entropy(logits, zero, -100, 0, "none")};
          },
      .doc = "sampled softmax loss per row (TF: subtract log q, remove accidental hits), true class first",
  });
}

}  // namespace ops::composite
}  // namespace plumb
