#pragma once
// The workload zoo's registry: a name maps to a builder, its variants and the shape of one example.
// Build under nn::FactoryScope(dtype, kMeta) to characterize a model without allocating its data.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "plumb/nn/module.h"
#include "plumb/shape.h"
#include "plumb/workload.h"

namespace plumb::models {

// One training step's loss computed from a batch of inputs, with everything the workload's step
// runs besides the backward pass and the update (a target network, noise, a decoder), so `plumb info`
// can characterize the real step on the meta device. Empty: cross-entropy against class labels.
using StepLoss = std::function<Tensor(nn::Module& model, const Tensor& inputs)>;

struct ModelInfo {
  std::string name;                   // "mlp", "lenet5", ...
  std::string description;            // one line
  std::vector<std::string> variants;  // the first is the default ("default")
  Shape example_shape;                // one input example, without the batch dim, e.g. {1, 28, 28}
  DType example_dtype = DType::f32;   // i64 for models fed token ids
  int64_t num_classes = 0;
  std::string dataset;                // the dataset it trains on, e.g. "fashion-mnist"
  // How it trains as a workload (plumb profile, plumb suite): batch, optimizer (nn::make_optimizer
  // name) and learning rate.
  int64_t default_batch = 64;
  std::string optimizer = "adam";
  double lr = 1e-3;
  // Batch of `plumb suite --quick` (0: default_batch), so every configuration fits this machine.
  int64_t quick_batch = 0;
  // Part of the workload suite (`plumb suite` runs these by default).
  bool in_suite = false;
  StepLoss step_loss;  // empty for classifiers
};

// Builds the model for a variant named in ModelInfo::variants; parameters follow nn::FactoryScope.
using ModelBuilder = std::function<std::shared_ptr<nn::Module>(const std::string& variant)>;

// What to build: a variant ("" = the default) and, for models whose head can change, another class
// count (0 = the model's own), as when ResNet-50 is trained on Fashion-MNIST.
struct BuildOptions {
  std::string variant;
  int64_t num_classes = 0;
};
using ConfigurableBuilder = std::function<std::shared_ptr<nn::Module>(const BuildOptions& options)>;

// How a model runs as a workload when its step is not "classify a batch with cross-entropy" (an
// autoencoder, a reinforcement-learning agent). Without one, make_workload builds the classifier.
using WorkloadFactory = std::function<std::unique_ptr<Workload>(const ModelInfo& info, const WorkloadOptions& options)>;

// Adds a model; throws Error on an empty or duplicate name or an empty variant list.
void register_model(ModelInfo info, ModelBuilder builder, WorkloadFactory workload = {});
// The same for a builder that can change its head; ModelBuilder ones refuse another class count.
void register_model(ModelInfo info, ConfigurableBuilder builder, WorkloadFactory workload = {});
// The model's workload factory; empty for classifiers.
WorkloadFactory workload_factory(const std::string& name);

// Registered names, sorted.
std::vector<std::string> model_names();
bool has_model(const std::string& name);
// Throws Error listing the registered names when `name` is unknown.
const ModelInfo& model_info(const std::string& name);
// An empty variant means the default; throws Error listing the variants when `variant` is unknown.
std::shared_ptr<nn::Module> build_model(const std::string& name, const std::string& variant = "");
// Also throws Error when options.num_classes is set and the model's head cannot change.
std::shared_ptr<nn::Module> build_model(const std::string& name, const BuildOptions& options);

}  // namespace plumb::models
