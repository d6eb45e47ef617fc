// parallel_for: exact coverage, serial nested calls, concurrent callers, and the thread-count rules.
#include "plumb/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "plumb/error.h"

namespace plumb {
namespace {

// Runs parallel_for(n, grain) and checks every index in [0, n) is visited exactly once.
void expect_exact_cover(int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  std::atomic<int> calls{0};
  std::atomic<bool> bad_range{false}, short_chunk{false};
  parallel_for(n, grain, [&](int64_t begin, int64_t end) {
    if (begin < 0 || end > n || begin >= end) bad_range = true;
    if (end - begin < std::min<int64_t>(std::max<int64_t>(grain, 1), n)) short_chunk = true;
    ++calls;
    for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
  });
  EXPECT_FALSE(bad_range) << "n=" << n << " grain=" << grain;
  EXPECT_FALSE(short_chunk) << "a chunk smaller than the grain: n=" << n << " grain=" << grain;
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "i=" << i << " n=" << n << " grain=" << grain;
  if (n == 0) EXPECT_EQ(calls.load(), 0);
  else EXPECT_LE(calls.load(), std::max(1, num_threads())) << "n=" << n << " grain=" << grain;
  if (n > 0 && grain >= n) EXPECT_EQ(calls.load(), 1) << "one grain of work runs as one call";
}

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
  for (int64_t n : {0, 1, 2, 3, 5, 7, 16, 63, 64, 65, 1000, 4097, 100003})
    for (int64_t grain : {0, 1, 2, 3, 7, 16, 1000, 1 << 20}) expect_exact_cover(n, grain);
}

TEST(ThreadPool, ExceptionInAChunkReachesTheCaller) {
  for (int rep = 0; rep < 50; ++rep) {
    EXPECT_THROW(parallel_for(1000, 1,
                              [](int64_t b, int64_t e) {
                                if (b <= 999 && 999 < e) fail("chunk holding index 999 failed");
                              }),
                 Error);
  }
  // The pool still works afterwards.
  expect_exact_cover(1000, 1);
}

TEST(ThreadPool, ManyRegionsInARow) {
  // Reusing the pool many times must not lose or duplicate chunks between regions.
  for (int rep = 0; rep < 2000; ++rep) {
    std::atomic<int64_t> sum{0};
    parallel_for(257, 1, [&](int64_t b, int64_t e) {
      int64_t s = 0;
      for (int64_t i = b; i < e; ++i) s += i;
      sum += s;
    });
    ASSERT_EQ(sum.load(), 257 * 256 / 2) << "rep " << rep;
  }
}

TEST(ThreadPool, NestedCallsRunSerially) {
  const int64_t outer = 64;
  std::atomic<int> bad{0};
  std::vector<std::atomic<int>> hits(outer * 100);
  parallel_for(outer, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const auto me = std::this_thread::get_id();
      int inner_calls = 0;
      parallel_for(100, 1, [&](int64_t ib, int64_t ie) {
        ++inner_calls;
        if (std::this_thread::get_id() != me || ib != 0 || ie != 100) ++bad;
        for (int64_t j = ib; j < ie; ++j) hits[static_cast<size_t>(i * 100 + j)].fetch_add(1);
      });
      if (inner_calls != 1) ++bad;
    }
  });
  EXPECT_EQ(bad.load(), 0) << "a nested parallel_for must run once, whole, on the calling thread";
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

TEST(ThreadPool, ConcurrentCallersFromSeveralThreads) {
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int rep = 0; rep < 200; ++rep) {
        const int64_t n = 100 + t * 37 + rep;
        std::atomic<int64_t> count{0};
        parallel_for(n, 3, [&](int64_t b, int64_t e) { count += e - b; });
        if (count.load() != n) ++failures;
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ThreadPool, CountChangesWithinThePool) {
  const int n = num_threads();  // starts the pool
  EXPECT_GE(n, 1);
  EXPECT_NO_THROW(set_num_threads(1));  // fewer threads: a thread sweep
  EXPECT_EQ(num_threads(), 1);
  std::atomic<int> calls{0};
  parallel_for(1000, 1, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls.load(), 1);  // one thread: one chunk
  EXPECT_NO_THROW(set_num_threads(n));
  EXPECT_EQ(num_threads(), n);
  try {
    set_num_threads(100000);
    ADD_FAILURE() << "more threads than the started pool holds must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("before the first op"), std::string::npos) << e.what();
  }
  EXPECT_EQ(num_threads(), n);
}

TEST(ThreadPool, RejectsNonPositiveCounts) {
  for (int bad : {0, -1}) {
    try {
      set_num_threads(bad);
      ADD_FAILURE() << "no error for " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), "threads: must be at least 1, got " + std::to_string(bad));
    }
  }
}

TEST(ThreadPool, SetBeforeFirstUseSizesThePool) {
  // gtest_discover_tests runs each test in its own process, so the pool has not started yet here
  // unless the tests run in one process; then the count is whatever started it.
  try {
    set_num_threads(3);
    EXPECT_EQ(num_threads(), 3);
  } catch (const Error&) {
    GTEST_SKIP() << "the pool was already started by an earlier test in this process";
  }
  std::atomic<int> calls{0};
  parallel_for(3000, 1, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls.load(), 3);
}

}  // namespace
}  // namespace plumb
