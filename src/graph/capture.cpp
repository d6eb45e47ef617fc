// Graph capture: a dispatch observer that turns the calling thread's op events into nodes, folds
// composites back into one node each, and names the tensors the run read from outside.
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "plumb/autograd.h"
#include "plumb/error.h"
#include "plumb/graph.h"
#include "plumb/nn/module.h"
#include "plumb/workload.h"

namespace plumb::graph {

namespace {

// What a tensor reads: two handles with the same key hold the same bytes (updates are out of place),
// which is how the tape's detached copies of forward tensors are matched to the values they copy.
struct Key {
  const Storage* storage = nullptr;
  int64_t offset = 0;
  Shape shape, strides;
  DType dtype = DType::f32;
  bool operator==(const Key&) const = default;
};

struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = std::hash<const void*>{}(k.storage) ^ (static_cast<size_t>(k.offset) * 0x9e3779b97f4a7c15ULL);
    for (int64_t d : k.shape) h = h * 1000003 + static_cast<size_t>(d);
    for (int64_t d : k.strides) h = h * 31 + static_cast<size_t>(d);
    return h * 7 + static_cast<size_t>(k.dtype);
  }
};

Key key_of(const Tensor& t) {
  const TensorImpl& i = t.impl();
  return {i.storage.get(), i.offset, i.shape, i.strides, i.dtype};
}

struct Seen {
  int id = -1;
  std::weak_ptr<const void> owner;  // the handle (by address) or the storage (by key)
};

// The live entry for `k`, or nullptr; a dead one is dropped.
template <class Map>
Seen* live(Map& m, const typename Map::key_type& k) {
  auto it = m.find(k);
  if (it == m.end()) return nullptr;
  if (it->second.owner.expired()) {
    m.erase(it);
    return nullptr;
  }
  return &it->second;
}

struct Bound {
  std::string name;
  ValueKind kind = ValueKind::input;
  std::shared_ptr<TensorImpl> impl;
  Key key;
  TensorSpec spec;
  std::shared_ptr<Storage> storage;  // as bound: keeps `key` meaning this tensor
  Tensor snapshot;  // parameters off meta: the tensor as bound (an optimizer rebinds the handle later)
  int value = -1;
};

std::string joined(std::span<const std::string> parts, char sep) {
  std::string s;
  for (const std::string& p : parts) s += (s.empty() ? "" : std::string(1, sep)) + p;
  return s;
}

}  // namespace

struct Capture::State {
  std::thread::id thread = std::this_thread::get_id();
  CaptureOptions options;
  std::unique_ptr<DecomposeScope> decompose;
  bool attached = false;
  bool finished = false;
  std::string error;  // the first problem met while observing; finish() throws it

  Graph g;
  std::vector<char> dead;                                  // per value: removed by folding
  std::vector<std::vector<const TensorImpl*>> impls_of;  // per value: the handles registered to it
  std::vector<std::vector<Key>> keys_of;
  // Handles and storage seen, by address. An entry holds a weak reference to what it names, which
  // keeps the object's block (tensors are made with make_shared), so no address is reused while
  // capturing, but not its data: keeping every tensor alive would hold a step's activations.
  std::unordered_map<const TensorImpl*, Seen> by_impl;
  std::unordered_map<Key, Seen, KeyHash> by_key;
  // Tensors computed inside folded composites: reading one later means the fold lost a value.
  std::unordered_map<const TensorImpl*, Seen> folded_impls;
  std::unordered_map<Key, Seen, KeyHash> folded_keys;
  std::vector<uint64_t> node_seq;                  // per node
  std::unordered_map<uint64_t, int> node_of_seq;

  std::vector<Bound> bound;
  std::unordered_map<const TensorImpl*, size_t> bound_by_impl;
  std::unordered_map<Key, size_t, KeyHash> bound_by_key;
  std::unordered_map<std::string, size_t> bound_names;

  std::vector<std::pair<int, std::string>> marked;  // outputs: value id and name
  std::vector<int> marks;                           // open regions: node count at their begin
  int last_closed = -1;                             // mark of the region that ended last

