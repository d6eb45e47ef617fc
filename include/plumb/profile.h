#pragma once
// The profiler: op events from the dispatcher (never from call sites), grouped into steps, with the
// Fathom protocol (run N steps, drop the first and last, ops serialized on one thread), summaries by
// op type / class / phase / module, coverage and k90, and JSON / CSV / Chrome-trace output.
// The JSON schema is documented in docs/profile.md; kProfileSchemaVersion changes with it.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plumb/dispatch.h"

namespace plumb::models {
class Workload;
}

namespace plumb::profile {

inline constexpr int kProfileSchemaVersion = 1;

// One executed op (a primitive, a view, or a fused kernel standing in for a composite).
struct OpRecord {
  std::string op;        // op type: "conv", "matmul", ...
  std::string op_class;  // "convolution", "matrix", ... (op_class_name)
  std::string phase;     // "forward", "backward", "optimizer"
  std::string module;    // module path joined with '.', e.g. "features.0"; "" outside any module
  std::string region;    // enclosing composites joined with '/', outermost first; "" when none
  std::vector<std::vector<int64_t>> input_shapes, output_shapes;
  std::string dtype;     // dtype of the first output (of the first input when there is no output)
  std::string device;    // "cpu", "meta", ...
  std::string backend;   // kernel backend ("reference", "openblas", "onednn", ...); "" for views and meta
  int thread = 0;        // dispatching thread: 0 ran the first step, the rest in order of first event
  int step = -1;         // index into Profile::steps; -1 outside any step
  int64_t start_ns = 0;     // dispatcher entry, from the profile's origin (its earliest event)
  int64_t duration_ns = 0;  // the dispatcher's self time for this op (OpEvent::self_ns): nested ops excluded
  int64_t kernel_ns = 0;    // the kernel window: output allocation + kernel (a view: the view call)
  double flops = 0;
  double bytes_read = 0, bytes_written = 0;
  uint64_t seq = 0, forward_seq = 0;  // forward_seq links a backward op to its forward op's seq

  bool operator==(const OpRecord&) const = default;
};

// A span that is not an op: a composite run as its decomposition ("composite"), a module's forward
// ("module"), data loading ("data"), or any other named RegionScope ("region").
struct RegionRecord {
  std::string name;   // composite op name, module path, or region name
  std::string kind;   // "composite", "module", "data", "region"
  int thread = 0;
  int step = -1;
  int64_t start_ns = 0;
  int64_t duration_ns = 0;

  bool operator==(const RegionRecord&) const = default;
};

struct StepRecord {
  int index = 0;
  bool measured = false;  // false for the dropped first and last steps
  int64_t start_ns = 0;   // from the profile's origin: its earliest event
  int64_t wall_ns = 0;    // steady clock
  int64_t cpu_ns = 0;     // process CPU time (all threads)
  int64_t op_ns = 0;      // sum of op self times on the step's thread (ops are serialized: no overlap)
  int64_t kernel_ns = 0;  // sum of those ops' kernel windows
  int64_t data_ns = 0;    // "data" region time in the step, less the ops that ran inside it
  int64_t profiler_ns = 0;  // the profiler's own recording on the step's thread (outside every op)

  bool operator==(const StepRecord&) const = default;
};

// What ran, where, with what settings.
struct RunInfo {
  std::string workload;  // registered model name, or a free name for hand-driven profiles
  std::string variant;
  std::string mode;      // "train" or "infer"
  int64_t batch = 0;
  int threads = 0;       // intra-op threads (plumb::num_threads())
  int steps = 0;         // steps run, including dropped ones
  int drop_first = 0, drop_last = 0;
  std::string data;      // "synthetic" or a dataset name
  std::string description;  // Workload::describe()
  std::string host;      // CPU model name from /proc/cpuinfo, "" when unknown
  std::string plumb_version;

  bool operator==(const RunInfo&) const = default;
};

// One point of an intra-op thread sweep: mean measured step wall time at `threads`.
struct ScalingPoint {
  int threads = 0;
  double step_ms = 0;
  bool operator==(const ScalingPoint&) const = default;
};

struct Profile {
  int version = kProfileSchemaVersion;
  RunInfo run;
  std::vector<StepRecord> steps;
  std::vector<OpRecord> ops;          // in execution order
  std::vector<RegionRecord> regions;  // in begin order
  std::vector<ScalingPoint> scaling;  // empty unless a thread sweep ran

  bool operator==(const Profile&) const = default;
};

// Collects op and region events while attached; begin_step/end_step bracket steps. Thread-safe:
// events from several dispatching threads are recorded with their thread number. Recording is
// cheap (interned names, flat shape storage); strings are built in finish().
class Profiler final : public DispatchObserver {
 public:
  Profiler();
  ~Profiler() override;  // detaches if attached
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  void attach();  // add_observer(this); idempotent
  void detach();
  void begin_step(bool measured = true);
  void end_step();
  // Materializes everything recorded so far (RunInfo filled by the caller).
  Profile finish(const RunInfo& run) const;
  void clear();

