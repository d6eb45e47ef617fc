#pragma once
// Counter-based RNG (Philox4x32-10): element i of a draw depends only on (seed, offset + i),
// so results do not depend on the thread count or on how work is split.
#include <array>
#include <cstdint>

namespace plumb {

std::array<uint32_t, 4> philox4x32(uint64_t seed, uint64_t counter);
// Uniform in [0, 1) from the element's counter, with 24 (float) or 53 (double) random bits.
float philox_uniform_f32(uint64_t seed, uint64_t counter);
double philox_uniform_f64(uint64_t seed, uint64_t counter);
// Standard normal via Box-Muller on one counter's two 32-bit halves pairs.
double philox_normal(uint64_t seed, uint64_t counter);

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
