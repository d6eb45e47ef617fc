// The one dispatcher: infer -> (meta: stop) -> allocate -> pick kernel -> run -> record tape node
// -> notify observers (profiler, graph capture). When observed, the whole call and its kernel window are timed.
#include "plumb/dispatch.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "core/clock.h"
#include "core/spin_lock.h"
#include "ops/op_def.h"

namespace plumb {

namespace {
std::atomic<int> g_observer_count{0};
SpinLock g_observer_mu;  // held while observers run: one callback at a time, process-wide
std::vector<DispatchObserver*> g_observers;
TapeRecorder g_tape = nullptr;

thread_local Phase t_phase = Phase::forward;
thread_local uint64_t t_forward_seq = 0;
thread_local uint64_t t_seq = 0;
thread_local std::vector<std::string> t_regions;
thread_local std::vector<std::string> t_modules;
thread_local std::string t_backend;
thread_local bool t_decompose = false;
thread_local bool t_grad_mode = true;
thread_local Cost* t_cost_probe = nullptr;  // set while op_cost sums a composite on meta
thread_local int64_t t_nested_ns = 0;       // full call time of observed ops dispatched inside the current one

thread_local int64_t t_observer_ns = 0;
thread_local int t_op_depth = 0;  // > 0 while an op's contiguous-input copies or kernel run

// Marks the calling thread as inside an op's call for as long as it lives.
struct InsideOp {
  InsideOp() { ++t_op_depth; }
  ~InsideOp() { --t_op_depth; }
  InsideOp(const InsideOp&) = delete;
  InsideOp& operator=(const InsideOp&) = delete;
};

bool observing() { return g_observer_count.load(std::memory_order_relaxed) > 0 && !t_cost_probe; }

template <class F>
void for_each_observer(F&& f) {
  std::lock_guard lock(g_observer_mu);
  for (DispatchObserver* o : g_observers) f(*o);
}

const Kernel* select_kernel(const OpDef& op, DeviceType device, DType dtype) {
  const Kernel* best = nullptr;
  for (const Kernel* k : ops::kernel_list(op)) {
    if (k->device != device) continue;
    if (std::find(k->dtypes.begin(), k->dtypes.end(), dtype) == k->dtypes.end()) continue;
    if (!t_backend.empty()) {
      if (k->backend == t_backend) return k;
      if (!best && k->backend == "reference") best = k;  // forced backend lacks this op: the reference runs
      continue;
    }
    return k;  // kernel_list is sorted best first
  }
  return best;
}

[[noreturn]] void no_kernel(const OpDef& op, Device device, DType dtype) {
  std::string have;
  for (const Kernel* k : ops::kernel_list(op)) {
    if (!have.empty()) have += ", ";
    have += k->backend + "@" + Device{k->device, 0}.str() + "[";
    for (size_t i = 0; i < k->dtypes.size(); ++i) {
      if (i) have += ',';
      have += dtype_name(k->dtypes[i]);
    }
    have += "]";
  }
  fail(op.name, ": no kernel for device ", device.str(), " and dtype ", dtype_name(dtype),
       " (has: ", have.empty() ? "none" : have, ")");
}

// A composite without a cost formula costs its decomposition run on meta, which is far dearer than
// the fused kernel standing in for it: the observed cost is memoized per (op, input specs, attrs).
struct CostKey {
  const OpDef* op;
  std::vector<TensorSpec> in;
  std::unique_ptr<Attrs> attrs;
};
struct CostEntry {
  CostKey key;
  Cost cost;
};

size_t spec_hash(const OpDef& op, std::span<const TensorSpec> in, const Attrs& attrs) {
  size_t h = std::hash<const void*>{}(&op) ^ (attrs.hash() * 0x9e3779b97f4a7c15ULL);
  for (const TensorSpec& s : in) {
    h = h * 31 + static_cast<size_t>(s.dtype) + 7 * static_cast<size_t>(s.device.type);
    for (int64_t d : s.shape) h = h * 1000003 + static_cast<size_t>(d);
  }
  return h;
}

Cost event_cost(const OpDef& op, std::span<const TensorSpec> in, std::span<const TensorSpec> out,
                const Attrs& attrs) {
  if (op.cost || !op.is_composite()) return op_cost(op, in, out, attrs);
  thread_local std::unordered_multimap<size_t, CostEntry> cache;
  const size_t h = spec_hash(op, in, attrs);
  auto [lo, hi] = cache.equal_range(h);
  for (auto it = lo; it != hi; ++it) {
    const CostKey& k = it->second.key;
    if (k.op == &op && std::equal(k.in.begin(), k.in.end(), in.begin(), in.end()) && *k.attrs == attrs)
      return it->second.cost;
  }
  const Cost c = op_cost(op, in, out, attrs);
  if (cache.size() > 4096) cache.clear();  // bounded: shapes that vary every step do not grow it forever
  cache.emplace(h, CostEntry{CostKey{&op, std::vector<TensorSpec>(in.begin(), in.end()), attrs.clone()}, c});
  return c;
}

// The input specs of a dispatch, in a per-thread buffer kept per nesting depth (composites and
// contiguous copies dispatch inside a dispatch): after warm-up, building them allocates nothing.
class SpecBuffer {
 public:
  explicit SpecBuffer(size_t n) {
    thread_local std::deque<std::vector<TensorSpec>> pool;  // deque: growing it moves no buffer in use
    thread_local size_t depth = 0;
    depth_ = &depth;
    if (pool.size() <= depth) pool.emplace_back();
    specs_ = &pool[depth++];
    specs_->resize(n);
  }
  ~SpecBuffer() { --*depth_; }
  SpecBuffer(const SpecBuffer&) = delete;
  SpecBuffer& operator=(const SpecBuffer&) = delete;
  std::vector<TensorSpec>& specs() { return *specs_; }

