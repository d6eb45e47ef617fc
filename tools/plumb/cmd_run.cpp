// plumb run: imports an ONNX model specialized to the shapes of the given .npy inputs, executes it
// and writes each output as <output-dir>/<name>.npy (docs/onnx.md).
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli.h"
#include "plumb/error.h"
#include "plumb/file_io.h"
#include "plumb/graph.h"
#include "plumb/npy.h"
#include "plumb/onnx.h"

namespace plumb::cli {

namespace {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;  // "name=file.npy" or one bare "file.npy"
  std::string output_dir = ".";
  int64_t symbolic_dim = 1;
};

std::string names_of(const std::vector<OnnxInputInfo>& infos) {
  std::string s;
  for (const OnnxInputInfo& i : infos) s += (s.empty() ? "" : ", ") + i.name;
  return s.empty() ? "none" : s;
}

// Output names become file names: anything outside [A-Za-z0-9_.-] turns into '_'.
std::string file_stem(const std::string& name) {
  std::string s = name;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') c = '_';
  if (s.empty() || s == "." || s == "..") s = "output" + s;
  return s;
}

std::string preview(const Tensor& t) {
  std::string s = "[";
  const int64_t n = std::min<int64_t>(t.numel(), 6);
  for (int64_t i = 0; i < n; ++i) s += fmt::format("{}{:.6g}", i ? ", " : "", element_as_double(t, i));
  if (t.numel() > n) s += ", ...";
  return s + "]";
}

int run_model(const RunArgs& a) {
  if (a.symbolic_dim < 1) fail("--symbolic-dim must be positive, got ", a.symbolic_dim);
  const std::string bytes = read_file(a.model);
  std::vector<OnnxInputInfo> infos;
  try {
    infos = onnx_model_inputs(bytes);
  } catch (const Error& e) {
    fail(a.model, ": ", e.what());
  }

  // Which file feeds which input; one bare file goes to the one input left unnamed.
  std::map<std::string, std::string> files;
  std::string bare;
  for (const std::string& spec : a.inputs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos) {
      if (!bare.empty()) fail("--input: only one input may omit 'name=' (got '", bare, "' and '", spec, "')");
      bare = spec;
      continue;
    }
    const std::string name = spec.substr(0, eq), file = spec.substr(eq + 1);
    if (name.empty() || file.empty()) fail("--input: expected name=file.npy, got '", spec, "'");
    const bool known = std::any_of(infos.begin(), infos.end(), [&](const OnnxInputInfo& i) { return i.name == name; });
    if (!known) fail("--input: the model has no input '", name, "' (inputs: ", names_of(infos), ")");
    if (!files.emplace(name, file).second) fail("--input: input '", name, "' is given twice");
  }
  if (!bare.empty()) {
    std::vector<std::string> open;
    for (const OnnxInputInfo& i : infos)
      if (!files.count(i.name)) open.push_back(i.name);
    if (open.size() != 1)
      fail("--input '", bare, "' has no name and ", open.size(), " inputs are unnamed (inputs: ", names_of(infos),
           "); give it as name=file.npy");
    files[open.front()] = bare;
  }
  std::vector<std::pair<std::string, Tensor>> given;
  for (const OnnxInputInfo& i : infos) {
    auto f = files.find(i.name);
    if (f == files.end()) fail("missing input '", i.name, "' (give --input ", i.name, "=file.npy)");
    Tensor t = read_npy(f->second);
    if (t.dtype() != i.dtype)
      fail("input '", i.name, "' is ", dtype_name(i.dtype), " in the model, but ", f->second, " holds ",
           dtype_name(t.dtype()));
    given.emplace_back(i.name, t);
  }

  // Inputs that set shapes (Reshape's shape fed as an input) are fixed at import: plumb has their values.
  OnnxImportOptions options;
  options.symbolic_dim = a.symbolic_dim;
  OnnxFedImport fed;
  try {
    fed = import_onnx_fed(bytes, given, options);
  } catch (const Error& e) {
    fail(a.model, ": ", e.what());
  }
  const graph::Graph& g = fed.graph;
  const std::vector<Tensor>& inputs = fed.inputs;
  for (const std::string& name : fed.fixed)
    std::fprintf(stderr, "input '%s' is fixed at import (it sets a shape)\n", name.c_str());

  const std::vector<Tensor> outs = graph::execute(g, inputs);
  std::error_code ec;
  std::filesystem::create_directories(a.output_dir, ec);
  if (ec) fail("--output-dir: cannot create ", a.output_dir, ": ", ec.message());
  std::set<std::string> used;
  std::printf("%s: %zu nodes, %lld parameters\n", a.model.c_str(), g.nodes.size(),
              static_cast<long long>(g.parameter_count()));
  for (size_t k = 0; k < outs.size(); ++k) {
    const std::string& name = g.value(g.outputs[k]).name;
    std::string stem = file_stem(name);
    for (int n = 1; used.count(stem); ++n) stem = file_stem(name) + "_" + std::to_string(n);
    used.insert(stem);
    const std::string path = (std::filesystem::path(a.output_dir) / (stem + ".npy")).string();
    write_npy(path, outs[k]);
    std::printf("output '%s': %s %s -> %s\n", name.c_str(), outs[k].spec().str().c_str(), preview(outs[k]).c_str(),
                path.c_str());
  }
  return 0;
}

}  // namespace

Run setup_run(CLI::App& sub) {
  auto a = std::make_shared<RunArgs>();
  sub.add_option("model", a->model, "the ONNX model (.onnx)")->required();
  // One value per --input, so the model path may come after them.
  sub.add_option("-i,--input", a->inputs, "an input as name=file.npy (one input may omit 'name='); repeat per input")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub.add_option("-d,--output-dir", a->output_dir, "where to write <output>.npy (default: the current directory)");
  sub.add_option("--symbolic-dim", a->symbolic_dim, "value for symbolic dims the inputs do not fix (default 1)");
  return [a]() -> int { return run_model(*a); };
}

}  // namespace plumb::cli
