// ONNX import: parse and validate a model, specialize it to concrete input shapes, and record it as
// a plumb graph by running each node's converter on the meta device under graph::Capture. Nodes
// whose inputs are all constants are folded on the CPU, on a helper thread the capture ignores.
#include "onnx/import.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "onnx/tensor_proto.h"
#include "plumb/dispatch.h"
#include "plumb/file_io.h"
#include "plumb/graph.h"
#include "plumb/onnx.h"
#include "plumb/op_attrs.h"
#include "plumb/ops.h"

namespace plumb::onnx_io {

namespace pb = ::onnx;

namespace {

constexpr int64_t kMinOpset = 11;
constexpr int64_t kMaxOpset = 17;

bool is_default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

}  // namespace

// ---- shared helpers ----

Tensor cpu_scalar(double value, DType dtype) { return Tensor::full({}, value, dtype, kCPU); }

int64_t node_axis(const NodeCtx& ctx, int64_t axis, int64_t rank, std::string_view what) {
  if (axis < -rank || axis >= rank) ctx.fail(what, " ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

void run_uncaptured(const std::function<void()>& f) {
  std::exception_ptr error;
  std::thread worker([&] {
    try {
      f();
    } catch (...) {
      error = std::current_exception();
    }
  });
  worker.join();
  if (error) std::rethrow_exception(error);
}

std::vector<int64_t> int_values(const Tensor& t) {
  const Tensor c = t.is_contiguous() ? t : Tensor();
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  if (c.defined() && t.dtype() == DType::i64) {
    const int64_t* p = c.data<int64_t>();
    std::copy(p, p + t.numel(), out.begin());
  } else if (c.defined() && t.dtype() == DType::i32) {
    const int32_t* p = c.data<int32_t>();
    std::copy(p, p + t.numel(), out.begin());
  } else {
    // i8, u8, bool and strided tensors: every value is exact in a double.
    for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<size_t>(i)] = static_cast<int64_t>(element_as_double(t, i));
  }
  return out;
}

void check_constant_size(const NodeCtx& ctx, const Shape& shape, DType dtype, std::string_view what) {
  if (absurd_shape(shape, dtype) || numel(shape) * static_cast<int64_t>(dtype_size(dtype)) > kMaxConstantBytes)
    ctx.fail(what, " ", shape_str(shape), " (", dtype_name(dtype), ") would be a constant over 2 GiB");
}

void check_table_size(const NodeCtx& ctx, const Shape& shape, std::string_view what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && n > kMaxTableEntries / d)) n = kMaxTableEntries + 1;
    else n *= d;
  }
  if (n > kMaxTableEntries) ctx.fail("a ", what, " of shape ", shape_str(shape), " is too large (over 2^26 entries)");
}

bool absurd_shape(const Shape& shape, DType dtype) {
  constexpr int64_t kMaxElems = int64_t{1} << 31;
  constexpr int64_t kMaxBytes = int64_t{16} << 30;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return true;
    if (d > 0 && n > kMaxElems / d) return true;
    n *= d;
  }
  return n > kMaxElems || n * static_cast<int64_t>(dtype_size(dtype)) > kMaxBytes;
}

const ConverterTable& converter_table() {
  static const ConverterTable table = [] {
    ConverterTable t;
    add_elementwise_converters(t);
    add_nn_converters(t);
    add_norm_converters(t);
    add_shape_converters(t);
    add_reduce_converters(t);
    add_loss_converters(t);
    add_index_converters(t);
    add_resize_converters(t);
    add_random_converters(t);
    return t;
  }();
  return table;
}

// ---- the importer ----

// One ONNX value: a constant (CPU data) and/or a tensor on the meta device.
struct Val {
  TensorSpec spec;  // device cpu
  Tensor cpu;       // defined for constants
  Tensor meta;      // defined once the value exists on the meta device
};

class Importer {
 public:
  Importer(const pb::ModelProto& model, const OnnxImportOptions& options) : model_(model), options_(options) {}
  graph::Graph run();

