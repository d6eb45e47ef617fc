// Cross-workload analysis: op-type matrix, cosine similarity, average linkage (scipy conventions),
// dendrogram order and Amdahl fits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "plumb/error.h"
#include "plumb/profile_analysis.h"

namespace plumb::profile {
namespace {

OpRecord op(const std::string& type, int step, int64_t ns) {
  OpRecord r;
  r.op = type;
  r.step = step;
  r.duration_ns = ns;
  return r;
}

Profile make_profile(const std::string& workload, const std::string& mode, const std::string& variant) {
  Profile p;
  p.run.workload = workload;
  p.run.mode = mode;
  p.run.variant = variant;
  for (int i = 0; i < 4; ++i) {
    StepRecord s;
    s.index = i;
    s.measured = i == 1 || i == 2;  // first and last dropped
    p.steps.push_back(s);
  }
  return p;
}

TEST(OpTypeMatrix, CountsMeasuredStepsOnlyOverSortedUnionOfTypes) {
  Profile a = make_profile("lenet5", "train", "");
  a.ops = {op("conv", 0, 1000), op("conv", 1, 10), op("relu", 1, 3), op("conv", 2, 20),
           op("matmul", 3, 500), op("add", -1, 700), op("relu", 9, 900)};
  Profile b = make_profile("mlp", "infer", "wide");
  b.ops = {op("matmul", 1, 40), op("add", 2, 2), op("matmul", 2, 60)};
  Profile c = make_profile("lenet5", "train", "default");
  c.ops = {op("conv", 1, 5)};

  const OpTypeMatrix m = op_type_matrix({a, b, c});
  // "relu" appears only in a measured step of a and "add" only in a measured step of b.
  EXPECT_EQ(m.op_types, (std::vector<std::string>{"add", "conv", "matmul", "relu"}));
  EXPECT_EQ(m.labels, (std::vector<std::string>{"lenet5/train", "mlp/infer/wide", "lenet5/train#2"}));
  ASSERT_EQ(m.time_ns.size(), 3u);
  EXPECT_EQ(m.time_ns[0], (std::vector<double>{0, 30, 0, 3}));
  EXPECT_EQ(m.time_ns[1], (std::vector<double>{2, 0, 100, 0}));
  EXPECT_EQ(m.time_ns[2], (std::vector<double>{0, 5, 0, 0}));
}

TEST(OpTypeMatrix, EmptyInput) {
  const OpTypeMatrix m = op_type_matrix({});
  EXPECT_TRUE(m.labels.empty());
  EXPECT_TRUE(m.op_types.empty());
  EXPECT_TRUE(m.time_ns.empty());
}

TEST(CosineSimilarity, HandComputedValues) {
  const auto s = cosine_similarity({{1, 0, 0}, {1, 1, 0}, {0, 0, 2}, {0, 0, 0}, {3, 3, 0}});
  ASSERT_EQ(s.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(s[i][i], 1.0);
  EXPECT_NEAR(s[0][1], 1 / std::sqrt(2.0), 1e-15);
  EXPECT_NEAR(s[1][0], 1 / std::sqrt(2.0), 1e-15);
  EXPECT_EQ(s[0][2], 0.0);
  EXPECT_EQ(s[0][3], 0.0);  // an all-zero vector is similar to nothing
  EXPECT_EQ(s[3][4], 0.0);
  EXPECT_NEAR(s[1][4], 1.0, 1e-15);  // scale does not matter
  EXPECT_LE(s[1][4], 1.0);
}

TEST(CosineSimilarity, RejectsVectorsOfDifferentLengths) {
  EXPECT_THROW(cosine_similarity({{1, 2}, {1, 2, 3}}), Error);
}

std::vector<std::vector<double>> line_distances(const std::vector<double>& x) {
  std::vector<std::vector<double>> d(x.size(), std::vector<double>(x.size()));
  for (size_t i = 0; i < x.size(); ++i)
    for (size_t j = 0; j < x.size(); ++j) d[i][j] = std::abs(x[i] - x[j]);
  return d;
}

void expect_merge(const Merge& m, int a, int b, double dist, int size) {
  EXPECT_EQ(m.a, a);
  EXPECT_EQ(m.b, b);
  EXPECT_DOUBLE_EQ(m.distance, dist);
  EXPECT_EQ(m.size, size);
}

// Points 0, 1, 5, 11 on a line: {0,1} at 1; {2} joins at (5 + 4) / 2 = 4.5; {3} at (11 + 10 + 6) / 3 = 9.
TEST(AverageLinkage, FourPointsByHand) {
  const auto merges = average_linkage(line_distances({0, 1, 5, 11}));
  ASSERT_EQ(merges.size(), 3u);
  expect_merge(merges[0], 0, 1, 1.0, 2);
  expect_merge(merges[1], 2, 4, 4.5, 3);  // ids: cluster 4 is merge 0; a < b
  expect_merge(merges[2], 3, 5, 9.0, 4);
  EXPECT_EQ(dendrogram_order(merges, 4), (std::vector<int>{3, 2, 0, 1}));
}

// Two tight pairs: {1,3} at 1 and {0,2} at 2, then the pairs at the mean of the four cross distances.
TEST(AverageLinkage, TwoPairsByHand) {
  const std::vector<std::vector<double>> d = {
      {0, 7, 2, 8},
      {7, 0, 6, 1},
      {2, 6, 0, 9},
      {8, 1, 9, 0},
  };
  const auto merges = average_linkage(d);
  ASSERT_EQ(merges.size(), 3u);
  expect_merge(merges[0], 1, 3, 1.0, 2);
  expect_merge(merges[1], 0, 2, 2.0, 2);
  expect_merge(merges[2], 4, 5, (7 + 8 + 6 + 9) / 4.0, 4);
  EXPECT_EQ(dendrogram_order(merges, 4), (std::vector<int>{1, 3, 0, 2}));
}

TEST(AverageLinkage, TiesBreakTowardTheLowestPair) {
  const std::vector<std::vector<double>> d = {{0, 1, 1}, {1, 0, 1}, {1, 1, 0}};
  const auto merges = average_linkage(d);
  ASSERT_EQ(merges.size(), 2u);
  expect_merge(merges[0], 0, 1, 1.0, 2);
  expect_merge(merges[1], 2, 3, 1.0, 3);
}

TEST(AverageLinkage, SmallAndInvalidInputs) {
  EXPECT_TRUE(average_linkage({}).empty());
  EXPECT_TRUE(average_linkage({{0}}).empty());
  EXPECT_THROW(average_linkage({{0, 1}, {1}}), Error);              // not square
  EXPECT_THROW(average_linkage({{0, 1}, {2, 0}}), Error);           // not symmetric
  EXPECT_THROW(average_linkage({{0, NAN}, {NAN, 0}}), Error);       // not finite
}

// Independent reference: cluster distance = mean of the original pairwise distances between members,
// recomputed from scratch at every step (no update rule), merging the lowest (a, b) among the closest.
std::vector<Merge> brute_force_upgma(const std::vector<std::vector<double>>& d) {
  const int n = static_cast<int>(d.size());
  std::vector<std::vector<int>> members(2 * n - 1);
  std::vector<int> alive;
  for (int i = 0; i < n; ++i) {
    members[i] = {i};
    alive.push_back(i);
  }
  std::vector<Merge> out;
  for (int k = 0; k < n - 1; ++k) {
    double best = std::numeric_limits<double>::infinity();
    int ba = -1, bb = -1;
    for (int x : alive)
      for (int y : alive) {
        if (x >= y) continue;
        double s = 0;
        for (int i : members[x])
          for (int j : members[y]) s += d[i][j];
        s /= static_cast<double>(members[x].size() * members[y].size());
        if (s < best - 1e-12 || (std::abs(s - best) <= 1e-12 && std::make_pair(x, y) < std::make_pair(ba, bb))) {
          best = s;
          ba = x;
          bb = y;
        }
      }
    members[n + k] = members[ba];
    members[n + k].insert(members[n + k].end(), members[bb].begin(), members[bb].end());
    out.push_back({ba, bb, best, static_cast<int>(members[n + k].size())});
    std::erase(alive, ba);
    std::erase(alive, bb);
    alive.push_back(n + k);
  }
  return out;
}

// Independent reference for the leaf order: recursive, left (= column a) first.
void leaves(const std::vector<Merge>& m, int n, int c, std::vector<int>& out) {
  if (c < n) {
    out.push_back(c);
    return;
  }
  leaves(m, n, m[c - n].a, out);
  leaves(m, n, m[c - n].b, out);
}

TEST(AverageLinkage, MatchesBruteForceOnRandomMatrices) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int trial = 0; trial < 40; ++trial) {
    const int n = 2 + trial % 11;
    // Cosine distances of random non-negative vectors, as the report computes them.
    std::vector<std::vector<double>> v(n, std::vector<double>(6));
    for (auto& row : v)
      for (double& x : row) x = u(rng) < 0.3 ? 0.0 : u(rng);
    auto d = cosine_similarity(v);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) d[i][j] = i == j ? 0.0 : 1.0 - d[i][j];
    const auto got = average_linkage(d);
    const auto want = brute_force_upgma(d);
    ASSERT_EQ(got.size(), want.size());
    for (size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(got[k].a, want[k].a) << "trial " << trial << " merge " << k;
      EXPECT_EQ(got[k].b, want[k].b) << "trial " << trial << " merge " << k;
      EXPECT_LT(got[k].a, got[k].b);
      EXPECT_NEAR(got[k].distance, want[k].distance, 1e-12);
      EXPECT_EQ(got[k].size, want[k].size);
      if (k > 0) EXPECT_GE(got[k].distance, got[k - 1].distance - 1e-12);  // monotone, like scipy's rows
    }
    std::vector<int> expected;
    leaves(got, n, 2 * n - 2, expected);
    const auto order = dendrogram_order(got, n);
    EXPECT_EQ(order, expected);
    std::vector<int> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (int i = 0; i < n; ++i) EXPECT_EQ(sorted[i], i);
  }
}

