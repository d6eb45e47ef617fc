// Calibrates the time-stamp counter against the steady clock once per process.
#include "core/clock.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace plumb::clock {

namespace {

// An invariant TSC ticks at one rate in every power state and is synchronized across cores
// (CPUID 0x80000007, EDX bit 8); without it the steady clock is the only safe choice.
bool invariant_tsc() {
#if defined(__x86_64__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u) return false;
  __get_cpuid(0x80000007u, &a, &b, &c, &d);
  return (d >> 8) & 1u;
#else
  return false;
#endif
}

}  // namespace

Scale calibrate() {
  Scale s;
  const char* env = std::getenv("PLUMB_CLOCK");
  if (env && std::strcmp(env, "steady") == 0) return s;
  if (!invariant_tsc()) return s;
#if defined(__x86_64__)
  // Two (counter, steady clock) pairs 5 ms apart: each pair is taken between two counter reads and
  // kept only when they are close, so a preemption inside a pair cannot skew the rate.
  auto pair = [](uint64_t& tsc, int64_t& ns) {
    for (int attempt = 0; attempt < 64; ++attempt) {
      const uint64_t a = __rdtsc();
      ns = steady_ns();
      const uint64_t b = __rdtsc();
      tsc = a + (b - a) / 2;
      if (b - a < 2000) return true;  // under a microsecond: the rate is good to 1e-4
    }
    return false;  // preempted every time: no rate worth trusting
  };
  uint64_t t0 = 0, t1 = 0;
  int64_t n0 = 0, n1 = 0;
  if (!pair(t0, n0)) return s;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (!pair(t1, n1) || t1 <= t0 || n1 <= n0) return s;
  const double ns_per_tick = static_cast<double>(n1 - n0) / static_cast<double>(t1 - t0);
  if (!(ns_per_tick > 0.01 && ns_per_tick < 100)) return s;  // 10 MHz .. 100 GHz: anything else is broken
  s.tsc = true;
  s.tsc0 = t1;
  s.ns0 = n1;
  s.mult = static_cast<uint64_t>(std::llround(ns_per_tick * 4294967296.0));
#endif
  return s;
}

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace plumb::clock
