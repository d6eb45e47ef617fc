// Reference kernels of uniform, normal and bernoulli: element i uses Philox counter offset + i,
// so any split of the range across threads gives the same bits.
#include <cmath>

#include "backends/cpu/cpu_util.h"
#include "backends/cpu/reference/reference.h"
#include "ops/op_def.h"
#include "plumb/random.h"

namespace plumb::backends::reference {

namespace {

constexpr int64_t kGrain = 4096;

template <class T>
T uniform01(uint64_t seed, uint64_t counter) {
  if constexpr (std::is_same_v<T, float>) return philox_uniform_f32(seed, counter);
  else return philox_uniform_f64(seed, counter);
}

// Fills out[i] = f(counter offset + i) over the output in parallel chunks.
template <class F>
void fill_random(const KernelArgs& a, F&& f) {
  const auto& attrs = ops::attrs_as<RandomAttrs>(a.attrs);
  Tensor& out = a.outputs[0];
  const uint64_t seed = static_cast<uint64_t>(attrs.seed), offset = static_cast<uint64_t>(attrs.offset);
  cpu::with_float(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(out.raw_data());
    parallel_for(out.numel(), kGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) p[i] = f(T{}, seed, offset + static_cast<uint64_t>(i), attrs);
    });
  });
}

// U[low, high): low + (high - low) * u, kept below high when rounding would reach it.
void uniform_kernel(const KernelArgs& a) {
  fill_random(a, [](auto tag, uint64_t seed, uint64_t counter, const RandomAttrs& at) {
    using T = decltype(tag);
    const T lo = static_cast<T>(at.a), hi = static_cast<T>(at.b);
    T v = static_cast<T>(at.a + (at.b - at.a) * static_cast<double>(uniform01<T>(seed, counter)));
    if (v >= hi && hi > lo) v = std::nextafter(hi, lo);
    return v;
  });
}

// Truncation redraws an element from counter + k * kRedrawStride (k = 1, 2, ...) until it lands in
// [lo, hi]; infer guarantees the interval holds at least 1% of the mass.
void normal_kernel(const KernelArgs& a) {
  fill_random(a, [](auto tag, uint64_t seed, uint64_t counter, const RandomAttrs& at) {
    using T = decltype(tag);
    T v = static_cast<T>(at.a + at.b * philox_normal(seed, counter));
    for (uint64_t k = 1; !(v >= at.lo && v <= at.hi); ++k)
      v = static_cast<T>(at.a + at.b * philox_normal(seed, counter + k * kRedrawStride));
    return v;
  });
}

// 1 with probability p: u < p for u uniform in [0, 1) with 53 bits.
void bernoulli_kernel(const KernelArgs& a) {
  fill_random(a, [](auto tag, uint64_t seed, uint64_t counter, const RandomAttrs& at) {
    using T = decltype(tag);
    return philox_uniform_f64(seed, counter) < at.a ? T{1} : T{0};
  });
}

}  // namespace

void register_random() {
  register_kernel(Kernel{"uniform", DeviceType::cpu, "reference", cpu::kFloatTypes, &uniform_kernel, 0, false});
  register_kernel(Kernel{"normal", DeviceType::cpu, "reference", cpu::kFloatTypes, &normal_kernel, 0, false});
  register_kernel(Kernel{"bernoulli", DeviceType::cpu, "reference", cpu::kFloatTypes, &bernoulli_kernel, 0, false});
}

}  // namespace plumb::backends::reference
