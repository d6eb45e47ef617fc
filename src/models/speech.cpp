// speech: Fathom's Deep-Speech-style model (fathom/speech/speech.py, after Hannun et al. 2014) and a
// modern counterpart, with their own workload: a training step is batch -> forward -> CTC loss ->
// backward -> update; an inference step is batch -> forward -> greedy CTC decode. docs/speech.md.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "plumb/audio.h"
#include "plumb/speech.h"
#include "plumb/autograd.h"
#include "plumb/data.h"
#include "plumb/dispatch.h"
#include "plumb/error.h"
#include "plumb/models.h"
#include "plumb/nn/init.h"
#include "plumb/nn/layers.h"
#include "plumb/nn/optim.h"
#include "plumb/nn/rnn.h"
#include "plumb/ops.h"
#include "plumb/random.h"
#include "zoo.h"

namespace plumb::models {

namespace {

constexpr int64_t kFathomFrames = 1566;  // Fathom's max_frames (5 ms hop: 7.83 s)
// modern synthetic batches: 4 s at a 10 ms hop, a long utterance of a typical TIMIT batch (mean about
// 3 s); modern batching pads to the batch's longest utterance, not to a fixed 1566.
constexpr int64_t kModernFrames = 400;
constexpr int64_t kMaxLabels = 75;  // Fathom's max_labels
constexpr int64_t kCoeffs = 26;

// min(relu(x), clip): Fathom's clipped_relu, two ops as TensorFlow ran it.
Tensor clipped_relu(const Tensor& x, double clip) {
  return minimum(relu(x), Tensor::scalar(clip, x.dtype(), x.device()));
}

// A dense layer with a clipped-ReLU activation, applied to the last dim.
class ClippedDense final : public nn::Module {
 public:
  ClippedDense(int64_t in, int64_t out, double clip, bool zero_init) : clip_(clip) {
    linear_ = register_module("linear", std::make_shared<nn::Linear>(in, out));
    if (zero_init) {  // Fathom's mlp_layer: W = tf.Variable(tf.zeros(...)), b likewise
      nn::init::zeros(linear_->weight);
      nn::init::zeros(linear_->bias);
    }
  }
  Tensor forward(const Tensor& x) override { return clipped_relu((*linear_)(x), clip_); }
  std::string type_name() const override { return "ClippedDense"; }

 private:
  double clip_;
  std::shared_ptr<nn::Linear> linear_;
};

// Fathom's bidirectional layer: two basic RNN cells h_t = min(relu(W [x_t, h_{t-1}] + b), 20) (TF's
// _linear makes one (I + H, H) matrix and a bias per cell, here a Linear of (H, I + H)). Fathom builds
// it and never reads its output; SpeechNet keeps it for its parameters and does not call it.
class ClippedReluBiRnn final : public nn::Module {
 public:
  ClippedReluBiRnn(int64_t input, int64_t hidden, double clip) : hidden_(hidden), clip_(clip) {
    fw_ = register_module("fw", std::make_shared<nn::Linear>(input + hidden, hidden));
    bw_ = register_module("bw", std::make_shared<nn::Linear>(input + hidden, hidden));
  }
  // x: (T, N, I) -> (T, N, 2H), forward and backward outputs concatenated.
  Tensor forward(const Tensor& x) override {
    if (x.dim() != 3) fail("speech: BiRNN input must be (T, N, I), got ", shape_str(x.shape()));
    const int64_t t_len = x.size(0), n = x.size(1);
    std::vector<Tensor> fw(static_cast<size_t>(t_len)), bw(static_cast<size_t>(t_len));
    const std::vector<Tensor> xs = unbind(x, 0);  // T x (N, I): one op, one concat in the backward pass
    Tensor h = Tensor::zeros({n, hidden_}, x.dtype(), x.device());
    for (int64_t t = 0; t < t_len; ++t)
      h = fw[static_cast<size_t>(t)] = clipped_relu((*fw_)(concat({xs[static_cast<size_t>(t)], h}, 1)), clip_);
    h = Tensor::zeros({n, hidden_}, x.dtype(), x.device());
    for (int64_t t = t_len - 1; t >= 0; --t)
      h = bw[static_cast<size_t>(t)] = clipped_relu((*bw_)(concat({xs[static_cast<size_t>(t)], h}, 1)), clip_);
    std::vector<Tensor> steps;
    for (int64_t t = 0; t < t_len; ++t)
      steps.push_back(unsqueeze(concat({fw[static_cast<size_t>(t)], bw[static_cast<size_t>(t)]}, 1), 0));
    return concat(steps, 0);
  }
  std::string type_name() const override { return "ClippedReluBiRnn"; }

