// ONNX export of a forward graph: initializers from parameters and constants, one emitter per op,
// and a symbolic batch where the batch analysis allows it. See docs/onnx.md, "Export".
#include <algorithm>
#include <limits>
#include <string>

#include "onnx/export.h"
#include "onnx/tensor_proto.h"
#include "plumb/error.h"
#include "plumb/file_io.h"
#include "plumb/op_attrs.h"

namespace plumb::onnx_io {

namespace pb = ::onnx;

std::string node_label(const graph::Node& n) {
  std::string s = "node " + std::to_string(n.id) + " (" + (n.op ? n.op->name : std::string("?"));
  std::string path;
  for (const std::string& m : n.modules) path += (path.empty() ? "" : ".") + m;
  if (!path.empty()) s += ", " + path;
  return s + ")";
}

void throw_bad_attrs(const graph::Node& n) {
  fail("onnx export: ", node_label(n), " carries attributes of another op (", n.attrs->str(), ")");
}

void attr(pb::NodeProto& n, const std::string& name, int64_t v) {
  pb::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto::INT);
  a->set_i(v);
}

void attr(pb::NodeProto& n, const std::string& name, double v) {
  pb::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto::FLOAT);
  a->set_f(static_cast<float>(v));
}

void attr(pb::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
  pb::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

EmitFn find_emitter(std::string_view op) {
  static const auto table = [] {
    std::map<std::string, EmitFn, std::less<>> t;
    add_math_emitters(t);
    add_nn_emitters(t);
    add_movement_emitters(t);
    add_random_emitters(t);
    return t;
  }();
  const auto it = table.find(op);
  return it == table.end() ? nullptr : it->second;
}

// ---- ExportContext ----

ExportContext::ExportContext(const graph::Graph& graph_in, pb::GraphProto& graph_out, int64_t opset_in,
                             const BatchPlan& plan_in)
    : g(graph_in), out(graph_out), opset(opset_in), plan(plan_in) {}

const BatchDim& ExportContext::batch_of(int value) const {
  static const BatchDim none;
  if (!plan.dynamic || value < 0 || static_cast<size_t>(value) >= plan.dims.size()) return none;
  return plan.dims[static_cast<size_t>(value)];
}

namespace {

// Printable ASCII without spaces: ONNX allows any string, but tools handle these best.
std::string clean_name(const std::string& s) {
  std::string r;
  for (char c : s) r += (c > ' ' && c < 127) ? c : '_';
  return r;
}

}  // namespace

void ExportContext::assign_value_names() {
  names_.assign(g.values.size(), "");
  for (const graph::Value& v : g.values) {
    std::string base = clean_name(v.name);
    if (base.empty()) base = "v" + std::to_string(v.id);
    names_[static_cast<size_t>(v.id)] = fresh(base);
  }
}

std::string ExportContext::fresh(std::string_view base) {
  std::string b(base);
  if (used_.insert(b).second) return b;
  for (int i = 1;; ++i) {
    std::string c = b + "_" + std::to_string(i);
    if (used_.insert(c).second) return c;
  }
}

pb::NodeProto& ExportContext::add(const graph::Node& src, std::string_view type, const std::vector<std::string>& inputs,
                                  const std::vector<std::string>& outputs) {
  pb::NodeProto* n = out.add_node();
  std::string path;
  for (const std::string& m : src.modules) path += (path.empty() ? "" : ".") + m;
  const std::string base =
      clean_name((path.empty() ? "" : path + "/") + src.op->name + "_" + std::to_string(src.id));
  // Node names need not be unique in ONNX, but unique names make errors and profiles readable.
  const int k = node_names_[base]++;
  n->set_name(k == 0 ? base : base + "_" + std::to_string(k));
  n->set_op_type(std::string(type));
  for (const std::string& i : inputs) n->add_input(i);
  for (const std::string& o : outputs) n->add_output(o);
  return *n;
}

std::string ExportContext::ints(const std::vector<int64_t>& v, std::string_view base) {
  const std::string name = fresh(base);
  pb::TensorProto* t = out.add_initializer();
  t->set_name(name);
  t->set_data_type(pb::TensorProto::INT64);
  t->add_dims(static_cast<int64_t>(v.size()));
  for (int64_t x : v) t->add_int64_data(x);
  return name;
}

std::string ExportContext::scalar(double v, DType dtype, std::string_view base) {
  Tensor t = Tensor::empty({}, dtype, kCPU);
  set_element_from_double(t, 0, v);
  return initializer(t, base);
}

std::string ExportContext::initializer(const Tensor& t, std::string_view base) {
  const std::string name = fresh(base);
  tensor_to_proto(t, name, *out.add_initializer());
  return name;
}

std::string ExportContext::temp(const graph::Node& src, std::string_view what) {
  return fresh(names_[static_cast<size_t>(src.outputs.empty() ? 0 : src.outputs[0])] + "_" + std::string(what));
}

std::string ExportContext::runtime_shape(std::string_view base, const Shape& dims, int axis, int64_t mult) {
  std::string key;
  for (int64_t d : dims) key += std::to_string(d) + ",";
  key += "@" + std::to_string(axis) + "x" + std::to_string(mult);
  const auto hit = shapes_.find(key);
  if (hit != shapes_.end()) return hit->second;
  if (batch_name_.empty()) {
    // batch = Shape(first input)[0:1], a (1) i64 tensor.
    const std::string shape = fresh("batch_shape");
    const std::string index = ints({0}, "batch_index");
    batch_name_ = fresh("batch");
    pb::NodeProto* s = out.add_node();
    s->set_name(fresh("batch/Shape"));
    s->set_op_type("Shape");
    s->add_input(names_[static_cast<size_t>(g.inputs.at(0))]);
    s->add_output(shape);
    pb::NodeProto* gth = out.add_node();
    gth->set_name(fresh("batch/Gather"));
    gth->set_op_type("Gather");
    gth->add_input(shape);
    gth->add_input(index);
    gth->add_output(batch_name_);
    attr(*gth, "axis", int64_t{0});
  }
  std::string b = batch_name_;
  if (mult != 1) {
    const std::string m = ints({mult}, std::string(base) + "_mult");
    b = fresh(std::string(base) + "_batch");
    pb::NodeProto* mul = out.add_node();
    mul->set_name(fresh(std::string(base) + "/Mul"));
    mul->set_op_type("Mul");
    mul->add_input(batch_name_);
    mul->add_input(m);
    mul->add_output(b);
  }
  const auto ax = static_cast<size_t>(axis);
  std::vector<std::string> parts;
  if (ax > 0) parts.push_back(ints(std::vector<int64_t>(dims.begin(), dims.begin() + static_cast<std::ptrdiff_t>(ax)),
                                   std::string(base) + "_lead"));
  parts.push_back(b);
  if (ax + 1 < dims.size())
    parts.push_back(ints(std::vector<int64_t>(dims.begin() + static_cast<std::ptrdiff_t>(ax) + 1, dims.end()),
                         std::string(base) + "_tail"));
  const std::string name = fresh(std::string(base) + "_shape");
  pb::NodeProto* c = out.add_node();
  c->set_name(fresh(std::string(base) + "/Concat"));
  c->set_op_type("Concat");
  for (const std::string& p : parts) c->add_input(p);
  c->add_output(name);
  attr(*c, "axis", int64_t{0});
  shapes_[key] = name;
  return name;
}

namespace {

// `batch_axis` (-1: none) becomes the symbolic dim "batch".
void set_value_info(pb::ValueInfoProto& vi, const std::string& name, const TensorSpec& spec, int batch_axis) {
  vi.set_name(name);
  pb::TypeProto_Tensor* tt = vi.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(to_onnx_dtype(spec.dtype));
  pb::TensorShapeProto* shape = tt->mutable_shape();
  for (size_t i = 0; i < spec.shape.size(); ++i) {
    pb::TensorShapeProto_Dimension* d = shape->add_dim();
    if (static_cast<int>(i) == batch_axis) d->set_dim_param("batch");
    else d->set_dim_value(spec.shape[i]);
  }
}

// The slice at index 0 along `axis` of a CPU tensor, kept with size 1 there.
Tensor first_slice(const Tensor& t, int axis) {
  Shape s = t.shape();
  s[static_cast<size_t>(axis)] = 1;
  Tensor r = Tensor::empty(s, t.dtype(), kCPU);
  int64_t inner = 1;
  for (size_t i = static_cast<size_t>(axis) + 1; i < s.size(); ++i) inner *= s[i];
  const int64_t n = t.shape()[static_cast<size_t>(axis)];
  for (int64_t i = 0; i < r.numel(); ++i) {
    const int64_t o = i / inner, k = i % inner;
    set_element_from_double(r, i, element_as_double(t, o * n * inner + k));
  }
  return r;
}

std::string why_no_form(const OpDef& op) {
  switch (op.op_class) {
    case OpClass::random: return "random ops have no ONNX form";
    case OpClass::optimizer: return "optimizer updates have no ONNX form";
    default: break;
  }
  if (op.name.find("backward") != std::string::npos) return "backward ops have no ONNX form";
  if (op.name.rfind("ctc", 0) == 0) return "CTC has no ONNX form";
  return "op '" + op.name + "' has no ONNX form";
}

}  // namespace

}  // namespace plumb::onnx_io

