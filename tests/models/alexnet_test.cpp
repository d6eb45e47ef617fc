// alexnet: the modern variant's logits on CPU, Fathom's layer sequence (LRN, no dropout), its LRN
// constants against TensorFlow's formula, and parameter names.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/tensor_checks.h"
#include "plumb/autograd.h"
#include "plumb/models.h"
#include "plumb/nn/layers.h"
#include "plumb/ops.h"
#include "plumb/random.h"

namespace plumb {
namespace {

using testing::all_finite;

// The modern variant on CPU: finite logits, and dropout acts in training mode (two passes differ).
// The fathom variant is checked on the meta device: a CPU build spends seconds drawing its 58 M
// N(0, 1) FC values.
TEST(AlexnetModel, ModernForwardOnCpuAndDropout) {
  manual_seed(3);
  auto m = models::build_model("alexnet", "modern");
  NoGradScope no_grad;
  m->eval();
  const Tensor y = (*m)(uniform({2, 3, 224, 224}));
  EXPECT_EQ(y.shape(), (Shape{2, 1000}));
  EXPECT_TRUE(all_finite(y));
  m->train();
  const Tensor x = uniform({1, 3, 224, 224});
  EXPECT_NE((*m)(x).to_vector<float>(), (*m)(x).to_vector<float>());
}

// Fathom feeds keep_prob 0.8 but never applies dropout: its layer list has no Dropout, and LRN
// follows pool1 and pool2.
TEST(AlexnetModel, FathomLayerSequence) {
  nn::FactoryScope meta(DType::f32, kMeta);
  std::vector<std::string> layers;
  for (const auto& [n, c] : models::build_model("alexnet", "fathom")->named_children())
    layers.push_back(n + ":" + c->type_name());
  EXPECT_EQ(layers, (std::vector<std::string>{
                        "conv1:Conv2d", "relu1:ReLU", "pool1:MaxPool2d", "norm1:LocalResponseNorm", "conv2:Conv2d",
                        "relu2:ReLU", "pool2:MaxPool2d", "norm2:LocalResponseNorm", "conv3:Conv2d", "relu3:ReLU",
                        "conv4:Conv2d", "relu4:ReLU", "conv5:Conv2d", "relu5:ReLU", "pool5:MaxPool2d",
                        "flatten:Flatten", "fc1:Linear", "relu6:ReLU", "fc2:Linear", "relu7:ReLU", "logits:Linear"}));
}

// tf.nn.lrn(x, depth_radius=4, bias=1, alpha=0.001/9, beta=0.75):
//   b_c = x_c / (1 + 0.001/9 * sum_{|c'-c| <= 4} x_c'^2)^0.75,
// computed here by hand against plumb's LocalResponseNorm(9, 0.001, 0.75, 1) as the model builds it.
TEST(AlexnetModel, LrnMatchesTensorflowConstants) {
  manual_seed(5);
  const int64_t c = 12, s = 3;
  const Tensor x = mul(normal({1, c, s, 1}), 3.0);
  nn::LocalResponseNorm lrn(9, 9 * (0.001 / 9.0), 0.75, 1.0);
  const std::vector<float> got = lrn(x).to_vector<float>();
  const std::vector<float> in = x.to_vector<float>();
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t p = 0; p < s; ++p) {
      double sq = 0;
      for (int64_t k = std::max<int64_t>(0, ch - 4); k <= std::min<int64_t>(c - 1, ch + 4); ++k)
        sq += static_cast<double>(in[k * s + p]) * in[k * s + p];
      const double want = in[ch * s + p] / std::pow(1.0 + 0.001 / 9.0 * sq, 0.75);
      EXPECT_NEAR(got[ch * s + p], want, 1e-5 * std::max(1.0, std::abs(want))) << "channel " << ch;
    }
}

// Parameter names follow torchvision's state dict for the modern variant and TF's scopes for fathom.
TEST(AlexnetModel, ParameterNames) {
  std::vector<std::string> modern, fathom;
  {
    nn::FactoryScope meta(DType::f32, kMeta);
    for (const auto& [n, p] : models::build_model("alexnet", "modern")->named_parameters()) modern.push_back(n);
    for (const auto& [n, p] : models::build_model("alexnet", "fathom")->named_parameters()) fathom.push_back(n);
  }
  EXPECT_EQ(modern, (std::vector<std::string>{"features.0.weight", "features.0.bias", "features.3.weight",
                                              "features.3.bias", "features.6.weight", "features.6.bias",
                                              "features.8.weight", "features.8.bias", "features.10.weight",
                                              "features.10.bias", "classifier.1.weight", "classifier.1.bias",
                                              "classifier.4.weight", "classifier.4.bias", "classifier.6.weight",
                                              "classifier.6.bias"}));
  EXPECT_EQ(fathom.front(), "conv1.weight");
  EXPECT_EQ(fathom.back(), "logits.bias");
}

}  // namespace
}  // namespace plumb
