// Parallel text as TF's translate tutorial prepares it (data_utils.py, read_data, get_batch), and a
// generator of a rule-based parallel corpus for machines without WMT.
#include "plumb/parallel_text.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "plumb/error.h"
#include "plumb/file_io.h"
#include "plumb/random.h"

namespace plumb {

namespace {

namespace fs = std::filesystem;

constexpr const char* kSpecialWords[kNumSpecialTokens] = {"_PAD", "_GO", "_EOS", "_UNK"};

std::ifstream open_for_reading(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(what, ": cannot open '", path, "': ", std::strerror(errno));
  return in;
}

Sentence split_tokens(std::string_view line) {
  Sentence out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    size_t j = i;
    while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
    if (j > i) out.emplace_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

// Builds the file's text with `body`, then writes it atomically.
template <class F>
void write_atomically(const std::string& path, F&& body) {
  std::ostringstream out;
  body(out);
  write_file_atomic(path, out.str());
}

}  // namespace

std::vector<Sentence> read_tokenized(const std::string& path) {
  std::ifstream in = open_for_reading(path, "parallel text");
  std::vector<Sentence> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(split_tokens(line));
  if (in.bad()) fail("parallel text: read error in '", path, "'");
  return out;
}

void write_tokenized(const std::string& path, const std::vector<Sentence>& sentences) {
  write_atomically(path, [&](std::ostringstream& out) {
    for (const Sentence& s : sentences) {
      for (size_t i = 0; i < s.size(); ++i) out << (i ? " " : "") << s[i];
      out << '\n';
    }
  });
}

ParallelText read_parallel_text(const std::string& source_path, const std::string& target_path) {
  ParallelText t{read_tokenized(source_path), read_tokenized(target_path)};
  if (t.source.size() != t.target.size())
    fail("parallel text: line counts differ: '", source_path, "' has ", t.source.size(), " lines, '", target_path,
         "' has ", t.target.size());
  return t;
}

// ---- vocabulary ----

Vocabulary::Vocabulary(std::vector<std::string> words) : words_(std::move(words)) {
  if (static_cast<int64_t>(words_.size()) < kNumSpecialTokens)
    fail("vocabulary: needs at least the ", kNumSpecialTokens, " special tokens, got ", words_.size(), " words");
  for (int64_t i = 0; i < kNumSpecialTokens; ++i)
    if (words_[static_cast<size_t>(i)] != kSpecialWords[i])
      fail("vocabulary: id ", i, " must be ", kSpecialWords[i], ", got '", words_[static_cast<size_t>(i)], "'");
  index_.reserve(words_.size());
  for (size_t i = 0; i < words_.size(); ++i) {
    if (words_[i].empty()) fail("vocabulary: empty word at id ", i);
    index_.emplace_back(words_[i], static_cast<int64_t>(i));
  }
  std::sort(index_.begin(), index_.end());
  for (size_t i = 1; i < index_.size(); ++i)
    if (index_[i].first == index_[i - 1].first)
      fail("vocabulary: duplicate word '", index_[i].first, "' (ids ", index_[i - 1].second, " and ",
           index_[i].second, ")");
}

Vocabulary Vocabulary::build(const std::vector<Sentence>& sentences, int64_t max_size) {
  if (max_size <= kNumSpecialTokens)
    fail("vocabulary: max_size must exceed the ", kNumSpecialTokens, " special tokens, got ", max_size);
  std::unordered_map<std::string, int64_t> counts;
  for (const Sentence& s : sentences)
    for (const std::string& w : s) ++counts[w];
  for (const char* special : kSpecialWords) counts.erase(special);  // they keep their fixed ids
  std::vector<std::pair<std::string, int64_t>> ranked(counts.begin(), counts.end());
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<std::string> words(kSpecialWords, kSpecialWords + kNumSpecialTokens);
  for (const auto& [w, c] : ranked) {
    if (static_cast<int64_t>(words.size()) >= max_size) break;
    words.push_back(w);
  }
  return Vocabulary(std::move(words));
}

Vocabulary Vocabulary::load(const std::string& path) {
  std::ifstream in = open_for_reading(path, "vocabulary");
  std::vector<std::string> words;
  std::string line;
  while (std::getline(in, line)) {
    const Sentence tokens = split_tokens(line);
    if (tokens.size() != 1)
      fail("vocabulary: '", path, "' line ", words.size() + 1, ": expected one word, got ", tokens.size());
    words.push_back(tokens[0]);
  }
  try {
    return Vocabulary(std::move(words));
  } catch (const Error& e) {
    fail("'", path, "': ", e.what());
  }
}

void Vocabulary::save(const std::string& path) const {
  write_atomically(path, [&](std::ostringstream& out) {
    for (const std::string& w : words_) out << w << '\n';
  });
}

int64_t Vocabulary::id(const std::string& word) const {
  auto it = std::lower_bound(index_.begin(), index_.end(), word,
                             [](const auto& e, const std::string& w) { return e.first < w; });
  return it != index_.end() && it->first == word ? it->second : kUnkId;
}

const std::string& Vocabulary::word(int64_t id) const {
  if (id < 0 || id >= size()) fail("vocabulary: token id ", id, " is outside the vocabulary of ", size());
  return words_[static_cast<size_t>(id)];
}

TokenIds Vocabulary::encode(const Sentence& sentence) const {
  TokenIds ids;
  ids.reserve(sentence.size());
  for (const std::string& w : sentence) ids.push_back(id(w));
  return ids;
}

Sentence Vocabulary::decode(const TokenIds& ids) const {
  Sentence out;
  for (int64_t id : ids) {
    if (id == kEosId) break;
    if (id == kPadId || id == kGoId) continue;
    out.push_back(word(id));
  }
  return out;
}

// ---- token ids ----

std::vector<TokenIds> read_token_ids(const std::string& path, int64_t vocab_size) {
  if (vocab_size <= 0) fail("token ids: vocab_size must be positive, got ", vocab_size);
  std::ifstream in = open_for_reading(path, "token ids");
  std::vector<TokenIds> out;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    TokenIds ids;
    for (const std::string& tok : split_tokens(line)) {
      int64_t v = 0;
      const auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
      if (ec != std::errc() || end != tok.data() + tok.size())
        fail("token ids: '", path, "' line ", line_no, ": '", tok, "' is not a token id");
      if (v < 0 || v >= vocab_size)
        fail("token ids: '", path, "' line ", line_no, ": token id ", v, " is outside the vocabulary of ", vocab_size);
      ids.push_back(v);
    }
    out.push_back(std::move(ids));
  }
  if (in.bad()) fail("token ids: read error in '", path, "'");
  return out;
}

void write_token_ids(const std::string& path, const std::vector<TokenIds>& sentences) {
  write_atomically(path, [&](std::ostringstream& out) {
    for (const TokenIds& s : sentences) {
      for (size_t i = 0; i < s.size(); ++i) out << (i ? " " : "") << s[i];
      out << '\n';
    }
  });
}

// ---- buckets and batches ----

std::vector<Bucket> translate_buckets() { return {{5, 10}, {10, 15}, {20, 25}, {40, 50}}; }

int64_t BucketedPairs::size() const {
  int64_t n = 0;
  for (const auto& b : pairs) n += static_cast<int64_t>(b.size());
  return n;
}

BucketedPairs bucketize(const std::vector<SentencePair>& pairs, const std::vector<Bucket>& buckets,
                        int64_t max_pairs) {
  if (buckets.empty()) fail("bucketize: no buckets");
  for (const Bucket& b : buckets)
    if (b.source < 1 || b.target < 2) fail("bucketize: bucket (", b.source, ", ", b.target, ") is too small");
  BucketedPairs out;
  out.buckets = buckets;
  out.pairs.resize(buckets.size());
  const size_t n = max_pairs > 0 ? std::min(pairs.size(), static_cast<size_t>(max_pairs)) : pairs.size();
  for (size_t i = 0; i < n; ++i) {
    SentencePair p = pairs[i];
    p.target.push_back(kEosId);
    bool placed = false;
    for (size_t b = 0; b < buckets.size() && !placed; ++b) {
      if (static_cast<int64_t>(p.source.size()) < buckets[b].source &&
          static_cast<int64_t>(p.target.size()) < buckets[b].target) {
        out.pairs[b].push_back(std::move(p));
        placed = true;
      }
    }
    if (!placed) ++out.dropped;
  }
  return out;
}

TranslationBatch make_translation_batch(const std::vector<SentencePair>& pairs, const Bucket& bucket,
                                        int64_t bucket_index, int64_t source_vocab, int64_t target_vocab,
                                        bool reverse_source) {
  const auto b = static_cast<int64_t>(pairs.size());
  if (b < 1) fail("translation batch: no pairs");
  const int64_t S = bucket.source, T = bucket.target;
  TranslationBatch out;
  out.bucket = bucket_index;
  out.encoder = Tensor::zeros({b, S}, DType::i64);
  out.decoder = Tensor::zeros({b, T}, DType::i64);
  out.targets = Tensor::zeros({b, T}, DType::i64);
  out.weights = Tensor::zeros({b, T}, DType::f32);
  out.source_lengths = Tensor::zeros({b}, DType::i64);
  int64_t* enc = out.encoder.data<int64_t>();
  int64_t* dec = out.decoder.data<int64_t>();
  int64_t* tgt = out.targets.data<int64_t>();
  float* w = out.weights.data<float>();
  int64_t* len = out.source_lengths.data<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    const SentencePair& p = pairs[static_cast<size_t>(i)];
    const auto ls = static_cast<int64_t>(p.source.size());
    const auto lt = static_cast<int64_t>(p.target.size());
    if (ls > S || lt > T - 1)
      fail("translation batch: pair ", i, " (source ", ls, ", target ", lt, " tokens) does not fit bucket (", S, ", ",
           T, ")");
    for (int64_t id : p.source)
      if (id < 0 || id >= source_vocab)
        fail("translation batch: pair ", i, ": source token id ", id, " is outside the vocabulary of ", source_vocab);
    for (int64_t id : p.target)
      if (id < 0 || id >= target_vocab)
        fail("translation batch: pair ", i, ": target token id ", id, " is outside the vocabulary of ", target_vocab);
    // TF: reversed(source + pads), so the pads come first and the sentence ends at column S - 1.
    for (int64_t t = 0; t < ls; ++t)
      enc[i * S + (reverse_source ? S - 1 - t : t)] = p.source[static_cast<size_t>(t)];
    len[i] = ls;
    dec[i * T] = kGoId;
    for (int64_t t = 0; t < lt; ++t) dec[i * T + 1 + t] = p.target[static_cast<size_t>(t)];
    for (int64_t t = 0; t + 1 < T; ++t) {
      tgt[i * T + t] = dec[i * T + t + 1];
      w[i * T + t] = tgt[i * T + t] == kPadId ? 0.0f : 1.0f;
    }
  }
  return out;
}

