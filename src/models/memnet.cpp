// memnet: the end-to-end memory network (Sukhbaatar et al. 2015) on bAbI task 1, as Fathom's memnet
// runs it (fathom/memnet/memnet.py, D. Luna's memn2n of 2016) and as memn2n and the paper's adjacent
// weight tying run it today ("modern"); docs/memnet.md.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "plumb/autograd.h"
#include "plumb/babi.h"
#include "plumb/dispatch.h"
#include "plumb/error.h"
#include "plumb/models.h"
#include "plumb/nn/init.h"
#include "plumb/nn/layers.h"
#include "plumb/nn/optim.h"
#include "plumb/ops.h"
#include "plumb/random.h"
#include "zoo.h"

namespace plumb::babi {

namespace {

// The dtype and device nn::FactoryScope gives new parameters, read off a probe layer.
TensorSpec factory_spec() {
  nn::Linear probe(1, 1, false);
  return probe.weight.spec();
}

// N(0, 0.1) as Fathom's random_normal_initializer(stddev=0.1).
Tensor make_param(const TensorSpec& spec, Shape shape) {
  Tensor t = Tensor::empty(std::move(shape), spec.dtype, spec.device);
  nn::init::normal(t, 0, 0.1);
  return t;
}

// Row 0 of a (V, d) table (or its gradient) replaced by zeros: concat(zeros(1, d), rows 1..V-1), as
// Fathom's zero_nil_slot.
Tensor zero_row0(const Tensor& t) {
  return concat({Tensor::zeros({1, t.size(1)}, t.dtype(), t.device()), slice(t, 0, 1, t.size(0))}, 0);
}

// Position encoding (length J, dim d), 1-based word j and dimension k. fathom: memn2n's
// 1 + 4 (k - d/2)(j - J/2) / (d J), which is twice the paper's l_kj; modern: the paper's
// l_kj = (1 - j/J) - (k/d)(1 - 2j/J) (Sukhbaatar §4.1).
std::vector<double> position_encoding(int64_t length, int64_t dim, bool paper) {
  std::vector<double> e(static_cast<size_t>(length * dim));
  const auto J = static_cast<double>(length), d = static_cast<double>(dim);
  for (int64_t j = 1; j <= length; ++j)
    for (int64_t k = 1; k <= dim; ++k) {
      const double jj = static_cast<double>(j), kk = static_cast<double>(k);
      e[static_cast<size_t>((j - 1) * dim + (k - 1))] =
          paper ? (1 - jj / J) - (kk / d) * (1 - 2 * jj / J) : 1 + 4 * (kk - d / 2) * (jj - J / 2) / (d * J);
    }
  return e;
}

// "C3", "hop_0": a name with an index (built with +=, which GCC 12's -Wrestrict does not misread).
std::string indexed(const char* prefix, int64_t k) {
  std::string s(prefix);
  s += std::to_string(k);
  return s;
}

// Bag of words with position weights: emb (..., J, d) * enc (J, d), summed over J -> (..., d).
Tensor encode(const Tensor& emb, const Tensor& enc) { return sum(mul(emb, enc), {emb.dim() - 2}); }

}  // namespace

Order memory_order(const std::string& variant) {
  if (variant == "fathom") return Order::oldest_first;
  if (variant == "modern") return Order::recent_first;
  fail("memnet: unknown variant '", variant, "' (fathom, modern)");
}

MemNet::MemNet(MemnetConfig config) : config_(std::move(config)), modern_(config_.variant == "modern") {
  const MemnetConfig& c = config_;
  (void)memory_order(c.variant);  // validates the variant
  if (c.vocab < 2) fail("memnet: vocab must be >= 2 (nil and one word), got ", c.vocab);
  if (c.memory < 1 || c.sentence < 1 || c.query < 1 || c.embedding < 1 || c.hops < 1)
    fail("memnet: memory, sentence, query, embedding and hops must be >= 1, got ", c.memory, ", ", c.sentence, ", ",
         c.query, ", ", c.embedding, ", ", c.hops);
  if (c.memory > kMaxMemory) fail("memnet: memory must be <= ", kMaxMemory, " sentences, got ", c.memory);
  const TensorSpec spec = factory_spec();
  const int64_t v = c.vocab, d = c.embedding, m = c.memory;
  auto nil_table = [&](const std::string& name) -> Tensor& {
    Tensor& t = register_parameter(name, make_param(spec, {v, d}));
    NoGradScope no_grad;
    nn::copy_into(t, zero_row0(t));
    return t;
  };
  if (modern_) {
    for (int64_t k = 0; k <= c.hops; ++k) C_.push_back(nil_table(indexed("C", k)));
    for (int64_t k = 0; k <= c.hops; ++k) T_.push_back(register_parameter(indexed("T", k), make_param(spec, {m, d})));
  } else {
    A_ = nil_table("A");
    B_ = nil_table("B");
    TA_ = register_parameter("TA", make_param(spec, {m, d}));
    H_ = register_parameter("H", make_param(spec, {d, d}));
    W_ = register_parameter("W", make_param(spec, {d, v}));
  }
  sentence_enc_ = encoding(c.sentence);
  query_enc_ = encoding(c.query);
}

Tensor MemNet::encoding(int64_t length) const {
  const TensorSpec spec = A_.defined() ? A_.spec() : C_.front().spec();
  const Shape shape{length, config_.embedding};
  if (spec.device.type == DeviceType::meta) return Tensor::empty(shape, spec.dtype, spec.device);
  const std::vector<double> e = position_encoding(length, config_.embedding, modern_);
  Tensor t = Tensor::from_vector(e, shape);
  if (spec.dtype != DType::f64) {
    NoGradScope no_grad;
    t = cast(t, spec.dtype);
  }
  return t;
}

std::vector<Tensor> MemNet::nil_parameters() const { return modern_ ? C_ : std::vector<Tensor>{A_, B_}; }

Tensor MemNet::forward(const Tensor& input) {
  const MemnetConfig& c = config_;
  const int64_t m = c.memory, s = c.sentence, story = m * s, width = story + c.query;
  if (input.dim() != 2 || input.size(1) != width)
    fail("memnet: input must be (N, ", width, ") = (N, memory ", m, " * sentence ", s, " + query ", c.query, "), got ",
         shape_str(input.shape()));
  if (input.size(0) == 0) fail("memnet: empty batch (N = 0)");
  const Tensor& x = input;
  const int64_t n = x.size(0);
  const Tensor stories = reshape(slice(x, 1, 0, story), {n, m, s});  // (N, M, S)
  const Tensor query = slice(x, 1, story, width);                    // (N, Q)

  if (!modern_) {
    // Fathom: one memory m = A-bag + TA serves as input and output memory in every hop.
    Tensor u = encode(embedding(B_, query), query_enc_);                         // (N, d)
    const Tensor mem = add(encode(embedding(A_, stories), sentence_enc_), TA_);  // (N, M, d)
    for (int64_t hop = 0; hop < c.hops; ++hop) {
      ModuleScope scope(indexed("hop_", hop));
      const Tensor scores = sum(mul(mem, unsqueeze(u, 1)), {2});  // (N, M)
      const Tensor p = softmax(scores, -1);                       // (N, M)
      const Tensor o = sum(mul(mem, unsqueeze(p, 2)), {1});       // (N, d)
      u = add(matmul(u, H_), o);
    }
    return matmul(u, W_);  // (N, V)
  }

  // Adjacent tying: hop k reads memory C(k) + T(k) and writes C(k+1) + T(k+1); empty rows are masked.
  const Tensor real = gt(max(stories, {2}), Tensor::scalar(0, DType::i64, x.device()));  // (N, M) bool
  const Tensor masked = Tensor::scalar(-1e9, C_[0].dtype(), x.device());
  Tensor u = encode(embedding(C_[0], query), query_enc_);                        // (N, d)
  Tensor mem_in = add(encode(embedding(C_[0], stories), sentence_enc_), T_[0]);  // (N, M, d)
  for (int64_t hop = 0; hop < c.hops; ++hop) {
    ModuleScope scope(indexed("hop_", hop));
    const auto next = static_cast<size_t>(hop + 1);
    const Tensor mem_out = add(encode(embedding(C_[next], stories), sentence_enc_), T_[next]);  // (N, M, d)
    const Tensor scores = where(real, squeeze(matmul(mem_in, unsqueeze(u, 2)), 2), masked);     // (N, M)
    const Tensor p = softmax(scores, -1);
    u = add(u, squeeze(matmul(unsqueeze(p, 1), mem_out), 1));  // (N, d)
    mem_in = mem_out;
  }
  return matmul(u, transpose(C_.back(), 0, 1));  // (N, V)
}

Tensor MemNet::loss(const Tensor& logits, const Tensor& answers) const {
  RegionScope region("memnet_loss");
  return cross_entropy(logits, answers, -100, 0, "sum");
}

MemnetTrainOptions default_train_options(const std::string& variant) {
  (void)memory_order(variant);
  MemnetTrainOptions o;
  if (variant == "modern") o.anneal_every = 25;
  return o;
}

MemnetTrainer::MemnetTrainer(std::shared_ptr<MemNet> model, MemnetTrainOptions options)
    : model_(std::move(model)), options_(options) {
  if (!model_) fail("memnet trainer: no model");
  if (!(options_.lr > 0) || options_.clip < 0 || options_.grad_noise < 0 || options_.anneal_every < 0)
    fail("memnet trainer: lr must be > 0 and clip, grad_noise, anneal_every >= 0");
  optimizer_ = nn::make_adam(model_->named_parameters(), nn::AdamOptions{.lr = options_.lr});
}

void MemnetTrainer::start_epoch(int64_t epoch) {
  if (options_.anneal_every <= 0) return;
  const int64_t halvings = std::min(epoch, options_.anneal_stop) / options_.anneal_every;
  optimizer_->set_lr(options_.lr / std::pow(2.0, static_cast<double>(halvings)));
}

double MemnetTrainer::step(const Tensor& inputs, const Tensor& answers) {
  model_->train();
  optimizer_->zero_grad();
  const Tensor loss = model_->loss((*model_)(inputs), answers);
  backward(loss);
  const std::vector<Tensor> params = model_->parameters();
  {
    // Fathom's order: clip, add noise, zero the nil rows; then Adam applies the result.
    PhaseScope phase(Phase::optimizer);
    NoGradScope no_grad;
    if (options_.clip > 0) {
      if (model_->modern())
        nn::clip_grad_norm(params, options_.clip);
      else
        for (const Tensor& p : params) nn::clip_grad_norm({p}, options_.clip);  // tf.clip_by_norm per gradient
    }
    if (options_.grad_noise > 0) {
      RegionScope region("gradient_noise");
      for (const Tensor& p : params) {
        Tensor handle = p;  // shares p's impl, so set_grad reaches the parameter
        const Tensor g = handle.grad();
        if (g.defined()) handle.set_grad(add(g, normal(g.shape(), 0, options_.grad_noise, g.dtype(), g.device())));
      }
    }
    RegionScope region("zero_nil_slot");
    for (const Tensor& p : model_->nil_parameters()) {
      Tensor handle = p;
      const Tensor g = handle.grad();
      if (g.defined()) handle.set_grad(zero_row0(g));
    }
  }
  optimizer_->step();
  return loss.item();
}

Evaluation evaluate(MemNet& model, const Tensor& inputs, const Tensor& answers, int64_t batch) {
  if (batch < 1) fail("memnet evaluate: batch must be >= 1, got ", batch);
  if (inputs.dim() != 2 || answers.dim() != 1 || inputs.size(0) != answers.size(0) || inputs.size(0) == 0)
    fail("memnet evaluate: need inputs (N, L) and answers (N) with N > 0, got ", shape_str(inputs.shape()), " and ",
         shape_str(answers.shape()));
  const bool was_training = model.training();
  model.eval();
  NoGradScope no_grad;
  const int64_t n = inputs.size(0);
  const std::vector<int64_t> truth = answers.to_vector<int64_t>();
  int64_t right = 0;
  double loss = 0;
  for (int64_t begin = 0; begin < n; begin += batch) {
    const int64_t end = std::min(n, begin + batch);
    const Tensor logits = model(contiguous(slice(inputs, 0, begin, end)));
    loss += model.loss(logits, contiguous(slice(answers, 0, begin, end))).item();
    const std::vector<int64_t> guess = argmax(logits, 1).to_vector<int64_t>();
    for (int64_t i = begin; i < end; ++i)
      right += guess[static_cast<size_t>(i - begin)] == truth[static_cast<size_t>(i)];
  }
  model.train(was_training);
  return {static_cast<double>(right) / static_cast<double>(n), loss};
}

}  // namespace plumb::babi

