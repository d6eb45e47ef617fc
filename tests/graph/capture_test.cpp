// Graph capture and the executor: costs against the profiler, bitwise replay of forward passes and a
// training step, composite folding, nested copies, and what a profiler sees during a replay.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/error_of.h"
#include "plumb/autograd.h"
#include "plumb/graph.h"
#include "plumb/models.h"
#include "plumb/nn/layers.h"
#include "plumb/op_attrs.h"
#include "plumb/ops.h"
#include "plumb/profile.h"
#include "plumb/random.h"

namespace plumb::graph {
namespace {

using plumb::testing::error_of;

Tensor meta_batch(const models::ModelInfo& info, int64_t batch, Device device = kMeta) {
  Shape s{batch};
  s.insert(s.end(), info.example_shape.begin(), info.example_shape.end());
  return Tensor::empty(s, info.example_dtype, device);
}

Tensor random_input(Shape shape, uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::f32, kCPU);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = philox_uniform_f32(seed, static_cast<uint64_t>(i)) * 2.0f - 1.0f;
  return t;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.spec() != b.spec()) return false;
  const Tensor ca = contiguous(a), cb = contiguous(b);
  return std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

int count_op(const Graph& g, const std::string& op) {
  int n = 0;
  for (const Node& node : g.nodes) n += node.op->name == op;
  return n;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string s;
  for (const std::string& p : parts) s += (s.empty() ? "" : ".") + p;
  return s;
}

TEST(GraphCapture, Lenet5OnMetaCostsWhatTheProfilerCountsAndHoldsTheModelsParameters) {
  const models::ModelInfo& info = models::model_info("lenet5");
  std::shared_ptr<nn::Module> model;
  {
    nn::FactoryScope meta(DType::f32, kMeta);
    model = models::build_model("lenet5");
  }
  model->eval();
  profile::Profiler prof;
  prof.attach();
  prof.begin_step();
  const Graph g = capture_forward(*model, meta_batch(info, 4));
  prof.end_step();
  prof.detach();
  const profile::Profile p = prof.finish({});

  // The profiler sees the primitives of every composite; the graph folds them back.
  double profiled = 0;
  for (const profile::OpRecord& r : p.ops) profiled += r.flops;
  ASSERT_GT(profiled, 0);
  EXPECT_EQ(g.total_cost().flops, profiled);
  EXPECT_EQ(g.parameter_count(), model->parameter_count());
  for (const Node& n : g.nodes) EXPECT_EQ(n.phase, Phase::forward);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.value(g.inputs[0]).name, "input");
  EXPECT_EQ(g.value(g.inputs[0]).spec, meta_batch(info, 4).spec());
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.value(g.outputs[0]).name, "output");
  EXPECT_EQ(g.value(g.outputs[0]).spec.shape, (Shape{4, info.num_classes}));
  // Every parameter is bound by its dotted name and holds no data on meta.
  for (const auto& [name, t] : model->named_parameters()) {
    const int id = g.find_value(name);
    ASSERT_GE(id, 0) << name;
    EXPECT_EQ(g.value(id).kind, ValueKind::parameter);
    EXPECT_FALSE(g.value(id).data.defined());
  }
  // No data: executing names the parameter that is missing it.
  const std::string err = error_of([&] { execute(g, std::vector<Tensor>{meta_batch(info, 4)}); });
  EXPECT_NE(err.find("has no data"), std::string::npos) << err;
}

TEST(GraphCapture, MlpOnCpuReplaysBitwise) {
  std::shared_ptr<nn::Module> model = models::build_model("mlp");
  model->eval();
  const Tensor x = random_input({3, 1, 28, 28}, 11);
  const Graph g = capture_forward(*model, x);
  EXPECT_EQ(count_op(g, "linear"), 3);
  EXPECT_EQ(count_op(g, "relu"), 2);
  Tensor native;
  {
    NoGradScope no_grad;
    native = (*model)(x);
  }
  const std::vector<Tensor> out = execute(g, std::vector<Tensor>{x});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(bitwise_equal(out[0], native));
  // Another input gives the model's answer for it, not a replay of the captured values.
  const Tensor x2 = random_input({3, 1, 28, 28}, 12);
  Tensor native2;
  {
    NoGradScope no_grad;
    native2 = (*model)(x2);
  }
  EXPECT_TRUE(bitwise_equal(execute(g, std::vector<Tensor>{x2})[0], native2));
  EXPECT_FALSE(bitwise_equal(native, native2));
}