  bool mine() const { return std::this_thread::get_id() == thread; }

  void register_tensor(const Tensor& t, int id) {
    TensorImpl* impl = t.impl_ptr().get();
    by_impl[impl] = Seen{id, t.impl_ptr()};
    impls_of[static_cast<size_t>(id)].push_back(impl);
    folded_impls.erase(impl);  // a composite's output, produced by the primitives it replaced
    if (t.storage()) {
      Key k = key_of(t);
      folded_keys.erase(k);
      by_key[k] = Seen{id, t.storage()};
      keys_of[static_cast<size_t>(id)].push_back(std::move(k));
    }
  }

  int new_value(ValueKind kind, std::string name, const TensorSpec& spec, Tensor data) {
    Value v;
    v.id = static_cast<int>(g.values.size());
    v.name = std::move(name);
    v.spec = spec;
    v.kind = kind;
    v.data = std::move(data);
    g.values.push_back(std::move(v));
    dead.push_back(0);
    impls_of.emplace_back();
    keys_of.emplace_back();
    return g.values.back().id;
  }

  const Bound* bound_of(const Tensor& t) const {
    if (auto it = bound_by_impl.find(t.impl_ptr().get()); it != bound_by_impl.end()) return &bound[it->second];
    if (!t.storage()) return nullptr;
    if (auto it = bound_by_key.find(key_of(t)); it != bound_by_key.end()) return &bound[it->second];
    return nullptr;
  }

  // The value a tensor stands for; a tensor seen for the first time becomes its bound value or a constant.
  int value_of(const Tensor& t) {
    if (const Seen* e = live(by_impl, t.impl_ptr().get())) return checked(e->id);
    if (t.storage()) {
      if (const Seen* e = live(by_key, key_of(t))) {
        const int id = checked(e->id);
        register_tensor(t, id);
        return id;
      }
    }
    if (live(folded_impls, t.impl_ptr().get()) || (t.storage() && live(folded_keys, key_of(t))))
      fail("an op reads a tensor computed inside a composite that was folded into one node; capture with "
           "keep_composite returning false for that composite");
    int id;
    if (const Bound* b = bound_of(t)) {
      size_t index = static_cast<size_t>(b - bound.data());
      if (bound[index].value < 0)
        bound[index].value = new_value(b->kind, b->name, b->spec, b->snapshot);
      id = bound[index].value;
    } else {
      // Named at finish(), once folding has settled which constants remain.
      id = new_value(ValueKind::constant, "", t.spec(), t.is_meta() ? Tensor() : t.detach());
    }
    register_tensor(t, id);
    return id;
  }

  int checked(int id) {
    if (dead[static_cast<size_t>(id)]) fail("an op reads a value removed by folding (value ", id, ")");
    return id;
  }

  int add_node(const OpEvent& e, std::vector<int> inputs) {
    Node n;
    n.id = static_cast<int>(g.nodes.size());
    n.op = e.op;
    n.attrs = std::shared_ptr<const Attrs>(e.attrs->clone());
    n.inputs = std::move(inputs);
    n.phase = e.phase;
    if (e.forward_seq != 0)
      if (auto it = node_of_seq.find(e.forward_seq); it != node_of_seq.end()) n.forward_node = it->second;
    n.modules.assign(e.modules.begin(), e.modules.end());
    n.regions.assign(e.regions.begin(), e.regions.end());
    n.cost = e.cost;
    for (size_t k = 0; k < e.outputs.size(); ++k) {
      const int id = new_value(ValueKind::intermediate, "", e.outputs[k].spec(), {});
      g.values[static_cast<size_t>(id)].producer = n.id;
      g.values[static_cast<size_t>(id)].output_index = static_cast<int>(k);
      n.outputs.push_back(id);
    }
    g.nodes.push_back(std::move(n));
    node_seq.push_back(e.seq);
    node_of_seq[e.seq] = g.nodes.back().id;
    const Node& added = g.nodes.back();
    for (size_t k = 0; k < e.outputs.size(); ++k) register_tensor(e.outputs[k], added.outputs[k]);
    return added.id;
  }

