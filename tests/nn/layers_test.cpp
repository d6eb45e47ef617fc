// Layers and init: parameter counts and shapes as PyTorch, forward shapes, train/eval behaviour,
// BatchNorm running statistics against torch 1.13, init statistics, reproducibility, backward.
#include <gtest/gtest.h>

#include <cmath>

#include "plumb/allocator.h"
#include "plumb/autograd.h"
#include "plumb/nn/init.h"
#include "plumb/nn/layers.h"
#include "plumb/ops.h"
#include "plumb/random.h"

namespace plumb::nn {
namespace {

template <class M, class... Args>
std::shared_ptr<Module> mk(Args&&... args) {
  return std::make_shared<M>(std::forward<Args>(args)...);
}

// Classic LeNet-5 for 32x32 input (tanh, average pooling), as torch.nn.Sequential.
std::shared_ptr<Sequential> lenet5() {
  return std::make_shared<Sequential>(Sequential{
      mk<Conv2d>(1, 6, 5), mk<Tanh>(), mk<AvgPool2d>(2), mk<Conv2d>(6, 16, 5), mk<Tanh>(), mk<AvgPool2d>(2),
      mk<Flatten>(), mk<Linear>(400, 120), mk<Tanh>(), mk<Linear>(120, 84), mk<Tanh>(), mk<Linear>(84, 10)});
}

std::vector<std::string> names(const NamedTensors& ts) {
  std::vector<std::string> out;
  for (const auto& [n, t] : ts) out.push_back(n);
  return out;
}

// Mean and (population) standard deviation of a tensor's values.
std::pair<double, double> stats(const Tensor& t) {
  const auto v = t.to_vector<double>();
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  for (double x : v) s += (x - m) * (x - m);
  return {m, std::sqrt(s / static_cast<double>(v.size()))};
}

// Deterministic input: x[i] = 2 sin(0.7 i + k) + 0.1 i (the same formula as in the torch script below).
Tensor wave(Shape shape, double k) {
  const int64_t n = numel(shape);
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = 2 * std::sin(0.7 * static_cast<double>(i) + k) + 0.1 * static_cast<double>(i);
  return Tensor::from_vector(v, shape);
}

void expect_near(const Tensor& t, const std::vector<double>& want, double tol, size_t count = 0) {
  const auto got = t.to_vector<double>();
  const size_t n = count ? count : want.size();
  ASSERT_GE(got.size(), n);
  for (size_t i = 0; i < n; ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

TEST(Layers, LeNet5ParameterNamesAndCountMatchPyTorch) {
  auto net = lenet5();
  // conv1 6*1*5*5 + 6 = 156; conv2 16*6*5*5 + 16 = 2416; fc1 400*120 + 120 = 48120;
  // fc2 120*84 + 84 = 10164; fc3 84*10 + 10 = 850; total 61706 (sum(p.numel()) in torch).
  EXPECT_EQ(net->parameter_count(), 61706);
  EXPECT_EQ(names(net->named_parameters()),
            (std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "9.weight",
                                      "9.bias", "11.weight", "11.bias"}));
  EXPECT_EQ(net->named_parameters()[2].second.shape(), (Shape{16, 6, 5, 5}));
  EXPECT_EQ(net->named_parameters()[4].second.shape(), (Shape{120, 400}));
  EXPECT_EQ((*net)[0]->type_name(), "Conv2d");
  EXPECT_EQ((*net)[2]->type_name(), "AvgPool2d");
  EXPECT_EQ(net->type_name(), "Sequential");
  EXPECT_EQ((*net)(Tensor::ones({2, 1, 32, 32})).shape(), (Shape{2, 10}));
}

TEST(Layers, ParameterShapesAndCountsOfEachLayer) {
  Conv1d c1(4, 8, 3, 1, 1, 1, 2);  // groups 2: weight (8, 2, 3) + bias 8 = 56
  EXPECT_EQ(c1.weight.shape(), (Shape{8, 2, 3}));
  EXPECT_EQ(c1.parameter_count(), 56);
  Conv3d c3(2, 4, {1, 2, 3}, 1, 0, 1, 1, false);  // 4*2*1*2*3 = 48, no bias
  EXPECT_EQ(c3.parameter_count(), 48);
  EXPECT_FALSE(c3.bias.defined());
  EXPECT_EQ(Linear(5, 7, false).parameter_count(), 35);
  EXPECT_EQ(BatchNorm2d(6).parameter_count(), 12);
  EXPECT_EQ(BatchNorm2d(6, 1e-5, 0.1, false).parameter_count(), 0);
  EXPECT_EQ(LayerNorm(Shape{3, 4}).parameter_count(), 24);
  EXPECT_EQ(Embedding(10, 3).weight.shape(), (Shape{10, 3}));
  EXPECT_EQ(Dropout().parameter_count(), 0);
}

TEST(Layers, ForwardShapes) {
  EXPECT_EQ(Conv2d(3, 8, 3, 2, 1)(Tensor::ones({2, 3, 9, 9})).shape(), (Shape{2, 8, 5, 5}));
  EXPECT_EQ(Conv1d(3, 4, 3, 1, 0, 2)(Tensor::ones({1, 3, 10})).shape(), (Shape{1, 4, 6}));  // dilation 2
  EXPECT_EQ(Conv3d(1, 2, 2)(Tensor::ones({1, 1, 3, 4, 5})).shape(), (Shape{1, 2, 2, 3, 4}));
  EXPECT_EQ(MaxPool1d(2)(Tensor::ones({1, 2, 7})).shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(MaxPool2d(3, 2, 1)(Tensor::ones({1, 2, 8, 8})).shape(), (Shape{1, 2, 4, 4}));
  EXPECT_EQ(MaxPool3d(2)(Tensor::ones({1, 1, 4, 4, 4})).shape(), (Shape{1, 1, 2, 2, 2}));
  EXPECT_EQ(AvgPool1d(3, 1)(Tensor::ones({1, 1, 5})).shape(), (Shape{1, 1, 3}));
  EXPECT_EQ(AvgPool3d(2)(Tensor::ones({1, 1, 2, 4, 6})).shape(), (Shape{1, 1, 1, 2, 3}));
  EXPECT_EQ(Linear(4, 6)(Tensor::ones({2, 5, 4})).shape(), (Shape{2, 5, 6}));
  EXPECT_EQ(Flatten()(Tensor::ones({2, 3, 4, 5})).shape(), (Shape{2, 60}));
  EXPECT_EQ(Flatten(0, 1)(Tensor::ones({2, 3, 4})).shape(), (Shape{6, 4}));
  EXPECT_EQ(LayerNorm(4)(Tensor::ones({2, 3, 4})).shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(LocalResponseNorm(3)(Tensor::ones({1, 5, 2, 2})).shape(), (Shape{1, 5, 2, 2}));
  EXPECT_EQ(Embedding(10, 3)(Tensor::from_vector(std::vector<int64_t>{1, 2, 9, 0, 4, 4}, {2, 3})).shape(),
            (Shape{2, 3, 3}));
  const Tensor p = Softmax(1)(wave({2, 3}, 0).detach());
  const auto v = cast(p, DType::f64).to_vector<double>();
  EXPECT_NEAR(v[0] + v[1] + v[2], 1.0, 1e-12);
  EXPECT_NEAR(std::exp(LogSoftmax(1)(wave({2, 3}, 0)).to_vector<double>()[4]), v[4], 1e-12);
  EXPECT_EQ(ReLU()(wave({4}, 3.5)).to_vector<double>()[0], 0.0);  // 2 sin(3.5) < 0
}

TEST(Layers, BadConfigurationsAndInputsFailClearly) {
  EXPECT_THROW(Conv2d(3, 4, 3, 1, 0, 1, 2), Error);  // 3 channels not divisible by 2 groups
  EXPECT_THROW(Conv2d(3, 4, {3, 3, 3}), Error);
  EXPECT_THROW(Dropout(1.5), Error);
  BatchNorm2d bn(3);
  try {
    bn(Tensor::ones({2, 4, 2, 2}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has 4 channels"), std::string::npos) << e.what();
  }
  EXPECT_THROW(bn(Tensor::ones({2, 3, 2})), Error);         // rank 3 for a 2d batch norm
  EXPECT_THROW(bn(Tensor::ones({1, 3, 1, 1})), Error);      // one value per channel in training
  EXPECT_THROW(LayerNorm(4)(Tensor::ones({2, 5})), Error);  // trailing dim 5, not 4
  EXPECT_THROW(Flatten(3)(Tensor::ones({2, 3})), Error);
}

TEST(Layers, DropoutFollowsTheTrainingFlag) {
  Dropout d(0.5);
  const Tensor x = Tensor::ones({4000});
  const auto y = d(x).to_vector<float>();
  int64_t zeros = 0;
  for (float v : y) {
    EXPECT_TRUE(v == 0.0f || v == 2.0f) << v;
    zeros += v == 0.0f;
  }
  EXPECT_NEAR(static_cast<double>(zeros) / 4000, 0.5, 0.05);
  d.eval();
  EXPECT_EQ(d(x).to_vector<float>(), x.to_vector<float>());
}

// Reference values from Debian's /usr/bin/python3, torch 1.13:
//   bn = torch.nn.BatchNorm2d(3).double(); bn.train(); y1 = bn(x1); bn(x2)
//   bn.running_mean, bn.running_var, bn.num_batches_tracked, y1.flatten()[:6]
//   bn.eval(); bn(x1).flatten()[:6]
// with x1 = wave((2, 3, 2, 2), 0), x2 = wave((2, 3, 2, 2), 1) built by the same formula in Python.
TEST(Layers, BatchNormRunningStatsMatchPyTorch) {
  FactoryScope f64(DType::f64);
  BatchNorm2d bn(3);
  const Tensor x1 = wave({2, 3, 2, 2}, 0), x2 = wave({2, 3, 2, 2}, 1);
  const Tensor y1 = bn(x1);
  bn(x2);
  expect_near(bn.running_mean, {0.1992963815, 0.1305227165, 0.4034919424}, 1e-9);
  expect_near(bn.running_var, {1.0213192798, 1.4751144390, 1.1221565825}, 1e-9);  // unbiased batch var
  EXPECT_EQ(bn.num_batches_tracked.item(), 2);
  expect_near(y1, {-1.2928515835, 0.0318042714, 0.7783248882, 0.6404810648, 0.4224994881, -0.4568114522}, 1e-9);
  // The buffer handles registered in the module see the update.
  expect_near(bn.named_buffers()[0].second, {0.1992963815, 0.1305227165, 0.4034919424}, 1e-9);
  // Eval normalizes with the running statistics and leaves them alone.
  bn.eval();
  expect_near(bn(x1), {-0.1972043644, 1.1766565833, 1.9509071316, 1.8079430213, 0.7735012117, -0.2734263633},
              1e-9);
  expect_near(bn.running_mean, {0.1992963815, 0.1305227165, 0.4034919424}, 1e-9);
  EXPECT_EQ(bn.num_batches_tracked.item(), 2);
}

// torch 1.13: bn1 = torch.nn.BatchNorm1d(2).double(); bn1(x) with x = wave((4, 2), 0.5);
// bn1.running_mean, bn1.running_var.
TEST(Layers, BatchNorm1dOnMatricesMatchesPyTorch) {
  FactoryScope f64(DType::f64);
  BatchNorm1d bn(2);
  bn(wave({4, 2}, 0.5));
  expect_near(bn.running_mean, {0.0434028337, 0.0358986737}, 1e-9);
  expect_near(bn.running_var, {1.1170520154, 1.1285333261}, 1e-9);
  // In training the output is normalized per channel with the batch statistics.
  const auto [m, s] = stats(slice(bn(wave({4, 2}, 0.5)), 1, 0, 1));
  EXPECT_NEAR(m, 0, 1e-12);
  EXPECT_NEAR(s, 1, 1e-4);  // sqrt(var / (var + eps))
}

TEST(Init, StatisticsMatchTheirDefinitions) {
  manual_seed(1);
  const Tensor w = Tensor::empty({200, 500});  // fan_in 500, fan_out 200
  init::kaiming_normal(w, 0, init::FanMode::fan_in, "relu");
  auto [m, s] = stats(w);
  EXPECT_NEAR(m, 0, 0.005);
  EXPECT_NEAR(s, std::sqrt(2.0 / 500), 0.01 * std::sqrt(2.0 / 500));

  init::kaiming_uniform(w, 0, init::FanMode::fan_out, "relu");  // bound sqrt(3) * sqrt(2 / 200)
  std::tie(m, s) = stats(w);
  EXPECT_NEAR(s, std::sqrt(2.0 / 200), 0.01 * std::sqrt(2.0 / 200));
  const double kb = std::sqrt(3.0) * std::sqrt(2.0 / 200);
  for (float v : w.to_vector<float>()) ASSERT_LE(std::abs(v), kb + 1e-6);

  init::xavier_uniform(w, init::calculate_gain("tanh"));  // std 5/3 * sqrt(2 / 700)
  std::tie(m, s) = stats(w);
  EXPECT_NEAR(s, 5.0 / 3 * std::sqrt(2.0 / 700), 0.01 * 5.0 / 3 * std::sqrt(2.0 / 700));
  init::xavier_normal(w);
  std::tie(m, s) = stats(w);
  EXPECT_NEAR(s, std::sqrt(2.0 / 700), 0.01 * std::sqrt(2.0 / 700));

  init::uniform(w, 2, 4);  // mean 3, std 2 / sqrt(12)
  std::tie(m, s) = stats(w);
  EXPECT_NEAR(m, 3, 0.01);
  EXPECT_NEAR(s, 2 / std::sqrt(12.0), 0.01);
  init::normal(w, -1, 0.5);
  std::tie(m, s) = stats(w);
  EXPECT_NEAR(m, -1, 0.01);
  EXPECT_NEAR(s, 0.5, 0.005);
  init::ones(w);
  EXPECT_EQ(stats(w), (std::pair<double, double>{1, 0}));
  init::zeros(w);
  EXPECT_EQ(stats(w), (std::pair<double, double>{0, 0}));
  EXPECT_NEAR(init::calculate_gain("leaky_relu", 0.2), std::sqrt(2 / 1.04), 1e-15);
  EXPECT_THROW(init::calculate_gain("swish"), Error);
  EXPECT_THROW(init::kaiming_uniform(Tensor::empty({5})), Error);  // no fans for a vector
}

TEST(Init, TruncatedNormalStaysInBounds) {
  manual_seed(2);
  const Tensor w = Tensor::empty({100000}, DType::f64);
  init::truncated_normal(w);  // N(0, 1) on [-2, 2]
  for (double v : w.to_vector<double>()) ASSERT_TRUE(v >= -2 && v <= 2) << v;
  const auto [m, s] = stats(w);
  EXPECT_NEAR(m, 0, 0.01);
  // Var of N(0,1) truncated to [-2, 2]: 1 - 2*2*phi(2) / (Phi(2) - Phi(-2)) = 0.77374, std 0.87962.
  EXPECT_NEAR(s, 0.87962, 0.01);
  init::truncated_normal(w, 1, 2, 0.5, 1.0);  // a narrow interval, 10% of the mass
  for (double v : w.to_vector<double>()) ASSERT_TRUE(v >= 0.5 && v <= 1.0) << v;
  EXPECT_THROW(init::truncated_normal(w, 0, 1, 8, 9), Error);  // too little mass to redraw into
}

TEST(Init, FillsViewsInPlace) {
  const Tensor base = Tensor::zeros({2, 3});
  init::constant(slice(base, 1, 0, 3, 2), 5);  // columns 0 and 2 of a strided view
  EXPECT_EQ(base.to_vector<float>(), (std::vector<float>{5, 0, 5, 5, 0, 5}));
  EXPECT_THROW(copy_into(base, Tensor::zeros({3, 2})), Error);
}

TEST(Init, DefaultLinearAndConvInitIsPyTorchs) {
  manual_seed(3);
  Linear fc(400, 300);
  const double bound = 1 / std::sqrt(400.0);  // kaiming_uniform(a=sqrt(5)) -> U(-1/sqrt(fan_in), ..)
  for (float v : fc.weight.to_vector<float>()) ASSERT_LE(std::abs(v), bound + 1e-7);
  for (float v : fc.bias.to_vector<float>()) ASSERT_LE(std::abs(v), bound + 1e-7);
  EXPECT_NEAR(stats(fc.weight).second, bound / std::sqrt(3.0), 0.01 * bound);
  Conv2d conv(16, 32, 3, 1, 0, 1, 2);  // fan_in = 16/2 * 3 * 3 = 72
  EXPECT_NEAR(stats(conv.weight).second, 1 / std::sqrt(72.0) / std::sqrt(3.0), 0.05 / std::sqrt(72.0));
  for (float v : conv.weight.to_vector<float>()) ASSERT_LE(std::abs(v), 1 / std::sqrt(72.0) + 1e-7);
  const auto [em, es] = stats(Embedding(1000, 50).weight);
  EXPECT_NEAR(em, 0, 0.02);
  EXPECT_NEAR(es, 1, 0.02);
}

TEST(Layers, ManualSeedMakesModelsReproducible) {
  manual_seed(42);
  auto a = lenet5();
  manual_seed(42);
  auto b = lenet5();
  auto c = lenet5();
  const auto pa = a->parameters(), pb = b->parameters(), pc = c->parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].to_vector<float>(), pb[i].to_vector<float>()) << i;
    EXPECT_NE(pa[i].to_vector<float>(), pc[i].to_vector<float>()) << i;
  }
  manual_seed(5);
  const auto da = Dropout(0.3)(Tensor::ones({64})).to_vector<float>();
  manual_seed(5);
  EXPECT_EQ(Dropout(0.3)(Tensor::ones({64})).to_vector<float>(), da);
}

TEST(Layers, BackwardGivesAGradientForEveryParameter) {
  manual_seed(7);
  Sequential net{mk<Conv2d>(2, 4, 3, 1, 1), mk<BatchNorm2d>(4), mk<ReLU>(), mk<MaxPool2d>(2),
                 mk<LocalResponseNorm>(3), mk<Flatten>(), mk<LayerNorm>(16), mk<Dropout>(0.2),
                 mk<Linear>(16, 5), mk<Sigmoid>(), mk<Linear>(5, 3), mk<LogSoftmax>(1)};
  const Tensor x = normal({3, 2, 4, 4});
  const Tensor target = Tensor::from_vector(std::vector<int64_t>{0, 2, 1}, {3});
  backward(nll_loss(net(x), target));
  for (const auto& [n, p] : net.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << n;
    EXPECT_EQ(p.grad().shape(), p.shape()) << n;
    double norm = 0;
    for (float v : p.grad().to_vector<float>()) norm += std::abs(v);
    EXPECT_GT(norm, 0) << n;
  }
  Embedding emb(6, 4);
  backward(sum(emb(Tensor::from_vector(std::vector<int64_t>{1, 1, 3}, {3}))));
  // Rows 1 (twice) and 3 get gradient; the others none.
  expect_near(emb.weight.grad(), {0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1}, 0);
}

TEST(Layers, MetaModelsAllocateNothing) {
  const auto before = allocator_for(kCPU).stats().live_bytes;
  {
    FactoryScope meta(DType::f32, kMeta);
    auto net = lenet5();
    EXPECT_EQ(net->parameter_count(), 61706);
    const Tensor y = (*net)(Tensor::empty({8, 1, 32, 32}, DType::f32, kMeta));
    EXPECT_EQ(y.shape(), (Shape{8, 10}));
    EXPECT_TRUE(y.is_meta());
  }
  EXPECT_EQ(allocator_for(kCPU).stats().live_bytes, before);
}

}  // namespace
}  // namespace plumb::nn
