#include "plumb/random.h"

#include <cmath>

namespace plumb {

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
