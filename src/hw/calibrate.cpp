// `plumb calibrate`: this machine's sgemm GFLOP/s (through plumb's matmul op) and STREAM-triad memory
// bandwidth (over plumb's pool), cached per host and thread count. Method in docs/hw.md.
#include "hw/calibrate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plumb/autograd.h"
#include "plumb/error.h"
#include "plumb/file_io.h"
#include "plumb/ops.h"
#include "plumb/tensor.h"
#include "plumb/thread_pool.h"
#include "plumb/cache.h"

namespace plumb::hw {

namespace {

using nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr int kCacheVersion = 1;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Square sgemm C = A B through the dispatcher (so the fast backend's row split over the pool runs).
double measure_sgemm_gflops(int64_t n, int repeats) {
  NoGradScope no_grad;
  Tensor a = Tensor::empty({n, n}), b = Tensor::empty({n, n});
  float* pa = a.data<float>();
  float* pb = b.data<float>();
  // Deterministic, well-scaled values; the global RNG is left alone.
  for (int64_t i = 0; i < n * n; ++i) {
    pa[i] = static_cast<float>(i % 17) * 0.0625f - 0.5f;
    pb[i] = static_cast<float>(i % 13) * 0.0625f - 0.375f;
  }
  (void)matmul(a, b);  // warm-up: page faults, packing buffers, pool wake-up
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    Tensor c = matmul(a, b);
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / best / 1e9;
}

// a[i] = b[i] + s * c[i] split over the pool in one chunk per thread; 12 bytes moved per element
// (write-allocate traffic for `a` is not counted, as in STREAM).
double measure_triad_gbs(int64_t n, int repeats, int threads) {
  std::unique_ptr<float[]> a(new float[static_cast<size_t>(n)]);
  std::unique_ptr<float[]> b(new float[static_cast<size_t>(n)]);
  std::unique_ptr<float[]> c(new float[static_cast<size_t>(n)]);
  const int64_t grain = std::max<int64_t>(1, n / threads);
  // First touch from the pool's threads, so pages land near the threads that stream them.
  parallel_for(n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      a[i] = 0.0f;
      b[i] = 1.0f;
      c[i] = 2.0f;
    }
  });
  const float s = 3.0f;
  auto triad = [&](int64_t begin, int64_t end) {
    float* __restrict pa = a.get();
    const float* __restrict pb = b.get();
    const float* __restrict pc = c.get();
    for (int64_t i = begin; i < end; ++i) pa[i] = pb[i] + s * pc[i];
  };
  parallel_for(n, grain, triad);  // warm-up
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    parallel_for(n, grain, triad);
    best = std::min(best, seconds_since(t0));
  }
  if (a[n / 2] != 7.0f) fail("calibrate: the triad computed ", a[n / 2], ", expected 7");
  return 3.0 * sizeof(float) * static_cast<double>(n) / best / 1e9;
}

std::string cache_error(const std::string& path) {
  return "calibration cache '" + path + "'";
}

// Every entry of the cache file; none when it does not exist. Malformed: an Error naming the path.
std::vector<Calibration> read_cache(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return {};
  const std::string where = cache_error(path);
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(where, ": cannot open the file");
  std::ostringstream ss;
  ss << f.rdbuf();
  ordered_json j;
  try {
    j = ordered_json::parse(ss.str());
  } catch (const ordered_json::parse_error& e) {
    fail(where, ": not valid JSON (", e.what(), "); delete it to start afresh");
  }
  if (!j.is_object()) fail(where, ": expected a JSON object with 'version' and 'calibrations'");
  const auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer() || version->get<int64_t>() != kCacheVersion)
    fail(where, ": field 'version' must be ", kCacheVersion, "; delete the file to start afresh");
  const auto list = j.find("calibrations");
  if (list == j.end() || !list->is_array()) fail(where, ": field 'calibrations' must be an array");
  std::vector<Calibration> out;
  for (size_t i = 0; i < list->size(); ++i) {
    const ordered_json& e = (*list)[i];
    const std::string at = where + ": calibrations[" + std::to_string(i) + "]";
    if (!e.is_object()) fail(at, ": expected an object");
    auto need = [&](const char* key) -> const ordered_json& {
      const auto it = e.find(key);
      if (it == e.end()) fail(at, ": field '", key, "' is missing");
      return *it;
    };
    auto positive = [&](const char* key) {
      const ordered_json& v = need(key);
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() <= 0)
        fail(at, ": field '", key, "' must be a positive number");
      return v.get<double>();
    };
    Calibration c;
    if (!need("host").is_string()) fail(at, ": field 'host' must be a string");
    c.host = e["host"].get<std::string>();
    if (!need("threads").is_number_integer() || e["threads"].get<int64_t>() < 1 ||
        e["threads"].get<int64_t>() > 1 << 20)
      fail(at, ": field 'threads' must be a positive integer");
    c.threads = e["threads"].get<int>();
    c.sgemm_gflops = positive("sgemm_gflops");
    c.bandwidth_gbs = positive("bandwidth_gbs");
    if (!need("measured_at").is_string()) fail(at, ": field 'measured_at' must be a string");
    c.measured_at = e["measured_at"].get<std::string>();
    out.push_back(std::move(c));
  }
  return out;
}

