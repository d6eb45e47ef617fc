// residual: Fathom's "residual" network (fathom/residual/residual.py, after P. Mital's TensorFlow
// tutorials) and torchvision's ResNet-50 ("modern"). 224x224x3 inputs. docs/workloads.md lists
// shapes and quirks.
#include <vector>

#include "plumb/models.h"
#include "plumb/nn/init.h"
#include "plumb/nn/layers.h"
#include "plumb/ops.h"
#include "chain.h"
#include "zoo.h"

namespace plumb::models {

namespace {

using namespace plumb::nn;

// Average over the whole (H, W) map, as an avg_pool whose kernel is the input's size (Fathom's
// ksize = the net's shape; torchvision's AdaptiveAvgPool2d(1)), then flattened to (N, C).
class GlobalAvgPool : public Module {
 public:
  Tensor forward(const Tensor& x) override {  // x: (N, C, H, W) -> (N, C)
    return flatten(avg_pool(x, {x.size(2), x.size(3)}), 1);
  }
  std::string type_name() const override { return "GlobalAvgPool"; }
};

// Fathom's conv2d helper: truncated normal sigma 0.02 (cut at 2 sigma) for the weight and the bias.
std::shared_ptr<Conv2d> fathom_conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding,
                                    bool bias = true) {
  auto c = std::make_shared<Conv2d>(in, out, k, stride, padding, 1, 1, bias);
  init::truncated_normal(c->weight, 0, 0.02, -0.04, 0.04);
  if (bias) init::truncated_normal(c->bias, 0, 0.02, -0.04, 0.04);
  return c;
}

// One Fathom bottleneck: 1x1 -> relu -> 3x3 SAME -> relu -> 1x1 -> relu, added to the input.
// Quirks (kept): no batch norm, no ReLU after the add, never strided (every block runs at 56x56).
class FathomBottleneck : public Module {
 public:
  FathomBottleneck(int64_t filters, int64_t bottleneck)
      : conv_in_(register_module("conv_in", fathom_conv(filters, bottleneck, 1, 1, 0))),
        conv_bottleneck_(register_module("conv_bottleneck", fathom_conv(bottleneck, bottleneck, 3, 1, 1))),
        conv_out_(register_module("conv_out", fathom_conv(bottleneck, filters, 1, 1, 0))) {}
  Tensor forward(const Tensor& x) override {  // x: (N, filters, 56, 56) -> same
    Tensor y = relu((*conv_in_)(x));
    y = relu((*conv_bottleneck_)(y));
    y = relu((*conv_out_)(y));
    return add(x, y);
  }
  std::string type_name() const override { return "FathomBottleneck"; }

