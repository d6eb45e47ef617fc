// Profile JSON (schema version 1, docs/profile.md): a stable field order, one array element per line,
// and a reader that names the file and the field on any problem.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "plumb/error.h"
#include "plumb/file_io.h"
#include "plumb/profile.h"

namespace plumb::profile {

namespace {

using ojson = nlohmann::ordered_json;
using json = nlohmann::json;

ojson run_json(const RunInfo& r) {
  ojson j;
  j["workload"] = r.workload;
  j["variant"] = r.variant;
  j["mode"] = r.mode;
  j["batch"] = r.batch;
  j["threads"] = r.threads;
  j["steps"] = r.steps;
  j["drop_first"] = r.drop_first;
  j["drop_last"] = r.drop_last;
  j["data"] = r.data;
  j["description"] = r.description;
  j["host"] = r.host;
  j["plumb_version"] = r.plumb_version;
  return j;
}

ojson step_json(const StepRecord& s) {
  ojson j;
  j["index"] = s.index;
  j["measured"] = s.measured;
  j["start_ns"] = s.start_ns;
  j["wall_ns"] = s.wall_ns;
  j["cpu_ns"] = s.cpu_ns;
  j["op_ns"] = s.op_ns;
  j["kernel_ns"] = s.kernel_ns;
  j["data_ns"] = s.data_ns;
  j["profiler_ns"] = s.profiler_ns;
  return j;
}

ojson op_json(const OpRecord& o) {
  ojson j;
  j["op"] = o.op;
  j["class"] = o.op_class;
  j["phase"] = o.phase;
  j["module"] = o.module;
  j["region"] = o.region;
  j["inputs"] = o.input_shapes;
  j["outputs"] = o.output_shapes;
  j["dtype"] = o.dtype;
  j["device"] = o.device;
  j["backend"] = o.backend;
  j["thread"] = o.thread;
  j["step"] = o.step;
  j["start_ns"] = o.start_ns;
  j["duration_ns"] = o.duration_ns;
  j["kernel_ns"] = o.kernel_ns;
  j["flops"] = o.flops;
  j["bytes_read"] = o.bytes_read;
  j["bytes_written"] = o.bytes_written;
  j["seq"] = o.seq;
  j["forward_seq"] = o.forward_seq;
  return j;
}

ojson region_json(const RegionRecord& r) {
  ojson j;
  j["name"] = r.name;
  j["kind"] = r.kind;
  j["thread"] = r.thread;
  j["step"] = r.step;
  j["start_ns"] = r.start_ns;
  j["duration_ns"] = r.duration_ns;
  return j;
}

ojson scaling_json(const ScalingPoint& s) {
  ojson j;
  j["threads"] = s.threads;
  j["step_ms"] = s.step_ms;
  return j;
}

// An array with one compact element per line: readable, diffable, and far smaller than full indenting.
template <class T, class F>
void write_array(std::string& out, const char* name, const std::vector<T>& items, F to_json_fn, bool last) {
  out += "  \"";
  out += name;
  out += "\": [";
  for (size_t i = 0; i < items.size(); ++i) {
    out += i ? ",\n    " : "\n    ";
    out += to_json_fn(items[i]).dump();
  }
  out += items.empty() ? "]" : "\n  ]";
  out += last ? "\n" : ",\n";
}

// Reads typed fields, naming the source and the field path in every error.
class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  [[noreturn]] void bad(const std::string& where, const std::string& what) const { fail(source_, ": ", where, ": ", what); }

