// The Fathom protocol on registered workloads: steps with measured flags, all three phases, module
// paths, backward ops linked to forward ops, coverage and k90. Structural checks only, no timings.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "plumb/error.h"
#include "plumb/profile.h"
#include "plumb/thread_pool.h"
#include "plumb/workload.h"

namespace plumb::profile {
namespace {

void check_training_profile(const std::string& model) {
  auto w = models::make_workload(model, {.mode = models::Mode::train, .batch = 8});
  const Profile p = profile_workload(*w, {.steps = 5, .drop_first = 1, .drop_last = 1});

  EXPECT_EQ(p.version, kProfileSchemaVersion);
  EXPECT_EQ(p.run.workload, model);
  EXPECT_EQ(p.run.mode, "train");
  EXPECT_EQ(p.run.batch, 8);
  EXPECT_EQ(p.run.steps, 5);
  EXPECT_EQ(p.run.drop_first, 1);
  EXPECT_EQ(p.run.drop_last, 1);
  EXPECT_EQ(p.run.threads, num_threads());
  EXPECT_EQ(p.run.description, w->describe());
  EXPECT_EQ(p.run.data, "synthetic");
  EXPECT_FALSE(p.run.plumb_version.empty());

  ASSERT_EQ(p.steps.size(), 5u);
  for (size_t i = 0; i < p.steps.size(); ++i) EXPECT_EQ(p.steps[i].measured, i >= 1 && i <= 3) << i;

  std::set<std::string> phases, modules;
  std::map<uint64_t, const OpRecord*> by_seq;
  for (const OpRecord& o : p.ops) {
    phases.insert(o.phase);
    if (!o.module.empty()) modules.insert(o.module);
    by_seq[o.seq] = &o;
    EXPECT_GE(o.step, 0);
  }
  EXPECT_EQ(phases, (std::set<std::string>{"forward", "backward", "optimizer"}));
  EXPECT_FALSE(modules.empty());

  int linked = 0;
  for (const OpRecord& o : p.ops) {
    if (o.phase != "backward" || o.forward_seq == 0) continue;
    auto it = by_seq.find(o.forward_seq);
    ASSERT_NE(it, by_seq.end()) << o.op;
    EXPECT_EQ(it->second->step, o.step);
    EXPECT_EQ(o.module, it->second->module);
    ++linked;
  }
  EXPECT_GT(linked, 0);

  const Summary s = summarize(p);
  EXPECT_EQ(s.measured_steps, 3);
  EXPECT_GT(s.coverage, 0);
  EXPECT_LE(s.coverage, 1.02);
  EXPECT_GE(s.k90, 1);
  EXPECT_LE(s.k90, static_cast<int>(s.by_op.size()));
  EXPECT_GT(s.flops_per_step, 0);
  EXPECT_NEAR(s.overhead_ns, s.step_wall_ns - s.profiler_ns - s.op_ns - s.data_ns, 1e-6 * s.step_wall_ns);
  // The profiler recorded every op, so its own time is measured and is a part of each step.
  EXPECT_GT(s.profiler_ns, 0);
  for (const StepRecord& st : p.steps)
    EXPECT_LE(st.op_ns + st.data_ns + st.profiler_ns, st.wall_ns) << "step " << st.index;
  std::set<std::string> phase_rows;
  for (const SummaryRow& r : s.by_phase) phase_rows.insert(r.key);
  EXPECT_EQ(phase_rows, phases);
  // Backward ops carry module attribution, so modules hold more than forward time.
  bool module_has_backward = false;
  for (const OpRecord& o : p.ops) module_has_backward |= o.phase == "backward" && !o.module.empty();
  EXPECT_TRUE(module_has_backward);
}

TEST(Protocol, Lenet5Training) { check_training_profile("lenet5"); }
TEST(Protocol, MlpTraining) { check_training_profile("mlp"); }

TEST(Protocol, InferenceHasOnlyForwardOps) {
  auto w = models::make_workload("mlp", {.mode = models::Mode::infer, .batch = 4});
  const Profile p = profile_workload(*w, {.steps = 3, .drop_first = 1, .drop_last = 1});
  EXPECT_EQ(p.run.mode, "infer");
  ASSERT_FALSE(p.ops.empty());
  for (const OpRecord& o : p.ops) EXPECT_EQ(o.phase, "forward") << o.op;
  EXPECT_EQ(summarize(p).measured_steps, 1);
}

TEST(Protocol, RejectsOptionsThatMeasureNothing) {
  auto w = models::make_workload("mlp", {.mode = models::Mode::infer, .batch = 2});
  for (ProtocolOptions o : {ProtocolOptions{2, 1, 1}, ProtocolOptions{0, 0, 0}, ProtocolOptions{3, -1, 1}}) {
    try {
      profile_workload(*w, o);
      ADD_FAILURE() << "accepted steps=" << o.steps << " drops=" << o.drop_first << "," << o.drop_last;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("no step to measure"), std::string::npos) << e.what();
    }
  }
}

TEST(Protocol, ThreadSweepMeasuresEachCountAndRestoresTheOriginal) {
  auto w = models::make_workload("mlp", {.mode = models::Mode::infer, .batch = 2});
  const int before = num_threads();
  const std::vector<ScalingPoint> pts = thread_sweep(*w, {1, before}, {.steps = 3, .drop_first = 1, .drop_last = 1});
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_EQ(pts[0].threads, 1);
  EXPECT_EQ(pts[1].threads, before);
  for (const ScalingPoint& pt : pts) EXPECT_GT(pt.step_ms, 0);
  EXPECT_EQ(num_threads(), before);
}

TEST(Protocol, ThreadSweepRestoresTheCountWhenACountIsRefused) {
  auto w = models::make_workload("mlp", {.mode = models::Mode::infer, .batch = 2});
  const int before = num_threads();
  EXPECT_THROW(thread_sweep(*w, {1, 1 << 20}, {.steps = 3, .drop_first = 1, .drop_last = 1}), Error);
  EXPECT_EQ(num_threads(), before);
}

}  // namespace
}  // namespace plumb::profile