namespace plumb::models {

namespace {

using babi::MemNet;
using babi::MemnetConfig;

constexpr double kValidation = 0.1;  // Fathom's train_test_split(test_size=.1)

class MemnetWorkload final : public Workload {
 public:
  MemnetWorkload(const ModelInfo& info, const WorkloadOptions& o) {
    set_identity(info.name, info.variants, o, info.default_batch);
    (void)babi::memory_order(variant_);  // an unknown variant fails before any data is read
    if (o.batch < 0) fail("workload 'memnet': batch must be positive, got ", o.batch);
    MemnetConfig config;
    config.variant = variant_;
    std::string source;
    if (o.data == "synthetic") {
      data_ = "synthetic";
    } else if (o.data == "dataset") {
      const babi::TaskData task = babi::load_task(babi::default_task1_files());
      config.vocab = task.vocab.size();
      config.memory = task.sizes.memory;
      config.sentence = task.sizes.sentence;
      config.query = task.sizes.query;
      const babi::Vectorized v = babi::vectorize(task.train, task.vocab, task.sizes, babi::memory_order(variant_));
      // Fathom's 10% validation split (a seeded permutation), then a sweep of the rest: in order for
      // "fathom" (its FIXME: no shuffling), reshuffled every epoch for "modern".
      const int64_t n = v.answers.size(0);
      std::vector<int64_t> rows = epoch_order(n, true, o.seed ^ 0x5b1175ULL, 0);
      rows.resize(static_cast<size_t>(n - static_cast<int64_t>(std::llround(kValidation * static_cast<double>(n)))));
      if (static_cast<int64_t>(rows.size()) < batch_)
        fail("workload 'memnet': ", rows.size(), " training questions in '", task.source, "' do not fill a batch of ",
             batch_);
      loader_ = std::make_unique<DataLoader>(std::make_shared<babi::PackedDataset>(babi::pack(v), v.answers, rows),
                                             batch_, /*shuffle=*/variant_ == "modern", o.seed, /*drop_last=*/true);
      loader_->start_epoch(epoch_);
      data_ = info.dataset;
      source = task.source;
    } else {
      fail("unknown data source '", o.data, "' (synthetic, dataset)");
    }
    manual_seed(o.seed);
    model_ = std::make_shared<MemNet>(config);
    if (!loader_) fixed_ = synthetic_batch(config, o.seed);
    if (mode_ == Mode::train) {
      trainer_ = std::make_unique<babi::MemnetTrainer>(model_, babi::default_train_options(variant_));
      trainer_->start_epoch(0);
    } else {
      model_->eval();
    }
    std::ostringstream os;
    os << describe_prefix();
    if (trainer_)
      os << ", adam lr 0.01, summed cross-entropy, clip 40 (" << (model_->modern() ? "global norm" : "per gradient")
         << "), gradient noise 1e-3" << (model_->modern() ? ", lr halved every 25 epochs" : "");
    if (loader_) os << (model_->modern() ? ", shuffled every epoch" : ", in order (no shuffling, as Fathom)");
    os << ", " << data_ << " data";
    if (!source.empty()) os << " from " << source;
    describe_ = os.str();
  }

