// alexnet: Fathom's AlexNet (fathom/alexnet/alexnet.py, after A. Damien's TensorFlow example) and
// torchvision's AlexNet ("modern"). 224x224x3 inputs. docs/workloads.md lists shapes and quirks.
#include "plumb/models.h"
#include "plumb/nn/init.h"
#include "plumb/nn/layers.h"
#include "chain.h"
#include "zoo.h"

namespace plumb::models {

namespace {

using namespace plumb::nn;

// TensorFlow's tf.nn.lrn(depth_radius 4, bias 1, alpha 0.001/9, beta 0.75) sums x^2 over 2*4+1 = 9
// channels and multiplies the sum by alpha; plumb's LRN (PyTorch's convention) multiplies the window
// *mean* by alpha, i.e. alpha/size * sum. Same output: alpha_plumb = 9 * (0.001/9) = 0.001.
constexpr int64_t kLrnSize = 2 * 4 + 1;
constexpr double kLrnAlpha = kLrnSize * (0.001 / 9.0);

// Fathom's conv: truncated normal (sigma 0.1, cut at 2 sigma as TF does) weights, zero biases.
std::shared_ptr<Conv2d> fathom_conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding) {
  auto c = std::make_shared<Conv2d>(in, out, k, stride, padding);
  init::truncated_normal(c->weight, 0, 0.1, -0.2, 0.2);
  init::zeros(c->bias);
  return c;
}

// Quirk (kept): the FC weights and biases are tf.random_normal, sigma 1.
std::shared_ptr<Linear> fathom_fc(int64_t in, int64_t out) {
  auto l = std::make_shared<Linear>(in, out);
  init::normal(l->weight, 0, 1);
  init::normal(l->bias, 0, 1);
  return l;
}

// Shapes per example: (3,224,224) -conv 11x11/4 SAME-> (64,56,56) -pool 3x3/2 VALID-> (64,27,27)
// -lrn- -conv 5x5 SAME-> (192,27,27) -pool-> (192,13,13) -lrn- -conv 3x3 x3-> (384|256|256,13,13)
// -pool-> (256,6,6) -flatten-> 9216 -> 4096 -> 4096 -> 1001.
// SAME for 11x11/4 on 224 pads 7 rows (3 before, 4 after); symmetric padding 4 gives the same 56x56
// output and multiply-adds, its windows shifted by one pixel. The 5x5 and 3x3 SAME pads are symmetric.
// Quirk (kept): no dropout, although Fathom feeds keep_prob 0.8.
std::shared_ptr<Module> build_fathom(int64_t classes) {
  auto m = std::make_shared<Chain>();
  m->add("conv1", fathom_conv(3, 64, 11, 4, 4));
  m->add("relu1", std::make_shared<ReLU>());
  m->add("pool1", std::make_shared<MaxPool2d>(3, 2));
  m->add("norm1", std::make_shared<LocalResponseNorm>(kLrnSize, kLrnAlpha, 0.75, 1.0));
  m->add("conv2", fathom_conv(64, 192, 5, 1, 2));
  m->add("relu2", std::make_shared<ReLU>());
  m->add("pool2", std::make_shared<MaxPool2d>(3, 2));
  m->add("norm2", std::make_shared<LocalResponseNorm>(kLrnSize, kLrnAlpha, 0.75, 1.0));
  m->add("conv3", fathom_conv(192, 384, 3, 1, 1));
  m->add("relu3", std::make_shared<ReLU>());
  m->add("conv4", fathom_conv(384, 256, 3, 1, 1));
  m->add("relu4", std::make_shared<ReLU>());
  m->add("conv5", fathom_conv(256, 256, 3, 1, 1));
  m->add("relu5", std::make_shared<ReLU>());
  m->add("pool5", std::make_shared<MaxPool2d>(3, 2));
  m->add("flatten", std::make_shared<Flatten>());
  m->add("fc1", fathom_fc(9216, 4096));
  m->add("relu6", std::make_shared<ReLU>());
  m->add("fc2", fathom_fc(4096, 4096));
  m->add("relu7", std::make_shared<ReLU>());
  m->add("logits", fathom_fc(4096, classes));
  return m;
}

// torchvision.models.alexnet: features / classifier with torchvision's indices, so parameter names
// ("features.0.weight", "classifier.1.weight") match its state dict; PyTorch's default init.
// (3,224,224) -conv 11x11/4 pad 2-> (64,55,55) -pool 3x3/2-> 27 -conv 5x5 pad 2-> (192,27,27) -pool->
// 13 -> 384, 256, 256 at 13 -pool-> (256,6,6). torchvision's AdaptiveAvgPool2d(6) is the identity on
// that 6x6 map, so it is left out (these workloads take 224x224 inputs only).
std::shared_ptr<Module> build_modern(int64_t classes) {
  auto m = std::make_shared<Chain>();
  auto f = m->add("features", std::make_shared<Sequential>());
  f->add(std::make_shared<Conv2d>(3, 64, 11, 4, 2));
  f->add(std::make_shared<ReLU>());
  f->add(std::make_shared<MaxPool2d>(3, 2));
  f->add(std::make_shared<Conv2d>(64, 192, 5, 1, 2));
  f->add(std::make_shared<ReLU>());
  f->add(std::make_shared<MaxPool2d>(3, 2));
  f->add(std::make_shared<Conv2d>(192, 384, 3, 1, 1));
  f->add(std::make_shared<ReLU>());
  f->add(std::make_shared<Conv2d>(384, 256, 3, 1, 1));
  f->add(std::make_shared<ReLU>());
  f->add(std::make_shared<Conv2d>(256, 256, 3, 1, 1));
  f->add(std::make_shared<ReLU>());
  f->add(std::make_shared<MaxPool2d>(3, 2));
  m->add("flatten", std::make_shared<Flatten>());
  auto c = m->add("classifier", std::make_shared<Sequential>());
  c->add(std::make_shared<Dropout>(0.5));
  c->add(std::make_shared<Linear>(256 * 6 * 6, 4096));
  c->add(std::make_shared<ReLU>());
  c->add(std::make_shared<Dropout>(0.5));
  c->add(std::make_shared<Linear>(4096, 4096));
  c->add(std::make_shared<ReLU>());
  c->add(std::make_shared<Linear>(4096, classes));
  return m;
}

}  // namespace

void register_alexnet() {
  register_model(ModelInfo{.name = "alexnet",
                           .description = "AlexNet 64-192-384-256-256; fathom: LRN, no dropout, 1001 classes "
                                          "(61,104,937 params); modern: torchvision (61,100,840)",
                           .variants = {"fathom", "modern"},
                           .example_shape = {3, 224, 224},
                           // The fathom head has 1001 outputs (TF Inception's extra background class), the
                           // modern one 1000; synthetic labels are drawn below this, valid for both.
                           .num_classes = 1000,
                           .dataset = "imagenet",
                           .default_batch = 64,
                           .optimizer = "adam",
                           .lr = 1e-3,
                           .quick_batch = 8,
                           .in_suite = true},
                 imagenet_builder(build_fathom, build_modern));
}

}  // namespace plumb::models
