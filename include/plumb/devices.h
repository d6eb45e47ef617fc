#pragma once
// Device roofs for % of peak and the roofline: a table of known accelerators and CPUs (data/devices.json,
// compiled into the library; a user JSON of the same schema adds or overrides entries) and this
// machine's measured peak, from `plumb calibrate`, cached per host.
#include <optional>
#include <string>
#include <vector>

#include "plumb/profile.h"

namespace plumb::hw {

struct DeviceSpec {
  std::string id;           // short key: "h100-sxm", "a100-sxm", "tpu-v2-8", ...
  std::string name;         // "NVIDIA H100 SXM5 80GB"
  std::string kind;         // "gpu", "tpu", "cpu"
  double peak_fp32_gflops = 0;
  double peak_fp16_gflops = 0;  // dense tensor-core/matrix-unit fp16 or bf16; 0 when none
  double bandwidth_gbs = 0;
  std::string source;       // where the figures come from (datasheet, paper)
};

// The built-in table, plus `user_json` entries when given (same schema; an entry with an existing id
// replaces it). Throws Error naming the file on a malformed table or a missing/negative field.
std::vector<DeviceSpec> device_table(const std::string& user_json = "");
// Throws Error listing the ids when `id` is unknown.
DeviceSpec find_device(const std::vector<DeviceSpec>& table, const std::string& id);

struct Calibration {
  std::string host;          // CPU model name
  int threads = 0;
  double sgemm_gflops = 0;   // best of several large sgemm runs through plumb's matmul op
  double bandwidth_gbs = 0;  // best-of stream-triad-like copy bandwidth
  std::string measured_at;   // ISO 8601 UTC
};

// Measures this machine at `threads` intra-op threads (takes a few seconds).
Calibration calibrate(int threads);
// The cache file: $PLUMB_CACHE_DIR/calibration.json, else $XDG_CACHE_HOME/plumb/..., else ~/.cache/plumb/...
std::string calibration_path();
// Cached calibration for this host and thread count, if any; a malformed cache is an Error naming it.
std::optional<Calibration> load_calibration(int threads);
void save_calibration(const Calibration& c);  // merges into the cache file (temp + rename)

profile::Roofs roofs_of(const DeviceSpec& d);
profile::Roofs roofs_of(const Calibration& c);

}  // namespace plumb::hw
