// Losses: cross_entropy (log_softmax + nll), nll_loss and mse_loss, as PyTorch defines them.
#include <cmath>

#include "ops/composite/composite.h"

namespace plumb {

namespace {

// The class axis of (C) or (N, C, d...) scores.
int64_t class_axis(int64_t rank) { return rank == 1 ? 0 : 1; }

// Checks scores (C) / (N, C, d...) against class indices () / (N, d...); returns the output spec.
std::vector<TensorSpec> infer_class_loss(std::string_view op, std::span<const TensorSpec> in, const LossAttrs& a,
                                         std::string_view scores_name) {
  const TensorSpec& s = in[0];
  const TensorSpec& t = in[1];
  ops::check_float(op, s, scores_name);
  ops::composite::check_index(op, t, "target");
  ops::composite::check_reduction(op, a.reduction);
  if (!(a.label_smoothing >= 0 && a.label_smoothing <= 1))
    fail(op, ": label_smoothing must be in [0, 1], got ", a.label_smoothing);
  const int64_t rank = static_cast<int64_t>(s.shape.size());
  if (rank == 0) fail(op, ": ", scores_name, " must be (C) or (N, C, d...), got a 0-d tensor");
  const int64_t c = class_axis(rank);
  if (s.shape[c] == 0) fail(op, ": ", scores_name, " ", shape_str(s.shape), " has no classes");
  Shape expected = s.shape;
  expected.erase(expected.begin() + c);
  if (t.shape != expected)
    fail(op, ": target shape ", shape_str(t.shape), " does not match ", scores_name, " shape ", shape_str(s.shape),
         " (expected target ", shape_str(expected), ")");
  if (a.reduction == "none") return {TensorSpec{t.shape, s.dtype, s.device}};
  return {TensorSpec{{}, s.dtype, s.device}};
}

// Class indices depend on values, so infer cannot see them; on CPU they are checked before any work.
void check_targets(std::string_view op, const Tensor& scores, const Tensor& target, const LossAttrs& a) {
  if (scores.is_meta()) return;
  ops::composite::check_index_values(op, target, scores.size(class_axis(scores.dim())), "target", true,
                                     a.ignore_index);
}

// The negative log-likelihood of log-probabilities lp at target, with ignore_index masked out and
// PyTorch's label smoothing: (1-eps) * -lp[target] + eps * mean over classes of -lp.
Tensor nll_from_log_probs(const Tensor& lp, const Tensor& target, const LossAttrs& a) {
  const int64_t c = class_axis(lp.dim());
  const int64_t classes = lp.size(c);
  Tensor valid = ne(target, ops::scalar_like(target, static_cast<double>(a.ignore_index)));
  // Ignored entries gather class 0 and are then zeroed by the mask.
  Tensor safe = where(valid, target, ops::scalar_like(target, 0));
  Tensor picked = squeeze(gather(lp, c, unsqueeze(safe, c)), c);
  const double eps = a.label_smoothing;
  Tensor per = eps == 0 ? neg(picked)
                        : sub(mul(picked, -(1 - eps)), mul(sum(lp, {c}), eps / static_cast<double>(classes)));
  Tensor weight = cast(valid, lp.dtype());
  per = mul(per, weight);
  if (a.reduction == "none") return per;
  if (a.reduction == "sum") return sum(per);
  // mean over the entries that are not ignored (0/0 = nan when all are, as in PyTorch)
  return div(sum(per), sum(weight));
}

std::vector<TensorSpec> infer_mse(std::span<const TensorSpec> in, const Attrs& attrs) {
  const auto& a = ops::attrs_as<LossAttrs>(attrs);
  ops::check_float("mse_loss", in[0], "input");
  ops::composite::check_float_like("mse_loss", in[1], in[0].dtype, "target");
  ops::composite::check_reduction("mse_loss", a.reduction);
  // Unlike PyTorch (which warns), mismatched shapes are an error rather than a silent broadcast.
  if (in[0].shape != in[1].shape)
    fail("mse_loss: input shape ", shape_str(in[0].shape), " and target shape ", shape_str(in[1].shape), " differ");
  if (a.reduction == "none") return {in[0]};
  return {TensorSpec{{}, in[0].dtype, in[0].device}};
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index, double label_smoothing,
                     const std::string& reduction) {
  LossAttrs a;
  a.ignore_index = ignore_index;
  a.label_smoothing = label_smoothing;
  a.reduction = reduction;
  return ops::call(PLUMB_OP("cross_entropy"), {logits, target}, a);
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, int64_t ignore_index, const std::string& reduction) {
  LossAttrs a;
  a.ignore_index = ignore_index;
  a.reduction = reduction;
  return ops::call(PLUMB_OP("nll_loss"), {log_probs, target}, a);
}

Tensor mse_loss(const Tensor& a, const Tensor& b, const std::string& reduction) {
  LossAttrs attrs;
  attrs.reduction = reduction;
  return ops::call(PLUMB_OP("mse_loss"), {a, b}, attrs);
}

namespace ops::composite {

void register_loss_ops() {
  // logits (C) or (N, C, d...), target () or (N, d...) class indices.
  register_op(OpDef{
      .name = "cross_entropy",
      .op_class = OpClass::reduction,
      .min_inputs = 2,
      .max_inputs = 2,
      .make_attrs = attrs_factory<LossAttrs>(),
      .infer =
          [](std::span<const TensorSpec> in, const Attrs& a) {
            return infer_class_loss("cross_entropy", in, attrs_as<LossAttrs>(a), "logits");
          },
      .differentiable = true,
      .decompose =
          [](std::span<const Tensor> in, const Attrs& attrs) {
            const auto& a = attrs_as<LossAttrs>(attrs);
            check_targets("cross_entropy", in[0], in[1], a);
            Tensor lp = log_softmax(in[0], class_axis(in[0].dim()));
            // Without smoothing the loss is exactly nll_loss, which then shows as its own region.
            if (a.label_smoothing == 0)
              return std::vector<Tensor>{nll_loss(lp, in[1], a.ignore_index, a.reduction)};
            return std::vector<Tensor>{nll_from_log_probs(lp, in[1], a)};
          },
      .doc = "log_softmax + negative log-likelihood of class indices (ignore_index, label smoothing)",
  });

  register_op(OpDef{
      .name = "nll_loss",
      .op_class = OpClass::reduction,
      .min_inputs = 2,
      .max_inputs = 2,
      .make_attrs = attrs_factory<LossAttrs>(),
      .infer =
          [](std::span<const TensorSpec> in, const Attrs& attrs) {
            const auto& a = attrs_as<LossAttrs>(attrs);
            if (a.label_smoothing != 0)
              fail("nll_loss: label_smoothing is not supported (got ", a.label_smoothing, "); use cross_entropy");
            return infer_class_loss("nll_loss", in, a, "log_probs");
          },
      .differentiable = true,
      .decompose =
          [](std::span<const Tensor> in, const Attrs& attrs) {
            const auto& a = attrs_as<LossAttrs>(attrs);
            check_targets("nll_loss", in[0], in[1], a);
            return std::vector<Tensor>{nll_from_log_probs(in[0], in[1], a)};
          },
      .doc = "negative log-likelihood of class indices under log-probabilities (ignore_index)",
  });

  register_op(OpDef{
      .name = "mse_loss",
      .op_class = OpClass::reduction,
      .min_inputs = 2,
      .max_inputs = 2,
      .make_attrs = attrs_factory<LossAttrs>(),
      .infer = infer_mse,
      .differentiable = true,
      .decompose =
          [](std::span<const Tensor> in, const Attrs& attrs) {
            Tensor d = sub(in[0], in[1]);
            return std::vector<Tensor>{reduce_loss(mul(d, d), attrs_as<LossAttrs>(attrs).reduction)};
          },
      .doc = "mean squared error (a - b)^2 with reduction mean, sum or none",
  });
}

}  // namespace ops::composite
}  // namespace plumb
