// Graph <-> JSON ("format": "plumb-graph", version 1; docs/graph.md). Writing is deterministic and
// reading checks every field, so to_json(graph_from_json(to_json(g))) == to_json(g) byte for byte.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "plumb/dispatch.h"
#include "plumb/error.h"
#include "plumb/graph.h"

namespace plumb::graph {

namespace {

using Json = nlohmann::ordered_json;

constexpr int kVersion = 1;

// Doubles: whole numbers as integers (readable counts), non-finite values as strings.
Json number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == std::floor(v) && std::fabs(v) < 9.0e15) return static_cast<int64_t>(v);
  return v;
}

// Attribute doubles keep their type in the text (1.0, not 1), so a reader sees a real number.
Json attr_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

Json attr_json(const AttrValue& value) {
  return std::visit(
      [](const auto& v) -> Json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, double>) {
          return attr_double(v);
        } else if constexpr (std::is_same_v<T, std::vector<double>>) {
          Json a = Json::array();
          for (double d : v) a.push_back(attr_double(d));
          return a;
        } else if constexpr (std::is_same_v<T, DType>) {
          return std::string(dtype_name(v));
        } else if constexpr (std::is_same_v<T, Device>) {
          return v.str();
        } else {
          return v;
        }
      },
      value);
}

// One line; names with invalid UTF-8 are written with replacement characters rather than throwing.
std::string compact(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json spec_fields(Json& j, const TensorSpec& s) {
  j["dtype"] = std::string(dtype_name(s.dtype));
  j["shape"] = s.shape;
  j["device"] = s.device.str();
  return j;
}

// ---- reading ----

// Every error names the path of the field: "nodes[3].attrs.stride".
class Reader {
 public:
  [[noreturn]] static void bad(const std::string& path, const std::string& what) {
    fail("plumb-graph JSON: ", path, ": ", what);
  }

  static const Json& field(const Json& obj, const std::string& path, const char* name) {
    auto it = obj.find(name);
    if (it == obj.end()) bad(path, std::string("missing field \"") + name + "\"");
    return *it;
  }

  static void only(const Json& obj, const std::string& path, std::initializer_list<const char*> allowed) {
    if (!obj.is_object()) bad(path, "expected an object");
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      bool ok = false;
      for (const char* a : allowed) ok = ok || it.key() == a;
      if (!ok) bad(path, "unknown field \"" + it.key() + "\"");
    }
  }

  static int64_t integer(const Json& j, const std::string& path) {
    if (!j.is_number_integer()) bad(path, "expected an integer");
    if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      bad(path, "integer out of range");
    return j.get<int64_t>();
  }

  static double real(const Json& j, const std::string& path) {
    if (j.is_number()) return j.get<double>();
    if (j.is_string()) {
      const std::string s = j.get<std::string>();
      if (s == "inf") return std::numeric_limits<double>::infinity();
      if (s == "-inf") return -std::numeric_limits<double>::infinity();
      if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    }
    bad(path, "expected a number (or \"inf\", \"-inf\", \"nan\")");
  }

  static std::string text(const Json& j, const std::string& path) {
    if (!j.is_string()) bad(path, "expected a string");
    return j.get<std::string>();
  }

  static std::vector<int64_t> integers(const Json& j, const std::string& path) {
    if (!j.is_array()) bad(path, "expected a list of integers");
    std::vector<int64_t> out;
    for (const Json& e : j) {
      if (!e.is_number_integer()) bad(path, "expected a list of integers");
      out.push_back(integer(e, path));
    }
    return out;
  }

  static std::vector<std::string> strings(const Json& j, const std::string& path) {
    if (!j.is_array()) bad(path, "expected a list of strings");
    std::vector<std::string> out;
    for (const Json& e : j) {
      if (!e.is_string()) bad(path, "expected a list of strings");
      out.push_back(e.get<std::string>());
    }
    return out;
  }

  // A value of the same alternative as `like`, the attribute's current (default) value.
  static AttrValue attr(const Json& j, const AttrValue& like, const std::string& path) {
    return std::visit(
        [&](const auto& v) -> AttrValue {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, bool>) {
            if (!j.is_boolean()) bad(path, "expected true or false");
            return j.get<bool>();
          } else if constexpr (std::is_same_v<T, int64_t>) {
            return integer(j, path);
          } else if constexpr (std::is_same_v<T, double>) {
            return real(j, path);
          } else if constexpr (std::is_same_v<T, std::string>) {
            return text(j, path);
          } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
            return integers(j, path);
          } else if constexpr (std::is_same_v<T, std::vector<double>>) {
            if (!j.is_array()) bad(path, "expected a list of numbers");
            std::vector<double> out;
            for (const Json& e : j) out.push_back(real(e, path));
            return out;
          } else if constexpr (std::is_same_v<T, DType>) {
            return dtype_of(j, path);
          } else {
            return device_of(j, path);
          }
        },
        like);
  }

  static DType dtype_of(const Json& j, const std::string& path) {
    const std::string s = text(j, path);
    try {
      return dtype_from_name(s);
    } catch (const Error&) {
      bad(path, "unknown dtype \"" + s + "\"");
    }
  }

  static Device device_of(const Json& j, const std::string& path) {
    const std::string s = text(j, path);
    try {
      return Device::parse(s);
    } catch (const Error&) {
      bad(path, "unknown device \"" + s + "\"");
    }
  }

  static ValueKind kind_of(const Json& j, const std::string& path) {
    const std::string s = text(j, path);
    for (ValueKind k : {ValueKind::input, ValueKind::parameter, ValueKind::constant, ValueKind::intermediate})
      if (value_kind_name(k) == s) return k;
    bad(path, "unknown kind \"" + s + "\" (input, parameter, constant, intermediate)");
  }

  static Phase phase_of(const Json& j, const std::string& path) {
    const std::string s = text(j, path);
    for (Phase p : {Phase::forward, Phase::backward, Phase::optimizer})
      if (phase_name(p) == s) return p;
    bad(path, "unknown phase \"" + s + "\" (forward, backward, optimizer)");
  }

  static int id_in(const Json& j, const std::string& path, size_t count, const char* what) {
    const int64_t id = integer(j, path);
    if (id < 0 || id >= static_cast<int64_t>(count))
      bad(path, std::string("no ") + what + " " + std::to_string(id) + " (there are " + std::to_string(count) + ")");
    return static_cast<int>(id);
  }
};

}  // namespace

