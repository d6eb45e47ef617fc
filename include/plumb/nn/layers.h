#pragma once
// Standard layers, each a Module built from the functions of ops.h, with PyTorch's parameter shapes,
// names and default initializations (so parameter counts and state names match torch.nn).
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>

#include "plumb/nn/module.h"

namespace plumb::nn {

// A per-spatial-dim size: one value (repeated over every dim) or one value per dim.
struct Sizes {
  Shape v;
  Sizes(int64_t x) : v{x} {}  // NOLINT: implicit, so Conv2d(1, 6, 5) reads as in PyTorch
  Sizes(std::initializer_list<int64_t> l) : v(l) {}
  Sizes(Shape s) : v(std::move(s)) {}  // NOLINT
  // The sizes for `dims` spatial dims; `what` names the argument in the error.
  Shape expand(int64_t dims, const char* layer, const char* what) const;
};

// Dtype and device of the parameters and buffers layers create; f32 on CPU unless a FactoryScope
// says otherwise (e.g. kMeta to build a model that allocates nothing).
class FactoryScope {
 public:
  FactoryScope(DType dtype, Device device = kCPU);
  ~FactoryScope();
  FactoryScope(const FactoryScope&) = delete;
  FactoryScope& operator=(const FactoryScope&) = delete;

 private:
  DType prev_dtype_;
  Device prev_device_;
};

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool has_bias = true);
  Tensor forward(const Tensor& x) override;  // x: (..., in) -> (..., out)
  std::string type_name() const override { return "Linear"; }
  Tensor weight, bias;  // weight: (out, in), bias: (out) or undefined

 private:
  int64_t in_, out_;
};

// N-d convolution; Conv1d/2d/3d fix N. weight: (out, in/groups, *kernel), bias: (out).
class ConvNd : public Module {
 public:
  ConvNd(int64_t dims, int64_t in_channels, int64_t out_channels, Sizes kernel, Sizes stride, Sizes padding,
         Sizes dilation, int64_t groups, bool has_bias);
  Tensor forward(const Tensor& x) override;  // x: (N, C, *spatial)
  Tensor weight, bias;

 protected:
  int64_t dims_, in_, out_, groups_;
  Shape kernel_, stride_, padding_, dilation_;
};

class Conv1d : public ConvNd {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, Sizes kernel, Sizes stride = 1, Sizes padding = 0,
         Sizes dilation = 1, int64_t groups = 1, bool has_bias = true)
      : ConvNd(1, in_channels, out_channels, kernel, stride, padding, dilation, groups, has_bias) {}
  std::string type_name() const override { return "Conv1d"; }
};
class Conv2d : public ConvNd {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Sizes kernel, Sizes stride = 1, Sizes padding = 0,
         Sizes dilation = 1, int64_t groups = 1, bool has_bias = true)
      : ConvNd(2, in_channels, out_channels, kernel, stride, padding, dilation, groups, has_bias) {}
  std::string type_name() const override { return "Conv2d"; }
};
class Conv3d : public ConvNd {
 public:
  Conv3d(int64_t in_channels, int64_t out_channels, Sizes kernel, Sizes stride = 1, Sizes padding = 0,
         Sizes dilation = 1, int64_t groups = 1, bool has_bias = true)
      : ConvNd(3, in_channels, out_channels, kernel, stride, padding, dilation, groups, has_bias) {}
  std::string type_name() const override { return "Conv3d"; }
};

// Pooling; an empty stride ({}) means stride = kernel, as PyTorch's stride=None.
class PoolNd : public Module {
 public:
  PoolNd(int64_t dims, bool max, Sizes kernel, Sizes stride, Sizes padding, bool ceil_mode, bool count_include_pad);
  Tensor forward(const Tensor& x) override;  // x: (N, C, *spatial)

 protected:
  int64_t dims_;
  bool max_, ceil_mode_, count_include_pad_;
  Shape kernel_, stride_, padding_;
};

