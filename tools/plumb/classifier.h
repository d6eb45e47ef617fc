#pragma once
// What `plumb train` and `plumb eval` share: a registry classifier set up for a dataset.
#include <cstdint>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "plumb/data.h"
#include "plumb/nn/module.h"

namespace plumb::cli {

// A model built for other images (residual, alexnet, vgg: ImageNet) trains on Fashion-MNIST when
// image_size is given: images are centre-padded to it, their channel repeated to the model's, and
// the head is rebuilt for the dataset's 10 classes.
struct ClassifierSetup {
  std::string model, variant;
  std::string dataset = "fashion-mnist";
  std::string data_dir = kFashionMnistDefaultDir;
  int64_t image_size = 0;  // 0: the dataset's own images, for models made for them
};

// Adds --variant, --dataset, --data-dir and --image-size.
void add_classifier_options(CLI::App& sub, ClassifierSetup& s);
// Throws Error on an unknown model, variant or dataset, or a model that needs --image-size.
std::shared_ptr<nn::Module> build_classifier(const ClassifierSetup& s);
std::shared_ptr<const Dataset> load_classifier_split(const ClassifierSetup& s, Split split);

}  // namespace plumb::cli
