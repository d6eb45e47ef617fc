// Parallel text: reading and line-count checks, vocabularies, token-id files, TF translate's bucketing
// and batch layout, the bucket sampler, and the rule-based corpus generator.
#include "plumb/parallel_text.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/temp_dir.h"
#include "plumb/error.h"

namespace plumb {
namespace {

class ParallelTextTest : public testing::TempDirTest {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(path(name), std::ios::binary) << text;
    return path(name);
  }
};

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST_F(ParallelTextTest, ReadsWhitespaceTokens) {
  const std::string src = write("a.en", "the  dog\truns\n\nhello world .\n");
  const std::vector<Sentence> s = read_tokenized(src);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], (Sentence{"the", "dog", "runs"}));
  EXPECT_TRUE(s[1].empty());
  EXPECT_EQ(s[2], (Sentence{"hello", "world", "."}));
}

TEST_F(ParallelTextTest, LineCountMismatchNamesBothFiles) {
  const std::string src = write("a.en", "one\ntwo\nthree\n");
  const std::string tgt = write("a.fr", "un\ndeux\n");
  const std::string e = error_of([&] { read_parallel_text(src, tgt); });
  EXPECT_NE(e.find("a.en' has 3 lines"), std::string::npos) << e;
  EXPECT_NE(e.find("a.fr' has 2"), std::string::npos) << e;
  const ParallelText ok = read_parallel_text(src, write("b.fr", "un\ndeux\ntrois\n"));
  EXPECT_EQ(ok.target[2], Sentence{"trois"});
  EXPECT_NE(error_of([&] { read_tokenized(path("missing.en")); }).find("missing.en"), std::string::npos);
}

TEST_F(ParallelTextTest, WriteThenReadRoundTrips) {
  const std::vector<Sentence> s{{"a", "b"}, {}, {"c"}};
  write_tokenized(path("x.txt"), s);
  EXPECT_EQ(read_tokenized(path("x.txt")), s);
}

TEST(Vocabulary, SpecialIdsThenMostFrequent) {
  const std::vector<Sentence> text{{"b", "a", "c", "a"}, {"c", "a", "d"}};
  const Vocabulary v = Vocabulary::build(text, 7);  // 4 specials + 3 words: a(3), c(2), then b before d
  ASSERT_EQ(v.size(), 7);
  EXPECT_EQ(v.words(), (std::vector<std::string>{"_PAD", "_GO", "_EOS", "_UNK", "a", "c", "b"}));
  EXPECT_EQ(v.id("_PAD"), kPadId);
  EXPECT_EQ(v.id("_GO"), kGoId);
  EXPECT_EQ(v.id("_EOS"), kEosId);
  EXPECT_EQ(v.id("a"), 4);
  EXPECT_EQ(v.id("d"), kUnkId);  // cut by max_size
  EXPECT_EQ(v.encode({"c", "zzz", "a"}), (TokenIds{5, kUnkId, 4}));
  EXPECT_EQ(v.decode({kGoId, 4, 6, kEosId, 5}), (Sentence{"a", "b"}));
  EXPECT_NE(error_of([&] { v.word(7); }).find("token id 7 is outside the vocabulary of 7"), std::string::npos);
  EXPECT_NE(error_of([&] { Vocabulary::build(text, 4); }).find("max_size"), std::string::npos);
}

TEST_F(ParallelTextTest, VocabularyFileRoundTripAndChecks) {
  const Vocabulary v = Vocabulary::build({{"x", "y", "x"}}, 100);
  v.save(path("vocab.txt"));
  EXPECT_EQ(Vocabulary::load(path("vocab.txt")).words(), v.words());
  const std::string bad = write("bad.txt", "_PAD\n_GO\n_UNK\n_EOS\nx\n");
  EXPECT_NE(error_of([&] { Vocabulary::load(bad); }).find("id 2 must be _EOS"), std::string::npos);
  const std::string dup = write("dup.txt", "_PAD\n_GO\n_EOS\n_UNK\nx\nx\n");
  EXPECT_NE(error_of([&] { Vocabulary::load(dup); }).find("duplicate word 'x'"), std::string::npos);
}

TEST_F(ParallelTextTest, TokenIdFiles) {
  write_token_ids(path("a.ids"), {{4, 5, 6}, {}, {7}});
  EXPECT_EQ(read_token_ids(path("a.ids"), 8), (std::vector<TokenIds>{{4, 5, 6}, {}, {7}}));
  // An id beyond the vocabulary is one clear error with file, line and id.
  const std::string e = error_of([&] { read_token_ids(path("a.ids"), 7); });
  EXPECT_NE(e.find("a.ids' line 3: token id 7 is outside the vocabulary of 7"), std::string::npos) << e;
  const std::string junk = write("junk.ids", "4 5\n6 x7\n");
  EXPECT_NE(error_of([&] { read_token_ids(junk, 100); }).find("line 2: 'x7' is not a token id"), std::string::npos);
  const std::string neg = write("neg.ids", "-1\n");
  EXPECT_NE(error_of([&] { read_token_ids(neg, 100); }).find("token id -1 is outside"), std::string::npos);
}

