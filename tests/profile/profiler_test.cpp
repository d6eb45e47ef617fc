// Profiler: events grouped into steps, module paths and composites, backward ops attributed to their
// forward op's module, threads numbered, attach/detach/clear.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "plumb/autograd.h"
#include "plumb/nn/layers.h"
#include "plumb/nn/optim.h"
#include "plumb/op_attrs.h"
#include "plumb/ops.h"
#include "plumb/profile.h"

namespace plumb::profile {
namespace {

using nn::Linear;
using nn::ReLU;
using nn::Sequential;

// A small training loop, driven by hand: forward through modules, cross-entropy, backward, SGD.
struct TinyTrainer {
  std::shared_ptr<Sequential> net = std::make_shared<Sequential>(
      Sequential{std::make_shared<Linear>(4, 8), std::make_shared<ReLU>(), std::make_shared<Linear>(8, 3)});
  std::unique_ptr<nn::Optimizer> opt = nn::make_optimizer("sgd", net->named_parameters(), 0.1);
  Tensor x = Tensor::ones({2, 4});
  Tensor labels = Tensor::from_vector(std::vector<int64_t>{0, 2}, Shape{2});

  void step() {
    opt->zero_grad();
    const Tensor loss = cross_entropy((*net)(x), labels);
    backward(loss);
    opt->step();
  }
};

Profile run_steps(int steps, int measured_from, int measured_to) {
  TinyTrainer t;
  Profiler prof;
  prof.attach();
  for (int i = 0; i < steps; ++i) {
    prof.begin_step(i >= measured_from && i < measured_to);
    t.step();
    prof.end_step();
  }
  prof.detach();
  RunInfo run;
  run.workload = "tiny";
  return prof.finish(run);
}

TEST(Profiler, GroupsOpsIntoSteps) {
  const Profile p = run_steps(4, 1, 3);
  EXPECT_EQ(p.run.workload, "tiny");
  ASSERT_EQ(p.steps.size(), 4u);
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const StepRecord& s = p.steps[i];
    EXPECT_EQ(s.index, static_cast<int>(i));
    EXPECT_EQ(s.measured, i == 1 || i == 2);
    EXPECT_GT(s.wall_ns, 0);
    EXPECT_GT(s.op_ns, 0);
    EXPECT_LE(s.op_ns, s.wall_ns);
    EXPECT_GE(s.start_ns, 0);
    if (i > 0) {
      EXPECT_GE(s.start_ns, p.steps[i - 1].start_ns + p.steps[i - 1].wall_ns);
    }
  }
  // Every op falls in a step, inside that step's span; op time sums to the step's op_ns.
  std::vector<int64_t> op_sum(p.steps.size(), 0);
  std::map<int, int> ops_per_step;
  for (const OpRecord& o : p.ops) {
    ASSERT_GE(o.step, 0) << o.op;
    const StepRecord& s = p.steps[static_cast<size_t>(o.step)];
    EXPECT_GE(o.start_ns, s.start_ns) << o.op;
    EXPECT_LE(o.start_ns + o.duration_ns, s.start_ns + s.wall_ns) << o.op;
    EXPECT_GE(o.duration_ns, 0);
    EXPECT_EQ(o.thread, 0);
    op_sum[static_cast<size_t>(o.step)] += o.duration_ns;
    ++ops_per_step[o.step];
  }
  for (size_t i = 0; i < p.steps.size(); ++i) EXPECT_EQ(op_sum[i], p.steps[i].op_ns);
  // Steps after the first run the same ops.
  EXPECT_EQ(ops_per_step[1], ops_per_step[2]);
  EXPECT_EQ(ops_per_step[2], ops_per_step[3]);
}

TEST(Profiler, RecordsPhasesModulesShapesAndCost) {
  const Profile p = run_steps(2, 0, 2);
  std::set<std::string> phases, forward_modules;
  bool saw_matmul = false;
  for (const OpRecord& o : p.ops) {
    phases.insert(o.phase);
    EXPECT_FALSE(o.op_class.empty());
    EXPECT_EQ(o.device, "cpu");
    if (o.phase == "forward" && !o.module.empty()) forward_modules.insert(o.module);
    if (o.op == "matmul" && o.phase == "forward" && o.module == "0") {
      saw_matmul = true;
      EXPECT_EQ(o.op_class, "matrix");
      ASSERT_EQ(o.output_shapes.size(), 1u);
      EXPECT_EQ(o.output_shapes[0], (std::vector<int64_t>{2, 8}));
      EXPECT_EQ(o.dtype, "f32");
      EXPECT_EQ(o.flops, 2.0 * 2 * 4 * 8);
      EXPECT_GT(o.bytes_read, 0);
      EXPECT_FALSE(o.backend.empty());
    }
    if (o.phase == "optimizer") {
      EXPECT_EQ(o.module, "");
    }
  }
  EXPECT_TRUE(saw_matmul);
  EXPECT_EQ(phases, (std::set<std::string>{"forward", "backward", "optimizer"}));
  EXPECT_EQ(forward_modules, (std::set<std::string>{"0", "1", "2"}));

  // Module spans: one per module call per step, kind "module".
  std::map<std::string, int> module_spans;
  for (const RegionRecord& r : p.regions)
    if (r.kind == "module") ++module_spans[r.name];
  EXPECT_EQ(module_spans, (std::map<std::string, int>{{"0", 2}, {"1", 2}, {"2", 2}}));
}

TEST(Profiler, BackwardOpsTakeTheirForwardOpsModule) {
  const Profile p = run_steps(1, 0, 1);
  std::map<uint64_t, const OpRecord*> by_seq;
  for (const OpRecord& o : p.ops) by_seq[o.seq] = &o;
  int linked = 0, in_module = 0;
  for (const OpRecord& o : p.ops) {
    if (o.phase != "backward") continue;
    if (o.forward_seq == 0) continue;
    auto it = by_seq.find(o.forward_seq);
    ASSERT_NE(it, by_seq.end()) << o.op << " links to an op that was not recorded";
    EXPECT_LT(it->second->seq, o.seq);
    EXPECT_EQ(o.module, it->second->module) << o.op;
    ++linked;
    if (!o.module.empty()) ++in_module;
  }
  EXPECT_GT(linked, 0);
  EXPECT_GT(in_module, 0);  // the linear layers' backward ops land in modules "0" and "2"
}

TEST(Profiler, CompositesAreRegionsAroundTheirPrimitives) {
  Profiler prof;
  const Tensor x = Tensor::ones({3, 5});
  {
    DecomposeScope decompose;
    prof.attach();
    prof.begin_step();
    softmax(x);
    prof.end_step();
    prof.detach();
  }
  const Profile p = prof.finish({});
  ASSERT_EQ(p.regions.size(), 1u);
  const RegionRecord& r = p.regions[0];
  EXPECT_EQ(r.name, "softmax");
  EXPECT_EQ(r.kind, "composite");
  EXPECT_EQ(r.step, 0);
  ASSERT_FALSE(p.ops.empty());
  for (const OpRecord& o : p.ops) {
    EXPECT_EQ(o.region, "softmax") << o.op;
    EXPECT_GE(o.start_ns, r.start_ns);
    EXPECT_LE(o.start_ns + o.duration_ns, r.start_ns + r.duration_ns);
  }
}

TEST(Profiler, NamedRegionsAreDataOrRegion) {
  Profiler prof;
  prof.attach();
  prof.begin_step();
  {
    RegionScope data("data");
    relu(Tensor::ones({4}));  // an op inside the data region is op time, not data time
  }
  { RegionScope other("warmup"); }
  prof.end_step();
  prof.detach();
  const Profile p = prof.finish({});
  ASSERT_EQ(p.regions.size(), 2u);
  EXPECT_EQ(p.regions[0].kind, "data");
  EXPECT_EQ(p.regions[1].kind, "region");
  EXPECT_EQ(p.regions[1].name, "warmup");
  ASSERT_EQ(p.ops.size(), 1u);
  EXPECT_EQ(p.ops[0].region, "");  // only composites make up the region path
  // Data time is the region less its ops and less the profiler's recording of them.
  EXPECT_LT(p.steps[0].data_ns, p.regions[0].duration_ns - p.ops[0].duration_ns);
  EXPECT_GE(p.steps[0].data_ns, 0);
  EXPECT_LE(p.steps[0].op_ns + p.steps[0].data_ns + p.steps[0].profiler_ns, p.steps[0].wall_ns);
}

TEST(Profiler, ChargesItsOwnRecordingToTheStepNotToOps) {
  const int64_t idle_before = observer_ns_on_this_thread();
  relu(Tensor::ones({4}));  // nobody observes: nothing is charged
  EXPECT_EQ(observer_ns_on_this_thread(), idle_before);

  Profiler prof;
  prof.attach();
  prof.begin_step();
  for (int i = 0; i < 50; ++i) relu(Tensor::ones({4}));
  prof.end_step();
  prof.detach();
  const Profile p = prof.finish({});
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_GT(p.steps[0].profiler_ns, 0);
  EXPECT_LE(p.steps[0].op_ns + p.steps[0].profiler_ns, p.steps[0].wall_ns);
}

TEST(Profiler, AttachIsIdempotentAndDetachStopsRecording) {
  Profiler prof;
  prof.attach();
  prof.attach();
  relu(Tensor::ones({4}));
  prof.detach();
  relu(Tensor::ones({4}));
  Profile p = prof.finish({});
  ASSERT_EQ(p.ops.size(), 1u);
  EXPECT_EQ(p.ops[0].step, -1);  // outside any step
  EXPECT_TRUE(p.steps.empty());

  prof.clear();
  p = prof.finish({});
  EXPECT_TRUE(p.ops.empty());
  EXPECT_TRUE(p.regions.empty());
}

TEST(Profiler, DestructorDetaches) {
  {
    Profiler prof;
    prof.attach();
  }
  relu(Tensor::ones({4}));  // would crash if the dead profiler were still attached
  SUCCEED();
}

TEST(Profiler, NumbersThreadsStepThreadFirst) {
  Profiler prof;
  prof.attach();
  std::thread([] { relu(Tensor::ones({4})); }).join();  // another thread dispatches first
  prof.begin_step();
  relu(Tensor::ones({4}));
  prof.end_step();
  prof.detach();
  const Profile p = prof.finish({});
  ASSERT_EQ(p.ops.size(), 2u);
  EXPECT_EQ(p.ops[0].thread, 1);
  EXPECT_EQ(p.ops[0].step, -1);
  EXPECT_EQ(p.ops[1].thread, 0);
  EXPECT_EQ(p.ops[1].step, 0);
  EXPECT_EQ(p.steps[0].op_ns, p.ops[1].duration_ns);
}

TEST(Profiler, OpsOnOtherThreadsDoNotCountTowardStepOpTime) {
  Profiler prof;
  prof.attach();
  prof.begin_step();
  relu(Tensor::ones({4}));
  std::thread([] { relu(Tensor::ones({4})); }).join();
  prof.end_step();
  prof.detach();
  const Profile p = prof.finish({});
  ASSERT_EQ(p.ops.size(), 2u);
  EXPECT_EQ(p.ops[1].thread, 1);
  EXPECT_EQ(p.ops[1].step, 0);  // recorded in the step...
  EXPECT_EQ(p.steps[0].op_ns, p.ops[0].duration_ns);  // ...but overlaps the step thread, so not summed
}

TEST(Profiler, AnOpenStepIsNotMeasured) {
  Profiler prof;
  prof.attach();
  prof.begin_step();
  relu(Tensor::ones({4}));
  const Profile p = prof.finish({});
  prof.detach();
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_FALSE(p.steps[0].measured);
  EXPECT_GE(p.steps[0].wall_ns, p.ops[0].duration_ns);
}

TEST(Profiler, ViewsAreRecordedWithoutABackend) {
  Profiler prof;
  prof.attach();
  reshape(Tensor::ones({2, 3}), {3, 2});
  prof.detach();
  const Profile p = prof.finish({});
  ASSERT_EQ(p.ops.size(), 1u);
  EXPECT_EQ(p.ops[0].op_class, "movement");
  EXPECT_EQ(p.ops[0].backend, "");
  EXPECT_EQ(p.ops[0].input_shapes, (std::vector<std::vector<int64_t>>{{2, 3}}));
  EXPECT_EQ(p.ops[0].output_shapes, (std::vector<std::vector<int64_t>>{{3, 2}}));
}

}  // namespace
}  // namespace plumb::profile