TEST(DendrogramOrder, ValidatesMerges) {
  EXPECT_EQ(dendrogram_order({}, 1), (std::vector<int>{0}));
  EXPECT_TRUE(dendrogram_order({}, 0).empty());
  EXPECT_THROW(dendrogram_order({}, 3), Error);                              // too few merges
  EXPECT_THROW(dendrogram_order({{0, 1, 1, 2}, {0, 2, 1, 2}}, 3), Error);    // 0 merged twice
  EXPECT_THROW(dendrogram_order({{0, 4, 1, 2}, {2, 3, 1, 3}}, 3), Error);    // 4 does not exist yet
  EXPECT_THROW(dendrogram_order({{1, 1, 1, 2}, {0, 3, 1, 3}}, 3), Error);    // a cluster with itself
}

std::vector<ScalingPoint> amdahl_points(double s, double t1, const std::vector<int>& threads) {
  std::vector<ScalingPoint> pts;
  for (int p : threads) pts.push_back({p, t1 * (s + (1 - s) / p)});
  return pts;
}

TEST(FitAmdahl, RecoversExactData) {
  for (double s : {0.0, 0.05, 0.2, 0.5, 0.9, 1.0}) {
    const AmdahlFit f = fit_amdahl(amdahl_points(s, 123.4, {1, 2, 4, 8, 16}));
    EXPECT_NEAR(f.serial_fraction, s, 1e-6) << s;
    EXPECT_NEAR(f.t1_ms, 123.4, 1e-6) << s;
    EXPECT_NEAR(f.rmse_ms, 0.0, 1e-9) << s;
  }
  EXPECT_NEAR(fit_amdahl(amdahl_points(0.25, 10, {1, 2})).max_speedup(), 4.0, 1e-9);
  EXPECT_EQ(fit_amdahl(amdahl_points(0.0, 10, {1, 3})).max_speedup(), 0.0);  // unbounded
}

