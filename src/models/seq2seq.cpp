// seq2seq: the attention encoder-decoder of TF's translate tutorial as Fathom runs it
// (fathom/seq2seq/seq2seq.py: embedding_attention_seq2seq over 3 LSTM-256 layers, vocabularies of
// 40k, sampled softmax with 512 samples, buckets, SGD 0.5 with global-norm clip 5), and a "modern"
// variant (Luong dot attention with input feeding, a 2-layer encoder that skips padding, full softmax
// over the data's vocabulary, Adam). See docs/seq2seq.md.
//
// Module::forward takes ONE tensor of ids (B, S + T), i64 (floats are cast): columns [0, S) are the
// encoder ids of a bucket (S, T) as make_translation_batch lays them out, columns [S, S + T) the
// decoder ids (_GO first). The bucket is found from the width S + T, so the bucket widths must
// differ. It returns logits (B, T, V): teacher-forced in training mode, greedy (each step fed the
// previous step's argmax) in eval mode.
#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/error.h"
#include "plumb/models.h"
#include "plumb/nn/init.h"
#include "plumb/nn/layers.h"
#include "plumb/nn/optim.h"
#include "plumb/nn/rnn.h"
#include "plumb/ops.h"
#include "plumb/parallel_text.h"
#include "plumb/random.h"
#include "zoo.h"

