// plumb suite: the main job. Profiles every configuration (workload x mode) of the workload suite with
// the Fathom protocol, sweeps intra-op threads in training, and writes the characterization report.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
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
#include "plumb/models.h"
#include "plumb/profile.h"
#include "plumb/report.h"
#include "plumb/thread_pool.h"
#include "plumb/workload.h"

namespace plumb::cli {

namespace {

// Fathom's order; registered suite workloads missing from it follow, by name.
const char* const kFathomOrder[] = {"seq2seq", "memnet", "speech", "autoenc", "residual", "vgg", "alexnet", "deepq"};

struct SuiteArgs {
  bool quick = false, full = false, no_sweep = false;
  std::string workloads, modes = "train,infer", variant, output = "suite", device;
  int64_t batch = 0;
  bool batch_given = false;
};

std::vector<std::string> split_list(const std::string& s, const char* flag) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  if (out.empty()) fail(flag, ": expected a comma-separated list, got '", s, "'");
  return out;
}

std::vector<std::string> suite_workloads() {
  std::vector<std::string> out;
  for (const char* name : kFathomOrder)
    if (models::has_model(name) && models::model_info(name).in_suite) out.push_back(name);
  for (const std::string& name : models::model_names())
    if (models::model_info(name).in_suite && std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  return out;
}

// Thread counts of the sweep: 1, 2, 4, ... and the cores.
std::vector<int> sweep_threads() {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<int> out;
  for (int t = 1; t < cores; t *= 2) out.push_back(t);
  out.push_back(cores);
  return out;
}

// The named device's roofs, else this machine's: calibrated once (a few seconds) and cached, so the
// report's roofline and % of peak always have a device.
profile::Roofs suite_roofs(const std::string& device) {
  if (!device.empty()) return hw::roofs_of(hw::find_device(hw::device_table(), device));
  if (auto c = hw::load_calibration(num_threads())) return hw::roofs_of(*c);
  std::fprintf(stderr, "calibrating this machine at %d threads (plumb calibrate; cached in %s)\n", num_threads(),
               hw::calibration_path().c_str());
  const hw::Calibration c = hw::calibrate(num_threads());
  hw::save_calibration(c);
  return hw::roofs_of(c);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int run_suite(const SuiteArgs& a) {
  if (a.quick && a.full) fail("--quick and --full exclude each other");
  if (a.batch_given && a.batch < 1) fail("--batch must be positive, got ", a.batch);
  const bool quick = !a.full;
  const std::vector<std::string> names = a.workloads.empty() ? suite_workloads() : split_list(a.workloads, "--workloads");
  for (const std::string& n : names) (void)models::model_info(n);  // unknown names fail before any work
  std::vector<models::Mode> modes;
  for (const std::string& m : split_list(a.modes, "--modes")) modes.push_back(models::parse_mode(m));
  if (!a.variant.empty())
    for (const std::string& n : names) {
      const auto& v = models::model_info(n).variants;
      if (std::find(v.begin(), v.end(), a.variant) == v.end())
        fail("workload '", n, "' has no variant '", a.variant, "'");
    }
  const profile::Roofs roofs = suite_roofs(a.device);
  const profile::ProtocolOptions protocol{.steps = quick ? 5 : 12, .drop_first = 1, .drop_last = 1};
  const profile::ProtocolOptions sweep_protocol{.steps = quick ? 4 : 7, .drop_first = 1, .drop_last = 1};
  const std::vector<int> sweep = a.no_sweep ? std::vector<int>{} : sweep_threads();

  const std::filesystem::path dir(a.output);
  std::error_code ec;
  std::filesystem::create_directories(dir / "profiles", ec);
  if (ec) fail("-o: cannot create '", (dir / "profiles").string(), "': ", ec.message());

  const size_t total = names.size() * modes.size();
  std::fprintf(stderr, "plumb suite (%s): %zu configurations, %d threads, %d steps each (first and last dropped)%s\n",
               quick ? "quick" : "full", total, num_threads(), protocol.steps,
               sweep.empty() ? "" : fmt::format(", thread sweep {} in training", fmt::join(sweep, ",")).c_str());
  const auto t_suite = std::chrono::steady_clock::now();
  std::vector<profile::Profile> profiles;
  std::vector<std::string> settings;
  size_t index = 0;
  for (const std::string& name : names) {
    const models::ModelInfo& info = models::model_info(name);
    for (models::Mode mode : modes) {
      ++index;
      const auto t0 = std::chrono::steady_clock::now();
      models::WorkloadOptions o;
      o.variant = a.variant;
      o.mode = mode;
      o.batch = a.batch_given ? a.batch : quick && info.quick_batch > 0 ? info.quick_batch : 0;
      std::unique_ptr<models::Workload> w = models::make_workload(name, o);
      std::fprintf(stderr, "[%zu/%zu] %s ...\n", index, total, w->describe().c_str());
      profile::Profile p = profile::profile_workload(*w, protocol);
      if (mode == models::Mode::train && !sweep.empty()) p.scaling = profile::thread_sweep(*w, sweep, sweep_protocol);
      const profile::Summary s = profile::summarize(p, roofs);
      const std::string file =
          (dir / "profiles" / fmt::format("{}-{}-{}.json", name, w->variant(), models::mode_name(mode))).string();
      profile::write_profile(p, file);
      std::fprintf(stderr, "[%zu/%zu] %s %s %s b%lld: step %.1f ms, coverage %.1f%%, k90 %d, %.1f s\n", index, total,
                   name.c_str(), w->variant().c_str(), std::string(models::mode_name(mode)).c_str(),
                   static_cast<long long>(w->batch()), s.step_wall_ns / 1e6, 100 * s.coverage, s.k90,
                   seconds_since(t0));
      settings.push_back(fmt::format("{} {} {} batch {}", name, w->variant(), models::mode_name(mode), w->batch()));
      profiles.push_back(std::move(p));
    }
  }

  report::ReportOptions ro;
  ro.title = fmt::format("plumb workload suite ({})", quick ? "quick" : "full");
  ro.roofs = roofs;
  ro.notes = fmt::format(
      "{} mode: {} steps per configuration (first and last dropped), {} intra-op threads{}; {}. "
      "ImageNet-shaped inputs are synthetic (the real set is not obtainable here).",
      quick ? "Quick" : "Full", protocol.steps, num_threads(),
      sweep.empty() ? "" : fmt::format(", thread sweep {} in training ({} steps each)", fmt::join(sweep, ","),
                                       sweep_protocol.steps),
      fmt::join(settings, "; "));
  const std::string index_html = report::write_report(profiles, a.output, ro);
  std::printf("%s\n", index_html.c_str());
  std::fprintf(stderr, "plumb suite: %zu configurations in %.1f s; report %s\n", total, seconds_since(t_suite),
               index_html.c_str());
  return 0;
}

}  // namespace

Run setup_suite(CLI::App& sub) {
  auto a = std::make_shared<SuiteArgs>();
  sub.add_flag("--quick", a->quick, "small batches and 5 steps: every configuration on this machine in minutes (default)");
  sub.add_flag("--full", a->full, "Fathom's batches and 12 steps");
  sub.add_option("--workloads", a->workloads, "comma-separated workloads (default: every suite workload)");
  sub.add_option("--modes", a->modes, "comma-separated modes: train, infer");
  sub.add_option("--variant", a->variant, "variant for every workload (default: each workload's first, fathom)");
  CLI::Option* batch = sub.add_option("--batch", a->batch, "batch for every configuration (default: per workload and mode)");
  sub.add_option("-o,--output", a->output, "directory for index.html, report.json and profiles/");
  sub.add_option("--device", a->device, "device id for roofs (plumb calibrate --devices); default: this machine's calibration when cached");
  sub.add_flag("--no-sweep", a->no_sweep, "skip the intra-op thread sweep");
  return [a, batch]() -> int {
    a->batch_given = batch->count() > 0;
    return run_suite(*a);
  };
}

}  // namespace plumb::cli
