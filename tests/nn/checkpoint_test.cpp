// Checkpoints: bit-exact resume of training, metadata, and the errors for a checkpoint that does
// not fit the model or optimizer.
#include "plumb/nn/checkpoint.h"

#include <gtest/gtest.h>

#include "common/temp_dir.h"
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "plumb/autograd.h"
#include "plumb/nn/layers.h"
#include "plumb/nn/optim.h"
#include "plumb/ops.h"
#include "plumb/random.h"
#include "plumb/safetensors.h"

namespace plumb::nn {
namespace {

namespace fs = std::filesystem;

class Checkpoints : public testing::TempDirTest {};

// Linear(4,3) + BatchNorm1d(3) (for buffers) + ReLU + Linear(3,2), initialized from `seed`.
std::shared_ptr<Sequential> make_model(uint64_t seed, int64_t hidden = 3) {
  manual_seed(seed);
  auto m = std::make_shared<Sequential>();
  m->add(std::make_shared<Linear>(4, hidden));
  m->add(std::make_shared<BatchNorm1d>(hidden));
  m->add(std::make_shared<ReLU>());
  m->add(std::make_shared<Linear>(hidden, 2));
  return m;
}

// Fixed data from a fixed std::mt19937, independent of plumb's generator.
Tensor fixed_data(Shape shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> v(static_cast<size_t>(plumb::numel(shape)));
  for (float& x : v) x = dist(rng);
  return Tensor::from_vector(v, shape);
}

void expect_bit_identical(const NamedTensors& a, const NamedTensors& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(a[i].first);
    EXPECT_EQ(a[i].first, b[i].first);
    ASSERT_EQ(a[i].second.spec(), b[i].second.spec());
    ASSERT_TRUE(a[i].second.is_contiguous() && b[i].second.is_contiguous());
    EXPECT_EQ(std::memcmp(a[i].second.raw_data(), b[i].second.raw_data(), a[i].second.nbytes()), 0);
  }
}

NamedTensors all_tensors(const Module& m) {
  NamedTensors out = m.named_parameters();
  for (auto& nt : m.named_buffers()) out.push_back(nt);
  return out;
}

// The message of the Error `f` throws ("" and a test failure when it throws none).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST_F(Checkpoints, RestoresTheModelIntoAFreshOne) {
  auto a = make_model(1);
  a->train();
  (*a)(fixed_data({8, 4}, 3));  // moves the BatchNorm running statistics off their initial values
  save_checkpoint(path("m.ckpt"), *a, nullptr, {{"epoch", "3"}, {"note", "weights only"}});

  auto b = make_model(2);
  const CheckpointMetadata meta = load_checkpoint(path("m.ckpt"), *b, nullptr);
  EXPECT_EQ(meta, (CheckpointMetadata{{"epoch", "3"}, {"note", "weights only"}}));
  expect_bit_identical(all_tensors(*a), all_tensors(*b));

  // The file itself: prefixed names and plumb's own metadata.
  const SafetensorsContents raw = read_safetensors(path("m.ckpt"));
  EXPECT_EQ(raw.tensors.at(0).first, "model.0.weight");
  EXPECT_EQ(raw.metadata.at("format"), "plumb-checkpoint-1");
  EXPECT_EQ(raw.metadata.at("model"), "Sequential");
  EXPECT_EQ(raw.metadata.count("optimizer"), 0u);
  EXPECT_EQ(fs::directory_iterator(dir_)->path().filename(), "m.ckpt");  // no temp file left
}

