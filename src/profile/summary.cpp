// Summaries over the measured steps (by op type, class, phase, module), k90, and the CSV table.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "plumb/profile.h"

namespace plumb::profile {

namespace {

struct Acc {
  std::string op_class;
  int64_t calls = 0;
  double time_ns = 0, kernel_ns = 0, flops = 0, bytes = 0;
};

std::vector<SummaryRow> rows_of(const std::map<std::string, Acc>& groups, double total_ns,
                                const std::optional<Roofs>& roofs) {
  std::vector<SummaryRow> rows;
  rows.reserve(groups.size());
  for (const auto& [key, a] : groups) {
    SummaryRow r;
    r.key = key;
    r.op_class = a.op_class;
    r.calls = a.calls;
    r.time_ns = a.time_ns;
    r.kernel_ns = a.kernel_ns;
    r.share = total_ns > 0 ? a.time_ns / total_ns : 0;
    r.flops = a.flops;
    r.bytes = a.bytes;
    // Rates are the kernels' own: dispatch bookkeeping moves no data and does no arithmetic.
    r.gflops = a.kernel_ns > 0 ? a.flops / a.kernel_ns : 0;  // FLOP per ns = GFLOP/s
    r.gbs = a.kernel_ns > 0 ? a.bytes / a.kernel_ns : 0;
    r.intensity = a.bytes > 0 ? a.flops / a.bytes : 0;
    r.peak_fraction = roofs && roofs->peak_gflops > 0 ? r.gflops / roofs->peak_gflops : 0;
    rows.push_back(std::move(r));
  }
  // Most expensive first; equal times by key, so the order is deterministic.
  std::stable_sort(rows.begin(), rows.end(), [](const SummaryRow& a, const SummaryRow& b) {
    return a.time_ns != b.time_ns ? a.time_ns > b.time_ns : a.key < b.key;
  });
  return rows;
}

// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + '"';
}

}  // namespace

int k_cover(const std::vector<SummaryRow>& rows_by_time, double fraction) {
  double total = 0;
  for (const SummaryRow& r : rows_by_time) total += r.time_ns;
  if (total <= 0 || fraction <= 0) return 0;
  double cum = 0;
  for (size_t i = 0; i < rows_by_time.size(); ++i) {
    cum += rows_by_time[i].time_ns;
    if (cum >= fraction * total * (1 - 1e-12)) return static_cast<int>(i) + 1;
  }
  return static_cast<int>(rows_by_time.size());
}

Summary summarize(const Profile& p, const std::optional<Roofs>& roofs) {
  Summary s;
  std::vector<bool> measured(p.steps.size(), false);
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const StepRecord& st = p.steps[i];
    if (!st.measured) continue;
    measured[i] = true;
    ++s.measured_steps;
    s.step_wall_ns += static_cast<double>(st.wall_ns);
    s.step_cpu_ns += static_cast<double>(st.cpu_ns);
    s.op_ns += static_cast<double>(st.op_ns);
    s.kernel_ns += static_cast<double>(st.kernel_ns);
    s.data_ns += static_cast<double>(st.data_ns);
    s.profiler_ns += static_cast<double>(st.profiler_ns);
  }

  std::map<std::string, Acc> by_op, by_class, by_phase, by_module;
  double total_ns = 0, flops = 0, bytes = 0;
  for (const OpRecord& o : p.ops) {
    if (o.step < 0 || o.step >= static_cast<int>(measured.size()) || !measured[static_cast<size_t>(o.step)]) continue;
    const auto t = static_cast<double>(o.duration_ns);
    const double b = o.bytes_read + o.bytes_written;
    for (auto [map, key] : {std::pair{&by_op, &o.op}, std::pair{&by_class, &o.op_class},
                            std::pair{&by_phase, &o.phase}, std::pair{&by_module, &o.module}}) {
      Acc& a = (*map)[key->empty() ? std::string("(none)") : *key];
      ++a.calls;
      a.time_ns += t;
      a.kernel_ns += static_cast<double>(o.kernel_ns);
      a.flops += o.flops;
      a.bytes += b;
    }
    by_op[o.op].op_class = o.op_class;
    total_ns += t;
    flops += o.flops;
    bytes += b;
  }

  if (s.measured_steps > 0) {
    const double n = s.measured_steps;
    s.step_wall_ns /= n;
    s.step_cpu_ns /= n;
    s.op_ns /= n;
    s.kernel_ns /= n;
    s.data_ns /= n;
    s.profiler_ns /= n;
    s.overhead_ns = s.step_wall_ns - s.profiler_ns - s.op_ns - s.data_ns;
    const double unprofiled = s.step_wall_ns - s.profiler_ns;
    s.coverage = unprofiled > 0 ? s.op_ns / unprofiled : 0;
    s.kernel_coverage = unprofiled > 0 ? s.kernel_ns / unprofiled : 0;
    s.flops_per_step = flops / n;
    s.bytes_per_step = bytes / n;
  }
  s.by_op = rows_of(by_op, total_ns, roofs);
  s.by_class = rows_of(by_class, total_ns, roofs);
  s.by_phase = rows_of(by_phase, total_ns, roofs);
  s.by_module = rows_of(by_module, total_ns, roofs);
  s.k90 = k_cover(s.by_op, 0.9);
  return s;
}

std::string to_csv(const Profile& p, const std::optional<Roofs>& roofs) {
  const Summary s = summarize(p, roofs);
  std::string out =
      "op,class,calls,time_ns,time_per_step_ms,kernel_ms,share,flops,bytes,gflops,gbs,intensity,peak_fraction\n";
  const double steps = std::max(s.measured_steps, 1);
  for (const SummaryRow& r : s.by_op)
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{}\n", csv_field(r.key), csv_field(r.op_class), r.calls,
                       r.time_ns, r.time_ns / steps / 1e6, r.kernel_ns / steps / 1e6, r.share, r.flops, r.bytes,
                       r.gflops, r.gbs, r.intensity, r.peak_fraction);
  return out;
}

}  // namespace plumb::profile
