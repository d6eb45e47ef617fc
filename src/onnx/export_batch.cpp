// Dynamic batch: which axis of each value carries the batch, followed from the inputs' leading dims.
// A value that holds the batch size without being computed from an input (a zero initial state
// made for this batch) is rebuilt from the runtime batch when it is the same along that axis;
// anything else that bakes the batch in makes the export fall back to a fixed batch, with a reason.
#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <string>

#include "onnx/export.h"
#include "plumb/error.h"
#include "plumb/op_attrs.h"

namespace plumb::onnx_io {

namespace {

// Thrown inside the analysis to stop at the first node that fixes the batch.
struct FixedBatch {
  std::string reason;
};

int64_t prod(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

int norm_axis(int64_t axis, size_t rank) {
  const int64_t r = static_cast<int64_t>(rank);
  return static_cast<int>(axis < 0 ? axis + r : axis);
}

// A tensor's bytes in row-major order (a copy only when it is strided).
std::string dense_bytes(const Tensor& t) {
  std::string out(t.nbytes(), '\0');
  if (out.empty()) return out;
  if (t.is_contiguous()) {
    std::memcpy(out.data(), t.raw_data(), out.size());
    return out;
  }
  Tensor d = Tensor::empty(t.shape(), t.dtype(), kCPU);
  for (int64_t i = 0; i < t.numel(); ++i) set_element_from_double(d, i, element_as_double(t, i));
  std::memcpy(out.data(), d.raw_data(), out.size());
  return out;
}

// True when every slice of `t` along `axis` equals the first.
bool uniform_along(const Tensor& t, int axis) {
  const Shape& s = t.shape();
  const std::string bytes = dense_bytes(t);
  const size_t outer = static_cast<size_t>(prod(s, 0, static_cast<size_t>(axis)));
  const size_t n = static_cast<size_t>(s[static_cast<size_t>(axis)]);
  const size_t inner = static_cast<size_t>(prod(s, static_cast<size_t>(axis) + 1, s.size())) * dtype_size(t.dtype());
  for (size_t o = 0; o < outer; ++o) {
    const char* first = bytes.data() + o * n * inner;
    for (size_t i = 1; i < n; ++i)
      if (std::memcmp(first, first + i * inner, inner) != 0) return false;
  }
  return true;
}

bool is_unary_like(std::string_view op) {
  static const char* const names[] = {"neg",  "exp",   "log",  "sqrt", "rsqrt", "abs",     "relu",
                                      "sigmoid", "tanh", "clamp", "cast", "copy", "dropout"};
  return std::any_of(std::begin(names), std::end(names), [&](const char* n) { return op == n; });
}

bool is_broadcast(std::string_view op) {
  static const char* const names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                      "eq",  "ne",  "lt",  "le",  "gt",  "ge",      "where"};
  return std::any_of(std::begin(names), std::end(names), [&](const char* n) { return op == n; });
}

class Analysis {
 public:
  Analysis(const graph::Graph& g, BatchPlan& plan) : g_(g), plan_(plan), batch_(plan.batch) {}

  // One pass over the graph; returns true when it marked a value to follow the batch (run again).
  bool pass() {
    changed_ = false;
    plan_.dims.assign(g_.values.size(), BatchDim{});
    for (int v : g_.inputs) plan_.dims[static_cast<size_t>(v)] = {0, 1};
    for (const auto& [v, d] : plan_.forced)
      if (g_.value(v).kind != graph::ValueKind::intermediate) plan_.dims[static_cast<size_t>(v)] = d;
    for (const graph::Node& n : g_.nodes) {
      step(n);
      for (int out : n.outputs) {
        const auto f = plan_.forced.find(out);
        if (f != plan_.forced.end()) plan_.dims[static_cast<size_t>(out)] = f->second;
      }
    }
    return changed_;
  }

  // Outputs carry the batch with multiple 1 on some axis: the leading one, or another for models
  // whose output is time-major (T, B, ...).
  void check_outputs() {
    for (int v : g_.outputs) {
      const BatchDim& d = dim(v);
      if (!d.has()) throw FixedBatch{"output '" + g_.value(v).name + "' does not depend on the batch"};
      if (d.mult != 1)
        throw FixedBatch{"output '" + g_.value(v).name + "' holds the batch times " + std::to_string(d.mult) +
                         " on axis " + std::to_string(d.axis)};
    }
  }

 private:
  const graph::Graph& g_;
  BatchPlan& plan_;
  const int64_t batch_;
  bool changed_ = false;