TEST(Bucketize, FirstFittingBucketAsTfReadData) {
  // TF: len(source) < S and len(target + EOS) < T.
  std::vector<SentencePair> pairs{
      {TokenIds(4, 5), TokenIds(8, 5)},    // target 9 < 10: bucket 0
      {TokenIds(5, 5), TokenIds(3, 5)},    // source 5 is not < 5: bucket 1
      {TokenIds(4, 5), TokenIds(9, 5)},    // target 10 is not < 10: bucket 1
      {TokenIds(39, 5), TokenIds(48, 5)},  // bucket 3
      {TokenIds(40, 5), TokenIds(3, 5)},   // too long: dropped
      {TokenIds(3, 5), TokenIds(49, 5)},   // target too long: dropped
  };
  const BucketedPairs b = bucketize(pairs, translate_buckets());
  ASSERT_EQ(b.pairs.size(), 4u);
  EXPECT_EQ(b.pairs[0].size(), 1u);
  EXPECT_EQ(b.pairs[1].size(), 2u);
  EXPECT_EQ(b.pairs[2].size(), 0u);
  EXPECT_EQ(b.pairs[3].size(), 1u);
  EXPECT_EQ(b.dropped, 2);
  EXPECT_EQ(b.size(), 4);
  EXPECT_EQ(b.pairs[0][0].target.back(), kEosId);
  EXPECT_EQ(b.pairs[0][0].target.size(), 9u);
  // Fathom's max_train_data_size = 1: only the first pair is read.
  const BucketedPairs one = bucketize(pairs, translate_buckets(), 1);
  EXPECT_EQ(one.size(), 1);
  EXPECT_EQ(one.pairs[0].size(), 1u);
}

