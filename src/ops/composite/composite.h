#pragma once
// Composite ops: records whose meaning is a decomposition into primitives (src/ops/composite).
#include <span>
#include <string>
#include <string_view>

#include "ops/op_def.h"

namespace plumb::ops::composite {

// One per file; register_composite_ops() (register.cpp) calls them in order.
void register_softmax_ops();  // softmax, log_softmax
void register_loss_ops();     // cross_entropy, nll_loss, mse_loss
void register_linear_ops();   // linear, embedding
void register_norm_ops();     // layer_norm, batch_norm, batch_norm_backward, local_response_norm
void register_dropout_ops();  // dropout
void register_rnn_ops();      // lstm_cell, gru_cell
void register_attention_ops();  // dot_attention, additive_attention, sampled_softmax_loss

// Throws unless `s` is a floating tensor of `dtype` ("<op>: <what> is f32 but input is f64").
void check_float_like(std::string_view op, const TensorSpec& s, DType dtype, std::string_view what);
// Throws unless `s` is an i64 or i32 index tensor.
void check_index(std::string_view op, const TensorSpec& s, std::string_view what);
// Throws unless reduction is "mean", "sum" or "none".
void check_reduction(std::string_view op, const std::string& reduction);
// Applies a loss reduction ("none": t itself).
Tensor reduce_loss(const Tensor& t, const std::string& reduction);
// On CPU tensors, throws "<op>: <what> value v at position i is out of range [0, n)" for a bad index,
// skipping entries equal to `skip` when `use_skip`. Meta and device tensors are left to the kernels.
void check_index_values(std::string_view op, const Tensor& index, int64_t n, std::string_view what,
                        bool use_skip = false, int64_t skip = 0);

}  // namespace plumb::ops::composite