 private:
  std::vector<TensorSpec>* specs_;
  size_t* depth_;
};

// Times one observed dispatch: the whole call, less the calls nested in it (the contiguous-input copies
// it dispatches), so no time counts twice. Unobserved, it does nothing.
class CallTimer {
 public:
  explicit CallTimer(bool observed) : on_(observed) {
    if (!on_) return;
    saved_ = t_nested_ns;
    t_nested_ns = 0;
    start_ = clock::now();
  }
  ~CallTimer() {
    if (on_) t_nested_ns = saved_;  // thrown: the enclosing op is not charged
  }
  CallTimer(const CallTimer&) = delete;
  CallTimer& operator=(const CallTimer&) = delete;

  int64_t start() const { return start_; }
  int64_t self(int64_t end) const { return end - start_ - t_nested_ns; }
  // The call is over: the enclosing op, if any, subtracts all of it.
  void finish(int64_t end) {
    t_nested_ns = saved_ + (end - start_);
    on_ = false;
  }
  // A composite run as its decomposition is a region, not an op: its primitives count for what encloses it.
  void dissolve() {
    t_nested_ns += saved_;
    on_ = false;
  }

 private:
  bool on_;
  int64_t start_ = 0, saved_ = 0;
};

struct Timing {
  int64_t start = 0, end = 0;            // kernel window
  int64_t call_start = 0, call_end = 0;  // the whole dispatch
  int64_t self = 0;
};

// An event's fields that come from the call and this thread's context.
OpEvent base_event(const OpDef& op, const Attrs& attrs, std::span<const Tensor> inputs,
                   std::span<const Tensor> outputs, uint64_t seq) {
  OpEvent e;
  e.op = &op;
  e.attrs = &attrs;
  e.inputs = inputs;
  e.outputs = outputs;
  e.seq = seq;
  e.forward_seq = t_forward_seq;
  e.phase = t_phase;
  e.regions = t_regions;
  e.modules = t_modules;
  e.nested = t_op_depth > 0;
  return e;
}

void notify(const OpDef& op, const Attrs& attrs, std::span<const Tensor> inputs, std::span<const Tensor> outputs,
            const Kernel* kernel, uint64_t seq, const Timing& t, std::span<const TensorSpec> in_specs,
            std::span<const TensorSpec> out_specs) {
  OpEvent e = base_event(op, attrs, inputs, outputs, seq);
  e.kernel = kernel;
  e.start_ns = t.start;
  e.end_ns = t.end;
  e.call_start_ns = t.call_start;
  e.call_end_ns = t.call_end;
  e.self_ns = t.self;
  e.cost = event_cost(op, in_specs, out_specs, attrs);
  for_each_observer([&](DispatchObserver& o) { o.on_op(e); });
  t_observer_ns += clock::now() - t.call_end;
}

// A composite that ran as its decomposition: the call, for observers that fold it (graph capture).
void notify_composite(const OpDef& op, const Attrs& attrs, std::span<const Tensor> inputs,
                      std::span<const Tensor> outputs, uint64_t seq, std::span<const TensorSpec> in_specs) {
  const int64_t t = clock::now();
  OpEvent e = base_event(op, attrs, inputs, outputs, seq);
  std::vector<TensorSpec> out_specs;
  out_specs.reserve(outputs.size());
  for (const Tensor& o : outputs) out_specs.push_back(o.spec());
  e.cost = event_cost(op, in_specs, out_specs, attrs);
  for_each_observer([&](DispatchObserver& o) { o.on_composite(e); });
  t_observer_ns += clock::now() - t;
}

// Runs `f` on every observer and charges the time to this thread's observer clock; `t` is the
// event's timestamp, taken just before.
template <class F>
void notify_timed(int64_t t, F&& f) {
  for_each_observer(f);
  t_observer_ns += clock::now() - t;
}
}  // namespace

int64_t now_ns() { return clock::now(); }

int64_t observer_ns_on_this_thread() { return t_observer_ns; }

std::string_view phase_name(Phase p) {
  switch (p) {
    case Phase::forward: return "forward";
    case Phase::backward: return "backward";
    case Phase::optimizer: return "optimizer";
  }
  return "?";
}

void add_observer(DispatchObserver* o) {
  std::lock_guard lock(g_observer_mu);
  g_observers.push_back(o);
  g_observer_count.store(static_cast<int>(g_observers.size()), std::memory_order_relaxed);
}

void remove_observer(DispatchObserver* o) {
  std::lock_guard lock(g_observer_mu);
  g_observers.erase(std::remove(g_observers.begin(), g_observers.end(), o), g_observers.end());
  g_observer_count.store(static_cast<int>(g_observers.size()), std::memory_order_relaxed);
}

PhaseScope::PhaseScope(Phase p, uint64_t forward_seq) : prev_(t_phase), prev_fwd_(t_forward_seq) {
  t_phase = p;
  t_forward_seq = forward_seq;
}
PhaseScope::~PhaseScope() {
  t_phase = prev_;
  t_forward_seq = prev_fwd_;
}
Phase current_phase() { return t_phase; }

RegionScope::RegionScope(std::string name) {
  t_regions.push_back(std::move(name));
  if (observing()) {
    const int64_t t = clock::now();
    notify_timed(t, [&](DispatchObserver& o) { o.on_region_begin(t_regions.back(), t); });
  }
}
RegionScope::~RegionScope() {
  if (observing()) {
    const int64_t t = clock::now();
    notify_timed(t, [&](DispatchObserver& o) { o.on_region_end(t_regions.back(), t); });
  }
  t_regions.pop_back();
}

ModuleScope::ModuleScope(std::string name) {
  t_modules.push_back(std::move(name));
  if (observing()) {
    const int64_t t = clock::now();
    notify_timed(t, [&](DispatchObserver& o) { o.on_module_begin(t_modules, t); });
  }
}
ModuleScope::~ModuleScope() {
  if (observing()) {
    const int64_t t = clock::now();
    notify_timed(t, [&](DispatchObserver& o) { o.on_module_end(t_modules, t); });
  }
  t_modules.pop_back();
}

BackendScope::BackendScope(std::string backend) : prev_(std::move(t_backend)) { t_backend = std::move(backend); }
BackendScope::~BackendScope() { t_backend = std::move(prev_); }

DecomposeScope::DecomposeScope(bool decompose) : prev_(t_decompose) { t_decompose = decompose; }
DecomposeScope::~DecomposeScope() { t_decompose = prev_; }

bool grad_mode_enabled() { return t_grad_mode; }
void set_grad_mode_enabled(bool on) { t_grad_mode = on; }

void set_tape_recorder(TapeRecorder r) { g_tape = r; }

Cost op_cost(const OpDef& op, std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs& attrs) {
  if (op.cost) return op.cost(in, out, attrs);
  // A composite without its own formula costs what its primitives cost.
  std::vector<Tensor> metas;
  for (const TensorSpec& s : in) metas.push_back(Tensor::from_spec({s.shape, s.dtype, kMeta}));
  Cost total;
  Cost* prev_probe = t_cost_probe;
  const bool prev_decompose = t_decompose, prev_grad = t_grad_mode;
  t_cost_probe = &total;
  t_decompose = true;
  t_grad_mode = false;
  try {
    op.decompose(metas, attrs);
  } catch (...) {
    t_cost_probe = prev_probe;
    t_decompose = prev_decompose;
    t_grad_mode = prev_grad;
    throw;
  }
  t_cost_probe = prev_probe;
  t_decompose = prev_decompose;
  t_grad_mode = prev_grad;
  return total;
}

std::vector<Tensor> dispatch(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs) {
  const bool observed = observing();  // unobserved, the only instrumentation cost
  CallTimer call(observed);
  const int n = static_cast<int>(inputs.size());
  if (n < op.min_inputs || (op.max_inputs >= 0 && n > op.max_inputs)) {
    if (op.min_inputs == op.max_inputs) fail(op.name, ": expects ", op.min_inputs, " inputs, got ", n);
    fail(op.name, ": expects ", op.min_inputs, " to ", op.max_inputs < 0 ? std::string("any number of") : std::to_string(op.max_inputs), " inputs, got ", n);
  }
  SpecBuffer spec_buffer(inputs.size());
  std::vector<TensorSpec>& in_specs = spec_buffer.specs();
  bool any_requires_grad = false;
  for (int i = 0; i < n; ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined()) fail(op.name, ": input ", i, " is undefined");
    if (i > 0 && t.device() != inputs[0].device())
      fail(op.name, ": input ", i, " is on ", t.device().str(), " but input 0 is on ", inputs[0].device().str());
    TensorSpec& s = in_specs[static_cast<size_t>(i)];
    s.shape.assign(t.shape().begin(), t.shape().end());  // reuses the buffer's capacity: no allocation
    s.dtype = t.dtype();
    s.device = t.device();
    any_requires_grad = any_requires_grad || t.requires_grad();
  }
  std::vector<TensorSpec> out_specs = op.infer(in_specs, attrs);
  const bool record_tape = g_tape && any_requires_grad && t_grad_mode && op.differentiable;
  const Device device = n > 0 ? inputs[0].device() : (out_specs.empty() ? kCPU : out_specs[0].device);
  const DType key_dtype =
      op.key_input >= 0 && op.key_input < n ? in_specs[op.key_input].dtype : out_specs.at(0).dtype;
  const uint64_t seq = ++t_seq;

