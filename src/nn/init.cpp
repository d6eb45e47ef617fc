// Initializers: draw with the dispatched random ops, then write the draw into the target.
#include "plumb/nn/init.h"

#include <cmath>
#include <cstring>

#include "plumb/autograd.h"
#include "plumb/ops.h"

namespace plumb::nn {

void copy_into(const Tensor& dst, const Tensor& src) {
  if (!dst.defined() || !src.defined()) fail("copy_into: undefined tensor");
  if (dst.shape() != src.shape() || dst.dtype() != src.dtype())
    fail("copy_into: destination ", dst.spec().str(), " does not match source ", src.spec().str());
  if (dst.device() != src.device())
    fail("copy_into: destination is on ", dst.spec().str(), ", source on ", src.spec().str(),
         "; devices must match");
  if (dst.is_meta()) return;  // no data to write
  NoGradScope no_grad;
  if (dst.device().type == DeviceType::cpu) {
    const Tensor s = contiguous(src);
    const size_t esize = dtype_size(dst.dtype());
    if (dst.is_contiguous()) {
      if (dst.nbytes() > 0 && dst.raw_data() != s.raw_data()) std::memmove(dst.raw_data(), s.raw_data(), dst.nbytes());
      return;
    }
    // Strided destination: walk its logical elements in row-major order.
    const auto* from = static_cast<const char*>(s.raw_data());
    auto* base = static_cast<char*>(dst.raw_data());
    const Shape& shape = dst.shape();
    const Shape& strides = dst.strides();
    const int64_t n = dst.numel();
    for (int64_t i = 0; i < n; ++i) {
      int64_t rest = i, off = 0;
      for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
        off += (rest % shape[d]) * strides[d];
        rest /= shape[d];
      }
      std::memcpy(base + off * static_cast<int64_t>(esize), from + i * static_cast<int64_t>(esize), esize);
    }
    return;
  }
  // Other devices: no host access, so the handle is rebound to a fresh copy of src.
  if (dst.offset() != 0 || !dst.is_contiguous() || !dst.storage() || dst.storage()->nbytes() != dst.nbytes())
    fail("copy_into: cannot fill a view on ", dst.spec().str(), "; only tensors owning their storage");
  const Tensor c = copy(src);
  dst.impl().storage = c.storage();
  dst.impl().strides = c.strides();
  dst.impl().offset = c.offset();
}

namespace init {

namespace {

void check_defined(const Tensor& t, const char* fn) {
  if (!t.defined()) fail("init::", fn, ": tensor is undefined");
}

double fan_for(const Tensor& t, FanMode mode) {
  const auto [in, out] = fans(t);
  const int64_t f = mode == FanMode::fan_in ? in : out;
  if (f <= 0) fail("init: fan is 0 for a tensor of shape ", shape_str(t.shape()));
  return static_cast<double>(f);
}

}  // namespace

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "conv1d" || nonlinearity == "conv2d" ||
      nonlinearity == "conv3d" || nonlinearity == "sigmoid")
    return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "selu") return 0.75;
  fail("init::calculate_gain: unknown nonlinearity '", nonlinearity,
       "' (linear, conv1d, conv2d, conv3d, sigmoid, tanh, relu, leaky_relu, selu)");
}

std::pair<int64_t, int64_t> fans(const Tensor& t) {
  check_defined(t, "fans");
  if (t.dim() < 2)
    fail("init: fan in and fan out need a tensor of rank >= 2, got shape ", shape_str(t.shape()));
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

Tensor uniform(const Tensor& t, double low, double high) {
  check_defined(t, "uniform");
  if (!(low <= high)) fail("init::uniform: low ", low, " must be <= high ", high);
  NoGradScope no_grad;
  copy_into(t, plumb::uniform(t.shape(), low, high, t.dtype(), t.device()));
  return t;
}

Tensor normal(const Tensor& t, double mean, double std) {
  check_defined(t, "normal");
  if (!(std >= 0)) fail("init::normal: std must be >= 0, got ", std);
  NoGradScope no_grad;
  copy_into(t, plumb::normal(t.shape(), mean, std, t.dtype(), t.device()));
  return t;
}

Tensor constant(const Tensor& t, double value) {
  check_defined(t, "constant");
  copy_into(t, Tensor::full(t.shape(), value, t.dtype(), t.device()));
  return t;
}
Tensor zeros(const Tensor& t) { return constant(t, 0); }
Tensor ones(const Tensor& t) { return constant(t, 1); }

Tensor truncated_normal(const Tensor& t, double mean, double std, double a, double b) {
  check_defined(t, "truncated_normal");
  if (!(std > 0)) fail("init::truncated_normal: std must be > 0, got ", std);
  if (!(a < b)) fail("init::truncated_normal: a ", a, " must be < b ", b);
  NoGradScope no_grad;
  try {
    copy_into(t, plumb::truncated_normal(t.shape(), mean, std, a, b, t.dtype(), t.device()));
  } catch (const Error& e) {
    fail("init::truncated_normal: ", e.what());
  }
  return t;
}

Tensor xavier_uniform(const Tensor& t, double gain) {
  const auto [in, out] = fans(t);
  const double std = gain * std::sqrt(2.0 / static_cast<double>(in + out));
  const double bound = std::sqrt(3.0) * std;
  return uniform(t, -bound, bound);
}

Tensor xavier_normal(const Tensor& t, double gain) {
  const auto [in, out] = fans(t);
  return normal(t, 0, gain * std::sqrt(2.0 / static_cast<double>(in + out)));
}

Tensor kaiming_uniform(const Tensor& t, double a, FanMode mode, const std::string& nonlinearity) {
  check_defined(t, "kaiming_uniform");
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(fan_for(t, mode));
  const double bound = std::sqrt(3.0) * std;
  return uniform(t, -bound, bound);
}

Tensor kaiming_normal(const Tensor& t, double a, FanMode mode, const std::string& nonlinearity) {
  check_defined(t, "kaiming_normal");
  return normal(t, 0, calculate_gain(nonlinearity, a) / std::sqrt(fan_for(t, mode)));
}

}  // namespace init
}  // namespace plumb::nn
