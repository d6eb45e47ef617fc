// The graph IR's own methods: building values and nodes, lookups, validation, totals.
#include "plumb/graph.h"

#include <string>
#include <unordered_set>

#include "plumb/error.h"

namespace plumb::graph {

std::string_view value_kind_name(ValueKind k) {
  switch (k) {
    case ValueKind::input: return "input";
    case ValueKind::parameter: return "parameter";
    case ValueKind::constant: return "constant";
    case ValueKind::intermediate: return "intermediate";
  }
  return "?";
}

namespace {

std::string node_label(const Node& n) {
  return "node " + std::to_string(n.id) + " (" + (n.op ? n.op->name : std::string("no op")) + ")";
}

// "v<id>", or with a suffix when a bound name already took it.
std::string fresh_name(const Graph& g, int id) {
  std::string base = "v";
  base += std::to_string(id);
  std::string name = base;
  for (int k = 1; g.find_value(name) >= 0; ++k) name = base + "_" + std::to_string(k);
  return name;
}

}  // namespace

int Graph::add_value(ValueKind kind, std::string name, TensorSpec spec, Tensor data) {
  if (kind == ValueKind::intermediate)
    fail("graph: add_value cannot add an intermediate ('", name, "'); add_node creates them");
  if (name.empty()) fail("graph: add_value: a ", value_kind_name(kind), " needs a name");
  if (find_value(name) >= 0) fail("graph: add_value: the name '", name, "' is taken");
  if (data.defined() && data.spec() != spec)
    fail("graph: add_value: '", name, "' has data ", data.spec().str(), " but spec ", spec.str());
  Value v;
  v.id = static_cast<int>(values.size());
  v.name = std::move(name);
  v.spec = std::move(spec);
  v.kind = kind;
  v.data = std::move(data);
  values.push_back(std::move(v));
  return values.back().id;
}

int Graph::add_node(const OpDef& op, std::shared_ptr<const Attrs> attrs, std::vector<int> node_inputs,
                    std::span<const TensorSpec> output_specs, Phase phase) {
  for (size_t i = 0; i < node_inputs.size(); ++i)
    if (node_inputs[i] < 0 || node_inputs[i] >= static_cast<int>(values.size()))
      fail("graph: add_node ", op.name, ": input ", i, " is value ", node_inputs[i], ", which does not exist");
  Node n;
  n.id = static_cast<int>(nodes.size());
  n.op = &op;
  n.attrs = attrs ? std::move(attrs) : std::shared_ptr<const Attrs>(op.make_attrs());
  n.inputs = std::move(node_inputs);
  n.phase = phase;
  for (size_t k = 0; k < output_specs.size(); ++k) {
    Value v;
    v.id = static_cast<int>(values.size());
    v.name = fresh_name(*this, v.id);
    v.spec = output_specs[k];
    v.kind = ValueKind::intermediate;
    v.producer = n.id;
    v.output_index = static_cast<int>(k);
    n.outputs.push_back(v.id);
    values.push_back(std::move(v));
  }
  nodes.push_back(std::move(n));
  return nodes.back().id;
}

const Value& Graph::value(int id) const {
  if (id < 0 || id >= static_cast<int>(values.size()))
    fail("graph '", name, "': no value ", id, " (it has ", values.size(), ")");
  return values[static_cast<size_t>(id)];
}

const Node& Graph::node(int id) const {
  if (id < 0 || id >= static_cast<int>(nodes.size()))
    fail("graph '", name, "': no node ", id, " (it has ", nodes.size(), ")");
  return nodes[static_cast<size_t>(id)];
}

int Graph::find_value(std::string_view n) const {
  for (const Value& v : values)
    if (v.name == n) return v.id;
  return -1;
}

void Graph::validate() const {
  const int nv = static_cast<int>(values.size());
  const int nn = static_cast<int>(nodes.size());
  std::unordered_set<std::string_view> names;
  for (int i = 0; i < nv; ++i) {
    const Value& v = values[static_cast<size_t>(i)];
    if (v.id != i) fail("graph '", name, "': value at index ", i, " has id ", v.id);
    if (v.name.empty()) fail("graph '", name, "': value ", i, " has no name");
    if (!names.insert(v.name).second) fail("graph '", name, "': two values are named '", v.name, "'");
    if (v.kind == ValueKind::intermediate) {
      if (v.producer < 0 || v.producer >= nn)
        fail("graph '", name, "': value '", v.name, "' is an intermediate without a valid producer (", v.producer, ")");
      const Node& p = nodes[static_cast<size_t>(v.producer)];
      if (v.output_index < 0 || v.output_index >= static_cast<int>(p.outputs.size()) ||
          p.outputs[static_cast<size_t>(v.output_index)] != i)
        fail("graph '", name, "': value '", v.name, "' says node ", v.producer, " output ", v.output_index,
             " produces it, but that node does not list it there");
    } else if (v.producer != -1) {
      fail("graph '", name, "': ", value_kind_name(v.kind), " '", v.name, "' has a producer (node ", v.producer, ")");
    }
    if (v.data.defined() && v.data.spec() != v.spec)
      fail("graph '", name, "': value '", v.name, "' holds data ", v.data.spec().str(), " but its spec is ",
           v.spec.str());
  }

  std::vector<char> defined(static_cast<size_t>(nv), 0);
  for (const Value& v : values)
    if (v.kind != ValueKind::intermediate) defined[static_cast<size_t>(v.id)] = 1;
  for (int i = 0; i < nn; ++i) {
    const Node& n = nodes[static_cast<size_t>(i)];
    if (n.id != i) fail("graph '", name, "': node at index ", i, " has id ", n.id);
    if (!n.op) fail("graph '", name, "': node ", i, " has no op");
    if (!n.attrs) fail("graph '", name, "': ", node_label(n), " has no attributes");
    const int ni = static_cast<int>(n.inputs.size());
    if (ni < n.op->min_inputs || (n.op->max_inputs >= 0 && ni > n.op->max_inputs))
      fail("graph '", name, "': ", node_label(n), " has ", ni, " inputs; ", n.op->name, " takes ",
           n.op->min_inputs == n.op->max_inputs ? std::to_string(n.op->min_inputs)
           : n.op->max_inputs < 0 ? "at least " + std::to_string(n.op->min_inputs)
                                  : std::to_string(n.op->min_inputs) + " to " + std::to_string(n.op->max_inputs));
    std::vector<TensorSpec> in_specs;
    for (int k = 0; k < ni; ++k) {
      const int id = n.inputs[static_cast<size_t>(k)];
      if (id < 0 || id >= nv)
        fail("graph '", name, "': ", node_label(n), " input ", k, " is value ", id, ", which does not exist");
      if (!defined[static_cast<size_t>(id)])
        fail("graph '", name, "': ", node_label(n), " input ", k, " reads '", values[static_cast<size_t>(id)].name,
             "' before node ", values[static_cast<size_t>(id)].producer,
             " produces it (a cycle or a misordered node list)");
      in_specs.push_back(values[static_cast<size_t>(id)].spec);
    }
    std::vector<TensorSpec> out_specs;
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      const int id = n.outputs[k];
      if (id < 0 || id >= nv)
        fail("graph '", name, "': ", node_label(n), " output ", k, " is value ", id, ", which does not exist");
      const Value& v = values[static_cast<size_t>(id)];
      if (v.kind != ValueKind::intermediate || v.producer != i || v.output_index != static_cast<int>(k))
        fail("graph '", name, "': ", node_label(n), " output ", k, " is '", v.name,
             "', which is not recorded as its output");
      defined[static_cast<size_t>(id)] = 1;
      out_specs.push_back(v.spec);
    }
    std::vector<TensorSpec> inferred;
    try {
      inferred = n.op->infer(in_specs, *n.attrs);
    } catch (const Error& e) {
      fail("graph '", name, "': ", node_label(n), ": ", e.what());
    }
    if (inferred.size() != out_specs.size())
      fail("graph '", name, "': ", node_label(n), " has ", out_specs.size(), " outputs; ", n.op->name, " gives ",
           inferred.size());
    for (size_t k = 0; k < inferred.size(); ++k)
      if (inferred[k] != out_specs[k])
        fail("graph '", name, "': ", node_label(n), " output ", k, " ('",
             values[static_cast<size_t>(n.outputs[k])].name, "') is ", out_specs[k].str(), " but ", n.op->name,
             " infers ", inferred[k].str());
    if (n.forward_node < -1 || n.forward_node >= nn)
      fail("graph '", name, "': ", node_label(n), " links to forward node ", n.forward_node, ", which does not exist");
  }