namespace plumb::models {

namespace {

constexpr int64_t kFathomVocab = 40000;  // Fathom's en_vocab_size and fr_vocab_size
constexpr int64_t kSize = 256;           // embedding and LSTM width
constexpr int64_t kNumSamples = 512;     // sampled softmax
constexpr double kClipNorm = 5.0;

struct Seq2SeqConfig {
  bool modern = false;
  int64_t source_vocab = kFathomVocab, target_vocab = kFathomVocab;
  int64_t layers = 3;
  std::vector<Bucket> buckets = translate_buckets();
};

// The generated corpus the "dataset" data and the modern variant's vocabulary come from.
RuleCorpusOptions corpus_options(uint64_t seed) {
  RuleCorpusOptions o;
  o.seed = seed;
  return o;
}

struct CorpusVocab {
  int64_t source = 0, target = 0;
};
// The vocabulary sizes of the default generated corpus (the lexicon's words plus the 4 special
// tokens); the same for every seed, since 20,000 sentences use every word.
CorpusVocab corpus_vocab() {
  static const CorpusVocab v = [] {
    const RuleCorpus c = generate_rule_corpus(corpus_options(1));
    return CorpusVocab{Vocabulary::build(c.train.source, kFathomVocab).size(),
                       Vocabulary::build(c.train.target, kFathomVocab).size()};
  }();
  return v;
}

// Rows l of a (L, N, H) state tensor -> (N, H).
Tensor layer_of(const Tensor& states, int64_t l) { return squeeze(slice(states, 0, l, l + 1), 0); }

struct Decoded {
  std::vector<Tensor> outputs;  // T x (B, H): the decoder outputs before the output projection
  std::vector<Tensor> logits;   // T x (B, V): only when projected step by step (greedy decoding)
};

class Seq2Seq final : public nn::Module {
 public:
  explicit Seq2Seq(Seq2SeqConfig c) : c_(std::move(c)) {
    for (size_t i = 0; i < c_.buckets.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if (c_.buckets[i].source + c_.buckets[i].target == c_.buckets[j].source + c_.buckets[j].target)
          fail("seq2seq: buckets ", j, " and ", i, " have the same packed width");
    const int64_t H = kSize;
    encoder_embedding_ = register_module("encoder_embedding", std::make_shared<nn::Embedding>(c_.source_vocab, H));
    encoder_ = register_module("encoder", std::make_shared<nn::Rnn>(nn::RnnOptions{
                                              .input_size = H, .hidden_size = H, .num_layers = c_.layers}));
    decoder_embedding_ = register_module("decoder_embedding", std::make_shared<nn::Embedding>(c_.target_vocab, H));
    if (!c_.modern) {
      // TF attention_decoder: x = W[inp; attn] + b feeds the cell; attention reads the whole state.
      input_projection_ = register_module("input_projection", std::make_shared<nn::Linear>(2 * H, H));
    }
    for (int64_t l = 0; l < c_.layers; ++l) {
      // Modern input feeding concatenates the embedding and the previous attentional output.
      const int64_t in = c_.modern && l == 0 ? 2 * H : H;
      cells_.push_back(
          register_module("decoder_cell" + std::to_string(l), std::make_shared<nn::LstmCell>(in, H)));
    }
    if (!c_.modern) {
      attention_keys_ = register_module("attention_keys", std::make_shared<nn::Linear>(H, H, false));
      attention_query_ =
          register_module("attention_query", std::make_shared<nn::Linear>(2 * c_.layers * H, H));
      attention_v_ = register_module("attention_v", std::make_shared<nn::Linear>(H, 1, false));  // TF's v (H)
    }
    // fathom: output = W[cell_output; attn] + b; modern (Luong): h~ = tanh(W_c[context; h]).
    attention_output_ = register_module("attention_output", std::make_shared<nn::Linear>(2 * H, H));
    output_projection_ =
        register_module("output_projection", std::make_shared<nn::Linear>(H, c_.target_vocab));
    if (!c_.modern) {
      // TF's BasicLSTMCell adds forget_bias = 1 to the forget gate (PyTorch order i, f, g, o).
      for (const auto& [name, p] : named_parameters())
        if (name.find("bias_hh") != std::string::npos && !p.is_meta()) {
          std::vector<float> b(static_cast<size_t>(4 * H), 0.0f);
          std::fill(b.begin() + H, b.begin() + 2 * H, 1.0f);
          nn::copy_into(p, Tensor::from_vector(b, Shape{4 * H}));
        } else if (name.find("bias_ih") != std::string::npos) {
          nn::init::zeros(p);
        }
    }
  }

  std::string type_name() const override { return c_.modern ? "Seq2SeqLuong" : "Seq2SeqAttention"; }
  const Seq2SeqConfig& config() const { return c_; }

  // The bucket of a packed (B, S + T) input; throws Error listing the widths the buckets allow.
  int64_t bucket_of(const Tensor& packed) const {
    if (packed.dim() == 2 && packed.dtype() == DType::i64)
      for (size_t b = 0; b < c_.buckets.size(); ++b)
        if (packed.size(1) == c_.buckets[b].source + c_.buckets[b].target) return static_cast<int64_t>(b);
    std::ostringstream widths;
    for (size_t b = 0; b < c_.buckets.size(); ++b)
      widths << (b ? ", " : "") << c_.buckets[b].source + c_.buckets[b].target << " (bucket (" << c_.buckets[b].source
             << ", " << c_.buckets[b].target << "))";
    fail("seq2seq: input must be (B, S + T) token ids (i64), encoder ids then decoder ids of "
         "one bucket, width ", widths.str(),
         "; got ", packed.spec().str());
  }

  // Host check of the ids (skipped on meta tensors, which have no data).
  static void check_ids(const Tensor& ids, int64_t vocab, const char* what) {
    if (ids.is_meta()) return;
    const std::vector<int64_t> v = ids.to_vector<int64_t>();
    for (int64_t id : v)
      if (id < 0 || id >= vocab) fail("seq2seq: ", what, " token id ", id, " is outside the vocabulary of ", vocab);
  }

  Tensor forward(const Tensor& input) override {
    const Bucket& bk = c_.buckets[static_cast<size_t>(bucket_of(input))];
    const Tensor& packed = input;
    const Tensor enc = slice(packed, 1, 0, bk.source);
    const Tensor dec = slice(packed, 1, bk.source, bk.source + bk.target);
    const bool greedy = !training();
    Decoded d = run(enc, dec, greedy);
    if (d.logits.empty()) return project_all(d.outputs);
    std::vector<Tensor> steps;
    for (const Tensor& l : d.logits) steps.push_back(unsqueeze(l, 1));
    return concat(steps, 1);
  }

  // Encoder then decoder over a bucket: enc (B, S), dec (B, T) i64. feed_previous: greedy decoding,
  // each step's input the argmax of the previous step's full projection (TF's loop_function).
  Decoded run(const Tensor& enc, const Tensor& dec, bool feed_previous) {
    check_ids(enc, c_.source_vocab, "source");
    check_ids(dec, c_.target_vocab, "target");
    const int64_t B = enc.size(0), T = dec.size(1), L = c_.layers;
    // Encoder: (S, B, H) through the stacked LSTM.
    Tensor keys;  // (B, S, H) top-layer outputs
    Tensor mask;  // (B, S) bool, modern only: attend to real tokens
    std::vector<LstmState> state(static_cast<size_t>(L));
    {
      const Tensor x = transpose((*encoder_embedding_)(enc), 0, 1);
      Tensor lengths;
      if (c_.modern) {
        mask = ne(enc, Tensor::scalar(kPadId, DType::i64, enc.device()));
        if (!enc.is_meta()) lengths = source_lengths(enc);
      }
      const nn::RnnOutput out = encoder_->run(x, {}, {}, lengths);
      keys = contiguous(transpose(out.y, 0, 1));
      for (int64_t l = 0; l < L; ++l) state[static_cast<size_t>(l)] = {layer_of(out.h, l), layer_of(out.c, l)};
    }
    Tensor hidden_features;  // fathom: W1 k_s, computed once as TF's 1x1 convolution
    if (!c_.modern) hidden_features = (*attention_keys_)(keys);

    Decoded d;
    Tensor attn = Tensor::zeros({B, kSize}, keys.dtype(), keys.device());  // fathom: attns; modern: h~
    // Teacher forcing embeds every decoder input in one lookup: without sparse gradients, a lookup per
    // step would build a dense (V, H) gradient per step.
    // Teacher forcing: T x (B, H) from one lookup and one unbind (one concat in the backward pass).
    const std::vector<Tensor> step_emb = feed_previous ? std::vector<Tensor>{} : unbind((*decoder_embedding_)(dec), 1);
    Tensor previous;  // greedy decoding: the previous step's argmax ids (B)
    for (int64_t t = 0; t < T; ++t) {
      ModuleScope step_scope("decoder");
      Tensor emb;
      if (!feed_previous)
        emb = step_emb[static_cast<size_t>(t)];
      else
        emb = (*decoder_embedding_)(t == 0 ? squeeze(slice(dec, 1, 0, 1), 1) : previous);
      Tensor x = c_.modern ? concat({emb, attn}, 1) : (*input_projection_)(concat({emb, attn}, 1));
      for (int64_t l = 0; l < L; ++l) {
        state[static_cast<size_t>(l)] = cells_[static_cast<size_t>(l)]->step(x, state[static_cast<size_t>(l)]);
        x = state[static_cast<size_t>(l)].h;
      }
      Tensor output;
      if (c_.modern) {
        const AttentionResult a = dot_attention(x, keys, keys, mask);
        attn = tanh((*attention_output_)(concat({a.context, x}, 1)));
        output = attn;
      } else {
        attn = tf_attention(state, keys, hidden_features);
        output = (*attention_output_)(concat({x, attn}, 1));
      }
      d.outputs.push_back(output);
      if (feed_previous) {
        const Tensor logits = (*output_projection_)(output);
        d.logits.push_back(logits);
        NoGradScope no_grad;  // TF stops the gradient through the fed-back argmax
        previous = argmax(softmax(logits, 1), 1);
      }
    }
    return d;
  }

  // Full projection of every step: (B, T, V).
  Tensor project_all(const std::vector<Tensor>& outputs) {
    std::vector<Tensor> steps;
    for (const Tensor& o : outputs) steps.push_back(unsqueeze(o, 1));
    return (*output_projection_)(concat(steps, 1));
  }

  nn::Linear& output_projection() { return *output_projection_; }

 private:
  // TF's attention(query): v . tanh(W1 k_s + W2 [c_1; h_1; ...; c_L; h_L] + b), softmax over s,
  // then the weighted sum of the keys. Keys are projected once per sequence (hidden_features), as TF
  // does; additive_attention would project them again at every step.
  Tensor tf_attention(const std::vector<LstmState>& state, const Tensor& keys, const Tensor& hidden_features) {
    ModuleScope scope("attention");
    std::vector<Tensor> parts;
    for (const LstmState& s : state) {
      parts.push_back(s.c);
      parts.push_back(s.h);
    }
    const Tensor y = unsqueeze((*attention_query_)(concat(parts, 1)), 1);    // (B, 1, H)
    const Tensor v = reshape(attention_v_->weight, {kSize});
    const Tensor s = sum(tanh(hidden_features + y) * v, {2});                // (B, S)
    const Tensor a = unsqueeze(softmax(s, 1), 2);                            // (B, S, 1)
    return sum(a * keys, {1});                                               // (B, H)
  }

  static Tensor source_lengths(const Tensor& enc) {
    const int64_t B = enc.size(0), S = enc.size(1);
    const std::vector<int64_t> ids = enc.to_vector<int64_t>();
    std::vector<int64_t> len(static_cast<size_t>(B), 0);
    for (int64_t i = 0; i < B; ++i) {
      int64_t n = 0;
      for (int64_t t = 0; t < S; ++t)
        if (ids[static_cast<size_t>(i * S + t)] != kPadId) n = t + 1;
      len[static_cast<size_t>(i)] = std::max<int64_t>(n, 1);  // an all-pad row still runs one step
    }
    return Tensor::from_vector(len, Shape{B});
  }

  Seq2SeqConfig c_;
  std::shared_ptr<nn::Embedding> encoder_embedding_, decoder_embedding_;
  std::shared_ptr<nn::Rnn> encoder_;
  std::vector<std::shared_ptr<nn::LstmCell>> cells_;
  std::shared_ptr<nn::Linear> input_projection_, attention_keys_, attention_query_, attention_output_,
      output_projection_, attention_v_;
};

std::shared_ptr<Seq2Seq> build_seq2seq(const std::string& variant) {
  Seq2SeqConfig c;
  if (variant == "modern") {
    const CorpusVocab v = corpus_vocab();
    c.modern = true;
    c.layers = 2;
    c.source_vocab = v.source;
    c.target_vocab = v.target;
  } else if (variant != "fathom") {
    fail("seq2seq: unknown variant '", variant, "' (fathom, modern)");
  }
  return std::make_shared<Seq2Seq>(c);
}

// TF's LogUniformCandidateSampler with unique = true: P(k) = log((k + 2) / (k + 1)) / log(V + 1),
// draws until `n` distinct ids; the expected count of an id is -expm1(tries * log1p(-P(k))).
struct Candidates {
  Tensor sampled, log_q_sampled, log_q_target;
};
Candidates log_uniform_candidates(const std::vector<int64_t>& target, int64_t n, int64_t range, uint64_t seed,
                                  uint64_t& counter) {
  const double log_range = std::log(static_cast<double>(range) + 1.0);
  auto prob = [&](int64_t k) { return std::log((k + 2.0) / (k + 1.0)) / log_range; };
  std::vector<int64_t> ids;
  std::vector<char> seen(static_cast<size_t>(range), 0);
  int64_t tries = 0;
  while (static_cast<int64_t>(ids.size()) < n) {
    const double u = philox_uniform_f64(seed, counter++);
    int64_t k = static_cast<int64_t>(std::exp(u * log_range)) - 1;
    k = std::clamp<int64_t>(k, 0, range - 1);
    ++tries;
    if (!seen[static_cast<size_t>(k)]) {
      seen[static_cast<size_t>(k)] = 1;
      ids.push_back(k);
    }
  }
  auto log_q = [&](int64_t k) { return static_cast<float>(std::log(-std::expm1(tries * std::log1p(-prob(k))))); };
  std::vector<float> qs, qt;
  for (int64_t k : ids) qs.push_back(log_q(k));
  for (int64_t k : target) qt.push_back(log_q(k));
  return {Tensor::from_vector(ids, Shape{n}), Tensor::from_vector(qs, Shape{n}),
          Tensor::from_vector(qt, Shape{static_cast<int64_t>(qt.size())})};
}

// Per-example weighted mean over steps, then the batch mean: TF's sequence_loss. losses (B, T).
Tensor sequence_loss(const Tensor& losses, const Tensor& weights) {
  const int64_t B = weights.size(0), T = weights.size(1);
  const std::vector<float> w = weights.to_vector<float>();
  std::vector<float> denom(static_cast<size_t>(B), 1e-12f);
  for (int64_t i = 0; i < B; ++i)
    for (int64_t t = 0; t < T; ++t) denom[static_cast<size_t>(i)] += w[static_cast<size_t>(i * T + t)];
  const Tensor per_example = sum(losses * weights, {1}) / Tensor::from_vector(denom, Shape{B});
  return mean(per_example);
}

class Seq2SeqWorkload final : public Workload {
 public:
  Seq2SeqWorkload(const ModelInfo& info, const WorkloadOptions& o) : seed_(o.seed) {
    set_identity(info.name, info.variants, o, info.default_batch);
    if (std::find(info.variants.begin(), info.variants.end(), variant_) == info.variants.end())
      fail("model 'seq2seq' has no variant '", variant_, "'; variants: fathom, modern");
    if (o.data != "synthetic" && o.data != "dataset") fail("unknown data source '", o.data, "' (synthetic, dataset)");
    manual_seed(o.seed);
    model_ = build_seq2seq(variant_);
    const Seq2SeqConfig& c = model_->config();
    if (o.data == "synthetic") {
      fixed_ = synthetic_batch(c, batch_, o.seed);
      data_ = "synthetic";
    } else {
      const RuleCorpus corpus = generate_rule_corpus(corpus_options(o.seed));
      const Vocabulary sv = Vocabulary::build(corpus.train.source, c.source_vocab);
      const Vocabulary tv = Vocabulary::build(corpus.train.target, c.target_vocab);
      std::vector<SentencePair> pairs;
      for (size_t i = 0; i < corpus.train.source.size(); ++i)
        pairs.push_back({sv.encode(corpus.train.source[i]), tv.encode(corpus.train.target[i])});
      data_set_ = bucketize(pairs, c.buckets);
      sampler_ = std::make_unique<BucketSampler>(data_set_, c.source_vocab, c.target_vocab, o.seed ^ 0xba7c4ULL,
                                                 /*reverse_source=*/!c.modern);
      data_ = info.dataset;
    }
    if (mode_ == Mode::train) {
      model_->train();
      optimizer_ = c.modern ? nn::make_adam(model_->named_parameters(), nn::AdamOptions{.lr = 1e-3})
                            : nn::make_sgd(model_->named_parameters(), nn::SgdOptions{.lr = 0.5});
    } else {
      model_->eval();
    }
    std::ostringstream os;
    os << describe_prefix();
    if (mode_ == Mode::train)
      os << (c.modern ? ", adam lr 0.001, full softmax over " + std::to_string(c.target_vocab)
                      : ", sgd lr 0.5 (x0.99 on a loss above the last 3), sampled softmax 512 of 40000")
         << ", global-norm clip 5";
    else
      os << ", greedy decoding";
    os << ", " << (data_ == "synthetic" ? std::string("synthetic batch in bucket (40, 50)") : data_ + " data");
    describe_ = os.str();
  }

