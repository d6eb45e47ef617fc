// plumb info: a model's parameters, FLOPs and bytes per layer, measured by running it on the meta
// device (shape inference and cost only; nothing is allocated) under a dispatch observer.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/error.h"
#include "plumb/models.h"
#include "plumb/nn/layers.h"
#include "plumb/nn/optim.h"
#include "plumb/ops.h"

namespace plumb::cli {

namespace {

struct Options {
  std::string model;
  std::string variant;
  int64_t batch = 1;
  bool json = false;
};

// One row of the per-layer table: the ops issued under one module path in the forward pass.
struct LayerRow {
  std::string path;  // dotted module path ("" = the root module itself)
  std::string type;
  Shape output_shape;
  int64_t params = 0;  // parameters owned directly by this module (its children's are theirs)
  Cost cost;
};

std::string join_path(std::span<const std::string> parts) {
  std::string s;
  for (const std::string& p : parts) s += (s.empty() ? "" : ".") + p;
  return s;
}

// Sums the cost of every op, by phase, and of forward ops by module path in first-seen order.
class CostCollector : public DispatchObserver {
 public:
  void on_op(const OpEvent& e) override {
    by_phase[static_cast<int>(e.phase)] += e.cost;
    if (e.phase != Phase::forward) return;
    // Multiply-adds are the FLOPs of matrix and convolution ops halved; bias adds and activations
    // are other FLOPs (docs/cost_model.md).
    if (e.op->op_class == OpClass::matrix || e.op->op_class == OpClass::convolution) forward_macs += e.cost.flops / 2;
    const std::string path = join_path(e.modules);
    auto [it, inserted] = index.try_emplace(path, paths.size());
    if (inserted) {
      paths.push_back(path);
      layers.push_back({});
    }
    layers[it->second] += e.cost;
    if (!e.outputs.empty()) last_output[it->second] = e.outputs[0].shape();
  }
  Cost total() const {
    Cost c;
    for (const Cost& p : by_phase) c += p;
    return c;
  }

