// lenet5: the classic LeNet-5 (LeCun et al. 1998) for 28x28 Fashion-MNIST. The original takes a
// 32x32 input; padding 2 on the first convolution stands in for it, so every later shape matches.
// ReLU and max pooling replace the original's scaled tanh and trainable subsampling, as is usual.
#include "plumb/models.h"
#include "plumb/nn/layers.h"
#include "zoo.h"

namespace plumb::models {

namespace {

// Shapes per example: (1,28,28) -conv5 pad2-> (6,28,28) -pool-> (6,14,14) -conv5-> (16,10,10)
// -pool-> (16,5,5) -flatten-> 400 -> 120 -> 84 -> 10.
// Parameters: conv1 6*1*25+6 = 156, conv2 16*6*25+16 = 2,416, fc 400*120+120 = 48,120,
// 120*84+84 = 10,164, 84*10+10 = 850; total 61,706.
std::shared_ptr<nn::Module> build_lenet5(const std::string& /*variant*/) {
  using namespace plumb::nn;
  auto m = std::make_shared<Sequential>();
  m->add(std::make_shared<Conv2d>(1, 6, 5, /*stride*/ 1, /*padding*/ 2));
  m->add(std::make_shared<ReLU>());
  m->add(std::make_shared<MaxPool2d>(2));
  m->add(std::make_shared<Conv2d>(6, 16, 5));
  m->add(std::make_shared<ReLU>());
  m->add(std::make_shared<MaxPool2d>(2));
  m->add(std::make_shared<Flatten>());
  m->add(std::make_shared<Linear>(400, 120));
  m->add(std::make_shared<ReLU>());
  m->add(std::make_shared<Linear>(120, 84));
  m->add(std::make_shared<ReLU>());
  m->add(std::make_shared<Linear>(84, 10));
  return m;
}

}  // namespace

void register_lenet5() {
  register_model(ModelInfo{.name = "lenet5",
                           .description = "LeNet-5 for 28x28 (conv pad 2): 2 conv + 3 fc, ReLU, max pool (61,706 params)",
                           .variants = {"default"},
                           .example_shape = {1, 28, 28},
                           .num_classes = 10,
                           .dataset = "fashion-mnist"},
                 build_lenet5);
}

}  // namespace plumb::models