  // Removes the nodes recorded since `mark` and the values they produced.
  void remove_since(int mark) {
    while (static_cast<int>(g.nodes.size()) > mark) {
      const Node& n = g.nodes.back();
      for (int id : n.outputs) {
        dead[static_cast<size_t>(id)] = 1;
        for (const TensorImpl* impl : impls_of[static_cast<size_t>(id)])
          if (auto it = by_impl.find(impl); it != by_impl.end() && it->second.id == id) {
            folded_impls[impl] = it->second;
            by_impl.erase(it);
          }
        for (const Key& k : keys_of[static_cast<size_t>(id)])
          if (auto it = by_key.find(k); it != by_key.end() && it->second.id == id) {
            folded_keys[k] = it->second;
            by_key.erase(it);
          }
      }
      if (auto it = node_of_seq.find(node_seq.back()); it != node_of_seq.end() && it->second == n.id)
        node_of_seq.erase(it);
      g.nodes.pop_back();
      node_seq.pop_back();
    }
  }

  void record(const OpEvent& e) {
    std::vector<int> inputs;
    inputs.reserve(e.inputs.size());
    for (const Tensor& t : e.inputs) inputs.push_back(value_of(t));
    add_node(e, std::move(inputs));
  }

  void fold(const OpEvent& e) {
    const int mark = last_closed;
    last_closed = -1;
    if (mark < 0 || mark > static_cast<int>(g.nodes.size())) return;
    if (options.keep_composite && !options.keep_composite(*e.op)) return;
    // Autograd recorded the decomposition's primitives: backward reads their intermediates.
    for (const Tensor& t : e.outputs)
      if (t.defined() && t.requires_grad()) return;
    remove_since(mark);
    record(e);
  }

  // Runs `f`, keeping the first error for finish(): an observer must not throw through the dispatcher.
  template <class F>
  void guarded(const OpEvent& e, F&& f) {
    if (!error.empty()) return;
    try {
      f();
    } catch (const std::exception& ex) {
      error = std::string("capture: ") + e.op->name + " (modules '" + joined(e.modules, '.') + "'): " + ex.what();
    }
  }

  void bind(const Tensor& t, std::string name, ValueKind kind, bool skip_tied) {
    if (finished) fail("capture: bind '", name, "' after finish()");
    if (!t.defined()) fail("capture: cannot bind '", name, "': the tensor is undefined");
    if (name.empty()) fail("capture: cannot bind a ", value_kind_name(kind), " without a name");
    if (const Bound* b = bound_of(t)) {
      if (b->name == name && b->kind == kind) return;
      if (skip_tied) return;
      fail("capture: the tensor bound as '", b->name, "' cannot also be bound as '", name, "'");
    }
    if (bound_names.count(name)) fail("capture: the name '", name, "' is already bound to another tensor");
    if (live(by_impl, t.impl_ptr().get()) || (t.storage() && live(by_key, key_of(t))))
      fail("capture: cannot bind '", name, "': an op already read that tensor; bind before running");
    Bound b;
    b.name = std::move(name);
    b.kind = kind;
    b.impl = t.impl_ptr();
    b.key = key_of(t);
    b.storage = t.storage();
    b.spec = t.spec();
    if (kind == ValueKind::parameter && !t.is_meta()) b.snapshot = t.detach();
    bound_names[b.name] = bound.size();
    bound_by_impl[b.impl.get()] = bound.size();
    if (t.storage()) bound_by_key[b.key] = bound.size();
    bound.push_back(std::move(b));
  }

  void mark(const Tensor& t, std::string name) {
    if (finished) fail("capture: mark_output '", name, "' after finish()");
    if (!t.defined()) fail("capture: output '", name, "' is an undefined tensor");
    if (name.empty()) fail("capture: an output needs a name");
    for (const auto& [id, n] : marked)
      if (n == name) fail("capture: two outputs are named '", name, "'");
    if (auto it = bound_names.find(name); it != bound_names.end() && bound[it->second].impl != t.impl_ptr())
      fail("capture: output '", name, "' has the name of a bound ", value_kind_name(bound[it->second].kind));
    marked.emplace_back(value_of(t), std::move(name));
  }

