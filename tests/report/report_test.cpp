// The report's data model and page: structure of the data JSON, a self-contained page (no external
// resource, the libraries inlined, every script tag closed where it should be), escaping, and the
// files write_report writes.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/temp_dir.h"
#include "plumb/error.h"
#include "plumb/profile.h"
#include "plumb/report.h"
#include "report/page.h"

namespace plumb {
namespace {

using nlohmann::json;

struct FakeOp {
  std::string op, op_class, phase;
  int64_t ns;
  double flops, bytes;
};

// A profile of 4 steps (first and last unmeasured), each running `ops` back to back, with `extra_ns`
// of the step outside any op.
profile::Profile make_profile(const std::string& workload, const std::string& mode, const std::vector<FakeOp>& ops,
                              int64_t extra_ns = 1000) {
  profile::Profile p;
  p.run.workload = workload;
  p.run.mode = mode;
  p.run.batch = 8;
  p.run.threads = 1;
  p.run.steps = 4;
  p.run.drop_first = 1;
  p.run.drop_last = 1;
  p.run.data = "synthetic";
  p.run.plumb_version = "0.1.0";
  int64_t t = 0;
  uint64_t seq = 0;
  for (int s = 0; s < 4; ++s) {
    profile::StepRecord st;
    st.index = s;
    st.measured = s == 1 || s == 2;
    st.start_ns = t;
    for (const FakeOp& f : ops) {
      profile::OpRecord r;
      r.op = f.op;
      r.op_class = f.op_class;
      r.phase = f.phase;
      r.dtype = "f32";
      r.device = "cpu";
      r.step = s;
      r.start_ns = t;
      r.duration_ns = f.ns;
      r.flops = f.flops;
      r.bytes_read = f.bytes;
      r.seq = seq++;
      t += f.ns;
      st.op_ns += f.ns;
      p.ops.push_back(r);
    }
    t += extra_ns;
    st.wall_ns = st.op_ns + extra_ns;
    st.cpu_ns = st.wall_ns;
    p.steps.push_back(st);
  }
  return p;
}

std::vector<profile::Profile> three_profiles() {
  std::vector<profile::Profile> ps;
  ps.push_back(make_profile("net", "train",
                            {{"matmul", "matrix", "forward", 6000, 6e6, 1e5},
                             {"relu", "elementwise", "forward", 1000, 1e4, 8e4},
                             {"matmul", "matrix", "backward", 9000, 1.2e7, 2e5},
                             {"sgd_update", "optimizer", "optimizer", 2000, 1e4, 1e5}}));
  ps.push_back(make_profile("net", "infer",
                            {{"matmul", "matrix", "forward", 6000, 6e6, 1e5}, {"relu", "elementwise", "forward", 1000, 1e4, 8e4}}));
  ps.push_back(make_profile("conv", "train",
                            {{"conv", "convolution", "forward", 20000, 4e7, 3e5},
                             {"max_pool", "pooling", "forward", 3000, 1e5, 2e5},
                             {"conv", "convolution", "backward", 30000, 8e7, 5e5}}));
  ps[0].run.variant = ps[1].run.variant = "default";  // the default variant is left out of names
  // An exact Amdahl curve: T1 = 10 ms, s = 0.2.
  for (int t : {1, 2, 4, 8}) ps[2].scaling.push_back({t, 10.0 * (0.2 + 0.8 / t)});
  return ps;
}

report::ReportOptions roofs_options() {
  report::ReportOptions o;
  o.title = "test report";
  o.notes = "some notes";
  o.roofs = profile::Roofs{"test device", 100.0, 10.0};
  return o;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t count_nocase(const std::string& text, const std::string& needle) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  size_t n = 0;
  for (size_t at = lower.find(needle); at != std::string::npos; at = lower.find(needle, at + 1)) ++n;
  return n;
}

// Every src=, href= or action= whose value is a URL with a scheme or a protocol-relative "//": the
// attributes a browser would fetch. JavaScript text in the page contains none of these spellings.
std::string external_references(const std::string& html) {
  std::string lower = html, found;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const std::string attr : {"src=", "href=", "action="}) {
    for (size_t at = lower.find(attr); at != std::string::npos; at = lower.find(attr, at + 1)) {
      size_t v = at + attr.size();
      while (v < lower.size() && (lower[v] == '"' || lower[v] == '\'' || lower[v] == ' ')) ++v;
      const std::string value = lower.substr(v, 8);
      if (value.starts_with("http:") || value.starts_with("https:") || value.starts_with("//") ||
          value.starts_with("file:"))
        found += html.substr(at, 40) + "\n";
    }
  }
  return found;
}

TEST(ReportData, Structure) {
  const auto ps = three_profiles();
  const json d = json::parse(report::report_data_json(ps, roofs_options()));
  EXPECT_EQ(d["format"], "plumb-report");
  EXPECT_EQ(d["version"], 1);
  EXPECT_EQ(d["title"], "test report");
  EXPECT_EQ(d["notes"], "some notes");
  EXPECT_EQ(d["roofs"]["device"], "test device");
  EXPECT_DOUBLE_EQ(d["roofs"]["peak_gflops"].get<double>(), 100.0);

  const json& w = d["workloads"];
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0]["label"], "net/train");
  EXPECT_EQ(w[1]["label"], "net/infer");
  EXPECT_EQ(w[2]["label"], "conv/train");
  EXPECT_EQ(w[0]["measured_steps"], 2);
  // net/train: 18 us of ops + 1 us outside them per step.
  EXPECT_NEAR(w[0]["step_ms"].get<double>(), 0.019, 1e-12);
  EXPECT_NEAR(w[0]["op_ms"].get<double>(), 0.018, 1e-12);
  EXPECT_NEAR(w[0]["coverage"].get<double>(), 18.0 / 19.0, 1e-12);
  EXPECT_NEAR(w[0]["overhead_share"].get<double>(), 1.0 / 19.0, 1e-12);
  // The workload's rate is over the whole step: 18.02 MFLOP in 19 us.
  EXPECT_NEAR(w[0]["gflops"].get<double>(), (6e6 + 1e4 + 1.2e7 + 1e4) / 19000.0, 1e-9);
  EXPECT_NEAR(w[0]["peak_fraction"].get<double>(), w[0]["gflops"].get<double>() / 100.0, 1e-12);

  double class_share = 0;
  for (const json& c : w[0]["by_class"]) class_share += c["share"].get<double>();
  EXPECT_NEAR(class_share, 1.0, 1e-12);
  ASSERT_FALSE(w[0]["by_op"].empty());
  const json& top = w[0]["by_op"][0];
  EXPECT_EQ(top["key"], "matmul");
  EXPECT_EQ(top["op_class"], "matrix");
  EXPECT_NEAR(top["calls_per_step"].get<double>(), 2.0, 1e-12);
  EXPECT_NEAR(top["ms_per_step"].get<double>(), 0.015, 1e-12);
  EXPECT_NEAR(top["intensity"].get<double>(), 1.8e7 / 3e5, 1e-9);

  const json& m = d["op_type_matrix"];
  EXPECT_EQ(m["labels"], json({"net/train", "net/infer", "conv/train"}));
  EXPECT_EQ(m["op_types"], json({"conv", "matmul", "max_pool", "relu", "sgd_update"}));
  EXPECT_EQ(m["op_classes"]["conv"], "convolution");
  ASSERT_EQ(m["share"].size(), 3u);
  for (const json& row : m["share"]) {
    double sum = 0;
    for (const json& v : row) sum += v.get<double>();
    EXPECT_NEAR(sum, 1.0, 1e-12);
  }
  EXPECT_DOUBLE_EQ(m["share"][1][0].get<double>(), 0.0);  // net/infer never ran conv

  const json& sim = d["similarity"];
  ASSERT_EQ(sim.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(sim[i][i].get<double>(), 1.0, 1e-12);
    for (int j = 0; j < 3; ++j) EXPECT_DOUBLE_EQ(sim[i][j].get<double>(), sim[j][i].get<double>());
  }
  EXPECT_DOUBLE_EQ(sim[0][2].get<double>(), 0.0);  // no op type in common
  EXPECT_GT(sim[0][1].get<double>(), 0.9);

  // The two "net" profiles merge first; the last merge joins all three.
  const json& link = d["linkage"];
  ASSERT_EQ(link.size(), 2u);
  EXPECT_EQ(std::min(link[0]["a"].get<int>(), link[0]["b"].get<int>()), 0);
  EXPECT_EQ(std::max(link[0]["a"].get<int>(), link[0]["b"].get<int>()), 1);
  EXPECT_NEAR(link[0]["distance"].get<double>(), 1.0 - sim[0][1].get<double>(), 1e-12);
  EXPECT_EQ(link[1]["size"], 3);
  std::vector<int> order = d["dendrogram_order"].get<std::vector<int>>();
  std::sort(order.begin(), order.end());
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));

  EXPECT_TRUE(w[0]["scaling"].empty());
  EXPECT_TRUE(w[0]["amdahl"].is_null());
  ASSERT_EQ(w[2]["scaling"].size(), 4u);
  ASSERT_TRUE(w[2]["amdahl"].is_object());
  EXPECT_NEAR(w[2]["amdahl"]["serial_fraction"].get<double>(), 0.2, 1e-3);
  EXPECT_NEAR(w[2]["amdahl"]["t1_ms"].get<double>(), 10.0, 1e-2);

  ASSERT_EQ(d["mode_ratios"].size(), 1u);
  EXPECT_EQ(d["mode_ratios"][0]["workload"], "net");
  EXPECT_NEAR(d["mode_ratios"][0]["ratio"].get<double>(), 19.0 / 8.0, 1e-12);
}