TEST(GraphCapture, ExecuteChecksInputs) {
  std::shared_ptr<nn::Module> model = models::build_model("mlp");
  const Graph g = capture_forward(*model, random_input({2, 1, 28, 28}, 1));
  std::string err = error_of([&] { execute(g, std::vector<Tensor>{random_input({3, 1, 28, 28}, 1)}); });
  EXPECT_NE(err.find("input 'input' is f32(3, 1, 28, 28), the graph expects f32(2, 1, 28, 28)"), std::string::npos)
      << err;
  err = error_of([&] { execute(g, std::vector<Tensor>{}); });
  EXPECT_NE(err.find("takes 1 inputs, got 0"), std::string::npos) << err;
}

TEST(GraphCapture, SoftmaxStaysOneNodeOrBecomesItsPrimitives) {
  const Tensor x = random_input({4, 6}, 3);
  const Tensor w = random_input({6, 5}, 4);
  auto run = [&](CaptureOptions options) {
    Capture c(std::move(options));
    c.bind_input(x, "x");
    c.bind_parameter(w, "w");
    c.mark_output(softmax(matmul(x, w), -1), "y");
    return c.finish("softmax");
  };
  const Graph whole = run({});
  int kept_asked = 0;
  const Graph parts = run({[&](const OpDef& op) {
    kept_asked += op.name == "softmax";
    return false;
  }});
  EXPECT_EQ(kept_asked, 1);
  ASSERT_EQ(whole.nodes.size(), 2u);
  EXPECT_EQ(whole.nodes[1].op->name, "softmax");
  EXPECT_EQ(count_op(parts, "softmax"), 0);
  EXPECT_GT(parts.nodes.size(), 3u);
  for (size_t i = 1; i < parts.nodes.size(); ++i) {
    ASSERT_FALSE(parts.nodes[i].regions.empty()) << parts.nodes[i].op->name;
    EXPECT_EQ(parts.nodes[i].regions.back(), "softmax");
  }

  const Tensor y_native = softmax(matmul(x, w), -1);
  const Tensor y_whole = execute(whole, std::vector<Tensor>{x})[0];
  const Tensor y_parts = execute(parts, std::vector<Tensor>{x})[0];
  EXPECT_TRUE(bitwise_equal(y_whole, y_native));
  // The fused kernel and the primitives round differently; as the same decomposition they agree exactly.
  const std::vector<float> a = y_whole.to_vector<float>(), b = y_parts.to_vector<float>();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6) << i;
  DecomposeScope decompose;
  EXPECT_TRUE(bitwise_equal(execute(whole, std::vector<Tensor>{x})[0], execute(parts, std::vector<Tensor>{x})[0]));
}

TEST(GraphCapture, NestedCompositesFoldInnermostFirst) {
  const Tensor logits = random_input({4, 5}, 9);
  const Tensor target = Tensor::from_vector<int64_t>({0, 3, 4, 1}, {4});
  auto run = [&](std::function<bool(const OpDef&)> keep) {
    CaptureOptions o;
    o.keep_composite = std::move(keep);
    Capture c(o);
    c.bind_input(logits, "logits");
    c.bind_input(target, "target");
    c.mark_output(cross_entropy(logits, target), "loss");
    return c.finish("loss");
  };
  // cross_entropy is log_softmax then a negative log-likelihood: the outer fold swallows the inner node.
  const Graph whole = run({});
  ASSERT_EQ(whole.nodes.size(), 1u);
  EXPECT_EQ(whole.nodes[0].op->name, "cross_entropy");
  EXPECT_EQ(whole.nodes[0].inputs, whole.inputs);
  const Graph inner = run([](const OpDef& op) { return op.name != "cross_entropy"; });
  EXPECT_EQ(count_op(inner, "cross_entropy"), 0);
  EXPECT_EQ(count_op(inner, "log_softmax"), 1);
  const Graph flat = run([](const OpDef&) { return false; });
  for (const Node& n : flat.nodes) EXPECT_FALSE(n.op->is_composite()) << n.op->name;
  EXPECT_GT(flat.nodes.size(), inner.nodes.size());
  // One cost, however it is grouped.
  EXPECT_EQ(whole.total_cost().flops, flat.total_cost().flops);
  EXPECT_EQ(inner.total_cost().flops, flat.total_cost().flops);
  DecomposeScope decompose;
  const Tensor native = cross_entropy(logits, target);
  for (const Graph* g : {&whole, &inner, &flat})
    EXPECT_TRUE(bitwise_equal(execute(*g, std::vector<Tensor>{logits, target})[0], native)) << g->nodes.size();
}

