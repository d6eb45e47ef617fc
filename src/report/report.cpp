// The report's data model (summaries, the op-type matrix, similarity, clustering, scaling fits) and
// the files it is written to. The page itself is in page.cpp and web/.
#include "plumb/report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "plumb/error.h"
#include "plumb/profile_analysis.h"
#include "report/page.h"

namespace plumb::report {

namespace {

using nlohmann::ordered_json;

constexpr int kReportDataVersion = 1;

// JSON has no NaN or infinity; a rate over a zero time is reported as 0.
double finite(double x) { return std::isfinite(x) ? x : 0.0; }

ordered_json rows_json(const std::vector<profile::SummaryRow>& rows, int steps, bool op_rows) {
  ordered_json out = ordered_json::array();
  const double per = steps > 0 ? 1.0 / steps : 0.0;
  for (const profile::SummaryRow& r : rows) {
    ordered_json j;
    j["key"] = r.key;
    if (op_rows) j["op_class"] = r.op_class;
    j["calls_per_step"] = finite(static_cast<double>(r.calls) * per);
    j["ms_per_step"] = finite(r.time_ns * per / 1e6);
    j["share"] = finite(r.share);
    if (op_rows) {
      j["flops_per_step"] = finite(r.flops * per);
      j["bytes_per_step"] = finite(r.bytes * per);
      j["gflops"] = finite(r.gflops);
      j["gbs"] = finite(r.gbs);
      j["intensity"] = finite(r.intensity);
      j["peak_fraction"] = finite(r.peak_fraction);
    }
    out.push_back(std::move(j));
  }
  return out;
}

ordered_json workload_json(const profile::Profile& p, const std::string& label,
                           const std::optional<profile::Roofs>& roofs) {
  const profile::Summary s = profile::summarize(p, roofs);
  const profile::RunInfo& r = p.run;
  ordered_json w;
  w["label"] = label;
  w["workload"] = r.workload;
  w["variant"] = r.variant;
  w["mode"] = r.mode;
  w["batch"] = r.batch;
  w["threads"] = r.threads;
  w["steps"] = r.steps;
  w["drop_first"] = r.drop_first;
  w["drop_last"] = r.drop_last;
  w["data"] = r.data;
  w["description"] = r.description;
  w["host"] = r.host;
  w["plumb_version"] = r.plumb_version;
  w["measured_steps"] = s.measured_steps;
  w["step_ms"] = finite(s.step_wall_ns / 1e6);
  w["step_cpu_ms"] = finite(s.step_cpu_ns / 1e6);
  w["op_ms"] = finite(s.op_ns / 1e6);
  w["data_ms"] = finite(s.data_ns / 1e6);
  w["overhead_ms"] = finite(s.overhead_ns / 1e6);
  w["profiler_ms"] = finite(s.profiler_ns / 1e6);
  w["profiler_share"] = s.step_wall_ns > 0 ? finite(s.profiler_ns / s.step_wall_ns) : 0.0;
  w["coverage"] = finite(s.coverage);
  w["data_share"] = s.step_wall_ns > 0 ? finite(s.data_ns / s.step_wall_ns) : 0.0;
  w["overhead_share"] = s.step_wall_ns > 0 ? finite(std::max(0.0, s.overhead_ns) / s.step_wall_ns) : 0.0;
  w["k90"] = s.k90;
  w["flops_per_step"] = finite(s.flops_per_step);
  w["bytes_per_step"] = finite(s.bytes_per_step);
  // Achieved over the whole step (overhead included), so it compares across workloads and modes.
  const double gflops = s.step_wall_ns > 0 ? s.flops_per_step / s.step_wall_ns : 0.0;
  w["gflops"] = finite(gflops);
  w["peak_fraction"] = roofs && roofs->peak_gflops > 0 ? finite(gflops / roofs->peak_gflops) : 0.0;
  w["by_class"] = rows_json(s.by_class, s.measured_steps, false);
  w["by_phase"] = rows_json(s.by_phase, s.measured_steps, false);
  w["by_op"] = rows_json(s.by_op, s.measured_steps, true);
  w["by_module"] = rows_json(s.by_module, s.measured_steps, false);

  ordered_json scaling = ordered_json::array();
  std::vector<profile::ScalingPoint> points = p.scaling;
  std::sort(points.begin(), points.end(),
            [](const profile::ScalingPoint& a, const profile::ScalingPoint& b) { return a.threads < b.threads; });
  for (const profile::ScalingPoint& pt : points)
    scaling.push_back(ordered_json{{"threads", pt.threads}, {"step_ms", finite(pt.step_ms)}});
  w["scaling"] = std::move(scaling);
  w["amdahl"] = nullptr;
  w["amdahl_error"] = "";
  if (!points.empty()) {
    try {
      const profile::AmdahlFit fit = profile::fit_amdahl(points);
      w["amdahl"] = ordered_json{{"serial_fraction", finite(fit.serial_fraction)},
                                 {"t1_ms", finite(fit.t1_ms)},
                                 {"rmse_ms", finite(fit.rmse_ms)},
                                 {"max_speedup", finite(fit.max_speedup())}};
    } catch (const Error& e) {
      // Too few points for a fit is not an error of the report: the curve is drawn without it.
      w["amdahl_error"] = e.what();
    }
  }
  return w;
}

ordered_json data_model(const std::vector<profile::Profile>& profiles, const ReportOptions& options) {
  if (profiles.empty()) fail("report: no profiles given");
  const profile::OpTypeMatrix m = profile::op_type_matrix(profiles);
  const std::vector<std::string>& labels = m.labels;  // "workload/mode", made unique

  ordered_json d;
  d["format"] = "plumb-report";
  d["version"] = kReportDataVersion;
  d["title"] = options.title;
  d["notes"] = options.notes;
  std::string version;
  for (const profile::Profile& p : profiles)
    if (version.empty()) version = p.run.plumb_version;
  d["plumb_version"] = version;
  if (options.roofs)
    d["roofs"] = ordered_json{{"device", options.roofs->device},
                              {"peak_gflops", finite(options.roofs->peak_gflops)},
                              {"bandwidth_gbs", finite(options.roofs->bandwidth_gbs)}};
  else
    d["roofs"] = nullptr;

  ordered_json workloads = ordered_json::array();
  for (size_t i = 0; i < profiles.size(); ++i) workloads.push_back(workload_json(profiles[i], labels[i], options.roofs));

  // Matrix in ms per measured step and as a share of each profile's op time (the heat map's colour).
  ordered_json mat;
  mat["labels"] = labels;
  mat["op_types"] = m.op_types;
  ordered_json ms = ordered_json::array(), share = ordered_json::array();
  for (size_t i = 0; i < m.time_ns.size(); ++i) {
    const int steps = workloads[i]["measured_steps"].get<int>();
    double total = 0;
    for (double t : m.time_ns[i]) total += t;
    ordered_json ms_row = ordered_json::array(), share_row = ordered_json::array();
    for (double t : m.time_ns[i]) {
      ms_row.push_back(steps > 0 ? finite(t / steps / 1e6) : 0.0);
      share_row.push_back(total > 0 ? finite(t / total) : 0.0);
    }
    ms.push_back(std::move(ms_row));
    share.push_back(std::move(share_row));
  }
  mat["ms_per_step"] = std::move(ms);
  mat["share"] = std::move(share);

  // Op type -> class, for coloring the columns and the roofline's points.
  std::map<std::string, std::string> classes;
  for (const auto& w : workloads)
    for (const auto& o : w["by_op"]) classes.emplace(o["key"].get<std::string>(), o["op_class"].get<std::string>());
  mat["op_classes"] = classes;

  const auto sim = profile::cosine_similarity(m.time_ns);
  std::vector<std::vector<double>> dist(sim.size(), std::vector<double>(sim.size(), 0.0));
  for (size_t i = 0; i < sim.size(); ++i)
    for (size_t j = 0; j < sim.size(); ++j) dist[i][j] = i == j ? 0.0 : std::max(0.0, 1.0 - sim[i][j]);
  // Exactly symmetric even if the similarity is not to the last bit.
  for (size_t i = 0; i < dist.size(); ++i)
    for (size_t j = i + 1; j < dist.size(); ++j) dist[j][i] = dist[i][j];
  ordered_json sim_json = ordered_json::array();
  for (const auto& row : sim) {
    ordered_json r = ordered_json::array();
    for (double v : row) r.push_back(finite(v));
    sim_json.push_back(std::move(r));
  }

  ordered_json merges = ordered_json::array();
  ordered_json order = ordered_json::array();
  if (profiles.size() >= 2) {
    const std::vector<profile::Merge> link = profile::average_linkage(dist);
    for (const profile::Merge& mg : link)
      merges.push_back(ordered_json{{"a", mg.a}, {"b", mg.b}, {"distance", finite(mg.distance)}, {"size", mg.size}});
    for (int leaf : profile::dendrogram_order(link, static_cast<int>(profiles.size()))) order.push_back(leaf);
  } else {
    order.push_back(0);
  }

  // Train / infer step-time ratio for every workload (and variant) profiled in both modes.
  ordered_json ratios = ordered_json::array();
  std::map<std::string, std::pair<double, double>> modes;  // workload -> (train ms, infer ms), first of each
  std::vector<std::string> order_seen;
  for (const auto& w : workloads) {
    // Named like the labels: the variant only when it is not the default one.
    std::string key = w["workload"].get<std::string>();
    const std::string variant = w["variant"].get<std::string>();
    if (!variant.empty() && variant != "default") key += "/" + variant;
    if (!modes.count(key)) {
      modes[key] = {0.0, 0.0};
      order_seen.push_back(key);
    }
    auto& [train, infer] = modes[key];
    const double step = w["step_ms"].get<double>();
    if (w["mode"] == "train" && train == 0) train = step;
    if (w["mode"] == "infer" && infer == 0) infer = step;
  }
  for (const std::string& key : order_seen) {
    const auto [train, infer] = modes[key];
    if (train > 0 && infer > 0)
      ratios.push_back(ordered_json{{"workload", key}, {"train_ms", train}, {"infer_ms", infer}, {"ratio", train / infer}});
  }

  d["workloads"] = std::move(workloads);
  d["op_type_matrix"] = std::move(mat);
  d["similarity"] = std::move(sim_json);
  d["linkage"] = std::move(merges);
  d["dendrogram_order"] = std::move(order);
  d["mode_ratios"] = std::move(ratios);
  return d;
}

}  // namespace

std::string report_data_json(const std::vector<profile::Profile>& profiles, const ReportOptions& options) {
  return data_model(profiles, options).dump(1) + "\n";
}

std::string render_html(const std::vector<profile::Profile>& profiles, const ReportOptions& options) {
  const ordered_json d = data_model(profiles, options);
  return detail::render_page(d.dump(), options.title, d["plumb_version"].get<std::string>());
}

std::string write_report(const std::vector<profile::Profile>& profiles, const std::string& dir,
                         const ReportOptions& options) {
  if (profiles.empty()) fail("report: no profiles given");
  if (dir.empty()) fail("report: no output directory given");
  const ordered_json d = data_model(profiles, options);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    fail("report: cannot create directory '", dir, "'", ec ? ": " + ec.message() : std::string());
  const std::string html = (std::filesystem::path(dir) / "index.html").string();
  profile::write_text_file((std::filesystem::path(dir) / "report.json").string(), d.dump(1) + "\n");
  profile::write_text_file(html, detail::render_page(d.dump(), options.title, d["plumb_version"].get<std::string>()));
  return html;
}

}  // namespace plumb::report