BucketSampler::BucketSampler(const BucketedPairs& data, int64_t source_vocab, int64_t target_vocab, uint64_t seed,
                             bool reverse_source)
    : data_(&data), source_vocab_(source_vocab), target_vocab_(target_vocab), seed_(seed), reverse_(reverse_source) {
  const double total = static_cast<double>(data.size());
  if (total == 0) fail("bucket sampler: every bucket is empty (", data.dropped, " pairs were too long)");
  double acc = 0;
  for (const auto& b : data.pairs) {
    acc += static_cast<double>(b.size());
    scale_.push_back(acc / total);
  }
}

int64_t BucketSampler::pick_bucket() {
  // TF: the first bucket whose cumulative fraction exceeds a uniform draw.
  const double r = philox_uniform_f64(seed_, counter_++);
  for (size_t i = 0; i < scale_.size(); ++i)
    if (scale_[i] > r) return static_cast<int64_t>(i);
  return static_cast<int64_t>(scale_.size()) - 1;
}

TranslationBatch BucketSampler::next(int64_t batch) {
  if (batch < 1) fail("bucket sampler: batch must be positive, got ", batch);
  const int64_t b = pick_bucket();
  const auto& set = data_->pairs[static_cast<size_t>(b)];
  std::vector<SentencePair> chosen;
  chosen.reserve(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) {
    auto k = static_cast<size_t>(philox_uniform_f64(seed_, counter_++) * static_cast<double>(set.size()));
    chosen.push_back(set[std::min(k, set.size() - 1)]);
  }
  return make_translation_batch(chosen, data_->buckets[static_cast<size_t>(b)], b, source_vocab_, target_vocab_,
                                reverse_);
}

