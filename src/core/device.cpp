#include "plumb/device.h"

#include <charconv>

#include "plumb/error.h"

namespace plumb {

std::string Device::str() const {
  switch (type) {
    case DeviceType::cpu: return "cpu";
    case DeviceType::meta: return "meta";
    case DeviceType::cuda: return "cuda:" + std::to_string(index);
  }
  return "?";
}

Device Device::parse(std::string_view s) {
  if (s == "cpu") return kCPU;
  if (s == "meta") return kMeta;
  if (s == "cuda") return Device{DeviceType::cuda, 0};
  if (s.starts_with("cuda:")) {
    int idx = -1;
    auto rest = s.substr(5);
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), idx);
    if (ec == std::errc() && p == rest.data() + rest.size() && idx >= 0) return Device{DeviceType::cuda, idx};
  }
  fail("unknown device '", s, "' (expected cpu, meta or cuda:N)");
}

}  // namespace plumb