 private:
  int64_t hidden_;
  double clip_;
  std::shared_ptr<nn::Linear> fw_, bw_;
};

}  // namespace

SpeechConfig speech_config(const std::string& variant) {
  SpeechConfig c;
  if (variant == "fathom") return c;
  if (variant != "modern") fail("speech: unknown variant '", variant, "' (fathom, modern)");
  c.fathom = false;
  c.rnn_hidden = 512;
  c.time_stride = 2;
  c.classes = audio::kAlphabetSize;
  c.blank = audio::kBlank;
  return c;
}

SpeechNet::SpeechNet(SpeechConfig config) : config_(config) {
  const SpeechConfig& c = config_;
  if (c.features < 1 || c.hidden < 1 || c.rnn_hidden < 1 || c.classes < 2)
    fail("speech: features, hidden and rnn_hidden must be >= 1 and classes >= 2");
  if (c.blank < 0 || c.blank >= c.classes) fail("speech: blank ", c.blank, " is not a class of ", c.classes);
  if (c.time_stride < 1) fail("speech: time_stride must be >= 1, got ", c.time_stride);
  int64_t in = c.features * c.time_stride;
  for (int i = 1; i <= 3; ++i) {
    dense_.push_back(
        register_module("dense" + std::to_string(i), std::make_shared<ClippedDense>(in, c.hidden, c.clip, c.fathom)));
    in = c.hidden;
  }
  if (c.fathom) {
    rnn_ = register_module("birnn", std::make_shared<ClippedReluBiRnn>(c.hidden, c.rnn_hidden, c.clip));
    out_ = register_module("out", std::make_shared<ClippedDense>(c.hidden, c.classes, c.clip, true));
  } else {
    nn::RnnOptions o;
    o.cell = nn::CellType::lstm;
    o.input_size = c.hidden;
    o.hidden_size = c.rnn_hidden;
    o.bidirectional = true;
    o.fused = c.fused_rnn;
    rnn_ = register_module("birnn", std::make_shared<nn::Rnn>(o));
    out_ = register_module("out", std::make_shared<nn::Linear>(2 * c.rnn_hidden, c.classes));
  }
}

Tensor SpeechNet::forward(const Tensor& x) { return run(x, {}); }

Tensor SpeechNet::run(const Tensor& x, const Tensor& lengths) {
  const SpeechConfig& c = config_;
  if (x.dim() != 3 || x.size(2) != c.features || x.size(1) < 1)
    fail("speech: input must be (N, T, ", c.features, ") features, got ", shape_str(x.shape()));
  if (lengths.defined()) {
    if (lengths.dim() != 1 || lengths.size(0) != x.size(0) || lengths.dtype() != DType::i64)
      fail("speech: lengths must be i64 (", x.size(0), "), got ", lengths.spec().str());
    if (!lengths.is_meta())
      for (int64_t v : lengths.to_vector<int64_t>())
        if (v < 1 || v > x.size(1)) fail("speech: length ", v, " is outside 1..", x.size(1), " frames");
  }
  if (c.fathom) {
    // As Fathom: the dense layers on (N, T, .), the output layer reads dense3 (the BiRNN is dead),
    // then the logits are transposed to time-major for CTC.
    Tensor h = x;
    for (const auto& d : dense_) h = (*d)(h);
    const Tensor logits = (*out_)(h);
    return log_softmax(contiguous(transpose(logits, 0, 1)), -1);
  }
  Tensor h = x;
  Tensor steps = lengths;
  if (const int64_t s = c.time_stride; s > 1) {
    // (N, T, F) -> zero-pad T to a multiple of s -> (N, T / s, s * F): s frames per step.
    const int64_t extra = (s - x.size(1) % s) % s;
    if (extra) h = pad(h, {0, 0, 0, 0, extra, 0});
    h = reshape(contiguous(h), {x.size(0), (x.size(1) + extra) / s, s * c.features});
    if (lengths.defined()) steps = output_lengths(lengths);
  }
  // Every sequence at full length needs no masking (and lets a fused LSTM run).
  if (steps.defined() && !steps.is_meta()) {
    bool full = true;
    for (int64_t v : steps.to_vector<int64_t>()) full = full && v == h.size(1);
    if (full) steps = Tensor{};
  }
  h = contiguous(transpose(h, 0, 1));  // (T', N, s * F): time-major for the recurrent layer
  for (const auto& d : dense_) h = (*d)(h);
  auto* rnn = static_cast<nn::Rnn*>(rnn_.get());
  Tensor y;
  {
    ModuleScope scope("birnn");
    y = rnn->run(h, {}, {}, steps).y;  // (T', N, 2R)
  }
  return log_softmax((*out_)(y), -1);
}

Tensor SpeechNet::output_lengths(const Tensor& lengths) const {
  const int64_t s = config_.time_stride;
  if (s == 1 || !lengths.defined() || lengths.is_meta()) return lengths;
  std::vector<int64_t> v = lengths.to_vector<int64_t>();
  for (int64_t& l : v) l = (l + s - 1) / s;
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size())});
}