TEST_F(Checkpoints, RejectsACheckpointOfAnotherModel) {
  auto a = make_model(1);
  save_checkpoint(path("m.ckpt"), *a, nullptr);

  auto wider = make_model(1, 5);
  std::string msg = error_of([&] { load_checkpoint(path("m.ckpt"), *wider, nullptr); });
  EXPECT_NE(msg.find(path("m.ckpt") + ": "), std::string::npos) << msg;
  EXPECT_NE(msg.find("mismatched: 0.weight"), std::string::npos) << msg;

  Linear single(4, 3);
  msg = error_of([&] { load_checkpoint(path("m.ckpt"), single, nullptr); });
  EXPECT_NE(msg.find("does not fit this Linear"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected: 0.weight, 0.bias"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing: bias, weight"), std::string::npos) << msg;

  // A safetensors file that is not a checkpoint, and one with stray tensor names.
  write_safetensors(path("plain.safetensors"), {{"w", Tensor::zeros({2})}});
  msg = error_of([&] { load_checkpoint(path("plain.safetensors"), *a, nullptr); });
  EXPECT_NE(msg.find("not a plumb checkpoint"), std::string::npos) << msg;
  write_safetensors(path("old.ckpt"), {{"w", Tensor::zeros({2})}}, {{"format", "plumb-checkpoint-0"}});
  msg = error_of([&] { load_checkpoint(path("old.ckpt"), *a, nullptr); });
  EXPECT_NE(msg.find("unsupported checkpoint format 'plumb-checkpoint-0'"), std::string::npos) << msg;
  write_safetensors(path("stray.ckpt"), {{"w", Tensor::zeros({2})}}, {{"format", "plumb-checkpoint-1"}});
  msg = error_of([&] { load_checkpoint(path("stray.ckpt"), *a, nullptr); });
  EXPECT_NE(msg.find("outside 'model.' and 'optim.': w"), std::string::npos) << msg;

  msg = error_of([&] { save_checkpoint(path("r.ckpt"), *a, nullptr, {{"format", "mine"}}); });
  EXPECT_NE(msg.find("metadata key 'format' is reserved"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(path("r.ckpt")));
}

// One step per batch; batch s is fixed by s alone, so a resumed run sees the same data.
void train(Module& m, Optimizer& opt, int first_step, int steps) {
  for (int s = first_step; s < first_step + steps; ++s) {
    const Tensor x = fixed_data({8, 4}, 100 + static_cast<unsigned>(s));
    const Tensor y = fixed_data({8, 2}, 500 + static_cast<unsigned>(s));
    opt.zero_grad();
    backward(mse_loss(m(x), y));
    opt.step();
  }
}

using OptimizerFactory = std::function<std::unique_ptr<Optimizer>(NamedTensors, double lr)>;

// 2N steps straight through equal N steps, save, load into a fresh model and optimizer, N steps:
// bit for bit, weights, buffers and optimizer state.
void expect_bit_exact_resume(const std::string& dir, const OptimizerFactory& make_opt) {
  constexpr int kN = 5;
  const std::string file = dir + "/resume.ckpt";

  auto straight = make_model(1);
  auto straight_opt = make_opt(straight->named_parameters(), 0.05);
  train(*straight, *straight_opt, 0, 2 * kN);

  auto first = make_model(1);
  auto first_opt = make_opt(first->named_parameters(), 0.05);
  train(*first, *first_opt, 0, kN);
  save_checkpoint(file, *first, first_opt.get(), {{"step", std::to_string(kN)}});

  // Fresh objects with other initial weights and another learning rate: everything must come from the file.
  auto resumed = make_model(77);
  auto resumed_opt = make_opt(resumed->named_parameters(), 0.5);
  const CheckpointMetadata meta = load_checkpoint(file, *resumed, resumed_opt.get());
  EXPECT_EQ(meta, (CheckpointMetadata{{"step", std::to_string(kN)}}));
  EXPECT_EQ(resumed_opt->lr(), 0.05);
  EXPECT_EQ(resumed_opt->steps(), kN);
  train(*resumed, *resumed_opt, kN, kN);

  EXPECT_EQ(resumed_opt->steps(), 2 * kN);
  expect_bit_identical(all_tensors(*straight), all_tensors(*resumed));
  expect_bit_identical(straight_opt->state(), resumed_opt->state());
  // Training moved the weights, so equality is not trivially true.
  EXPECT_NE(std::memcmp(make_model(1)->named_parameters()[0].second.raw_data(),
                        straight->named_parameters()[0].second.raw_data(), 12 * sizeof(float)),
            0);
}

TEST_F(Checkpoints, ResumesAdamBitExactly) {
  expect_bit_exact_resume(dir_.string(), [](NamedTensors p, double lr) {
    AdamOptions o;
    o.lr = lr;
    return make_adam(std::move(p), o);
  });
}

TEST_F(Checkpoints, ResumesSgdWithMomentumBitExactly) {
  expect_bit_exact_resume(dir_.string(), [](NamedTensors p, double lr) {
    SgdOptions o;
    o.lr = lr;
    o.momentum = 0.9;
    o.nesterov = true;
    return make_sgd(std::move(p), o);
  });
}

TEST_F(Checkpoints, ResumesEveryNamedOptimizerBitExactly) {
  for (const char* name : {"sgd", "momentum", "adamw", "rmsprop", "adagrad"}) {
    SCOPED_TRACE(name);
    expect_bit_exact_resume(dir_.string(),
                            [&](NamedTensors p, double lr) { return make_optimizer(name, std::move(p), lr); });
  }
}

TEST_F(Checkpoints, RejectsAnotherOptimizerType) {
  auto m = make_model(1);
  AdamOptions ao;
  auto adam = make_adam(m->named_parameters(), ao);
  train(*m, *adam, 0, 2);
  save_checkpoint(path("adam.ckpt"), *m, adam.get());
  EXPECT_EQ(read_safetensors(path("adam.ckpt")).metadata.at("optimizer"), "Adam");

  auto sgd = make_sgd(m->named_parameters(), SgdOptions{});
  std::string msg = error_of([&] { load_checkpoint(path("adam.ckpt"), *m, sgd.get()); });
  EXPECT_NE(msg.find("holds Adam optimizer state, but the optimizer is SGD"), std::string::npos) << msg;
  EXPECT_EQ(sgd->steps(), 0);

  // Weights only: a null optimizer ignores the saved state.
  auto fresh = make_model(5);
  EXPECT_NO_THROW(load_checkpoint(path("adam.ckpt"), *fresh, nullptr));
  expect_bit_identical(all_tensors(*m), all_tensors(*fresh));

  // A checkpoint without optimizer state cannot restore one.
  save_checkpoint(path("model_only.ckpt"), *m, nullptr);
  msg = error_of([&] { load_checkpoint(path("model_only.ckpt"), *m, adam.get()); });
  EXPECT_NE(msg.find("holds no optimizer state"), std::string::npos) << msg;

  // Same type, other parameters: the optimizer's own error, prefixed with the file.
  auto other = make_model(1, 5);
  auto other_adam = make_adam(other->named_parameters(), ao);
  msg = error_of([&] { load_checkpoint(path("adam.ckpt"), *other, other_adam.get()); });
  EXPECT_NE(msg.find(path("adam.ckpt") + ": "), std::string::npos) << msg;
}

}  // namespace
}  // namespace plumb::nn
