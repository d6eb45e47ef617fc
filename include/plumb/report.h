#pragma once
// The characterization report: one self-contained HTML file (Vega, Vega-Lite and vega-embed inlined at
// build time; opens offline) with per-workload class breakdowns, the op-type heat map, similarity heat
// map and dendrogram, roofline, thread scaling, and a table view of every figure.
#include <optional>
#include <string>
#include <vector>

#include "plumb/profile.h"

namespace plumb::report {

struct ReportOptions {
  std::string title = "plumb characterization report";
  std::optional<profile::Roofs> roofs;  // for % of peak and the roofline; none: the roofline says so
  std::string notes;                    // free text shown under the title (e.g. quick-mode settings)
};

// The report's data model as JSON (also embedded in the page): summaries, matrices, merges, scaling.
std::string report_data_json(const std::vector<profile::Profile>& profiles, const ReportOptions& options);
// The complete HTML page.
std::string render_html(const std::vector<profile::Profile>& profiles, const ReportOptions& options);
// Creates `dir` if needed and writes dir/index.html (temp + rename) and dir/report.json; returns the
// path of index.html. Throws Error when there are no profiles or the directory cannot be written.
std::string write_report(const std::vector<profile::Profile>& profiles, const std::string& dir,
                         const ReportOptions& options);

}  // namespace plumb::report