  BatchDim& dim(int v) { return plan_.dims[static_cast<size_t>(v)]; }
  const Shape& shape(int v) const { return g_.value(v).spec.shape; }
  int rank(int v) const { return static_cast<int>(shape(v).size()); }
  std::string vname(int v) const { return "'" + g_.value(v).name + "'"; }

  [[noreturn]] void fixed(const graph::Node& n, const std::string& why) const {
    throw FixedBatch{node_label(n) + ": " + why};
  }

  // The multiple of the batch an output axis holds; the batch must divide it.
  int64_t mult_of(const graph::Node& n, int v, int axis) const {
    const int64_t size = shape(v)[static_cast<size_t>(axis)];
    if (size <= 0 || size % batch_ != 0)
      fixed(n, "axis " + std::to_string(axis) + " of " + vname(v) + " has size " + std::to_string(size) +
                   ", not a multiple of the batch " + std::to_string(batch_));
    return size / batch_;
  }

  void set(int v, BatchDim d) { dim(v) = d; }

  void force(int v, int axis) {
    plan_.forced[v] = {axis, 1};
    changed_ = true;
  }

  // Makes a value that does not follow the batch carry it on `axis` (size = batch): a constant the
  // same along that axis, or an expand that broadcast to it, reached through shape-preserving ops.
  bool require(int v, int axis, int depth = 0) {
    if (depth > 64 || axis < 0 || axis >= rank(v)) return false;
    const BatchDim& d = dim(v);
    if (d.has()) return d.axis == axis && d.mult == 1;
    if (shape(v)[static_cast<size_t>(axis)] != batch_) return false;
    const auto f = plan_.forced.find(v);
    if (f != plan_.forced.end()) return f->second.axis == axis;
    const graph::Value& val = g_.value(v);
    if (val.kind == graph::ValueKind::constant) {
      if (!val.data.defined() || val.data.is_meta() || !uniform_along(val.data, axis)) return false;
      force(v, axis);
      return true;
    }
    if (val.kind != graph::ValueKind::intermediate) return false;
    const graph::Node& n = g_.node(val.producer);
    const std::string& op = n.op->name;
    const int in0 = n.inputs.empty() ? -1 : n.inputs[0];
    // A draw for this batch (a VAE's noise): export draws it in the runtime batch's shape.
    if (n.op->op_class == OpClass::random) {
      force(v, axis);
      return true;
    }
    if (is_unary_like(op)) return require(in0, axis, depth + 1);
    if (op == "softmax" || op == "log_softmax") {
      if (norm_axis(node_attrs<AxisAttrs>(n).axis, shape(in0).size()) == axis) return false;
      return require(in0, axis, depth + 1);
    }
    if (is_broadcast(op)) {
      bool any = false;
      for (int in : n.inputs) {
        const int a = axis - (rank(v) - rank(in));
        if (a < 0) continue;
        const int64_t size = shape(in)[static_cast<size_t>(a)];
        if (size == 1 && batch_ != 1) continue;  // broadcasts
        if (require(in, a, depth + 1)) {
          any = true;
        } else if (size != 1) {
          return false;
        }
      }
      return any;
    }
    if (op == "linear") {  // a zero initial state through a layer: rows stay rows
      if (axis == rank(v) - 1) return false;
      return require(in0, axis, depth + 1);
    }
    if (op == "layer_norm") {
      if (axis >= rank(v) - node_attrs<LayerNormAttrs>(n).normalized_dims) return false;
      return require(in0, axis, depth + 1);
    }
    if (op == "conv" || op == "max_pool" || op == "avg_pool" || op == "local_response_norm" || op == "batch_norm") {
      if (axis != 0) return false;
      return require(in0, 0, depth + 1);
    }
    if (op == "matmul") {
      const int r = rank(v);
      if (axis == r - 2) return require(in0, rank(in0) - 2, depth + 1);
      if (axis == r - 1) return require(n.inputs[1], rank(n.inputs[1]) - 1, depth + 1);
      bool any = false;
      for (int in : n.inputs) {
        const int a = axis - (r - rank(in));
        if (a < 0 || a >= rank(in) - 2) continue;
        const int64_t size = shape(in)[static_cast<size_t>(a)];
        if (size == 1 && batch_ != 1) continue;
        if (require(in, a, depth + 1)) any = true;
        else if (size != 1) return false;
      }
      return any;
    }
    if (op == "reshape") {
      const Shape& is = shape(in0);
      const int64_t before = prod(shape(v), 0, static_cast<size_t>(axis));
      for (size_t j = 0; j < is.size(); ++j)
        if (prod(is, 0, j) == before && is[j] == batch_ && require(in0, static_cast<int>(j), depth + 1)) return true;
      return false;
    }
    if (op == "permute") {
      const auto& dims = node_attrs<PermuteAttrs>(n).dims;
      return require(in0, norm_axis(dims.at(static_cast<size_t>(axis)), dims.size()), depth + 1);
    }
    if (op == "slice") {
      if (norm_axis(node_attrs<SliceAttrs>(n).axis, shape(in0).size()) == axis) return false;
      return require(in0, axis, depth + 1);
    }
    if (op == "split") {
      if (norm_axis(node_attrs<SplitAttrs>(n).axis, shape(in0).size()) == axis) return false;
      return require(in0, axis, depth + 1);
    }
    if (op == "concat") {
      if (norm_axis(node_attrs<AxisAttrs>(n).axis, shape(in0).size()) == axis) return false;
      for (int in : n.inputs)
        if (!require(in, axis, depth + 1)) return false;
      return true;
    }
    if (op == "expand") {
      const int a = axis - (rank(v) - rank(in0));
      if (a < 0 || shape(in0)[static_cast<size_t>(a)] == 1) {
        force(v, axis);
        return true;
      }
      return require(in0, a, depth + 1);
    }
    return false;
  }

