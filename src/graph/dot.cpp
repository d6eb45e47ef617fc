// Graphviz DOT: boxes for nodes (op and output shape), ellipses for inputs, parameters and
// constants, edges labelled with the spec that flows; the module path is each node's tooltip.
#include <string>

#include "plumb/graph.h"

namespace plumb::graph {

namespace {

// A double-quoted DOT string: quotes and backslashes escaped, line breaks as DOT's centred "\n".
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) >= 0x20) {
      out += c;
    }
  }
  return out + "\"";
}

std::string shapes_of(const Graph& g, const Node& n) {
  std::string s;
  for (int id : n.outputs) s += (s.empty() ? "" : ", ") + g.value(id).spec.str();
  return s;
}

std::string joined(const std::vector<std::string>& parts, const char* sep) {
  std::string s;
  for (const std::string& p : parts) s += (s.empty() ? "" : sep) + p;
  return s;
}

const char* fill_of(Phase p) {
  switch (p) {
    case Phase::forward: return "white";
    case Phase::backward: return "lightblue";
    case Phase::optimizer: return "lightyellow";
  }
  return "white";
}

}  // namespace

std::string to_dot(const Graph& g) {
  std::string out = "digraph " + quoted(g.name) + " {\n";
  out += "  node [fontname=\"Helvetica\", fontsize=10];\n";
  out += "  edge [fontname=\"Helvetica\", fontsize=8];\n";
  for (const Value& v : g.values) {
    if (v.kind == ValueKind::intermediate) continue;
    const char* style = v.kind == ValueKind::input       ? "bold"
                        : v.kind == ValueKind::parameter ? "solid"
                                                         : "dashed";
    out += "  v" + std::to_string(v.id) + " [shape=ellipse, style=" + style + ", label=" +
           quoted(v.name + "\n" + v.spec.str()) + ", tooltip=" + quoted(std::string(value_kind_name(v.kind))) + "];\n";
  }
  for (const Node& n : g.nodes) {
    const std::string module = joined(n.modules, ".");
    std::string tip = std::string(phase_name(n.phase)) + (module.empty() ? "" : " in " + module);
    if (!n.regions.empty()) tip += " (" + joined(n.regions, "/") + ")";
    out += "  n" + std::to_string(n.id) + " [shape=box, style=filled, fillcolor=" + fill_of(n.phase) + ", label=" +
           quoted((n.op ? n.op->name : std::string("?")) + "\n" + shapes_of(g, n)) + ", tooltip=" + quoted(tip) +
           "];\n";
  }
  // An edge starts at the node producing the value, or at the value's own ellipse.
  auto source = [&](int id) {
    const Value& v = g.value(id);
    std::string s(1, v.kind == ValueKind::intermediate ? 'n' : 'v');
    s += std::to_string(v.kind == ValueKind::intermediate ? v.producer : v.id);
    return s;
  };
  for (const Node& n : g.nodes)
    for (int id : n.inputs)
      out += "  " + source(id) + " -> n" + std::to_string(n.id) + " [label=" + quoted(g.value(id).spec.str()) + "];\n";
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    const Value& v = g.value(g.outputs[k]);
    out += "  out" + std::to_string(k) + " [shape=doubleoctagon, label=" + quoted(v.name) + "];\n";
    out += "  " + source(v.id) + " -> out" + std::to_string(k) + " [label=" + quoted(v.spec.str()) + "];\n";
  }
  out += "}\n";
  return out;
}

}  // namespace plumb::graph