  bool is_marked(int id) const {
    for (const auto& [v, n] : marked)
      if (v == id) return true;
    return false;
  }

  void mark_step_outputs() {
    std::unordered_map<int, const Bound*> param_of_value;
    for (const Bound& b : bound)
      if (b.value >= 0 && b.kind == ValueKind::parameter) param_of_value[b.value] = &b;
    for (const Node& n : g.nodes) {
      if (n.phase != Phase::optimizer || n.op->op_class != OpClass::optimizer) continue;
      const auto p = n.inputs.empty() ? param_of_value.end() : param_of_value.find(n.inputs[0]);
      for (size_t k = 0; k < n.outputs.size(); ++k) {
        if (is_marked(n.outputs[k])) continue;
        std::string name;
        if (p != param_of_value.end())
          name = p->second->name + (k == 0 ? std::string(".next") : ".slot" + std::to_string(k - 1));
        else
          name = "update" + std::to_string(n.id) + "." + std::to_string(k);
        marked.emplace_back(n.outputs[k], std::move(name));
      }
    }
    // Bound tensors the step rebound in place (batch-norm running statistics) point at their new value.
    for (const Bound& b : bound) {
      if (!b.impl->storage) continue;
      Key now{b.impl->storage.get(), b.impl->offset, b.impl->shape, b.impl->strides, b.impl->dtype};
      if (now == b.key) continue;
      const Seen* e = live(by_key, now);
      if (!e || dead[static_cast<size_t>(e->id)] || is_marked(e->id)) continue;
      marked.emplace_back(e->id, b.name + ".next");
    }
  }

  Graph finish(std::string name) {
    if (finished) fail("capture: finish() was called twice");
    finished = true;
    detach();
    if (!error.empty()) fail(error);
    for (Bound& b : bound)
      if (b.kind == ValueKind::input && b.value < 0) b.value = new_value(ValueKind::input, b.name, b.spec, {});

    // Which values remain: no folded intermediates, no constants only folded nodes read.
    const size_t nv = g.values.size();
    std::vector<char> used(nv, 0);
    for (const Node& n : g.nodes)
      for (int id : n.inputs) used[static_cast<size_t>(id)] = 1;
    for (const auto& [id, n] : marked) {
      if (dead[static_cast<size_t>(id)]) fail("capture: output '", n, "' was folded into a composite");
      used[static_cast<size_t>(id)] = 1;
    }
    std::vector<int> new_id(nv, -1);
    Graph out;
    out.name = std::move(name);
    for (size_t i = 0; i < nv; ++i) {
      Value& v = g.values[i];
      if (dead[i]) continue;
      if (v.kind == ValueKind::constant && !used[i]) continue;
      new_id[i] = static_cast<int>(out.values.size());
      v.id = new_id[i];
      out.values.push_back(std::move(v));
    }
    for (Node& n : g.nodes) {
      for (int& id : n.inputs) id = new_id[static_cast<size_t>(id)];
      for (int& id : n.outputs) id = new_id[static_cast<size_t>(id)];
      out.nodes.push_back(std::move(n));
    }
    for (Value& v : out.values)
      if (v.kind == ValueKind::intermediate) v.name.clear();
    // Output names first, then constants and intermediates, skipping names already taken.
    std::unordered_set<std::string> taken;
    for (const Value& v : out.values)
      if (!v.name.empty()) taken.insert(v.name);
    for (const auto& [id, n] : marked) {
      Value& v = out.values[static_cast<size_t>(new_id[static_cast<size_t>(id)])];
      out.outputs.push_back(v.id);
      // Bound values keep their names; a value marked twice keeps the first output name.
      if (v.kind == ValueKind::input || v.kind == ValueKind::parameter) continue;
      if (v.name.empty()) {
        if (taken.count(n)) fail("capture: output name '", n, "' is taken by another value");
        v.name = n;
        taken.insert(n);
      }
    }
    int next_const = 0;
    for (Value& v : out.values) {
      if (!v.name.empty()) continue;
      const bool c = v.kind == ValueKind::constant;
      std::string base = c ? "const" : "v";
      base += std::to_string(c ? next_const++ : v.id);
      std::string n = base;
      for (int k = 1; taken.count(n); ++k) n = base + "_" + std::to_string(k);
      v.name = n;
      taken.insert(n);
    }
    for (const Bound& b : bound)
      if (b.kind == ValueKind::input) out.inputs.push_back(new_id[static_cast<size_t>(b.value)]);
    g = Graph{};
    out.validate();
    return out;
  }

