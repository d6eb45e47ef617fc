// plumb calibrate: measures this machine's peak sgemm GFLOP/s and memory bandwidth at the global
// --threads count once and caches them per host (docs/hw.md); --devices lists the device table.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "plumb/devices.h"
#include "plumb/error.h"
#include "plumb/thread_pool.h"

namespace plumb::cli {

namespace {

struct CalibrateArgs {
  bool force = false;
  bool json = false;
  bool devices = false;
  std::string devices_file;
};

int list_devices(const CalibrateArgs& a) {
  const std::vector<hw::DeviceSpec> table = hw::device_table(a.devices_file);
  if (a.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const hw::DeviceSpec& d : table)
      out.push_back({{"id", d.id},
                     {"name", d.name},
                     {"kind", d.kind},
                     {"peak_fp32_gflops", d.peak_fp32_gflops},
                     {"peak_fp16_gflops", d.peak_fp16_gflops},
                     {"bandwidth_gbs", d.bandwidth_gbs},
                     {"source", d.source}});
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  size_t id_w = 2, name_w = 4;
  for (const hw::DeviceSpec& d : table) {
    id_w = std::max(id_w, d.id.size());
    name_w = std::max(name_w, d.name.size());
  }
  std::printf("%s\n", fmt::format("{:<{}}  {:<{}}  {:<4}  {:>12}  {:>12}  {:>8}", "id", id_w, "name", name_w, "kind",
                                  "fp32 GFLOP/s", "fp16 GFLOP/s", "GB/s")
                          .c_str());
  for (const hw::DeviceSpec& d : table)
    std::printf("%s\n", fmt::format("{:<{}}  {:<{}}  {:<4}  {:>12.0f}  {:>12.0f}  {:>8.0f}", d.id, id_w, d.name, name_w,
                                    d.kind, d.peak_fp32_gflops, d.peak_fp16_gflops, d.bandwidth_gbs)
                            .c_str());
  std::printf("fp16: dense tensor-core / matrix-unit fp16 or bf16 peak (0: none); sources: plumb calibrate --devices --json\n");
  return 0;
}

void print_calibration(const hw::Calibration& c, bool json, const std::string& path, bool cached) {
  if (json) {
    const nlohmann::ordered_json j = {{"host", c.host},
                                      {"threads", c.threads},
                                      {"sgemm_gflops", c.sgemm_gflops},
                                      {"bandwidth_gbs", c.bandwidth_gbs},
                                      {"measured_at", c.measured_at}};
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("%s\n", fmt::format("sgemm {:.1f} GFLOP/s, bandwidth {:.1f} GB/s at {} thread{} ({} {}{})",
                                  c.sgemm_gflops, c.bandwidth_gbs, c.threads, c.threads == 1 ? "" : "s",
                                  cached ? "from the cache" : "cached in", path,
                                  cached ? ", measured " + c.measured_at + "; --force measures again" : "")
                          .c_str());
}

int run_calibrate(const CalibrateArgs& a) {
  if (a.devices) return list_devices(a);
  if (!a.devices_file.empty()) fail("--devices-file goes with --devices");
  const int threads = num_threads();
  const std::string path = hw::calibration_path();
  // Read the cache even with --force, so a malformed one fails before seconds of measuring.
  const std::optional<hw::Calibration> cached = hw::load_calibration(threads);
  if (cached && !a.force) {
    print_calibration(*cached, a.json, path, /*cached=*/true);
    return 0;
  }
  std::fprintf(stderr, "calibrating at %d thread%s (sgemm through plumb's matmul, then a stream triad)...\n", threads,
               threads == 1 ? "" : "s");
  const hw::Calibration c = hw::calibrate(threads);
  hw::save_calibration(c);
  print_calibration(c, a.json, path, /*cached=*/false);
  return 0;
}

}  // namespace

Run setup_calibrate(CLI::App& sub) {
  auto args = std::make_shared<CalibrateArgs>();
  sub.add_flag("--force", args->force, "measure again even when this host and thread count are cached");
  sub.add_flag("--json", args->json, "print the calibration (or, with --devices, the device table) as JSON");
  sub.add_flag("--devices", args->devices, "list the device table (id, name, fp32/fp16 GFLOP/s, GB/s) instead");
  sub.add_option("--devices-file", args->devices_file,
                 "with --devices: a user JSON table of the same schema merged over the built-in one");
  return [args] { return run_calibrate(*args); };
}

}  // namespace plumb::cli
