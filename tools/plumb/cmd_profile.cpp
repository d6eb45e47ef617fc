// plumb profile: runs a workload under the Fathom protocol (N steps, first and last dropped, ops
// serialized) and prints where the time goes; writes the profile JSON, CSV and a Chrome trace.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "cli.h"
#include "plumb/devices.h"
#include "plumb/error.h"
#include "plumb/nn/module.h"
#include "plumb/onnx.h"
#include "plumb/profile.h"
#include "plumb/profile_analysis.h"
#include "plumb/thread_pool.h"
#include "plumb/workload.h"

namespace plumb::cli {

namespace {

struct ProfileArgs {
  std::string model, variant, mode = "train", data = "synthetic", output, trace, csv, device, sweep;
  int64_t batch = 0;
  bool batch_given = false, mode_given = false;
  int steps = 12;
  int top = 15;
  uint64_t seed = 1;
};

// Thread counts for --sweep: "all" = 1, 2, 4, ... up to the cores (cores included), or a list "1,2".
std::vector<int> parse_sweep(const std::string& s) {
  std::vector<int> out;
  if (s == "all") {
    const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    for (int t = 1; t < cores; t *= 2) out.push_back(t);
    out.push_back(cores);
    return out;
  }
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || item.empty() || v < 1)
      fail("--sweep: expected 'all' or thread counts like 1,2,4, got '", s, "'");
    out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.size() < 2) fail("--sweep needs at least two thread counts, got '", s, "'");
  return out;
}

// Roofs for % of peak: the named device, else this machine's cached calibration, else none.
std::optional<profile::Roofs> pick_roofs(const std::string& device) {
  if (!device.empty()) return hw::roofs_of(hw::find_device(hw::device_table(), device));
  if (auto c = hw::load_calibration(num_threads())) return hw::roofs_of(*c);
  return std::nullopt;
}

std::string ms(double ns) { return fmt::format("{:.3f}", ns / 1e6); }

// Module path ("3", "features.0") -> "3 Conv2d", so the module table says what each row is.
void collect_module_types(const nn::Module& m, const std::string& prefix, std::map<std::string, std::string>& out) {
  for (const auto& [name, child] : m.named_children()) {
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    out[path] = child->type_name();
    collect_module_types(*child, path, out);
  }
}

void print_rows(const char* title, const std::vector<profile::SummaryRow>& rows, int measured, size_t limit,
                bool with_rates, bool with_peak = false, const std::map<std::string, std::string>& labels = {}) {
  std::printf("\n%s\n", title);
  if (with_rates)
    std::printf("  %-24s %-12s %8s %10s %7s %7s %9s %8s %7s %7s\n", "op type", "class", "calls/st", "ms/step",
                "share", "cum", "GFLOP/s", "GB/s", "FLOP/B", "%peak");
  else
    std::printf("  %-40s %8s %10s %7s %7s\n", "", "calls/st", "ms/step", "share", "cum");
  double cum = 0;
  for (size_t i = 0; i < rows.size() && i < limit; ++i) {
    const profile::SummaryRow& r = rows[i];
    cum += r.share;
    const double calls = measured > 0 ? static_cast<double>(r.calls) / measured : 0;
    const double per_step = measured > 0 ? r.time_ns / measured : 0;
    if (with_rates) {
      const std::string peak = with_peak ? fmt::format("{:.1f}%", 100 * r.peak_fraction) : "-";
      std::printf("  %-24s %-12s %8.1f %10s %6.1f%% %6.1f%% %9.2f %8.2f %7.2f %7s\n", r.key.c_str(),
                  r.op_class.c_str(), calls, ms(per_step).c_str(), 100 * r.share, 100 * cum, r.gflops, r.gbs,
                  r.intensity, peak.c_str());
    } else {
      const auto label = labels.find(r.key);
      const std::string key = r.key.empty() ? "(outside modules)"
                              : label == labels.end() ? r.key
                                                      : r.key + " " + label->second;
      std::printf("  %-40s %8.1f %10s %6.1f%% %6.1f%%\n", key.c_str(), calls, ms(per_step).c_str(), 100 * r.share,
                  100 * cum);
    }
  }
  if (rows.size() > limit) std::printf("  ... %zu more\n", rows.size() - limit);
}