  Cost by_phase[3];
  double forward_macs = 0;
  std::vector<std::string> paths;
  std::vector<Cost> layers;
  std::map<size_t, Shape> last_output;
  std::map<std::string, size_t> index;
};

struct ModuleFacts {
  std::string type;
  int64_t own_params = 0;
};

// Every module by dotted path, with the parameters it holds itself.
void collect_modules(const nn::Module& m, const std::string& path, std::map<std::string, ModuleFacts>& out,
                     std::vector<std::string>& order) {
  int64_t own = m.parameter_count();
  for (const auto& [name, child] : m.named_children()) {
    own -= child->parameter_count();
    collect_modules(*child, path.empty() ? name : path + "." + name, out, order);
  }
  out[path] = {m.type_name(), own};
  order.push_back(path);
}

struct Report {
  int64_t parameters = 0;
  Cost forward;
  double forward_macs = 0;
  bool train_measured = false;  // false: the workload's step cannot run on the meta device
  Cost train_phases[3];
  Cost train_total;
  std::vector<LayerRow> layers;
};

Tensor meta_input(const models::ModelInfo& info, int64_t batch) {
  Shape s{batch};
  s.insert(s.end(), info.example_shape.begin(), info.example_shape.end());
  return Tensor::empty(s, info.example_dtype, kMeta);
}

Report measure(const Options& o) {
  const models::ModelInfo& info = models::model_info(o.model);
  std::shared_ptr<nn::Module> model;
  {
    nn::FactoryScope meta(DType::f32, kMeta);  // parameters get specs, no storage
    model = models::build_model(o.model, o.variant);
  }
  Report r;
  r.parameters = model->parameter_count();

  // (a) Inference forward pass: eval mode, no tape.
  CostCollector fwd;
  {
    model->eval();
    NoGradScope no_grad;
    ObserverScope observe(&fwd);
    (*model)(meta_input(info, o.batch));
  }
  r.forward = fwd.total();
  r.forward_macs = fwd.forward_macs;

  // (b) One training step as the workload runs it: forward and its loss (the model's own, or
  // cross-entropy for a classifier), backward, and the workload's optimizer update, in train mode.
  CostCollector step;
  // A workload with its own step and no meta step loss computes its loss on the host (seq2seq's
  // sampled softmax): its training step is measured by `plumb profile`, not here.
  r.train_measured = info.step_loss || !models::workload_factory(o.model);
  if (r.train_measured) {
    model->train();
    auto optimizer = nn::make_optimizer(info.optimizer, model->named_parameters(), info.lr);
    ObserverScope observe(&step);
    const Tensor inputs = meta_input(info, o.batch);
    const Tensor loss = info.step_loss ? info.step_loss(*model, inputs)
                                       : cross_entropy((*model)(inputs), Tensor::empty({o.batch}, DType::i64, kMeta));
    backward(loss);
    optimizer->step();
  }
  for (int p = 0; p < 3; ++p) r.train_phases[p] = step.by_phase[p];
  r.train_total = step.total();

  std::map<std::string, ModuleFacts> facts;
  std::vector<std::string> order;
  collect_modules(*model, "", facts, order);
  std::map<std::string, bool> listed;
  for (size_t i = 0; i < fwd.paths.size(); ++i) {
    const std::string& path = fwd.paths[i];
    LayerRow row;
    row.path = path;
    const auto f = facts.find(path);
    row.type = f != facts.end() ? f->second.type : "?";
    row.params = f != facts.end() ? f->second.own_params : 0;
    const auto out = fwd.last_output.find(i);
    if (out != fwd.last_output.end()) row.output_shape = out->second;
    row.cost = fwd.layers[i];
    r.layers.push_back(row);
    listed[path] = true;
  }
  // Modules holding parameters that ran no forward op still appear, so the params column sums up.
  for (const std::string& path : order)
    if (!listed.count(path) && facts[path].own_params > 0)
      r.layers.push_back({path, facts[path].type, {}, facts[path].own_params, {}});
  return r;
}

// 1234567 -> "1,234,567"
std::string grouped(double v) {
  const std::string digits = fmt::format("{:.0f}", v);
  std::string out;
  const size_t start = digits[0] == '-' ? 1 : 0;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > start && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string si(double v, const char* unit) {
  const char* prefixes[] = {"", "K", "M", "G", "T", "P"};
  int k = 0;
  while (v >= 1000 && k < 5) {
    v /= 1000;
    ++k;
  }
  return fmt::format("{:.2f} {}{}", v, prefixes[k], unit);
}

double bytes_of(const Cost& c) { return c.bytes_read + c.bytes_written; }

// Counts are whole numbers in practice; JSON gets integers then, doubles otherwise (e.g. per example).
nlohmann::ordered_json num(double v) {
  if (v == std::floor(v) && std::fabs(v) < 9.0e15) return static_cast<int64_t>(v);
  return v;
}

const char* kPhases[3] = {"forward", "backward", "optimizer"};

int print_text(const Options& o, const models::ModelInfo& info, const Report& r) {
  const double b = static_cast<double>(o.batch);
  std::cout << fmt::format("model       {} (variant {}): {}\n", info.name, o.variant, info.description);
  std::cout << fmt::format("input       (B, {}) with B = {}; {} classes; dataset {}\n",
                           shape_str(info.example_shape).substr(1, shape_str(info.example_shape).size() - 2),
                           o.batch, info.num_classes, info.dataset);
  std::cout << fmt::format("parameters  {}\n\n", grouped(static_cast<double>(r.parameters)));
  std::cout << fmt::format("{:<26}{:>22}{:>22}\n", "", "total", "per example");
  auto line = [&](const std::string& what, double v, const char* unit) {
    std::cout << fmt::format("{:<26}{:>22}{:>22}\n", what, grouped(v) + " " + unit, si(v / b, unit));
  };
  line("forward FLOPs", r.forward.flops, "FLOP");
  line("forward MACs", r.forward_macs, "MAC");
  line("forward bytes", bytes_of(r.forward), "B");
  if (r.train_measured) {
    line("train-step FLOPs", r.train_total.flops, "FLOP");
    for (int p = 0; p < 3; ++p) line(std::string("  ") + kPhases[p], r.train_phases[p].flops, "FLOP");
    line("train-step bytes", bytes_of(r.train_total), "B");
    for (int p = 0; p < 3; ++p) line(std::string("  ") + kPhases[p], bytes_of(r.train_phases[p]), "B");
    std::cout << fmt::format("train-step / forward FLOPs: {:.2f}\n\n",
                             r.forward.flops > 0 ? r.train_total.flops / r.forward.flops : 0.0);
  } else {
    std::cout << fmt::format("train step  not characterized here: {}'s step computes its loss on the host; "
                             "`plumb profile {}` measures it\n\n",
                             info.name, info.name);
  }

  std::cout << fmt::format("{:<12}{:<12}{:<20}{:>12}{:>16}{:>16}\n", "layer", "type", "output shape", "params",
                           "fwd FLOPs", "fwd bytes");
  for (const LayerRow& l : r.layers)
    std::cout << fmt::format("{:<12}{:<12}{:<20}{:>12}{:>16}{:>16}\n", l.path.empty() ? "(root)" : l.path, l.type,
                             l.output_shape.empty() ? "-" : shape_str(l.output_shape),
                             grouped(static_cast<double>(l.params)), grouped(l.cost.flops),
                             grouped(bytes_of(l.cost)));
  std::cout << fmt::format("{:<44}{:>12}{:>16}{:>16}\n", "total", grouped(static_cast<double>(r.parameters)),
                           grouped(r.forward.flops), grouped(bytes_of(r.forward)));
  return 0;
}

nlohmann::ordered_json phase_object(const Cost (&phases)[3], const Cost& total, double batch, bool bytes) {
  nlohmann::ordered_json j;
  const double t = bytes ? bytes_of(total) : total.flops;
  j["total"] = num(t);
  j["per_example"] = num(t / batch);
  nlohmann::ordered_json by = nlohmann::ordered_json::object();
  for (int p = 0; p < 3; ++p) by[kPhases[p]] = num(bytes ? bytes_of(phases[p]) : phases[p].flops);
  j["phases"] = by;
  return j;
}

int print_json(const Options& o, const Report& r) {
  const double b = static_cast<double>(o.batch);
  nlohmann::ordered_json j;
  j["model"] = o.model;
  j["variant"] = o.variant;
  j["batch"] = o.batch;
  j["parameters"] = r.parameters;
  j["forward_flops"] = num(r.forward.flops);
  j["forward_flops_per_example"] = num(r.forward.flops / b);
  j["forward_macs_per_example"] = num(r.forward_macs / b);
  j["forward_bytes"] = num(bytes_of(r.forward));
  j["forward_bytes_per_example"] = num(bytes_of(r.forward) / b);
  j["train_step_flops"] = r.train_measured ? phase_object(r.train_phases, r.train_total, b, false) : nullptr;
  j["train_step_bytes"] = r.train_measured ? phase_object(r.train_phases, r.train_total, b, true) : nullptr;
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  for (const LayerRow& l : r.layers) {
    nlohmann::ordered_json row;
    row["path"] = l.path;
    row["type"] = l.type;
    row["output_shape"] = l.output_shape;
    row["parameters"] = l.params;
    row["forward_flops"] = num(l.cost.flops);
    row["forward_bytes_read"] = num(l.cost.bytes_read);
    row["forward_bytes_written"] = num(l.cost.bytes_written);
    row["forward_bytes"] = num(bytes_of(l.cost));
    layers.push_back(row);
  }
  j["layers"] = layers;
  std::cout << j.dump(2) << "\n";
  return 0;
}

}  // namespace

Run setup_info(CLI::App& sub) {
  auto o = std::make_shared<Options>();
  sub.add_option("model", o->model, "the model's registered name (e.g. mlp, lenet5)")->required();
  sub.add_option("--variant", o->variant, "model variant (default: the model's first, \"default\")");
  sub.add_option("--batch", o->batch, "batch size B of the meta input (default 1)");
  sub.add_flag("--json", o->json, "print one JSON object instead of the tables");
  return [o]() -> int {
    // Bounded so B * example size stays far from int64 overflow in shape arithmetic.
    if (o->batch < 1 || o->batch > (int64_t{1} << 30))
      fail("plumb info: --batch must be between 1 and 1073741824, got ", o->batch);
    const models::ModelInfo& info = models::model_info(o->model);
    if (o->variant.empty()) o->variant = info.variants.front();
    const Report r = measure(*o);
    return o->json ? print_json(*o, r) : print_text(*o, info, r);
  };
}

}  // namespace plumb::cli
