// Golden test: ctc_loss and its gradient against torch.nn.functional.ctc_loss (cases: scripts/make_golden.py).
// torch's gradient w.r.t. log_probs adds exp(log_probs) * g_n inside each input length, a term log_softmax's
// backward cancels: the logits' gradient is compared as is, log_probs' after adding it (docs/sequence_ops.md).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "golden/golden_common.h"
#include "plumb/autograd.h"
#include "plumb/ops.h"

namespace plumb {
namespace {

using namespace golden;

// torch's convention: grad + exp(log_probs) * g_n for t < input_lengths[n], except items whose infinite loss
// zero_infinity zeroed (their whole gradient is 0 in both).
Tensor torch_convention(const Tensor& grad_lp, const Tensor& log_probs, const Tensor& loss_none,
                        const Inputs& in, const json& attrs) {
  const std::string reduction = attrs.at("reduction").get<std::string>();
  const int64_t N = log_probs.size(1), C = log_probs.size(2);
  const std::vector<double> g = grad_lp.to_vector<double>(), lp = log_probs.to_vector<double>(),
                            cot = need(in, "cot_loss").to_vector<double>(), nll = loss_none.to_vector<double>();
  const std::vector<int64_t> il = need(in, "input_lengths").to_vector<int64_t>(),
                             tl = need(in, "target_lengths").to_vector<int64_t>();
  std::vector<double> out = g;
  for (int64_t n = 0; n < N; ++n) {
    if (std::isinf(nll[n])) continue;
    double gn = reduction == "none" ? cot[n] : cot[0];
    if (reduction == "mean") gn /= static_cast<double>(std::max<int64_t>(tl[n], 1) * N);
    for (int64_t t = 0; t < il[n]; ++t)
      for (int64_t c = 0; c < C; ++c) out[(t * N + n) * C + c] += std::exp(lp[(t * N + n) * C + c]) * gn;
  }
  return cast(Tensor::from_vector(out, grad_lp.shape()), grad_lp.dtype());
}

Results run_ctc(const GoldenCase& c, const Inputs& in) {
  const int64_t blank = c.attrs.at("blank").get<int64_t>();
  const std::string reduction = c.attrs.at("reduction").get<std::string>();
  const bool zero_infinity = c.attrs.at("zero_infinity").get<bool>();
  const Tensor &targets = need(in, "targets"), &il = need(in, "input_lengths"), &tl = need(in, "target_lengths");
  const Tensor& cot = need(in, "cot_loss");
  auto loss_of = [&](const Tensor& lp, const std::string& red, bool zero) {
    return ctc_loss(lp, targets, il, tl, blank, red, zero);
  };
  // Through log_softmax, as a model uses it.
  Tensor logits = leaf(in, "logits");
  Tensor loss = loss_of(log_softmax(logits, 2), reduction, zero_infinity);
  const Tensor grad_logits = grad({loss}, {logits}, {cot})[0];
  // W.r.t. log_probs directly.
  Tensor log_probs = log_softmax(need(in, "logits"), 2).detach();
  log_probs.set_requires_grad(true);
  Tensor loss_lp = loss_of(log_probs, reduction, zero_infinity);
  const Tensor grad_lp = grad({loss_lp}, {log_probs}, {cot})[0];
  const Tensor per_item = loss_of(log_probs.detach(), "none", false);
  return {{"loss", loss},
          {"loss@log_probs", loss_lp},
          {"grad_logits", grad_logits},
          {"grad_log_probs", torch_convention(grad_lp, log_probs.detach(), per_item, in, c.attrs)}};
}

TEST(Golden, Ctc) { run_family("ctc", run_ctc); }

}  // namespace
}  // namespace plumb
