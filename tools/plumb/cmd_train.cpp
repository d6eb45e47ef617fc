// plumb train: trains a registry model on a dataset with live progress, per-epoch test accuracy,
// checkpoints that resume deterministically, and a JSON metrics file.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "classifier.h"
#include "cli.h"
#include "plumb/data.h"
#include "plumb/error.h"
#include "plumb/file_io.h"
#include "plumb/models.h"
#include "plumb/nn/checkpoint.h"
#include "plumb/nn/optim.h"
#include "plumb/random.h"
#include "plumb/thread_pool.h"
#include "plumb/train.h"

namespace plumb::cli {

namespace {

// Test-split evaluation batch, shared with `plumb eval` so both report the same numbers.
constexpr int64_t kEvalBatch = 256;

struct TrainArgs {
  ClassifierSetup setup;
  std::string optimizer = "sgd";
  std::string schedule = "constant";
  std::string checkpoint, resume, metrics;
  int64_t epochs = 1;
  int64_t batch = 64;
  int64_t limit = 0;  // 0: the whole training split
  double lr = 0.1;
  uint64_t seed = 1;
  bool seed_given = false;
};

// The first `n` examples of another dataset (for --limit).
class PrefixDataset : public Dataset {
 public:
  PrefixDataset(std::shared_ptr<const Dataset> base, int64_t n) : base_(std::move(base)), n_(n) {}
  int64_t size() const override { return n_; }
  Example get(int64_t index) const override { return base_->get(index); }

