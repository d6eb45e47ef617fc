// Layers: parameters created and initialized as torch.nn does, forward written with ops.h.
#include "plumb/nn/layers.h"

#include <algorithm>
#include <cmath>

#include "plumb/autograd.h"
#include "plumb/nn/init.h"
#include "plumb/ops.h"

namespace plumb::nn {

namespace {

thread_local DType t_dtype = DType::f32;
thread_local Device t_device = kCPU;

Tensor make(Shape shape) { return Tensor::empty(std::move(shape), t_dtype, t_device); }

// PyTorch's reset_parameters for Linear and Conv: kaiming_uniform(a = sqrt(5)) on the weight, which
// is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias.
void init_weight_and_bias(const Tensor& weight, const Tensor& bias) {
  init::kaiming_uniform(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const int64_t fan_in = init::fans(weight).first;
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform(bias, -bound, bound);
  }
}

void check_positive(const char* layer, const char* what, int64_t v) {
  if (v <= 0) fail(layer, ": ", what, " must be > 0, got ", v);
}

// A (C) tensor reshaped to broadcast against (N, C, *spatial): (1, C, 1, ...).
Tensor per_channel(const Tensor& t, int64_t rank) {
  Shape s(static_cast<size_t>(rank), 1);
  s[1] = t.size(0);
  return reshape(t, s);
}

}  // namespace

Shape Sizes::expand(int64_t dims, const char* layer, const char* what) const {
  if (v.empty()) return v;
  if (v.size() == 1) return Shape(static_cast<size_t>(dims), v[0]);
  if (static_cast<int64_t>(v.size()) != dims)
    fail(layer, ": ", what, " ", shape_str(v), " must have 1 or ", dims, " values");
  return v;
}

FactoryScope::FactoryScope(DType dtype, Device device) : prev_dtype_(t_dtype), prev_device_(t_device) {
  if (!is_floating(dtype)) fail("FactoryScope: parameters need a floating dtype, not ", dtype_name(dtype));
  t_dtype = dtype;
  t_device = device;
}
FactoryScope::~FactoryScope() {
  t_dtype = prev_dtype_;
  t_device = prev_device_;
}

// ---- Linear ----
Linear::Linear(int64_t in_features, int64_t out_features, bool has_bias) : in_(in_features), out_(out_features) {
  if (in_features < 0 || out_features < 0)
    fail("Linear: in_features and out_features must be >= 0, got ", in_features, ", ", out_features);
  weight = register_parameter("weight", make({out_features, in_features}));
  if (has_bias) bias = register_parameter("bias", make({out_features}));
  init_weight_and_bias(weight, bias);
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

// ---- Conv ----
ConvNd::ConvNd(int64_t dims, int64_t in_channels, int64_t out_channels, Sizes kernel, Sizes stride, Sizes padding,
               Sizes dilation, int64_t groups, bool has_bias)
    : dims_(dims), in_(in_channels), out_(out_channels), groups_(groups) {
  const std::string layer = "Conv" + std::to_string(dims) + "d";
  const char* l = layer.c_str();
  check_positive(l, "in_channels", in_channels);
  check_positive(l, "out_channels", out_channels);
  check_positive(l, "groups", groups);
  if (in_channels % groups || out_channels % groups)
    fail(layer, ": in_channels ", in_channels, " and out_channels ", out_channels, " must be divisible by groups ",
         groups);
  kernel_ = kernel.expand(dims, l, "kernel");
  stride_ = stride.expand(dims, l, "stride");
  padding_ = padding.expand(dims, l, "padding");
  dilation_ = dilation.expand(dims, l, "dilation");
  if (kernel_.empty()) fail(layer, ": kernel size is empty");
  for (int64_t k : kernel_) check_positive(l, "kernel size", k);
  Shape wshape{out_channels, in_channels / groups};
  wshape.insert(wshape.end(), kernel_.begin(), kernel_.end());
  weight = register_parameter("weight", make(wshape));
  if (has_bias) bias = register_parameter("bias", make({out_channels}));
  init_weight_and_bias(weight, bias);
}

Tensor ConvNd::forward(const Tensor& x) {
  Tensor y = conv(x, weight, stride_, padding_, dilation_, groups_);
  return bias.defined() ? add(y, per_channel(bias, y.dim())) : y;
}

// ---- Pooling ----
PoolNd::PoolNd(int64_t dims, bool max, Sizes kernel, Sizes stride, Sizes padding, bool ceil_mode,
               bool count_include_pad)
    : dims_(dims), max_(max), ceil_mode_(ceil_mode), count_include_pad_(count_include_pad) {
  const std::string layer = std::string(max ? "MaxPool" : "AvgPool") + std::to_string(dims) + "d";
  kernel_ = kernel.expand(dims, layer.c_str(), "kernel");
  stride_ = stride.expand(dims, layer.c_str(), "stride");
  padding_ = padding.expand(dims, layer.c_str(), "padding");
  if (kernel_.empty()) fail(layer, ": kernel size is empty");
}

Tensor PoolNd::forward(const Tensor& x) {
  if (max_) return max_pool(x, kernel_, stride_, padding_, ceil_mode_);
  return avg_pool(x, kernel_, stride_, padding_, ceil_mode_, count_include_pad_);
}

// ---- BatchNorm ----
BatchNormNd::BatchNormNd(const char* type, int64_t num_features, double eps, double momentum, bool affine,
                         bool track_running_stats)
    : type_(type), c_(num_features), eps_(eps), momentum_(momentum) {
  check_positive(type, "num_features", num_features);
  if (!(eps >= 0)) fail(type, ": eps must be >= 0, got ", eps);
  if (!(momentum >= 0 && momentum <= 1)) fail(type, ": momentum must be in [0, 1], got ", momentum);
  if (affine) {
    weight = register_parameter("weight", make({num_features}));
    bias = register_parameter("bias", make({num_features}));
    init::ones(weight);
    init::zeros(bias);
  }
  if (track_running_stats) {
    running_mean = register_buffer("running_mean", Tensor::zeros({num_features}, t_dtype, t_device));
    running_var = register_buffer("running_var", Tensor::ones({num_features}, t_dtype, t_device));
    num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::i64, t_device));
  }
}

