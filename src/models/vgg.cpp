// vgg: Fathom's 12-convolution "VGG" (fathom/vgg/vgg.py, after huyng/tensorflow-vgg) and torchvision's
// VGG-16 ("modern"). 224x224x3 inputs. docs/workloads.md lists shapes and quirks.
#include <vector>

#include "plumb/models.h"
#include "plumb/nn/init.h"
#include "plumb/nn/layers.h"
#include "chain.h"
#include "zoo.h"

namespace plumb::models {

namespace {

using namespace plumb::nn;

// Fathom's conv_op / fc_op: truncated normal (sigma 0.1, cut at 2 sigma as TF does), zero biases.
template <class L>
std::shared_ptr<L> fathom_init(std::shared_ptr<L> l) {
  init::truncated_normal(l->weight, 0, 0.1, -0.2, 0.2);
  init::zeros(l->bias);
  return l;
}

// Per example: 3x3 SAME convs keep the size, each 2x2/2 VALID pool halves it:
// 224 (64,64) -> 112 (128,128) -> 56 (256,256) -> 28 (512 x3) -> 14 (512 x3) -> 7; 7*7*512 = 25088
// -> 4096 -> 4096 -> 1001.
// Quirks (kept): 12 convolutions (block 3 has two, not VGG-16's three); fc8 goes through relu_layer,
// so the logits are ReLU'd; dropout keeps 0.8 (p = 0.2) after fc6 and fc7 in training only.
std::shared_ptr<Module> build_fathom(int64_t classes) {
  const std::vector<std::vector<int64_t>> blocks = {{64, 64}, {128, 128}, {256, 256}, {512, 512, 512}, {512, 512, 512}};
  auto m = std::make_shared<Chain>();
  int64_t in = 3;
  for (size_t b = 0; b < blocks.size(); ++b) {
    for (size_t i = 0; i < blocks[b].size(); ++i) {
      const std::string name = "conv" + std::to_string(b + 1) + "_" + std::to_string(i + 1);
      m->add(name, fathom_init(std::make_shared<Conv2d>(in, blocks[b][i], 3, 1, 1)));
      m->add(name + "_relu", std::make_shared<ReLU>());
      in = blocks[b][i];
    }
    m->add("pool" + std::to_string(b + 1), std::make_shared<MaxPool2d>(2, 2));
  }
  m->add("flatten", std::make_shared<Flatten>());
  m->add("fc6", fathom_init(std::make_shared<Linear>(7 * 7 * 512, 4096)));
  m->add("fc6_relu", std::make_shared<ReLU>());
  m->add("fc6_drop", std::make_shared<Dropout>(0.2));
  m->add("fc7", fathom_init(std::make_shared<Linear>(4096, 4096)));
  m->add("fc7_relu", std::make_shared<ReLU>());
  m->add("fc7_drop", std::make_shared<Dropout>(0.2));
  m->add("fc8", fathom_init(std::make_shared<Linear>(4096, classes)));
  m->add("fc8_relu", std::make_shared<ReLU>());
  return m;
}

// torchvision.models.vgg16 (configuration "D", no batch norm): features / classifier with
// torchvision's indices, so parameter names match its state dict, and its init (conv: Kaiming normal,
// fan_out, ReLU gain, zero bias; linear: N(0, 0.01), zero bias). torchvision's AdaptiveAvgPool2d(7)
// is the identity on the 7x7 map a 224 input gives, so it is left out.
std::shared_ptr<Module> build_modern(int64_t classes) {
  const std::vector<int64_t> cfg = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
  auto m = std::make_shared<Chain>();
  auto f = m->add("features", std::make_shared<Sequential>());
  int64_t in = 3;
  for (const int64_t v : cfg) {
    if (v == 0) {  // "M" in torchvision's configuration
      f->add(std::make_shared<MaxPool2d>(2, 2));
      continue;
    }
    auto conv = std::make_shared<Conv2d>(in, v, 3, 1, 1);
    init::kaiming_normal(conv->weight, 0, init::FanMode::fan_out, "relu");
    init::zeros(conv->bias);
    f->add(conv);
    f->add(std::make_shared<ReLU>());
    in = v;
  }
  m->add("flatten", std::make_shared<Flatten>());
  auto c = m->add("classifier", std::make_shared<Sequential>());
  auto fc = [](int64_t i, int64_t o) {
    auto l = std::make_shared<Linear>(i, o);
    init::normal(l->weight, 0, 0.01);
    init::zeros(l->bias);
    return l;
  };
  c->add(fc(512 * 7 * 7, 4096));
  c->add(std::make_shared<ReLU>());
  c->add(std::make_shared<Dropout>(0.5));
  c->add(fc(4096, 4096));
  c->add(std::make_shared<ReLU>());
  c->add(std::make_shared<Dropout>(0.5));
  c->add(fc(4096, classes));
  return m;
}

}  // namespace

void register_vgg() {
  register_model(ModelInfo{.name = "vgg",
                           .description = "VGG; fathom: 12 conv, ReLU'd logits, 1001 classes (137,771,561 params); "
                                          "modern: torchvision VGG-16 (138,357,544)",
                           .variants = {"fathom", "modern"},
                           .example_shape = {3, 224, 224},
                           // fathom has 1001 outputs, modern 1000; labels are drawn below 1000 for both.
                           .num_classes = 1000,
                           .dataset = "imagenet",
                           .default_batch = 8,
                           .optimizer = "adam",
                           .lr = 1e-4,
                           .quick_batch = 2,
                           .in_suite = true},
                 imagenet_builder(build_fathom, build_modern));
}

}  // namespace plumb::models
