#pragma once
// The reusable training loop: one epoch over a DataLoader with a model, an optimizer and an optional
// learning-rate schedule, and evaluation under NoGradScope. `plumb train` and `plumb eval` use it.
#include <cstdint>
#include <functional>
#include <optional>

#include "plumb/data.h"
#include "plumb/nn/module.h"
#include "plumb/nn/optim.h"

namespace plumb {

// What one training epoch did: mean loss and accuracy over its samples, and its throughput.
struct EpochStats {
  double loss = 0;
  double accuracy = 0;  // fraction in [0, 1]
  int64_t samples = 0;
  int64_t steps = 0;
  double seconds = 0;
  double samples_per_second = 0;
};

// Mean loss and accuracy over a whole dataset.
struct EvalStats {
  double loss = 0;
  double accuracy = 0;  // fraction in [0, 1]
  int64_t samples = 0;
  double seconds = 0;
};

// Called after each step: 1-based step, steps in the epoch, the running mean loss and samples/s.
using ProgressFn = std::function<void(int64_t step, int64_t total, double loss, double samples_per_second)>;

struct TrainEpochOptions {
  // When set, the rate for each step is schedule->at(optimizer.steps()), the optimizer's global step,
  // which a checkpoint restores, so a resumed run follows the same schedule.
  const nn::LrSchedule* schedule = nullptr;
  // When set, the default generator is reseeded with epoch_seed(*seed, epoch) before the epoch, so
  // random ops in the model (dropout) depend only on (seed, epoch) and resuming is deterministic.
  std::optional<uint64_t> seed;
  ProgressFn progress;
};

// The seed of epoch `epoch`'s random ops in a run seeded with `seed`.
uint64_t epoch_seed(uint64_t seed, int64_t epoch);

// Trains `model` (put in training mode) for one epoch: loader.start_epoch(epoch), then for each
// batch zero_grad, cross_entropy(model(inputs), labels), backward, optimizer.step().
EpochStats train_epoch(nn::Module& model, nn::Optimizer& optimizer, DataLoader& loader, int64_t epoch,
                       const TrainEpochOptions& options = {});

// Accuracy and mean cross-entropy of `model` over every batch of `loader` (epoch 0 order), with
// gradients off and the model in eval mode; the model's previous mode is restored afterwards.
EvalStats evaluate(nn::Module& model, DataLoader& loader);

}  // namespace plumb
