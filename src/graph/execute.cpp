// The executor: replays a graph's nodes through the dispatcher inside their phase, module path and
// regions, so a replayed or imported graph is profiled like a native run.
#include <memory>
#include <string>

#include "plumb/error.h"
#include "plumb/graph.h"

namespace plumb::graph {

namespace {

// Keeps a stack of scopes equal to a path, opening and closing only the suffix that changes between
// consecutive nodes, so observers see each module or region begin and end once per run of nodes.
template <class Scope>
class ScopeStack {
 public:
  ~ScopeStack() { truncate(0); }

  void move_to(const std::vector<std::string>& path) {
    size_t common = 0;
    while (common < names_.size() && common < path.size() && names_[common] == path[common]) ++common;
    truncate(common);
    for (size_t i = common; i < path.size(); ++i) {
      scopes_.push_back(std::make_unique<Scope>(path[i]));
      names_.push_back(path[i]);
    }
  }

 private:
  void truncate(size_t n) {
    while (scopes_.size() > n) {
      scopes_.pop_back();
      names_.pop_back();
    }
  }
  std::vector<std::unique_ptr<Scope>> scopes_;
  std::vector<std::string> names_;
};

}  // namespace

std::vector<Tensor> execute(const Graph& g, std::span<const Tensor> inputs) {
  if (inputs.size() != g.inputs.size())
    fail("execute '", g.name, "': the graph takes ", g.inputs.size(), " inputs, got ", inputs.size());
  const size_t nv = g.values.size();
  std::vector<Tensor> env(nv);
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Value& v = g.value(g.inputs[k]);
    if (!inputs[k].defined()) fail("execute '", g.name, "': input '", v.name, "' is undefined");
    if (inputs[k].spec() != v.spec)
      fail("execute '", g.name, "': input '", v.name, "' is ", inputs[k].spec().str(), ", the graph expects ",
           v.spec.str());
    env[static_cast<size_t>(v.id)] = inputs[k];
  }

  // Remaining reads per value; graph outputs are pinned.
  std::vector<int> uses(nv, 0);
  std::vector<char> pinned(nv, 0);
  for (const Node& n : g.nodes)
    for (int id : n.inputs) ++uses[static_cast<size_t>(g.value(id).id)];
  for (int id : g.outputs) pinned[static_cast<size_t>(g.value(id).id)] = 1;

  auto read = [&](int id) -> const Tensor& {
    const Value& v = g.value(id);
    Tensor& t = env[static_cast<size_t>(id)];
    if (t.defined()) return t;
    if (v.kind == ValueKind::parameter || v.kind == ValueKind::constant) {
      if (!v.data.defined())
        fail("execute '", g.name, "': ", value_kind_name(v.kind), " '", v.name,
             "' has no data (captured on meta or read from JSON)");
      t = v.data;
      return t;
    }
    fail("execute '", g.name, "': value '", v.name, "' is read before it is produced");
  };

  ScopeStack<ModuleScope> modules;
  ScopeStack<RegionScope> regions;
  std::vector<Tensor> args;
  for (const Node& n : g.nodes) {
    if (!n.op || !n.attrs) fail("execute '", g.name, "': node ", n.id, " has no op or attributes");
    modules.move_to(n.modules);
    regions.move_to(n.regions);
    args.clear();
    for (int id : n.inputs) args.push_back(read(id));
    std::vector<Tensor> outs;
    {
      PhaseScope phase(n.phase);
      outs = dispatch(*n.op, args, *n.attrs);
    }
    if (outs.size() != n.outputs.size())
      fail("execute '", g.name, "': node ", n.id, " (", n.op->name, ") gave ", outs.size(), " outputs, the graph has ",
           n.outputs.size());
    for (size_t k = 0; k < outs.size(); ++k) {
      const Value& v = g.value(n.outputs[k]);
      if (outs[k].spec() != v.spec)
        fail("execute '", g.name, "': node ", n.id, " (", n.op->name, ") output ", k, " is ", outs[k].spec().str(),
             ", the graph says '", v.name, "' is ", v.spec.str());
      // An output nothing reads (a dead end the captured run also computed) is dropped at once.
      if (uses[static_cast<size_t>(v.id)] > 0 || pinned[static_cast<size_t>(v.id)])
        env[static_cast<size_t>(v.id)] = std::move(outs[k]);
    }
    args.clear();
    for (int id : n.inputs) {
      const size_t i = static_cast<size_t>(id);
      if (--uses[i] == 0 && !pinned[i]) env[i] = Tensor();
    }
  }

  std::vector<Tensor> results;
  results.reserve(g.outputs.size());
  for (int id : g.outputs) results.push_back(read(id));
  return results;
}

}  // namespace plumb::graph
