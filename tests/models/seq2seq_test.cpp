// seq2seq: parameter counts on the meta device (per-layer arithmetic below), the packed input and its
// errors, train and infer steps of both variants on synthetic and generated data, and learning.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "plumb/autograd.h"
#include "plumb/device.h"
#include "plumb/dispatch.h"
#include "plumb/error.h"
#include "plumb/models.h"
#include "plumb/nn/layers.h"
#include "plumb/ops.h"
#include "plumb/parallel_text.h"
#include "plumb/random.h"
#include "plumb/workload.h"

namespace plumb {
namespace {

using models::Mode;

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

// LSTM layer with input I and hidden 256, PyTorch's two biases: 4*256*(I + 256) + 2*4*256.
constexpr int64_t lstm(int64_t in) { return 1024 * (in + 256) + 2048; }

// fathom, as TF's embedding_attention_seq2seq builds it for 40k/40k:
//   embeddings          2 * 40000 * 256                         = 20,480,000
//   encoder LSTM        3 * (1024 * 512 + 2048)                 =  1,579,008
//   decoder LSTM cells  3 * (1024 * 512 + 2048)                 =  1,579,008
//   input projection    [emb; attn] 512 -> 256 + b              =    131,328
//   attention keys W1   256 x 256 (1x1 conv, no bias)           =     65,536
//   attention query     [c1;h1;c2;h2;c3;h3] 1536 -> 256 + b     =    393,472
//   attention v         256                                     =        256
//   attention output    [cell_out; attn] 512 -> 256 + b         =    131,328
//   output projection   256 -> 40000 + b                        = 10,280,000
//   total                                                       = 34,639,936
// (TF's BasicLSTMCell has one bias per layer, 6 x 1024 = 6,144 fewer: 34,633,792.)
constexpr int64_t kFathomParams = 2 * 40000 * 256 + 6 * lstm(256) + (512 * 256 + 256) + 256 * 256 +
                                  (1536 * 256 + 256) + 256 + (512 * 256 + 256) + (256 * 40000 + 40000);
static_assert(kFathomParams == 34'639'936);

TEST(Seq2SeqModel, FathomParameterCountOnMeta) {
  nn::FactoryScope meta(DType::f32, kMeta);
  auto m = models::build_model("seq2seq", "fathom");
  EXPECT_EQ(m->parameter_count(), kFathomParams);
  std::map<std::string, Shape> shapes;
  for (const auto& [name, p] : m->named_parameters()) {
    EXPECT_TRUE(p.is_meta()) << name;
    shapes[name] = p.shape();
  }
  EXPECT_EQ(shapes["encoder_embedding.weight"], (Shape{40000, 256}));
  EXPECT_EQ(shapes["decoder_embedding.weight"], (Shape{40000, 256}));
  EXPECT_EQ(shapes["encoder.weight_ih_l2"], (Shape{1024, 256}));
  EXPECT_EQ(shapes["decoder_cell2.weight_hh"], (Shape{1024, 256}));
  EXPECT_EQ(shapes["attention_query.weight"], (Shape{256, 1536}));
  EXPECT_EQ(shapes["output_projection.weight"], (Shape{40000, 256}));
  // The packed example of the largest bucket, (40, 50): logits (B, 50, 40000) without data.
  const Tensor x = Tensor::empty({2, 90}, DType::i64, kMeta);
  m->eval();
  EXPECT_EQ((*m)(x).shape(), (Shape{2, 50, 40000}));
  m->train();
  EXPECT_EQ((*m)(x).shape(), (Shape{2, 50, 40000}));
}

TEST(Seq2SeqModel, ModernParameterCountOnMeta) {
  nn::FactoryScope meta(DType::f32, kMeta);
  auto m = models::build_model("seq2seq", "modern");
  // Vocabularies of the generated corpus: its 76 words plus the 4 special tokens, each side.
  const RuleCorpus c = generate_rule_corpus({.train_pairs = 2000, .test_pairs = 10});
  const int64_t vs = Vocabulary::build(c.train.source, 1000).size();
  const int64_t vt = Vocabulary::build(c.train.target, 1000).size();
  EXPECT_EQ(vs, 80);
  EXPECT_EQ(vt, 80);
  //   embeddings 2 * 80 * 256; encoder 2 LSTM layers; decoder cell0 fed [emb; h~] (512), cell1 256;
  //   W_c [context; h] 512 -> 256 + b; output projection 256 -> 80 + b.
  const int64_t expected = vs * 256 + vt * 256 + 2 * lstm(256) + lstm(512) + lstm(256) + (512 * 256 + 256) +
                           (256 * vt + vt);
  EXPECT_EQ(m->parameter_count(), expected);
  EXPECT_EQ(expected, 2'560'336);
}

TEST(Seq2SeqModel, PackedInputErrors) {
  manual_seed(1);
  auto m = models::build_model("seq2seq", "modern");
  // Width 16 matches no bucket (15, 25, 45, 90).
  const std::string wrong = error_of([&] { (*m)(Tensor::zeros({2, 16}, DType::i64)); });
  EXPECT_NE(wrong.find("width 15 (bucket (5, 10)), 25 (bucket (10, 15))"), std::string::npos) << wrong;
  EXPECT_NE(error_of([&] { (*m)(Tensor::zeros({2, 15, 1})); }).find("must be (B, S + T) token ids"), std::string::npos);
  // Ids are i64 (ModelInfo::example_dtype tells generic tools); floats are refused, not cast.
  EXPECT_NE(error_of([&] { (*m)(Tensor::full({2, 15}, 5.0)); }).find("token ids (i64)"), std::string::npos);
  EXPECT_EQ((*m)(cast(Tensor::full({2, 15}, 5.0), DType::i64)).shape(), (Shape{2, 10, 80}));
  // A token id beyond the vocabulary is one clear error, on either side.
  std::vector<int64_t> ids(15, 4);
  ids[2] = 80;
  const std::string src = error_of([&] { (*m)(Tensor::from_vector(ids, Shape{1, 15})); });
  EXPECT_NE(src.find("source token id 80 is outside the vocabulary of 80"), std::string::npos) << src;
  ids[2] = 4;
  ids[9] = 1000;
  const std::string tgt = error_of([&] { (*m)(Tensor::from_vector(ids, Shape{1, 15})); });
  EXPECT_NE(tgt.find("target token id 1000 is outside the vocabulary of 80"), std::string::npos) << tgt;
  EXPECT_NE(error_of([] { models::build_model("seq2seq", "gru"); }).find("no variant 'gru'"), std::string::npos);
}

class Ops : public DispatchObserver {
 public:
  void on_op(const OpEvent& e) override {
    ++phase[static_cast<int>(e.phase)];
    ++count[e.op->name];
  }
  std::array<int, 3> phase{};
  std::map<std::string, int> count;
};

std::map<std::string, std::vector<float>> snapshot(models::Workload& w) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, p] : w.model().named_parameters())
    if (p.numel() < 2'000'000) out[name] = p.to_vector<float>();
  return out;
}