TEST(GraphCapture, IdentityCompositeGetsItsOwnValue) {
  // Dropout in eval returns its input tensor itself.
  const Tensor x = random_input({3, 4}, 2);
  Capture c;
  c.bind_input(x, "x");
  const Tensor y = dropout(x, 0.5, false);
  ASSERT_EQ(y.impl_ptr(), x.impl_ptr());
  c.mark_output(exp(y), "z");
  const Graph g = c.finish();
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].op->name, "dropout");
  EXPECT_EQ(g.nodes[0].inputs, (std::vector<int>{g.inputs[0]}));
  EXPECT_NE(g.nodes[0].outputs[0], g.inputs[0]);
  EXPECT_EQ(g.nodes[1].inputs, g.nodes[0].outputs);
  EXPECT_TRUE(bitwise_equal(execute(g, std::vector<Tensor>{x})[0], exp(x)));
}

TEST(GraphCapture, NonContiguousInputAddsNoCopyNode) {
  // matmul reads strides itself; conv's kernels get a contiguous copy from the dispatcher, which the
  // profiler times as a nested op. Neither is a step of the program.
  const Tensor x = random_input({5, 4}, 5);
  const Tensor w = random_input({5, 3}, 6);
  const Tensor image = random_input({1, 6, 6, 2}, 7);  // NHWC
  const Tensor k = random_input({3, 2, 3, 3}, 8);
  profile::Profiler prof;
  prof.attach();
  Capture c;
  c.bind_input(x, "x");
  c.bind_input(image, "image");
  c.bind_parameter(w, "w");
  c.bind_parameter(k, "k");
  const Tensor y = matmul(permute(x, {1, 0}), w);  // (4, 5) @ (5, 3)
  ConvAttrs a;
  a.stride = {1, 1};
  a.padding = {0, 0};
  a.dilation = {1, 1};
  const Tensor z = dispatch1(op_def("conv"), std::vector<Tensor>{permute(image, {0, 3, 1, 2}), k}, a);
  c.mark_output(y, "y");
  c.mark_output(z, "z");
  const Graph g = c.finish();
  prof.detach();
  int copies = 0;
  for (const profile::OpRecord& r : prof.finish({}).ops) copies += r.op == "copy";
  EXPECT_EQ(copies, 1);  // the conv's input
  ASSERT_EQ(g.nodes.size(), 4u);
  EXPECT_EQ(g.nodes[0].op->name, "permute");
  EXPECT_EQ(g.nodes[1].op->name, "matmul");
  EXPECT_EQ(g.nodes[2].op->name, "permute");
  EXPECT_EQ(g.nodes[3].op->name, "conv");
  EXPECT_EQ(count_op(g, "copy"), 0);
  const std::vector<Tensor> out = execute(g, std::vector<Tensor>{x, image});
  EXPECT_TRUE(bitwise_equal(out[0], y));
  EXPECT_TRUE(bitwise_equal(out[1], z));
}