  const Val& val(const std::string& name) const {
    auto it = vals_.find(name);
    if (it == vals_.end()) fail("onnx: internal: value '", name, "' is unknown");
    return it->second;
  }
  Tensor meta_of(const std::string& name);
  Tensor bind_constant(const Tensor& cpu, const std::string& base, bool parameter);
  bool used(const std::string& name) const { return used_.count(name) > 0; }
  // The value a node needed as a constant and did not get (set just before that error is thrown):
  // a graph input here can be fixed at import and the import retried (import_onnx_fed).
  void note_needed_constant(const std::string& value) { needed_constant_ = value; }
  const std::string& needed_constant() const { return needed_constant_; }

 private:
  void check_header();
  void add_inputs();
  std::vector<int> order_nodes();
  void convert(int index);
  std::string unique_name(const std::string& base);

  const pb::ModelProto& model_;
  const OnnxImportOptions& options_;
  int64_t opset_ = 0;
  std::unordered_map<std::string, Val> vals_;
  std::unordered_set<std::string> initializers_;
  std::unordered_set<std::string> used_;   // read by a node or a graph output
  std::unordered_set<std::string> taken_;  // names bound in the capture or reserved for outputs
  std::unordered_set<const TensorImpl*> leaves_;  // meta tensors no captured op produced
  std::string needed_constant_;
  struct Bound {
    std::string name;
    Tensor data;
    bool parameter;
  };
  std::vector<Bound> bound_;
  std::unique_ptr<graph::Capture> capture_;
};

NodeCtx::NodeCtx(Importer& importer, const pb::NodeProto& node, std::string name, int64_t opset, Mode mode)
    : imp_(importer), node_(node), name_(std::move(name)), opset_(opset), mode_(mode) {}

bool NodeCtx::has_input(size_t i) const { return i < input_count() && !node_.input(static_cast<int>(i)).empty(); }

Tensor NodeCtx::in(size_t i) {
  if (!has_input(i)) fail("input ", i, " is missing");
  const std::string& n = node_.input(static_cast<int>(i));
  if (mode_ == Mode::fold) return imp_.val(n).cpu;
  if (mode_ == Mode::dry) {
    const TensorSpec& s = imp_.val(n).spec;
    return Tensor::from_spec({s.shape, s.dtype, kMeta});
  }
  return imp_.meta_of(n);
}

TensorSpec NodeCtx::spec(size_t i) const {
  if (!has_input(i)) fail("input ", i, " is missing");
  return imp_.val(node_.input(static_cast<int>(i))).spec;
}

const Tensor* NodeCtx::constant(size_t i) const {
  if (!has_input(i)) return nullptr;
  const Val& v = imp_.val(node_.input(static_cast<int>(i)));
  return v.cpu.defined() ? &v.cpu : nullptr;
}

Tensor NodeCtx::need_constant(size_t i, std::string_view what) const {
  if (!has_input(i)) fail("input '", what, "' is missing");
  const Tensor* c = constant(i);
  if (!c) {
    imp_.note_needed_constant(node_.input(static_cast<int>(i)));
    fail("input '", what, "' (value '", node_.input(static_cast<int>(i)),
         "') is not constant (data-dependent shapes are not supported)");
  }
  return *c;
}

std::vector<int64_t> NodeCtx::ints_of(size_t i, std::string_view what) const {
  const Tensor t = need_constant(i, what);
  if (!is_integral(t.dtype())) fail("input '", what, "' must be an integer tensor, got ", dtype_name(t.dtype()));
  return int_values(t);
}

bool NodeCtx::wants_output(size_t i) const {
  if (i >= output_count()) return false;
  const std::string& n = node_.output(static_cast<int>(i));
  return !n.empty() && imp_.used(n);
}

