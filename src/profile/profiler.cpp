// The Profiler: records dispatcher events into flat, interned storage (no strings per event) and
// materializes a Profile in finish().
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/spin_lock.h"
#include "plumb/op.h"
#include "plumb/profile.h"

namespace plumb::profile {

namespace {

int64_t process_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Paths (module paths, region stacks) interned as trie nodes: a lookup walks a few short child lists
// and compares strings, with no allocation once a path has been seen.
struct PathTrie {
  struct Node {
    std::string name;
    int parent = -1;
    std::vector<int> children;
    bool composite = false;  // region tries: this component is a composite op
    bool in_data = false;    // region tries: this component or an ancestor is the "data" region
  };
  std::vector<Node> nodes{Node{}};  // node 0: the empty path

  int child(int parent, std::string_view name) {
    for (int c : nodes[static_cast<size_t>(parent)].children)
      if (nodes[static_cast<size_t>(c)].name == name) return c;
    Node n;
    n.name = std::string(name);
    n.parent = parent;
    const OpDef* op = find_op(name);
    n.composite = op && op->is_composite();
    n.in_data = name == "data" || nodes[static_cast<size_t>(parent)].in_data;
    nodes.push_back(std::move(n));
    const int id = static_cast<int>(nodes.size()) - 1;
    nodes[static_cast<size_t>(parent)].children.push_back(id);
    return id;
  }
  int find(std::span<const std::string> path) {
    int cur = 0;
    for (const std::string& c : path) cur = child(cur, c);
    return cur;
  }
  // Joins the components, outermost first; only composites when `composites_only`.
  std::string join(int id, char sep, bool composites_only = false) const {
    std::vector<const std::string*> parts;
    for (int cur = id; cur > 0; cur = nodes[static_cast<size_t>(cur)].parent)
      if (!composites_only || nodes[static_cast<size_t>(cur)].composite)
        parts.push_back(&nodes[static_cast<size_t>(cur)].name);
    std::string s;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      if (!s.empty()) s += sep;
      s += **it;
    }
    return s;
  }
};

enum class Kind : uint8_t { composite, module, data, region };

constexpr const char* kind_name(Kind k) {
  switch (k) {
    case Kind::composite: return "composite";
    case Kind::module: return "module";
    case Kind::data: return "data";
    case Kind::region: return "region";
  }
  return "region";
}

struct RawOp {
  const OpDef* op = nullptr;
  const Kernel* kernel = nullptr;
  int64_t start = 0, end = 0;            // kernel window
  int64_t call_start = 0, call_end = 0;  // the whole dispatch
  int64_t self = 0;
  Cost cost;
  uint64_t seq = 0, forward_seq = 0;
  uint32_t shape_off = 0;  // into Impl::shapes: per tensor, rank then dims; inputs then outputs
  uint16_t n_in = 0, n_out = 0;
  int32_t module = 0;  // module trie node
  int32_t region = 0;  // region trie node
  int32_t step = -1;
  int32_t thread = 0;
  Phase phase = Phase::forward;
  DType dtype = DType::f32;
  Device device;
};

struct RawRegion {
  int32_t name = 0;  // module trie node (Kind::module) or index into region_names
  Kind kind = Kind::region;
  int32_t thread = 0;
  int32_t step = -1;
  int64_t start = 0, end = -1;  // end -1: still open
  // The thread's observer clock at the begin and end callbacks: the profiler's own recording inside
  // the span (-1: closed by detach, unknown).
  int64_t observed_start = 0, observed_end = -1;
};

struct RawStep {
  bool measured = true;
  int32_t thread = 0;
  int64_t start = 0, end = -1;
  int64_t cpu_start = 0, cpu_end = 0;
  int64_t observed_start = 0, observed_end = 0;  // the step thread's observer clock
};

// A span still open on a thread: its record, and its path's trie node (so an op inside it finds its
// module or region path without walking the trie).
struct OpenSpan {
  int32_t record = 0;  // index into Impl::regions
  int32_t node = 0;    // module trie node, or region-path trie node
};

struct ThreadState {
  std::thread::id id;
  std::vector<OpenSpan> open_regions, open_modules;
};

}  // namespace