class MaxPool1d : public PoolNd {
 public:
  MaxPool1d(Sizes kernel, Sizes stride = Shape{}, Sizes padding = 0, bool ceil_mode = false)
      : PoolNd(1, true, kernel, stride, padding, ceil_mode, true) {}
  std::string type_name() const override { return "MaxPool1d"; }
};
class MaxPool2d : public PoolNd {
 public:
  MaxPool2d(Sizes kernel, Sizes stride = Shape{}, Sizes padding = 0, bool ceil_mode = false)
      : PoolNd(2, true, kernel, stride, padding, ceil_mode, true) {}
  std::string type_name() const override { return "MaxPool2d"; }
};
class MaxPool3d : public PoolNd {
 public:
  MaxPool3d(Sizes kernel, Sizes stride = Shape{}, Sizes padding = 0, bool ceil_mode = false)
      : PoolNd(3, true, kernel, stride, padding, ceil_mode, true) {}
  std::string type_name() const override { return "MaxPool3d"; }
};
class AvgPool1d : public PoolNd {
 public:
  AvgPool1d(Sizes kernel, Sizes stride = Shape{}, Sizes padding = 0, bool ceil_mode = false,
            bool count_include_pad = true)
      : PoolNd(1, false, kernel, stride, padding, ceil_mode, count_include_pad) {}
  std::string type_name() const override { return "AvgPool1d"; }
};
class AvgPool2d : public PoolNd {
 public:
  AvgPool2d(Sizes kernel, Sizes stride = Shape{}, Sizes padding = 0, bool ceil_mode = false,
            bool count_include_pad = true)
      : PoolNd(2, false, kernel, stride, padding, ceil_mode, count_include_pad) {}
  std::string type_name() const override { return "AvgPool2d"; }
};
class AvgPool3d : public PoolNd {
 public:
  AvgPool3d(Sizes kernel, Sizes stride = Shape{}, Sizes padding = 0, bool ceil_mode = false,
            bool count_include_pad = true)
      : PoolNd(3, false, kernel, stride, padding, ceil_mode, count_include_pad) {}
  std::string type_name() const override { return "AvgPool3d"; }
};

// Batch norm over (N, C, *): weight/bias (C) parameters when affine; running_mean, running_var (C)
// and num_batches_tracked (0-d i64) buffers when tracking. Training normalizes with batch statistics
// and updates running = (1 - momentum) * running + momentum * batch (unbiased variance), as PyTorch.
class BatchNormNd : public Module {
 public:
  BatchNormNd(const char* type, int64_t num_features, double eps, double momentum, bool affine,
              bool track_running_stats);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return type_; }
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  const char* type_;
  int64_t c_;
  double eps_, momentum_;
};

class BatchNorm1d : public BatchNormNd {  // (N, C) or (N, C, L)
 public:
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true,
                       bool track_running_stats = true)
      : BatchNormNd("BatchNorm1d", num_features, eps, momentum, affine, track_running_stats) {}
};
class BatchNorm2d : public BatchNormNd {  // (N, C, H, W)
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true,
                       bool track_running_stats = true)
      : BatchNormNd("BatchNorm2d", num_features, eps, momentum, affine, track_running_stats) {}
};
class BatchNorm3d : public BatchNormNd {  // (N, C, D, H, W)
 public:
  explicit BatchNorm3d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true,
                       bool track_running_stats = true)
      : BatchNormNd("BatchNorm3d", num_features, eps, momentum, affine, track_running_stats) {}
};

// Normalizes over the trailing dims `normalized_shape`; weight (ones) and bias (zeros) of that shape.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  explicit LayerNorm(int64_t normalized_size, double eps = 1e-5, bool elementwise_affine = true)
      : LayerNorm(Shape{normalized_size}, eps, elementwise_affine) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LayerNorm"; }
  Tensor weight, bias;

 private:
  Shape shape_;
  double eps_;
};

class LocalResponseNorm : public Module {
 public:
  explicit LocalResponseNorm(int64_t size, double alpha = 1e-4, double beta = 0.75, double k = 1.0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LocalResponseNorm"; }

 private:
  int64_t size_;
  double alpha_, beta_, k_;
};

// Zeroes elements with probability p in training mode; the identity in eval mode.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }

 private:
  double p_;
};

// weight: (num_embeddings, dim) ~ N(0, 1); forward takes integer indices -> (*indices, dim).
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim);
  Tensor forward(const Tensor& indices) override;
  std::string type_name() const override { return "Embedding"; }
  Tensor weight;
};

// Flattens dims start_dim..end_dim (inclusive, negative from the end) into one.
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_(start_dim), end_(end_dim) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Flatten"; }

 private:
  int64_t start_, end_;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU"; }
};
class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Tanh"; }
};
class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sigmoid"; }
};
class Softmax : public Module {
 public:
  explicit Softmax(int64_t dim = -1) : dim_(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Softmax"; }

 private:
  int64_t dim_;
};
class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(int64_t dim = -1) : dim_(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LogSoftmax"; }

 private:
  int64_t dim_;
};

// Runs its children in order; they are named "0", "1", ...
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  Sequential& add(std::shared_ptr<Module> m);
  size_t size() const { return named_children().size(); }
  std::shared_ptr<Module> operator[](size_t i) const;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
};

}  // namespace plumb::nn
