// Calibration: the cache's path, round trip, merging and errors; one small real measurement.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "common/temp_dir.h"
#include "hw/calibrate.h"
#include "plumb/devices.h"
#include "plumb/error.h"
#include "plumb/thread_pool.h"

namespace plumb::hw {
namespace {

// Points the cache at the test's temporary directory and restores the environment afterwards.
class CalibrationCacheTest : public plumb::testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    for (const char* name : {"PLUMB_CACHE_DIR", "XDG_CACHE_HOME", "HOME"}) {
      const char* v = ::getenv(name);
      saved_.push_back(v ? std::optional<std::string>(v) : std::nullopt);
    }
    ::setenv("PLUMB_CACHE_DIR", dir_.c_str(), 1);
  }
  void TearDown() override {
    const char* names[] = {"PLUMB_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};
    for (size_t i = 0; i < 3; ++i) {
      if (saved_[i])
        ::setenv(names[i], saved_[i]->c_str(), 1);
      else
        ::unsetenv(names[i]);
    }
    TempDirTest::TearDown();
  }
  std::vector<std::optional<std::string>> saved_;
};

Calibration sample(int threads, double gflops) {
  Calibration c;
  c.host = host_cpu_name();
  c.threads = threads;
  c.sgemm_gflops = gflops;
  c.bandwidth_gbs = 12.5;
  c.measured_at = "2026-01-02T03:04:05Z";
  return c;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_F(CalibrationCacheTest, PathFollowsTheEnvironment) {
  EXPECT_EQ(calibration_path(), path("calibration.json"));
  ::unsetenv("PLUMB_CACHE_DIR");
  ::setenv("XDG_CACHE_HOME", "/x/cache", 1);
  EXPECT_EQ(calibration_path(), "/x/cache/plumb/calibration.json");
  ::unsetenv("XDG_CACHE_HOME");
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(calibration_path(), "/home/u/.cache/plumb/calibration.json");
  ::unsetenv("HOME");
  EXPECT_THROW(calibration_path(), Error);
}

TEST_F(CalibrationCacheTest, RoundTripAndMerge) {
  EXPECT_FALSE(load_calibration(3).has_value());  // no file yet
  save_calibration(sample(3, 100.25));
  save_calibration(sample(1, 40));
  Calibration other = sample(3, 999);
  other.host = "Some Other CPU";
  save_calibration(other);

  const std::optional<Calibration> three = load_calibration(3);
  ASSERT_TRUE(three.has_value());
  EXPECT_EQ(three->host, host_cpu_name());
  EXPECT_EQ(three->threads, 3);
  EXPECT_EQ(three->sgemm_gflops, 100.25);  // this host's entry, not the other host's
  EXPECT_EQ(three->bandwidth_gbs, 12.5);
  EXPECT_EQ(three->measured_at, "2026-01-02T03:04:05Z");
  ASSERT_TRUE(load_calibration(1).has_value());
  EXPECT_EQ(load_calibration(1)->sgemm_gflops, 40);
  EXPECT_FALSE(load_calibration(2).has_value());

  save_calibration(sample(3, 200));  // same host and threads: replaced
  EXPECT_EQ(load_calibration(3)->sgemm_gflops, 200);
  EXPECT_EQ(load_calibration(1)->sgemm_gflops, 40);
  std::ifstream f(path("calibration.json"));
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("Some Other CPU"), std::string::npos);
  EXPECT_EQ(text.find("100.25"), std::string::npos);
}

TEST_F(CalibrationCacheTest, MalformedCacheNamesThePath) {
  const std::string file = path("calibration.json");
  const std::pair<std::string, std::string> cases[] = {
      {"garbage {", "not valid JSON"},
      {R"({"version": 7, "calibrations": []})", "'version'"},
      {R"({"version": 1, "calibrations": [{"host": "h", "threads": 2, "bandwidth_gbs": 1, "measured_at": ""}]})",
       "'sgemm_gflops'"},
      {R"({"version": 1, "calibrations": [{"host": "h", "threads": 0, "sgemm_gflops": 1, "bandwidth_gbs": 1,
          "measured_at": ""}]})",
       "'threads'"},
  };
  for (const auto& [text, expect] : cases) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
    const std::string load_msg = error_of([] { load_calibration(1); });
    EXPECT_NE(load_msg.find(file), std::string::npos) << load_msg;
    EXPECT_NE(load_msg.find(expect), std::string::npos) << load_msg;
    const std::string save_msg = error_of([] { save_calibration(sample(1, 1)); });
    EXPECT_NE(save_msg.find(file), std::string::npos) << save_msg;
  }
}

TEST_F(CalibrationCacheTest, CreatesTheCacheDirectory) {
  ::setenv("PLUMB_CACHE_DIR", path("a/b").c_str(), 1);
  save_calibration(sample(2, 5));
  ASSERT_TRUE(load_calibration(2).has_value());
  EXPECT_TRUE(std::filesystem::exists(path("a/b/calibration.json")));
}

TEST(Calibration, RoofsOfACalibration) {
  const profile::Roofs r = roofs_of(sample(4, 321));
  EXPECT_EQ(r.peak_gflops, 321);
  EXPECT_EQ(r.bandwidth_gbs, 12.5);
  EXPECT_NE(r.device.find("4 threads"), std::string::npos) << r.device;
}

TEST(Calibration, SmallRealMeasurement) {
  const int threads = num_threads();
  CalibrationSizes small;
  small.gemm_n = 256;
  small.stream_elements = 1 << 20;
  small.repeats = 2;
  const Calibration c = calibrate(threads, small);
  EXPECT_EQ(c.threads, threads);
  EXPECT_EQ(c.host, host_cpu_name());
  EXPECT_FALSE(c.host.empty());
  EXPECT_GT(c.sgemm_gflops, 0);
  EXPECT_GT(c.bandwidth_gbs, 0);
  EXPECT_TRUE(std::regex_match(c.measured_at, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"))) << c.measured_at;
  // One thread, then the caller's count is back; more threads than the pool holds is a clear error.
  EXPECT_EQ(calibrate(1, small).threads, 1);
  EXPECT_EQ(num_threads(), threads);
  EXPECT_THROW(calibrate(100000, small), Error);
  EXPECT_EQ(num_threads(), threads);
  EXPECT_THROW(calibrate(0, small), Error);
}

}  // namespace
}  // namespace plumb::hw