// ---- the rule-based corpus ----

namespace {

enum class WordClass : uint8_t { det, noun, adj, verb, adv, conj };

struct Entry {
  const char* source;
  const char* target;
};

// Fixed lexicon: every source word has one target word (made-up, so nothing is learned from the spelling).
constexpr Entry kDets[] = {{"the", "lo"}, {"a", "una"}, {"this", "ce"}, {"every", "kazu"}, {"my", "mio"}};
constexpr Entry kNouns[] = {
    {"dog", "pero"},     {"cat", "gato"},      {"bird", "avi"},      {"child", "nino"},   {"teacher", "magis"},
    {"farmer", "agri"},  {"house", "domo"},    {"river", "fluvo"},   {"tree", "arbo"},    {"book", "libro"},
    {"car", "auto"},     {"city", "urbo"},     {"king", "rego"},     {"queen", "regina"}, {"horse", "kavalo"},
    {"apple", "pomo"},   {"garden", "horto"},  {"friend", "amiko"},  {"letter", "letero"}, {"mountain", "monto"},
    {"boat", "bato"},    {"doctor", "medo"},   {"window", "fenestro"}, {"song", "kanto"}, {"student", "studo"},
    {"table", "tablo"},  {"road", "vojo"},     {"stone", "petro"},   {"fish", "fiso"},    {"baker", "pano"}};
constexpr Entry kAdjs[] = {{"big", "granda"},  {"small", "mala"},  {"red", "ruja"},     {"old", "vieja"},
                           {"young", "juna"},  {"happy", "gaja"},  {"quiet", "kvieta"}, {"green", "verda"},
                           {"strong", "forta"}, {"tired", "laca"}, {"clever", "saga"},  {"dark", "malhela"},
                           {"new", "nova"},    {"cold", "malvarma"}, {"blue", "blua"},  {"brave", "kuraga"}};
constexpr Entry kVerbs[] = {{"sees", "vidas"},    {"likes", "satas"},   {"finds", "trovas"}, {"helps", "helpas"},
                            {"follows", "sekvas"}, {"paints", "pentras"}, {"carries", "portas"}, {"hears", "audas"},
                            {"watches", "rigardas"}, {"visits", "vizitas"}, {"calls", "vokas"}, {"meets", "renkas"},
                            {"sleeps", "dormas"},  {"waits", "atendas"}, {"sings", "kantas"}, {"runs", "kuras"}};
constexpr Entry kAdvs[] = {{"today", "hodiau"}, {"slowly", "malrapide"}, {"again", "denove"}, {"often", "ofte"},
                           {"quickly", "rapide"}, {"there", "tie"},      {"now", "nun"},      {"gladly", "volonte"}};
constexpr Entry kConj = {"and", "kaj"};

struct Lexicon {
  std::map<std::string, std::pair<WordClass, std::string>, std::less<>> words;
  Lexicon() {
    auto add = [&](const auto& entries, WordClass c) {
      for (const Entry& e : entries) words.emplace(e.source, std::make_pair(c, std::string(e.target)));
    };
    add(kDets, WordClass::det);
    add(kNouns, WordClass::noun);
    add(kAdjs, WordClass::adj);
    add(kVerbs, WordClass::verb);
    add(kAdvs, WordClass::adv);
    words.emplace(kConj.source, std::make_pair(WordClass::conj, std::string(kConj.target)));
  }
};

const Lexicon& lexicon() {
  static const Lexicon l;
  return l;
}

// One clause's target: adjective after its noun, the verb at the end (after an adverb), word by word.
void translate_clause(const std::vector<std::pair<WordClass, std::string>>& clause, Sentence& out) {
  std::vector<std::pair<WordClass, std::string>> rest;
  std::vector<std::string> verbs;
  for (const auto& w : clause) {
    if (w.first == WordClass::verb)
      verbs.push_back(w.second);
    else
      rest.push_back(w);
  }
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i].first == WordClass::adj && i + 1 < rest.size() && rest[i + 1].first == WordClass::noun) {
      out.push_back(rest[i + 1].second);
      out.push_back(rest[i].second);
      ++i;
    } else {
      out.push_back(rest[i].second);
    }
  }
  out.insert(out.end(), verbs.begin(), verbs.end());
}