TEST(ReportData, WithoutRoofsAndSingleProfile) {
  const auto ps = three_profiles();
  const json d = json::parse(report::report_data_json({ps[0]}, {}));
  EXPECT_TRUE(d["roofs"].is_null());
  EXPECT_EQ(d["workloads"].size(), 1u);
  EXPECT_DOUBLE_EQ(d["workloads"][0]["peak_fraction"].get<double>(), 0.0);
  EXPECT_TRUE(d["linkage"].empty());
  EXPECT_EQ(d["dendrogram_order"], json({0}));
  EXPECT_TRUE(d["mode_ratios"].empty());
}

TEST(ReportData, OneScalingPointHasNoFitButNoError) {
  auto ps = three_profiles();
  ps[0].scaling = {{2, 5.0}};
  const json d = json::parse(report::report_data_json(ps, {}));
  EXPECT_EQ(d["workloads"][0]["scaling"].size(), 1u);
  EXPECT_TRUE(d["workloads"][0]["amdahl"].is_null());
  EXPECT_FALSE(d["workloads"][0]["amdahl_error"].get<std::string>().empty());
}

TEST(ReportData, NoProfilesIsAnError) {
  EXPECT_THROW(report::report_data_json({}, {}), Error);
  EXPECT_THROW(report::render_html({}, {}), Error);
}