  void need(const graph::Node& n, int v, int axis) {
    if (!require(v, axis))
      fixed(n, "input " + vname(v) + " has the batch size on axis " + std::to_string(axis) +
                   " but is not computed from the graph's inputs");
  }

  void no_batch(const graph::Node& n, size_t from) {
    for (size_t i = from; i < n.inputs.size(); ++i)
      if (dim(n.inputs[i]).has())
        fixed(n, "input " + vname(n.inputs[i]) + " carries the batch where the op expects none");
  }

  // NumPy broadcasting over all inputs (elementwise ops, where).
  void broadcast(const graph::Node& n) {
    const int out = n.outputs[0];
    const int r = rank(out);
    int ob = -1;
    for (int in : n.inputs) {
      const BatchDim& d = dim(in);
      if (!d.has()) continue;
      const int oa = d.axis + r - rank(in);
      if (ob >= 0 && ob != oa) fixed(n, "its inputs carry the batch on different axes");
      ob = oa;
    }
    if (ob < 0) return;
    for (int in : n.inputs) {
      if (dim(in).has()) continue;
      const int a = ob - (r - rank(in));
      if (a < 0 || shape(in)[static_cast<size_t>(a)] == 1) continue;
      need(n, in, a);
    }
    set(out, {ob, mult_of(n, out, ob)});
  }

  // Ops whose inputs all have the output's rank and must agree on the batch axis (not `op_axis`).
  void aligned(const graph::Node& n, int op_axis, bool output_from_index = false) {
    int ob = -1;
    for (int in : n.inputs) {
      const BatchDim& d = dim(in);
      if (!d.has()) continue;
      if (ob >= 0 && ob != d.axis) fixed(n, "its inputs carry the batch on different axes");
      ob = d.axis;
    }
    if (ob < 0) return;
    if (ob == op_axis) fixed(n, "it works along the batch axis " + std::to_string(ob));
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const int in = n.inputs[i];
      if (dim(in).has()) continue;
      // gather's x may be larger than the index off the gather axis: only the index must follow.
      if (output_from_index && i == 0) continue;
      need(n, in, ob);
    }
    const int out = n.outputs[0];
    set(out, {ob, mult_of(n, out, ob)});
  }

  void reduce(const graph::Node& n, std::vector<int64_t> axes, bool keepdim) {
    const int in = n.inputs[0];
    const BatchDim d = dim(in);
    if (!d.has()) return;
    const size_t r = shape(in).size();
    if (axes.empty()) return;  // all axes
    int before = 0;
    for (int64_t a : axes) {
      const int na = norm_axis(a, r);
      if (na == d.axis) return;  // reduced over the batch
      if (na < d.axis) ++before;
    }
    set(n.outputs[0], {keepdim ? d.axis : d.axis - before, d.mult});
  }

