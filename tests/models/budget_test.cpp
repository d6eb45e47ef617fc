// The zoo's budgets, checked on the meta device against counts worked out by hand, plus a check
// that each model actually trains on CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "plumb/allocator.h"
#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/models.h"
#include "plumb/nn/layers.h"
#include "plumb/nn/optim.h"
#include "plumb/ops.h"
#include "plumb/random.h"

namespace plumb {
namespace {

// Sums FLOPs per phase, and multiply-adds (matrix and convolution FLOPs / 2) of the forward phase.
class FlopCounter : public DispatchObserver {
 public:
  void on_op(const OpEvent& e) override {
    phase_flops[static_cast<int>(e.phase)] += e.cost.flops;
    if (e.phase == Phase::forward &&
        (e.op->op_class == OpClass::matrix || e.op->op_class == OpClass::convolution))
      macs += e.cost.flops / 2;
  }
  double phase_flops[3] = {0, 0, 0};
  double macs = 0;
  double total() const { return phase_flops[0] + phase_flops[1] + phase_flops[2]; }
};

std::shared_ptr<nn::Module> build_meta(const std::string& name) {
  nn::FactoryScope meta(DType::f32, kMeta);
  return models::build_model(name);
}

Tensor meta_batch(int64_t b) { return Tensor::empty({b, 1, 28, 28}, DType::f32, kMeta); }

// Forward multiply-adds of one example, measured at batch 3 and divided.
double forward_macs_per_example(const std::string& name) {
  auto m = build_meta(name);
  m->eval();
  FlopCounter c;
  NoGradScope no_grad;
  ObserverScope obs(&c);
  const Tensor y = (*m)(meta_batch(3));
  EXPECT_EQ(y.shape(), (Shape{3, 10}));
  return c.macs / 3;
}

TEST(ModelBudget, ParameterCounts) {
  // mlp: 784*300+300 + 300*100+100 + 100*10+10 = 235,500 + 30,100 + 1,010.
  EXPECT_EQ(build_meta("mlp")->parameter_count(), 266610);
  // lenet5: conv1 6*1*5*5+6 = 156, conv2 16*6*5*5+16 = 2,416, fc1 400*120+120 = 48,120,
  // fc2 120*84+84 = 10,164, fc3 84*10+10 = 850.
  EXPECT_EQ(build_meta("lenet5")->parameter_count(), 156 + 2416 + 48120 + 10164 + 850);
  EXPECT_EQ(build_meta("lenet5")->parameter_count(), 61706);
}

TEST(ModelBudget, ForwardMacsPerExample) {
  // mlp: 784*300 + 300*100 + 100*10 = 235,200 + 30,000 + 1,000.
  EXPECT_DOUBLE_EQ(forward_macs_per_example("mlp"), 266200);
  // lenet5, per output element of a conv: C_in * 5 * 5 taps.
  //   conv1: 6 channels x 28 x 28 outputs (padding 2 keeps 28) x 1*25 = 117,600
  //   conv2: 16 x 10 x 10 outputs (14 - 5 + 1 = 10) x 6*25          = 240,000
  //   fc1 400*120 = 48,000; fc2 120*84 = 10,080; fc3 84*10 = 840
  EXPECT_DOUBLE_EQ(forward_macs_per_example("lenet5"), 117600 + 240000 + 48000 + 10080 + 840);
  EXPECT_DOUBLE_EQ(forward_macs_per_example("lenet5"), 416520);
}

// One full training step (forward, cross-entropy, backward, SGD) costs 2.5x to 3.5x the forward
// pass at batch 1: backward is about twice the forward's multiply-adds, less the input gradient of
// the first layer (not needed: the input does not require grad), and SGD adds ~2 FLOPs per parameter.
TEST(ModelBudget, TrainingStepFlopsWindow) {
  for (const std::string name : {"mlp", "lenet5"}) {
    SCOPED_TRACE(name);
    auto m = build_meta(name);
    FlopCounter fwd;
    {
      m->eval();
      NoGradScope no_grad;
      ObserverScope obs(&fwd);
      (*m)(meta_batch(1));
    }
    FlopCounter step;
    {
      m->train();
      auto opt = nn::make_optimizer("sgd", m->named_parameters(), 0.1);
      ObserverScope obs(&step);
      const Tensor loss = cross_entropy((*m)(meta_batch(1)), Tensor::empty({1}, DType::i64, kMeta));
      EXPECT_TRUE(loss.is_meta());
      backward(loss);
      opt->step();
    }
    EXPECT_GT(step.phase_flops[static_cast<int>(Phase::backward)], 0);
    // SGD without momentum: at least one FLOP per parameter.
    EXPECT_GE(step.phase_flops[static_cast<int>(Phase::optimizer)], m->parameter_count());
    const double ratio = step.total() / fwd.total();
    EXPECT_GE(ratio, 2.5);
    EXPECT_LE(ratio, 3.5) << "forward " << fwd.total() << "; step forward " << step.phase_flops[0] << ", backward "
                          << step.phase_flops[1] << ", optimizer " << step.phase_flops[2];
  }
}

TEST(ModelBudget, MetaBuildAllocatesNoCpuBytes) {
  for (const std::string name : {"mlp", "lenet5"}) {
    SCOPED_TRACE(name);
    const int64_t before = allocator_for(kCPU).stats().live_bytes;
    const int64_t allocs_before = allocator_for(kCPU).stats().total_allocations;
    {
      auto m = build_meta(name);
      for (const auto& [n, p] : m->named_parameters()) EXPECT_TRUE(p.is_meta()) << n;
      NoGradScope no_grad;
      (*m)(meta_batch(2));
      EXPECT_EQ(allocator_for(kCPU).stats().live_bytes, before);
    }
    EXPECT_EQ(allocator_for(kCPU).stats().total_allocations, allocs_before);
  }
}

// A few SGD steps (lr 0.05, momentum 0.9) on one fixed random batch must lower the loss by over 10%: the model
// and its gradients work end to end on CPU.
TEST(ModelTraining, SgdReducesLossOnCpu) {
  for (const std::string name : {"mlp", "lenet5"}) {
    SCOPED_TRACE(name);
    manual_seed(7);
    auto m = models::build_model(name);
    m->train();
    const Tensor x = normal({8, 1, 28, 28});
    const Tensor y = Tensor::from_vector<int64_t>({0, 1, 2, 3, 4, 5, 6, 7}, {8});
    auto opt = nn::make_sgd(m->named_parameters(), nn::SgdOptions{.lr = 0.05, .momentum = 0.9});
    double first = 0, last = 0;
    for (int step = 0; step < 15; ++step) {
      opt->zero_grad();
      const Tensor loss = cross_entropy((*m)(x), y);
      if (step == 0) first = loss.item();
      last = loss.item();
      backward(loss);
      opt->step();
    }
    EXPECT_LT(last, first * 0.9) << "first " << first << " last " << last;
  }
}

TEST(ModelRegistry, NamesInfoAndErrors) {
  const std::vector<std::string> names = models::model_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "mlp"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "lenet5"), names.end());
  EXPECT_TRUE(models::has_model("lenet5"));
  EXPECT_FALSE(models::has_model("nope"));

  for (const std::string name : {"mlp", "lenet5"}) {
    const models::ModelInfo& info = models::model_info(name);
    EXPECT_EQ(info.name, name);
    EXPECT_EQ(info.example_shape, (Shape{1, 28, 28}));
    EXPECT_EQ(info.num_classes, 10);
    EXPECT_EQ(info.dataset, "fashion-mnist");
    EXPECT_EQ(info.variants, std::vector<std::string>{"default"});
  }

  try {
    models::model_info("resnet9000");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown model 'resnet9000'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("known models: "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("lenet5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("mlp"), std::string::npos) << e.what();
  }
  try {
    build_meta("nope");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown model 'nope'"), std::string::npos) << e.what();
  }
  try {
    nn::FactoryScope meta(DType::f32, kMeta);
    models::build_model("mlp", "wide");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model 'mlp' has no variant 'wide'; variants: default"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(models::register_model(models::model_info("mlp"), [](const std::string&) { return nullptr; }),
               Error);
  EXPECT_THROW(models::register_model(models::ModelInfo{.name = "x"}, [](const std::string&) { return nullptr; }),
               Error);
}

}  // namespace
}  // namespace plumb
