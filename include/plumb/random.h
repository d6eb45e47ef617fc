#pragma once
// Counter-based RNG (Philox4x32-10): element i of a draw depends only on (seed, offset + i),
// so results do not depend on the thread count or on how work is split.
#include <array>
#include <cstdint>

namespace plumb {

// Inline: random kernels call it once per element, so a call per element would dominate.
inline std::array<uint32_t, 4> philox4x32(uint64_t seed, uint64_t counter) {
  // Philox4x32-10 (Salmon et al., SC'11): 10 rounds of multiply-xor with a Weyl key schedule.
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(kM1) * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n1 = static_cast<uint32_t>(p1);
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    const uint32_t n3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += kW0;
    k1 += kW1;
  }
  return {c0, c1, c2, c3};
}

// Uniform in [0, 1) from the element's counter, with 24 (float) or 53 (double) random bits.
inline float philox_uniform_f32(uint64_t seed, uint64_t counter) {
  return static_cast<float>(philox4x32(seed, counter)[0] >> 8) * (1.0f / 16777216.0f);
}
inline double philox_uniform_f64(uint64_t seed, uint64_t counter) {
  const auto r = philox4x32(seed, counter);
  const uint64_t bits = (static_cast<uint64_t>(r[0]) << 21) ^ (r[1] >> 11);
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}
// Standard normal via Box-Muller on one counter's two 32-bit halves pairs.
double philox_normal(uint64_t seed, uint64_t counter);
// The k-th redraw of a truncated normal element uses counter + k * kRedrawStride: far above any
// offset a generator hands out, so redraws never reuse another element's counter.
inline constexpr uint64_t kRedrawStride = uint64_t{1} << 48;

// The process-wide generator: a seed and a running offset that each random op advances.
class Generator {
 public:
  void manual_seed(uint64_t seed);
  uint64_t seed() const { return seed_; }
  // Reserves `n` counters and returns the first.
  uint64_t take(uint64_t n);

 private:
  uint64_t seed_ = 0x5eed;
  uint64_t offset_ = 0;
};
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace plumb
