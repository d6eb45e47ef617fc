// plumb_onnx_node_tests: runs ONNX's backend node-test cases (scripts/onnx_node_tests.py writes them)
// through plumb's importer and executor and compares every output with ONNX's expected data.
//
//   plumb_onnx_node_tests DATA_DIR [--markdown FILE] [--json FILE] [--filter SUBSTR] [--verbose]
//
// A case runs when every op type its model uses is in onnx_supported_ops(); it passes when each
// output has the expected dtype and shape and values within rtol 1e-3, atol 1e-7 (the ONNX backend
// test defaults; NaN where NaN is expected). The exit code is non-zero when fewer than 95% of the
// run cases pass. Cases with a random op (Bernoulli, RandomNormal, ...) cannot match ONNX's numbers,
// which ONNX leaves to the runtime: they are run and checked for dtype, shape and range only, and
// counted apart from the pass rate.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plumb/error.h"
#include "plumb/file_io.h"
#include "plumb/graph.h"
#include "plumb/onnx.h"

namespace fs = std::filesystem;
using namespace plumb;

namespace {

constexpr double kRtol = 1e-3, kAtol = 1e-7;
constexpr double kPassTarget = 0.95;
constexpr int64_t kMinOpset = 11, kMaxOpset = 17;  // what import_onnx accepts

struct Args {
  std::string data, markdown, json, filter;
  bool verbose = false;
};

struct CaseResult {
  std::string name;
  std::set<std::string> ops;
  bool run = false, passed = false;
  bool fixed_inputs = false;  // run with its shape-like inputs fixed at import
  bool random = false;        // uses a random op: values not compared
  std::string reason;  // why it was not run or failed
};

struct OpRow {
  int total = 0, run = 0, passed = 0;
};

bool is_random_op(const std::string& op) {
  return op == "Bernoulli" || op == "RandomNormal" || op == "RandomNormalLike" || op == "RandomUniform" ||
         op == "RandomUniformLike";
}

// A random op's output: every value finite, and only 0 and 1 where the expected output has only those.
std::string check_range(const Tensor& got, const Tensor& want, const std::string& name) {
  bool coin = true;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double w = element_as_double(want, i);
    coin = coin && (w == 0 || w == 1);
  }
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = element_as_double(got, i);
    if (!std::isfinite(g) || (coin && g != 0 && g != 1)) {
      std::ostringstream os;
      os << "output '" << name << "' element " << i << " is " << g << (coin ? ", not 0 or 1" : ", not finite");
      return os.str();
    }
  }
  return "";
}

// Compares one output; "" when it matches, else what differs. `values`: false for random ops.
std::string compare(const Tensor& got, const Tensor& want, const std::string& name, bool values) {
  if (got.dtype() != want.dtype())
    return "output '" + name + "' is " + std::string(dtype_name(got.dtype())) + ", expected " +
           std::string(dtype_name(want.dtype()));
  if (got.shape() != want.shape())
    return "output '" + name + "' has shape " + shape_str(got.shape()) + ", expected " + shape_str(want.shape());
  if (!values) return check_range(got, want, name);
  const bool exact = !is_floating(want.dtype());
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = element_as_double(got, i), w = element_as_double(want, i);
    bool ok;
    if (exact) {
      ok = g == w;
    } else if (std::isnan(w)) {
      ok = std::isnan(g);
    } else if (std::isinf(w)) {
      ok = g == w;
    } else {
      ok = std::fabs(g - w) <= kAtol + kRtol * std::fabs(w);
    }
    if (!ok) {
      std::ostringstream os;
      os << "output '" << name << "' element " << i << " is " << g << ", expected " << w;
      return os.str();
    }
  }
  return "";
}

::onnx::ModelProto parse_model_file(const fs::path& path) {
  const std::string bytes = read_file(path.string());
  ::onnx::ModelProto m;
  if (!m.ParseFromString(bytes)) fail(path.string(), ": not a ModelProto");
  return m;
}

