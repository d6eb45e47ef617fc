// The ImageNet and autoencoder workloads' budgets on the meta device: parameters and forward
// multiply-adds against counts worked out layer by layer, Fathom's reference figures
// (fathom.md "derived size and compute") and the published counts of the modern models.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/error.h"
#include "plumb/models.h"
#include "plumb/nn/layers.h"

namespace plumb {
namespace {

// Multiply-adds of the forward phase (matrix and convolution FLOPs / 2) and each module path's last
// output shape.
class MacsAndShapes : public DispatchObserver {
 public:
  void on_op(const OpEvent& e) override {
    if (e.phase != Phase::forward) return;
    if (e.op->op_class == OpClass::matrix || e.op->op_class == OpClass::convolution) macs += e.cost.flops / 2;
    std::string path;
    for (const std::string& m : e.modules) path += (path.empty() ? "" : ".") + m;
    if (!e.outputs.empty()) shapes[path] = e.outputs[0].shape();
  }
  double macs = 0;
  std::map<std::string, Shape> shapes;
};

std::shared_ptr<nn::Module> build_meta(const std::string& name, const std::string& variant) {
  nn::FactoryScope meta(DType::f32, kMeta);
  return models::build_model(name, variant);
}

// Runs one meta forward pass at batch `b` in eval mode; returns the output.
Tensor meta_forward(nn::Module& m, const std::string& name, int64_t b, MacsAndShapes* obs) {
  Shape s{b};
  const Shape& ex = models::model_info(name).example_shape;
  s.insert(s.end(), ex.begin(), ex.end());
  m.eval();
  NoGradScope no_grad;
  ObserverScope scope(obs);
  return m(Tensor::empty(s, DType::f32, kMeta));
}

double macs_per_example(const std::string& name, const std::string& variant) {
  auto m = build_meta(name, variant);
  MacsAndShapes obs;
  meta_forward(*m, name, 3, &obs);
  return obs.macs / 3;
}

int64_t params(const std::string& name, const std::string& variant) {
  return build_meta(name, variant)->parameter_count();
}

TEST(ZooBudget, FathomParameterCounts) {
  // alexnet: conv 11*11*3*64+64 = 23,296; 5*5*64*192+192 = 307,392; 3*3*192*384+384 = 663,936;
  // 3*3*384*256+256 = 884,992; 3*3*256*256+256 = 590,080; fc 9216*4096+4096 = 37,752,832;
  // 4096*4096+4096 = 16,781,312; 4096*1001+1001 = 4,101,097. Reference: 61.10 M.
  EXPECT_EQ(params("alexnet", "fathom"),
            23296 + 307392 + 663936 + 884992 + 590080 + 37752832 + 16781312 + 4101097);
  EXPECT_EQ(params("alexnet", "fathom"), 61104937);
  // vgg (12 conv, 3x3, bias): 1,792 + 36,928 | 73,856 + 147,584 | 295,168 + 590,080 |
  // 1,180,160 + 2 * 2,359,808 | 3 * 2,359,808 = 14,124,608 conv; fc 25088*4096+4096 = 102,764,544,
  // 16,781,312, 4,101,097. Reference: 137.77 M.
  EXPECT_EQ(params("vgg", "fathom"), 1792 + 36928 + 73856 + 147584 + 295168 + 590080 + 1180160 + 5 * 2359808 +
                                         102764544 + 16781312 + 4101097);
  EXPECT_EQ(params("vgg", "fathom"), 137771561);
  // residual: conv1 7*7*3*64+64 = 9,472; conv2 64*128+128 = 8,320; per block (in/bottleneck f/b):
  // f*b+b + 9*b*b+b + b*f+f, x3: 128/32 3*17,600; 256/64 3*70,016; 512/128 3*279,296; 1024/256
  // 3*1,115,648; bias-free upscales 128*256 + 256*512 + 512*1024 = 688,128; bias-free fc 1024*1001
  // = 1,025,024. Reference: 6.18 M.
  EXPECT_EQ(params("residual", "fathom"),
            9472 + 8320 + 3 * (17600 + 70016 + 279296 + 1115648) + 688128 + 1025024);
  EXPECT_EQ(params("residual", "fathom"), 6178624);
  // autoenc: 2 * (784*200+200) + 200*784+784 = 314,000 + 157,584. Reference: 0.47 M.
  EXPECT_EQ(params("autoenc", "fathom"), 2 * (784 * 200 + 200) + 200 * 784 + 784);
  EXPECT_EQ(params("autoenc", "fathom"), 471584);

  // The reference figures, to their two decimals of millions.
  EXPECT_NEAR(params("alexnet", "fathom") / 1e6, 61.10, 0.005);
  EXPECT_NEAR(params("vgg", "fathom") / 1e6, 137.77, 0.005);
  EXPECT_NEAR(params("residual", "fathom") / 1e6, 6.18, 0.005);
  EXPECT_NEAR(params("autoenc", "fathom") / 1e6, 0.47, 0.005);
}

TEST(ZooBudget, ModernParameterCountsArePublished) {
  EXPECT_EQ(params("alexnet", "modern"), 61100840);   // torchvision alexnet
  EXPECT_EQ(params("vgg", "modern"), 138357544);      // torchvision vgg16
  EXPECT_EQ(params("residual", "modern"), 25557032);  // torchvision resnet50
  // PyTorch examples' VAE: 784*400+400 + 2*(400*20+20) + 20*400+400 + 400*784+784.
  EXPECT_EQ(params("autoenc", "modern"), 314000 + 2 * 8020 + 8400 + 314384);
}

TEST(ZooBudget, FathomForwardMacsPerExample) {
  // alexnet, outputs x taps: conv1 56*56*64 * 11*11*3 = 72,855,552; conv2 27*27*192 * 5*5*64 =
  // 223,948,800; conv3 13*13*384 * 9*192 = 112,140,288; conv4 13*13*256 * 9*384 = 149,520,384;
  // conv5 13*13*256 * 9*256 = 99,680,256; fc 9216*4096 + 4096*4096 + 4096*1001 = 58,626,048.
  const double alexnet = macs_per_example("alexnet", "fathom");
  EXPECT_DOUBLE_EQ(alexnet, 72855552.0 + 223948800 + 112140288 + 149520384 + 99680256 + 58626048);
  EXPECT_NEAR(alexnet / 0.72e9, 1.0, 0.01);
  // vgg: sum over convs of H*W*out * 9*in at 224, 112, 56, 28, 14, plus fc 25088*4096 + 4096*4096 +
  // 4096*1001 = 123,637,760.
  const double vgg = macs_per_example("vgg", "fathom");
  EXPECT_DOUBLE_EQ(vgg, 224.0 * 224 * 9 * (3 * 64 + 64 * 64) + 112.0 * 112 * 9 * (64 * 128 + 128 * 128) +
                            56.0 * 56 * 9 * (128 * 256 + 256 * 256) + 28.0 * 28 * 9 * (256 * 512 + 2 * 512 * 512) +
                            14.0 * 14 * 9 * (3 * 512 * 512) + 123637760);
  EXPECT_NEAR(vgg / 13.62e9, 1.0, 0.01);
  // residual: conv1 112*112*64 * 7*7*3 = 118,013,952; then everything at 56*56 = 3136 positions:
  // conv2 64*128, blocks 3 * (f*b + 9*b*b + b*f) for 128/32, 256/64, 512/128, 1024/256, upscales
  // 128*256 + 256*512 + 512*1024; fc 1024*1001.
  const double per_position = 64 * 128 + 3 * (2 * 128 * 32 + 9 * 32 * 32) + 3 * (2 * 256 * 64 + 9 * 64 * 64) +
                              3 * (2 * 512 * 128 + 9 * 128 * 128) + 3 * (2 * 1024 * 256 + 9 * 256 * 256) +
                              128 * 256 + 256 * 512 + 512 * 1024;
  const double residual = macs_per_example("residual", "fathom");
  EXPECT_DOUBLE_EQ(residual, 118013952.0 + 3136 * per_position + 1024 * 1001);
  EXPECT_DOUBLE_EQ(residual, 16223527936.0);
  EXPECT_NEAR(residual / 16.22e9, 1.0, 0.01);
  // autoenc: 2 * 784*200 + 200*784. Reference: 0.47 M.
  EXPECT_DOUBLE_EQ(macs_per_example("autoenc", "fathom"), 3 * 784 * 200);
}

TEST(ZooBudget, ModernForwardMacsPerExample) {
  // Commonly quoted: AlexNet 0.71 G, VGG-16 15.47 G, ResNet-50 4.09 G multiply-adds at 224x224.
  EXPECT_NEAR(macs_per_example("alexnet", "modern") / 0.714e9, 1.0, 0.01);
  EXPECT_NEAR(macs_per_example("vgg", "modern") / 15.47e9, 1.0, 0.01);
  EXPECT_NEAR(macs_per_example("residual", "modern") / 4.09e9, 1.0, 0.01);
  EXPECT_DOUBLE_EQ(macs_per_example("autoenc", "modern"), 784 * 400 + 2 * 400 * 20 + 20 * 400 + 400 * 784);
}

TEST(ZooBudget, OutputShapesAndIntermediateSizes) {
  struct Case {
    std::string name, variant;
    Shape out;
  };
  for (const Case& c : {Case{"alexnet", "fathom", {2, 1001}}, Case{"alexnet", "modern", {2, 1000}},
                        Case{"vgg", "fathom", {2, 1001}}, Case{"vgg", "modern", {2, 1000}},
                        Case{"residual", "fathom", {2, 1001}}, Case{"residual", "modern", {2, 1000}},
                        Case{"autoenc", "fathom", {2, 784}}, Case{"autoenc", "modern", {2, 784}}}) {
    SCOPED_TRACE(c.name + " " + c.variant);
    auto m = build_meta(c.name, c.variant);
    MacsAndShapes obs;
    EXPECT_EQ(meta_forward(*m, c.name, 2, &obs).shape(), c.out);
  }
  // The sizes Fathom's code produces: alexnet 56 -> 27 -> 13 -> 6 (pool5 = 9216); vgg 7x7x512; residual
  // every block at 56x56.
  MacsAndShapes a;
  meta_forward(*build_meta("alexnet", "fathom"), "alexnet", 1, &a);
  EXPECT_EQ(a.shapes.at("conv1"), (Shape{1, 64, 56, 56}));
  EXPECT_EQ(a.shapes.at("pool1"), (Shape{1, 64, 27, 27}));
  EXPECT_EQ(a.shapes.at("norm2"), (Shape{1, 192, 13, 13}));
  EXPECT_EQ(a.shapes.at("pool5"), (Shape{1, 256, 6, 6}));
  MacsAndShapes v;
  meta_forward(*build_meta("vgg", "fathom"), "vgg", 1, &v);
  EXPECT_EQ(v.shapes.at("pool5"), (Shape{1, 512, 7, 7}));
  MacsAndShapes r;
  meta_forward(*build_meta("residual", "fathom"), "residual", 1, &r);
  EXPECT_EQ(r.shapes.at("pool1"), (Shape{1, 64, 56, 56}));
  EXPECT_EQ(r.shapes.at("block0.repeat0"), (Shape{1, 128, 56, 56}));
  EXPECT_EQ(r.shapes.at("block3.repeat2"), (Shape{1, 1024, 56, 56}));
  EXPECT_EQ(r.shapes.at("avgpool"), (Shape{1, 1024}));
  MacsAndShapes rm;
  meta_forward(*build_meta("residual", "modern"), "residual", 1, &rm);
  EXPECT_EQ(rm.shapes.at("layer1.2"), (Shape{1, 256, 56, 56}));
  EXPECT_EQ(rm.shapes.at("layer4.2"), (Shape{1, 2048, 7, 7}));
}

// Fathom's residual is 41 convolutions and one bias-free linear layer; no batch norm.
TEST(ZooBudget, ResidualFathomLayerCounts) {
  auto m = build_meta("residual", "fathom");
  int convs = 0, linears = 0, norms = 0, conv_biases = 0;
  std::vector<std::shared_ptr<nn::Module>> stack{m};
  while (!stack.empty()) {
    auto cur = stack.back();
    stack.pop_back();
    for (const auto& [n, c] : cur->named_children()) stack.push_back(c);
    if (cur->type_name() == "Conv2d") {
      ++convs;
      conv_biases += static_cast<int>(cur->named_parameters().size()) - 1;
    }
    if (cur->type_name() == "Linear") {
      ++linears;
      EXPECT_EQ(cur->named_parameters().size(), 1u);  // weight only
    }
    if (cur->type_name() == "BatchNorm2d") ++norms;
  }
  EXPECT_EQ(convs, 41);
  EXPECT_EQ(conv_biases, 38);  // all but the three upscales
  EXPECT_EQ(linears, 1);
  EXPECT_EQ(norms, 0);
}

TEST(ZooBudget, RegistryInfo) {
  struct Case {
    std::string name;
    Shape example;
    std::string dataset;
    int64_t batch;
    double lr;
  };
  for (const Case& c : {Case{"alexnet", {3, 224, 224}, "imagenet", 64, 1e-3},
                        Case{"vgg", {3, 224, 224}, "imagenet", 8, 1e-4},
                        Case{"residual", {3, 224, 224}, "imagenet", 16, 0.01},
                        Case{"autoenc", {784}, "fashion-mnist", 128, 1e-3}}) {
    SCOPED_TRACE(c.name);
    const models::ModelInfo& info = models::model_info(c.name);
    EXPECT_EQ(info.variants, (std::vector<std::string>{"fathom", "modern"}));
    EXPECT_EQ(info.example_shape, c.example);
    EXPECT_EQ(info.dataset, c.dataset);
    EXPECT_EQ(info.default_batch, c.batch);
    EXPECT_EQ(info.optimizer, "adam");
    EXPECT_DOUBLE_EQ(info.lr, c.lr);
  }
  try {
    build_meta("vgg", "vgg19");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model 'vgg' has no variant 'vgg19'; variants: fathom, modern"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace plumb