Tensor BatchNormNd::forward(const Tensor& x) {
  if (!x.defined()) fail(type_, ": input is undefined");
  const std::string t = type_;
  const bool rank_ok = t == "BatchNorm1d" ? (x.dim() == 2 || x.dim() == 3) : t == "BatchNorm2d" ? x.dim() == 4 : x.dim() == 5;
  if (!rank_ok)
    fail(t, ": expected ", t == "BatchNorm1d" ? "(N, C) or (N, C, L)" : t == "BatchNorm2d" ? "(N, C, H, W)" : "(N, C, D, H, W)",
         " input, got ", shape_str(x.shape()));
  if (x.size(1) != c_) fail(t, "(", c_, "): input ", shape_str(x.shape()), " has ", x.size(1), " channels");
  const bool tracking = running_mean.defined();
  const bool use_batch = training() || !tracking;
  const int64_t per_channel_count = x.numel() / c_;
  if (use_batch && per_channel_count <= 1 && !x.is_meta())
    fail(t, ": training needs more than 1 value per channel, input is ", shape_str(x.shape()));
  BatchNormResult r = batch_norm(x, weight, bias, running_mean, running_var, use_batch, eps_);
  if (training() && tracking) {
    // Running stats are state, not graph: update outside autograd and rebind the buffers' storage.
    NoGradScope no_grad;
    const double n = static_cast<double>(per_channel_count);
    const double unbias = n > 1 ? n / (n - 1) : 1.0;
    const Tensor m = add(mul(running_mean, 1 - momentum_), mul(r.batch_mean, momentum_));
    const Tensor v = add(mul(running_var, 1 - momentum_), mul(r.batch_var, momentum_ * unbias));
    const Tensor nb = add(num_batches_tracked, 1.0);
    for (auto [buf, val] : {std::pair{&running_mean, &m}, {&running_var, &v}, {&num_batches_tracked, &nb}}) {
      buf->impl().storage = val->storage();
      buf->impl().strides = val->strides();
      buf->impl().offset = val->offset();
    }
  }
  return r.y;
}