int64_t SpeechNet::executed_parameter_count() const {
  int64_t n = 0;
  for (const auto& [name, p] : named_parameters())
    if (!config_.fathom || !name.starts_with("birnn.")) n += p.numel();
  return n;
}

namespace {

// One batch: features (N, T, 26), labels (N, S) i64 padded with 0, lengths (N) i64.
struct SpeechBatch {
  Tensor features, labels, input_lengths, label_lengths;
  std::vector<std::string> transcripts;  // dataset batches only
};

Tensor i64_tensor(const std::vector<int64_t>& v, Shape shape) { return Tensor::from_vector(v, std::move(shape)); }

// Fathom's shapes, seeded: normal features; label sequences of max_labels / 2 .. max_labels classes
// other than the blank, with no two equal neighbours so that even T = label length (the fathom
// lengths quirk) leaves CTC one valid path.
SpeechBatch synthetic_batch(const SpeechConfig& c, int64_t batch, int64_t frames, uint64_t seed) {
  SpeechBatch b;
  manual_seed(seed ^ 0x5eed'da7aULL);
  b.features = normal({batch, frames, c.features});
  std::vector<int64_t> labels(static_cast<size_t>(batch * kMaxLabels), 0), lengths(static_cast<size_t>(batch));
  uint64_t k = 0;
  const int64_t choices = c.classes - 1;
  for (int64_t i = 0; i < batch; ++i) {
    const int64_t len = kMaxLabels / 2 + static_cast<int64_t>(philox_uniform_f64(seed, k++) * (kMaxLabels / 2 + 1));
    lengths[static_cast<size_t>(i)] = std::min(len, kMaxLabels);
    int64_t prev = -1;
    for (int64_t j = 0; j < lengths[static_cast<size_t>(i)]; ++j) {
      int64_t v;
      do {
        v = std::min(choices - 1, static_cast<int64_t>(philox_uniform_f64(seed, k++) * static_cast<double>(choices)));
        if (v >= c.blank) ++v;  // skip the blank
      } while (v == prev && choices > 1);
      labels[static_cast<size_t>(i * kMaxLabels + j)] = prev = v;
    }
  }
  b.labels = i64_tensor(labels, {batch, kMaxLabels});
  b.label_lengths = i64_tensor(lengths, {batch});
  b.input_lengths =
      c.fathom ? b.label_lengths : i64_tensor(std::vector<int64_t>(static_cast<size_t>(batch), frames), {batch});
  return b;
}

// Pads examples into a batch: fathom to 1566 frames and 75 labels as Fathom's HDF5 arrays, modern
// to the longest in the batch.
SpeechBatch pad_batch(const std::vector<const audio::SpeechExample*>& ex, bool fathom) {
  const auto n = static_cast<int64_t>(ex.size());
  int64_t frames = 1, labels = 1;
  for (const auto* e : ex) {
    frames = std::max(frames, e->features.frames);
    labels = std::max<int64_t>(labels, static_cast<int64_t>(e->labels.size()));
  }
  if (fathom) {
    if (frames > kFathomFrames || labels > kMaxLabels)
      fail("speech: an utterance of ", frames, " frames and ", labels, " labels exceeds Fathom's ", kFathomFrames,
           " and ", kMaxLabels);
    frames = kFathomFrames;
    labels = kMaxLabels;
  }
  SpeechBatch b;
  b.features = Tensor::zeros({n, frames, kCoeffs});
  std::vector<int64_t> lab(static_cast<size_t>(n * labels), 0), in_len(static_cast<size_t>(n)),
      lab_len(static_cast<size_t>(n));
  float* f = b.features.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const audio::Features& x = ex[static_cast<size_t>(i)]->features;
    if (x.dims != kCoeffs) fail("speech: features have ", x.dims, " dims, expected ", kCoeffs);
    std::copy(x.values.begin(), x.values.end(), f + i * frames * kCoeffs);
    const auto& l = ex[static_cast<size_t>(i)]->labels;
    std::copy(l.begin(), l.end(), lab.begin() + i * labels);
    lab_len[static_cast<size_t>(i)] = static_cast<int64_t>(l.size());
    in_len[static_cast<size_t>(i)] = x.frames;
    b.transcripts.push_back(ex[static_cast<size_t>(i)]->transcript);
  }
  b.labels = i64_tensor(lab, {n, labels});
  b.label_lengths = i64_tensor(lab_len, {n});
  // Quirk (fathom): Fathom feeds seq_lens, the label counts, as CTC's sequence lengths.
  b.input_lengths = fathom ? b.label_lengths : i64_tensor(in_len, {n});
  return b;
}

class SpeechWorkload final : public Workload {
 public:
  SpeechWorkload(const ModelInfo& info, const WorkloadOptions& o) {
    set_identity(info.name, info.variants, o, info.default_batch);
    manual_seed(o.seed);
    model_ = build_model(info.name, variant_);
    net_ = std::dynamic_pointer_cast<SpeechNet>(model_);
    if (!net_) fail("workload '", name_, "': the model is not a SpeechNet");
    const SpeechConfig& c = net_->config();
    if (o.data == "synthetic") {
      fixed_ = synthetic_batch(c, batch_, c.fathom ? kFathomFrames : kModernFrames, o.seed);
      data_ = "synthetic";
    } else if (o.data == "dataset") {
      audio::CorpusOptions co;
      co.utterances = 512;
      co.kind = "digits";
      co.seed = 1;
      examples_ = audio::load_examples(audio::cached_corpus(co),
                                       c.fathom ? audio::fathom_mfcc_options() : audio::MfccOptions{});
      if (static_cast<int64_t>(examples_.size()) < batch_)
        fail("workload '", name_, "': the corpus has ", examples_.size(), " utterances, fewer than batch ", batch_);
      seed_ = o.seed;
      data_ = info.dataset;
    } else {
      fail("unknown data source '", o.data, "' (synthetic, dataset)");
    }
    const std::string opt = c.fathom ? "sgd" : "adam";
    const double lr = c.fathom ? 0.01 : 1e-3;
    if (mode_ == Mode::train) {
      optimizer_ = nn::make_optimizer(opt, model_->named_parameters(), lr);
      model_->train();
    } else {
      model_->eval();
    }
    std::ostringstream os;
    os << describe_prefix();
    if (optimizer_)
      os << ", " << opt << " lr " << lr << (c.fathom ? ", CTC loss summed over the batch" : ", CTC loss");
    else
      os << ", forward + greedy CTC decode";
    os << ", " << data_ << " data";
    describe_ = os.str();
  }

