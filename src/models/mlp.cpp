// mlp: LeNet-300-100 (LeCun et al. 1998; the dense baseline of Han et al.'s pruning work):
// 784-300-100-10 with ReLU, on a (1, 28, 28) image flattened to 784.
#include "plumb/models.h"
#include "plumb/nn/layers.h"
#include "zoo.h"

namespace plumb::models {

namespace {

// Parameters: 784*300+300 + 300*100+100 + 100*10+10 = 235,500 + 30,100 + 1,010 = 266,610.
std::shared_ptr<nn::Module> build_mlp(const std::string& /*variant*/) {
  using namespace plumb::nn;
  auto m = std::make_shared<Sequential>();
  m->add(std::make_shared<Flatten>());
  m->add(std::make_shared<Linear>(784, 300));
  m->add(std::make_shared<ReLU>());
  m->add(std::make_shared<Linear>(300, 100));
  m->add(std::make_shared<ReLU>());
  m->add(std::make_shared<Linear>(100, 10));
  return m;
}

}  // namespace

void register_mlp() {
  register_model(ModelInfo{.name = "mlp",
                           .description = "LeNet-300-100: 784-300-100-10 fully connected, ReLU (266,610 params)",
                           .variants = {"default"},
                           .example_shape = {1, 28, 28},
                           .num_classes = 10,
                           .dataset = "fashion-mnist"},
                 build_mlp);
}

}  // namespace plumb::models
