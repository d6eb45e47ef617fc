#pragma once
// Attribute structs of the built-in ops. Each lists its fields once in fields().
#include <limits>
#include <string>
#include <vector>

#include "plumb/attrs.h"
#include "plumb/shape.h"

namespace plumb {

struct ClampAttrs : AttrsOf<ClampAttrs> {
  double min = 0, max = 0;
  template <class F> void fields(F&& f) { f("min", min); f("max", max); }
};

struct CastAttrs : AttrsOf<CastAttrs> {
  DType dtype = DType::f32;
  template <class F> void fields(F&& f) { f("dtype", dtype); }
};

// Reduce over `axes` (empty: all axes).
struct ReduceAttrs : AttrsOf<ReduceAttrs> {
  std::vector<int64_t> axes;
  bool keepdim = false;
  template <class F> void fields(F&& f) { f("axes", axes); f("keepdim", keepdim); }
};

struct AxisAttrs : AttrsOf<AxisAttrs> {
  int64_t axis = 0;
  template <class F> void fields(F&& f) { f("axis", axis); }
};

struct ArgReduceAttrs : AttrsOf<ArgReduceAttrs> {
  int64_t axis = 0;
  bool keepdim = false;
  template <class F> void fields(F&& f) { f("axis", axis); f("keepdim", keepdim); }
};

// N-d convolution; N = weight rank - 2. Padding is symmetric per spatial dim.
struct ConvAttrs : AttrsOf<ConvAttrs> {
  Shape stride, padding, dilation;
  int64_t groups = 1;
  template <class F> void fields(F&& f) {
    f("stride", stride); f("padding", padding); f("dilation", dilation); f("groups", groups);
  }
};

// Backward convolutions carry the shape of the operand they produce (it is ambiguous under stride).
struct ConvBackwardAttrs : AttrsOf<ConvBackwardAttrs> {
  Shape stride, padding, dilation;
  int64_t groups = 1;
  Shape result_shape;
  template <class F> void fields(F&& f) {
    f("stride", stride); f("padding", padding); f("dilation", dilation); f("groups", groups);
    f("result_shape", result_shape);
  }
};

struct PoolAttrs : AttrsOf<PoolAttrs> {
  Shape kernel, stride, padding;
  bool ceil_mode = false;
  bool count_include_pad = true;  // average pooling only
  template <class F> void fields(F&& f) {
    f("kernel", kernel); f("stride", stride); f("padding", padding); f("ceil_mode", ceil_mode);
    f("count_include_pad", count_include_pad);
  }
};

// avg_pool_backward needs the input shape (ambiguous under stride and ceil_mode).
struct PoolBackwardAttrs : AttrsOf<PoolBackwardAttrs> {
  Shape kernel, stride, padding;
  bool ceil_mode = false;
  bool count_include_pad = true;
  Shape input_shape;
  template <class F> void fields(F&& f) {
    f("kernel", kernel); f("stride", stride); f("padding", padding); f("ceil_mode", ceil_mode);
    f("count_include_pad", count_include_pad); f("input_shape", input_shape);
  }
};

struct ShapeAttrs : AttrsOf<ShapeAttrs> {  // reshape (may hold one -1), expand
  Shape shape;
  template <class F> void fields(F&& f) { f("shape", shape); }
};

struct PermuteAttrs : AttrsOf<PermuteAttrs> {
  std::vector<int64_t> dims;
  template <class F> void fields(F&& f) { f("dims", dims); }
};

struct SliceAttrs : AttrsOf<SliceAttrs> {  // Python-style bounds, clamped; step > 0
  int64_t axis = 0, start = 0, stop = 0, step = 1;
  template <class F> void fields(F&& f) { f("axis", axis); f("start", start); f("stop", stop); f("step", step); }
};

// split: consecutive pieces of `sizes` along `axis`; the sizes sum to the axis length.
struct SplitAttrs : AttrsOf<SplitAttrs> {
  int64_t axis = 0;
  std::vector<int64_t> sizes;
  template <class F> void fields(F&& f) { f("axis", axis); f("sizes", sizes); }
};

// Constant padding; pads = [begin_0, ..., begin_{r-1}, end_0, ..., end_{r-1}] as in ONNX.
struct PadAttrs : AttrsOf<PadAttrs> {
  std::vector<int64_t> pads;
  double value = 0;
  template <class F> void fields(F&& f) { f("pads", pads); f("value", value); }
};

// uniform: U[a, b); normal: mean a, std b; bernoulli: P(1) = a. Element i draws from Philox(seed, offset + i).
// normal: a = mean, b = std; values outside [lo, hi] are redrawn (a truncated normal).
struct RandomAttrs : AttrsOf<RandomAttrs> {
  Shape shape;
  double a = 0, b = 1;
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
  int64_t seed = 0, offset = 0;
  DType dtype = DType::f32;
  Device device = kCPU;
  template <class F> void fields(F&& f) {
    f("shape", shape); f("a", a); f("b", b); f("lo", lo); f("hi", hi); f("seed", seed); f("offset", offset);
    f("dtype", dtype); f("device", device);
  }
};

// reduction: "mean", "sum" or "none".
struct LossAttrs : AttrsOf<LossAttrs> {
  int64_t ignore_index = -100;
  double label_smoothing = 0;
  std::string reduction = "mean";
  template <class F> void fields(F&& f) {
    f("ignore_index", ignore_index); f("label_smoothing", label_smoothing); f("reduction", reduction);
  }
};

struct LayerNormAttrs : AttrsOf<LayerNormAttrs> {
  int64_t normalized_dims = 1;  // how many trailing dims are normalized
  double eps = 1e-5;
  template <class F> void fields(F&& f) { f("normalized_dims", normalized_dims); f("eps", eps); }
};

struct BatchNormAttrs : AttrsOf<BatchNormAttrs> {
  bool training = true;
  double eps = 1e-5;
  template <class F> void fields(F&& f) { f("training", training); f("eps", eps); }
};

// Local response normalization across channels (AlexNet): x / (k + alpha/size * sum x^2)^beta.
struct LrnAttrs : AttrsOf<LrnAttrs> {
  int64_t size = 5;
  double alpha = 1e-4, beta = 0.75, k = 1.0;
  template <class F> void fields(F&& f) { f("size", size); f("alpha", alpha); f("beta", beta); f("k", k); }
};

struct DropoutAttrs : AttrsOf<DropoutAttrs> {
  double p = 0.5;
  bool training = true;
  int64_t seed = 0, offset = 0;
  template <class F> void fields(F&& f) {
    f("p", p); f("training", training); f("seed", seed); f("offset", offset);
  }
};

// Hyperparameters of the optimizer update ops (sgd_update, adam_update, rmsprop_update, adagrad_update);
// each op reads the fields it needs. `step` is 1-based (Adam's bias correction).
struct OptimAttrs : AttrsOf<OptimAttrs> {
  double lr = 0.01, momentum = 0, beta1 = 0.9, beta2 = 0.999, alpha = 0.99, eps = 1e-8, weight_decay = 0;
  bool nesterov = false, decoupled_weight_decay = false;
  int64_t step = 1;
  template <class F> void fields(F&& f) {
    f("lr", lr); f("momentum", momentum); f("beta1", beta1); f("beta2", beta2); f("alpha", alpha); f("eps", eps);
    f("weight_decay", weight_decay); f("nesterov", nesterov); f("decoupled_weight_decay", decoupled_weight_decay);
    f("step", step);
  }
};

}  // namespace plumb