TEST(GraphCapture, BindingRules) {
  const Tensor x = random_input({2, 2}, 1);
  const Tensor y = random_input({2, 2}, 2);
  {
    Capture c;
    c.bind_input(x, "x");
    EXPECT_NE(error_of([&] { c.bind_parameter(x, "x2"); }).find("cannot also be bound as 'x2'"), std::string::npos);
    EXPECT_NE(error_of([&] { c.bind_input(y, "x"); }).find("already bound"), std::string::npos);
    c.bind_input(x, "x");  // the same binding again is harmless
    const Tensor z = relu(x);
    const Tensor u = add(z, y);  // y was never bound: a constant holding it
    EXPECT_NE(error_of([&] { c.bind_input(y, "late"); }).find("an op already read that tensor"), std::string::npos);
    c.mark_output(u, "u");
    c.mark_output(x, "x_again");  // an output may be an input
    const Graph g = c.finish();
    ASSERT_EQ(g.outputs.size(), 2u);
    EXPECT_EQ(g.value(g.outputs[1]).name, "x");
    const int k = g.find_value("const0");
    ASSERT_GE(k, 0);
    EXPECT_EQ(g.value(k).kind, ValueKind::constant);
    EXPECT_TRUE(bitwise_equal(g.value(k).data, y));
    EXPECT_EQ(g.value(g.outputs[0]).name, "u");
    const std::vector<Tensor> out = execute(g, std::vector<Tensor>{x});
    EXPECT_TRUE(bitwise_equal(out[0], u));
    EXPECT_TRUE(bitwise_equal(out[1], x));
    EXPECT_NE(error_of([&] { c.finish(); }).find("twice"), std::string::npos);
  }
}

// How many tensors made after `t` dies until one takes its handle's address (-1: none of 1000).
int tries_until_reuse(const Tensor& x, Tensor* fresh) {
  const TensorImpl* dead_impl = nullptr;
  {
    const Tensor t = relu(x);
    dead_impl = t.impl_ptr().get();
  }
  std::vector<Tensor> made;  // held, so each try gets another block
  for (int i = 0; i < 1000; ++i) {
    Tensor f = Tensor::full({2, 2}, 3.0);
    if (f.impl_ptr().get() == dead_impl) {
      *fresh = f;
      return i;
    }
    made.push_back(std::move(f));
  }
  *fresh = made.front();
  return -1;
}

TEST(GraphCapture, NoAddressIsReusedWhileCapturing) {
  const Tensor x = random_input({2, 2}, 1);
  Tensor fresh;
  // glibc hands a freed handle's block out again within a few allocations; while capturing it must
  // not, so a new tensor is never taken for a dead node's output.
  Capture c;
  c.bind_input(x, "x");
  EXPECT_EQ(tries_until_reuse(x, &fresh), -1);
  c.mark_output(exp(fresh), "y");
  const Graph g = c.finish();
  ASSERT_EQ(g.nodes.size(), 2u);
  const Value& in = g.value(g.nodes[1].inputs[0]);
  EXPECT_EQ(in.kind, ValueKind::constant);
  EXPECT_TRUE(bitwise_equal(in.data, fresh));
}

TEST(GraphCapture, OtherThreadsAreNotRecorded) {
  const Tensor x = random_input({3, 3}, 1);
  Capture c;
  c.bind_input(x, "x");
  std::thread other([&] { relu(random_input({3, 3}, 2)); });
  other.join();
  c.mark_output(exp(x), "y");
  const Graph g = c.finish();
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op->name, "exp");
}