std::string to_json(const Graph& g) {
  // One value or node per line: readable, and a diff shows which node changed.
  std::string out = "{\n";
  out += " \"format\": \"plumb-graph\",\n";
  out += " \"version\": " + std::to_string(kVersion) + ",\n";
  out += " \"name\": " + compact(Json(g.name)) + ",\n";
  out += " \"values\": [";
  for (size_t i = 0; i < g.values.size(); ++i) {
    const Value& v = g.values[i];
    Json e;
    e["id"] = v.id;
    e["name"] = v.name;
    e["kind"] = std::string(value_kind_name(v.kind));
    spec_fields(e, v.spec);
    out += (i ? ",\n  " : "\n  ") + compact(e);
  }
  out += g.values.empty() ? "],\n" : "\n ],\n";
  out += " \"nodes\": [";
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    Json e;
    e["id"] = n.id;
    e["op"] = n.op ? n.op->name : std::string();
    Json attrs = Json::object();
    if (n.attrs)
      for (const auto& [name, value] : n.attrs->list()) attrs[name] = attr_json(value);
    e["attrs"] = std::move(attrs);
    e["inputs"] = n.inputs;
    e["outputs"] = n.outputs;
    e["phase"] = std::string(phase_name(n.phase));
    e["forward_node"] = n.forward_node;
    e["modules"] = n.modules;
    e["regions"] = n.regions;
    Json cost;
    cost["flops"] = number(n.cost.flops);
    cost["bytes_read"] = number(n.cost.bytes_read);
    cost["bytes_written"] = number(n.cost.bytes_written);
    e["cost"] = std::move(cost);
    out += (i ? ",\n  " : "\n  ") + compact(e);
  }
  out += g.nodes.empty() ? "],\n" : "\n ],\n";
  out += " \"inputs\": " + compact(Json(g.inputs)) + ",\n";
  out += " \"outputs\": " + compact(Json(g.outputs)) + "\n";
  out += "}\n";
  return out;
}