// Imports, executes and compares one case; throws Error on any failure. When the import needs an
// input's value (Reshape's shape fed as a graph input), that input is fixed at import and the
// import retried; `fixed` says so. Random-op cases pass compare_values = false.
void run_case(const fs::path& dir, const ::onnx::ModelProto& model, bool compare_values, bool& fixed) {
  const std::string bytes = read_file((dir / "model.onnx").string());
  const fs::path set = dir / "test_data_set_0";
  std::set<std::string> inits;
  for (const auto& t : model.graph().initializer()) inits.insert(t.name());
  std::vector<std::pair<std::string, Tensor>> given;
  int k = 0;
  for (const auto& in : model.graph().input()) {
    if (inits.count(in.name())) continue;
    if (!in.type().has_tensor_type()) fail("input '", in.name(), "' is not a tensor");
    const fs::path file = set / ("input_" + std::to_string(k++) + ".pb");
    given.emplace_back(in.name(), tensor_from_onnx(read_file(file.string())));
  }
  const OnnxFedImport fed = import_onnx_fed(bytes, given);
  fixed = !fed.fixed.empty();
  const std::vector<Tensor> outs = graph::execute(fed.graph, fed.inputs);
  if (outs.size() != static_cast<size_t>(model.graph().output_size()))
    fail("the graph gave ", outs.size(), " outputs, the model declares ", model.graph().output_size());
  for (int i = 0; i < model.graph().output_size(); ++i) {
    const Tensor want = tensor_from_onnx(read_file((set / ("output_" + std::to_string(i) + ".pb")).string()));
    const std::string diff = compare(outs[static_cast<size_t>(i)], want, model.graph().output(i).name(), compare_values);
    if (!diff.empty()) fail(diff);
  }
}

std::string pct(int a, int b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", b > 0 ? 100.0 * a / b : 0.0);
  return buf;
}

