#pragma once
// Parallel text for the seq2seq workload, as TensorFlow's translate tutorial (and Fathom) prepare it:
// tokenized source/target files, frequency-ranked vocabularies with the special ids first, token-id
// files, bucketing by length, and padded batches; plus a generator of a rule-based parallel corpus.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "plumb/tensor.h"

namespace plumb {

// Special token ids, as TF translate's data_utils: _PAD, _GO, _EOS, _UNK.
inline constexpr int64_t kPadId = 0;
inline constexpr int64_t kGoId = 1;
inline constexpr int64_t kEosId = 2;
inline constexpr int64_t kUnkId = 3;
inline constexpr int64_t kNumSpecialTokens = 4;

using Sentence = std::vector<std::string>;  // whitespace tokens
using TokenIds = std::vector<int64_t>;

// One sentence per line, tokens split on whitespace; errors name the file.
std::vector<Sentence> read_tokenized(const std::string& path);
// Writes one sentence per line, tokens joined by single spaces (temp file, then rename).
void write_tokenized(const std::string& path, const std::vector<Sentence>& sentences);

struct ParallelText {
  std::vector<Sentence> source, target;  // equal sizes: line i of one translates line i of the other
};
// Reads both files; throws Error naming both files and their line counts when the counts differ.
ParallelText read_parallel_text(const std::string& source_path, const std::string& target_path);

// Words by id: the four special tokens, then the most frequent words (ties in byte order), as TF's
// create_vocabulary, so ids rank by frequency (what the log-uniform sampler of sampled softmax assumes).
class Vocabulary {
 public:
  // `words` must start with _PAD, _GO, _EOS, _UNK and hold no duplicate; throws Error otherwise.
  explicit Vocabulary(std::vector<std::string> words);
  // The special tokens plus up to max_size - 4 most frequent words; max_size >= 5.
  static Vocabulary build(const std::vector<Sentence>& sentences, int64_t max_size);
  // A vocabulary file: one word per line in id order, as TF translate's vocab<N>.<lang> files.
  static Vocabulary load(const std::string& path);
  void save(const std::string& path) const;

  int64_t size() const { return static_cast<int64_t>(words_.size()); }
  int64_t id(const std::string& word) const;      // kUnkId for an unknown word
  const std::string& word(int64_t id) const;      // throws Error for an id outside [0, size)
  TokenIds encode(const Sentence& sentence) const;
  // Words of the ids up to (not including) the first _EOS; _PAD and _GO are skipped.
  Sentence decode(const TokenIds& ids) const;
  const std::vector<std::string>& words() const { return words_; }

 private:
  std::vector<std::string> words_;
  std::vector<std::pair<std::string, int64_t>> index_;  // sorted by word, for lookup
};

// Token-id files (TF translate's *.ids<N>.<lang>): one sentence per line, ids separated by spaces.
// A malformed token or an id outside [0, vocab_size) throws one Error naming the file, line and id.
std::vector<TokenIds> read_token_ids(const std::string& path, int64_t vocab_size);
void write_token_ids(const std::string& path, const std::vector<TokenIds>& sentences);

// A bucket holds pairs with source length < source and target length (with _EOS) < target, as TF's
// read_data; encoder inputs are padded to `source`, decoder inputs to `target`.
struct Bucket {
  int64_t source = 0, target = 0;
  bool operator==(const Bucket&) const = default;
};
// TF translate's (and Fathom's) buckets: (5, 10), (10, 15), (20, 25), (40, 50).
std::vector<Bucket> translate_buckets();

struct SentencePair {
  TokenIds source;
  TokenIds target;  // ends with _EOS once bucketed
};

struct BucketedPairs {
  std::vector<Bucket> buckets;
  std::vector<std::vector<SentencePair>> pairs;  // per bucket
  int64_t dropped = 0;                           // pairs too long for the largest bucket
  int64_t size() const;                          // pairs kept
};
// Appends _EOS to each target and puts each pair in the first bucket it fits (TF's read_data).
// max_pairs > 0 reads only the first max_pairs pairs (TF's max_train_data_size; Fathom uses 1).
BucketedPairs bucketize(const std::vector<SentencePair>& pairs, const std::vector<Bucket>& buckets,
                        int64_t max_pairs = 0);

// One batch of bucket `bucket`, batch-major: encoder (B, S) i64 padded then reversed (TF) or padded
// at the end; decoder (B, T) i64 = _GO + target + _PAD; targets (B, T) i64 = decoder shifted left
// by one (the last column _PAD); weights (B, T) f32, 0 where the target is _PAD (and in the last
// column), else 1; source_lengths (B) i64 before padding.
struct TranslationBatch {
  int64_t bucket = 0;
  Tensor encoder, decoder, targets, weights, source_lengths;
};
// Throws Error when a pair does not fit the bucket or holds an id outside its vocabulary.
TranslationBatch make_translation_batch(const std::vector<SentencePair>& pairs, const Bucket& bucket,
                                        int64_t bucket_index, int64_t source_vocab, int64_t target_vocab,
                                        bool reverse_source = true);

// Draws batches as TF translate: a bucket with probability proportional to its size, then batch
// pairs uniformly with replacement from it, from a Philox stream keyed by the seed.
class BucketSampler {
 public:
  BucketSampler(const BucketedPairs& data, int64_t source_vocab, int64_t target_vocab, uint64_t seed,
                bool reverse_source = true);
  int64_t pick_bucket();  // the next bucket draw
  TranslationBatch next(int64_t batch);

 private:
  const BucketedPairs* data_;
  int64_t source_vocab_, target_vocab_;
  uint64_t seed_, counter_ = 0;
  bool reverse_;
  std::vector<double> scale_;  // cumulative bucket fractions
};

// A rule-based English-like -> made-up target language corpus: clauses DET [ADJ] NOUN VERB
// [DET [ADJ] NOUN] [ADV] joined by "and"; each word maps to one target word of a fixed lexicon,
// adjectives follow their noun and the verb ends its clause. Deterministic given the seed; the test
// sentences do not occur in the training set.
struct RuleCorpusOptions {
  int64_t train_pairs = 20000;
  int64_t test_pairs = 500;
  int64_t max_clauses = 2;  // 1..4; 2 reaches bucket (20, 25), 4 the largest
  uint64_t seed = 1;
};
struct RuleCorpus {
  ParallelText train, test;
};
RuleCorpus generate_rule_corpus(const RuleCorpusOptions& options = {});
// The rule applied to one source sentence (throws Error naming an out-of-grammar word).
Sentence rule_translate(const Sentence& source);
// Writes train.src, train.tgt, test.src, test.tgt under `dir` (created when missing).
void write_rule_corpus(const std::string& dir, const RuleCorpus& corpus);

}  // namespace plumb
