#pragma once
// Front-end functions: each builds its attributes and calls the dispatcher.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plumb/tensor.h"

namespace plumb {

// ---- elementwise (src/ops/defs/elementwise.cpp) ----
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor clamp(const Tensor& x, double min, double max);
Tensor cast(const Tensor& x, DType dtype);

// Binary ops broadcast as NumPy does; operand dtypes must match (cast first).
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// Comparisons return bool tensors.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Scalar operands become 0-d tensors of the tensor's dtype and device.
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor pow(const Tensor& a, double b);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator*(double a, const Tensor& b);

// ---- reductions (src/ops/defs/reduce.cpp); empty axes = all ----
Tensor sum(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdim = false);
Tensor max(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t axis, bool keepdim = false);  // i64
// Sums a broadcast gradient back to `shape` (composite of sum and reshape).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- matrix (src/ops/defs/matmul.cpp) ----
// a: (..., M, K), b: (..., K, N) -> (..., M, N); batch dims broadcast; rank >= 2.
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- convolution (src/ops/defs/conv.cpp); N-d from the weight's rank ----
// x: (N, C, *spatial), w: (O, C/groups, *kernel). Empty vectors mean stride 1, padding 0, dilation 1.
Tensor conv(const Tensor& x, const Tensor& w, Shape stride = {}, Shape padding = {}, Shape dilation = {},
            int64_t groups = 1);
Tensor conv_backward_input(const Tensor& grad_y, const Tensor& w, const Shape& input_shape, Shape stride,
                           Shape padding, Shape dilation, int64_t groups);
Tensor conv_backward_weight(const Tensor& x, const Tensor& grad_y, const Shape& weight_shape, Shape stride,
                            Shape padding, Shape dilation, int64_t groups);

// ---- pooling (src/ops/defs/pool.cpp); N-d from kernel size; empty stride = kernel ----
Tensor max_pool(const Tensor& x, Shape kernel, Shape stride = {}, Shape padding = {}, bool ceil_mode = false);
Tensor avg_pool(const Tensor& x, Shape kernel, Shape stride = {}, Shape padding = {}, bool ceil_mode = false,
                bool count_include_pad = true);
Tensor max_pool_backward(const Tensor& x, const Tensor& grad_y, Shape kernel, Shape stride, Shape padding,
                         bool ceil_mode);
Tensor avg_pool_backward(const Tensor& grad_y, const Shape& input_shape, Shape kernel, Shape stride, Shape padding,
                         bool ceil_mode, bool count_include_pad);

// ---- movement (src/ops/defs/movement.cpp) ----
Tensor reshape(const Tensor& x, Shape shape);  // one -1 allowed; a view when strides allow
Tensor permute(const Tensor& x, std::vector<int64_t> dims);  // view
Tensor transpose(const Tensor& x, int64_t a, int64_t b);     // permute swapping two axes
Tensor expand(const Tensor& x, Shape shape);                  // view with zero strides
Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t stop, int64_t step = 1);  // view
Tensor concat(const std::vector<Tensor>& xs, int64_t axis);
// Views of consecutive pieces along `axis` (sizes >= 0, summing to its length); the gradient is one concat.
std::vector<Tensor> split(const Tensor& x, int64_t axis, std::vector<int64_t> sizes);
std::vector<Tensor> unbind(const Tensor& x, int64_t axis);  // split into size-1 pieces, each squeezed
Tensor pad(const Tensor& x, std::vector<int64_t> pads, double value = 0);  // ONNX pads layout
Tensor contiguous(const Tensor& x);  // returns x itself when already contiguous
Tensor copy(const Tensor& x);        // always a new contiguous tensor
Tensor squeeze(const Tensor& x, int64_t axis);
Tensor unsqueeze(const Tensor& x, int64_t axis);
Tensor flatten(const Tensor& x, int64_t start_axis = 1);

// ---- indexing (src/ops/defs/index.cpp); indices are i64 or i32 ----
Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index);   // index: 1-d
Tensor gather(const Tensor& x, int64_t axis, const Tensor& index);         // torch.gather
Tensor scatter_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src);  // out-of-place

// ---- random (src/ops/defs/random.cpp); counter-based, independent of thread count ----
Tensor uniform(Shape shape, double low = 0, double high = 1, DType dtype = DType::f32, Device device = kCPU);
Tensor normal(Shape shape, double mean = 0, double std = 1, DType dtype = DType::f32, Device device = kCPU);
// Normal(mean, std) restricted to [lo, hi]: each element redraws until it lands inside (one op).
Tensor truncated_normal(Shape shape, double mean, double std, double lo, double hi, DType dtype = DType::f32,
                        Device device = kCPU);