struct Profiler::Impl {
  // Callbacks already run one at a time under the dispatcher's observer lock; this lock only orders
  // them against begin_step / end_step / finish.
  mutable SpinLock mu;
  bool attached = false;
  std::vector<ThreadState> threads;
  int32_t last_thread = -1;
  int32_t current_step = -1;
  PathTrie modules, region_paths;
  std::vector<std::pair<std::string, Kind>> region_names;
  std::vector<RawOp> ops;
  std::vector<RawRegion> regions;
  std::vector<RawStep> steps;
  std::vector<int64_t> shapes;

  int32_t thread_index() {
    const std::thread::id id = std::this_thread::get_id();
    if (last_thread >= 0 && threads[static_cast<size_t>(last_thread)].id == id) return last_thread;
    for (size_t i = 0; i < threads.size(); ++i)
      if (threads[i].id == id) return last_thread = static_cast<int32_t>(i);
    threads.push_back(ThreadState{id, {}, {}});
    return last_thread = static_cast<int32_t>(threads.size()) - 1;
  }

  int32_t region_name(std::string_view name) {
    for (size_t i = 0; i < region_names.size(); ++i)
      if (region_names[i].first == name) return static_cast<int32_t>(i);
    const OpDef* op = find_op(name);
    const Kind k = name == "data" ? Kind::data : (op && op->is_composite()) ? Kind::composite : Kind::region;
    region_names.emplace_back(std::string(name), k);
    return static_cast<int32_t>(region_names.size()) - 1;
  }

  // Appends, per tensor, its rank then its dims (rank 0 for an undefined tensor).
  void push_shapes(std::span<const Tensor> in, std::span<const Tensor> out) {
    size_t n = in.size() + out.size();
    for (const Tensor& t : in) n += t.defined() ? t.shape().size() : 0;
    for (const Tensor& t : out) n += t.defined() ? t.shape().size() : 0;
    const size_t at = shapes.size();
    shapes.resize(at + n);
    int64_t* w = shapes.data() + at;
    for (std::span<const Tensor> group : {in, out})
      for (const Tensor& t : group) {
        if (!t.defined()) {
          *w++ = 0;
          continue;
        }
        const Shape& s = t.shape();
        *w++ = static_cast<int64_t>(s.size());
        w = std::copy(s.begin(), s.end(), w);
      }
  }

  // Opens a span; `node` is its path's trie node.
  void open(RawRegion r, int32_t node, std::vector<OpenSpan> ThreadState::*stack) {
    r.step = current_step;
    regions.push_back(r);
    (threads[static_cast<size_t>(r.thread)].*stack).push_back({static_cast<int32_t>(regions.size()) - 1, node});
  }
  void close(int64_t t, std::vector<OpenSpan> ThreadState::*stack) {
    auto& open = threads[static_cast<size_t>(thread_index())].*stack;
    if (open.empty()) return;  // began before the profiler attached
    RawRegion& r = regions[static_cast<size_t>(open.back().record)];
    r.end = t;
    r.observed_end = observer_ns_on_this_thread();
    open.pop_back();
  }
  // The trie node of `path` for a span opening inside the `open` spans: one step from the innermost
  // when the open spans are the path's parent, else a walk from the root.
  static int32_t node_of(PathTrie& trie, const std::vector<OpenSpan>& open, std::span<const std::string> path) {
    if (!path.empty() && open.size() + 1 == path.size())
      return open.empty() ? trie.child(0, path.back()) : trie.child(open.back().node, path.back());
    return trie.find(path);
  }
  // The trie node of an op's enclosing path: the innermost open span's when the open spans are
  // exactly the path (every one began while attached), else a walk from the root.
  static int32_t path_node(PathTrie& trie, const std::vector<OpenSpan>& open, std::span<const std::string> path) {
    if (open.size() == path.size()) return open.empty() ? 0 : open.back().node;
    return trie.find(path);
  }
  // Recording writes into memory faulted in before the step began: first-touch page faults are the
  // dearest part of recording on a virtual machine, and between steps they cost no step any time.
  struct Prefault {
    size_t touched = 0, capacity = 0;  // elements known resident; the capacity they were touched at
    size_t step_at = 0, last_step = 0;  // size when the last step began; what that step added
  };
  Prefault ops_room, shapes_room, regions_room;

