#pragma once
#include <string>
#include <string_view>

namespace plumb {

// cpu runs kernels; meta runs only shape inference and cost; cuda belongs to the CUDA backend.
enum class DeviceType : uint8_t { cpu, meta, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;
  bool operator==(const Device&) const = default;
  std::string str() const;                 // "cpu", "meta", "cuda:1"
  static Device parse(std::string_view s);  // throws Error on unknown names
};

inline constexpr Device kCPU{DeviceType::cpu, 0};
inline constexpr Device kMeta{DeviceType::meta, 0};

}  // namespace plumb