  // x (N, ...) with the batch leading; every other input (weights, statistics) without it.
  void leading(const graph::Node& n) {
    const BatchDim d = dim(n.inputs[0]);
    no_batch(n, 1);
    if (!d.has()) return;
    if (d.axis != 0) fixed(n, "its input carries the batch on axis " + std::to_string(d.axis) + ", not axis 0");
    set(n.outputs[0], {0, mult_of(n, n.outputs[0], 0)});
  }

  void matmul(const graph::Node& n) {
    const int a = n.inputs[0], b = n.inputs[1], out = n.outputs[0];
    const int ra = rank(a), rb = rank(b), r = rank(out);
    const BatchDim da = dim(a), db = dim(b);
    int ob = -1;
    auto set_ob = [&](int ax) {
      if (ob >= 0 && ob != ax) fixed(n, "both operands carry the batch, on different output axes");
      ob = ax;
    };
    if (da.has()) {
      if (da.axis < ra - 2) set_ob(da.axis + r - ra);
      else if (da.axis == ra - 2) set_ob(r - 2);
      else if (!(db.axis == rb - 2 && db.mult == da.mult) && !(da.mult == 1 && require(b, rb - 2)))
        fixed(n, "it contracts the batch axis of a with b's rows, which do not follow the batch");
    }
    if (db.has()) {
      if (db.axis < rb - 2) set_ob(db.axis + r - rb);
      else if (db.axis == rb - 1) set_ob(r - 1);
      else if (!(da.axis == ra - 1 && db.mult == da.mult) && !(db.mult == 1 && require(a, ra - 1)))
        fixed(n, "it contracts the batch axis of b with a's columns, which do not follow the batch");
    }
    if (ob < 0) return;
    if (ob < r - 2) {
      for (int v : {a, b}) {
        if (dim(v).has()) continue;
        const int ax = ob - (r - rank(v));
        if (ax >= 0 && shape(v)[static_cast<size_t>(ax)] != 1) need(n, v, ax);
      }
    }
    set(out, {ob, mult_of(n, out, ob)});
  }

  void reshape(const graph::Node& n) {
    const int in = n.inputs[0], out = n.outputs[0];
    const BatchDim d = dim(in);
    if (!d.has()) return;
    const Shape& is = shape(in);
    const Shape& os = shape(out);
    const int64_t before = prod(is, 0, static_cast<size_t>(d.axis));
    int pick = -1;
    for (size_t j = 0; j < os.size(); ++j) {
      if (prod(os, 0, j) != before || os[j] <= 0 || os[j] % batch_ != 0) continue;
      if (os[j] == is[static_cast<size_t>(d.axis)]) {
        pick = static_cast<int>(j);
        break;
      }
      if (pick < 0) pick = static_cast<int>(j);
    }
    if (pick < 0)
      fixed(n, "it reshapes " + shape_str(is) + " to " + shape_str(os) + ", which does not keep the batch (axis " +
                   std::to_string(d.axis) + ") outermost in one axis");
    set(out, {pick, os[static_cast<size_t>(pick)] / batch_});
  }