TEST(ReportPage, SelfContained) {
  const std::string html = report::render_html(three_profiles(), roofs_options());
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
  EXPECT_EQ(count_nocase(html, "<script src"), 0u);
  EXPECT_EQ(count_nocase(html, "<link"), 0u);
  EXPECT_EQ(count_nocase(html, "<iframe"), 0u);
  EXPECT_EQ(count_nocase(html, "sourcemappingurl"), 0u);
  // No attribute points anywhere outside the page.
  EXPECT_EQ(external_references(html), "");
  // A content security policy that forbids every fetch.
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
  // The embedded data and the page script.
  EXPECT_NE(html.find(R"(<script type="application/json" id="plumb-data">)"), std::string::npos);
  EXPECT_NE(html.find(R"("format":"plumb-report")"), std::string::npos);
  EXPECT_NE(html.find("vegaEmbed(container, spec, { renderer: \"svg\""), std::string::npos);
  // Each placeholder was filled.
  EXPECT_EQ(html.find("{{"), std::string::npos);
}

TEST(ReportPage, InlinesTheLibrariesFromNodeModules) {
  const std::string html = report::render_html(three_profiles(), roofs_options());
  for (const char* lib : {"vega/build/vega.min.js", "vega-lite/build/vega-lite.min.js",
                          "vega-embed/build/vega-embed.min.js"}) {
    const std::string text = read_file(std::string(PLUMB_WEB_MODULES) + "/" + lib);
    ASSERT_GT(text.size(), 10000u) << lib;
    const std::string inlined = report::detail::escape_script(text);
    EXPECT_NE(html.find(inlined), std::string::npos) << lib << " is not inlined";
  }
}

