// The Fathom protocol (N steps, first and last dropped, ops serialized) and the intra-op thread sweep.
#include <fstream>

#include "plumb/error.h"
#include "plumb/profile.h"
#include "plumb/thread_pool.h"
#include "plumb/workload.h"

#ifndef PLUMB_VERSION
#define PLUMB_VERSION "unknown"
#endif

namespace plumb::profile {

namespace {

void check_options(const ProtocolOptions& o) {
  if (o.steps < 1 || o.drop_first < 0 || o.drop_last < 0 || o.steps - o.drop_first - o.drop_last < 1)
    fail("profile: ", o.steps, " steps with ", o.drop_first, " dropped first and ", o.drop_last,
         " dropped last leave no step to measure");
}

bool is_measured(const ProtocolOptions& o, int i) { return i >= o.drop_first && i < o.steps - o.drop_last; }

// The CPU's "model name" from /proc/cpuinfo; "" where there is none (non-x86 kernels may lack it).
std::string host_cpu() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const size_t begin = line.find_first_not_of(" \t", colon + 1);
    return begin == std::string::npos ? "" : line.substr(begin);
  }
  return "";
}

}  // namespace

Profile profile_workload(models::Workload& workload, const ProtocolOptions& options) {
  check_options(options);
  Profiler profiler;
  profiler.attach();
  for (int i = 0; i < options.steps; ++i) {
    profiler.begin_step(is_measured(options, i));
    workload.step();
    profiler.end_step();
  }
  profiler.detach();

  RunInfo run;
  run.workload = workload.name();
  run.variant = workload.variant();
  run.mode = std::string(models::mode_name(workload.mode()));
  run.batch = workload.batch();
  run.threads = num_threads();
  run.steps = options.steps;
  run.drop_first = options.drop_first;
  run.drop_last = options.drop_last;
  run.data = workload.data();
  run.description = workload.describe();
  run.host = host_cpu();
  run.plumb_version = PLUMB_VERSION;
  return profiler.finish(run);
}

std::vector<ScalingPoint> thread_sweep(models::Workload& workload, const std::vector<int>& threads,
                                       const ProtocolOptions& options) {
  check_options(options);
  const int original = num_threads();
  std::vector<ScalingPoint> points;
  try {
    for (int t : threads) {
      set_num_threads(t);
      double total_ns = 0;
      int measured = 0;
      for (int i = 0; i < options.steps; ++i) {
        const int64_t t0 = now_ns();
        workload.step();
        const int64_t t1 = now_ns();
        if (is_measured(options, i)) {
          total_ns += static_cast<double>(t1 - t0);
          ++measured;
        }
      }
      points.push_back({t, total_ns / measured / 1e6});
    }
  } catch (...) {
    try {
      set_num_threads(original);
    } catch (...) {  // the first error is the one to report
    }
    throw;
  }
  set_num_threads(original);
  return points;
}

}  // namespace plumb::profile