  void step() override {
    TranslationBatch b;
    if (sampler_) {
      RegionScope region("data");
      b = sampler_->next(batch_);
    } else {
      b = fixed_;
    }
    if (mode_ == Mode::infer) {
      NoGradScope no_grad;
      const Decoded d = model_->run(b.encoder, b.decoder, /*feed_previous=*/true);
      // Fathom's forward-only step also fetches the bucket's (sampled-softmax) loss.
      if (!model_->config().modern) (void)loss(d, b);
      return;
    }
    optimizer_->zero_grad();
    const Tensor l = loss(model_->run(b.encoder, b.decoder, /*feed_previous=*/false), b);
    backward(l);
    nn::clip_grad_norm(model_->parameters(), kClipNorm);
    optimizer_->step();
    last_loss_ = l.item();
    if (!model_->config().modern) {
      // Fathom (display_step 1): lr x0.99 when this step's loss exceeds the max of the previous 3.
      const size_t n = previous_.size();
      if (n > 2 && last_loss_ > std::max({previous_[n - 1], previous_[n - 2], previous_[n - 3]}))
        optimizer_->set_lr(optimizer_->lr() * 0.99);
      previous_.push_back(last_loss_);
      if (previous_.size() > 3) previous_.erase(previous_.begin());
    }
  }

