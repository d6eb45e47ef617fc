// plumb eval: a checkpoint's accuracy and loss on a dataset's test split.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "classifier.h"
#include "cli.h"
#include "plumb/data.h"
#include "plumb/error.h"
#include "plumb/models.h"
#include "plumb/nn/checkpoint.h"
#include "plumb/train.h"

namespace plumb::cli {

namespace {

struct EvalArgs {
  ClassifierSetup setup;
  std::string checkpoint;
  int64_t batch = 256;  // the batch `plumb train` evaluates with, so both report the same numbers
  bool json = false;
};

int run_eval(const EvalArgs& a) {
  if (a.batch < 1) fail("--batch must be positive, got ", a.batch);
  if (!std::ifstream(a.checkpoint)) fail("--checkpoint: cannot read '", a.checkpoint, "'");
  std::shared_ptr<nn::Module> model = build_classifier(a.setup);
  nn::CheckpointMetadata meta;
  try {
    meta = nn::load_checkpoint(a.checkpoint, *model);
  } catch (const Error& e) {
    fail("--checkpoint: ", e.what());
  }
  const auto saved = meta.find("model_name");
  if (saved != meta.end() && saved->second != a.setup.model)
    fail("--checkpoint: '", a.checkpoint, "' holds model '", saved->second, "', not '", a.setup.model, "'");

  const auto test_set = load_classifier_split(a.setup, Split::test);
  DataLoader loader(test_set, a.batch);
  const EvalStats s = evaluate(*model, loader);
  if (a.json) {
    nlohmann::json j;
    j["model"] = a.setup.model;
    j["checkpoint"] = a.checkpoint;
    j["dataset"] = a.setup.dataset;
    j["test_accuracy"] = s.accuracy;
    j["test_loss"] = s.loss;
    j["samples"] = s.samples;
    j["seconds"] = s.seconds;
    const auto epoch = meta.find("epoch");
    if (epoch != meta.end()) j["epoch"] = epoch->second;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s on %s test (%lld samples): accuracy %.2f%%, loss %.4f\n", a.setup.model.c_str(), a.setup.dataset.c_str(),
                static_cast<long long>(s.samples), 100 * s.accuracy, s.loss);
  }
  return 0;
}

}  // namespace

Run setup_eval(CLI::App& sub) {
  auto a = std::make_shared<EvalArgs>();
  sub.add_option("model", a->setup.model, "model name from the registry (e.g. mlp, lenet5)")->required();
  sub.add_option("--checkpoint", a->checkpoint, "checkpoint written by plumb train --checkpoint")->required();
  sub.add_option("--batch", a->batch, "evaluation batch size");
  add_classifier_options(sub, a->setup);
  sub.add_flag("--json", a->json, "print the result as JSON");
  return [a]() -> int { return run_eval(*a); };
}

}  // namespace plumb::cli