void write_cache(const std::string& path, const std::vector<Calibration>& entries) {
  ordered_json list = ordered_json::array();
  for (const Calibration& c : entries)
    list.push_back({{"host", c.host},
                    {"threads", c.threads},
                    {"sgemm_gflops", c.sgemm_gflops},
                    {"bandwidth_gbs", c.bandwidth_gbs},
                    {"measured_at", c.measured_at}});
  const ordered_json j = {{"version", kCacheVersion}, {"calibrations", list}};
  const std::string text = j.dump(2) + "\n";

  const std::filesystem::path p(path);
  std::error_code ec;
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  if (ec) fail(cache_error(path), ": cannot create its directory (", ec.message(), ")");
  write_file_atomic(path, text);
}

}  // namespace

std::string host_cpu_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (!line.starts_with("model name")) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const size_t begin = line.find_first_not_of(" \t", colon + 1);
    if (begin == std::string::npos) continue;
    const size_t end = line.find_last_not_of(" \t\r");
    return line.substr(begin, end - begin + 1);
  }
  return "unknown CPU";
}

Calibration calibrate(int threads, const CalibrationSizes& sizes) {
  if (threads < 1) fail("calibrate: threads must be at least 1, got ", threads);
  if (sizes.gemm_n < 1 || sizes.stream_elements < 1 || sizes.repeats < 1)
    fail("calibrate: sizes and repeats must be positive");
  // Measures at `threads` and restores the caller's count (the pool holds at least the cores).
  const int previous = num_threads();
  try {
    set_num_threads(threads);
  } catch (const Error& e) {
    fail("calibrate: cannot measure at ", threads, " threads in this process: ", e.what());
  }
  struct Restore {
    int n;
    ~Restore() { set_num_threads(n); }
  } restore{previous};
  Calibration c;
  c.host = host_cpu_name();
  c.threads = threads;
  c.sgemm_gflops = measure_sgemm_gflops(sizes.gemm_n, sizes.repeats);
  c.bandwidth_gbs = measure_triad_gbs(sizes.stream_elements, sizes.repeats, threads);
  c.measured_at = utc_now_iso8601();
  return c;
}

Calibration calibrate(int threads) { return calibrate(threads, CalibrationSizes{}); }

std::string calibration_path() { return cache_path("calibration.json", "calibrate"); }

std::optional<Calibration> load_calibration(int threads) {
  const std::string host = host_cpu_name();
  for (Calibration& c : read_cache(calibration_path()))
    if (c.host == host && c.threads == threads) return std::move(c);
  return std::nullopt;
}

void save_calibration(const Calibration& c) {
  if (c.threads < 1 || !(c.sgemm_gflops > 0) || !(c.bandwidth_gbs > 0) || !std::isfinite(c.sgemm_gflops) ||
      !std::isfinite(c.bandwidth_gbs))
    fail("calibrate: refusing to cache a calibration with non-positive figures");
  const std::string path = calibration_path();
  std::vector<Calibration> entries = read_cache(path);
  std::erase_if(entries, [&](const Calibration& e) { return e.host == c.host && e.threads == c.threads; });
  entries.push_back(c);
  std::sort(entries.begin(), entries.end(), [](const Calibration& x, const Calibration& y) {
    return x.host != y.host ? x.host < y.host : x.threads < y.threads;
  });
  write_cache(path, entries);
}

profile::Roofs roofs_of(const Calibration& c) {
  profile::Roofs r;
  r.device = "this machine (calibrated: " + c.host + ", " + std::to_string(c.threads) +
             (c.threads == 1 ? " thread)" : " threads)");
  r.peak_gflops = c.sgemm_gflops;
  r.bandwidth_gbs = c.bandwidth_gbs;
  return r;
}

}  // namespace plumb::hw