  void step() override {
    const SpeechBatch b = next_batch();
    const SpeechConfig& c = net_->config();
    if (mode_ == Mode::infer) {
      NoGradScope no_grad;
      const Tensor log_probs = net_->run(b.features, c.fathom ? Tensor{} : b.input_lengths);
      RegionScope region("ctc_decode");
      decoded_ = ctc_greedy_decode(log_probs, net_->output_lengths(b.input_lengths), c.blank);
      return;
    }
    optimizer_->zero_grad();
    const Tensor log_probs = net_->run(b.features, c.fathom ? Tensor{} : b.input_lengths);
    // Fathom minimizes TF's per-example CTC vector, i.e. its sum; zero_infinity keeps the fathom
    // lengths quirk (T = label count) from turning a repeated label's impossible path into inf.
    const Tensor loss = ctc_loss(log_probs, b.labels, net_->output_lengths(b.input_lengths), b.label_lengths, c.blank,
                                 c.fathom ? "sum" : "mean", /*zero_infinity=*/true);
    backward(loss);
    optimizer_->step();
    last_loss_ = loss.item();
  }

  nn::Module& model() override { return *model_; }

 private:
  SpeechBatch next_batch() {
    if (examples_.empty()) return fixed_;
    RegionScope region("data");
    const auto n = static_cast<int64_t>(examples_.size());
    if (order_.empty() || cursor_ + batch_ > n) {
      order_ = epoch_order(n, /*shuffle=*/true, seed_, epoch_++);
      cursor_ = 0;
    }
    std::vector<const audio::SpeechExample*> picked;
    for (int64_t i = 0; i < batch_; ++i)
      picked.push_back(&examples_[static_cast<size_t>(order_[static_cast<size_t>(cursor_++)])]);
    return pad_batch(picked, net_->config().fathom);
  }

