#pragma once
// The profiling clock behind plumb::now_ns(): the CPU's time-stamp counter scaled to nanoseconds
// where the TSC is invariant (reading it costs a third of a vDSO clock_gettime on a KVM guest),
// else the steady clock. Timestamps are only comparable with each other, not with std::chrono.
#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace plumb::clock {

struct Scale {
  bool tsc = false;      // false: steady clock
  uint64_t tsc0 = 0;     // the counter at calibration
  int64_t ns0 = 0;       // the steady clock at calibration
  uint64_t mult = 0;     // nanoseconds per tick, fixed point with 32 fraction bits
};

Scale calibrate();
int64_t steady_ns();

inline const Scale& scale() {
  static const Scale s = calibrate();  // once, on first use: a 5 ms calibration
  return s;
}

inline int64_t now() {
  const Scale& s = scale();
#if defined(__x86_64__)
  if (s.tsc) {
    // No fence: rdtsc has no inputs, so it issues as soon as it is allocated, and allocation is in
    // program order; a fence would cost 15 ns per read here for ordering that already holds.
    const uint64_t ticks = __rdtsc() - s.tsc0;
    return s.ns0 + static_cast<int64_t>((static_cast<unsigned __int128>(ticks) * s.mult) >> 32);
  }
#endif
  return steady_ns();
}

}  // namespace plumb::clock
