// residual on CPU: finite logits of the right shape (on small inputs: the global average pool
// takes any size, and 224x224 would make these tests slow), blocks add their input back, and the
// modern ResNet-50 keeps torchvision's parameter and buffer names and updates batch-norm statistics.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/tensor_checks.h"
#include "plumb/autograd.h"
#include "plumb/models.h"
#include "plumb/nn/init.h"
#include "plumb/nn/layers.h"
#include "plumb/ops.h"
#include "plumb/random.h"

namespace plumb {
namespace {

using testing::all_finite;

// Finite (2, 1001) logits; then a block with its last convolution zeroed returns its input, as a
// Fathom block is x + relu(conv(...)) with no ReLU after the add.
TEST(ResidualModel, FathomForwardOnCpuAndBlockAdd) {
  manual_seed(2);
  auto m = models::build_model("residual", "fathom");
  m->eval();
  NoGradScope no_grad;
  const Tensor y = (*m)(uniform({2, 3, 64, 64}));
  EXPECT_EQ(y.shape(), (Shape{2, 1001}));
  EXPECT_TRUE(all_finite(y));

  std::shared_ptr<nn::Module> block;
  for (const auto& [n, c] : m->named_children())
    if (n == "block0") block = c->named_children().front().second;
  ASSERT_TRUE(block);
  for (const auto& [n, p] : block->named_parameters())
    if (n.starts_with("conv_out.")) nn::copy_into(p, Tensor::zeros(p.shape()));
  const Tensor x = normal({1, 128, 5, 5});
  EXPECT_EQ((*block)(x).to_vector<float>(), x.to_vector<float>());
}

// Finite (2, 1000) logits, torchvision's parameter and buffer names, and batch-norm running
// statistics that move in training mode.
TEST(ResidualModel, ModernForwardOnCpuNamesAndBatchNorm) {
  manual_seed(6);
  auto m = models::build_model("residual", "modern");
  NoGradScope no_grad;
  m->eval();
  const Tensor y = (*m)(uniform({2, 3, 64, 64}));
  EXPECT_EQ(y.shape(), (Shape{2, 1000}));
  EXPECT_TRUE(all_finite(y));

  const auto params = m->named_parameters();
  const auto buffers = m->named_buffers();
  EXPECT_EQ(params.size(), 161u);   // 53 conv + 53 * 2 batch norm + fc weight and bias
  EXPECT_EQ(buffers.size(), 159u);  // 53 * (running_mean, running_var, num_batches_tracked)
  std::vector<std::string> names;
  for (const auto& [n, p] : params) names.push_back(n);
  for (const char* want : {"conv1.weight", "bn1.weight", "layer1.0.downsample.0.weight", "layer1.0.downsample.1.bias",
                           "layer3.5.conv2.weight", "layer4.2.bn3.weight", "fc.weight", "fc.bias"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;

  const Tensor* running_mean = nullptr;
  for (const auto& [n, b] : buffers)
    if (n == "bn1.running_mean") running_mean = &b;
  ASSERT_NE(running_mean, nullptr);
  const std::vector<float> before = running_mean->to_vector<float>();
  m->train();
  (*m)(uniform({2, 3, 32, 32}));
  EXPECT_NE(running_mean->to_vector<float>(), before);
}

}  // namespace
}  // namespace plumb