TEST(Seq2SeqWorkload, TrainAndInferSteps) {
  for (const std::string variant : {"fathom", "modern"}) {
    SCOPED_TRACE(variant);
    auto train = models::make_workload("seq2seq", {.variant = variant, .mode = Mode::train, .batch = 2});
    EXPECT_EQ(train->batch(), 2);
    EXPECT_EQ(train->data(), "synthetic");
    EXPECT_NE(train->describe().find("bucket (40, 50)"), std::string::npos) << train->describe();
    const auto before = snapshot(*train);
    Ops ops;
    {
      ObserverScope scope(&ops);
      train->step();
    }
    EXPECT_GT(ops.phase[0], 0);
    EXPECT_GT(ops.phase[1], 0);
    EXPECT_GT(ops.phase[2], 0);
    EXPECT_NE(snapshot(*train), before);

    auto infer = models::make_workload("seq2seq", {.variant = variant, .mode = Mode::infer, .batch = 2});
    EXPECT_NE(infer->describe().find("greedy decoding"), std::string::npos) << infer->describe();
    const auto kept = snapshot(*infer);
    Ops iops;
    {
      ObserverScope scope(&iops);
      infer->step();
    }
    EXPECT_GT(iops.phase[0], 0);
    EXPECT_EQ(iops.phase[1], 0);
    EXPECT_EQ(iops.phase[2], 0);
    EXPECT_EQ(iops.count["argmax"], 50);  // one greedy choice per decoder step of bucket (40, 50)
    EXPECT_EQ(snapshot(*infer), kept);
  }
}

TEST(Seq2SeqWorkload, GeneratedDatasetAndBadOptions) {
  auto w = models::make_workload("seq2seq", {.variant = "fathom", .batch = 4, .data = "dataset"});
  EXPECT_EQ(w->data(), "parallel-text (generated)");
  const auto before = snapshot(*w);
  w->step();
  w->step();
  EXPECT_NE(snapshot(*w), before);
  EXPECT_NE(error_of([] { models::make_workload("seq2seq", {.data = "wmt15"}); }).find("unknown data source 'wmt15'"),
            std::string::npos);
  EXPECT_NE(error_of([] { models::make_workload("seq2seq", {.variant = "big"}); }).find("no variant 'big'"),
            std::string::npos);
}

// Teacher-forced cross-entropy over the target tokens of held-out pairs, from the model's forward.
double held_out_loss(nn::Module& m, const std::vector<SentencePair>& pairs) {
  NoGradScope no_grad;
  m.train();  // teacher forcing
  const TranslationBatch b = make_translation_batch(pairs, {10, 15}, 1, 80, 80, /*reverse_source=*/false);
  const Tensor logits = m(concat({b.encoder, b.decoder}, 1));
  const std::vector<float> w = b.weights.to_vector<float>();
  std::vector<int64_t> t = b.targets.to_vector<int64_t>();
  for (size_t i = 0; i < t.size(); ++i)
    if (w[i] == 0) t[i] = -100;
  return cross_entropy(reshape(logits, {-1, 80}), Tensor::from_vector(t, Shape{static_cast<int64_t>(t.size())}))
      .item();
}

TEST(Seq2SeqWorkload, ModernLearnsTheGeneratedCorpus) {
  // The workload's data is generate_rule_corpus with its seed, vocabularies from the training split.
  const RuleCorpus c = generate_rule_corpus({.seed = 5});
  const Vocabulary sv = Vocabulary::build(c.train.source, 80), tv = Vocabulary::build(c.train.target, 80);
  std::vector<SentencePair> test;
  for (size_t i = 0; i < c.test.source.size() && test.size() < 32; ++i)
    if (c.test.source[i].size() >= 5 && c.test.source[i].size() < 10)
      test.push_back({sv.encode(c.test.source[i]), tv.encode(c.test.target[i])});
  for (auto& p : test) p.target.push_back(kEosId);
  auto w = models::make_workload("seq2seq", {.variant = "modern", .batch = 32, .seed = 5, .data = "dataset"});
  const double first = held_out_loss(w->model(), test);
  for (int i = 0; i < 40; ++i) w->step();
  const double last = held_out_loss(w->model(), test);
  EXPECT_LT(last, first * 0.75) << "first " << first << " last " << last;
}

}  // namespace
}  // namespace plumb
