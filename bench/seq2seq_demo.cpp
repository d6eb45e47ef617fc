// seq2seq_demo: trains the seq2seq workload on its generated parallel corpus ("dataset" data) and
// reports, on held-out sentence pairs, the teacher-forced loss and greedy decoding's token accuracy
// and exact-match rate against two baselines (docs/seq2seq.md). A demonstration, not a test.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "plumb/autograd.h"
#include "plumb/error.h"
#include "plumb/models.h"
#include "plumb/ops.h"
#include "plumb/parallel_text.h"
#include "plumb/thread_pool.h"
#include "plumb/workload.h"

namespace {

using namespace plumb;

void usage() {
  std::puts(
      "usage: seq2seq_demo [options]\n"
      "  --variant fathom|modern   (default modern)\n"
      "  --steps N                 training steps (default 500)\n"
      "  --batch B                 (default 64)\n"
      "  --eval-every N            evaluate every N steps (default 100)\n"
      "  --test-pairs M            held-out pairs evaluated (default 500)\n"
      "  --threads T               intra-op threads (default 2)\n"
      "  --seed S                  corpus, parameters and batches (default 1)");
}

struct Split {
  std::vector<std::vector<SentencePair>> by_bucket;  // targets end with _EOS
};

Split bucketed(const ParallelText& text, const Vocabulary& sv, const Vocabulary& tv, size_t limit) {
  std::vector<SentencePair> pairs;
  for (size_t i = 0; i < text.source.size() && i < limit; ++i)
    pairs.push_back({sv.encode(text.source[i]), tv.encode(text.target[i])});
  return {bucketize(pairs, translate_buckets()).pairs};
}

struct Scores {
  double loss = 0, token_accuracy = 0, exact_match = 0;
};

// Teacher-forced cross-entropy per target token, and greedy decoding scored against the reference:
// a position counts when the decoded id equals the reference id (target words and the final _EOS).
Scores evaluate(models::Workload& w, const Split& split, int64_t source_vocab, int64_t target_vocab, bool reverse) {
  NoGradScope no_grad;
  nn::Module& m = w.model();
  const std::vector<Bucket> buckets = translate_buckets();
  double loss_sum = 0, tokens = 0, correct = 0, exact = 0, sentences = 0;
  for (size_t b = 0; b < split.by_bucket.size(); ++b) {
    const auto& set = split.by_bucket[b];
    for (size_t start = 0; start < set.size(); start += 64) {
      const std::vector<SentencePair> chunk(set.begin() + static_cast<std::ptrdiff_t>(start),
                                            set.begin() + static_cast<std::ptrdiff_t>(std::min(set.size(), start + 64)));
      const TranslationBatch tb = make_translation_batch(chunk, buckets[b], static_cast<int64_t>(b), source_vocab,
                                                         target_vocab, reverse);
      const Tensor packed = concat({tb.encoder, tb.decoder}, 1);
      const int64_t B = tb.targets.size(0), T = tb.targets.size(1);
      std::vector<int64_t> masked = tb.targets.to_vector<int64_t>();
      const std::vector<float> weight = tb.weights.to_vector<float>();
      for (size_t i = 0; i < masked.size(); ++i)
        if (weight[i] == 0) masked[i] = -100;
      m.train();  // teacher forcing
      const Tensor logits = m(packed);
      loss_sum += cross_entropy(reshape(logits, {-1, target_vocab}),
                                Tensor::from_vector(masked, Shape{B * T}), -100, 0, "sum")
                      .item();
      m.eval();  // greedy decoding
      const std::vector<int64_t> decoded = argmax(m(packed), 2).to_vector<int64_t>();
      const std::vector<int64_t> ref = tb.targets.to_vector<int64_t>();
      for (int64_t i = 0; i < B; ++i) {
        bool all = true;
        for (int64_t t = 0; t < T; ++t) {
          const auto k = static_cast<size_t>(i * T + t);
          if (weight[k] == 0) continue;
          tokens += 1;
          if (decoded[k] == ref[k])
            correct += 1;
          else
            all = false;
        }
        exact += all ? 1 : 0;
        sentences += 1;
      }
    }
  }
  m.train();
  return {loss_sum / tokens, correct / tokens, exact / sentences};
}

// The best guess without the source: at each target position, the training set's most frequent
// token there (word or _EOS), scored as evaluate() scores the decoder.
double positional_majority(const Split& train, const Split& test) {
  std::map<size_t, std::map<int64_t, int64_t>> counts;
  for (const auto& set : train.by_bucket)
    for (const SentencePair& p : set)
      for (size_t t = 0; t < p.target.size(); ++t) ++counts[t][p.target[t]];
  double tokens = 0, correct = 0;
  for (const auto& set : test.by_bucket)
    for (const SentencePair& p : set)
      for (size_t t = 0; t < p.target.size(); ++t) {
        int64_t best = -1, n = -1;
        for (const auto& [id, c] : counts[t])
          if (c > n) best = id, n = c;
        tokens += 1;
        correct += best == p.target[t] ? 1 : 0;
      }
  return correct / tokens;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string variant = "modern";
    int64_t steps = 500, batch = 64, eval_every = 100, test_pairs = 500;
    int threads = 2;
    uint64_t seed = 1;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        usage();
        return 0;
      }
      if (i + 1 >= argc) fail("seq2seq_demo: option ", a, " needs a value (see --help)");
      const std::string v = argv[++i];
      auto num = [&] {
        char* end = nullptr;
        const long long x = std::strtoll(v.c_str(), &end, 10);
        if (end == v.c_str() || *end || x < 0) fail("seq2seq_demo: ", a, " expects a count, got '", v, "'");
        return static_cast<int64_t>(x);
      };
      if (a == "--variant") variant = v;
      else if (a == "--steps") steps = num();
      else if (a == "--batch") batch = num();
      else if (a == "--eval-every") eval_every = num();
      else if (a == "--test-pairs") test_pairs = num();
      else if (a == "--threads") threads = static_cast<int>(num());
      else if (a == "--seed") seed = static_cast<uint64_t>(num());
      else fail("seq2seq_demo: unknown option '", a, "' (see --help)");
    }
    if (batch < 1 || eval_every < 1 || threads < 1 || test_pairs < 1)
      fail("seq2seq_demo: batch, eval-every, threads and test-pairs must be positive");
    set_num_threads(threads);

    // The workload's "dataset" data: generate_rule_corpus with the seed, vocabularies from its
    // training split (so ids here match the workload's).
    RuleCorpusOptions co;
    co.seed = seed;
    const RuleCorpus corpus = generate_rule_corpus(co);
    auto w = models::make_workload("seq2seq", {.variant = variant, .mode = models::Mode::train, .batch = batch,
                                               .seed = seed, .data = "dataset"});
    const bool modern = variant == "modern";
    const int64_t model_vocab = modern ? 0 : 40000;
    const Vocabulary sv = Vocabulary::build(corpus.train.source, modern ? 40000 : model_vocab);
    const Vocabulary tv = Vocabulary::build(corpus.train.target, modern ? 40000 : model_vocab);
    const int64_t vs = modern ? sv.size() : model_vocab, vt = modern ? tv.size() : model_vocab;
    const Split train = bucketed(corpus.train, sv, tv, corpus.train.source.size());
    const Split test = bucketed(corpus.test, sv, tv, static_cast<size_t>(test_pairs));

    std::printf("seq2seq_demo: %s\n", w->describe().c_str());
    std::printf("corpus: %zu training pairs, %lld held-out pairs, vocabularies %lld source / %lld target words "
                "(with the 4 special tokens)\n",
                corpus.train.source.size(), static_cast<long long>(test_pairs), static_cast<long long>(sv.size()),
                static_cast<long long>(tv.size()));
    std::printf("baselines on held-out tokens: uniform guess over the %lld target words and _EOS %.4f, "
                "positional majority %.4f\n",
                static_cast<long long>(tv.size() - 3), 1.0 / static_cast<double>(tv.size() - 3),
                positional_majority(train, test));
    // train loss: the mean of the workload's step losses since the last line (its training objective);
    // test loss: teacher-forced cross-entropy per held-out target token.
    std::printf("%6s %9s %11s %10s %14s %12s\n", "step", "time s", "train loss", "test loss", "token accuracy",
                "exact match");
    const auto t0 = std::chrono::steady_clock::now();
    double loss_sum = 0;
    int64_t loss_steps = 0;
    double train_seconds = 0;
    auto report = [&](int64_t step) {
      const Scores te = evaluate(*w, test, vs, vt, !modern);
      if (loss_steps)
        std::printf("%6lld %9.1f %11.4f", static_cast<long long>(step), train_seconds, loss_sum / loss_steps);
      else
        std::printf("%6lld %9.1f %11s", static_cast<long long>(step), train_seconds, "-");
      std::printf(" %10.4f %14.4f %12.4f\n", te.loss, te.token_accuracy, te.exact_match);
      std::fflush(stdout);
      loss_sum = 0;
      loss_steps = 0;
    };
    report(0);
    for (int64_t s = 1; s <= steps; ++s) {
      const auto a = std::chrono::steady_clock::now();
      w->step();
      train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
      loss_sum += w->last_loss();
      ++loss_steps;
      if (s % eval_every == 0 || s == steps) report(s);
    }
    const auto total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("total %.1f s (training steps %.1f s)\n", total, train_seconds);
    return 0;
  } catch (const plumb::Error& e) {
    std::fprintf(stderr, "seq2seq_demo: error: %s\n", e.what());
    return 1;
  }
}