  void step() override {
    Batch b = next();
    if (mode_ == Mode::infer) {
      NoGradScope no_grad;
      (void)(*model_)(b.inputs);
      return;
    }
    last_loss_ = trainer_->step(b.inputs, b.labels);
  }

  nn::Module& model() override { return *model_; }

 private:
  Batch next() {
    if (!loader_) return fixed_;
    const int64_t before = epoch_;
    Batch b = next_batch_cycling(*loader_, epoch_);
    if (trainer_ && epoch_ != before) trainer_->start_epoch(epoch_);
    return b;
  }

  // One seeded batch: every memory row and the query full of word ids 1..V-1, answers likewise.
  Batch synthetic_batch(const MemnetConfig& c, uint64_t seed) const {
    const int64_t width = c.memory * c.sentence + c.query;
    std::vector<int64_t> ids(static_cast<size_t>(batch_ * width)), answers(static_cast<size_t>(batch_));
    const uint64_t key = seed ^ 0x5eed'da7aULL;
    auto word = [&](uint64_t counter) {
      return 1 + std::min<int64_t>(c.vocab - 2, static_cast<int64_t>(philox_uniform_f64(key, counter) *
                                                                     static_cast<double>(c.vocab - 1)));
    };
    uint64_t counter = 0;
    for (int64_t& id : ids) id = word(counter++);
    for (int64_t& a : answers) a = word(counter++);
    return {Tensor::from_vector(ids, Shape{batch_, width}), Tensor::from_vector(answers, Shape{batch_})};
  }