 private:
  std::shared_ptr<const Dataset> base_;
  int64_t n_;
};

// The rate for every step of the run: cosine decays to 0 over all steps; step divides by 10 every quarter.
std::unique_ptr<nn::LrSchedule> make_schedule(const std::string& name, double lr, int64_t total_steps) {
  if (name == "constant") return nn::constant_lr(lr);
  if (name == "cosine") return nn::cosine_lr(lr, total_steps);
  if (name == "step") return nn::step_lr(lr, std::max<int64_t>(total_steps / 4, 1), 0.1);
  fail("unknown --schedule '", name, "' (known: constant, cosine, step)");
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return buf;
}

// Progress on stderr: a bar redrawn in place on a terminal, otherwise a line every ~10% of an epoch.
ProgressFn make_progress(int64_t epoch, int64_t epochs, int64_t batch) {
  const bool tty = isatty(fileno(stderr)) != 0;
  // The bar is redrawn at most ~10 times a second, so fast models do not flood the terminal.
  auto last_draw = std::make_shared<std::chrono::steady_clock::time_point>();
  return [tty, epoch, epochs, batch, last_draw](int64_t step, int64_t total, double loss, double sps) {
    const double fraction = total > 0 ? static_cast<double>(step) / static_cast<double>(total) : 1.0;
    const double remaining = sps > 0 ? static_cast<double>((total - step) * batch) / sps : 0.0;
    if (tty) {
      const auto now = std::chrono::steady_clock::now();
      if (step != total && step != 1 && now - *last_draw < std::chrono::milliseconds(100)) return;
      *last_draw = now;
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(fraction * kWidth);
      std::string bar(static_cast<size_t>(filled), '=');
      if (filled < kWidth) bar += '>';
      bar.resize(kWidth, ' ');
      std::fprintf(stderr, "\repoch %lld/%lld [%s] %lld/%lld loss %.4f %.0f samples/s ETA %s\x1b[K",
                   static_cast<long long>(epoch + 1), static_cast<long long>(epochs), bar.c_str(),
                   static_cast<long long>(step), static_cast<long long>(total), loss, sps,
                   format_duration(remaining).c_str());
      if (step == total) std::fprintf(stderr, "\r\x1b[K");
      std::fflush(stderr);
    } else {
      const int64_t every = std::max<int64_t>(1, total / 10);
      if (step % every == 0 || step == total)
        std::fprintf(stderr, "epoch %lld/%lld step %lld/%lld loss %.4f %.0f samples/s ETA %s\n",
                     static_cast<long long>(epoch + 1), static_cast<long long>(epochs),
                     static_cast<long long>(step), static_cast<long long>(total), loss, sps,
                     format_duration(remaining).c_str());
    }
  };
}

uint64_t parse_u64(const std::string& key, const std::string& value, const std::string& file) {
  try {
    size_t used = 0;
    const unsigned long long v = std::stoull(value, &used);
    if (used == value.size()) return v;
  } catch (const std::exception&) {
  }
  fail("--resume: checkpoint '", file, "' has a bad '", key, "' value '", value, "'");
}

int run_train(const TrainArgs& a) {
  if (a.epochs < 1) fail("--epochs must be positive, got ", a.epochs);
  if (a.batch < 1) fail("--batch must be positive, got ", a.batch);
  if (!(a.lr > 0) || !std::isfinite(a.lr)) fail("--lr must be a positive number, got ", a.lr);
  if (a.limit < 0) fail("--limit must be positive, got ", a.limit);
  if (!a.resume.empty() && !std::ifstream(a.resume)) fail("--resume: cannot read '", a.resume, "'");

  const auto t_start = std::chrono::steady_clock::now();
  uint64_t seed = a.seed;
  manual_seed(seed);
  std::shared_ptr<nn::Module> model = build_classifier(a.setup);
  std::unique_ptr<nn::Optimizer> optimizer = nn::make_optimizer(a.optimizer, model->named_parameters(), a.lr);

  int64_t start_epoch = 0;
  if (!a.resume.empty()) {
    nn::CheckpointMetadata meta;
    try {
      meta = nn::load_checkpoint(a.resume, *model, optimizer.get());
    } catch (const Error& e) {
      fail("--resume: ", e.what());
    }
    const auto get = [&](const char* key) -> std::string {
      const auto it = meta.find(key);
      if (it == meta.end()) fail("--resume: checkpoint '", a.resume, "' lacks the '", key, "' metadata");
      return it->second;
    };
    if (get("model_name") != a.setup.model)
      fail("--resume: checkpoint '", a.resume, "' holds model '", get("model_name"), "', not '", a.setup.model, "'");
    const uint64_t saved_seed = parse_u64("seed", get("seed"), a.resume);
    if (a.seed_given && saved_seed != a.seed)
      fail("--resume: checkpoint '", a.resume, "' was trained with --seed ", saved_seed, ", not ", a.seed);
    seed = saved_seed;
    start_epoch = static_cast<int64_t>(parse_u64("epoch", get("epoch"), a.resume));
    std::fprintf(stderr, "resuming %s from '%s' after epoch %lld\n", a.setup.model.c_str(), a.resume.c_str(),
                 static_cast<long long>(start_epoch));
  }

  std::shared_ptr<const Dataset> train_set = load_classifier_split(a.setup, Split::train);
  if (a.limit > 0 && a.limit < train_set->size()) train_set = std::make_shared<PrefixDataset>(train_set, a.limit);
  const std::shared_ptr<const Dataset> test_set = load_classifier_split(a.setup, Split::test);
  DataLoader train_loader(train_set, a.batch, /*shuffle=*/true, seed);
  DataLoader test_loader(test_set, kEvalBatch);
  const std::unique_ptr<nn::LrSchedule> schedule =
      make_schedule(a.schedule, a.lr, a.epochs * train_loader.num_batches());

  EpochStats last_train;
  EvalStats last_test;
  int64_t trained_samples = 0;
  double train_seconds = 0;
  bool evaluated = false;
  for (int64_t epoch = start_epoch; epoch < a.epochs; ++epoch) {
    TrainEpochOptions o;
    o.seed = seed;
    o.schedule = schedule.get();
    o.progress = make_progress(epoch, a.epochs, a.batch);
    last_train = train_epoch(*model, *optimizer, train_loader, epoch, o);
    trained_samples += last_train.samples;
    train_seconds += last_train.seconds;
    last_test = evaluate(*model, test_loader);
    evaluated = true;
    std::printf("epoch %lld/%lld: train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%% | %.0f samples/s, %.1f s\n",
                static_cast<long long>(epoch + 1), static_cast<long long>(a.epochs), last_train.loss,
                100 * last_train.accuracy, last_test.loss, 100 * last_test.accuracy,
                last_train.samples_per_second, last_train.seconds);
    std::fflush(stdout);
    if (!a.checkpoint.empty())
      nn::save_checkpoint(a.checkpoint, *model, optimizer.get(),
                          {{"model_name", a.setup.model},
                           {"epoch", std::to_string(epoch + 1)},
                           {"seed", std::to_string(seed)},
                           {"dataset", a.setup.dataset},
                           {"variant", a.setup.variant},
                           {"image_size", std::to_string(a.setup.image_size)},
                           {"lr", std::to_string(a.lr)},
                           {"batch", std::to_string(a.batch)},
                           {"limit", std::to_string(a.limit)}});
  }
  if (!evaluated) {
    std::printf("checkpoint already has %lld of %lld epochs; evaluating only\n",
                static_cast<long long>(start_epoch), static_cast<long long>(a.epochs));
    last_test = evaluate(*model, test_loader);
    std::printf("test loss %.4f acc %.2f%%\n", last_test.loss, 100 * last_test.accuracy);
  }

  if (!a.metrics.empty()) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    nlohmann::json j;
    j["test_accuracy"] = last_test.accuracy;
    j["test_loss"] = last_test.loss;
    j["train_loss"] = last_train.loss;
    j["train_accuracy"] = last_train.accuracy;
    j["samples_per_second"] = train_seconds > 0 ? static_cast<double>(trained_samples) / train_seconds : 0.0;
    j["epochs"] = a.epochs;
    j["seconds"] = seconds;
    j["model"] = a.setup.model;
    j["variant"] = a.setup.variant;
    j["image_size"] = a.setup.image_size;
    j["optimizer"] = a.optimizer;
    j["lr"] = a.lr;
    j["batch"] = a.batch;
    j["seed"] = seed;
    j["threads"] = num_threads();
    j["dataset"] = a.setup.dataset;
    j["train_samples"] = train_set->size();
    j["test_samples"] = last_test.samples;
    write_file_atomic(a.metrics, j.dump(2) + "\n");
  }
  return 0;
}

}  // namespace

