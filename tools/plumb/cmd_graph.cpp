// plumb graph: captures a model's forward pass or training step as a graph (docs/graph.md) and
// writes it as JSON and Graphviz DOT. On the meta device it costs shapes only, so any model is instant.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli.h"
#include "plumb/autograd.h"
#include "plumb/error.h"
#include "plumb/file_io.h"
#include "plumb/graph.h"
#include "plumb/models.h"
#include "plumb/nn/layers.h"
#include "plumb/nn/optim.h"
#include "plumb/ops.h"

namespace plumb::cli {

namespace {

struct Options {
  std::string model;
  std::string variant;
  std::string mode = "infer";
  int64_t batch = 1;
  std::string device = "meta";
  std::string output;
  std::string dot;
};

Tensor example_batch(const models::ModelInfo& info, int64_t batch, Device device) {
  Shape s{batch};
  s.insert(s.end(), info.example_shape.begin(), info.example_shape.end());
  return Tensor::zeros(s, info.example_dtype, device);
}

std::shared_ptr<nn::Module> build(const Options& o, Device device) {
  nn::FactoryScope scope(DType::f32, device);  // on meta: parameters get specs, no storage
  return models::build_model(o.model, o.variant);
}

// A training step on meta as `plumb info` measures it: the model's step loss (or cross-entropy
// against class labels), backward, and the workload's optimizer.
graph::Graph capture_meta_step(const Options& o, const models::ModelInfo& info) {
  if (!info.step_loss && models::workload_factory(o.model))
    fail("plumb graph: ", o.model, "'s training step computes its loss on the host; capture it with --device cpu");
  std::shared_ptr<nn::Module> model = build(o, kMeta);
  model->train();
  auto optimizer = nn::make_optimizer(info.optimizer, model->named_parameters(), info.lr);
  const Tensor inputs = example_batch(info, o.batch, kMeta);
  const Tensor target = Tensor::empty({o.batch}, DType::i64, kMeta);
  graph::Capture c;
  c.bind_input(inputs, "input");
  if (!info.step_loss) c.bind_input(target, "target");
  c.bind_parameters(model->named_parameters());
  c.bind_parameters(model->named_buffers());
  const Tensor loss = info.step_loss ? info.step_loss(*model, inputs) : cross_entropy((*model)(inputs), target);
  backward(loss);
  optimizer->step();
  c.mark_output(loss, "loss");
  c.mark_step_outputs();
  return c.finish(o.model);
}

std::string grouped(int64_t v) {
  const std::string digits = std::to_string(v);
  std::string out;
  const size_t start = digits[0] == '-' ? 1 : 0;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > start && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

void print_summary(const Options& o, const graph::Graph& g) {
  int by_phase[3] = {0, 0, 0};
  std::map<std::string, int> by_op;
  for (const graph::Node& n : g.nodes) {
    ++by_phase[static_cast<int>(n.phase)];
    ++by_op[n.op->name];
  }
  int by_kind[4] = {0, 0, 0, 0};
  for (const graph::Value& v : g.values) ++by_kind[static_cast<int>(v.kind)];
  const Cost c = g.total_cost();
  std::cout << fmt::format("graph       {} (variant {}), {}, batch {}, on {}\n", o.model, o.variant, o.mode, o.batch,
                           o.device);
  std::cout << fmt::format("nodes       {}: forward {}, backward {}, optimizer {}\n", g.nodes.size(), by_phase[0],
                           by_phase[1], by_phase[2]);
  std::cout << fmt::format("values      {} inputs, {} parameters, {} constants, {} intermediates; {} outputs\n",
                           by_kind[0], by_kind[1], by_kind[2], by_kind[3], g.outputs.size());
  std::cout << fmt::format("parameters  {} elements\n", grouped(g.parameter_count()));
  std::cout << fmt::format("cost        {:.3f} GFLOP, {:.1f} MB read, {:.1f} MB written\n", c.flops / 1e9,
                           c.bytes_read / 1e6, c.bytes_written / 1e6);
  std::vector<std::pair<std::string, int>> ops(by_op.begin(), by_op.end());
  std::stable_sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string top;
  for (size_t i = 0; i < ops.size() && i < 8; ++i)
    top += fmt::format("{}{} {}", i ? ", " : "", ops[i].first, ops[i].second);
  std::cout << "top ops     " << top << (ops.size() > 8 ? fmt::format(" (+{} more types)", ops.size() - 8) : "")
            << "\n";
}

}  // namespace

Run setup_graph(CLI::App& sub) {
  auto o = std::make_shared<Options>();
  sub.add_option("model", o->model, "the model's registered name (e.g. mlp, lenet5)")->required();
  sub.add_option("--variant", o->variant, "model variant (default: the model's first)");
  sub.add_option("--mode", o->mode,
                 "infer (forward pass, no gradients; default) or train (forward, backward, optimizer)");
  sub.add_option("--batch", o->batch, "batch size (default 1)");
  sub.add_option("--device", o->device, "meta (shapes and costs, no data; default) or cpu (runs the model)");
  sub.add_option("-o,--output", o->output, "write the graph JSON here (docs/graph.md)");
  sub.add_option("--dot", o->dot, "write the graph as Graphviz DOT here");
  return [o]() -> int {
    const models::Mode mode = models::parse_mode(o->mode);
    if (o->batch < 1 || o->batch > (int64_t{1} << 30))
      fail("plumb graph: --batch must be between 1 and 1073741824, got ", o->batch);
    if (o->device != "meta" && o->device != "cpu")
      fail("plumb graph: --device must be meta or cpu, got '", o->device, "'");
    const Device device = Device::parse(o->device);
    const models::ModelInfo& info = models::model_info(o->model);
    if (o->variant.empty()) o->variant = info.variants.front();
    if (std::find(info.variants.begin(), info.variants.end(), o->variant) == info.variants.end())
      models::build_model(o->model, o->variant);  // throws, listing the variants

    graph::Graph g;
    if (mode == models::Mode::infer) {
      std::shared_ptr<nn::Module> model = build(*o, device);
      model->eval();
      g = graph::capture_forward(*model, example_batch(info, o->batch, device));
    } else if (device == kMeta) {
      g = capture_meta_step(*o, info);
    } else {
      models::WorkloadOptions wo;
      wo.variant = o->variant;
      wo.mode = models::Mode::train;
      wo.batch = o->batch;
      std::unique_ptr<models::Workload> w = models::make_workload(o->model, wo);
      g = graph::capture_step(*w);
    }
    g.name = o->model;
    if (!o->output.empty()) write_file_atomic(o->output, graph::to_json(g));
    if (!o->dot.empty()) write_file_atomic(o->dot, graph::to_dot(g));
    print_summary(*o, g);
    if (!o->output.empty()) std::cout << "wrote       " << o->output << "\n";
    if (!o->dot.empty()) std::cout << "wrote       " << o->dot << "\n";
    return 0;
  };
}

}  // namespace plumb::cli