  template <class T>
  static void prefault(std::vector<T>& v, Prefault& f, size_t min_room) {
    const size_t n = v.size();
    f.last_step = n >= f.step_at ? n - f.step_at : 0;
    f.step_at = n;
    if (v.capacity() != f.capacity) f.touched = n;  // reallocated since: only what it holds is resident
    const size_t want = n + std::max(2 * f.last_step, min_room);
    if (want > f.touched) {
      v.resize(want);  // value-initializes: faults the pages in now
      v.resize(n);
      f.touched = want;
    }
    f.capacity = v.capacity();
  }
  void prefault_step() {
    prefault(ops, ops_room, 1024);
    prefault(shapes, shapes_room, 1024 * 8);
    prefault(regions, regions_room, 256);
  }

  // Ends every open span at `t` (on detach: their ends will not be seen).
  void close_all(int64_t t) {
    for (ThreadState& ts : threads) {
      for (const OpenSpan& o : ts.open_regions) regions[static_cast<size_t>(o.record)].end = t;
      for (const OpenSpan& o : ts.open_modules) regions[static_cast<size_t>(o.record)].end = t;
      ts.open_regions.clear();
      ts.open_modules.clear();
    }
  }
};

Profiler::Profiler() : impl_(std::make_unique<Impl>()) {
  impl_->ops.reserve(4096);
  impl_->shapes.reserve(4096 * 8);
}

Profiler::~Profiler() { detach(); }

void Profiler::attach() {
  now_ns();  // the clock calibrates on first use (once per process): not inside anything timed
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->attached) return;
    impl_->attached = true;
  }
  add_observer(this);
}

void Profiler::detach() {
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->attached) return;
    impl_->attached = false;
  }
  remove_observer(this);
  std::lock_guard lock(impl_->mu);
  impl_->close_all(now_ns());
}

void Profiler::begin_step(bool measured) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->prefault_step();  // before the step's clocks start
  }
  RawStep s;
  s.measured = measured;
  s.observed_start = observer_ns_on_this_thread();
  s.cpu_start = process_cpu_ns();
  s.start = now_ns();
  std::lock_guard lock(impl_->mu);
  Impl& m = *impl_;
  s.thread = m.thread_index();
  if (m.current_step >= 0 && m.steps[static_cast<size_t>(m.current_step)].end < 0) {
    m.steps[static_cast<size_t>(m.current_step)].end = s.start;  // an unclosed step ends where the next begins
    m.steps[static_cast<size_t>(m.current_step)].cpu_end = s.cpu_start;
    m.steps[static_cast<size_t>(m.current_step)].observed_end = s.observed_start;
  }
  m.steps.push_back(s);
  m.current_step = static_cast<int32_t>(m.steps.size()) - 1;
}

void Profiler::end_step() {
  const int64_t t = now_ns();
  const int64_t cpu = process_cpu_ns();
  const int64_t observed = observer_ns_on_this_thread();
  std::lock_guard lock(impl_->mu);
  Impl& m = *impl_;
  if (m.current_step < 0) return;
  RawStep& s = m.steps[static_cast<size_t>(m.current_step)];
  s.end = t;
  s.cpu_end = cpu;
  s.observed_end = observed;
  m.current_step = -1;
}

void Profiler::clear() {
  std::lock_guard lock(impl_->mu);
  Impl& m = *impl_;
  m.ops.clear();
  m.regions.clear();
  m.steps.clear();
  m.shapes.clear();
  m.ops_room.step_at = m.shapes_room.step_at = m.regions_room.step_at = 0;
  m.current_step = -1;
  for (ThreadState& t : m.threads) {
    t.open_regions.clear();
    t.open_modules.clear();
  }
}

void Profiler::on_op(const OpEvent& e) {
  std::lock_guard lock(impl_->mu);
  Impl& m = *impl_;
  RawOp& r = m.ops.emplace_back();
  r.op = e.op;
  r.kernel = e.kernel;
  r.start = e.start_ns;
  r.end = e.end_ns;
  r.call_start = e.call_start_ns;
  r.call_end = e.call_end_ns;
  r.self = e.self_ns;
  r.cost = e.cost;
  r.seq = e.seq;
  r.forward_seq = e.forward_seq;
  r.phase = e.phase;
  r.step = m.current_step;
  r.thread = m.thread_index();
  const ThreadState& ts = m.threads[static_cast<size_t>(r.thread)];
  r.module = Impl::path_node(m.modules, ts.open_modules, e.modules);
  r.region = Impl::path_node(m.region_paths, ts.open_regions, e.regions);
  r.shape_off = static_cast<uint32_t>(m.shapes.size());
  r.n_in = static_cast<uint16_t>(e.inputs.size());
  r.n_out = static_cast<uint16_t>(e.outputs.size());
  m.push_shapes(e.inputs, e.outputs);
  const Tensor* first = !e.outputs.empty() && e.outputs[0].defined()  ? &e.outputs[0]
                        : !e.inputs.empty() && e.inputs[0].defined() ? &e.inputs[0]
                                                                     : nullptr;
  if (first) {
    r.dtype = first->dtype();
    r.device = first->device();
  }
}