namespace plumb::profile {
namespace {

// A fused composite without a cost formula is costed by its decomposition; the dispatcher memoizes
// that per (op, input specs, attrs), which must give what op_cost gives for every distinct call.
TEST(Profiler, FusedCompositeCostMatchesItsDecompositionAcrossShapesAndAttrs) {
  struct Call {
    Shape shape;
    int64_t axis;
  };
  const std::vector<Call> calls{{{2, 3}, 1}, {{2, 3}, 0}, {{4, 5}, 1}, {{2, 3}, 1}, {{4, 5}, 1}, {{3, 3, 2}, -1}};
  Profiler prof;
  prof.attach();
  for (const Call& c : calls) softmax(Tensor::ones(c.shape), c.axis);
  prof.detach();
  const Profile p = prof.finish({});
  ASSERT_EQ(p.ops.size(), calls.size()) << "softmax ran decomposed; this test needs its fused kernel";
  const OpDef& def = op_def("softmax");
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(p.ops[i].op, "softmax");
    AxisAttrs a;
    a.axis = calls[i].axis;
    const std::vector<TensorSpec> in{{calls[i].shape, DType::f32, kCPU}};
    const Cost c = op_cost(def, in, def.infer(in, a), a);
    EXPECT_DOUBLE_EQ(p.ops[i].flops, c.flops) << i;
    EXPECT_DOUBLE_EQ(p.ops[i].bytes_read, c.bytes_read) << i;
    EXPECT_DOUBLE_EQ(p.ops[i].bytes_written, c.bytes_written) << i;
  }
  EXPECT_NE(p.ops[0].flops, p.ops[2].flops);  // different shapes, different costs
}

}  // namespace
}  // namespace plumb::profile