  const json& field(const json& obj, const char* name, const std::string& where) const {
    if (!obj.is_object()) bad(where, std::string("expected an object, got ") + obj.type_name());
    auto it = obj.find(name);
    if (it == obj.end()) bad(join(where, name), "missing");
    return *it;
  }
  const json& array(const json& obj, const char* name, const std::string& where) const {
    const json& v = field(obj, name, where);
    if (!v.is_array()) bad(join(where, name), std::string("expected an array, got ") + v.type_name());
    return v;
  }
  std::string str(const json& obj, const char* name, const std::string& where) const {
    const json& v = field(obj, name, where);
    if (!v.is_string()) bad(join(where, name), std::string("expected a string, got ") + v.type_name());
    return v.get<std::string>();
  }
  int64_t i64(const json& obj, const char* name, const std::string& where, int64_t min = INT64_MIN) const {
    const json& v = field(obj, name, where);
    if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX))
      bad(join(where, name), std::string("expected an integer, got ") + describe(v));
    const auto x = v.get<int64_t>();
    if (x < min) bad(join(where, name), "must be at least " + std::to_string(min) + ", got " + std::to_string(x));
    return x;
  }
  int i32(const json& obj, const char* name, const std::string& where, int min = INT32_MIN) const {
    const int64_t x = i64(obj, name, where, min);
    if (x > INT32_MAX) bad(join(where, name), "out of range: " + std::to_string(x));
    return static_cast<int>(x);
  }
  uint64_t u64(const json& obj, const char* name, const std::string& where) const {
    const json& v = field(obj, name, where);
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
      bad(join(where, name), std::string("expected a non-negative integer, got ") + describe(v));
    return v.get<uint64_t>();
  }
  double num(const json& obj, const char* name, const std::string& where) const {
    const json& v = field(obj, name, where);
    if (!v.is_number()) bad(join(where, name), std::string("expected a number, got ") + v.type_name());
    return v.get<double>();
  }
  bool boolean(const json& obj, const char* name, const std::string& where) const {
    const json& v = field(obj, name, where);
    if (!v.is_boolean()) bad(join(where, name), std::string("expected true or false, got ") + v.type_name());
    return v.get<bool>();
  }
  std::vector<std::vector<int64_t>> shapes(const json& obj, const char* name, const std::string& where) const {
    const json& v = array(obj, name, where);
    std::vector<std::vector<int64_t>> out;
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string at = join(where, name) + "[" + std::to_string(i) + "]";
      if (!v[i].is_array()) bad(at, std::string("expected a shape (array of integers), got ") + v[i].type_name());
      std::vector<int64_t> s;
      for (const json& d : v[i]) {
        if (!d.is_number_integer() || (d.is_number_unsigned() && d.get<uint64_t>() > INT64_MAX))
          bad(at, std::string("expected a shape (array of integers), found ") + describe(d));
        s.push_back(d.get<int64_t>());
      }
      out.push_back(std::move(s));
    }
    return out;
  }
  std::string one_of(const json& obj, const char* name, const std::string& where,
                     std::initializer_list<const char*> allowed) const {
    std::string s = str(obj, name, where);
    std::string list;
    for (const char* a : allowed) {
      if (s == a) return s;
      list += (list.empty() ? "" : ", ") + std::string(a);
    }
    bad(join(where, name), "'" + s + "' is not one of " + list);
  }

  static std::string join(const std::string& where, const char* name) {
    return where.empty() ? std::string(name) : where + "." + name;
  }

 private:
  static std::string describe(const json& v) { return v.is_number_float() ? "a fraction" : v.type_name(); }
  const std::string& source_;
};

}  // namespace

std::string to_json(const Profile& p) {
  std::string out = "{\n  \"version\": " + std::to_string(p.version) + ",\n";
  out += "  \"run\": " + run_json(p.run).dump() + ",\n";
  write_array(out, "steps", p.steps, step_json, false);
  write_array(out, "ops", p.ops, op_json, false);
  write_array(out, "regions", p.regions, region_json, false);
  write_array(out, "scaling", p.scaling, scaling_json, true);
  out += "}\n";
  return out;
}