  nn::Module& model() override { return *model_; }

 private:
  // fathom: per step, sampled softmax over the 40k projection with 512 fresh log-uniform samples;
  // modern: full softmax cross-entropy over the projected (B, T, V).
  Tensor loss(const Decoded& d, const TranslationBatch& b) {
    RegionScope region("loss");
    const Seq2SeqConfig& c = model_->config();
    const int64_t T = b.targets.size(1);
    if (c.modern || kNumSamples >= c.target_vocab) {
      const Tensor logits = model_->project_all(d.outputs);  // (B, T, V)
      const Tensor l = cross_entropy(reshape(logits, {-1, c.target_vocab}), reshape(b.targets, {-1}), -100, 0, "none");
      return sequence_loss(reshape(l, {-1, T}), b.weights);
    }
    // Each step draws its own 512 samples, as TF. The projection rows any step uses are gathered once
    // and the steps index into them, so the backward pass builds one dense (V, H) gradient per batch
    // instead of one per step (TF's gradients here are sparse IndexedSlices).
    nn::Linear& proj = model_->output_projection();
    const int64_t B = b.targets.size(0);
    const std::vector<int64_t> targets = b.targets.to_vector<int64_t>();
    std::vector<Candidates> cand;
    std::vector<int64_t> local(static_cast<size_t>(c.target_vocab), -1), used;
    auto use = [&](int64_t id) {
      if (local[static_cast<size_t>(id)] < 0) {
        local[static_cast<size_t>(id)] = static_cast<int64_t>(used.size());
        used.push_back(id);
      }
      return local[static_cast<size_t>(id)];
    };
    std::vector<std::vector<int64_t>> step_targets(static_cast<size_t>(T)), step_sampled(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) {
      std::vector<int64_t> tt(static_cast<size_t>(B));
      for (int64_t i = 0; i < B; ++i) tt[static_cast<size_t>(i)] = targets[static_cast<size_t>(i * T + t)];
      cand.push_back(log_uniform_candidates(tt, kNumSamples, c.target_vocab, seed_ ^ 0x5a3b1eULL, draws_));
      for (int64_t id : tt) step_targets[static_cast<size_t>(t)].push_back(use(id));
      for (int64_t id : cand.back().sampled.to_vector<int64_t>()) step_sampled[static_cast<size_t>(t)].push_back(use(id));
    }
    const Tensor rows = Tensor::from_vector(used, Shape{static_cast<int64_t>(used.size())});
    const Tensor w = index_select(proj.weight, 0, rows), bias = index_select(proj.bias, 0, rows);
    std::vector<Tensor> steps;
    for (int64_t t = 0; t < T; ++t) {
      const auto& s = cand[static_cast<size_t>(t)];
      steps.push_back(unsqueeze(
          sampled_softmax_loss(d.outputs[static_cast<size_t>(t)], w, bias,
                               Tensor::from_vector(step_targets[static_cast<size_t>(t)], Shape{B}),
                               Tensor::from_vector(step_sampled[static_cast<size_t>(t)], Shape{kNumSamples}),
                               s.log_q_target, s.log_q_sampled),
          1));
    }
    return sequence_loss(concat(steps, 1), b.weights);
  }

