// Weak placeholders so the tree links while op families land; each real definition overrides one.
// Removed once every family is in.
#include "plumb/ops.h"

namespace plumb {
__attribute__((weak)) Tensor neg(const Tensor& x) { fail("not yet implemented: Tensor neg"); }
__attribute__((weak)) Tensor exp(const Tensor& x) { fail("not yet implemented: Tensor exp"); }
__attribute__((weak)) Tensor log(const Tensor& x) { fail("not yet implemented: Tensor log"); }
__attribute__((weak)) Tensor sqrt(const Tensor& x) { fail("not yet implemented: Tensor sqrt"); }
__attribute__((weak)) Tensor rsqrt(const Tensor& x) { fail("not yet implemented: Tensor rsqrt"); }
__attribute__((weak)) Tensor abs(const Tensor& x) { fail("not yet implemented: Tensor abs"); }
__attribute__((weak)) Tensor relu(const Tensor& x) { fail("not yet implemented: Tensor relu"); }
__attribute__((weak)) Tensor sigmoid(const Tensor& x) { fail("not yet implemented: Tensor sigmoid"); }
__attribute__((weak)) Tensor tanh(const Tensor& x) { fail("not yet implemented: Tensor tanh"); }
__attribute__((weak)) Tensor clamp(const Tensor& x, double min, double max) { fail("not yet implemented: Tensor clamp"); }
__attribute__((weak)) Tensor cast(const Tensor& x, DType dtype) { fail("not yet implemented: Tensor cast"); }
__attribute__((weak)) Tensor add(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor add"); }
__attribute__((weak)) Tensor sub(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor sub"); }
__attribute__((weak)) Tensor mul(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor mul"); }
__attribute__((weak)) Tensor div(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor div"); }
__attribute__((weak)) Tensor pow(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor pow"); }
__attribute__((weak)) Tensor maximum(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor maximum"); }
__attribute__((weak)) Tensor minimum(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor minimum"); }
__attribute__((weak)) Tensor eq(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor eq"); }
__attribute__((weak)) Tensor ne(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor ne"); }
__attribute__((weak)) Tensor lt(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor lt"); }
__attribute__((weak)) Tensor le(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor le"); }
__attribute__((weak)) Tensor gt(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor gt"); }
__attribute__((weak)) Tensor ge(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor ge"); }
__attribute__((weak)) Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor where"); }
__attribute__((weak)) Tensor add(const Tensor& a, double b) { fail("not yet implemented: Tensor add"); }
__attribute__((weak)) Tensor sub(const Tensor& a, double b) { fail("not yet implemented: Tensor sub"); }
__attribute__((weak)) Tensor mul(const Tensor& a, double b) { fail("not yet implemented: Tensor mul"); }
__attribute__((weak)) Tensor div(const Tensor& a, double b) { fail("not yet implemented: Tensor div"); }
__attribute__((weak)) Tensor pow(const Tensor& a, double b) { fail("not yet implemented: Tensor pow"); }
__attribute__((weak)) Tensor operator+(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor operator+"); }
__attribute__((weak)) Tensor operator-(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor operator-"); }
__attribute__((weak)) Tensor operator*(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor operator*"); }
__attribute__((weak)) Tensor operator/(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor operator/"); }
__attribute__((weak)) Tensor operator-(const Tensor& a) { fail("not yet implemented: Tensor operator-"); }
__attribute__((weak)) Tensor operator+(const Tensor& a, double b) { fail("not yet implemented: Tensor operator+"); }
__attribute__((weak)) Tensor operator-(const Tensor& a, double b) { fail("not yet implemented: Tensor operator-"); }
__attribute__((weak)) Tensor operator*(const Tensor& a, double b) { fail("not yet implemented: Tensor operator*"); }
__attribute__((weak)) Tensor operator/(const Tensor& a, double b) { fail("not yet implemented: Tensor operator/"); }
__attribute__((weak)) Tensor operator*(double a, const Tensor& b) { fail("not yet implemented: Tensor operator*"); }
__attribute__((weak)) Tensor argmax(const Tensor& x, int64_t axis, bool keepdim) { fail("not yet implemented: Tensor argmax"); }
__attribute__((weak)) Tensor sum_to(const Tensor& x, const Shape& shape) { fail("not yet implemented: Tensor sum_to"); }
__attribute__((weak)) Tensor matmul(const Tensor& a, const Tensor& b) { fail("not yet implemented: Tensor matmul"); }
__attribute__((weak)) Tensor conv_backward_input(const Tensor& grad_y, const Tensor& w, const Shape& input_shape, Shape stride, Shape padding, Shape dilation, int64_t groups) { fail("not yet implemented: Tensor conv_backward_input"); }
__attribute__((weak)) Tensor conv_backward_weight(const Tensor& x, const Tensor& grad_y, const Shape& weight_shape, Shape stride, Shape padding, Shape dilation, int64_t groups) { fail("not yet implemented: Tensor conv_backward_weight"); }
__attribute__((weak)) Tensor max_pool_backward(const Tensor& x, const Tensor& grad_y, Shape kernel, Shape stride, Shape padding, bool ceil_mode) { fail("not yet implemented: Tensor max_pool_backward"); }
__attribute__((weak)) Tensor avg_pool_backward(const Tensor& grad_y, const Shape& input_shape, Shape kernel, Shape stride, Shape padding, bool ceil_mode, bool count_include_pad) { fail("not yet implemented: Tensor avg_pool_backward"); }
__attribute__((weak)) Tensor reshape(const Tensor& x, Shape shape) { fail("not yet implemented: Tensor reshape"); }
__attribute__((weak)) Tensor permute(const Tensor& x, std::vector<int64_t> dims) { fail("not yet implemented: Tensor permute"); }
__attribute__((weak)) Tensor transpose(const Tensor& x, int64_t a, int64_t b) { fail("not yet implemented: Tensor transpose"); }
__attribute__((weak)) Tensor expand(const Tensor& x, Shape shape) { fail("not yet implemented: Tensor expand"); }
__attribute__((weak)) Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t stop, int64_t step) { fail("not yet implemented: Tensor slice"); }
__attribute__((weak)) Tensor concat(const std::vector<Tensor>& xs, int64_t axis) { fail("not yet implemented: Tensor concat"); }
__attribute__((weak)) Tensor pad(const Tensor& x, std::vector<int64_t> pads, double value) { fail("not yet implemented: Tensor pad"); }
__attribute__((weak)) Tensor contiguous(const Tensor& x) { fail("not yet implemented: Tensor contiguous"); }
__attribute__((weak)) Tensor copy(const Tensor& x) { fail("not yet implemented: Tensor copy"); }
__attribute__((weak)) Tensor squeeze(const Tensor& x, int64_t axis) { fail("not yet implemented: Tensor squeeze"); }
__attribute__((weak)) Tensor unsqueeze(const Tensor& x, int64_t axis) { fail("not yet implemented: Tensor unsqueeze"); }
__attribute__((weak)) Tensor flatten(const Tensor& x, int64_t start_axis) { fail("not yet implemented: Tensor flatten"); }
__attribute__((weak)) Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index) { fail("not yet implemented: Tensor index_select"); }
__attribute__((weak)) Tensor gather(const Tensor& x, int64_t axis, const Tensor& index) { fail("not yet implemented: Tensor gather"); }
__attribute__((weak)) Tensor scatter_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src) { fail("not yet implemented: Tensor scatter_add"); }
__attribute__((weak)) Tensor uniform(Shape shape, double low, double high, DType dtype, Device device) { fail("not yet implemented: Tensor uniform"); }
__attribute__((weak)) Tensor normal(Shape shape, double mean, double std, DType dtype, Device device) { fail("not yet implemented: Tensor normal"); }
__attribute__((weak)) Tensor bernoulli(Shape shape, double p, DType dtype, Device device) { fail("not yet implemented: Tensor bernoulli"); }
__attribute__((weak)) Tensor softmax(const Tensor& x, int64_t axis) { fail("not yet implemented: Tensor softmax"); }
__attribute__((weak)) Tensor log_softmax(const Tensor& x, int64_t axis) { fail("not yet implemented: Tensor log_softmax"); }
__attribute__((weak)) Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index, double label_smoothing, const std::string& reduction) { fail("not yet implemented: Tensor cross_entropy"); }
__attribute__((weak)) Tensor nll_loss(const Tensor& log_probs, const Tensor& target, int64_t ignore_index, const std::string& reduction) { fail("not yet implemented: Tensor nll_loss"); }
__attribute__((weak)) Tensor mse_loss(const Tensor& a, const Tensor& b, const std::string& reduction) { fail("not yet implemented: Tensor mse_loss"); }
__attribute__((weak)) Tensor embedding(const Tensor& weight, const Tensor& indices) { fail("not yet implemented: Tensor embedding"); }
__attribute__((weak)) Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t normalized_dims, double eps) { fail("not yet implemented: Tensor layer_norm"); }
__attribute__((weak)) BatchNormResult batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean, const Tensor& running_var, bool training, double eps) { fail("not yet implemented: BatchNormResult batch_norm"); }
__attribute__((weak)) Tensor local_response_norm(const Tensor& x, int64_t size, double alpha, double beta, double k) { fail("not yet implemented: Tensor local_response_norm"); }
__attribute__((weak)) Tensor dropout(const Tensor& x, double p, bool training) { fail("not yet implemented: Tensor dropout"); }
__attribute__((weak)) Tensor sum(const Tensor& x, std::vector<int64_t> axes, bool keepdim) { fail("not yet implemented: sum"); }
__attribute__((weak)) Tensor mean(const Tensor& x, std::vector<int64_t> axes, bool keepdim) { fail("not yet implemented: mean"); }
__attribute__((weak)) Tensor max(const Tensor& x, std::vector<int64_t> axes, bool keepdim) { fail("not yet implemented: max"); }
__attribute__((weak)) Tensor conv(const Tensor& x, const Tensor& w, Shape stride, Shape padding, Shape dilation, int64_t groups) { fail("not yet implemented: conv"); }
__attribute__((weak)) Tensor max_pool(const Tensor& x, Shape kernel, Shape stride, Shape padding, bool ceil_mode) { fail("not yet implemented: max_pool"); }
__attribute__((weak)) Tensor avg_pool(const Tensor& x, Shape kernel, Shape stride, Shape padding, bool ceil_mode, bool count_include_pad) { fail("not yet implemented: avg_pool"); }
__attribute__((weak)) Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) { fail("not yet implemented: linear"); }
}  // namespace plumb