void Profiler::on_region_begin(std::string_view name, int64_t t_ns) {
  std::lock_guard lock(impl_->mu);
  Impl& m = *impl_;
  RawRegion r;
  r.name = m.region_name(name);
  r.kind = m.region_names[static_cast<size_t>(r.name)].second;
  r.thread = m.thread_index();
  r.start = t_ns;
  r.observed_start = observer_ns_on_this_thread();
  const auto& open = m.threads[static_cast<size_t>(r.thread)].open_regions;
  const int32_t node = m.region_paths.child(open.empty() ? 0 : open.back().node, name);
  m.open(r, node, &ThreadState::open_regions);
}

void Profiler::on_region_end(std::string_view /*name*/, int64_t t_ns) {
  std::lock_guard lock(impl_->mu);
  impl_->close(t_ns, &ThreadState::open_regions);
}

void Profiler::on_module_begin(std::span<const std::string> path, int64_t t_ns) {
  std::lock_guard lock(impl_->mu);
  Impl& m = *impl_;
  RawRegion r;
  r.kind = Kind::module;
  r.thread = m.thread_index();
  r.start = t_ns;
  const ThreadState& ts = m.threads[static_cast<size_t>(r.thread)];
  r.name = Impl::node_of(m.modules, ts.open_modules, path);
  m.open(r, r.name, &ThreadState::open_modules);
}

void Profiler::on_module_end(std::span<const std::string> /*path*/, int64_t t_ns) {
  std::lock_guard lock(impl_->mu);
  impl_->close(t_ns, &ThreadState::open_modules);
}

