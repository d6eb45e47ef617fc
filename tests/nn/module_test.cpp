// Module: names, registration, train/eval, zero_grad, load_tensors errors, module paths on events.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/nn/layers.h"
#include "plumb/ops.h"

namespace plumb::nn {
namespace {

// A hand-written module: a parameter and a buffer of its own plus two named children.
class Block : public Module {
 public:
  Block() {
    scale = register_parameter("scale", Tensor::ones({3}));
    count = register_buffer("count", Tensor::zeros({1}));
    fc = register_module("fc", std::make_shared<Linear>(3, 3));
    inner = register_module("inner", std::make_shared<Sequential>(
                                         Sequential{std::make_shared<Linear>(3, 2, false), std::make_shared<ReLU>()}));
  }
  Tensor forward(const Tensor& x) override { return (*inner)((*fc)(x) * scale); }
  std::string type_name() const override { return "Block"; }
  Tensor scale, count;
  std::shared_ptr<Linear> fc;
  std::shared_ptr<Sequential> inner;
};

std::vector<std::string> names(const NamedTensors& ts) {
  std::vector<std::string> out;
  for (const auto& [n, t] : ts) out.push_back(n);
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Module, NamedParametersAreDottedDepthFirstInRegistrationOrder) {
  Block b;
  EXPECT_EQ(names(b.named_parameters()),
            (std::vector<std::string>{"scale", "fc.weight", "fc.bias", "inner.0.weight"}));
  EXPECT_EQ(names(b.named_buffers()), (std::vector<std::string>{"count"}));
  // 3 (scale) + 3*3 + 3 (fc) + 2*3 (inner.0, no bias) = 21.
  EXPECT_EQ(b.parameter_count(), 21);
  EXPECT_EQ(b.parameters().size(), 4u);
  for (const Tensor& p : b.parameters()) EXPECT_TRUE(p.requires_grad());
  EXPECT_FALSE(b.count.requires_grad());
  EXPECT_EQ(b.fc->name(), "fc");
  EXPECT_EQ(b.type_name(), "Block");
}

TEST(Module, BuffersOfChildrenAreNamedToo) {
  Sequential s{std::make_shared<Linear>(4, 4), std::make_shared<BatchNorm1d>(4)};
  EXPECT_EQ(names(s.named_buffers()),
            (std::vector<std::string>{"1.running_mean", "1.running_var", "1.num_batches_tracked"}));
  EXPECT_EQ(names(s.named_parameters()), (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias"}));
}

TEST(Module, TrainAndEvalAreRecursive) {
  Block b;
  EXPECT_TRUE(b.training());
  b.eval();
  EXPECT_FALSE(b.training());
  EXPECT_FALSE(b.fc->training());
  EXPECT_FALSE((*b.inner)[1]->training());
  b.train();
  EXPECT_TRUE((*b.inner)[0]->training());
}

TEST(Module, ZeroGradClearsEveryGradient) {
  Block b;
  backward(sum(b(Tensor::ones({2, 3}))));
  for (const auto& [n, p] : b.named_parameters()) EXPECT_TRUE(p.grad().defined()) << n;
  b.zero_grad();
  for (const auto& [n, p] : b.named_parameters()) EXPECT_FALSE(p.grad().defined()) << n;
}

TEST(Module, LoadTensorsReplacesValuesSeenThroughTheLayersHandles) {
  Block a, b;
  NamedTensors state = a.named_parameters();
  for (auto& nt : a.named_buffers()) state.push_back(nt);
  b.load_tensors(state);
  EXPECT_EQ(b.fc->weight.to_vector<float>(), a.fc->weight.to_vector<float>());
  EXPECT_EQ(b.named_parameters()[3].second.to_vector<float>(), a.named_parameters()[3].second.to_vector<float>());
  // The copy is by value: changing the source later leaves b alone.
  const auto before = b.fc->bias.to_vector<float>();
  a.fc->bias.data<float>()[0] += 1;
  EXPECT_EQ(b.fc->bias.to_vector<float>(), before);
}

TEST(Module, LoadTensorsNamesMissingUnexpectedAndMismatched) {
  Block b;
  NamedTensors state = b.named_parameters();
  for (auto& nt : b.named_buffers()) state.push_back(nt);

  NamedTensors missing(state.begin() + 1, state.end());
  EXPECT_NE(error_of([&] { b.load_tensors(missing); }).find("missing: scale"), std::string::npos);

  NamedTensors extra = state;
  extra.emplace_back("fc.gamma", Tensor::ones({3}));
  EXPECT_NE(error_of([&] { b.load_tensors(extra); }).find("unexpected: fc.gamma"), std::string::npos);

  NamedTensors bad_shape = state;
  bad_shape[1].second = Tensor::zeros({3, 4});
  const std::string shape_msg = error_of([&] { b.load_tensors(bad_shape); });
  EXPECT_NE(shape_msg.find("fc.weight is f32(3, 3) in the module, f32(3, 4) given"), std::string::npos)
      << shape_msg;

  NamedTensors bad_dtype = state;
  bad_dtype[0].second = Tensor::ones({3}, DType::f64);
  const std::string dtype_msg = error_of([&] { b.load_tensors(bad_dtype); });
  EXPECT_NE(dtype_msg.find("scale is f32(3,) in the module, f64(3,) given"), std::string::npos) << dtype_msg;

  // Nothing is loaded when anything is wrong.
  NamedTensors partly = state;
  partly[0].second = Tensor::full({3}, 7.0);
  partly.emplace_back("nope", Tensor::ones({1}));
  EXPECT_THROW(b.load_tensors(partly), Error);
  EXPECT_EQ(b.scale.to_vector<float>(), (std::vector<float>{1, 1, 1}));
}

TEST(Module, RegisteringANameTwiceFails) {
  struct Twice : Module {
    Twice() {
      register_parameter("w", Tensor::ones({1}));
      register_buffer("w", Tensor::ones({1}));
    }
    Tensor forward(const Tensor& x) override { return x; }
    std::string type_name() const override { return "Twice"; }
  };
  EXPECT_NE(error_of([] { Twice t; }).find("'w' is already registered"), std::string::npos);
}

// Records the module path of every dispatched op.
struct PathRecorder : DispatchObserver {
  std::vector<std::pair<std::string, std::string>> rows;  // (op, joined path)
  void on_op(const OpEvent& e) override {
    std::string path;
    for (const auto& m : e.modules) path += (path.empty() ? "" : ".") + m;
    rows.emplace_back(e.op->name, path);
  }
};

TEST(Module, OpsAreAttributedToTheModulePath) {
  Sequential net{std::make_shared<Linear>(4, 3), std::make_shared<ReLU>(),
                 std::make_shared<Sequential>(Sequential{std::make_shared<Linear>(3, 2)})};
  const Tensor x = Tensor::ones({2, 4});
  PathRecorder rec;
  {
    ObserverScope scope(&rec);
    net(x);
  }
  std::set<std::string> paths;
  for (const auto& [op, path] : rec.rows) {
    EXPECT_FALSE(path.empty()) << op << " ran outside every module";
    paths.insert(path);
    if (op == "relu") {
      EXPECT_EQ(path, "1");
    }
  }
  // Joined paths equal the parameter prefixes: "0.weight", "2.0.weight".
  EXPECT_EQ(paths, (std::set<std::string>{"0", "1", "2.0"}));
}

}  // namespace
}  // namespace plumb::nn
