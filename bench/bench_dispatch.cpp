// Per-op framework overhead: plumb::add on 4-element tensors (no grad, recording the tape, observed by a
// profiler-like observer, recorded by the profiler), a scalar add, and reshape (a view: no kernel, no copy). Time is ns per op.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/ops.h"
#include "plumb/profile.h"
#include "plumb/tensor.h"
#include "plumb/thread_pool.h"

namespace {

using plumb::Tensor;

Tensor small(bool requires_grad) {
  Tensor t = Tensor::from_vector<float>({1.f, 2.f, 3.f, 4.f}, {4});
  if (requires_grad) t.set_requires_grad(true);
  return t;
}

// Runs op once outside the timing (so a missing op reports an error), then times it.
void time_op(benchmark::State& st, const std::function<Tensor()>& op) {
  try {
    benchmark::DoNotOptimize(op());
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
    return;
  }
  for (auto _ : st) {
    Tensor out = op();
    benchmark::DoNotOptimize(out);
  }
}

// Baseline: the arithmetic itself on preallocated buffers.
void bm_raw_loop(benchmark::State& st) {
  float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4];
  for (auto _ : st) {
    benchmark::DoNotOptimize(a);
    for (int i = 0; i < 4; ++i) c[i] = a[i] + b[i];
    benchmark::DoNotOptimize(c);
    benchmark::ClobberMemory();
  }
}

// Baseline: allocating the output tensor alone.
void bm_tensor_empty(benchmark::State& st) {
  for (auto _ : st) {
    Tensor t = Tensor::empty({4});
    benchmark::DoNotOptimize(t);
  }
}

void bm_add_no_grad(benchmark::State& st) {
  const Tensor a = small(false), b = small(false);
  time_op(st, [&] { return plumb::add(a, b); });
}

// An input that requires grad: the dispatcher records a tape node per op (freed with the output).
void bm_add_requires_grad(benchmark::State& st) {
  const Tensor a = small(true), b = small(false);
  time_op(st, [&] { return plumb::add(a, b); });
}

void bm_add_requires_grad_no_grad_scope(benchmark::State& st) {
  const Tensor a = small(true), b = small(false);
  plumb::NoGradScope no_grad;
  time_op(st, [&] { return plumb::add(a, b); });
}

// The scalar overload builds a 0-d tensor and broadcasts it.
void bm_add_scalar(benchmark::State& st) {
  const Tensor a = small(false);
  time_op(st, [&] { return plumb::add(a, 1.0); });
}

// What the profiler's presence costs: an observer makes the dispatcher time and cost every op.
class CountingObserver : public plumb::DispatchObserver {
 public:
  void on_op(const plumb::OpEvent& e) override { flops_ += e.cost.flops; }
  double flops_ = 0;
};

void bm_add_observed(benchmark::State& st) {
  const Tensor a = small(false), b = small(false);
  CountingObserver obs;
  plumb::ObserverScope scope(&obs);
  time_op(st, [&] { return plumb::add(a, b); });
}

// The real profiler attached, inside a step: what recording one op event costs. Every 4096 ops the
// records are dropped outside the timing, so memory does not grow.
void bm_add_profiled(benchmark::State& st) {
  const Tensor a = small(false), b = small(false);
  plumb::profile::Profiler prof;
  prof.attach();
  prof.begin_step();
  int64_t n = 0;
  for (auto _ : st) {
    Tensor out = plumb::add(a, b);
    benchmark::DoNotOptimize(out);
    if (++n % 4096 == 0) {
      st.PauseTiming();
      prof.end_step();
      prof.clear();
      prof.begin_step();
      st.ResumeTiming();
    }
  }
  prof.end_step();
  prof.detach();
}

void bm_reshape(benchmark::State& st) {
  const Tensor a = small(false);
  time_op(st, [&] { return plumb::reshape(a, {2, 2}); });
}

void bm_reshape_requires_grad(benchmark::State& st) {
  const Tensor a = small(true);
  time_op(st, [&] { return plumb::reshape(a, {2, 2}); });
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Console output plus a ns/op table at the end.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  // Colors only on a terminal (a reporter passed in does not read --benchmark_color).
  SummaryReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration) continue;
      const double to_ns = 1e9 / benchmark::GetTimeUnitMultiplier(r.time_unit);
      rows_.push_back({r.benchmark_name(), r.error_occurred ? r.error_message : "", r.GetAdjustedRealTime() * to_ns,
                       r.GetAdjustedCPUTime() * to_ns});
    }
    ConsoleReporter::ReportRuns(runs);
  }
  // One line per benchmark; with --benchmark_repetitions, the median over repetitions.
  void print_summary() const {
    if (rows_.empty()) return;
    std::vector<std::string> order;
    std::map<std::string, std::vector<const Row*>> groups;
    for (const Row& r : rows_) {
      if (!groups.count(r.name)) order.push_back(r.name);
      groups[r.name].push_back(&r);
    }
    // Ops run on the calling thread only, so CPU time is their cost even when the machine is loaded.
    std::printf("\nper-op overhead on 4-element f32 tensors (ns per op; CPU time is the cost, wall time "
                "includes preemption)\n%-40s %4s %10s %10s\n", "benchmark", "reps", "cpu ns/op", "wall ns/op");
    for (const std::string& name : order) {
      std::vector<double> cpu, wall;
      std::string error;
      for (const Row* r : groups.at(name)) {
        if (!r->error.empty()) {
          error = r->error;
          continue;
        }
        cpu.push_back(r->cpu_ns);
        wall.push_back(r->ns);
      }
      if (cpu.empty()) {
        std::printf("%-40s  skipped: %s\n", name.c_str(), error.c_str());
        continue;
      }
      std::printf("%-40s %4zu %10.1f %10.1f\n", name.c_str(), cpu.size(), median(cpu), median(wall));
    }
    std::fflush(stdout);
  }

 private:
  struct Row {
    std::string name, error;
    double ns = 0, cpu_ns = 0;
  };
  std::vector<Row> rows_;
};

std::string take_flag(int& argc, char** argv, const char* name) {
  const std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      std::string value = argv[i] + prefix.size();
      for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
      --argc;
      return value;
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  const std::string threads_flag = take_flag(argc, argv, "threads");
  try {
    plumb::set_num_threads(threads_flag.empty() ? plumb::num_threads() : std::stoi(threads_flag));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_dispatch: %s\n", e.what());
    return 2;
  }
  benchmark::AddCustomContext("plumb_threads", std::to_string(plumb::num_threads()));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const std::vector<std::pair<const char*, void (*)(benchmark::State&)>> benches = {
      {"baseline/raw_add4", bm_raw_loop},
      {"baseline/tensor_empty4", bm_tensor_empty},
      {"add/no_grad", bm_add_no_grad},
      {"add/requires_grad_tape", bm_add_requires_grad},
      {"add/requires_grad_in_no_grad_scope", bm_add_requires_grad_no_grad_scope},
      {"add/scalar_operand", bm_add_scalar},
      {"add/no_grad_observed", bm_add_observed},
      {"add/no_grad_profiled", bm_add_profiled},
      {"reshape/view", bm_reshape},
      {"reshape/view_requires_grad_tape", bm_reshape_requires_grad},
  };
  for (const auto& [name, fn] : benches) benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kNanosecond);

  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_summary();
  benchmark::Shutdown();
  return 0;
}
