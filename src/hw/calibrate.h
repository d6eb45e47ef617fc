#pragma once
// Internal: calibration with explicit sizes (tests use small ones) and the host name.
#include <cstdint>
#include <string>

#include "plumb/devices.h"

namespace plumb::hw {

struct CalibrationSizes {
  int64_t gemm_n = 2048;                  // square sgemm side
  int64_t stream_elements = 32 << 20;     // f32 elements per triad array (3 x 128 MiB)
  int repeats = 5;                        // timed runs after one warm-up; the best counts
};

Calibration calibrate(int threads, const CalibrationSizes& sizes);

// "model name" of the first processor in /proc/cpuinfo; "unknown CPU" when there is none.
std::string host_cpu_name();

}  // namespace plumb::hw
