#pragma once
// Parameter initializers as torch.nn.init: each fills a tensor in place with values drawn by plumb's
// random ops from the seeded default generator, so manual_seed makes a model reproducible.
#include <string>
#include <utility>

#include "plumb/tensor.h"

namespace plumb::nn {

// Writes src's values into dst (same shape and dtype) so every handle sharing dst's TensorImpl sees
// them: CPU tensors are written through (views of dst see it too); other devices rebind dst's storage,
// which needs dst to own its whole storage. Runs outside autograd.
void copy_into(const Tensor& dst, const Tensor& src);

namespace init {

enum class FanMode { fan_in, fan_out };

// torch.nn.init.calculate_gain: "linear", "conv1d".."conv3d", "sigmoid" -> 1, "tanh" -> 5/3,
// "relu" -> sqrt(2), "leaky_relu" -> sqrt(2 / (1 + param^2)), "selu" -> 3/4.
double calculate_gain(const std::string& nonlinearity, double param = 0.01);
// (fan_in, fan_out) of a weight of rank >= 2: size(1) * receptive field, size(0) * receptive field.
std::pair<int64_t, int64_t> fans(const Tensor& t);

Tensor uniform(const Tensor& t, double low = 0, double high = 1);
Tensor normal(const Tensor& t, double mean = 0, double std = 1);
Tensor constant(const Tensor& t, double value);
Tensor zeros(const Tensor& t);
Tensor ones(const Tensor& t);
// Normal(mean, std) restricted to [a, b]: values outside are redrawn until none is left.
Tensor truncated_normal(const Tensor& t, double mean = 0, double std = 1, double a = -2, double b = 2);
// Glorot: std = gain * sqrt(2 / (fan_in + fan_out)); uniform bound sqrt(3) * std.
Tensor xavier_uniform(const Tensor& t, double gain = 1);
Tensor xavier_normal(const Tensor& t, double gain = 1);
// He: std = gain(nonlinearity, a) / sqrt(fan); uniform bound sqrt(3) * std.
Tensor kaiming_uniform(const Tensor& t, double a = 0, FanMode mode = FanMode::fan_in,
                       const std::string& nonlinearity = "leaky_relu");
Tensor kaiming_normal(const Tensor& t, double a = 0, FanMode mode = FanMode::fan_in,
                      const std::string& nonlinearity = "leaky_relu");

}  // namespace init
}  // namespace plumb::nn
