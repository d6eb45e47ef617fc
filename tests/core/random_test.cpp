// Philox4x32-10 known answers, uniform ranges and normal moments, and the generator's offsets.
#include "plumb/random.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace plumb {
namespace {

TEST(Philox, KnownAnswerCounterZeroKeyZero) {
  // Random123's kat_vectors: philox4x32_10, counter {0, 0, 0, 0}, key {0, 0}.
  const auto r = philox4x32(0, 0);
  EXPECT_EQ(r[0], 0x6627e8d5u);
  EXPECT_EQ(r[1], 0xe169c58du);
  EXPECT_EQ(r[2], 0xbc57ac4cu);
  EXPECT_EQ(r[3], 0x9b00dbd8u);
}

TEST(Philox, DependsOnSeedAndCounterOnly) {
  EXPECT_EQ(philox4x32(42, 7), philox4x32(42, 7));
  EXPECT_NE(philox4x32(42, 7), philox4x32(42, 8));
  EXPECT_NE(philox4x32(42, 7), philox4x32(43, 7));
  // The high halves of seed and counter matter too.
  EXPECT_NE(philox4x32(1, 0), philox4x32(1ull << 32 | 1, 0));
  EXPECT_NE(philox4x32(0, 1), philox4x32(0, 1ull << 32 | 1));
  std::set<uint32_t> firsts;
  for (uint64_t c = 0; c < 1000; ++c) firsts.insert(philox4x32(5, c)[0]);
  EXPECT_EQ(firsts.size(), 1000u);
}

TEST(Philox, UniformRangeAndMoments) {
  const int n = 200000;
  double s32 = 0, ss32 = 0, s64 = 0, ss64 = 0;
  float lo32 = 1, hi32 = 0;
  double lo64 = 1, hi64 = 0;
  for (int i = 0; i < n; ++i) {
    const float u = philox_uniform_f32(123, i);
    const double v = philox_uniform_f64(123, i);
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    ASSERT_GE(v, 0.0);
    ASSERT_LT(v, 1.0);
    lo32 = std::min(lo32, u), hi32 = std::max(hi32, u);
    lo64 = std::min(lo64, v), hi64 = std::max(hi64, v);
    s32 += u, ss32 += static_cast<double>(u) * u;
    s64 += v, ss64 += v * v;
  }
  // Mean 1/2 and variance 1/12; the bounds are about 6 standard errors.
  EXPECT_NEAR(s32 / n, 0.5, 0.004);
  EXPECT_NEAR(s64 / n, 0.5, 0.004);
  EXPECT_NEAR(ss32 / n - (s32 / n) * (s32 / n), 1.0 / 12, 0.002);
  EXPECT_NEAR(ss64 / n - (s64 / n) * (s64 / n), 1.0 / 12, 0.002);
  EXPECT_LT(lo32, 1e-4f);
  EXPECT_GT(hi32, 1 - 1e-4f);
  EXPECT_LT(lo64, 1e-4);
  EXPECT_GT(hi64, 1 - 1e-4);
}

TEST(Philox, NormalMoments) {
  const int n = 200000;
  double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
  for (int i = 0; i < n; ++i) {
    const double z = philox_normal(99, i);
    ASSERT_TRUE(std::isfinite(z));
    m1 += z, m2 += z * z, m3 += z * z * z, m4 += z * z * z * z;
  }
  m1 /= n, m2 /= n, m3 /= n, m4 /= n;
  // Standard errors: mean 1/sqrt(n) ~ 0.0022, variance sqrt(2/n) ~ 0.0032,
  // skewness sqrt(6/n) ~ 0.0055, kurtosis sqrt(96/n) ~ 0.022.
  EXPECT_NEAR(m1, 0.0, 0.012);
  EXPECT_NEAR(m2, 1.0, 0.02);
  EXPECT_NEAR(m3, 0.0, 0.035);
  EXPECT_NEAR(m4, 3.0, 0.13);
  // Tails exist but are bounded: with 2e5 draws, |z| > 3 happens ~540 times, |z| > 6 essentially never.
  int beyond3 = 0;
  for (int i = 0; i < n; ++i) beyond3 += std::abs(philox_normal(99, i)) > 3;
  EXPECT_GT(beyond3, 400);
  EXPECT_LT(beyond3, 700);
}

TEST(Generator, TakeAdvancesAndSeedResets) {
  Generator g;
  g.manual_seed(7);
  EXPECT_EQ(g.seed(), 7u);
  EXPECT_EQ(g.take(10), 0u);
  EXPECT_EQ(g.take(5), 10u);
  EXPECT_EQ(g.take(0), 15u);
  EXPECT_EQ(g.take(1), 15u);
  g.manual_seed(8);
  EXPECT_EQ(g.seed(), 8u);
  EXPECT_EQ(g.take(3), 0u);
}

TEST(Generator, DefaultGeneratorIsProcessWide) {
  manual_seed(1234);
  EXPECT_EQ(default_generator().seed(), 1234u);
  EXPECT_EQ(default_generator().take(4), 0u);
  EXPECT_EQ(default_generator().take(4), 4u);
  manual_seed(1234);
  EXPECT_EQ(default_generator().take(4), 0u);
}

}  // namespace
}  // namespace plumb
