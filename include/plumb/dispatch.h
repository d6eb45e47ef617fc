#pragma once
// The single dispatcher: every op call, forward or backward, goes through dispatch().
#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/op.h"

namespace plumb {

enum class Phase : uint8_t { forward, backward, optimizer };
std::string_view phase_name(Phase p);

std::vector<Tensor> dispatch(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs);
Tensor dispatch1(const OpDef& op, std::span<const Tensor> inputs, const Attrs& attrs);  // single output

// What the dispatcher reports about one executed op.
struct OpEvent {
  const OpDef* op = nullptr;
  const Attrs* attrs = nullptr;
  std::span<const Tensor> inputs;
  std::span<const Tensor> outputs;
  const Kernel* kernel = nullptr;  // null on meta and for views
  uint64_t seq = 0;                // per-process op sequence number
  uint64_t forward_seq = 0;        // for backward ops: the forward op whose vjp issued it
  Phase phase = Phase::forward;
  int64_t start_ns = 0, end_ns = 0;  // steady clock: the kernel window (output allocation + kernel; a view: the view call)
  // The whole dispatch of this op: entry to exit (inference, kernel selection, kernel window, tape node),
  // observers excluded. self_ns is that less the full calls of ops dispatched inside it (contiguous copies).
  int64_t call_start_ns = 0, call_end_ns = 0;
  int64_t self_ns = 0;
  Cost cost;
  std::span<const std::string> regions;  // enclosing composites, outermost first
  std::span<const std::string> modules;  // enclosing module path, outermost first
  // Dispatched from inside another op's call (the contiguous-input copies a kernel needs): part of
  // that op, not a step of the program. Graph capture skips these; the profiler times them.
  bool nested = false;
};

class DispatchObserver {
 public:
  virtual ~DispatchObserver() = default;
  virtual void on_op(const OpEvent& e) = 0;
  virtual void on_region_begin(std::string_view /*name*/, int64_t /*t_ns*/) {}
  virtual void on_region_end(std::string_view /*name*/, int64_t /*t_ns*/) {}
  // A module's forward begins or ends; `path` is the module path, outermost first, this module last.
  virtual void on_module_begin(std::span<const std::string> /*path*/, int64_t /*t_ns*/) {}
  virtual void on_module_end(std::span<const std::string> /*path*/, int64_t /*t_ns*/) {}
  // A composite ran as its decomposition: its primitives were reported (inside its region, which has
  // just ended); this reports the call itself, with its inputs, outputs and attributes, no kernel and
  // no timing. Graph capture folds the primitives back into one node.
  virtual void on_composite(const OpEvent& /*e*/) {}
};

// Observers (profiler, graph capture) attach process-wide. With none attached, the dispatcher's
// instrumentation costs one relaxed atomic load.
void add_observer(DispatchObserver* o);
void remove_observer(DispatchObserver* o);

class ObserverScope {
 public:
  explicit ObserverScope(DispatchObserver* o) : o_(o) { add_observer(o); }
  ~ObserverScope() { remove_observer(o_); }
  ObserverScope(const ObserverScope&) = delete;
  ObserverScope& operator=(const ObserverScope&) = delete;

 private:
  DispatchObserver* o_;
};

// Thread-local context the dispatcher stamps on events.
class PhaseScope {
 public:
  PhaseScope(Phase p, uint64_t forward_seq = 0);
  ~PhaseScope();

 private:
  Phase prev_;
  uint64_t prev_fwd_;
};
Phase current_phase();

class RegionScope {  // a composite or named region around primitives
 public:
  explicit RegionScope(std::string name);
  ~RegionScope();
};

class ModuleScope {  // module path component, pushed by nn::Module::operator()
 public:
  explicit ModuleScope(std::string name);
  ~ModuleScope();
};

// Forces a kernel backend ("reference", "openblas", ...) for ops that have one; the harness uses it.
class BackendScope {
 public:
  explicit BackendScope(std::string backend);
  ~BackendScope();

 private:
  std::string prev_;
};

// Lets composites run as their decomposition even when a fused kernel exists.
class DecomposeScope {
 public:
  explicit DecomposeScope(bool decompose = true);
  ~DecomposeScope();

 private:
  bool prev_;
};

// Called by the dispatcher after an op runs, when an input requires grad; installed by autograd.
using TapeRecorder = void (*)(const OpDef& op, const Attrs& attrs, std::span<const Tensor> inputs,
                              std::span<Tensor> outputs, uint64_t seq);
void set_tape_recorder(TapeRecorder r);

// Cost of one op call from specs; composites without a cost function sum their decomposition.
Cost op_cost(const OpDef& op, std::span<const TensorSpec> in, std::span<const TensorSpec> out,
             const Attrs& attrs);

int64_t now_ns();
// Time the calling thread has spent notifying observers (building events and running their
// callbacks), cumulative: a profiler takes its own recording time out of the step it measures.
int64_t observer_ns_on_this_thread();

}  // namespace plumb

namespace plumb {
// Grad mode is thread-local; autograd's NoGradScope flips it.
bool grad_mode_enabled();
void set_grad_mode_enabled(bool on);
}  // namespace plumb
