#pragma once
// ONNX export internals: the batch analysis (which axis of each value carries the batch) and the
// per-op emitters that turn graph nodes into ONNX nodes. See docs/onnx.md, "Export".
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/graph.h"
#include "plumb/onnx.h"

namespace plumb::onnx_io {

// Where a value carries the batch: axis `axis` has size batch * mult, batch outermost. -1: nowhere.
struct BatchDim {
  int axis = -1;
  int64_t mult = 1;
  bool has() const { return axis >= 0; }
};

// The result of the batch analysis of a forward graph.
struct BatchPlan {
  bool dynamic = false;
  std::string reason;              // why the batch is fixed, when !dynamic
  int64_t batch = 0;               // the captured batch size
  std::vector<BatchDim> dims;      // per value id
  // Constants and expand outputs that hold the batch size without being computed from an input:
  // export rebuilds them from the runtime batch (Expand to a shape read from the first input).
  std::map<int, BatchDim> forced;
};

// Follows the batch from the inputs' leading dims through every node; the plan is fixed (with a
// reason) where some node bakes the batch size into something the exporter cannot rebuild.
BatchPlan plan_batch(const graph::Graph& g);

// Everything an emitter needs: the ONNX graph being filled, value names and the batch plan.
class ExportContext {
 public:
  ExportContext(const graph::Graph& g, ::onnx::GraphProto& out, int64_t opset, const BatchPlan& plan);

  const graph::Graph& g;
  ::onnx::GraphProto& out;
  const int64_t opset;
  const BatchPlan& plan;
  bool dynamic() const { return plan.dynamic; }

  // ONNX name of a node's input or output value.
  const std::string& in(const graph::Node& n, size_t i) const { return names_[n.inputs.at(i)]; }
  const std::string& out_name(const graph::Node& n, size_t i) const { return names_[n.outputs.at(i)]; }
  const std::string& name(int value) const { return names_[value]; }
  const graph::Value& in_value(const graph::Node& n, size_t i) const { return g.value(n.inputs.at(i)); }
  const graph::Value& out_value(const graph::Node& n, size_t i) const { return g.value(n.outputs.at(i)); }
  const BatchDim& batch_of(int value) const;

  // A name no other value or node uses, derived from `base`.
  std::string fresh(std::string_view base);
  // Appends a node of `type`, named after the plumb node (module path, op, id).
  ::onnx::NodeProto& add(const graph::Node& src, std::string_view type, const std::vector<std::string>& inputs,
                         const std::vector<std::string>& outputs);
  // Initializers made by the emitters: a 1-D i64 tensor, a 0-d scalar of a dtype, any tensor.
  std::string ints(const std::vector<int64_t>& v, std::string_view base);
  std::string scalar(double v, DType dtype, std::string_view base);
  std::string initializer(const Tensor& t, std::string_view base);
  // A fresh intermediate name for a node's helper output.
  std::string temp(const graph::Node& src, std::string_view what);
  // A 1-D i64 shape that is `dims` with entry `axis` replaced by the runtime batch * mult (read from
  // the first input with Shape); emitted once per distinct shape.
  std::string runtime_shape(std::string_view base, const Shape& dims, int axis, int64_t mult);
  // Registers names: every value first (unique, valid), then the emitters' helpers.
  void assign_value_names();

 private:
  std::vector<std::string> names_;
  std::set<std::string> used_;
  std::map<std::string, int> node_names_;
  std::string batch_name_;  // the (1) i64 runtime batch, once emitted
  std::map<std::string, std::string> shapes_;
};

// Attribute helpers.
void attr(::onnx::NodeProto& n, const std::string& name, int64_t v);
void attr(::onnx::NodeProto& n, const std::string& name, double v);
void attr(::onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v);

using EmitFn = void (*)(ExportContext& ctx, const graph::Node& n);
// The emitter of an op, or null when the op has no ONNX form. Families register in their own file.
EmitFn find_emitter(std::string_view op);
void add_math_emitters(std::map<std::string, EmitFn, std::less<>>& table);
void add_nn_emitters(std::map<std::string, EmitFn, std::less<>>& table);
void add_movement_emitters(std::map<std::string, EmitFn, std::less<>>& table);
void add_random_emitters(std::map<std::string, EmitFn, std::less<>>& table);

// The ONNX `seed` of a plumb draw: the seed itself when the draw starts at offset 0 and the seed is
// exact as a float (plumb's importer then draws the same numbers), else a 24-bit hash of both.
double onnx_seed(int64_t seed, int64_t offset);

[[noreturn]] void throw_bad_attrs(const graph::Node& n);
// Attribute struct of a node, checked (an imported or hand-built node could carry another type).
template <class A>
const A& node_attrs(const graph::Node& n) {
  const auto* a = dynamic_cast<const A*>(n.attrs.get());
  if (!a) throw_bad_attrs(n);
  return *a;
}
// "node 12 (conv, features.0)": how errors name a node.
std::string node_label(const graph::Node& n);

}  // namespace plumb::onnx_io