Profile Profiler::finish(const RunInfo& run) const {
  std::lock_guard lock(impl_->mu);
  const Impl& m = *impl_;
  Profile p;
  p.run = run;

  // Threads: the one that ran the first step is 0, the rest follow in order of first event.
  std::vector<int> thread_no(m.threads.size(), -1);
  int next_thread = 0;
  if (!m.steps.empty()) thread_no[static_cast<size_t>(m.steps[0].thread)] = next_thread++;
  for (size_t i = 0; i < thread_no.size(); ++i)
    if (thread_no[i] < 0) thread_no[i] = next_thread++;

  // Open steps and regions end at their last event.
  int64_t last = 0, origin = INT64_MAX;
  for (const RawOp& o : m.ops) {
    last = std::max(last, o.call_end);
    origin = std::min(origin, o.call_start);
  }
  for (const RawRegion& r : m.regions) {
    last = std::max({last, r.start, r.end});
    origin = std::min(origin, r.start);
  }
  for (const RawStep& s : m.steps) {
    last = std::max({last, s.start, s.end});
    origin = std::min(origin, s.start);
  }
  if (origin == INT64_MAX) origin = 0;

  p.steps.reserve(m.steps.size());
  for (size_t i = 0; i < m.steps.size(); ++i) {
    const RawStep& s = m.steps[i];
    StepRecord r;
    r.index = static_cast<int>(i);
    r.measured = s.measured && s.end >= 0;  // a step still open when finished is not measured
    r.start_ns = s.start - origin;
    r.wall_ns = (s.end >= 0 ? s.end : last) - s.start;
    r.cpu_ns = s.end >= 0 ? s.cpu_end - s.cpu_start : 0;
    r.profiler_ns = s.end >= 0 ? s.observed_end - s.observed_start : 0;
    p.steps.push_back(r);
  }

  // Backward ops run outside module scopes: they take their forward op's module (by forward_seq).
  std::unordered_map<uint64_t, int32_t> module_of_seq;  // key: seq * 64 + thread
  module_of_seq.reserve(m.ops.size());
  auto key = [](uint64_t seq, int32_t thread) { return seq * 64 + static_cast<uint64_t>(thread & 63); };

  std::vector<std::string> module_names(m.modules.nodes.size()), region_names(m.region_paths.nodes.size());
  for (size_t i = 0; i < module_names.size(); ++i) module_names[i] = m.modules.join(static_cast<int>(i), '.');
  for (size_t i = 0; i < region_names.size(); ++i)
    region_names[i] = m.region_paths.join(static_cast<int>(i), '/', /*composites_only=*/true);

  p.ops.reserve(m.ops.size());
  for (const RawOp& o : m.ops) {
    int32_t module = o.module;
    if (module == 0 && o.phase == Phase::backward && o.forward_seq != 0) {
      auto it = module_of_seq.find(key(o.forward_seq, o.thread));
      if (it != module_of_seq.end()) module = it->second;
    }
    module_of_seq[key(o.seq, o.thread)] = module;

    OpRecord r;
    r.op = o.op->name;
    r.op_class = std::string(op_class_name(o.op->op_class));
    r.phase = std::string(phase_name(o.phase));
    r.module = module_names[static_cast<size_t>(module)];
    r.region = region_names[static_cast<size_t>(o.region)];
    size_t at = o.shape_off;
    auto read_shapes = [&](int n, std::vector<std::vector<int64_t>>& out) {
      out.resize(static_cast<size_t>(n));
      for (auto& s : out) {
        const auto rank = static_cast<size_t>(m.shapes[at++]);
        s.assign(m.shapes.begin() + static_cast<std::ptrdiff_t>(at),
                 m.shapes.begin() + static_cast<std::ptrdiff_t>(at + rank));
        at += rank;
      }
    };
    read_shapes(o.n_in, r.input_shapes);
    read_shapes(o.n_out, r.output_shapes);
    r.dtype = std::string(dtype_name(o.dtype));
    r.device = o.device.str();
    r.backend = o.kernel ? o.kernel->backend : "";
    r.thread = thread_no[static_cast<size_t>(o.thread)];
    r.step = o.step;
    r.start_ns = o.call_start - origin;
    r.duration_ns = o.self;
    r.kernel_ns = o.end - o.start;
    r.flops = o.cost.flops;
    r.bytes_read = o.cost.bytes_read;
    r.bytes_written = o.cost.bytes_written;
    r.seq = o.seq;
    r.forward_seq = o.forward_seq;
    if (o.step >= 0 && o.thread == m.steps[static_cast<size_t>(o.step)].thread) {
      StepRecord& s = p.steps[static_cast<size_t>(o.step)];
      s.op_ns += r.duration_ns;
      s.kernel_ns += r.kernel_ns;
      // Ops inside a data region are op time, not data time.
      if (m.region_paths.nodes[static_cast<size_t>(o.region)].in_data) s.data_ns -= r.duration_ns;
    }
    p.ops.push_back(std::move(r));
  }

  p.regions.reserve(m.regions.size());
  std::vector<int64_t> data_end(m.threads.size(), INT64_MIN);  // per thread: end of the open outer data region
  for (const RawRegion& g : m.regions) {
    RegionRecord r;
    r.name = g.kind == Kind::module ? module_names[static_cast<size_t>(g.name)]
                                    : m.region_names[static_cast<size_t>(g.name)].first;
    r.kind = kind_name(g.kind);
    r.thread = thread_no[static_cast<size_t>(g.thread)];
    r.step = g.step;
    r.start_ns = g.start - origin;
    r.duration_ns = (g.end >= 0 ? g.end : last) - g.start;
    // Nested data regions count once: only the outermost adds to the step's data time.
    if (g.kind == Kind::data && g.step >= 0 && g.thread == m.steps[static_cast<size_t>(g.step)].thread) {
      int64_t& outer_end = data_end[static_cast<size_t>(g.thread)];
      if (g.start >= outer_end) {
        // Less the profiler's recording inside it (the events of ops and regions in the data region).
        const int64_t recording = g.observed_end >= g.observed_start ? g.observed_end - g.observed_start : 0;
        p.steps[static_cast<size_t>(g.step)].data_ns += r.duration_ns - recording;
        outer_end = g.start + r.duration_ns;
      }
    }
    p.regions.push_back(std::move(r));
  }
  for (StepRecord& s : p.steps) s.data_ns = std::max<int64_t>(s.data_ns, 0);
  return p;
}

}  // namespace plumb::profile
