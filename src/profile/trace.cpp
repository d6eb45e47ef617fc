// Chrome trace-event JSON (Perfetto, chrome://tracing): one track per thread, complete ("X") events
// for steps, modules, regions and ops, sorted so that every enclosing span precedes what it contains.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "plumb/profile.h"

namespace plumb::profile {

namespace {

using ojson = nlohmann::ordered_json;

struct Event {
  int tid = 0;
  int64_t start = 0, dur = 0;
  int rank = 0;  // among equal spans: step, module, region, op
  ojson json;
};

double us(int64_t ns) { return static_cast<double>(ns) / 1000.0; }

ojson complete(const std::string& name, const std::string& cat, int tid, int64_t start, int64_t dur) {
  ojson j;
  j["name"] = name;
  j["cat"] = cat;
  j["ph"] = "X";
  j["ts"] = us(start);
  j["dur"] = us(dur);
  j["pid"] = 1;
  j["tid"] = tid;
  return j;
}

ojson metadata(const char* what, int tid, const std::string& name) {
  ojson j;
  j["name"] = what;
  j["ph"] = "M";
  j["pid"] = 1;
  j["tid"] = tid;
  j["args"]["name"] = name;
  return j;
}

// Each op's full call: its self time plus the full calls of the ops dispatched inside it (the
// dispatcher's contiguous-input copies). An op is recorded when its call ends, so those are the ops
// recorded just before it on its thread that began at or after its start.
std::vector<int64_t> call_durations(const std::vector<OpRecord>& ops) {
  std::vector<int64_t> full(ops.size());
  std::map<int, std::vector<size_t>> unclaimed;  // per thread: finished calls no enclosing call has taken
  for (size_t i = 0; i < ops.size(); ++i) {
    const OpRecord& o = ops[i];
    std::vector<size_t>& done = unclaimed[o.thread];
    full[i] = o.duration_ns;
    while (!done.empty() && ops[done.back()].start_ns >= o.start_ns) {
      full[i] += full[done.back()];
      done.pop_back();
    }
    done.push_back(i);
  }
  return full;
}

}  // namespace

std::string to_chrome_trace(const Profile& p) {
  std::vector<Event> events;
  events.reserve(p.steps.size() + p.regions.size() + p.ops.size());
  int max_tid = 0;

  for (const StepRecord& s : p.steps) {
    Event e{0, s.start_ns, s.wall_ns, 0, complete("step " + std::to_string(s.index), "step", 0, s.start_ns, s.wall_ns)};
    ojson& a = e.json["args"];
    a["measured"] = s.measured;
    a["cpu_ms"] = static_cast<double>(s.cpu_ns) / 1e6;
    a["op_ms"] = static_cast<double>(s.op_ns) / 1e6;
    a["kernel_ms"] = static_cast<double>(s.kernel_ns) / 1e6;
    a["data_ms"] = static_cast<double>(s.data_ns) / 1e6;
    events.push_back(std::move(e));
  }
  for (const RegionRecord& r : p.regions) {
    max_tid = std::max(max_tid, r.thread);
    Event e{r.thread, r.start_ns, r.duration_ns, r.kind == "module" ? 1 : 2,
            complete(r.name, r.kind, r.thread, r.start_ns, r.duration_ns)};
    e.json["args"]["kind"] = r.kind;
    e.json["args"]["step"] = r.step;
    events.push_back(std::move(e));
  }
  // An op's span is its whole call, so a copy the dispatcher ran for it draws inside it.
  const std::vector<int64_t> call_ns = call_durations(p.ops);
  for (size_t i = 0; i < p.ops.size(); ++i) {
    const OpRecord& o = p.ops[i];
    max_tid = std::max(max_tid, o.thread);
    Event e{o.thread, o.start_ns, call_ns[i], 3, complete(o.op, o.op_class, o.thread, o.start_ns, call_ns[i])};
    ojson& a = e.json["args"];
    a["self_ns"] = o.duration_ns;
    a["kernel_ns"] = o.kernel_ns;
    a["class"] = o.op_class;
    a["phase"] = o.phase;
    a["module"] = o.module;
    a["region"] = o.region;
    a["inputs"] = o.input_shapes;
    a["outputs"] = o.output_shapes;
    a["dtype"] = o.dtype;
    a["device"] = o.device;
    a["backend"] = o.backend;
    a["flops"] = o.flops;
    a["bytes_read"] = o.bytes_read;
    a["bytes_written"] = o.bytes_written;
    a["step"] = o.step;
    a["seq"] = o.seq;
    if (o.forward_seq) a["forward_seq"] = o.forward_seq;
    events.push_back(std::move(e));
  }
  // Viewers nest "X" events by order: an enclosing span (earlier start, or equal start and longer) first.
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return std::tuple(a.tid, a.start, -a.dur, a.rank) < std::tuple(b.tid, b.start, -b.dur, b.rank);
  });

  std::string title = "plumb";
  if (!p.run.workload.empty()) title += " " + p.run.workload;
  if (!p.run.mode.empty()) title += " " + p.run.mode;
  std::string out = "{\"traceEvents\":[\n";
  out += metadata("process_name", 0, title).dump();
  for (int t = 0; t <= max_tid; ++t)
    out += ",\n" + metadata("thread_name", t, t == 0 ? "thread 0 (steps)" : "thread " + std::to_string(t)).dump();
  for (const Event& e : events) out += ",\n" + e.json.dump();
  out += "\n],\"displayTimeUnit\":\"ns\"}\n";
  return out;
}

}  // namespace plumb::profile
