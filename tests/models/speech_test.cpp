// speech: the Deep-Speech-style network's sizes (Fathom's dead BiRNN included), its output, that the
// modern variant learns through its live BiLSTM, the workload's steps, and bad inputs.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "common/error_of.h"
#include "plumb/audio.h"
#include "plumb/speech.h"
#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/error.h"
#include "plumb/models.h"
#include "plumb/nn/layers.h"
#include "plumb/nn/optim.h"
#include "plumb/ops.h"
#include "plumb/random.h"
#include "plumb/workload.h"

namespace plumb {
namespace {

using models::Mode;
using models::SpeechNet;

std::shared_ptr<SpeechNet> build_net(const std::string& variant) {
  auto net = std::dynamic_pointer_cast<SpeechNet>(models::build_model("speech", variant));
  EXPECT_TRUE(net);
  return net;
}

std::shared_ptr<SpeechNet> build_meta(const std::string& variant) {
  nn::FactoryScope meta(DType::f32, kMeta);
  return build_net(variant);
}

using testing::error_of;

// Fathom's executed path, 26 -> 1024 -> 1024 -> 1024 -> 62 with biases:
//   26*1024 + 1024 = 27,648; 2 * (1024*1024 + 1024) = 2,099,200; 1024*62 + 62 = 63,550; sum 2,190,398.
// Its dead BiRNN: per direction TF's _linear matrix (1024 + 1024) x 1024 plus a 1024 bias = 2,098,176,
// twice = 4,196,352; Fathom's graph holds them as variables, so the model's count includes them.
TEST(SpeechModel, FathomParameterCounts) {
  auto m = build_meta("fathom");
  EXPECT_EQ(m->executed_parameter_count(), 27648 + 2 * (1024 * 1024 + 1024) + 63550);
  EXPECT_EQ(m->executed_parameter_count(), 2190398);
  EXPECT_EQ(m->parameter_count(), 2190398 + 2 * (2048 * 1024 + 1024));
  EXPECT_EQ(m->parameter_count(), 6386750);
}

// modern: dense layers over stacked frame pairs, 52*1024 + 1024 + 2,099,200 = 2,153,472; a
// bidirectional LSTM of 512 over 1024 inputs, per direction 4*512*1024 + 4*512*512 + 2*4*512 =
// 3,149,824; and 1024 -> 29 characters (29,725).
TEST(SpeechModel, ModernParameterCounts) {
  auto m = build_meta("modern");
  EXPECT_EQ(m->parameter_count(), 2153472 + 2 * 3149824 + 29725);
  EXPECT_EQ(m->executed_parameter_count(), m->parameter_count());
}

// (N, T, 26) in, (T', N, classes) out: fathom keeps every frame, modern steps over frame pairs (an
// odd T is padded).
TEST(SpeechModel, MetaForwardIsTimeMajor) {
  auto fathom = build_meta("fathom");
  EXPECT_EQ((*fathom)(Tensor::empty({3, 1566, 26}, DType::f32, kMeta)).shape(), (Shape{1566, 3, 62}));
  auto modern = build_meta("modern");
  EXPECT_EQ((*modern)(Tensor::empty({3, 1566, 26}, DType::f32, kMeta)).shape(), (Shape{783, 3, 29}));
  EXPECT_EQ((*modern)(Tensor::empty({3, 101, 26}, DType::f32, kMeta)).shape(), (Shape{51, 3, 29}));
  EXPECT_EQ(modern->output_lengths(Tensor::from_vector<int64_t>({101, 4, 1}, {3})).to_vector<int64_t>(),
            (std::vector<int64_t>{51, 2, 1}));
}

// Fathom's zero initialization gives zero logits, so every frame is uniform over the 62 classes.
TEST(SpeechModel, FathomStartsUniform) {
  auto m = build_net("fathom");
  const Tensor y = (*m)(normal({2, 10, 26}));
  ASSERT_EQ(y.shape(), (Shape{10, 2, 62}));
  for (float v : y.to_vector<float>()) EXPECT_NEAR(v, -std::log(62.0f), 1e-5);
}

// The BiRNN of "fathom" is never run: after a backward pass its parameters have no gradient.
TEST(SpeechModel, FathomBiRnnIsDead) {
  auto m = build_net("fathom");
  const Tensor lp = m->run(normal({2, 20, 26}), {});
  const Tensor labels = Tensor::from_vector<int64_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor lengths = Tensor::from_vector<int64_t>({20, 20}, {2});
  const Tensor label_lengths = Tensor::from_vector<int64_t>({3, 2}, {2});
  backward(ctc_loss(lp, labels, lengths, label_lengths, 61, "sum"));
  int birnn = 0;
  for (const auto& [name, p] : m->named_parameters()) {
    if (name.starts_with("birnn.")) {
      ++birnn;
      EXPECT_FALSE(p.grad().defined()) << name;
    }
  }
  EXPECT_EQ(birnn, 4);  // fw and bw, weight and bias
}

// A small modern network fits one batch: CTC loss falls by over 95% in 200 Adam steps and greedy
// decoding then reproduces the targets (gradients reach the LSTM and the dense layers).
TEST(SpeechModel, ModernLearnsOneBatch) {
  manual_seed(3);
  models::SpeechConfig c = models::speech_config("modern");
  c.hidden = 64;
  c.rnn_hidden = 32;
  auto m = std::make_shared<SpeechNet>(c);
  const Tensor x = normal({2, 24, 26});
  const Tensor labels = Tensor::from_vector<int64_t>({5, 6, 7, 8, 9, 10, 2, 0}, {2, 4});
  const Tensor lengths = Tensor::from_vector<int64_t>({24, 18}, {2});
  const Tensor steps = m->output_lengths(lengths);  // 12 and 9
  const Tensor label_lengths = Tensor::from_vector<int64_t>({4, 3}, {2});
  auto opt = nn::make_optimizer("adam", m->named_parameters(), 1e-2);
  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    opt->zero_grad();
    const Tensor loss = ctc_loss(m->run(x, lengths), labels, steps, label_lengths, 0, "mean");
    last = loss.item();
    if (step == 0) first = last;
    ASSERT_TRUE(std::isfinite(last));
    backward(loss);
    opt->step();
  }
  EXPECT_LT(last, first * 0.05) << "first " << first << " last " << last;
  for (const auto& [name, p] : m->named_parameters()) EXPECT_TRUE(p.grad().defined()) << name;
  NoGradScope no_grad;
  const auto decoded = ctc_greedy_decode(m->run(x, lengths), steps, 0);
  ASSERT_EQ(decoded.size(), 2u);
  EXPECT_EQ(decoded[0], (std::vector<int64_t>{5, 6, 7, 8}));
  EXPECT_EQ(decoded[1], (std::vector<int64_t>{9, 10, 2}));
}

std::vector<float> parameter(models::Workload& w, const std::string& name) {
  for (const auto& [n, p] : w.model().named_parameters())
    if (n == name) return p.to_vector<float>();
  ADD_FAILURE() << "no parameter " << name;
  return {};
}

// Counts dispatched ops per phase and CTC ops.
class Ops : public DispatchObserver {
 public:
  void on_op(const OpEvent& e) override {
    ++phase[static_cast<int>(e.phase)];
    const std::string name = e.op->name;
    ctc += name.find("ctc") != std::string::npos;
  }
  std::array<int, 3> phase{};
  int ctc = 0;
};

TEST(SpeechWorkload, FathomTrainAndInferSteps) {
  auto train = models::make_workload("speech", {.mode = Mode::train, .batch = 2});
  EXPECT_EQ(train->variant(), "fathom");
  EXPECT_EQ(train->data(), "synthetic");
  EXPECT_NE(train->describe().find("sgd lr 0.01"), std::string::npos) << train->describe();
  const std::vector<float> bias = parameter(*train, "out.linear.bias");
  Ops ops;
  {
    ObserverScope scope(&ops);
    train->step();
  }
  EXPECT_GT(ops.phase[0], 0);
  EXPECT_GT(ops.phase[1], 0);
  EXPECT_GT(ops.ctc, 0);
  // Quirk kept: Fathom's all-zero weights give zero pre-activations, where ReLU's gradient is 0, so a
  // step updates every parameter by zero.
  EXPECT_GT(ops.phase[2], 0);
  EXPECT_EQ(parameter(*train, "out.linear.bias"), bias);

  auto infer = models::make_workload("speech", {.mode = Mode::infer});
  EXPECT_EQ(infer->batch(), 32);
  EXPECT_NE(infer->describe().find("greedy CTC decode"), std::string::npos) << infer->describe();
  const auto& info = models::model_info("speech");
  EXPECT_TRUE(info.in_suite);
  EXPECT_EQ(info.default_batch, 32);
  EXPECT_EQ(info.example_shape, (Shape{1566, 26}));
  auto quick = models::make_workload("speech", {.mode = Mode::infer, .batch = info.quick_batch});
  quick->step();
}

TEST(SpeechWorkload, ModernTrainStepMovesTheLstm) {
  auto train = models::make_workload("speech", {.variant = "modern", .mode = Mode::train, .batch = 1});
  EXPECT_NE(train->describe().find("adam lr 0.001"), std::string::npos) << train->describe();
  const std::vector<float> before = parameter(*train, "birnn.weight_hh_l0_reverse");
  train->step();
  EXPECT_NE(parameter(*train, "birnn.weight_hh_l0_reverse"), before);
}

TEST(SpeechWorkload, RejectsBadOptions) {
  EXPECT_NE(error_of([] {
              models::make_workload("speech", {.variant = "deepspeech2"});
            }).find("has no variant 'deepspeech2'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              models::make_workload("speech", {.batch = 1, .data = "timit"});
            }).find("unknown data source 'timit'"),
            std::string::npos);
}

TEST(SpeechModel, RejectsBadInputs) {
  auto m = build_net("modern");
  std::string e = error_of([&] { (*m)(Tensor::zeros({2, 10, 13})); });
  EXPECT_NE(e.find("speech: input must be (N, T, 26) features, got"), std::string::npos) << e;
  e = error_of([&] { (*m)(Tensor::zeros({10, 26})); });
  EXPECT_NE(e.find("speech: input must be"), std::string::npos) << e;
  e = error_of([&] { m->run(Tensor::zeros({2, 10, 26}), Tensor::from_vector<int64_t>({10, 11}, {2})); });
  EXPECT_NE(e.find("length 11 is outside 1..10"), std::string::npos) << e;
  e = error_of([&] { m->run(Tensor::zeros({2, 10, 26}), Tensor::from_vector<int64_t>({10}, {1})); });
  EXPECT_NE(e.find("lengths must be i64 (2)"), std::string::npos) << e;
  EXPECT_THROW(models::speech_config("huge"), Error);
}

}  // namespace
}  // namespace plumb