TEST(TranslationBatch, PaddedReversedGoPrefixedWeighted) {
  // Bucket (5, 10): source [4 5 6], target [7 8] + EOS.
  std::vector<SentencePair> pairs{{{4, 5, 6}, {7, 8, kEosId}}, {{9}, {kEosId}}};
  const TranslationBatch b = make_translation_batch(pairs, {5, 10}, 0, 10, 10);
  EXPECT_EQ(b.encoder.shape(), (Shape{2, 5}));
  EXPECT_EQ(b.decoder.shape(), (Shape{2, 10}));
  // TF: reversed(source + pads).
  EXPECT_EQ(b.encoder.to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 6, 5, 4, 0, 0, 0, 0, 9}));
  EXPECT_EQ(b.decoder.to_vector<int64_t>(),
            (std::vector<int64_t>{1, 7, 8, 2, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(b.targets.to_vector<int64_t>(),
            (std::vector<int64_t>{7, 8, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(b.weights.to_vector<float>(),
            (std::vector<float>{1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(b.source_lengths.to_vector<int64_t>(), (std::vector<int64_t>{3, 1}));
  // Not reversed: padded at the end.
  const TranslationBatch f = make_translation_batch(pairs, {5, 10}, 0, 10, 10, /*reverse_source=*/false);
  EXPECT_EQ(f.encoder.to_vector<int64_t>(), (std::vector<int64_t>{4, 5, 6, 0, 0, 9, 0, 0, 0, 0}));
}

TEST(TranslationBatch, BadIdsAndLengthsAreErrors) {
  std::vector<SentencePair> big_src{{{4, 10}, {kEosId}}};
  EXPECT_NE(error_of([&] { make_translation_batch(big_src, {5, 10}, 0, 10, 10); })
                .find("source token id 10 is outside the vocabulary of 10"),
            std::string::npos);
  std::vector<SentencePair> big_tgt{{{4}, {12, kEosId}}};
  EXPECT_NE(error_of([&] { make_translation_batch(big_tgt, {5, 10}, 0, 10, 10); })
                .find("target token id 12 is outside the vocabulary of 10"),
            std::string::npos);
  std::vector<SentencePair> long_src{{TokenIds(6, 4), {kEosId}}};
  EXPECT_NE(error_of([&] { make_translation_batch(long_src, {5, 10}, 0, 10, 10); }).find("does not fit bucket (5, 10)"),
            std::string::npos);
}

TEST(BucketSampler, ProportionalToBucketSizes) {
  std::vector<SentencePair> pairs;
  for (int i = 0; i < 300; ++i) pairs.push_back({{4, 5}, {6}});          // bucket 0
  for (int i = 0; i < 100; ++i) pairs.push_back({TokenIds(7, 4), {6}});  // bucket 1
  const BucketedPairs data = bucketize(pairs, translate_buckets());
  BucketSampler s(data, 10, 10, 42);
  std::map<int64_t, int> seen;
  for (int i = 0; i < 4000; ++i) ++seen[s.pick_bucket()];
  EXPECT_EQ(seen.size(), 2u);  // empty buckets are never drawn
  EXPECT_NEAR(seen[0] / 4000.0, 0.75, 0.03);
  EXPECT_NEAR(seen[1] / 4000.0, 0.25, 0.03);
  const TranslationBatch b = s.next(8);
  EXPECT_EQ(b.encoder.size(0), 8);
  EXPECT_EQ(b.encoder.size(1), translate_buckets()[static_cast<size_t>(b.bucket)].source);
  // The same seed gives the same batches.
  BucketSampler s1(data, 10, 10, 7), s2(data, 10, 10, 7);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s1.next(4).encoder.to_vector<int64_t>(), s2.next(4).encoder.to_vector<int64_t>());
  const BucketedPairs none = bucketize({{TokenIds(60, 4), {6}}}, translate_buckets());
  EXPECT_NE(error_of([&] { BucketSampler(none, 10, 10, 1); }).find("every bucket is empty (1 pairs were too long)"),
            std::string::npos);
}

TEST(RuleCorpus, TranslationRule) {
  // Adjectives follow their noun; the verb ends its clause, after the adverb.
  EXPECT_EQ(rule_translate({"the", "big", "dog", "sees", "a", "red", "car", "today"}),
            (Sentence{"lo", "pero", "granda", "una", "auto", "ruja", "hodiau", "vidas"}));
  EXPECT_EQ(rule_translate({"my", "cat", "sleeps", "and", "the", "king", "sings"}),
            (Sentence{"mio", "gato", "dormas", "kaj", "lo", "rego", "kantas"}));
  EXPECT_NE(error_of([] { rule_translate({"the", "unicorn"}); }).find("'unicorn' is not a word of the grammar"),
            std::string::npos);
}

TEST_F(ParallelTextTest, RuleCorpusIsSeededAndHeldOut) {
  const RuleCorpus a = generate_rule_corpus({.train_pairs = 2000, .test_pairs = 200, .max_clauses = 2, .seed = 3});
  const RuleCorpus b = generate_rule_corpus({.train_pairs = 2000, .test_pairs = 200, .max_clauses = 2, .seed = 3});
  const RuleCorpus c = generate_rule_corpus({.train_pairs = 2000, .test_pairs = 200, .max_clauses = 2, .seed = 4});
  EXPECT_EQ(a.train.source, b.train.source);
  EXPECT_NE(a.train.source, c.train.source);
  ASSERT_EQ(a.train.source.size(), 2000u);
  ASSERT_EQ(a.test.source.size(), 200u);
  std::set<Sentence> train(a.train.source.begin(), a.train.source.end());
  for (const Sentence& s : a.test.source) EXPECT_EQ(train.count(s), 0u);
  for (size_t i = 0; i < a.train.source.size(); ++i) {
    EXPECT_EQ(a.train.target[i], rule_translate(a.train.source[i]));
    EXPECT_EQ(a.train.target[i].size(), a.train.source[i].size());
  }
  // Lengths span the three smaller buckets; none is dropped at two clauses.
  const Vocabulary sv = Vocabulary::build(a.train.source, 1000), tv = Vocabulary::build(a.train.target, 1000);
  std::vector<SentencePair> pairs;
  for (size_t i = 0; i < a.train.source.size(); ++i)
    pairs.push_back({sv.encode(a.train.source[i]), tv.encode(a.train.target[i])});
  const BucketedPairs bp = bucketize(pairs, translate_buckets());
  EXPECT_EQ(bp.dropped, 0);
  EXPECT_GT(bp.pairs[0].size(), 0u);
  EXPECT_GT(bp.pairs[1].size(), 0u);
  EXPECT_GT(bp.pairs[2].size(), 0u);
  // Files in the tokenized format, read back as parallel text.
  write_rule_corpus(path("corpus"), a);
  const ParallelText t = read_parallel_text(path("corpus/test.src"), path("corpus/test.tgt"));
  EXPECT_EQ(t.source, a.test.source);
  EXPECT_EQ(t.target, a.test.target);
}

}  // namespace
}  // namespace plumb
