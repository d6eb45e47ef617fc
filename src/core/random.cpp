#include "plumb/random.h"

#include <cmath>

namespace plumb {

std::array<uint32_t, 4> philox4x32(uint64_t seed, uint64_t counter) {
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
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += kW0;
    k1 += kW1;
  }
  return {c0, c1, c2, c3};
}

float philox_uniform_f32(uint64_t seed, uint64_t counter) {
  return static_cast<float>(philox4x32(seed, counter)[0] >> 8) * (1.0f / 16777216.0f);
}

double philox_uniform_f64(uint64_t seed, uint64_t counter) {
  const auto r = philox4x32(seed, counter);
  const uint64_t bits = (static_cast<uint64_t>(r[0]) << 21) ^ (r[1] >> 11);
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

double philox_normal(uint64_t seed, uint64_t counter) {
  const auto r = philox4x32(seed, counter);
  // u1 in (0, 1] so the log is finite.
  const double u1 = (static_cast<double>(r[0]) + 1.0) * (1.0 / 4294967296.0);
  const double u2 = static_cast<double>(r[1]) * (1.0 / 4294967296.0);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

void Generator::manual_seed(uint64_t seed) {
  seed_ = seed;
  offset_ = 0;
}

uint64_t Generator::take(uint64_t n) {
  const uint64_t first = offset_;
  offset_ += n;
  return first;
}

Generator& default_generator() {
  static Generator g;
  return g;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace plumb