  std::shared_ptr<nn::Module> model_;
  std::shared_ptr<SpeechNet> net_;
  std::unique_ptr<nn::Optimizer> optimizer_;
  SpeechBatch fixed_;
  std::vector<audio::SpeechExample> examples_;
  std::vector<int64_t> order_;
  int64_t cursor_ = 0, epoch_ = 0;
  uint64_t seed_ = 1;
  std::vector<std::vector<int64_t>> decoded_;
};

}  // namespace

void register_speech() {
  register_model(
      ModelInfo{.name = "speech",
                .description = "Deep-Speech-style CTC model; fathom: 26-1024-1024-1024-62 clipped ReLU, "
                               "dead BiRNN (2,190,398 executed + 4,196,352 unused params); modern: "
                               "live BiLSTM 512, 29 characters",
                .variants = {"fathom", "modern"},
                .example_shape = {kFathomFrames, kCoeffs},
                .num_classes = 62,
                .dataset = "espeak-digits",
                .default_batch = 32,
                .optimizer = "sgd",
                .lr = 0.01,
                // A quick step here: fathom train about 0.25 s, modern train about 1.3 s (2 threads).
                .quick_batch = 1,
                .in_suite = true,
                // The training step's CTC loss on fed labels and lengths (meta tensors in `plumb info`).
                .step_loss =
                    [](nn::Module& m, const Tensor& x) {
                      auto& net = dynamic_cast<SpeechNet&>(m);
                      const SpeechConfig& c = net.config();
                      const int64_t n = x.size(0);
                      const Tensor lengths = Tensor::empty({n}, DType::i64, x.device());
                      const Tensor log_probs = net.run(x, c.fathom ? Tensor{} : lengths);
                      return ctc_loss(log_probs, Tensor::empty({n, kMaxLabels}, DType::i64, x.device()), lengths,
                                      Tensor::empty({n}, DType::i64, x.device()), c.blank, c.fathom ? "sum" : "mean",
                                      /*zero_infinity=*/true);
                    }},
      [](const std::string& variant) { return std::make_shared<SpeechNet>(speech_config(variant)); },
      [](const ModelInfo& info, const WorkloadOptions& o) -> std::unique_ptr<Workload> {
        return std::make_unique<SpeechWorkload>(info, o);
      });
}

}  // namespace plumb::models
