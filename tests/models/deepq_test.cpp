// deepq: the Nature DQN's budget on the meta device, the Huber loss, the target network, and the
// agent as a train / infer workload.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/error.h"
#include "plumb/models.h"
#include "plumb/nn/layers.h"
#include "plumb/ops.h"
#include "plumb/rl.h"
#include "plumb/workload.h"

namespace plumb {
namespace {

class OpCounter : public DispatchObserver {
 public:
  void on_op(const OpEvent& e) override {
    ++counts[static_cast<int>(e.phase)];
    if (e.phase == Phase::forward &&
        (e.op->op_class == OpClass::matrix || e.op->op_class == OpClass::convolution))
      macs += e.cost.flops / 2;
  }
  std::array<int, 3> counts{};
  double macs = 0;
};

std::shared_ptr<nn::Module> build_meta(const std::string& variant) {
  nn::FactoryScope meta(DType::f32, kMeta);
  return models::build_model("deepq", variant);
}

TEST(Deepq, RegisteredWithFathomShapes) {
  const models::ModelInfo& info = models::model_info("deepq");
  EXPECT_EQ(info.variants, (std::vector<std::string>{"fathom", "modern"}));
  EXPECT_EQ(info.example_shape, (Shape{4, 84, 84}));
  EXPECT_EQ(info.num_classes, 4);
  EXPECT_EQ(info.default_batch, 32);
  EXPECT_EQ(info.optimizer, "rmsprop");
  EXPECT_EQ(info.dataset, "breakout");
  EXPECT_TRUE(static_cast<bool>(models::workload_factory("deepq")));
}

TEST(Deepq, ParameterCounts) {
  // conv1 32*4*8*8+32 = 8,224; conv2 64*32*4*4+64 = 32,832; conv3 64*64*3*3+64 = 36,928;
  // fc 3136*512+512 = 1,606,144; out 512*4+4 = 2,052.
  EXPECT_EQ(build_meta("fathom")->parameter_count(), 8224 + 32832 + 36928 + 1606144 + 2052);
  EXPECT_EQ(build_meta("fathom")->parameter_count(), 1686180);
  // Dueling: the same convolutions, value 3136-512-1 (1,606,144 + 513), advantage 3136-512-4.
  EXPECT_EQ(build_meta("modern")->parameter_count(), 77984 + 1606144 + 513 + 1606144 + 2052);
  EXPECT_THROW(models::build_model("deepq", "nips"), Error);
}

TEST(Deepq, ForwardMacsPerExample) {
  // Per output element, C_in * k * k taps: conv1 32*20*20 outputs * 4*64 = 3,276,800;
  // conv2 64*9*9 * 32*16 = 2,654,208; conv3 64*7*7 * 64*9 = 1,806,336; fc 3136*512 = 1,605,632;
  // out 512*4 = 2,048. Total 9,345,024: Fathom's "9.4 M" within 0.6%.
  auto m = build_meta("fathom");
  OpCounter c;
  {
    NoGradScope no_grad;
    ObserverScope obs(&c);
    const Tensor y = (*m)(Tensor::empty({3, 4, 84, 84}, DType::f32, kMeta));
    EXPECT_EQ(y.shape(), (Shape{3, 4}));
  }
  const double per_example = c.macs / 3;
  EXPECT_DOUBLE_EQ(per_example, 3276800 + 2654208 + 1806336 + 1605632 + 2048);
  EXPECT_LT(std::abs(per_example - 9.4e6) / 9.4e6, 0.01);
}

TEST(Deepq, HuberLossOnHandInputs) {
  // delta 1: |d| <= 1 -> d^2/2; else |d| - 1/2.
  // -3 -> 2.5, -0.5 -> 0.125, 0 -> 0, 0.25 -> 0.03125, 2 -> 1.5; sum 4.15625, mean 0.83125.
  Tensor d = Tensor::from_vector<float>({-3.0f, -0.5f, 0.0f, 0.25f, 2.0f}, {5});
  d.set_requires_grad(true);
  const Tensor sum = rl::huber_loss(d, 1.0, true);
  EXPECT_FLOAT_EQ(static_cast<float>(sum.item()), 4.15625f);
  EXPECT_FLOAT_EQ(static_cast<float>(rl::huber_loss(d, 1.0, false).item()), 0.83125f);
  // delta 2: -3 -> 2*(3-2) + 2 = 4; others quadratic: 0.125 + 0 + 0.03125 + 2.
  EXPECT_FLOAT_EQ(static_cast<float>(rl::huber_loss(d, 2.0, true).item()), 4 + 0.125f + 0.03125f + 2);
  // The gradient is d clipped to [-1, 1].
  backward(sum);
  const std::vector<float> g = d.grad().to_vector<float>();
  EXPECT_EQ(g, (std::vector<float>{-1.0f, -0.5f, 0.0f, 0.25f, 1.0f}));
  EXPECT_THROW(rl::huber_loss(d, 0, true), Error);
}

rl::DqnConfig small_config(const std::string& variant) {
  rl::DqnConfig c = variant == "modern" ? rl::modern_config() : rl::fathom_config();
  c.batch = 4;
  c.replay_capacity = 64;
  c.train_start = 8;
  c.target_every = 3;
  c.eps_steps = 100;
  return c;
}

bool same_parameters(nn::Module& a, nn::Module& b) {
  const nn::NamedTensors pa = a.named_parameters(), pb = b.named_parameters();
  if (pa.size() != pb.size()) return false;
  for (size_t i = 0; i < pa.size(); ++i)
    if (pa[i].second.to_vector<float>() != pb[i].second.to_vector<float>()) return false;
  return true;
}

TEST(Deepq, TargetNetworkIsCopiedEveryCUpdates) {
  for (const std::string variant : {"fathom", "modern"}) {
    SCOPED_TRACE(variant);
    rl::DqnAgent agent(small_config(variant));
    EXPECT_TRUE(same_parameters(agent.q_net(), agent.target_net()));  // starts as a copy
    while (agent.updates() < 2) agent.train_step();
    EXPECT_EQ(agent.updates(), 2);
    EXPECT_FALSE(same_parameters(agent.q_net(), agent.target_net()));  // the Q-net moved, the target did not
    while (agent.updates() < 3) agent.train_step();
    EXPECT_TRUE(same_parameters(agent.q_net(), agent.target_net()));
    while (agent.updates() < 4) agent.train_step();
    EXPECT_FALSE(same_parameters(agent.q_net(), agent.target_net()));
    EXPECT_LT(agent.epsilon(), 1.0);  // decays with updates
    EXPECT_GT(agent.epsilon(), 0.9);
  }
}

TEST(Deepq, AgentIsDeterministicPerSeed) {
  auto run = [] {
    rl::DqnAgent agent(small_config("fathom"));
    std::vector<double> trace;
    for (int i = 0; i < 12; ++i) {
      const rl::AgentStep s = agent.train_step();
      trace.push_back(s.action);
      trace.push_back(s.loss);
    }
    return trace;
  };
  EXPECT_EQ(run(), run());
}

std::vector<float> first_parameter(models::Workload& w) {
  return w.model().named_parameters().front().second.to_vector<float>();
}

TEST(Deepq, TrainWorkloadStepsActAndLearn) {
  for (const std::string variant : {"fathom", "modern"}) {
    SCOPED_TRACE(variant);
    auto w = models::make_workload("deepq", {.variant = variant, .mode = models::Mode::train});
    EXPECT_EQ(w->batch(), 32);
    EXPECT_EQ(w->variant(), variant);
    EXPECT_EQ(w->data(), "breakout");
    EXPECT_NE(w->describe().find("deepq"), std::string::npos) << w->describe();
    const std::vector<float> before = first_parameter(*w);
    OpCounter c;
    {
      ObserverScope obs(&c);
      for (int i = 0; i < 2; ++i) w->step();
    }
    EXPECT_GT(c.counts[static_cast<int>(Phase::forward)], 0);
    EXPECT_GT(c.counts[static_cast<int>(Phase::backward)], 0);
    EXPECT_GT(c.counts[static_cast<int>(Phase::optimizer)], 0);
    EXPECT_NE(first_parameter(*w), before);
  }
}

TEST(Deepq, InferWorkloadRunsBatchOneForwardOnly) {
  auto w = models::make_workload("deepq", {.mode = models::Mode::infer, .data = "dataset"});
  EXPECT_EQ(w->batch(), 1);
  EXPECT_EQ(w->variant(), "fathom");
  const std::vector<float> before = first_parameter(*w);
  OpCounter c;
  {
    ObserverScope obs(&c);
    for (int i = 0; i < 3; ++i) w->step();
  }
  EXPECT_GT(c.counts[static_cast<int>(Phase::forward)], 0);
  EXPECT_EQ(c.counts[static_cast<int>(Phase::backward)], 0);
  EXPECT_EQ(c.counts[static_cast<int>(Phase::optimizer)], 0);
  EXPECT_EQ(first_parameter(*w), before);
  // 3 steps at batch 1: 3 x 9.35 M multiply-adds.
  EXPECT_DOUBLE_EQ(c.macs, 3 * 9345024.0);
}

TEST(Deepq, BadWorkloadOptionsAreErrors) {
  EXPECT_THROW(models::make_workload("deepq", {.variant = "nips"}), Error);
  EXPECT_THROW(models::make_workload("deepq", {.data = "atari"}), Error);
  EXPECT_THROW(models::make_workload("deepq", {.batch = -1}), Error);
  rl::DqnConfig c = rl::fathom_config();
  c.target_every = 0;
  EXPECT_THROW(rl::DqnAgent{c}, Error);
}

}  // namespace
}  // namespace plumb
