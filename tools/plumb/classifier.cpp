// A registry classifier on Fashion-MNIST, either a model made for it (mlp, lenet5) or one made for
// ImageNet-sized inputs, seen through padded, channel-repeated images and a 10-class head.
#include "classifier.h"

#include "plumb/error.h"
#include "plumb/models.h"

namespace plumb::cli {

namespace {

constexpr int64_t kFashionMnistClasses = 10;

// Whether the model was made for the dataset's images (so no adaptation is needed).
bool made_for(const models::ModelInfo& info, const ClassifierSetup& s) {
  return info.dataset.empty() || info.dataset == s.dataset;
}

void check(const ClassifierSetup& s) {
  if (s.dataset != "fashion-mnist") fail("unknown dataset '", s.dataset, "' (known: fashion-mnist)");
  const models::ModelInfo& info = models::model_info(s.model);
  if (s.image_size < 0) fail("--image-size must be positive, got ", s.image_size);
  if (made_for(info, s)) {
    if (s.image_size > 0)
      fail("--image-size: model '", s.model, "' is made for ", s.dataset, " images; it takes them as they are");
    return;
  }
  if (s.image_size == 0)
    fail("model '", s.model, "' is made for ", info.dataset, " images; give --image-size (e.g. 32) to train it on ",
         s.dataset, ": images are padded to that size, their channel repeated to ", info.example_shape.at(0),
         " and the head rebuilt for ", kFashionMnistClasses, " classes");
  if (s.image_size < 28) fail("--image-size must be at least 28 (Fashion-MNIST's size), got ", s.image_size);
}

}  // namespace

void add_classifier_options(CLI::App& sub, ClassifierSetup& s) {
  sub.add_option("--variant", s.variant, "model variant (default: the model's first)");
  sub.add_option("--dataset", s.dataset, "dataset (fashion-mnist)");
  sub.add_option("--data-dir", s.data_dir, "directory holding the dataset files");
  sub.add_option("--image-size", s.image_size,
                 "for a model made for other images (residual, alexnet, vgg): pad images to this size, repeat "
                 "their channel and rebuild the head for the dataset's classes");
}

std::shared_ptr<nn::Module> build_classifier(const ClassifierSetup& s) {
  check(s);
  const models::ModelInfo& info = models::model_info(s.model);
  models::BuildOptions o{.variant = s.variant};
  if (!made_for(info, s)) o.num_classes = kFashionMnistClasses;
  return models::build_model(s.model, o);
}

std::shared_ptr<const Dataset> load_classifier_split(const ClassifierSetup& s, Split split) {
  check(s);
  auto images = std::make_shared<FashionMnist>(split, s.data_dir, /*normalize=*/true);
  if (s.image_size == 0) return images;
  const int64_t channels = models::model_info(s.model).example_shape.at(0);
  // Padding is black, which normalization maps to -mean/std.
  return std::make_shared<PaddedImages>(images, channels, s.image_size, -kFashionMnistMean / kFashionMnistStd);
}

}  // namespace plumb::cli