namespace plumb {

namespace pb = ::onnx;
using onnx_io::ExportContext;

graph::CaptureOptions onnx_capture_options() {
  graph::CaptureOptions o;
  o.keep_composite = [](const OpDef& op) { return onnx_io::find_emitter(op.name) != nullptr; };
  return o;
}

std::string export_onnx(const graph::Graph& g, const OnnxExportOptions& options, OnnxExportReport* report) {
  if (options.opset < 13)
    fail("onnx export: opset ", options.opset, " is too old; plumb writes opset 13 to 17");
  if (options.opset > 17)
    fail("onnx export: opset ", options.opset, " is newer than this ONNX library checks (17); plumb writes 13 to 17");
  g.validate();
  for (const graph::Node& n : g.nodes) {
    if (n.phase != Phase::forward)
      fail("onnx export: ", onnx_io::node_label(n), " belongs to the ", phase_name(n.phase),
           " phase; export takes a forward graph (capture_forward)");
    if (!onnx_io::find_emitter(n.op->name))
      fail("onnx export: ", onnx_io::node_label(n), ": ", onnx_io::why_no_form(*n.op));
  }
  for (const graph::Value& v : g.values) {
    if (v.kind != graph::ValueKind::parameter && v.kind != graph::ValueKind::constant) continue;
    if (!v.data.defined() || v.data.is_meta())
      fail("onnx export: export needs data: value '", v.name, "' was captured on meta");
  }
  if (g.outputs.empty()) fail("onnx export: graph '", g.name, "' has no outputs");

  onnx_io::BatchPlan plan;
  if (options.dynamic_batch) {
    plan = onnx_io::plan_batch(g);
  } else {
    plan.reason = "a fixed batch was asked for";
  }
  if (!plan.dynamic) {
    plan.dims.assign(g.values.size(), onnx_io::BatchDim{});
    plan.forced.clear();
  }

  pb::ModelProto m;
  m.set_ir_version(8);
  pb::OperatorSetIdProto* os = m.add_opset_import();
  os->set_domain("");
  os->set_version(options.opset);
  m.set_producer_name("plumb");
#ifdef PLUMB_VERSION
  m.set_producer_version(PLUMB_VERSION);
#endif
  pb::GraphProto& graph = *m.mutable_graph();
  graph.set_name(g.name.empty() ? "graph" : g.name);
  ExportContext ctx(g, graph, options.opset, plan);
  ctx.assign_value_names();

  for (int v : g.inputs)
    onnx_io::set_value_info(*graph.add_input(), ctx.name(v), g.value(v).spec, plan.dynamic ? 0 : -1);
  for (const graph::Value& v : g.values) {
    if (v.kind != graph::ValueKind::parameter && v.kind != graph::ValueKind::constant) continue;
    const auto f = plan.forced.find(v.id);
    if (f == plan.forced.end()) {
      onnx_io::tensor_to_proto(v.data, ctx.name(v.id), *graph.add_initializer());
      continue;
    }
    // A constant that holds the batch size: its first slice, expanded to the runtime batch.
    const std::string row = ctx.initializer(onnx_io::first_slice(v.data, f->second.axis), ctx.name(v.id) + "_row");
    Shape dims = v.spec.shape;
    dims[static_cast<size_t>(f->second.axis)] = 1;
    const std::string shape = ctx.runtime_shape(ctx.name(v.id), dims, f->second.axis, 1);
    pb::NodeProto* e = graph.add_node();
    e->set_name(ctx.fresh(ctx.name(v.id) + "/Expand"));
    e->set_op_type("Expand");
    e->add_input(row);
    e->add_input(shape);
    e->add_output(ctx.name(v.id));
  }
  for (const graph::Node& n : g.nodes) onnx_io::find_emitter(n.op->name)(ctx, n);

  std::set<int> seen;
  for (int v : g.outputs) {
    std::string name = ctx.name(v);
    if (!seen.insert(v).second) {
      // The same value listed twice: a second name through Identity.
      const std::string copy = ctx.fresh(name + "_copy");
      pb::NodeProto* id = graph.add_node();
      id->set_name(ctx.fresh(name + "/Identity"));
      id->set_op_type("Identity");
      id->add_input(name);
      id->add_output(copy);
      name = copy;
    }
    onnx_io::set_value_info(*graph.add_output(), name, g.value(v).spec, ctx.batch_of(v).axis);
  }

  const size_t size = m.ByteSizeLong();
  if (size > static_cast<size_t>(std::numeric_limits<int>::max()))
    fail("onnx export: the model would be ", size, " bytes, over protobuf's 2 GiB limit");
  std::string bytes;
  if (!m.SerializeToString(&bytes)) fail("onnx export: serializing the model failed");
  if (report) {
    report->dynamic_batch = plan.dynamic;
    report->fixed_batch_reason = plan.dynamic ? "" : plan.reason;
    report->batch = plan.dynamic ? 0 : (g.inputs.empty() || g.value(g.inputs[0]).spec.shape.empty()
                                            ? 0
                                            : g.value(g.inputs[0]).spec.shape[0]);
    report->nodes = graph.node_size();
    report->initializers = graph.initializer_size();
    report->parameters = g.parameter_count();
    report->bytes = static_cast<int64_t>(bytes.size());
    report->opset = options.opset;
  }
  return bytes;
}

std::string export_onnx(const graph::Graph& g, const OnnxExportOptions& options) {
  return export_onnx(g, options, nullptr);
}

void save_onnx(const graph::Graph& g, const std::string& path, const OnnxExportOptions& options) {
  write_file_atomic(path, export_onnx(g, options));
}

}  // namespace plumb