TEST(FitAmdahl, NoisyDataStaysClose) {
  std::vector<ScalingPoint> pts = amdahl_points(0.1, 50, {1, 2, 3, 4, 6, 8});
  const double noise[] = {1.01, 0.99, 1.02, 0.985, 1.01, 0.995};
  for (size_t i = 0; i < pts.size(); ++i) pts[i].step_ms *= noise[i];
  const AmdahlFit f = fit_amdahl(pts);
  EXPECT_NEAR(f.serial_fraction, 0.1, 0.02);
  EXPECT_NEAR(f.t1_ms, 50, 1.5);
  EXPECT_GT(f.rmse_ms, 0.0);
  EXPECT_LT(f.rmse_ms, 1.0);
}

TEST(FitAmdahl, ClampsToTheFeasibleRange) {
  // Super-linear speed-up (T ~ 1/p^2) cannot have a negative serial part: s = 0.
  const AmdahlFit fast = fit_amdahl({{1, 100}, {2, 25}, {4, 6.25}});
  EXPECT_EQ(fast.serial_fraction, 0.0);
  EXPECT_GT(fast.t1_ms, 0.0);
  // Slow-down with threads: s = 1 and T1 the mean time.
  const AmdahlFit slow = fit_amdahl({{1, 10}, {2, 11}, {4, 12}});
  EXPECT_EQ(slow.serial_fraction, 1.0);
  EXPECT_NEAR(slow.t1_ms, 11.0, 1e-12);
  EXPECT_NEAR(slow.rmse_ms, std::sqrt(2.0 / 3.0), 1e-12);
}

TEST(FitAmdahl, RejectsBadInput) {
  EXPECT_THROW(fit_amdahl({}), Error);
  EXPECT_THROW(fit_amdahl({{4, 10}}), Error);
  EXPECT_THROW(fit_amdahl({{4, 10}, {4, 11}}), Error);  // one distinct thread count
  EXPECT_THROW(fit_amdahl({{1, 10}, {2, 0}}), Error);
  EXPECT_THROW(fit_amdahl({{1, 10}, {2, -1}}), Error);
  EXPECT_THROW(fit_amdahl({{0, 10}, {2, 5}}), Error);
  // Repeated points at a thread count are fine when there is another count.
  EXPECT_NO_THROW(fit_amdahl({{1, 10}, {1, 10.2}, {2, 6}}));
}

}  // namespace
}  // namespace plumb::profile