namespace plumb::profile {
namespace {

TEST(Profiler, AttachingInsideModulesAndRegionsStillGivesFullPaths) {
  const Tensor x = Tensor::ones({4});
  Profiler prof;
  {
    ModuleScope outer("outer");
    RegionScope region("warmup");
    prof.attach();
    {
      ModuleScope inner("inner");
      relu(x);
    }
    relu(x);
  }
  {
    ModuleScope next("next");
    relu(x);
  }
  prof.detach();
  const Profile p = prof.finish({});
  ASSERT_EQ(p.ops.size(), 3u);
  EXPECT_EQ(p.ops[0].module, "outer.inner");
  EXPECT_EQ(p.ops[1].module, "outer");
  EXPECT_EQ(p.ops[2].module, "next");
  // Spans that began before attaching are not recorded; the others are.
  ASSERT_EQ(p.regions.size(), 2u);
  EXPECT_EQ(p.regions[0].name, "outer.inner");
  EXPECT_EQ(p.regions[1].name, "next");
}

TEST(Profiler, DetachingInsideAModuleEndsItsSpan) {
  const Tensor x = Tensor::ones({4});
  Profiler prof;
  prof.attach();
  {
    ModuleScope m("m");
    relu(x);
    prof.detach();
  }
  prof.attach();
  relu(x);
  {
    ModuleScope n("n");
    relu(x);
  }
  prof.detach();
  const Profile p = prof.finish({});
  ASSERT_EQ(p.ops.size(), 3u);
  EXPECT_EQ(p.ops[0].module, "m");
  EXPECT_EQ(p.ops[1].module, "");
  EXPECT_EQ(p.ops[2].module, "n");
  ASSERT_EQ(p.regions.size(), 2u);
  EXPECT_EQ(p.regions[0].name, "m");
  EXPECT_GE(p.regions[0].start_ns + p.regions[0].duration_ns, p.ops[0].start_ns + p.ops[0].duration_ns);
  EXPECT_LE(p.regions[0].start_ns + p.regions[0].duration_ns, p.ops[1].start_ns);  // ended at detach
  EXPECT_EQ(p.regions[1].name, "n");
}

}  // namespace
}  // namespace plumb::profile