TEST(ReportPage, EveryScriptTagClosesWhereItShould) {
  auto ps = three_profiles();
  ps[0].run.workload = "</script><script>alert(1)</script>";
  report::ReportOptions o = roofs_options();
  o.notes = "notes with </SCRIPT> and <!-- inside";
  o.title = "a <b>bold</b> & \"quoted\" title";
  const std::string html = report::render_html(ps, o);
  // Six scripts: the error hooks, three libraries, the data block and the page script.
  EXPECT_EQ(count_nocase(html, "<script"), 6u);
  EXPECT_EQ(count_nocase(html, "</script"), 6u);
  EXPECT_EQ(html.find("alert(1)</script>"), std::string::npos);
  EXPECT_NE(html.find("\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"), std::string::npos);
  EXPECT_NE(html.find("<title>a &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; title</title>"), std::string::npos);
  EXPECT_EQ(html.find("<b>bold</b>"), std::string::npos);
  // The data block still parses to the same text.
  const size_t open = html.find(R"(id="plumb-data">)");
  ASSERT_NE(open, std::string::npos);
  const size_t start = html.find('>', open) + 1;
  const size_t end = html.find("</script>", start);
  const json d = json::parse(html.substr(start, end - start));
  EXPECT_EQ(d["notes"], "notes with </SCRIPT> and <!-- inside");
  EXPECT_EQ(d["workloads"][0]["workload"], "</script><script>alert(1)</script>");
}

TEST(ReportPage, EscapeScript) {
  using report::detail::escape_script;
  EXPECT_EQ(escape_script("var a = '</script>';"), "var a = '<\\/script>';");
  EXPECT_EQ(escape_script("x = \"</SCRIPT \" + '</Script>'"), "x = \"<\\/SCRIPT \" + '<\\/Script>'");
  EXPECT_EQ(escape_script("s = '<!--'"), "s = '<\\!--'");
  EXPECT_EQ(escape_script("a < b; c </ d"), "a < b; c </ d");
  EXPECT_EQ(escape_script("f();\n//# sourceMappingURL=f.min.js.map\ng();"), "f();\ng();");
  EXPECT_EQ(escape_script("f();\n//# sourceMappingURL=f.min.js.map"), "f();\n");
  EXPECT_EQ(report::detail::escape_json_for_script(R"({"a":"</script>&"})"),
            R"({"a":"\u003c/script\u003e\u0026"})");
  EXPECT_EQ(report::detail::escape_html("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
}

class ReportFiles : public testing::TempDirTest {};

TEST_F(ReportFiles, WritesIndexAndData) {
  const auto ps = three_profiles();
  const std::string dir = path("out/nested");
  const std::string index = report::write_report(ps, dir, roofs_options());
  EXPECT_EQ(index, dir + "/index.html");
  EXPECT_EQ(read_file(index), report::render_html(ps, roofs_options()));
  EXPECT_EQ(read_file(dir + "/report.json"), report::report_data_json(ps, roofs_options()));
  // Nothing else (no temporary file left behind).
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 2u);
  // Writing again replaces both files.
  report::ReportOptions o = roofs_options();
  o.title = "second";
  report::write_report(ps, dir, o);
  EXPECT_NE(read_file(index).find("<title>second</title>"), std::string::npos);
}

TEST_F(ReportFiles, Errors) {
  const auto ps = three_profiles();
  EXPECT_THROW(report::write_report({}, path("empty"), {}), Error);
  EXPECT_FALSE(std::filesystem::exists(path("empty")));
  // A directory under a regular file cannot be made (even as root).
  std::ofstream(path("file")) << "x";
  try {
    report::write_report(ps, path("file/sub"), {});
    ADD_FAILURE() << "no error for a directory under a file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("file/sub"), std::string::npos) << e.what();
  }
  EXPECT_THROW(report::write_report(ps, path("file"), {}), Error);
  EXPECT_THROW(report::write_report(ps, "", {}), Error);
}

}  // namespace
}  // namespace plumb