  // One batch in the largest bucket, (40, 50): random ids above the special ones, source lengths in
  // [1, 39] and target lengths in [1, 48] (+ _EOS), from a Philox stream keyed by the seed.
  static TranslationBatch synthetic_batch(const Seq2SeqConfig& c, int64_t batch, uint64_t seed) {
    const size_t last = c.buckets.size() - 1;
    const Bucket& bk = c.buckets[last];
    const uint64_t key = seed ^ 0x5eed'da7aULL;
    uint64_t n = 0;
    auto below = [&](int64_t hi) {  // uniform in [0, hi)
      return std::min<int64_t>(hi - 1, static_cast<int64_t>(philox_uniform_f64(key, n++) * static_cast<double>(hi)));
    };
    std::vector<SentencePair> pairs(static_cast<size_t>(batch));
    for (SentencePair& p : pairs) {
      const int64_t ls = 1 + below(bk.source - 1), lt = 1 + below(bk.target - 2);
      for (int64_t i = 0; i < ls; ++i) p.source.push_back(kNumSpecialTokens + below(c.source_vocab - kNumSpecialTokens));
      for (int64_t i = 0; i < lt; ++i) p.target.push_back(kNumSpecialTokens + below(c.target_vocab - kNumSpecialTokens));
      p.target.push_back(kEosId);
    }
    return make_translation_batch(pairs, bk, static_cast<int64_t>(last), c.source_vocab, c.target_vocab, !c.modern);
  }

