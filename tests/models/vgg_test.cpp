// vgg's structure on the meta device (a CPU build draws 138 M initial values, too slow for a unit
// test; zoo_budget_test.cpp checks the output shapes): Fathom's 12 convolutions, ReLU'd logits and
// dropout, and the modern VGG-16's torchvision parameter names.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "plumb/models.h"
#include "plumb/nn/layers.h"

namespace plumb {
namespace {

// Fathom's layer sequence: 12 convolutions, ReLU on fc8, dropout p = 0.2 after fc6 and fc7.
TEST(VggModel, FathomLayerSequence) {
  nn::FactoryScope meta(DType::f32, kMeta);
  auto m = models::build_model("vgg", "fathom");
  std::vector<std::string> names, types;
  for (const auto& [n, c] : m->named_children()) {
    names.push_back(n);
    types.push_back(c->type_name());
  }
  int convs = 0;
  for (const auto& t : types) convs += t == "Conv2d";
  EXPECT_EQ(convs, 12);
  ASSERT_GE(names.size(), 3u);
  EXPECT_EQ(names[names.size() - 2], "fc8");
  EXPECT_EQ(types.back(), "ReLU");
  EXPECT_EQ(std::count(types.begin(), types.end(), "Dropout"), 2);
}

TEST(VggModel, ModernIsVgg16WithTorchvisionNames) {
  nn::FactoryScope meta(DType::f32, kMeta);
  auto m = models::build_model("vgg", "modern");
  std::vector<std::string> names;
  for (const auto& [n, p] : m->named_parameters()) names.push_back(n);
  ASSERT_EQ(names.size(), 2u * (13 + 3));
  EXPECT_EQ(names[0], "features.0.weight");
  EXPECT_EQ(names[25], "features.28.bias");  // the 13th convolution
  EXPECT_EQ(names[26], "classifier.0.weight");
  EXPECT_EQ(names.back(), "classifier.6.bias");
}

}  // namespace
}  // namespace plumb
