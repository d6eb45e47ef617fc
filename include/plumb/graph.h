#pragma once
// The graph IR: one captured run (a forward pass, or a whole training step) as op nodes with typed
// attributes, specs, costs, phase and module path. Capture records it from the dispatcher; the
// executor replays it through the dispatcher, so a replayed or imported graph is profiled like a
// native run. See docs/graph.md.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plumb/dispatch.h"
#include "plumb/op.h"
#include "plumb/tensor.h"

namespace plumb::nn {
class Module;
}
namespace plumb::models {
class Workload;
}

namespace plumb::graph {

enum class ValueKind : uint8_t {
  input,         // fed at execution, in Graph::inputs order
  parameter,     // a bound, named tensor the graph reads (weights, buffers)
  constant,      // any other tensor the run read that no captured op produced
  intermediate,  // produced by a node
};
std::string_view value_kind_name(ValueKind k);

struct Value {
  int id = -1;
  std::string name;  // unique in the graph: bound names for inputs, parameters and outputs, else "v<id>"
  TensorSpec spec;
  ValueKind kind = ValueKind::intermediate;
  int producer = -1;      // intermediates: the node that produces it
  int output_index = 0;   // ... and which of its outputs
  Tensor data;            // parameters and constants: the tensor (undefined when captured on meta)
};

struct Node {
  int id = -1;
  const OpDef* op = nullptr;
  std::shared_ptr<const Attrs> attrs;  // never null; shared because nodes are copied with graphs
  std::vector<int> inputs, outputs;    // value ids
  Phase phase = Phase::forward;
  int forward_node = -1;               // backward nodes: the forward node whose vjp issued it
  std::vector<std::string> modules;    // module path, outermost first
  std::vector<std::string> regions;    // enclosing composites that were not folded into nodes
  Cost cost;
};

class Graph {
 public:
  std::string name;
  std::vector<Value> values;  // ids are indices
  std::vector<Node> nodes;    // ids are indices; execution order, topological
  std::vector<int> inputs;    // value ids
  std::vector<int> outputs;   // value ids

  // Appends a value of kind input/parameter/constant and returns its id; names must be unique.
  int add_value(ValueKind kind, std::string name, TensorSpec spec, Tensor data = {});
  // Appends a node and one intermediate value per output spec; returns the node id.
  int add_node(const OpDef& op, std::shared_ptr<const Attrs> attrs, std::vector<int> inputs,
               std::span<const TensorSpec> output_specs, Phase phase = Phase::forward);
  const Value& value(int id) const;
  const Node& node(int id) const;
  int find_value(std::string_view name) const;  // -1 when absent

  // Throws Error naming the first problem: an id out of range, a value used before it is produced
  // (which is how a cycle shows in a node list), a duplicate name, an input count or spec that the
  // op's infer rejects or disagrees with.
  void validate() const;
  Cost total_cost() const;
  int64_t parameter_count() const;  // elements over parameter values
};

// Which composites become one node each when captured. The default keeps every composite as called
// (softmax stays softmax); a predicate returning false records that composite as its primitives.
// With a predicate, composites run as their decomposition while capturing (a fused kernel would hide
// the primitives). A composite whose decomposition autograd recorded (its outputs require grad)
// stays as its primitives either way: the backward pass reads their intermediates.
struct CaptureOptions {
  std::function<bool(const OpDef&)> keep_composite;
};

// Records the ops the calling thread dispatches while it lives (nested copies excluded). Tensors
// are matched by identity; any tensor an op reads that no captured op produced becomes a value of
// its own: an input or parameter when bound, else a constant holding the tensor.
class Capture : public DispatchObserver {
 public:
  explicit Capture(CaptureOptions options = {});
  ~Capture() override;
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Bind before an op reads the tensor; one tensor takes one name. Parameters are snapshotted here
  // (an optimizer later rebinds the handle). bind_parameters keeps the first name of a tied tensor.
  void bind_input(const Tensor& t, std::string name);
  void bind_parameter(const Tensor& t, std::string name);
  void bind_parameters(const std::vector<std::pair<std::string, Tensor>>& named);
  // Any tensor: a node's output takes the name; a bound input or parameter keeps its own.
  void mark_output(const Tensor& t, std::string name);
  // Marks a training step's results as outputs, in node order: every output of each optimizer update
  // op, named "<param>.next" (new value) and "<param>.slot<k>" (new state k) when its input 0 is a
  // bound parameter; then each bound tensor the step rebound to a new value (batch-norm running
  // statistics) as "<name>.next".
  void mark_step_outputs();
  // Stops recording and returns the validated graph: bound inputs in bind order, outputs in mark
  // order, constants named "const<k>", other intermediates "v<id>". Throws the first problem met.
  Graph finish(std::string name = "graph");

  void on_op(const OpEvent& e) override;
  void on_region_begin(std::string_view name, int64_t t_ns) override;
  void on_region_end(std::string_view name, int64_t t_ns) override;
  void on_composite(const OpEvent& e) override;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Captures `module(x)` with gradients off: x is input "input", the module's parameters and buffers
// are parameters by their dotted names, the result is output "output". On the meta device the graph
// has shapes and costs but no data.
Graph capture_forward(nn::Module& module, const Tensor& x, const CaptureOptions& options = {});
// Captures one training step of a workload (workload.step(): forward, loss, backward, optimizer).
// The model's parameters and buffers are bound by name; the batch and the optimizer's state are
// constants; the outputs are those of mark_step_outputs(). Throws Error in inference mode.
Graph capture_step(models::Workload& workload, const CaptureOptions& options = {});

// Runs every node through the dispatcher in order, inside the node's phase, module path and regions,
// and returns the outputs in Graph::outputs order. Inputs must match the graph's input specs exactly;
// parameters and constants need data. Intermediates are released after their last use. Grad mode
// is the caller's.
std::vector<Tensor> execute(const Graph& g, std::span<const Tensor> inputs);

// JSON (docs/graph.md, "format": "plumb-graph", a version field): structure, specs, attributes,
// costs, phases and module paths; parameter and constant data are not included. Reading gives
// back a graph whose JSON is byte-identical.
std::string to_json(const Graph& g);
Graph graph_from_json(std::string_view text);  // throws Error naming what is malformed
// Graphviz DOT: one box per node (op, shapes), one ellipse per input/parameter/constant.
std::string to_dot(const Graph& g);

}  // namespace plumb::graph