  uint64_t seed_;
  uint64_t draws_ = 0;
  std::shared_ptr<Seq2Seq> model_;
  std::unique_ptr<nn::Optimizer> optimizer_;
  TranslationBatch fixed_;
  BucketedPairs data_set_;
  std::unique_ptr<BucketSampler> sampler_;
  std::vector<double> previous_;
};

}  // namespace

void register_seq2seq() {
  const Bucket largest = translate_buckets().back();
  register_model(
      ModelInfo{.name = "seq2seq",
                .description = "attention encoder-decoder; fathom: 3-layer LSTM-256, vocab 40k/40k, sampled softmax "
                               "512, buckets (5,10) (10,15) (20,25) (40,50) (34,639,936 params); modern: 2-layer, "
                               "Luong dot attention, full softmax over the data's vocabulary",
                .variants = {"fathom", "modern"},
                .example_shape = {largest.source + largest.target},
                .example_dtype = DType::i64,
                .num_classes = kFathomVocab,
                .dataset = "parallel-text (generated)",
                .default_batch = 64,
                .optimizer = "sgd",
                .lr = 0.5,
                .quick_batch = 8,
                .in_suite = true},
      [](const std::string& variant) -> std::shared_ptr<nn::Module> { return build_seq2seq(variant); },
      [](const ModelInfo& info, const WorkloadOptions& o) -> std::unique_ptr<Workload> {
        return std::make_unique<Seq2SeqWorkload>(info, o);
      });
}

}  // namespace plumb::models
