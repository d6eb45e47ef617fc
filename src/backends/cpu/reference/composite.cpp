// Fused CPU kernels for composites: softmax and log_softmax in one pass per row instead of five ops.
// Registered as backend "fused": they stand in for the decomposition; the records' vjps make them usable under grad.
#include <algorithm>
#include <cmath>

#include "backends/cpu/cpu_util.h"
#include "backends/cpu/reference/reference.h"
#include "ops/op_def.h"

namespace plumb::backends::reference {

namespace {

// x: (outer, n, inner) viewed around the softmax axis; a 0-d input is one row of one element.
struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
};

AxisSplit split_at(const Shape& shape, int64_t axis) {
  AxisSplit s;
  if (shape.empty()) return s;
  const int64_t ax = normalize_axis(axis, static_cast<int64_t>(shape.size()), "softmax");
  for (int64_t d = 0; d < ax; ++d) s.outer *= shape[d];
  s.n = shape[ax];
  for (size_t d = static_cast<size_t>(ax) + 1; d < shape.size(); ++d) s.inner *= shape[d];
  return s;
}

template <bool kLog>
void softmax_kernel(const KernelArgs& a) {
  const Tensor& x = a.inputs[0];
  const Tensor& y = a.outputs[0];
  const AxisSplit s = split_at(x.shape(), ops::attrs_as<AxisAttrs>(a.attrs).axis);
  cpu::with_float(x.dtype(), [&](auto t) {
    using T = decltype(t);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    // One task per (outer, inner) row; rows are independent.
    parallel_for(s.outer * s.inner, 64, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t base = (r / s.inner) * s.n * s.inner + r % s.inner;
        double m = -INFINITY;
        for (int64_t j = 0; j < s.n; ++j) m = std::max(m, static_cast<double>(px[base + j * s.inner]));
        double total = 0;
        for (int64_t j = 0; j < s.n; ++j) total += std::exp(static_cast<double>(px[base + j * s.inner]) - m);
        const double log_total = std::log(total);
        for (int64_t j = 0; j < s.n; ++j) {
          const double z = static_cast<double>(px[base + j * s.inner]) - m;
          py[base + j * s.inner] = static_cast<T>(kLog ? z - log_total : std::exp(z) / total);
        }
      }
    });
  });
}

}  // namespace

void register_composite() {
  register_kernel(Kernel{"softmax", DeviceType::cpu, "fused", cpu::kFloatTypes, &softmax_kernel<false>, 5, false});
  register_kernel(
      Kernel{"log_softmax", DeviceType::cpu, "fused", cpu::kFloatTypes, &softmax_kernel<true>, 5, false});
}

}  // namespace plumb::backends::reference