const pb::AttributeProto* NodeCtx::attr(std::string_view name) const {
  for (const pb::AttributeProto& a : node_.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

int64_t NodeCtx::attr_int(std::string_view name, int64_t dflt) const {
  const pb::AttributeProto* a = attr(name);
  if (!a) return dflt;
  if (a->type() != pb::AttributeProto::INT) fail("attribute '", name, "' must be an int");
  return a->i();
}

double NodeCtx::attr_float(std::string_view name, double dflt) const {
  const pb::AttributeProto* a = attr(name);
  if (!a) return dflt;
  if (a->type() != pb::AttributeProto::FLOAT) fail("attribute '", name, "' must be a float");
  return a->f();
}

std::string NodeCtx::attr_string(std::string_view name, std::string_view dflt) const {
  const pb::AttributeProto* a = attr(name);
  if (!a) return std::string(dflt);
  if (a->type() != pb::AttributeProto::STRING) fail("attribute '", name, "' must be a string");
  return a->s();
}

std::vector<int64_t> NodeCtx::attr_ints(std::string_view name, std::vector<int64_t> dflt) const {
  const pb::AttributeProto* a = attr(name);
  if (!a) return dflt;
  if (a->type() != pb::AttributeProto::INTS) fail("attribute '", name, "' must be a list of ints");
  return {a->ints().begin(), a->ints().end()};
}

std::vector<double> NodeCtx::attr_floats(std::string_view name) const {
  const pb::AttributeProto* a = attr(name);
  if (!a) return {};
  if (a->type() != pb::AttributeProto::FLOATS) fail("attribute '", name, "' must be a list of floats");
  return {a->floats().begin(), a->floats().end()};
}

Tensor NodeCtx::attr_tensor(std::string_view name) const {
  const pb::AttributeProto* a = attr(name);
  if (!a) fail("attribute '", name, "' is missing");
  if (a->type() != pb::AttributeProto::TENSOR) fail("attribute '", name, "' must be a tensor");
  return tensor_from_proto(a->t());
}

Tensor NodeCtx::on_cpu(const std::function<Tensor()>& f) {
  if (mode_ != Mode::capture) {  // already off the capture
    Tensor t = f();
    return mode_ == Mode::dry ? Tensor::from_spec({t.shape(), t.dtype(), kMeta}) : t;
  }
  Tensor out;
  run_uncaptured([&] { out = contiguous(f()); });
  return out;
}

Tensor NodeCtx::scalar(double value, DType dtype) { return lift(cpu_scalar(value, dtype)); }

Tensor NodeCtx::lift(const Tensor& cpu) {
  if (mode_ == Mode::fold) return cpu;
  if (mode_ == Mode::dry) return Tensor::from_spec({cpu.shape(), cpu.dtype(), kMeta});
  return imp_.bind_constant(cpu, name_ + ".const", false);
}

std::string Importer::unique_name(const std::string& base) {
  std::string name = base;
  for (int k = 1; taken_.count(name); ++k) name = base + "." + std::to_string(k);
  taken_.insert(name);
  return name;
}

Tensor Importer::bind_constant(const Tensor& cpu, const std::string& base, bool parameter) {
  Tensor meta = Tensor::from_spec({cpu.shape(), cpu.dtype(), kMeta});
  const std::string name = unique_name(base);
  capture_->bind_parameter(meta, name);
  bound_.push_back({name, cpu, parameter});
  leaves_.insert(meta.impl_ptr().get());
  return meta;
}

Tensor Importer::meta_of(const std::string& name) {
  Val& v = vals_.at(name);
  if (!v.meta.defined()) {
    v.meta = bind_constant(v.cpu, name, initializers_.count(name) > 0);
  }
  return v.meta;
}

void Importer::check_header() {
  if (!model_.has_graph()) fail("onnx: the model has no graph");
  if (model_.ir_version() < 3)
    fail("onnx: ir_version ", model_.ir_version(), " is not supported (plumb reads ONNX IR 3 and later)");
  bool found = false;
  for (const pb::OperatorSetIdProto& o : model_.opset_import()) {
    if (!is_default_domain(o.domain())) continue;
    found = true;
    opset_ = o.version();
  }
  if (!found) fail("onnx: the model imports no opset of the default domain");
  if (opset_ < kMinOpset || opset_ > kMaxOpset)
    fail("onnx: opset ", opset_, " of the default domain is not supported (plumb imports opsets ", kMinOpset, " to ",
         kMaxOpset, ")");
  const pb::GraphProto& g = model_.graph();
  if (g.sparse_initializer_size() > 0)
    fail("onnx: sparse initializer '", g.sparse_initializer(0).values().name(), "' is not supported");
  for (int i = 0; i < g.node_size(); ++i) {
    const pb::NodeProto& n = g.node(i);
    if (!is_default_domain(n.domain()))
      fail("onnx: node '", n.name().empty() ? n.op_type() + "_" + std::to_string(i) : n.name(), "' (", n.op_type(),
           ") is in domain '", n.domain(), "', which plumb does not import (only the default ONNX domain)");
  }
}

// Graph inputs that are not initializers become meta tensors of their specs, bound by name.
void Importer::add_inputs() {
  const pb::GraphProto& g = model_.graph();
  std::unordered_set<std::string>& inits = initializers_;
  for (const pb::TensorProto& t : g.initializer()) {
    if (t.name().empty()) fail("onnx: an initializer has no name");
    if (!inits.insert(t.name()).second) fail("onnx: initializer '", t.name(), "' appears twice");
    Val v;
    v.cpu = tensor_from_proto(t);
    v.spec = v.cpu.spec();
    vals_[t.name()] = v;
  }
  std::set<std::string> graph_inputs;
  for (const pb::ValueInfoProto& in : g.input()) {
    const std::string& name = in.name();
    if (inits.count(name)) continue;
    if (name.empty()) fail("onnx: a graph input has no name");
    if (!graph_inputs.insert(name).second) fail("onnx: graph input '", name, "' appears twice");
    if (!in.type().has_tensor_type())
      fail("onnx: graph input '", name, "' is not a tensor (sequences, maps and optionals are not supported)");
    const pb::TypeProto::Tensor& tt = in.type().tensor_type();
    DType declared;
    try {
      declared = from_onnx_dtype(tt.elem_type());
    } catch (const Error& e) {
      std::string msg = e.what();
      if (msg.rfind("onnx: ", 0) == 0) msg = msg.substr(6);
      fail("onnx: graph input '", name, "': ", msg);
    }
    TensorSpec spec;
    auto given = options_.inputs.find(name);
    auto fixed = options_.values.find(name);
    if (fixed != options_.values.end()) {
      if (given != options_.inputs.end()) fail("onnx: input '", name, "' is given both a spec and a value");
      if (!fixed->second.defined() || fixed->second.is_meta())
        fail("onnx: the value given for input '", name, "' has no data");
      spec = fixed->second.spec();
    } else if (given != options_.inputs.end()) {
      spec = given->second;
    }
    if (fixed != options_.values.end() || given != options_.inputs.end()) {
      if (spec.dtype != declared)
        fail("onnx: input '", name, "' is ", dtype_name(declared), " in the model, got ", dtype_name(spec.dtype));
      if (tt.has_shape()) {
        const auto& dims = tt.shape().dim();
        if (dims.size() != static_cast<int>(spec.shape.size()))
          fail("onnx: input '", name, "' has rank ", dims.size(), " in the model, got shape ", shape_str(spec.shape));
        for (int d = 0; d < dims.size(); ++d)
          if (dims[d].has_dim_value() && dims[d].dim_value() != spec.shape[static_cast<size_t>(d)])
            fail("onnx: input '", name, "' has size ", dims[d].dim_value(), " in dim ", d, " in the model, got shape ",
                 shape_str(spec.shape));
      }
    } else {
      spec.dtype = declared;
      if (!tt.has_shape()) fail("onnx: input '", name, "' declares no shape; give its shape explicitly");
      for (const auto& d : tt.shape().dim())
        spec.shape.push_back(d.has_dim_value() ? d.dim_value() : options_.symbolic_dim);
    }
    spec.device = kCPU;
    if (absurd_shape(spec.shape, spec.dtype))
      fail("onnx: input '", name, "' has an absurd shape ", shape_str(spec.shape), " (", dtype_name(spec.dtype),
           "; negative, over 2^31 elements or over 16 GiB)");
    Val v;
    v.spec = spec;
    if (fixed != options_.values.end()) {
      v.cpu = fixed->second;
      if (v.cpu.device() != kCPU) fail("onnx: the value given for input '", name, "' is not on the CPU");
      if (!v.cpu.is_contiguous()) run_uncaptured([&] { v.cpu = contiguous(v.cpu); });
      v.spec.device = kCPU;
      vals_[name] = v;
      continue;
    }
    v.meta = Tensor::from_spec({spec.shape, spec.dtype, kMeta});
    capture_->bind_input(v.meta, name);
    taken_.insert(name);
    leaves_.insert(v.meta.impl_ptr().get());
    vals_[name] = v;
  }
  std::vector<std::string> named;
  for (const auto& [name, spec] : options_.inputs) named.push_back(name);
  for (const auto& [name, value] : options_.values) named.push_back(name);
  for (const std::string& name : named)
    if (!graph_inputs.count(name)) {
      std::string have;
      for (const std::string& n : graph_inputs) have += (have.empty() ? "" : ", ") + n;
      fail("onnx: the model has no input '", name, "' (inputs: ", have.empty() ? "none" : have, ")");
    }
}

// Kahn's algorithm over value names; node order breaks ties, so a sorted model keeps its order.
std::vector<int> Importer::order_nodes() {
  const pb::GraphProto& g = model_.graph();
  const int n = g.node_size();
  std::unordered_map<std::string, int> producer;
  for (int i = 0; i < n; ++i)
    for (const std::string& o : g.node(i).output()) {
      if (o.empty()) continue;
      if (vals_.count(o)) fail("onnx: node '", g.node(i).name(), "' (", g.node(i).op_type(), ") writes '", o,
                               "', which is already a graph input or initializer");
      if (!producer.emplace(o, i).second)
        fail("onnx: value '", o, "' is written by two nodes (", g.node(producer[o]).op_type(), " and ",
             g.node(i).op_type(), ")");
    }
  std::vector<int> pending(static_cast<size_t>(n), 0);
  std::vector<std::vector<int>> readers(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    std::set<int> deps;
    for (const std::string& in : g.node(i).input()) {
      if (in.empty()) continue;
      used_.insert(in);
      if (vals_.count(in)) continue;
      auto p = producer.find(in);
      if (p == producer.end()) {
        const pb::NodeProto& node = g.node(i);
        fail("onnx: node '", node.name().empty() ? node.op_type() + "_" + std::to_string(i) : node.name(), "' (",
             node.op_type(), ") reads '", in, "', which is no graph input, initializer or node output");
      }
      deps.insert(p->second);
    }
    pending[static_cast<size_t>(i)] = static_cast<int>(deps.size());
    for (int d : deps) readers[static_cast<size_t>(d)].push_back(i);
  }
  std::set<int> ready;
  for (int i = 0; i < n; ++i)
    if (pending[static_cast<size_t>(i)] == 0) ready.insert(i);
  std::vector<int> order;
  while (!ready.empty()) {
    const int i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (int r : readers[static_cast<size_t>(i)])
      if (--pending[static_cast<size_t>(r)] == 0) ready.insert(r);
  }
  if (static_cast<int>(order.size()) != n) {
    for (int i = 0; i < n; ++i)
      if (pending[static_cast<size_t>(i)] > 0) {
        const pb::NodeProto& node = g.node(i);
        fail("onnx: the graph has a cycle through node '",
             node.name().empty() ? node.op_type() + "_" + std::to_string(i) : node.name(), "' (", node.op_type(), ")");
      }
  }
  for (const pb::ValueInfoProto& o : g.output()) {
    used_.insert(o.name());
    if (!vals_.count(o.name()) && !producer.count(o.name()))
      fail("onnx: graph output '", o.name(), "' is no graph input, initializer or node output");
  }
  return order;
}

void Importer::convert(int index) {
  const pb::NodeProto& node = model_.graph().node(index);
  const std::string name = node.name().empty() ? node.op_type() + "_" + std::to_string(index) : node.name();
  const ConverterTable& table = converter_table();
  auto it = table.find(node.op_type());
  if (it == table.end())
    fail("onnx: node '", name, "': op ", node.op_type(), " is not supported (plumb imports ", table.size(),
         " ONNX ops; see docs/onnx.md)");
  bool fold = !is_random_onnx_op(node.op_type());
  for (const std::string& in : node.input())
    if (!in.empty() && !vals_.at(in).cpu.defined()) fold = false;

  std::vector<Tensor> outs;
  const std::string prefix = node.op_type() + " '" + name + "'";
  auto call = [&](NodeCtx::Mode mode) {
    NodeCtx ctx(*this, node, name, opset_, mode);
    try {
      outs = it->second(ctx);
    } catch (const Error& e) {
      const std::string msg = e.what();
      if (msg.rfind(prefix, 0) == 0) fail("onnx: ", msg);
      fail("onnx: ", prefix, ": ", msg);
    } catch (const std::bad_alloc&) {
      fail("onnx: ", prefix, ": out of memory");
    }
  };
  if (fold) {
    run_uncaptured([&] {
      // Rehearsed on meta first: a folded output is materialized only when its size is sane.
      call(NodeCtx::Mode::dry);
      for (const Tensor& t : outs)
        if (t.defined() && (absurd_shape(t.shape(), t.dtype()) ||
                            numel(t.shape()) * static_cast<int64_t>(dtype_size(t.dtype())) > kMaxConstantBytes))
          fail("onnx: ", prefix, ": folding it would make a constant ", t.spec().str(), " over 2 GiB");
      call(NodeCtx::Mode::fold);
      for (Tensor& t : outs)
        if (t.defined() && !t.is_contiguous()) t = copy(t);
    });
  } else {
    ModuleScope scope(name);
    call(NodeCtx::Mode::capture);
  }

  for (int k = 0; k < node.output_size(); ++k) {
    const std::string& o = node.output(k);
    if (o.empty()) continue;
    if (k >= static_cast<int>(outs.size()) || !outs[static_cast<size_t>(k)].defined()) {
      if (used_.count(o)) fail("onnx: node '", name, "' (", node.op_type(), "): output ", k, " ('", o,
                               "') is not supported");
      continue;
    }
    const Tensor& t = outs[static_cast<size_t>(k)];
    if (absurd_shape(t.shape(), t.dtype()))
      fail("onnx: node '", name, "' (", node.op_type(), "): output ", k, " has an absurd shape ", shape_str(t.shape()));
    Val v;
    v.spec = {t.shape(), t.dtype(), kCPU};
    if (t.is_meta()) {
      v.meta = t;
    } else {
      if (!t.is_contiguous()) fail("onnx: internal: node '", name, "' returned a strided constant");
      v.cpu = t;
    }
    vals_[o] = v;
  }
}

graph::Graph Importer::run() {
  check_header();
  const pb::GraphProto& g = model_.graph();
  for (const pb::ValueInfoProto& o : g.output()) {
    if (o.name().empty()) fail("onnx: a graph output has no name");
    if (!taken_.insert(o.name()).second) fail("onnx: graph output '", o.name(), "' appears twice");
  }
  capture_ = std::make_unique<graph::Capture>();
  add_inputs();
  const std::vector<int> order = order_nodes();
  for (int i : order) convert(i);

  // Outputs: an op's result each; a leaf (input, constant) or a repeat goes through a copy.
  std::unordered_set<const TensorImpl*> marked;
  for (const pb::ValueInfoProto& o : g.output()) {
    Val& v = vals_.at(o.name());
    Tensor t = v.meta.defined() ? v.meta : meta_of(o.name());
    if (leaves_.count(t.impl_ptr().get()) || marked.count(t.impl_ptr().get())) {
      ModuleScope scope(o.name());
      t = copy(t);
    }
    marked.insert(t.impl_ptr().get());
    capture_->mark_output(t, o.name());
  }
  graph::Graph graph = capture_->finish(g.name().empty() ? "onnx" : g.name());
  capture_.reset();

  // A converter's inner steps can be larger than its output (a pad before a pool): every value is
  // checked, blaming the ONNX node that made it.
  for (const graph::Value& v : graph.values) {
    if (!absurd_shape(v.spec.shape, v.spec.dtype)) continue;
    const graph::Node* n = v.producer >= 0 ? &graph.node(v.producer) : nullptr;
    fail("onnx: node '", n && !n->modules.empty() ? n->modules.front() : v.name, "' makes ",
         n ? n->op->name : "a value", " ", shape_str(v.spec.shape),
         ", which is absurd (over 2^31 elements or 16 GiB)");
  }
  // The graph runs on the CPU: constants get their data, every spec its device.
  for (graph::Value& v : graph.values) v.spec.device = kCPU;
  // Random draws were recorded for the meta device; the graph draws on the CPU.
  for (graph::Node& n : graph.nodes) {
    const auto* ra = dynamic_cast<const RandomAttrs*>(n.attrs.get());
    if (!ra || ra->device == kCPU) continue;
    auto cpu = std::make_shared<RandomAttrs>(*ra);
    cpu->device = kCPU;
    n.attrs = std::move(cpu);
  }
  for (const Bound& b : bound_) {
    const int id = graph.find_value(b.name);
    if (id < 0) continue;  // bound but never read
    graph::Value& v = graph.values[static_cast<size_t>(id)];
    v.kind = b.parameter ? graph::ValueKind::parameter : graph::ValueKind::constant;
    v.data = b.data;
  }
  graph.validate();
  return graph;
}

}  // namespace plumb::onnx_io

namespace plumb {

graph::Graph import_onnx(std::string_view bytes, const OnnxImportOptions& options) {
  const ::onnx::ModelProto model = onnx_io::parse_model(bytes);
  onnx_io::Importer importer(model, options);
  return importer.run();
}

OnnxFedImport import_onnx_fed(std::string_view bytes, const std::vector<std::pair<std::string, Tensor>>& given,
                              OnnxImportOptions options) {
  const ::onnx::ModelProto model = onnx_io::parse_model(bytes);  // once, for every attempt
  OnnxFedImport r;
  std::set<std::string> fixed;
  for (;;) {  // at most one retry per given input
    options.inputs.clear();
    options.values.clear();
    r.inputs.clear();
    for (const auto& [name, t] : given) {
      if (fixed.count(name)) {
        options.values[name] = t;
      } else {
        options.inputs[name] = t.spec();
        r.inputs.push_back(t);
      }
    }
    onnx_io::Importer importer(model, options);
    try {
      r.graph = importer.run();
      break;
    } catch (const Error&) {
      const std::string& name = importer.needed_constant();
      const bool is_given = std::any_of(given.begin(), given.end(), [&](const auto& p) { return p.first == name; });
      if (!is_given || fixed.count(name)) throw;
      fixed.insert(name);
    }
  }
  r.fixed.assign(fixed.begin(), fixed.end());
  return r;
}

graph::Graph load_onnx(const std::string& path, const OnnxImportOptions& options) {
  const std::string bytes = read_file(path);
  try {
    return import_onnx(bytes, options);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
}

std::vector<OnnxInputInfo> onnx_model_inputs(std::string_view bytes) {
  const ::onnx::ModelProto model = onnx_io::parse_model(bytes);
  if (!model.has_graph()) fail("onnx: the model has no graph");
  std::set<std::string> inits;
  for (const auto& t : model.graph().initializer()) inits.insert(t.name());
  std::vector<OnnxInputInfo> out;
  for (const auto& in : model.graph().input()) {
    if (inits.count(in.name())) continue;
    if (!in.type().has_tensor_type())
      fail("onnx: graph input '", in.name(), "' is not a tensor (sequences, maps and optionals are not supported)");
    OnnxInputInfo info;
    info.name = in.name();
    try {
      info.dtype = onnx_io::from_onnx_dtype(in.type().tensor_type().elem_type());
    } catch (const Error& e) {
      std::string msg = e.what();
      if (msg.rfind("onnx: ", 0) == 0) msg = msg.substr(6);
      fail("onnx: graph input '", in.name(), "': ", msg);
    }
    for (const auto& d : in.type().tensor_type().shape().dim()) info.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<std::string> onnx_supported_ops() {
  std::vector<std::string> out;
  for (const auto& [name, fn] : onnx_io::converter_table()) out.push_back(name);
  return out;  // std::map keeps them sorted
}

}  // namespace plumb
