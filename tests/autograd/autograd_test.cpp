#include <gtest/gtest.h>

#include <cmath>

#include "plumb/allocator.h"
#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/ops.h"

namespace plumb {
namespace {

Tensor vec(std::vector<double> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_vector(v, {n});
}

TEST(Autograd, SquareSumGradientIsTwoX) {
  Tensor x = vec({1, -2, 3});
  x.set_requires_grad(true);
  Tensor y = sum(x * x);
  backward(y);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, -4, 6}));
}

TEST(Autograd, DiamondAccumulatesBothPaths) {
  Tensor x = vec({0.5, 2});
  x.set_requires_grad(true);
  Tensor y = sum(x * x + x);  // d/dx = 2x + 1
  backward(y);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 5}));
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = vec({1, 2});
  x.set_requires_grad(true);
  backward(sum(x * 3.0));
  backward(sum(x * 3.0));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{6, 6}));
}

TEST(Autograd, SecondBackwardNeedsRetainGraph) {
  Tensor x = vec({1, 2});
  x.set_requires_grad(true);
  Tensor y = sum(exp(x));
  backward(y);
  try {
    backward(y);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("retain_graph"), std::string::npos) << e.what();
  }
  Tensor z = sum(x * x);
  backward(z, {}, /*retain_graph=*/true);
  backward(z);
  // exp grads (e^1, e^2) plus twice 2x.
  const auto g = x.grad().to_vector<double>();
  EXPECT_NEAR(g[0], std::exp(1.0) + 4, 1e-12);
  EXPECT_NEAR(g[1], std::exp(2.0) + 8, 1e-12);
}

TEST(Autograd, BroadcastGradientIsSummed) {
  Tensor a = Tensor::ones({2, 3}, DType::f64);
  Tensor b = vec({1, 2, 3});
  b.set_requires_grad(true);
  backward(sum(a * b));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{2, 2, 2}));
}

TEST(Autograd, NoGradScopeRecordsNothing) {
  Tensor x = vec({1, 2});
  x.set_requires_grad(true);
  Tensor y;
  {
    NoGradScope no_grad;
    y = x * x;
  }
  EXPECT_FALSE(y.requires_grad());
  Tensor z = x * x;
  EXPECT_TRUE(z.requires_grad());
}

TEST(Autograd, DetachStopsGradient) {
  Tensor x = vec({1, 2});
  x.set_requires_grad(true);
  Tensor y = sum(x * x.detach());  // d/dx = x (the detached factor is a constant)
  backward(y);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 2}));
}

TEST(Autograd, NonScalarRootNeedsGradient) {
  Tensor x = vec({1, 2});
  x.set_requires_grad(true);
  Tensor y = x * x;
  EXPECT_THROW(backward(y), Error);
  backward(y, vec({1, 10}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 40}));
}

TEST(Autograd, GradFunctionLeavesDotGradAlone) {
  Tensor x = vec({3});
  x.set_requires_grad(true);
  auto g = grad({sum(x * x * x)}, {x});
  EXPECT_DOUBLE_EQ(g[0].item(), 27.0);
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, IntegerOutputsCarryNoGradient) {
  Tensor x = vec({1, 5, 2});
  x.set_requires_grad(true);
  Tensor i = argmax(x, 0);
  EXPECT_FALSE(i.requires_grad());
  EXPECT_FALSE(gt(x, x).requires_grad());
}

TEST(Autograd, IntegerTensorsCannotRequireGrad) {
  Tensor i = Tensor::zeros({2}, DType::i64);
  EXPECT_THROW(i.set_requires_grad(true), Error);
}

// Records every dispatched op.
struct Recorder : DispatchObserver {
  struct Row {
    std::string name;
    Phase phase;
    uint64_t seq, forward_seq;
    std::vector<std::string> regions;
  };
  std::vector<Row> rows;
  void on_op(const OpEvent& e) override {
    rows.push_back({e.op->name, e.phase, e.seq, e.forward_seq, {e.regions.begin(), e.regions.end()}});
  }
};

TEST(Autograd, BackwardOpsAreTaggedWithPhaseAndForwardOp) {
  Tensor x = vec({1, 2});
  x.set_requires_grad(true);
  Recorder rec;
  {
    ObserverScope scope(&rec);
    backward(sum(exp(x)));
  }
  uint64_t exp_seq = 0;
  for (const auto& r : rec.rows)
    if (r.name == "exp" && r.phase == Phase::forward) exp_seq = r.seq;
  ASSERT_NE(exp_seq, 0u);
  int backward_ops = 0, linked_to_exp = 0;
  for (const auto& r : rec.rows) {
    if (r.phase != Phase::backward) continue;
    ++backward_ops;
    EXPECT_NE(r.forward_seq, 0u) << r.name;
    if (r.forward_seq == exp_seq) ++linked_to_exp;
  }
  EXPECT_GT(backward_ops, 0);
  EXPECT_GT(linked_to_exp, 0) << "the exp vjp's ops point back at exp";
}

TEST(Autograd, GradientAccumulationIsBackwardWork) {
  Tensor x = vec({1, 2});
  x.set_requires_grad(true);
  Recorder rec;
  {
    ObserverScope scope(&rec);
    backward(sum(mul(exp(x), exp(x))));  // x feeds two exps: the engine adds their gradients
  }
  int forward_adds = 0, backward_adds = 0;
  for (const auto& r : rec.rows)
    if (r.name == "add") (r.phase == Phase::forward ? forward_adds : backward_adds)++;
  EXPECT_EQ(forward_adds, 0) << "no add runs in the forward pass";
  EXPECT_GE(backward_adds, 1);
}

TEST(Autograd, MetaDeviceRunsBackwardWithoutData) {
  const auto before = allocator_for(kCPU).stats().live_bytes;
  Tensor w = Tensor::empty({64, 32}, DType::f32, kMeta);
  w.set_requires_grad(true);
  Tensor x = Tensor::empty({8, 64}, DType::f32, kMeta);
  Tensor loss = sum(relu(matmul(x, w)));
  backward(loss);
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().shape(), (Shape{64, 32}));
  EXPECT_TRUE(w.grad().is_meta());
  EXPECT_EQ(allocator_for(kCPU).stats().live_bytes, before);
}

}  // namespace
}  // namespace plumb