// ---- LayerNorm ----
LayerNorm::LayerNorm(Shape normalized_shape, double eps, bool elementwise_affine)
    : shape_(std::move(normalized_shape)), eps_(eps) {
  if (shape_.empty()) fail("LayerNorm: normalized_shape is empty");
  for (int64_t s : shape_) check_positive("LayerNorm", "normalized size", s);
  if (elementwise_affine) {
    weight = register_parameter("weight", make(shape_));
    bias = register_parameter("bias", make(shape_));
    init::ones(weight);
    init::zeros(bias);
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  const auto k = static_cast<int64_t>(shape_.size());
  if (!x.defined() || x.dim() < k || !std::equal(shape_.begin(), shape_.end(), x.shape().end() - k))
    fail("LayerNorm", shape_str(shape_), ": input ", x.defined() ? shape_str(x.shape()) : "undefined",
         " does not end with the normalized shape");
  return layer_norm(x, weight, bias, k, eps_);
}

// ---- LocalResponseNorm ----
LocalResponseNorm::LocalResponseNorm(int64_t size, double alpha, double beta, double k)
    : size_(size), alpha_(alpha), beta_(beta), k_(k) {
  check_positive("LocalResponseNorm", "size", size);
}

Tensor LocalResponseNorm::forward(const Tensor& x) { return local_response_norm(x, size_, alpha_, beta_, k_); }

// ---- Dropout ----
Dropout::Dropout(double p) : p_(p) {
  if (!(p >= 0 && p <= 1)) fail("Dropout: p must be in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p_, training()); }

// ---- Embedding ----
Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim) {
  check_positive("Embedding", "num_embeddings", num_embeddings);
  check_positive("Embedding", "embedding_dim", embedding_dim);
  weight = register_parameter("weight", make({num_embeddings, embedding_dim}));
  init::normal(weight, 0, 1);
}

Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices); }

// ---- Flatten and activations ----
Tensor Flatten::forward(const Tensor& x) {
  const int64_t r = x.dim();
  const int64_t s = start_ < 0 ? start_ + r : start_, e = end_ < 0 ? end_ + r : end_;
  if (r == 0 || s < 0 || s >= r || e < s || e >= r)
    fail("Flatten(start_dim=", start_, ", end_dim=", end_, "): invalid for input ", shape_str(x.shape()));
  Shape shape(x.shape().begin(), x.shape().begin() + s);
  int64_t n = 1;
  for (int64_t d = s; d <= e; ++d) n *= x.size(d);
  shape.push_back(n);
  shape.insert(shape.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }
Tensor Softmax::forward(const Tensor& x) { return softmax(x, dim_); }
Tensor LogSoftmax::forward(const Tensor& x) { return log_softmax(x, dim_); }

// ---- Sequential ----
Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) {
  for (const auto& m : modules) add(m);
}

Sequential& Sequential::add(std::shared_ptr<Module> m) {
  if (!m) fail("Sequential::add: module is null");
  register_module(std::to_string(size()), std::move(m));
  return *this;
}

std::shared_ptr<Module> Sequential::operator[](size_t i) const {
  const auto children = named_children();
  if (i >= children.size()) fail("Sequential: index ", i, " out of range for ", children.size(), " modules");
  return children[i].second;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& [name, m] : named_children()) y = (*m)(y);
  return y;
}

}  // namespace plumb::nn