class Draws {
 public:
  explicit Draws(uint64_t seed) : seed_(seed) {}
  size_t below(size_t n) {
    return std::min(n - 1, static_cast<size_t>(philox_uniform_f64(seed_, counter_++) * static_cast<double>(n)));
  }
  bool chance(double p) { return philox_uniform_f64(seed_, counter_++) < p; }

 private:
  uint64_t seed_, counter_ = 0;
};

template <size_t N>
const char* pick(Draws& d, const Entry (&entries)[N]) {
  return entries[d.below(N)].source;
}

void noun_phrase(Draws& d, Sentence& s) {
  s.emplace_back(pick(d, kDets));
  if (d.chance(0.5)) s.emplace_back(pick(d, kAdjs));
  s.emplace_back(pick(d, kNouns));
}

// DET [ADJ] NOUN VERB [DET [ADJ] NOUN] [ADV]: 3 to 8 words.
Sentence source_sentence(Draws& d, int64_t max_clauses) {
  Sentence s;
  const int64_t clauses = 1 + static_cast<int64_t>(d.below(static_cast<size_t>(max_clauses)));
  for (int64_t c = 0; c < clauses; ++c) {
    if (c) s.emplace_back(kConj.source);
    noun_phrase(d, s);
    s.emplace_back(pick(d, kVerbs));
    if (d.chance(0.6)) noun_phrase(d, s);
    if (d.chance(0.3)) s.emplace_back(pick(d, kAdvs));
  }
  return s;
}