 private:
  std::shared_ptr<Conv2d> conv_in_, conv_bottleneck_, conv_out_;
};

// (3,224,224) -conv1 7x7/2 SAME, relu-> (64,112,112) -maxpool 3x3/2 SAME-> (64,56,56) -conv2 1x1->
// (128,56,56) -> 4 stages of 3 bottlenecks (filters/bottleneck 128/32, 256/64, 512/128, 1024/256) with
// a bias-free 1x1 "upscale" conv between stages -> (1024,56,56) -avg pool 56x56-> 1024 -> 1001 (no bias).
// 41 convolutions (conv1, conv2, 36 in blocks, 3 upscales) + 1 linear. SAME pads 7x7/2 on 224 by 2
// before and 3 after, and the 3x3/2 pool on 112 by 0 and 1; symmetric padding 3 and 1 give the same
// output sizes (112, 56) and multiply-adds, windows shifted by one pixel.
std::shared_ptr<Module> build_fathom(int64_t classes) {
  struct Stage {
    int64_t filters, bottleneck;
  };
  const std::vector<Stage> stages = {{128, 32}, {256, 64}, {512, 128}, {1024, 256}};
  auto m = std::make_shared<Chain>();
  m->add("conv1", fathom_conv(3, 64, 7, 2, 3));
  m->add("relu1", std::make_shared<ReLU>());
  m->add("pool1", std::make_shared<MaxPool2d>(3, 2, 1));
  m->add("conv2", fathom_conv(64, stages[0].filters, 1, 1, 0));  // no activation, as coded
  for (size_t s = 0; s < stages.size(); ++s) {
    auto block = m->add("block" + std::to_string(s), std::make_shared<Chain>());
    for (int r = 0; r < 3; ++r)
      block->add("repeat" + std::to_string(r),
                 std::make_shared<FathomBottleneck>(stages[s].filters, stages[s].bottleneck));
    if (s + 1 < stages.size())
      m->add("upscale" + std::to_string(s), fathom_conv(stages[s].filters, stages[s + 1].filters, 1, 1, 0, false));
  }
  m->add("avgpool", std::make_shared<GlobalAvgPool>());
  // Fathom's linear(): tf.random_normal_initializer(stddev 0.02) (not truncated), no bias.
  auto fc = m->add("logits", std::make_shared<Linear>(1024, classes, false));
  init::normal(fc->weight, 0, 0.02);
  return m;
}

// torchvision's Bottleneck (ResNet v1.5: the stride sits on the 3x3): 1x1 -> bn -> relu -> 3x3/s ->
// bn -> relu -> 1x1 (x4) -> bn, plus the input (or its 1x1/s conv + bn projection), then relu.
class Bottleneck : public Module {
 public:
  Bottleneck(int64_t in, int64_t width, int64_t stride) {
    conv1_ = register_module("conv1", kaiming(std::make_shared<Conv2d>(in, width, 1, 1, 0, 1, 1, false)));
    bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(width));
    conv2_ = register_module("conv2", kaiming(std::make_shared<Conv2d>(width, width, 3, stride, 1, 1, 1, false)));
    bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(width));
    conv3_ = register_module("conv3", kaiming(std::make_shared<Conv2d>(width, width * 4, 1, 1, 0, 1, 1, false)));
    bn3_ = register_module("bn3", std::make_shared<BatchNorm2d>(width * 4));
    if (stride != 1 || in != width * 4) {
      downsample_ = register_module("downsample", std::make_shared<Sequential>());
      downsample_->add(kaiming(std::make_shared<Conv2d>(in, width * 4, 1, stride, 0, 1, 1, false)));
      downsample_->add(std::make_shared<BatchNorm2d>(width * 4));
    }
  }
  static std::shared_ptr<Conv2d> kaiming(std::shared_ptr<Conv2d> c) {  // torchvision's conv init
    init::kaiming_normal(c->weight, 0, init::FanMode::fan_out, "relu");
    return c;
  }
  Tensor forward(const Tensor& x) override {  // x: (N, in, H, W) -> (N, 4 width, H/s, W/s)
    Tensor y = relu((*bn1_)((*conv1_)(x)));
    y = relu((*bn2_)((*conv2_)(y)));
    y = (*bn3_)((*conv3_)(y));
    return relu(add(y, downsample_ ? (*downsample_)(x) : x));
  }
  std::string type_name() const override { return "Bottleneck"; }

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_, conv3_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_, bn3_;
  std::shared_ptr<Sequential> downsample_;
};

// torchvision.models.resnet50 with its module names (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0,
// fc), so parameter and buffer names match its state dict. (3,224,224) -> 7x7/2 -> 112 -> pool 3x3/2
// -> 56 -> layer1 (256,56,56) -> layer2 (512,28,28) -> layer3 (1024,14,14) -> layer4 (2048,7,7) ->
// avg pool -> 2048 -> 1000.
std::shared_ptr<Module> build_modern(int64_t classes) {
  auto m = std::make_shared<Chain>();
  m->add("conv1", Bottleneck::kaiming(std::make_shared<Conv2d>(3, 64, 7, 2, 3, 1, 1, false)));
  m->add("bn1", std::make_shared<BatchNorm2d>(64));
  m->add("relu", std::make_shared<ReLU>());
  m->add("maxpool", std::make_shared<MaxPool2d>(3, 2, 1));
  struct Layer {
    int64_t width, blocks, stride;
  };
  int64_t in = 64;
  int index = 1;
  for (const Layer& l : {Layer{64, 3, 1}, Layer{128, 4, 2}, Layer{256, 6, 2}, Layer{512, 3, 2}}) {
    auto layer = m->add("layer" + std::to_string(index++), std::make_shared<Sequential>());
    for (int64_t b = 0; b < l.blocks; ++b) {
      layer->add(std::make_shared<Bottleneck>(in, l.width, b == 0 ? l.stride : 1));
      in = l.width * 4;
    }
  }
  m->add("avgpool", std::make_shared<GlobalAvgPool>());
  m->add("fc", std::make_shared<Linear>(2048, classes));
  return m;
}

}  // namespace

void register_residual() {
  register_model(ModelInfo{.name = "residual",
                           .description = "ResNet; fathom: 12 bottlenecks all at 56x56, no batch norm, 1001 classes "
                                          "(6,178,624 params); modern: torchvision ResNet-50 (25,557,032)",
                           .variants = {"fathom", "modern"},
                           .example_shape = {3, 224, 224},
                           // fathom has 1001 outputs, modern 1000; labels are drawn below 1000 for both.
                           .num_classes = 1000,
                           .dataset = "imagenet",
                           .default_batch = 16,
                           .optimizer = "adam",
                           .lr = 0.01,
                           .quick_batch = 2,
                           .in_suite = true},
                 imagenet_builder(build_fathom, build_modern));
}

}  // namespace plumb::models
