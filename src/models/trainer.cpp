// The training loop behind `plumb train` and `plumb eval`.
#include "plumb/train.h"

#include <chrono>
#include <vector>

#include "plumb/autograd.h"
#include "plumb/ops.h"
#include "plumb/random.h"

namespace plumb {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Number of rows whose argmax over classes equals the label. logits: (B, C), labels: i64 (B).
int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const std::vector<int64_t> pred = argmax(logits.detach(), 1).to_vector<int64_t>();
  const std::vector<int64_t> truth = labels.to_vector<int64_t>();
  int64_t correct = 0;
  for (size_t i = 0; i < pred.size() && i < truth.size(); ++i) correct += pred[i] == truth[i];
  return correct;
}

// Restores a module's training mode when evaluation ends, even by an exception.
class ModeGuard {
 public:
  explicit ModeGuard(nn::Module& m) : m_(m), was_training_(m.training()) {}
  ~ModeGuard() { m_.train(was_training_); }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  nn::Module& m_;
  bool was_training_;
};

}  // namespace

uint64_t epoch_seed(uint64_t seed, int64_t epoch) {
  // One Philox block keyed by the run's seed, indexed by the epoch: distinct, well-mixed seeds.
  const auto r = philox4x32(seed, static_cast<uint64_t>(epoch));
  return (static_cast<uint64_t>(r[0]) << 32) | r[1];
}

EpochStats train_epoch(nn::Module& model, nn::Optimizer& optimizer, DataLoader& loader, int64_t epoch,
                       const TrainEpochOptions& options) {
  model.train();
  if (options.seed) manual_seed(epoch_seed(*options.seed, epoch));
  loader.start_epoch(epoch);
  const int64_t total = loader.num_batches();

  EpochStats s;
  double loss_sum = 0;  // sum over samples of the per-sample loss
  int64_t correct = 0;
  const auto t0 = Clock::now();
  while (auto batch = loader.next()) {
    if (options.schedule) optimizer.set_lr(options.schedule->at(optimizer.steps()));
    optimizer.zero_grad();
    const Tensor logits = model(batch->inputs);
    const Tensor loss = cross_entropy(logits, batch->labels);
    backward(loss);
    optimizer.step();

    const int64_t n = batch->labels.numel();
    loss_sum += loss.item() * static_cast<double>(n);
    correct += count_correct(logits, batch->labels);
    s.samples += n;
    ++s.steps;
    if (options.progress) {
      const double secs = seconds_since(t0);
      options.progress(s.steps, total, loss_sum / static_cast<double>(s.samples),
                       secs > 0 ? static_cast<double>(s.samples) / secs : 0.0);
    }
  }
  s.seconds = seconds_since(t0);
  if (s.samples > 0) {
    s.loss = loss_sum / static_cast<double>(s.samples);
    s.accuracy = static_cast<double>(correct) / static_cast<double>(s.samples);
  }
  s.samples_per_second = s.seconds > 0 ? static_cast<double>(s.samples) / s.seconds : 0.0;
  return s;
}

EvalStats evaluate(nn::Module& model, DataLoader& loader) {
  ModeGuard mode(model);
  model.eval();
  NoGradScope no_grad;
  loader.start_epoch(0);

  EvalStats s;
  double loss_sum = 0;
  int64_t correct = 0;
  const auto t0 = Clock::now();
  while (auto batch = loader.next()) {
    const Tensor logits = model(batch->inputs);
    // Summed, not averaged, so a short last batch weighs by its size.
    loss_sum += cross_entropy(logits, batch->labels, -100, 0, "sum").item();
    correct += count_correct(logits, batch->labels);
    s.samples += batch->labels.numel();
  }
  s.seconds = seconds_since(t0);
  if (s.samples > 0) {
    s.loss = loss_sum / static_cast<double>(s.samples);
    s.accuracy = static_cast<double>(correct) / static_cast<double>(s.samples);
  }
  return s;
}

}  // namespace plumb