int run(const Args& a) {
  fs::path root = a.data;
  if (fs::is_directory(root / "node")) root /= "node";
  if (!fs::is_directory(root)) fail("no node-test directory at ", a.data, " (run scripts/onnx_node_tests.py first)");
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory() && fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  if (dirs.empty()) fail("no cases (model.onnx files) under ", root.string());

  const std::vector<std::string> supported_list = onnx_supported_ops();
  const std::set<std::string> supported(supported_list.begin(), supported_list.end());
  std::vector<CaseResult> results;
  std::map<std::string, OpRow> rows;
  for (const std::string& op : supported) rows[op];
  int total = 0, run_count = 0, passed = 0, opset_skipped = 0, fixed_count = 0, random_run = 0, random_passed = 0;
  for (const fs::path& dir : dirs) {
    CaseResult r;
    r.name = dir.filename().string();
    if (!a.filter.empty() && r.name.find(a.filter) == std::string::npos) continue;
    ++total;
    ::onnx::ModelProto model;
    try {
      model = parse_model_file(dir / "model.onnx");
    } catch (const Error& e) {
      r.reason = e.what();
    }
    int64_t opset = 0;
    for (const auto& o : model.opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
    std::vector<std::string> missing;
    for (const auto& n : model.graph().node()) {
      const bool default_domain = n.domain().empty() || n.domain() == "ai.onnx";
      const std::string op = default_domain ? n.op_type() : n.domain() + ":" + n.op_type();
      r.ops.insert(op);
      if (!default_domain || !supported.count(op)) missing.push_back(op);
    }
    for (const std::string& op : r.ops) ++rows[op].total;
    if (r.reason.empty() && !missing.empty()) r.reason = "unsupported: " + missing.front();
    if (r.reason.empty() && (opset < kMinOpset || opset > kMaxOpset)) {
      r.reason = "opset " + std::to_string(opset) + " (plumb imports opsets " + std::to_string(kMinOpset) + " to " +
                 std::to_string(kMaxOpset) + ")";
      ++opset_skipped;
    }
    if (!r.reason.empty()) {
      results.push_back(r);
      continue;
    }
    r.run = true;
    r.random = std::any_of(r.ops.begin(), r.ops.end(), is_random_op);
    ++(r.random ? random_run : run_count);
    try {
      run_case(dir, model, !r.random, r.fixed_inputs);
      r.passed = true;
    } catch (const std::exception& e) {
      r.reason = e.what();
    }
    if (r.passed) ++(r.random ? random_passed : passed);
    if (r.fixed_inputs) ++fixed_count;
    for (const std::string& op : r.ops) {
      ++rows[op].run;
      if (r.passed) ++rows[op].passed;
    }
    if (a.verbose)
      std::printf("%-60s %s%s%s%s\n", r.name.c_str(), r.passed ? "pass" : "FAIL", r.random ? " (random: values not compared)" : "",
                  r.passed ? "" : ": ", r.reason.c_str());
    results.push_back(r);
  }

  std::printf("\n%-28s %-9s %12s %8s\n", "ONNX op", "supported", "passed/run", "cases");
  for (const auto& [op, row] : rows)
    std::printf("%-28s %-9s %5d / %-4d %8d\n", op.c_str(), supported.count(op) ? "yes" : "no", row.passed, row.run,
                row.total);
  std::printf("\nsupported ops: %zu\ncases run: %d / %d\npassed: %d / %d (%s)\n", supported.size(), run_count, total,
              passed, run_count, pct(passed, run_count).c_str());
  std::printf("not run for their opset (supported ops, opset outside %lld..%lld): %d\n"
              "run with shape-like inputs fixed at import: %d\n",
              static_cast<long long>(kMinOpset), static_cast<long long>(kMaxOpset), opset_skipped, fixed_count);
  std::printf("random ops (values left to the runtime, not compared; not in the pass rate): %d run, %d with the "
              "expected dtype, shape and range\n",
              random_run, random_passed);

  if (!a.markdown.empty()) {
    std::ostringstream md;
    md << "| ONNX op | supported | cases passed / run | cases using it |\n|---|---|---|---|\n";
    for (const auto& [op, row] : rows)
      md << "| " << op << " | " << (supported.count(op) ? "yes" : "no") << " | " << row.passed << " / " << row.run
         << " | " << row.total << " |\n";
    md << "\nSupported ops: " << supported.size() << ". Cases run: " << run_count << " / " << total
       << ". Passed: " << passed << " / " << run_count << " (" << pct(passed, run_count) << ").\n"
       << "Not run for their opset (every op supported, opset outside " << kMinOpset << ".." << kMaxOpset
       << "): " << opset_skipped << ". Run with shape-like inputs fixed at import: " << fixed_count << ".\n"
       << "Cases with random ops (values not compared, not in the pass rate; their rows count dtype, shape and "
          "range checks): "
       << random_passed << " / " << random_run << ".\n";
    write_file_atomic(a.markdown, md.str());
  }
  if (!a.json.empty()) {
    nlohmann::json j;
    j["supported_ops"] = supported_list;
    j["total"] = total;
    j["run"] = run_count;
    j["passed"] = passed;
    j["opset_skipped"] = opset_skipped;
    j["fixed_inputs"] = fixed_count;
    j["random_run"] = random_run;
    j["random_passed"] = random_passed;
    for (const CaseResult& r : results)
      j["cases"].push_back({{"name", r.name},
                            {"ops", std::vector<std::string>(r.ops.begin(), r.ops.end())},
                            {"run", r.run},
                            {"passed", r.passed},
                            {"fixed_inputs", r.fixed_inputs},
                            {"random", r.random},
                            {"reason", r.reason}});
    write_file_atomic(a.json, j.dump(1) + "\n");
  }
  if (run_count == 0) {
    std::fprintf(stderr, "no case ran\n");
    return 1;
  }
  if (passed < kPassTarget * run_count) {
    std::fprintf(stderr, "%d of %d run cases passed, under the %.0f%% target\n", passed, run_count, 100 * kPassTarget);
    return 1;
  }
  if (random_passed < random_run) {
    std::fprintf(stderr, "%d of %d random-op cases failed to run with the expected dtype, shape and range\n",
                 random_run - random_passed, random_run);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", s.c_str());
        std::exit(2);
      }
      out = argv[++i];
    };
    if (s == "--markdown") value(a.markdown);
    else if (s == "--json") value(a.json);
    else if (s == "--filter") value(a.filter);
    else if (s == "--verbose") a.verbose = true;
    else if (!s.starts_with("-") && a.data.empty()) a.data = s;
    else {
      std::fprintf(stderr, "usage: plumb_onnx_node_tests DATA_DIR [--markdown FILE] [--json FILE] [--filter SUBSTR] [--verbose]\n");
      return 2;
    }
  }
  if (a.data.empty()) {
    std::fprintf(stderr, "usage: plumb_onnx_node_tests DATA_DIR [--markdown FILE] [--json FILE] [--filter SUBSTR] [--verbose]\n");
    return 2;
  }
  try {
    return run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "plumb_onnx_node_tests: %s\n", e.what());
    return 1;
  }
}
