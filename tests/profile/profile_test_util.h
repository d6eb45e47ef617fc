#pragma once
// A small, fully specified Profile for the output tests (JSON, CSV, trace, summaries).
#include "plumb/profile.h"

namespace plumb::profile::testing {

// Two steps (the first dropped), ops in three phases and two modules, a composite region, a data region.
// Each op's kernel window is 4/5 of its op time.
inline Profile sample_profile() {
  Profile p;
  p.run = {.workload = "sample", .variant = "default", .mode = "train", .batch = 4, .threads = 2, .steps = 2,
           .drop_first = 1, .drop_last = 0, .data = "synthetic", .description = "sample, \"quoted\", batch 4",
           .host = "Test CPU @ 1.0GHz", .plumb_version = "0.1.0"};
  p.steps = {{.index = 0, .measured = false, .start_ns = 0, .wall_ns = 1000, .cpu_ns = 900, .op_ns = 600,
              .kernel_ns = 472, .data_ns = 0},
             {.index = 1, .measured = true, .start_ns = 1000, .wall_ns = 1000, .cpu_ns = 1900, .op_ns = 800,
              .kernel_ns = 600, .data_ns = 100, .profiler_ns = 50}};
  auto op = [](std::string name, std::string cls, std::string phase, std::string module, std::string region,
               int step, int64_t start, int64_t dur, double flops, uint64_t seq, uint64_t fwd) {
    OpRecord o;
    o.op = std::move(name);
    o.op_class = std::move(cls);
    o.phase = std::move(phase);
    o.module = std::move(module);
    o.region = std::move(region);
    o.input_shapes = {{4, 3}, {3, 2}};
    o.output_shapes = {{4, 2}};
    o.dtype = "f32";
    o.device = "cpu";
    o.backend = "reference";
    o.step = step;
    o.start_ns = start;
    o.duration_ns = dur;
    o.kernel_ns = dur * 4 / 5;
    o.flops = flops;
    o.bytes_read = 80;
    o.bytes_written = 32.5;
    o.seq = seq;
    o.forward_seq = fwd;
    return o;
  };
  p.ops = {op("matmul", "matrix", "forward", "fc", "", 0, 110, 300, 48, 1, 0),
           op("relu", "elementwise", "forward", "act", "", 0, 430, 290, 8, 2, 0),
           op("matmul", "matrix", "forward", "fc", "", 1, 1110, 300, 48, 3, 0),
           op("exp", "elementwise", "forward", "act", "softmax", 1, 1420, 100, 8, 4, 0),
           op("matmul", "matrix", "backward", "fc", "", 1, 1600, 300, 96, 5, 3),
           op("sgd", "optimizer", "optimizer", "", "", 1, 1910, 50, 1e-3, 6, 0),
           op("relu", "elementwise", "forward", "", "", -1, 2500, 10, 0, 7, 0)};
  p.regions = {{.name = "fc", .kind = "module", .step = 0, .start_ns = 100, .duration_ns = 320},
               {.name = "act", .kind = "module", .step = 0, .start_ns = 425, .duration_ns = 300},
               {.name = "fc", .kind = "module", .step = 1, .start_ns = 1100, .duration_ns = 315},
               {.name = "act", .kind = "module", .step = 1, .start_ns = 1415, .duration_ns = 110},
               {.name = "softmax", .kind = "composite", .step = 1, .start_ns = 1418, .duration_ns = 104},
               {.name = "data", .kind = "data", .step = 1, .start_ns = 1960, .duration_ns = 30}};
  p.scaling = {{1, 2.5}, {2, 1.375}};
  return p;
}

}  // namespace plumb::profile::testing
