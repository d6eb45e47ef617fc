// The device table: data/devices.json compiled into the library, merged with an optional user file
// of the same schema (docs/hw.md).
#include "plumb/devices.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/embedded.h"
#include "plumb/error.h"

PLUMB_DECLARE_EMBEDDED(devices_json);

namespace plumb::hw {

namespace {

using nlohmann::json;

constexpr int kDeviceTableVersion = 1;

std::string string_field(const json& d, const char* key, const std::string& where) {
  const auto it = d.find(key);
  if (it == d.end()) fail(where, ": field '", key, "' is missing");
  if (!it->is_string()) fail(where, ": field '", key, "' must be a string");
  return it->get<std::string>();
}

double number_field(const json& d, const char* key, const std::string& where) {
  const auto it = d.find(key);
  if (it == d.end()) fail(where, ": field '", key, "' is missing");
  if (!it->is_number()) fail(where, ": field '", key, "' must be a number");
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < 0) fail(where, ": field '", key, "' must be a non-negative number, got ", v);
  return v;
}

// Parses and validates one table; `source` names it in every error.
std::vector<DeviceSpec> parse_table(std::string_view text, const std::string& source) {
  const std::string file = "device table '" + source + "'";
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    fail(file, ": not valid JSON (", e.what(), ")");
  }
  if (!j.is_object()) fail(file, ": expected a JSON object with 'version' and 'devices'");
  const auto version = j.find("version");
  if (version == j.end()) fail(file, ": field 'version' is missing");
  if (!version->is_number_integer() || version->get<int64_t>() != kDeviceTableVersion)
    fail(file, ": field 'version' must be ", kDeviceTableVersion, ", got ", version->dump());
  const auto devices = j.find("devices");
  if (devices == j.end()) fail(file, ": field 'devices' is missing");
  if (!devices->is_array()) fail(file, ": field 'devices' must be an array");

  std::vector<DeviceSpec> out;
  for (size_t i = 0; i < devices->size(); ++i) {
    const json& d = (*devices)[i];
    std::string where = file + ": devices[" + std::to_string(i) + "]";
    if (!d.is_object()) fail(where, ": expected an object");
    DeviceSpec s;
    s.id = string_field(d, "id", where);
    if (s.id.empty()) fail(where, ": field 'id' is empty");
    where += " ('" + s.id + "')";
    for (const DeviceSpec& seen : out)
      if (seen.id == s.id) fail(where, ": field 'id' repeats an earlier device");
    s.name = string_field(d, "name", where);
    s.kind = string_field(d, "kind", where);
    if (s.kind != "gpu" && s.kind != "tpu" && s.kind != "cpu")
      fail(where, ": field 'kind' must be \"gpu\", \"tpu\" or \"cpu\", got \"", s.kind, "\"");
    s.peak_fp32_gflops = number_field(d, "peak_fp32_gflops", where);
    s.peak_fp16_gflops = number_field(d, "peak_fp16_gflops", where);
    s.bandwidth_gbs = number_field(d, "bandwidth_gbs", where);
    s.source = string_field(d, "source", where);
    if (s.peak_fp32_gflops <= 0 && s.peak_fp16_gflops <= 0)
      fail(where, ": fields 'peak_fp32_gflops' and 'peak_fp16_gflops' are both 0");
    if (s.bandwidth_gbs <= 0) fail(where, ": field 'bandwidth_gbs' must be positive");
    out.push_back(std::move(s));
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("device table '", path, "': cannot open the file");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) fail("device table '", path, "': cannot read the file");
  return ss.str();
}

}  // namespace

std::vector<DeviceSpec> device_table(const std::string& user_json) {
  std::vector<DeviceSpec> table = parse_table(PLUMB_EMBEDDED(devices_json), "built-in data/devices.json");
  if (user_json.empty()) return table;
  for (DeviceSpec& d : parse_table(read_file(user_json), user_json)) {
    bool replaced = false;
    for (DeviceSpec& t : table)
      if (t.id == d.id) {
        t = d;
        replaced = true;
      }
    if (!replaced) table.push_back(std::move(d));
  }
  return table;
}

DeviceSpec find_device(const std::vector<DeviceSpec>& table, const std::string& id) {
  for (const DeviceSpec& d : table)
    if (d.id == id) return d;
  std::string known;
  for (const DeviceSpec& d : table) known += (known.empty() ? "" : ", ") + d.id;
  fail("unknown device '", id, "' (known: ", known, ")");
}

profile::Roofs roofs_of(const DeviceSpec& d) {
  profile::Roofs r;
  // Matrix units without a published fp32 peak (TPUs) are roofed by their bf16/fp16 peak, and say so.
  if (d.peak_fp32_gflops > 0) {
    r.device = d.name;
    r.peak_gflops = d.peak_fp32_gflops;
  } else {
    r.device = d.name + " (bf16/fp16 peak)";
    r.peak_gflops = d.peak_fp16_gflops;
  }
  r.bandwidth_gbs = d.bandwidth_gbs;
  return r;
}

}  // namespace plumb::hw