  std::unordered_set<int> seen_inputs;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const int id = inputs[k];
    if (id < 0 || id >= nv) fail("graph '", name, "': graph input ", k, " is value ", id, ", which does not exist");
    if (values[static_cast<size_t>(id)].kind != ValueKind::input)
      fail("graph '", name, "': graph input ", k, " is '", values[static_cast<size_t>(id)].name, "', a ",
           value_kind_name(values[static_cast<size_t>(id)].kind));
    if (!seen_inputs.insert(id).second)
      fail("graph '", name, "': '", values[static_cast<size_t>(id)].name, "' is listed twice as a graph input");
  }
  for (const Value& v : values)
    if (v.kind == ValueKind::input && !seen_inputs.count(v.id))
      fail("graph '", name, "': input '", v.name, "' is not in the graph's input list");
  for (size_t k = 0; k < outputs.size(); ++k)
    if (outputs[k] < 0 || outputs[k] >= nv)
      fail("graph '", name, "': graph output ", k, " is value ", outputs[k], ", which does not exist");
}

Cost Graph::total_cost() const {
  Cost c;
  for (const Node& n : nodes) c += n.cost;
  return c;
}

int64_t Graph::parameter_count() const {
  int64_t count = 0;
  for (const Value& v : values)
    if (v.kind == ValueKind::parameter) count += numel(v.spec.shape);
  return count;
}

}  // namespace plumb::graph
