// The training loop on a tiny synthetic problem: loss falls, evaluation agrees with its own count,
// and checkpoint + resume reproduces uninterrupted training bit for bit.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "plumb/data.h"
#include "plumb/nn/checkpoint.h"
#include "plumb/nn/layers.h"
#include "plumb/nn/optim.h"
#include "plumb/random.h"
#include "plumb/train.h"

namespace plumb {
namespace {

constexpr int64_t kFeatures = 8, kClasses = 3;

// Example i: label i % 3, input = a class-specific center plus uniform noise, all from Philox
// keyed by the index, so get() is pure and safe from the prefetch thread.
class BlobDataset : public Dataset {
 public:
  explicit BlobDataset(int64_t n) : n_(n) {}
  int64_t size() const override { return n_; }
  Example get(int64_t i) const override {
    const int64_t label = i % kClasses;
    std::vector<float> x(kFeatures);
    for (int64_t f = 0; f < kFeatures; ++f) {
      const float center = (f % kClasses == label) ? 1.0f : -0.5f;
      const float noise = philox_uniform_f32(7, static_cast<uint64_t>(i * kFeatures + f)) - 0.5f;
      x[f] = center + 1.5f * noise;
    }
    return {Tensor::from_vector(x, {kFeatures}), label};
  }

 private:
  int64_t n_;
};

std::shared_ptr<nn::Module> tiny_model(uint64_t seed) {
  manual_seed(seed);
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(kFeatures, 16), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Dropout>(0.1), std::make_shared<nn::Linear>(16, kClasses)});
}

std::vector<std::vector<float>> snapshot(const nn::Module& m) {
  std::vector<std::vector<float>> out;
  for (const Tensor& p : m.parameters()) out.push_back(p.to_vector<float>());
  return out;
}

TEST(Trainer, LossFallsAndAccuracyRises) {
  auto data = std::make_shared<BlobDataset>(240);
  DataLoader loader(data, 16, /*shuffle=*/true, /*seed=*/3);
  auto model = tiny_model(1);
  auto opt = nn::make_optimizer("sgd", model->named_parameters(), 0.1);
  TrainEpochOptions o;
  o.seed = 3;
  std::vector<EpochStats> stats;
  for (int64_t e = 0; e < 4; ++e) stats.push_back(train_epoch(*model, *opt, loader, e, o));
  for (const EpochStats& s : stats) {
    EXPECT_EQ(s.samples, 240);
    EXPECT_EQ(s.steps, 15);
    EXPECT_GT(s.samples_per_second, 0);
  }
  EXPECT_LT(stats.back().loss, stats.front().loss * 0.7);
  EXPECT_GT(stats.back().accuracy, 0.9);

  DataLoader test_loader(std::make_shared<BlobDataset>(90), 32);
  EXPECT_TRUE(model->training());
  const EvalStats ev = evaluate(*model, test_loader);
  EXPECT_TRUE(model->training());  // evaluate restores the mode
  EXPECT_EQ(ev.samples, 90);
  EXPECT_GT(ev.accuracy, 0.9);
  EXPECT_LT(ev.loss, stats.front().loss);
}

TEST(Trainer, ScheduleSetsTheRatePerGlobalStep) {
  auto data = std::make_shared<BlobDataset>(64);
  DataLoader loader(data, 16, true, 5);
  auto model = tiny_model(2);
  auto opt = nn::make_optimizer("sgd", model->named_parameters(), 0.1);
  auto sched = nn::step_lr(0.1, 3, 0.5);
  TrainEpochOptions o;
  o.schedule = sched.get();
  std::vector<double> rates;
  o.progress = [&](int64_t, int64_t total, double loss, double) {
    EXPECT_EQ(total, 4);
    EXPECT_GT(loss, 0);
    rates.push_back(opt->lr());
  };
  train_epoch(*model, *opt, loader, 0, o);
  train_epoch(*model, *opt, loader, 1, o);
  ASSERT_EQ(rates.size(), 8u);
  for (int64_t i = 0; i < 8; ++i) EXPECT_DOUBLE_EQ(rates[i], sched->at(i)) << "step " << i;
}

TEST(Trainer, ResumeEqualsUninterruptedTrainingBitForBit) {
  auto data = std::make_shared<BlobDataset>(200);
  const uint64_t seed = 11;
  TrainEpochOptions o;
  o.seed = seed;
  auto sched = nn::cosine_lr(0.01, 26);
  o.schedule = sched.get();

  // Two epochs straight through.
  auto a = tiny_model(seed);
  auto opt_a = nn::make_optimizer("adam", a->named_parameters(), 0.01);
  {
    DataLoader loader(data, 16, true, seed);
    train_epoch(*a, *opt_a, loader, 0, o);
    train_epoch(*a, *opt_a, loader, 1, o);
  }

  // One epoch, a checkpoint, then a fresh process-like start: another init, a new loader, resume.
  const std::string path =
      (std::filesystem::temp_directory_path() / ("plumb_trainer_resume_" + std::to_string(::getpid()) + ".ckpt"))
          .string();
  {
    auto b = tiny_model(seed);
    auto opt_b = nn::make_optimizer("adam", b->named_parameters(), 0.01);
    DataLoader loader(data, 16, true, seed);
    train_epoch(*b, *opt_b, loader, 0, o);
    nn::save_checkpoint(path, *b, opt_b.get(), {{"epoch", "1"}});
  }
  auto c = tiny_model(999);
  auto opt_c = nn::make_optimizer("adam", c->named_parameters(), 0.5);
  const nn::CheckpointMetadata meta = nn::load_checkpoint(path, *c, opt_c.get());
  std::filesystem::remove(path);
  EXPECT_EQ(meta.at("epoch"), "1");
  EXPECT_EQ(opt_c->steps(), 13);
  manual_seed(12345);  // whatever the generator holds now must not matter
  DataLoader loader(data, 16, true, seed);
  train_epoch(*c, *opt_c, loader, 1, o);

  EXPECT_EQ(opt_c->steps(), opt_a->steps());
  const auto pa = snapshot(*a), pc = snapshot(*c);
  ASSERT_EQ(pa.size(), pc.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_EQ(pa[i], pc[i]) << "parameter " << i;
}

}  // namespace
}  // namespace plumb
