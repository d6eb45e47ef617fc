// The profiling clock: monotonic on a thread, ticking at the steady clock's rate, and overridable.
#include "core/clock.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "plumb/dispatch.h"

namespace plumb {
namespace {

TEST(Clock, NeverGoesBackwardsOnAThread) {
  int64_t prev = now_ns();
  int64_t backwards = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    const int64_t t = now_ns();
    if (t < prev) ++backwards;
    prev = t;
  }
  EXPECT_EQ(backwards, 0);
}

// One reading of now_ns() bracketed by two steady-clock reads; retried until the bracket is tight, so
// a preemption inside it cannot pass for a clock error.
struct Bracketed {
  int64_t now = 0, steady_lo = 0, steady_hi = 0;
};
Bracketed bracketed() {
  Bracketed b;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    b.steady_lo = clock::steady_ns();
    b.now = now_ns();
    b.steady_hi = clock::steady_ns();
    if (b.steady_hi - b.steady_lo < 5'000) break;
  }
  return b;
}

TEST(Clock, TicksAtTheSteadyClocksRate) {
  const Bracketed a = bracketed();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const Bracketed b = bracketed();
  const int64_t elapsed = b.now - a.now;
  // The steady clock's elapsed time lies between these two bounds; the clock must land inside them,
  // give or take 0.1% of a rate error.
  const int64_t lo = b.steady_lo - a.steady_hi, hi = b.steady_hi - a.steady_lo;
  const int64_t slack = hi / 1000;
  EXPECT_GE(elapsed, lo - slack) << "now_ns ran slow: " << elapsed << " ns against " << lo << ".." << hi;
  EXPECT_LE(elapsed, hi + slack) << "now_ns ran fast: " << elapsed << " ns against " << lo << ".." << hi;
}

TEST(Clock, PlumbClockSteadyTurnsTheCounterOff) {
  ::setenv("PLUMB_CLOCK", "steady", 1);
  const clock::Scale s = clock::calibrate();
  ::unsetenv("PLUMB_CLOCK");
  EXPECT_FALSE(s.tsc);
}

TEST(Clock, CalibratedCounterScaleIsSane) {
  const clock::Scale s = clock::calibrate();
  if (!s.tsc) GTEST_SKIP() << "no invariant time-stamp counter: now_ns() is the steady clock";
  const double ns_per_tick = static_cast<double>(s.mult) / 4294967296.0;
  EXPECT_GT(ns_per_tick, 0.01);
  EXPECT_LT(ns_per_tick, 100.0);
  // Two calibrations agree to well under 0.1%: the rate is a property of the machine, not of the moment.
  const clock::Scale again = clock::calibrate();
  ASSERT_TRUE(again.tsc);
  const double ratio = static_cast<double>(again.mult) / static_cast<double>(s.mult);
  EXPECT_NEAR(ratio, 1.0, 1e-3);
}

}  // namespace
}  // namespace plumb