Profile from_json(std::string_view text, const std::string& source) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // nlohmann's message starts with "[json.exception.parse_error.101] ": keep what follows.
    std::string what = e.what();
    if (const size_t close = what.find("] "); what.rfind("[json.", 0) == 0 && close != std::string::npos)
      what.erase(0, close + 2);
    fail(source, ": not valid JSON: ", what);
  }
  const Reader rd(source);
  if (!j.is_object()) fail(source, ": not a plumb profile (expected a JSON object, got ", j.type_name(), ")");
  if (!j.contains("version")) fail(source, ": not a plumb profile (no \"version\" field)");
  const json& v = j["version"];
  if (!v.is_number_integer()) fail(source, ": schema version must be an integer, got ", v.dump());
  if (v.get<int64_t>() != kProfileSchemaVersion)
    fail(source, ": schema version ", v.dump(), ", this plumb reads version ", kProfileSchemaVersion);

  Profile p;
  p.version = kProfileSchemaVersion;
  const json& run = rd.field(j, "run", "");
  const std::string w = "run";
  p.run.workload = rd.str(run, "workload", w);
  p.run.variant = rd.str(run, "variant", w);
  p.run.mode = rd.str(run, "mode", w);
  p.run.batch = rd.i64(run, "batch", w, 0);
  p.run.threads = rd.i32(run, "threads", w, 0);
  p.run.steps = rd.i32(run, "steps", w, 0);
  p.run.drop_first = rd.i32(run, "drop_first", w, 0);
  p.run.drop_last = rd.i32(run, "drop_last", w, 0);
  p.run.data = rd.str(run, "data", w);
  p.run.description = rd.str(run, "description", w);
  p.run.host = rd.str(run, "host", w);
  p.run.plumb_version = rd.str(run, "plumb_version", w);

  const json& steps = rd.array(j, "steps", "");
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string at = "steps[" + std::to_string(i) + "]";
    const json& s = steps[i];
    StepRecord r;
    r.index = rd.i32(s, "index", at, 0);
    if (r.index != static_cast<int>(i)) rd.bad(at + ".index", "expected " + std::to_string(i) + ", got " + std::to_string(r.index));
    r.measured = rd.boolean(s, "measured", at);
    r.start_ns = rd.i64(s, "start_ns", at);
    r.wall_ns = rd.i64(s, "wall_ns", at, 0);
    r.cpu_ns = rd.i64(s, "cpu_ns", at, 0);
    r.op_ns = rd.i64(s, "op_ns", at, 0);
    r.kernel_ns = rd.i64(s, "kernel_ns", at, 0);
    r.data_ns = rd.i64(s, "data_ns", at, 0);
    r.profiler_ns = rd.i64(s, "profiler_ns", at, 0);
    p.steps.push_back(r);
  }
  const int n_steps = static_cast<int>(p.steps.size());
  auto step_ref = [&](const json& obj, const std::string& at) {
    const int s = rd.i32(obj, "step", at, -1);
    if (s >= n_steps) rd.bad(at + ".step", "refers to step " + std::to_string(s) + " of " + std::to_string(n_steps));
    return s;
  };

  const json& ops = rd.array(j, "ops", "");
  p.ops.reserve(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    const std::string at = "ops[" + std::to_string(i) + "]";
    const json& o = ops[i];
    OpRecord r;
    r.op = rd.str(o, "op", at);
    r.op_class = rd.str(o, "class", at);
    r.phase = rd.one_of(o, "phase", at, {"forward", "backward", "optimizer"});
    r.module = rd.str(o, "module", at);
    r.region = rd.str(o, "region", at);
    r.input_shapes = rd.shapes(o, "inputs", at);
    r.output_shapes = rd.shapes(o, "outputs", at);
    r.dtype = rd.str(o, "dtype", at);
    r.device = rd.str(o, "device", at);
    r.backend = rd.str(o, "backend", at);
    r.thread = rd.i32(o, "thread", at, 0);
    r.step = step_ref(o, at);
    r.start_ns = rd.i64(o, "start_ns", at);
    r.duration_ns = rd.i64(o, "duration_ns", at, 0);
    r.kernel_ns = rd.i64(o, "kernel_ns", at, 0);
    r.flops = rd.num(o, "flops", at);
    r.bytes_read = rd.num(o, "bytes_read", at);
    r.bytes_written = rd.num(o, "bytes_written", at);
    r.seq = rd.u64(o, "seq", at);
    r.forward_seq = rd.u64(o, "forward_seq", at);
    p.ops.push_back(std::move(r));
  }

  const json& regions = rd.array(j, "regions", "");
  for (size_t i = 0; i < regions.size(); ++i) {
    const std::string at = "regions[" + std::to_string(i) + "]";
    const json& g = regions[i];
    RegionRecord r;
    r.name = rd.str(g, "name", at);
    r.kind = rd.one_of(g, "kind", at, {"composite", "module", "data", "region"});
    r.thread = rd.i32(g, "thread", at, 0);
    r.step = step_ref(g, at);
    r.start_ns = rd.i64(g, "start_ns", at);
    r.duration_ns = rd.i64(g, "duration_ns", at, 0);
    p.regions.push_back(std::move(r));
  }

  const json& scaling = rd.array(j, "scaling", "");
  for (size_t i = 0; i < scaling.size(); ++i) {
    const std::string at = "scaling[" + std::to_string(i) + "]";
    ScalingPoint s;
    s.threads = rd.i32(scaling[i], "threads", at, 1);
    s.step_ms = rd.num(scaling[i], "step_ms", at);
    p.scaling.push_back(s);
  }
  return p;
}

void write_text_file(const std::string& path, std::string_view text) { write_file_atomic(path, text); }

void write_profile(const Profile& p, const std::string& path) { write_text_file(path, to_json(p)); }

Profile read_profile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path, ": cannot read: is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot read: ", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(path, ": cannot read: ", std::strerror(errno));
  return from_json(ss.str(), path);
}

}  // namespace plumb::profile
