#pragma once
// CTC attributes and the value checks shared by the op records (ctc.cpp) and the reference kernels.
// Not a public header.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/attrs.h"
#include "plumb/tensor.h"

namespace plumb {

// ctc_loss and ctc_loss_backward; reduction is "mean", "sum" or "none" as in torch.nn.functional.ctc_loss.
struct CtcAttrs : AttrsOf<CtcAttrs> {
  int64_t blank = 0;
  std::string reduction = "mean";
  bool zero_infinity = false;
  template <class F> void fields(F&& f) { f("blank", blank); f("reduction", reduction); f("zero_infinity", zero_infinity); }
};

namespace ops {

// The integer inputs of one CTC call, read once: labels of item n are targets[offset[n] .. offset[n] + target_len[n]).
struct CtcLabels {
  std::vector<int64_t> targets, input_len, target_len, offset;
};

// Reads and validates what infer cannot see: 0 <= input_len <= T, 0 <= target_len <= S (padded) or
// sum(target_len) <= numel (concatenated), every used label in [0, C) and != blank. One Error naming the
// first bad value. log_probs: (T, N, C); targets (N, S) or 1-d.
CtcLabels read_ctc_labels(std::string_view op, const Tensor& log_probs, const Tensor& targets,
                          const Tensor& input_lengths, const Tensor& target_lengths, int64_t blank);

}  // namespace ops
}  // namespace plumb
