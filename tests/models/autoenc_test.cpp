// autoenc: the VAE loss as Fathom and the PyTorch example write it, learning on synthetic data, and
// its workload (its own step: VAE loss, not cross-entropy).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "models/autoenc.h"
#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/error.h"
#include "plumb/models.h"
#include "plumb/nn/optim.h"
#include "plumb/ops.h"
#include "plumb/random.h"
#include "plumb/workload.h"

namespace plumb {
namespace {

using models::Mode;

std::shared_ptr<models::Vae> build_vae(const std::string& variant) {
  auto vae = std::dynamic_pointer_cast<models::Vae>(models::build_model("autoenc", variant));
  EXPECT_TRUE(vae);
  return vae;
}

// With a zero output and a zero latent (KL = 0), Fathom's loss is 0.5 * sum over the *whole batch* of
// x^2 (its quirk: the reconstruction term is not averaged): 0.5 * 2 * 784 for x = 1. The modern loss
// is BCE on logits 0 (log 2 per pixel), summed over the batch.
TEST(AutoencModel, LossTermsAsCoded) {
  models::VaeOutput out{Tensor::zeros({2, 784}), Tensor::zeros({2, 200}), Tensor::zeros({2, 200})};
  EXPECT_NEAR(build_vae("fathom")->loss(out, Tensor::ones({2, 784})).item(), 784.0, 1e-3);
  models::VaeOutput logits{Tensor::zeros({2, 784}), Tensor::zeros({2, 20}), Tensor::zeros({2, 20})};
  EXPECT_NEAR(build_vae("modern")->loss(logits, Tensor::full({2, 784}, 0.5)).item(), 2 * 784 * std::log(2.0), 1e-2);
  // KL of N(mu, 1) against N(0, 1) is mu^2 / 2 per dimension; Fathom averages it over the batch.
  models::VaeOutput shifted{Tensor::zeros({2, 784}), Tensor::full({2, 200}, 2.0), Tensor::zeros({2, 200})};
  EXPECT_NEAR(build_vae("fathom")->loss(shifted, Tensor::zeros({2, 784})).item(), 200 * 2.0, 1e-3);
}

// Adam at lr 1e-3 on one fixed batch of 128: 50 steps lower the loss by over a quarter. Fathom's
// squared error learns uniform [0, 1) pixels (its zero decoder starts at x_hat = 0); for the modern
// BCE, whose sigmoid starts at 0.5, uniform [0, 1) pixels are already near the best constant
// (log 2 per pixel), so it gets dim pixels in [0, 0.2), whose best constant 0.1 is far from 0.5.
TEST(AutoencModel, LossFallsOnSyntheticData) {
  for (const std::string variant : {"fathom", "modern"}) {
    SCOPED_TRACE(variant);
    manual_seed(11);
    auto vae = build_vae(variant);
    vae->train();
    const Tensor x = uniform({128, 784}, 0, variant == "modern" ? 0.2 : 1.0);
    auto opt = nn::make_optimizer("adam", vae->named_parameters(), 1e-3);
    double first = 0, last = 0;
    for (int step = 0; step < 50; ++step) {
      opt->zero_grad();
      const Tensor loss = vae->loss(vae->run(x), x);
      if (step == 0) first = loss.item();
      last = loss.item();
      ASSERT_TRUE(std::isfinite(last));
      backward(loss);
      opt->step();
    }
    EXPECT_LT(last, first * 0.75) << "first " << first << " last " << last;
  }
}

TEST(AutoencModel, RejectsWrongInputWidth) {
  auto vae = build_vae("fathom");
  try {
    vae->run(Tensor::zeros({2, 10}));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("autoenc: input must be (N, 784), got"), std::string::npos) << e.what();
  }
}

// Counts dispatched ops per phase and the random-normal draws of the forward phase.
class Ops : public DispatchObserver {
 public:
  void on_op(const OpEvent& e) override {
    ++phase[static_cast<int>(e.phase)];
    if (e.phase == Phase::forward && std::string(e.op->name) == "normal") ++normal_draws;
  }
  std::array<int, 3> phase{};
  int normal_draws = 0;
};

std::vector<float> first_parameter(models::Workload& w) {
  return w.model().named_parameters().front().second.to_vector<float>();
}

TEST(AutoencWorkload, TrainAndInferSteps) {
  for (const std::string variant : {"fathom", "modern"}) {
    SCOPED_TRACE(variant);
    auto train = models::make_workload("autoenc", {.variant = variant, .mode = Mode::train, .batch = 16});
    EXPECT_EQ(train->batch(), 16);
    EXPECT_EQ(train->variant(), variant);
    EXPECT_EQ(train->data(), "synthetic");
    EXPECT_NE(train->describe().find("VAE loss"), std::string::npos) << train->describe();
    const std::vector<float> before = first_parameter(*train);
    Ops ops;
    {
      ObserverScope scope(&ops);
      train->step();
    }
    EXPECT_GT(ops.phase[0], 0);
    EXPECT_GT(ops.phase[1], 0);
    EXPECT_GT(ops.phase[2], 0);
    EXPECT_EQ(ops.normal_draws, 1);  // eps, drawn by plumb's random op
    EXPECT_NE(first_parameter(*train), before);

    auto infer = models::make_workload("autoenc", {.variant = variant, .mode = Mode::infer});
    EXPECT_EQ(infer->batch(), 128);
    const std::vector<float> kept = first_parameter(*infer);
    Ops iops;
    {
      ObserverScope scope(&iops);
      infer->step();
    }
    EXPECT_GT(iops.phase[0], 0);
    EXPECT_EQ(iops.phase[1], 0);
    EXPECT_EQ(iops.phase[2], 0);
    EXPECT_EQ(iops.normal_draws, 1);
    EXPECT_EQ(first_parameter(*infer), kept);
  }
}

TEST(AutoencWorkload, FashionMnistDataset) {
  // scripts/setup.sh installs Debian's dataset-fashion-mnist, which this reads.
  auto w = models::make_workload("autoenc", {.batch = 32, .data = "dataset"});
  EXPECT_EQ(w->data(), "fashion-mnist");
  const std::vector<float> before = first_parameter(*w);
  w->step();
  w->step();
  EXPECT_NE(first_parameter(*w), before);
}

TEST(AutoencWorkload, BadDataSourceIsAClearError) {
  try {
    models::make_workload("autoenc", {.data = "imagenet"});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown data source 'imagenet'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace plumb