TEST(GraphCapture, TrainingStepReplaysTheUpdateBitwise) {
  models::WorkloadOptions o;
  o.batch = 8;
  std::unique_ptr<models::Workload> w = models::make_workload("mlp", o);
  // The step rebinds the parameters' handles: keep the values from before it.
  std::vector<std::pair<std::string, Tensor>> before, after;
  for (const auto& [name, t] : w->model().named_parameters()) before.emplace_back(name, t.detach());
  const Graph g = capture_step(*w);
  for (const auto& [name, t] : w->model().named_parameters()) after.emplace_back(name, t.detach());

  std::map<Phase, int> phases;
  for (const Node& n : g.nodes) ++phases[n.phase];
  EXPECT_GT(phases[Phase::forward], 0);
  EXPECT_GT(phases[Phase::backward], 0);
  EXPECT_EQ(phases[Phase::optimizer], static_cast<int>(before.size()));  // one update per parameter
  int linked = 0;
  for (const Node& n : g.nodes) {
    if (n.phase != Phase::backward || n.forward_node < 0) continue;
    ++linked;
    EXPECT_EQ(g.node(n.forward_node).phase, Phase::forward) << n.op->name;
    EXPECT_LT(n.forward_node, n.id);
  }
  EXPECT_GT(linked, phases[Phase::backward] / 2);
  // Backward nodes read forward values (the tape's saved tensors), not copies of them as constants.
  std::set<int> forward_outputs;
  for (const Node& n : g.nodes)
    if (n.phase == Phase::forward) forward_outputs.insert(n.outputs.begin(), n.outputs.end());
  bool reads_forward = false;
  for (const Node& n : g.nodes)
    if (n.phase == Phase::backward)
      for (int id : n.inputs) reads_forward = reads_forward || forward_outputs.count(id);
  EXPECT_TRUE(reads_forward);
  for (const Value& v : g.values)
    if (v.kind == ValueKind::constant) EXPECT_NE(v.spec.shape, (Shape{8, 300})) << v.name;

  // Replaying the step from the values it started with gives the same updated parameters.
  const std::vector<Tensor> out = execute(g, std::vector<Tensor>{});
  ASSERT_EQ(out.size(), g.outputs.size());
  for (size_t i = 0; i < before.size(); ++i) {
    const std::string& name = before[i].first;
    EXPECT_TRUE(bitwise_equal(g.value(g.find_value(name)).data, before[i].second)) << name;
    const int next = g.find_value(name + ".next");
    ASSERT_GE(next, 0) << name;
    size_t k = 0;
    while (k < g.outputs.size() && g.outputs[k] != next) ++k;
    ASSERT_LT(k, g.outputs.size()) << name;
    EXPECT_TRUE(bitwise_equal(out[k], after[i].second)) << name;
    EXPECT_FALSE(bitwise_equal(out[k], before[i].second)) << name;
  }
}

TEST(GraphCapture, InferenceWorkloadHasNoStepToCapture) {
  models::WorkloadOptions o;
  o.batch = 2;
  o.mode = models::Mode::infer;
  std::unique_ptr<models::Workload> w = models::make_workload("mlp", o);
  EXPECT_NE(error_of([&] { capture_step(*w); }).find("infer mode"), std::string::npos);
}

// What a profiler records about an op: enough to tell two runs apart.
std::vector<std::string> trace(const profile::Profile& p) {
  std::vector<std::string> out;
  for (const profile::OpRecord& r : p.ops) out.push_back(r.op + "|" + r.phase + "|" + r.module + "|" + r.region);
  for (const profile::RegionRecord& r : p.regions) out.push_back(r.kind + ":" + r.name);
  return out;
}

TEST(GraphCapture, ProfilerSeesTheSameRunWhenAGraphIsReplayed) {
  for (const char* name : {"mlp", "lenet5"}) {
    std::shared_ptr<nn::Module> model = models::build_model(name);
    model->eval();
    const Tensor x = random_input({2, 1, 28, 28}, 7);
    const Graph g = capture_forward(*model, x);
    auto profiled = [&](const std::function<void()>& f) {
      profile::Profiler prof;
      prof.attach();
      prof.begin_step();
      f();
      prof.end_step();
      prof.detach();
      return trace(prof.finish({}));
    };
    const std::vector<std::string> native = profiled([&] {
      NoGradScope no_grad;
      (*model)(x);
    });
    const std::vector<std::string> replayed = profiled([&] { execute(g, std::vector<Tensor>{x}); });
    EXPECT_EQ(native, replayed) << name;
    bool has_module = false;
    for (const std::string& s : native) has_module = has_module || s.rfind("module:", 0) == 0;
    EXPECT_TRUE(has_module) << name;
  }
}

TEST(GraphCapture, NodesCarryModulePaths) {
  std::shared_ptr<nn::Module> model = models::build_model("mlp");
  const Graph g = capture_forward(*model, random_input({1, 1, 28, 28}, 1));
  std::set<std::string> paths;
  for (const Node& n : g.nodes) paths.insert(joined(n.modules));
  // Sequential children are named by position: 0 is Flatten, 1, 3, 5 the Linear layers.
  for (const char* p : {"1", "2", "3", "4", "5"}) EXPECT_TRUE(paths.count(p)) << p;
  for (const Node& n : g.nodes)
    if (n.op->name == "linear") {
      const std::string p = joined(n.modules);
      EXPECT_TRUE(p == "1" || p == "3" || p == "5") << p;
      EXPECT_EQ(g.value(n.inputs[1]).name, p + ".weight");
    }
}

}  // namespace
}  // namespace plumb::graph
