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

namespace plumb::models {

struct ModelInfo {
  std::string name;                   // "mlp", "lenet5", ...
  std::string description;            // one line
  std::vector<std::string> variants;  // the first is the default ("default")
  Shape example_shape;                // one input example, without the batch dim, e.g. {1, 28, 28}
  int64_t num_classes = 0;
  std::string dataset;                // the dataset it trains on, e.g. "fashion-mnist"
};

// Builds the model for a variant named in ModelInfo::variants; parameters follow nn::FactoryScope.
using ModelBuilder = std::function<std::shared_ptr<nn::Module>(const std::string& variant)>;

// Adds a model; throws Error on an empty or duplicate name or an empty variant list.
void register_model(ModelInfo info, ModelBuilder builder);

// Registered names, sorted.
std::vector<std::string> model_names();
bool has_model(const std::string& name);
// Throws Error listing the registered names when `name` is unknown.
const ModelInfo& model_info(const std::string& name);
// An empty variant means the default; throws Error listing the variants when `variant` is unknown.
std::shared_ptr<nn::Module> build_model(const std::string& name, const std::string& variant = "");

}  // namespace plumb::models