  const Kernel* kernel = nullptr;
  if (device.type != DeviceType::meta && !op.is_view()) kernel = select_kernel(op, device.type, key_dtype);

  // A composite runs as its decomposition unless a fused kernel stands in (and, under grad, has a vjp).
  if (op.is_composite() &&
      (t_decompose || device.type == DeviceType::meta || !kernel || (record_tape && !op.vjp))) {
    if (observed) call.dissolve();
    std::vector<Tensor> outputs;
    {
      RegionScope region(op.name);
      outputs = op.decompose(inputs, attrs);
    }
    if (observed)
      notify_composite(op, attrs, inputs, outputs, seq, in_specs);
    return outputs;
  }

  // The kernel window: output allocation and the kernel (a view: the view call).
  Timing timing;
  std::vector<Tensor> outputs;
  outputs.reserve(out_specs.size());
  if (device.type == DeviceType::meta) {
    if (observed) timing.start = clock::now();
    for (const TensorSpec& s : out_specs) outputs.push_back(Tensor::from_spec(s));
    if (observed) timing.end = clock::now();
    if (t_cost_probe) *t_cost_probe += op_cost(op, in_specs, out_specs, attrs);
  } else if (op.is_view()) {
    if (observed) timing.start = clock::now();
    if (op.views)
      outputs = op.views(inputs[0], out_specs, attrs);
    else
      outputs.push_back(op.view(inputs[0], out_specs[0], attrs));
    if (observed) timing.end = clock::now();
  } else {
    if (!kernel) no_kernel(op, device, key_dtype);
    InsideOp inside;
    std::vector<Tensor> contiguous_inputs;
    std::span<const Tensor> kernel_inputs = inputs;
    if (!kernel->strided_inputs) {
      for (int i = 0; i < n; ++i) {
        if (inputs[i].is_contiguous()) continue;
        if (contiguous_inputs.empty()) contiguous_inputs.assign(inputs.begin(), inputs.end());
        const bool prev = t_grad_mode;
        t_grad_mode = false;  // the copy is an implementation detail of this op, not on the tape
        contiguous_inputs[i] = copy(inputs[i]);
        t_grad_mode = prev;
      }
      if (!contiguous_inputs.empty()) kernel_inputs = contiguous_inputs;
    }
    // The copies above are ops of their own, nested in this call; the kernel window starts after them.
    if (observed) timing.start = clock::now();
    for (const TensorSpec& s : out_specs) outputs.push_back(Tensor::from_spec(s));
    KernelArgs args{kernel_inputs, outputs, attrs};
    kernel->fn(args);
    if (observed) timing.end = clock::now();
  }
  if (record_tape) g_tape(op, attrs, inputs, outputs, seq);
  if (observed) {
    // The call ends before the observers run: what they cost is outside every op.
    timing.call_start = call.start();
    timing.call_end = record_tape ? clock::now() : timing.end;  // nothing ran since the kernel window closed
    timing.self = call.self(timing.call_end);
    const int64_t observed_before = t_observer_ns;
    notify(op, attrs, inputs, outputs, kernel, seq, timing, in_specs, out_specs);
    // An enclosing op subtracts this call and its observers too: recording is in no op's time.
    call.finish(timing.call_end + (t_observer_ns - observed_before));
  }
  return outputs;
}

Tensor dispatch1(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs) {
  std::vector<Tensor> out = dispatch(op, inputs, attrs);
  if (out.size() != 1) fail(op.name, ": expected one output, got ", out.size());
  return std::move(out[0]);
}

}  // namespace plumb