  std::shared_ptr<MemNet> model_;
  std::unique_ptr<babi::MemnetTrainer> trainer_;
  std::unique_ptr<DataLoader> loader_;
  Batch fixed_;
  int64_t epoch_ = 0;
};

}  // namespace

void register_memnet() {
  const MemnetConfig c;  // bAbI task 1's sizes
  register_model(
      ModelInfo{.name = "memnet",
                .description = "end-to-end memory network on bAbI task 1: 3 hops, embedding 20, position and temporal "
                               "encoding; fathom: A, B, TA, H, W (1,800 params); modern: adjacent tying (2,400)",
                .variants = {"fathom", "modern"},
                .example_shape = {c.memory * c.sentence + c.query},
                .example_dtype = DType::i64,
                .num_classes = c.vocab,
                .dataset = "babi-task1",
                .default_batch = 32,
                .optimizer = "adam",
                .lr = 0.01,
                .quick_batch = 32,
                .in_suite = true,
                // Summed cross-entropy of the answers (gradient noise and clipping follow the backward pass).
                .step_loss =
                    [](nn::Module& m, const Tensor& x) {
                      const auto& net = dynamic_cast<const MemNet&>(m);
                      return net.loss(m(x), Tensor::empty({x.size(0)}, DType::i64, x.device()));
                    }},
      [](const std::string& variant) {
        MemnetConfig config;
        config.variant = variant;
        return std::make_shared<MemNet>(config);
      },
      [](const ModelInfo& info, const WorkloadOptions& o) -> std::unique_ptr<Workload> {
        return std::make_unique<MemnetWorkload>(info, o);
      });
}

}  // namespace plumb::models