  void on_op(const OpEvent& e) override;
  void on_region_begin(std::string_view name, int64_t t_ns) override;
  void on_region_end(std::string_view name, int64_t t_ns) override;
  void on_module_begin(std::span<const std::string> path, int64_t t_ns) override;
  void on_module_end(std::span<const std::string> path, int64_t t_ns) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The Fathom protocol: `steps` steps of `workload`, the first `drop_first` and last `drop_last`
// unmeasured, ops serialized on the calling thread. Throws Error when steps - drops < 1.
struct ProtocolOptions {
  int steps = 12;
  int drop_first = 1;
  int drop_last = 1;
};
Profile profile_workload(models::Workload& workload, const ProtocolOptions& options = {});

// Mean measured step wall time (ms) of `workload` at each thread count, profiler detached; the
// thread count is restored afterwards.
std::vector<ScalingPoint> thread_sweep(models::Workload& workload, const std::vector<int>& threads,
                                       const ProtocolOptions& options = {});

// A device's roofs, for % of peak and the roofline (hw/devices.h makes them).
struct Roofs {
  std::string device;        // e.g. "this machine (calibrated)", "NVIDIA H100 SXM"
  double peak_gflops = 0;    // dense fp32 GFLOP/s
  double bandwidth_gbs = 0;  // GB/s (1e9 bytes/s)
};

// One row of a summary, over the measured steps; times are totals over those steps.
struct SummaryRow {
  std::string key;       // op type, class, phase or module path
  std::string op_class;  // for op-type rows: the op's class; "" otherwise
  int64_t calls = 0;
  double time_ns = 0;    // op (self) time
  double kernel_ns = 0;  // kernel-window time
  double share = 0;      // of total op time, in [0, 1]
  double flops = 0, bytes = 0;
  double gflops = 0;     // achieved by the kernels: flops / kernel time
  double gbs = 0;        // achieved by the kernels: bytes / kernel time
  double intensity = 0;  // flops / bytes (0 when bytes is 0)
  double peak_fraction = 0;  // gflops / roofs.peak_gflops, 0 without roofs
};

struct Summary {
  int measured_steps = 0;
  double step_wall_ns = 0;  // mean over measured steps
  double step_cpu_ns = 0;
  double op_ns = 0;         // mean op time per measured step
  double kernel_ns = 0;     // mean kernel-window time per measured step
  double data_ns = 0;       // mean data-region time per measured step
  double profiler_ns = 0;   // mean recording time of the profiler itself per measured step
  // step_wall - profiler - op - data: framework (autograd, allocation, module and optimizer glue)
  double overhead_ns = 0;
  // Of the step as it runs without the profiler (step_wall - profiler): the share in ops, and in kernels.
  double coverage = 0;         // op_ns / (step_wall_ns - profiler_ns)
  double kernel_coverage = 0;  // kernel_ns / (step_wall_ns - profiler_ns)
  double flops_per_step = 0, bytes_per_step = 0;
  int k90 = 0;              // op types, most expensive first, needed to reach 90% of op time
  std::vector<SummaryRow> by_op, by_class, by_phase, by_module;  // each sorted by time, descending
};

// Number of rows (sorted descending by time) whose cumulative share first reaches `fraction`.
int k_cover(const std::vector<SummaryRow>& rows_by_time, double fraction);
Summary summarize(const Profile& p, const std::optional<Roofs>& roofs = std::nullopt);

// JSON (schema in docs/profile.md). to_json(from_json(to_json(p))) is byte-identical to to_json(p).
std::string to_json(const Profile& p);
// Throws Error naming `source` on garbled JSON, a missing field, or a schema version other than
// kProfileSchemaVersion.
Profile from_json(std::string_view text, const std::string& source = "profile");
void write_profile(const Profile& p, const std::string& path);  // temp file + rename
Profile read_profile(const std::string& path);

// CSV: one row per op type of summarize(p, roofs) (header first).
std::string to_csv(const Profile& p, const std::optional<Roofs>& roofs = std::nullopt);
// Chrome trace-event JSON (Perfetto opens it): one track per thread, complete ("X") events for steps,
// modules, composites and ops so ops nest in their composite and module; args carry shapes, class,
// phase, FLOPs and bytes.
std::string to_chrome_trace(const Profile& p);
// Writes `text` to `path` through a temporary file and rename; throws Error naming the path.
void write_text_file(const std::string& path, std::string_view text);

}  // namespace plumb::profile