Run setup_train(CLI::App& sub) {
  auto a = std::make_shared<TrainArgs>();
  sub.add_option("model", a->setup.model, "model name from the registry (e.g. mlp, lenet5)")->required();
  add_classifier_options(sub, a->setup);
  sub.add_option("--epochs", a->epochs, "total epochs to train (a resumed run continues up to it)");
  sub.add_option("--batch", a->batch, "training batch size");
  sub.add_option("--lr", a->lr, "learning rate");
  sub.add_option("--optimizer", a->optimizer, "sgd, momentum, adam, adamw, rmsprop or adagrad");
  sub.add_option("--schedule", a->schedule, "learning-rate schedule over the whole run: constant, cosine or step");
  CLI::Option* seed = sub.add_option("--seed", a->seed, "seed for initialization, shuffling and dropout");
  sub.add_option("--checkpoint", a->checkpoint, "write a checkpoint here after every epoch");
  sub.add_option("--resume", a->resume, "continue from this checkpoint with its next epoch");
  sub.add_option("--metrics", a->metrics, "write final metrics as JSON here");
  sub.add_option("--limit", a->limit, "train on only the first N training examples");
  return [a, seed]() -> int {
    a->seed_given = seed->count() > 0;
    return run_train(*a);
  };
}

}  // namespace plumb::cli
