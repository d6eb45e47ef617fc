// plumb report: the characterization report (one self-contained HTML file, docs/report.md) from
// profile JSON files written by `plumb profile`.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli.h"
#include "plumb/devices.h"
#include "plumb/error.h"
#include "plumb/profile.h"
#include "plumb/report.h"
#include "plumb/thread_pool.h"

namespace plumb::cli {

namespace {

struct ReportArgs {
  std::vector<std::string> profiles;
  std::string out;
  std::string title;
  std::string device;
  std::string notes;
  bool calibrated = false;
};

// Roofs for the roofline and % of peak: a device from the table, this machine's cached calibration
// (required with --calibrated, used when present otherwise), or none.
std::optional<profile::Roofs> pick_roofs(const ReportArgs& a) {
  if (!a.device.empty()) return hw::roofs_of(hw::find_device(hw::device_table(), a.device));
  const std::optional<hw::Calibration> c = hw::load_calibration(num_threads());
  if (c) return hw::roofs_of(*c);
  if (a.calibrated)
    fail("no cached calibration for this host at ", num_threads(), " threads: run 'plumb calibrate' first");
  return std::nullopt;
}

int run_report(const ReportArgs& a) {
  std::vector<profile::Profile> profiles;
  profiles.reserve(a.profiles.size());
  for (const std::string& path : a.profiles) {
    try {
      profiles.push_back(profile::read_profile(path));
    } catch (const Error& e) {
      const std::string what = e.what();
      if (what.find(path) != std::string::npos) throw;
      fail(path, ": ", what);
    }
  }
  report::ReportOptions options;
  if (!a.title.empty()) options.title = a.title;
  options.notes = a.notes;
  options.roofs = pick_roofs(a);
  std::printf("%s\n", report::write_report(profiles, a.out, options).c_str());
  return 0;
}

}  // namespace

Run setup_report(CLI::App& sub) {
  auto a = std::make_shared<ReportArgs>();
  sub.add_option("profiles", a->profiles, "profile JSON files written by 'plumb profile -o'")->required();
  sub.add_option("-o,--out", a->out, "directory for index.html and report.json (created if needed)")->required();
  sub.add_option("--title", a->title, "the page's title");
  sub.add_option("--notes", a->notes, "free text shown under the title (e.g. how the profiles were taken)");
  CLI::Option* device = sub.add_option("--device", a->device,
                                       "roofs from the device table (ids: plumb calibrate --devices)");
  sub.add_flag("--calibrated", a->calibrated,
               "roofs from this machine's cached calibration (plumb calibrate), an error if there is none")
      ->excludes(device);
  return [a]() -> int { return run_report(*a); };
}

}  // namespace plumb::cli