Graph graph_from_json(std::string_view text) {
  using R = Reader;
  Json j;
  try {
    j = Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    fail("plumb-graph JSON: not valid JSON: ", e.what());
  }
  R::only(j, "(top)", {"format", "version", "name", "values", "nodes", "inputs", "outputs"});
  const Json& format = R::field(j, "(top)", "format");
  if (!format.is_string() || format.get<std::string>() != "plumb-graph")
    R::bad("format", "expected \"plumb-graph\", got " + format.dump());
  const Json& version = R::field(j, "(top)", "version");
  if (!version.is_number_integer() || version.get<int64_t>() != kVersion)
    R::bad("version", "this reader knows version " + std::to_string(kVersion) + ", got " + version.dump());

  Graph g;
  g.name = j.contains("name") ? R::text(j["name"], "name") : "graph";
  const Json& values = R::field(j, "(top)", "values");
  if (!values.is_array()) R::bad("values", "expected a list");
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string path = "values[" + std::to_string(i) + "]";
    const Json& e = values[i];
    R::only(e, path, {"id", "name", "kind", "dtype", "shape", "device"});
    if (R::integer(R::field(e, path, "id"), path + ".id") != static_cast<int64_t>(i))
      R::bad(path + ".id", "expected " + std::to_string(i) + " (ids are positions)");
    Value v;
    v.id = static_cast<int>(i);
    v.name = R::text(R::field(e, path, "name"), path + ".name");
    v.kind = R::kind_of(R::field(e, path, "kind"), path + ".kind");
    v.spec.dtype = R::dtype_of(R::field(e, path, "dtype"), path + ".dtype");
    v.spec.shape = R::integers(R::field(e, path, "shape"), path + ".shape");
    for (int64_t d : v.spec.shape)
      if (d < 0) R::bad(path + ".shape", "negative dimension");
    v.spec.device = e.contains("device") ? R::device_of(e["device"], path + ".device") : kCPU;
    g.values.push_back(std::move(v));
  }

  const Json& nodes = R::field(j, "(top)", "nodes");
  if (!nodes.is_array()) R::bad("nodes", "expected a list");
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string path = "nodes[" + std::to_string(i) + "]";
    const Json& e = nodes[i];
    R::only(e, path,
            {"id", "op", "attrs", "inputs", "outputs", "phase", "forward_node", "modules", "regions", "cost"});
    if (R::integer(R::field(e, path, "id"), path + ".id") != static_cast<int64_t>(i))
      R::bad(path + ".id", "expected " + std::to_string(i) + " (ids are positions)");
    Node n;
    n.id = static_cast<int>(i);
    const std::string op = R::text(R::field(e, path, "op"), path + ".op");
    n.op = find_op(op);
    if (!n.op) R::bad(path + ".op", "unknown op \"" + op + "\"");
    std::unique_ptr<Attrs> attrs = n.op->make_attrs();
    if (e.contains("attrs")) {
      const Json& a = e["attrs"];
      if (!a.is_object()) R::bad(path + ".attrs", "expected an object");
      const AttrList defaults = attrs->list();
      for (auto it = a.begin(); it != a.end(); ++it) {
        const std::string apath = path + ".attrs." + it.key();
        const AttrValue* like = nullptr;
        for (const auto& [name, value] : defaults)
          if (name == it.key()) like = &value;
        if (!like) R::bad(apath, "unknown attribute of " + op);
        attrs->set(it.key(), R::attr(it.value(), *like, apath));
      }
    }
    n.attrs = std::move(attrs);
    const Json& ins = R::field(e, path, "inputs");
    if (!ins.is_array()) R::bad(path + ".inputs", "expected a list of value ids");
    for (size_t k = 0; k < ins.size(); ++k)
      n.inputs.push_back(R::id_in(ins[k], path + ".inputs[" + std::to_string(k) + "]", g.values.size(), "value"));
    const Json& outs = R::field(e, path, "outputs");
    if (!outs.is_array()) R::bad(path + ".outputs", "expected a list of value ids");
    for (size_t k = 0; k < outs.size(); ++k) {
      const std::string opath = path + ".outputs[" + std::to_string(k) + "]";
      const int id = R::id_in(outs[k], opath, g.values.size(), "value");
      Value& v = g.values[static_cast<size_t>(id)];
      if (v.kind != ValueKind::intermediate)
        R::bad(opath, "value " + std::to_string(id) + " ('" + v.name + "') is a " +
                          std::string(value_kind_name(v.kind)) + ", not an intermediate");
      if (v.producer >= 0)
        R::bad(opath, "value " + std::to_string(id) + " is already produced by node " + std::to_string(v.producer));
      v.producer = n.id;
      v.output_index = static_cast<int>(k);
      n.outputs.push_back(id);
    }
    n.phase = e.contains("phase") ? R::phase_of(e["phase"], path + ".phase") : Phase::forward;
    if (e.contains("forward_node")) {
      const int64_t f = R::integer(e["forward_node"], path + ".forward_node");
      if (f < -1 || f >= static_cast<int64_t>(nodes.size()))
        R::bad(path + ".forward_node", "no node " + std::to_string(f));
      n.forward_node = static_cast<int>(f);
    }
    if (e.contains("modules")) n.modules = R::strings(e["modules"], path + ".modules");
    if (e.contains("regions")) n.regions = R::strings(e["regions"], path + ".regions");
    if (e.contains("cost")) {
      const Json& c = e["cost"];
      R::only(c, path + ".cost", {"flops", "bytes_read", "bytes_written"});
      n.cost.flops = R::real(R::field(c, path + ".cost", "flops"), path + ".cost.flops");
      n.cost.bytes_read = R::real(R::field(c, path + ".cost", "bytes_read"), path + ".cost.bytes_read");
      n.cost.bytes_written = R::real(R::field(c, path + ".cost", "bytes_written"), path + ".cost.bytes_written");
    } else {
      // Written by hand: the op's cost from the specs, as capture would have recorded it.
      std::vector<TensorSpec> in, out;
      for (int id : n.inputs) in.push_back(g.values[static_cast<size_t>(id)].spec);
      for (int id : n.outputs) out.push_back(g.values[static_cast<size_t>(id)].spec);
      try {
        n.cost = op_cost(*n.op, in, out, *n.attrs);
      } catch (const Error& err) {
        R::bad(path, std::string("cannot cost it: ") + err.what());
      }
    }
    g.nodes.push_back(std::move(n));
  }
  for (const Value& v : g.values)
    if (v.kind == ValueKind::intermediate && v.producer < 0)
      R::bad("values[" + std::to_string(v.id) + "]", "intermediate '" + v.name + "' is no node's output");

  const Json& ins = R::field(j, "(top)", "inputs");
  if (!ins.is_array()) R::bad("inputs", "expected a list of value ids");
  for (size_t k = 0; k < ins.size(); ++k)
    g.inputs.push_back(R::id_in(ins[k], "inputs[" + std::to_string(k) + "]", g.values.size(), "value"));
  const Json& outs = R::field(j, "(top)", "outputs");
  if (!outs.is_array()) R::bad("outputs", "expected a list of value ids");
  for (size_t k = 0; k < outs.size(); ++k)
    g.outputs.push_back(R::id_in(outs[k], "outputs[" + std::to_string(k) + "]", g.values.size(), "value"));
  g.validate();
  return g;
}

}  // namespace plumb::graph