int run_profile(const ProfileArgs& a) {
  if (a.batch_given && a.batch < 1) fail("--batch must be positive, got ", a.batch);
  if (a.steps < 3) fail("--steps must be at least 3 (the first and last are dropped), got ", a.steps);
  if (a.top < 1) fail("--top must be positive, got ", a.top);
  const std::vector<int> sweep = a.sweep.empty() ? std::vector<int>{} : parse_sweep(a.sweep);
  const std::optional<profile::Roofs> roofs = pick_roofs(a.device);

  std::unique_ptr<models::Workload> w;
  if (a.model.ends_with(".onnx")) {
    // An ONNX model: imported once (--batch sets its symbolic dims), each step one inference.
    if (a.mode_given && a.mode != "infer")
      fail("--mode ", a.mode, ": ", a.model, " is an ONNX model, which plumb profiles in inference only (--mode infer)");
    if (a.data != "synthetic") fail("--data ", a.data, ": an ONNX model runs on synthetic inputs only");
    if (!a.variant.empty()) fail("--variant: an ONNX model has no variants");
    OnnxImportOptions oo;
    if (a.batch_given) oo.symbolic_dim = a.batch;
    w = make_onnx_workload(a.model, oo, a.seed);
  } else {
    models::WorkloadOptions o;
    o.variant = a.variant;
    o.mode = models::parse_mode(a.mode);
    o.batch = a.batch;
    o.seed = a.seed;
    o.data = a.data;
    w = models::make_workload(a.model, o);
  }
  std::fprintf(stderr, "profiling %s: %d steps (first and last dropped), %d threads\n", w->describe().c_str(),
               a.steps, num_threads());

  profile::ProtocolOptions protocol;
  protocol.steps = a.steps;
  profile::Profile p = profile::profile_workload(*w, protocol);
  p.run.data = w->data();
  if (!sweep.empty()) {
    std::fprintf(stderr, "thread sweep over %s threads\n", a.sweep.c_str());
    p.scaling = profile::thread_sweep(*w, sweep, protocol);
  }

  const profile::Summary s = profile::summarize(p, roofs);
  std::printf("%s, %d threads\n", w->describe().c_str(), p.run.threads);
  std::printf("step %s ms wall, %s ms CPU over %d measured steps; ops %s ms = %.1f%% coverage (kernels %s ms = "
              "%.1f%%); data %s ms; framework %s ms; profiler %s ms\n",
              ms(s.step_wall_ns).c_str(), ms(s.step_cpu_ns).c_str(), s.measured_steps, ms(s.op_ns).c_str(),
              100 * s.coverage, ms(s.kernel_ns).c_str(), 100 * s.kernel_coverage, ms(s.data_ns).c_str(),
              ms(s.overhead_ns).c_str(), ms(s.profiler_ns).c_str());
  const double step_s = s.step_wall_ns / 1e9;
  std::printf("%.3f GFLOP/step, %.1f GFLOP/s, %.1f samples/s; k90 = %d of %zu op types%s\n", s.flops_per_step / 1e9,
              step_s > 0 ? s.flops_per_step / 1e9 / step_s : 0.0,
              step_s > 0 ? static_cast<double>(p.run.batch) / step_s : 0.0, s.k90, s.by_op.size(),
              roofs ? fmt::format("; peak from {}", roofs->device).c_str() : "");
  std::map<std::string, std::string> module_types;
  collect_module_types(w->model(), "", module_types);
  print_rows("by op type", s.by_op, s.measured_steps, static_cast<size_t>(a.top), true, roofs.has_value());
  print_rows("by class", s.by_class, s.measured_steps, 16, false);
  print_rows("by phase", s.by_phase, s.measured_steps, 4, false);
  print_rows("by module", s.by_module, s.measured_steps, static_cast<size_t>(a.top), false, false, module_types);
  if (!p.scaling.empty()) {
    const profile::AmdahlFit fit = profile::fit_amdahl(p.scaling);
    std::printf("\nthread scaling (Amdahl fit: serial fraction %.3f, T1 %.3f ms)\n", fit.serial_fraction, fit.t1_ms);
    for (const profile::ScalingPoint& pt : p.scaling)
      std::printf("  %3d threads  %9.3f ms/step  speedup %.2fx\n", pt.threads, pt.step_ms,
                  p.scaling.front().step_ms / pt.step_ms);
  }

  if (!a.output.empty()) {
    profile::write_profile(p, a.output);
    std::fprintf(stderr, "wrote %s\n", a.output.c_str());
  }
  if (!a.csv.empty()) {
    profile::write_text_file(a.csv, profile::to_csv(p, roofs));
    std::fprintf(stderr, "wrote %s\n", a.csv.c_str());
  }
  if (!a.trace.empty()) {
    profile::write_text_file(a.trace, profile::to_chrome_trace(p));
    std::fprintf(stderr, "wrote %s (open in https://ui.perfetto.dev or chrome://tracing)\n", a.trace.c_str());
  }
  return 0;
}

}  // namespace

Run setup_profile(CLI::App& sub) {
  auto a = std::make_shared<ProfileArgs>();
  sub.add_option("model", a->model, "workload name from the registry (see plumb info), or an ONNX model (.onnx)")
      ->required();
  sub.add_option("--variant", a->variant, "model variant (default: the model's first)");
  CLI::Option* mode = sub.add_option("--mode", a->mode, "train (forward, backward, optimizer) or infer (forward, no gradients); ONNX models: infer");
  CLI::Option* batch = sub.add_option("--batch", a->batch, "batch size (default: the workload's; ONNX models: the value of symbolic dims)");
  sub.add_option("--steps", a->steps, "steps to run; the first and last are dropped (Fathom protocol)");
  sub.add_option("--data", a->data, "synthetic (one fixed batch) or dataset (the model's dataset, timed as data)");
  sub.add_option("--seed", a->seed, "seed for parameters and synthetic data");
  sub.add_option("-o,--output", a->output, "write the profile JSON here (docs/profile.md)");
  sub.add_option("--trace", a->trace, "write a Chrome trace-event JSON here (Perfetto opens it)");
  sub.add_option("--csv", a->csv, "write the per-op-type summary as CSV here");
  sub.add_option("--top", a->top, "rows of the op-type and module tables");
  sub.add_option("--device", a->device, "device id for % of peak (plumb calibrate --devices); default: this machine's calibration when cached");
  sub.add_option("--sweep", a->sweep, "also time the workload at these intra-op thread counts: 'all' or e.g. 1,2");
  return [a, batch, mode]() -> int {
    a->batch_given = batch->count() > 0;
    a->mode_given = mode->count() > 0;
    return run_profile(*a);
  };
}

}  // namespace plumb::cli