Tensor bernoulli(Shape shape, double p, DType dtype = DType::f32, Device device = kCPU);

// ---- composites (src/ops/composite) ----
Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);
// logits: (N, C) or (N, C, d...), target: class indices (N) or (N, d...), i64.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index = -100,
                     double label_smoothing = 0, const std::string& reduction = "mean");
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, int64_t ignore_index = -100,
                const std::string& reduction = "mean");
Tensor mse_loss(const Tensor& a, const Tensor& b, const std::string& reduction = "mean");
// x: (..., in), w: (out, in), b: (out) or undefined.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = {});
Tensor embedding(const Tensor& weight, const Tensor& indices);  // weight: (V, D) -> (*indices, D)
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t normalized_dims = 1,
                  double eps = 1e-5);
struct BatchNormResult {
  Tensor y, batch_mean, batch_var;  // batch statistics (biased variance); running stats in eval mode
};
// x: (N, C, *), per-channel; training uses batch statistics, eval uses running_mean / running_var.
BatchNormResult batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                           const Tensor& running_var, bool training, double eps = 1e-5);
Tensor local_response_norm(const Tensor& x, int64_t size = 5, double alpha = 1e-4, double beta = 0.75,
                           double k = 1.0);
Tensor dropout(const Tensor& x, double p, bool training);

// ---- sequences (src/ops/defs/ctc.cpp; composites src/ops/composite/rnn.cpp, attention.cpp) ----
// log_probs: (T, N, C) log-softmax scores, targets: (N, S) i64 labels padded to S (or concatenated
// (sum of target_lengths)), input_lengths, target_lengths: (N) i64. Log-space CTC as
// torch.nn.functional.ctc_loss: "mean" divides each loss by its target length, then averages.
Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, int64_t blank = 0, const std::string& reduction = "mean",
                bool zero_infinity = false);
// Best-path decoding of (T, N, C) scores: argmax per frame, merge repeats, drop blanks.
std::vector<std::vector<int64_t>> ctc_greedy_decode(const Tensor& log_probs, const Tensor& input_lengths,
                                                    int64_t blank = 0);
struct LstmState {
  Tensor h, c;  // (N, H) each
};
// One LSTM step with PyTorch's gate order (i, f, g, o): x (N, I), w_ih (4H, I), w_hh (4H, H),
// b_ih, b_hh (4H) or undefined.
LstmState lstm_cell(const Tensor& x, const LstmState& state, const Tensor& w_ih, const Tensor& w_hh,
                    const Tensor& b_ih = {}, const Tensor& b_hh = {});
// One GRU step with PyTorch's gate order (r, z, n): x (N, I), h (N, H), w_ih (3H, I), w_hh (3H, H).
Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih = {},
                const Tensor& b_hh = {});
struct AttentionResult {
  Tensor context;  // (N, Dv)
  Tensor weights;  // (N, T), rows sum to 1 over unmasked positions
};
// query (N, D), keys (N, T, D), values (N, T, Dv), mask (N, T) bool (true = attend) or undefined.
AttentionResult dot_attention(const Tensor& query, const Tensor& keys, const Tensor& values, const Tensor& mask = {});
// Bahdanau: score_t = v . tanh(W_q q + W_k k_t); w_q (A, Dq), w_k (A, Dk), v (A).
AttentionResult additive_attention(const Tensor& query, const Tensor& keys, const Tensor& values, const Tensor& w_q,
                                   const Tensor& w_k, const Tensor& v, const Tensor& mask = {});
// Sampled softmax (Jean et al. 2015, as TF's sampled_softmax_loss with remove_accidental_hits):
// hidden (N, D), weight (V, D), bias (V), target (N) i64, sampled (S) i64 class ids drawn from q,
// log_q_target (N) and log_q_sampled (S) their log expected counts. Returns the (N) losses.
Tensor sampled_softmax_loss(const Tensor& hidden, const Tensor& weight, const Tensor& bias, const Tensor& target,
                            const Tensor& sampled, const Tensor& log_q_target, const Tensor& log_q_sampled);
// Candidates for sampled_softmax_loss from TF's log-uniform (Zipfian) sampler over classes [0, range_max),
// P(k) = log((k+2)/(k+1)) / log(range_max+1) (frequent classes first), seeded; unique draws without repeats.
// Returns sampled (S) i64 and the log expected counts of target (N) and sampled (S) in `dtype`, on CPU.
struct CandidateSample {
  Tensor sampled, log_q_target, log_q_sampled;
};
CandidateSample log_uniform_candidates(const Tensor& target, int64_t num_sampled, int64_t range_max, uint64_t seed,
                                       bool unique = true, DType dtype = DType::f32);
}  // namespace plumb