namespace plumb::profile {
namespace {

// Every dispatcher event, with its times.
struct TimedEvents : DispatchObserver {
  struct Row {
    std::string op;
    int64_t start, end, call_start, call_end, self;
    int64_t observed;  // the thread's observer clock when this event was delivered
  };
  std::vector<Row> rows;
  void on_op(const OpEvent& e) override {
    rows.push_back({e.op->name, e.start_ns, e.end_ns, e.call_start_ns, e.call_end_ns, e.self_ns,
                    observer_ns_on_this_thread()});
  }
};

// pad's kernel wants contiguous inputs: given a permuted view, the dispatcher copies it first.
Tensor permuted() { return permute(Tensor::ones({5, 4}), {1, 0}); }  // [4, 5], not contiguous

TEST(DispatchTiming, ANestedCopyIsTimedInsideItsCallerAndNotTwice) {
  const Tensor a = permuted();
  ASSERT_FALSE(a.is_contiguous());
  TimedEvents ev;
  {
    ObserverScope scope(&ev);
    pad(a, {1, 1, 1, 1});
  }
  ASSERT_EQ(ev.rows.size(), 2u);
  const auto& copy = ev.rows[0];  // recorded first: its call ends inside pad's
  const auto& padded = ev.rows[1];
  EXPECT_EQ(copy.op, "copy");
  EXPECT_EQ(padded.op, "pad");
  // The copy's call lies inside pad's, before pad's kernel window.
  EXPECT_LT(padded.call_start, copy.call_start);
  EXPECT_LE(copy.call_end, padded.start);
  EXPECT_LE(padded.end, padded.call_end);
  // Self times: the copy has nothing nested; pad's excludes the copy's whole call and the recording
  // of the copy's event (observer time, the clock's advance between the two deliveries), exactly.
  EXPECT_EQ(copy.self, copy.call_end - copy.call_start);
  const int64_t copy_recording = padded.observed - copy.observed;
  EXPECT_GT(copy_recording, 0);
  EXPECT_EQ(padded.self + (copy.call_end - copy.call_start) + copy_recording, padded.call_end - padded.call_start);
  EXPECT_GE(padded.self, padded.end - padded.start);  // the kernel window is part of the self time
}

TEST(DispatchTiming, EveryEventHasOrderedTimesAndTheKernelWindowInsideTheCall) {
  TinyTrainer t;
  TimedEvents ev;
  {
    ObserverScope scope(&ev);
    t.step();
    reshape(Tensor::ones({2, 3}), {3, 2});                             // a view
    relu(Tensor::empty({2, 3}, DType::f32, kMeta));                    // meta
    pad(permuted(), {1, 1, 1, 1});                                     // a nested copy
  }
  ASSERT_GT(ev.rows.size(), 10u);
  for (const auto& r : ev.rows) {
    EXPECT_GT(r.call_start, 0) << r.op;
    EXPECT_LE(r.call_start, r.start) << r.op;
    EXPECT_LE(r.start, r.end) << r.op;
    EXPECT_LE(r.end, r.call_end) << r.op;
    EXPECT_GE(r.self, r.end - r.start) << r.op;            // nested calls never overlap the kernel window
    EXPECT_LE(r.self, r.call_end - r.call_start) << r.op;  // and are only ever subtracted
  }
}

TEST(Profiler, OpTimeIsSelfTimeAndKernelTimeIsPartOfIt) {
  const Tensor a = permuted();
  Profiler prof;
  prof.attach();
  prof.begin_step();
  pad(a, {1, 1, 1, 1});
  prof.end_step();
  prof.detach();
  const Profile p = prof.finish({});
  ASSERT_EQ(p.ops.size(), 2u);
  const OpRecord& copy = p.ops[0];
  const OpRecord& padded = p.ops[1];
  EXPECT_EQ(copy.op, "copy");
  EXPECT_EQ(padded.op, "pad");
  // start is the dispatcher's entry: the copy begins after pad's entry and ends before pad's kernel.
  EXPECT_LT(padded.start_ns, copy.start_ns);
  EXPECT_LE(copy.kernel_ns, copy.duration_ns);
  EXPECT_LE(padded.kernel_ns, padded.duration_ns);
  EXPECT_GT(padded.kernel_ns, 0);
  EXPECT_EQ(p.steps[0].op_ns, copy.duration_ns + padded.duration_ns);  // nothing counted twice
  EXPECT_EQ(p.steps[0].kernel_ns, copy.kernel_ns + padded.kernel_ns);
  EXPECT_LE(p.steps[0].op_ns, p.steps[0].wall_ns);
}

TEST(Profiler, CoverageIsAtLeastKernelCoverage) {
  const Profile p = run_steps(3, 1, 3);
  for (const OpRecord& o : p.ops) {
    EXPECT_GE(o.kernel_ns, 0) << o.op;
    EXPECT_LE(o.kernel_ns, o.duration_ns) << o.op;
  }
  for (const StepRecord& s : p.steps) {
    EXPECT_GT(s.kernel_ns, 0);
    EXPECT_LE(s.kernel_ns, s.op_ns);
  }
  const Summary s = summarize(p);
  EXPECT_GT(s.kernel_coverage, 0);
  EXPECT_GE(s.coverage, s.kernel_coverage);
  EXPECT_LE(s.coverage, 1);
  for (const SummaryRow& r : s.by_op) {
    EXPECT_LE(r.kernel_ns, r.time_ns) << r.key;
    if (r.kernel_ns > 0) {
      EXPECT_DOUBLE_EQ(r.gflops, r.flops / r.kernel_ns) << r.key;  // kernels' achieved rate
    }
  }
}

}  // namespace
}  // namespace plumb::profile