  void step(const graph::Node& n) {
    const std::string& op = n.op->name;
    if (n.inputs.empty()) return;
    const int in0 = n.inputs[0];
    const BatchDim d0 = dim(in0);
    if (is_unary_like(op) || op == "softmax" || op == "log_softmax") {
      set(n.outputs[0], d0);
    } else if (is_broadcast(op)) {
      broadcast(n);
    } else if (op == "sum" || op == "mean" || op == "max") {
      const auto& a = node_attrs<ReduceAttrs>(n);
      reduce(n, a.axes, a.keepdim);
    } else if (op == "argmax") {
      const auto& a = node_attrs<ArgReduceAttrs>(n);
      reduce(n, {a.axis}, a.keepdim);
    } else if (op == "matmul") {
      matmul(n);
    } else if (op == "conv" || op == "conv_backward_input" || op == "max_pool" || op == "avg_pool" ||
               op == "local_response_norm" || op == "batch_norm") {
      leading(n);
    } else if (op == "linear") {
      no_batch(n, 1);
      if (d0.has() && d0.axis == rank(in0) - 1) fixed(n, "the batch is in the features axis");
      set(n.outputs[0], d0);
    } else if (op == "layer_norm") {
      no_batch(n, 1);
      if (d0.has() && d0.axis >= rank(in0) - node_attrs<LayerNormAttrs>(n).normalized_dims)
        fixed(n, "the batch axis is among the normalized axes");
      set(n.outputs[0], d0);
    } else if (op == "embedding") {
      if (d0.has()) fixed(n, "the embedding table carries the batch");
      set(n.outputs[0], dim(n.inputs[1]));
    } else if (op == "reshape") {
      reshape(n);
    } else if (op == "permute") {
      if (!d0.has()) return;
      const auto& dims = node_attrs<PermuteAttrs>(n).dims;
      for (size_t i = 0; i < dims.size(); ++i)
        if (norm_axis(dims[i], dims.size()) == d0.axis) set(n.outputs[0], {static_cast<int>(i), d0.mult});
    } else if (op == "expand") {
      if (!d0.has()) return;
      const int ax = d0.axis + rank(n.outputs[0]) - rank(in0);
      set(n.outputs[0], {ax, mult_of(n, n.outputs[0], ax)});
    } else if (op == "slice") {
      const auto& a = node_attrs<SliceAttrs>(n);
      // Only the whole batch axis (which export writes as Identity) is independent of the batch.
      const auto ax = static_cast<size_t>(d0.axis);
      if (d0.has() && norm_axis(a.axis, shape(in0).size()) == d0.axis &&
          (a.step != 1 || a.start != 0 || shape(n.outputs[0])[ax] != shape(in0)[ax]))
        fixed(n, "it slices the batch axis");
      set(n.outputs[0], d0);
    } else if (op == "split") {
      const auto& a = node_attrs<SplitAttrs>(n);
      if (d0.has() && norm_axis(a.axis, shape(in0).size()) == d0.axis && n.outputs.size() > 1)
        fixed(n, "it splits the batch axis");
      for (int out : n.outputs) set(out, d0);
    } else if (op == "pad") {
      const auto& pads = node_attrs<PadAttrs>(n).pads;
      const size_t r = shape(in0).size();
      if (d0.has() && (pads[static_cast<size_t>(d0.axis)] != 0 || pads[static_cast<size_t>(d0.axis) + r] != 0))
        fixed(n, "it pads the batch axis");
      set(n.outputs[0], d0);
    } else if (op == "concat") {
      aligned(n, norm_axis(node_attrs<AxisAttrs>(n).axis, shape(in0).size()));
    } else if (op == "gather") {
      aligned(n, norm_axis(node_attrs<AxisAttrs>(n).axis, shape(in0).size()), true);
    } else if (op == "scatter_add") {
      aligned(n, norm_axis(node_attrs<AxisAttrs>(n).axis, shape(in0).size()));
    } else if (op == "index_select") {
      const int axis = norm_axis(node_attrs<AxisAttrs>(n).axis, shape(in0).size());
      const BatchDim di = dim(n.inputs[1]);
      if (d0.has() && di.has()) fixed(n, "both the table and the index carry the batch");
      if (d0.has() && d0.axis == axis) fixed(n, "it selects along the batch axis");
      if (d0.has()) set(n.outputs[0], d0);
      if (di.has()) set(n.outputs[0], {axis, di.mult});
    } else {
      for (int in : n.inputs)
        if (dim(in).has()) fixed(n, "plumb cannot follow the batch through '" + op + "'");
    }
  }
};

}  // namespace

BatchPlan plan_batch(const graph::Graph& g) {
  BatchPlan plan;
  plan.dims.assign(g.values.size(), BatchDim{});
  if (g.inputs.empty()) {
    plan.reason = "the graph has no inputs";
    return plan;
  }
  for (int v : g.inputs) {
    const graph::Value& in = g.value(v);
    if (in.spec.shape.empty()) {
      plan.reason = "input '" + in.name + "' is 0-d and has no batch dim";
      return plan;
    }
    if (plan.batch == 0) plan.batch = in.spec.shape[0];
    if (in.spec.shape[0] != plan.batch) {
      plan.reason = "the inputs' leading dims differ (" + std::to_string(plan.batch) + " and " +
                    std::to_string(in.spec.shape[0]) + ")";
      return plan;
    }
  }
  if (plan.batch < 1) {
    plan.reason = "the batch is 0";
    return plan;
  }
  try {
    Analysis a(g, plan);
    // Each pass that marks a value to follow the batch is repeated; at most one pass per value.
    for (size_t i = 0; a.pass(); ++i)
      if (i > g.values.size()) throw FixedBatch{"the batch analysis did not settle"};
    a.check_outputs();
    plan.dynamic = true;
  } catch (const FixedBatch& f) {
    plan.reason = f.reason;
    plan.forced.clear();
  }
  return plan;
}

}  // namespace plumb::onnx_io