std::string joined(const Sentence& s) {
  std::string out;
  for (const std::string& w : s) (out += w) += ' ';
  return out;
}

}  // namespace

Sentence rule_translate(const Sentence& source) {
  const Lexicon& lex = lexicon();
  Sentence out;
  std::vector<std::pair<WordClass, std::string>> clause;
  for (const std::string& w : source) {
    auto it = lex.words.find(w);
    if (it == lex.words.end()) fail("rule corpus: '", w, "' is not a word of the grammar");
    if (it->second.first == WordClass::conj) {
      translate_clause(clause, out);
      clause.clear();
      out.push_back(it->second.second);
    } else {
      clause.push_back(it->second);
    }
  }
  translate_clause(clause, out);
  return out;
}

RuleCorpus generate_rule_corpus(const RuleCorpusOptions& o) {
  if (o.train_pairs < 0 || o.test_pairs < 0) fail("rule corpus: pair counts must be >= 0");
  if (o.max_clauses < 1 || o.max_clauses > 4) fail("rule corpus: max_clauses must be in 1..4, got ", o.max_clauses);
  Draws d(o.seed);
  RuleCorpus c;
  std::set<std::string> test_seen;
  // Held-out sentences come first and are kept out of the training set.
  int64_t attempts = 0;
  const int64_t limit = 100 * (o.train_pairs + o.test_pairs) + 1000;
  while (static_cast<int64_t>(c.test.source.size()) < o.test_pairs) {
    if (++attempts > limit) fail("rule corpus: cannot draw ", o.test_pairs, " distinct test sentences");
    Sentence s = source_sentence(d, o.max_clauses);
    if (!test_seen.insert(joined(s)).second) continue;
    c.test.target.push_back(rule_translate(s));
    c.test.source.push_back(std::move(s));
  }
  while (static_cast<int64_t>(c.train.source.size()) < o.train_pairs) {
    if (++attempts > limit) fail("rule corpus: cannot draw ", o.train_pairs, " training sentences");
    Sentence s = source_sentence(d, o.max_clauses);
    if (test_seen.count(joined(s))) continue;
    c.train.target.push_back(rule_translate(s));
    c.train.source.push_back(std::move(s));
  }
  return c;
}

void write_rule_corpus(const std::string& dir, const RuleCorpus& corpus) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("rule corpus: cannot create '", dir, "': ", ec.message());
  const fs::path d(dir);
  write_tokenized((d / "train.src").string(), corpus.train.source);
  write_tokenized((d / "train.tgt").string(), corpus.train.target);
  write_tokenized((d / "test.src").string(), corpus.test.source);
  write_tokenized((d / "test.tgt").string(), corpus.test.target);
}

}  // namespace plumb