  void detach();
  DispatchObserver* self = nullptr;
};

void Capture::State::detach() {
  if (attached) {
    remove_observer(self);
    attached = false;
  }
  // The scope restores the creating thread's flag; on another thread it must not run.
  if (mine())
    decompose.reset();
  else
    (void)decompose.release();
}

Capture::Capture(CaptureOptions options) : s_(std::make_unique<State>()) {
  s_->options = std::move(options);
  // A fused kernel hides a composite's primitives: with a predicate, every composite decomposes so
  // the predicate decides what stays whole.
  if (s_->options.keep_composite) s_->decompose = std::make_unique<DecomposeScope>(true);
  s_->self = this;
  add_observer(this);
  s_->attached = true;
}

Capture::~Capture() { s_->detach(); }

void Capture::bind_input(const Tensor& t, std::string name) { s_->bind(t, std::move(name), ValueKind::input, false); }
void Capture::bind_parameter(const Tensor& t, std::string name) {
  s_->bind(t, std::move(name), ValueKind::parameter, false);
}
void Capture::bind_parameters(const std::vector<std::pair<std::string, Tensor>>& named) {
  for (const auto& [name, t] : named) s_->bind(t, name, ValueKind::parameter, true);
}
void Capture::mark_output(const Tensor& t, std::string name) { s_->mark(t, std::move(name)); }
void Capture::mark_step_outputs() { s_->mark_step_outputs(); }
Graph Capture::finish(std::string name) { return s_->finish(std::move(name)); }

void Capture::on_op(const OpEvent& e) {
  if (e.nested || !s_->attached || !s_->mine()) return;
  s_->guarded(e, [&] { s_->record(e); });
}

void Capture::on_composite(const OpEvent& e) {
  if (e.nested || !s_->attached || !s_->mine()) return;
  s_->guarded(e, [&] { s_->fold(e); });
}

void Capture::on_region_begin(std::string_view, int64_t) {
  if (!s_->attached || !s_->mine()) return;
  s_->marks.push_back(static_cast<int>(s_->g.nodes.size()));
}

void Capture::on_region_end(std::string_view, int64_t) {
  if (!s_->attached || !s_->mine()) return;
  if (s_->marks.empty()) {
    s_->last_closed = -1;
    return;
  }
  s_->last_closed = s_->marks.back();
  s_->marks.pop_back();
}

Graph capture_forward(nn::Module& module, const Tensor& x, const CaptureOptions& options) {
  NoGradScope no_grad;
  Capture c(options);
  c.bind_input(x, "input");
  c.bind_parameters(module.named_parameters());
  c.bind_parameters(module.named_buffers());
  const Tensor y = module(x);
  c.mark_output(y, "output");
  return c.finish("forward");
}

Graph capture_step(models::Workload& workload, const CaptureOptions& options) {
  if (workload.mode() != models::Mode::train)
    fail("capture_step: ", workload.name(), " runs in ", models::mode_name(workload.mode()),
         " mode, which has no update to capture; capture_forward captures inference");
  Capture c(options);
  c.bind_parameters(workload.model().named_parameters());
  c.bind_parameters(workload.model().named_buffers());
  workload.step();
  c.mark_step_outputs();
  return c.finish(workload.name() + " step");
}

}  // namespace plumb::graph
