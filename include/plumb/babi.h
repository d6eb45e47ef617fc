#pragma once
// bAbI question answering (Weston et al. 2015) and the end-to-end memory network that answers it
// (Sukhbaatar et al. 2015), as Fathom's memnet workload runs them: a reader for the task files
// (qa1_single-supporting-fact_train.txt format), memn2n's tokenization, vocabulary and
// vectorization, a generator of task-1-style stories in the same format, and the model with its
// training step. Format, packing and variants: docs/memnet.md.
#include <cstdint>
#include <istream>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "plumb/data.h"
#include "plumb/nn/module.h"
#include "plumb/nn/optim.h"

namespace plumb::babi {

// ---- task files ----

// One question with the story told before it, as memn2n's parse_stories gives it.
struct Sample {
  std::vector<std::vector<std::string>> story;  // the statements before the question, oldest first
  std::vector<std::string> query;               // tokenized, '?' dropped
  std::string answer;                           // lowercase, kept as one word (as memn2n)
  std::vector<int64_t> supporting;              // indices into `story` of the supporting statements
};

// memn2n's tokenizer: lowercase, split into runs of word characters and runs of punctuation
// (whitespace separates and is dropped), then drop the "." and "?" tokens.
std::vector<std::string> tokenize(std::string_view sentence);

// Parses task text: lines "<id> <statement>" and "<id> <question>\t<answer>\t<supporting ids>"; a
// story restarts at id 1. Blank lines are skipped. A malformed line (no id, a non-numeric id, an id
// that neither restarts at 1 nor follows the previous one, a question line without its three tab
// fields, a question before any statement, a supporting id that is not an earlier statement of the
// story) throws one Error "babi: <name>:<line>: ...".
std::vector<Sample> parse(std::istream& in, const std::string& name);
std::vector<Sample> read_task_file(const std::string& path);

// The train and test files of one task.
struct TaskFiles {
  std::string train, test;
};
// In `dir`, the files whose names hold "qa<task>_" and "train" / "test" (as Fathom's load_task);
// throws Error when either is missing or ambiguous.
TaskFiles find_task_files(const std::string& dir, int task = 1);

// ---- vocabulary and vectorization ----

// Word ids 1..n in sorted order (as memn2n and Fathom); id 0 is the nil word that pads.
class Vocabulary {
 public:
  Vocabulary() = default;
  explicit Vocabulary(std::vector<std::string> words);  // sorted and deduplicated
  // Every word of the samples' stories, queries and answers.
  static Vocabulary build(const std::vector<Sample>& samples);
  int64_t size() const { return static_cast<int64_t>(words_.size()) + 1; }  // with the nil word
  bool contains(const std::string& word) const { return ids_.count(word) != 0; }
  int64_t id(const std::string& word) const;  // throws Error naming an unknown word
  const std::string& word(int64_t id) const;  // "" for nil; throws Error out of range
  const std::vector<std::string>& words() const { return words_; }

 private:
  std::vector<std::string> words_;
  std::unordered_map<std::string, int64_t> ids_;
};

struct Sizes {
  int64_t memory = 0;    // sentences kept per story (the most recent ones)
  int64_t sentence = 0;  // words per sentence
  int64_t query = 0;     // words per query
};
inline constexpr int64_t kMaxMemory = 50;
// As Fathom: memory = min(max_memory, longest story); sentence = query = max(longest sentence,
// longest query), so one position encoding serves both.
Sizes measure(const std::vector<Sample>& samples, int64_t max_memory = kMaxMemory);

// Memory row order. oldest_first: memn2n and Fathom (the most recent `memory` statements, oldest in
// row 0, empty rows after them); recent_first: the paper's order (row 0 is the last statement).
enum class Order { oldest_first, recent_first };

struct Vectorized {
  Tensor stories;  // i64 (N, memory, sentence), nil-padded
  Tensor queries;  // i64 (N, query), nil-padded
  Tensor answers;  // i64 (N) word ids
};
// Throws Error on a word outside the vocabulary or a sentence or query longer than `sizes`.
Vectorized vectorize(const std::vector<Sample>& samples, const Vocabulary& vocab, const Sizes& sizes,
                     Order order = Order::oldest_first);
// The memnet model's one input: i64 (N, memory * sentence + query), each row the story's memory rows
// flattened (row-major), then the query.
Tensor pack(const Vectorized& v);

// Packed rows and their answers as a Dataset: get() gives the i64 row and the answer id.
class PackedDataset : public Dataset {
 public:
  // `rows`: which rows of `inputs` (all when empty), in order.
  PackedDataset(Tensor inputs, Tensor answers, std::vector<int64_t> rows = {});
  int64_t size() const override { return static_cast<int64_t>(rows_.size()); }
  Example get(int64_t index) const override;

 private:
  Tensor inputs_, answers_;
  std::vector<int64_t> rows_;
};

// One task loaded for training: samples, the vocabulary over train and test (as Fathom), sizes.
struct TaskData {
  std::vector<Sample> train, test;
  Vocabulary vocab;
  Sizes sizes;
  std::string source;  // the directory the files came from
};
TaskData load_task(const TaskFiles& files, int64_t max_memory = kMaxMemory);

// ---- generator ----

// Task-1-style stories ("Mary moved to the bathroom." ... "Where is Mary? \tbathroom\t1"): four
// people, six places, five ways to move; each question asks where a person already mentioned in the
// story is, answered by their last move, which is the supporting statement.
struct GeneratorOptions {
  int64_t train_questions = 1000;  // bAbI's 1k setting
  int64_t test_questions = 1000;
  int64_t questions_per_story = 5;      // as bAbI task 1
  int64_t statements_per_question = 2;  // statements told before each question
  uint64_t seed = 1;
};
// The text of one file with `questions` questions; the last story may hold fewer.
std::string generate_task1(int64_t questions, const GeneratorOptions& options, uint64_t stream);
// Writes qa1_single-supporting-fact_train.txt and _test.txt under `dir` (created when missing), each
// to a temporary name renamed into place.
TaskFiles write_task1(const std::string& dir, const GeneratorOptions& options = {});

// Where the memnet workload's data comes from: $PLUMB_BABI_DIR (a bAbI directory such as
// tasks_1-20_v1-2/en) when set; otherwise task-1 files generated with the default options into
// $PLUMB_CACHE_DIR/babi-task1-generated (else $XDG_CACHE_HOME/plumb/..., ~/.cache/plumb/..., or the
// temp directory), written once and reused.
TaskFiles default_task1_files();

// ---- the end-to-end memory network ----

// Model sizes; the defaults are bAbI task 1's (20 words with nil, 10 statements, 6 words).
struct MemnetConfig {
  std::string variant = "fathom";  // "fathom" or "modern" (docs/memnet.md)
  int64_t vocab = 20;
  int64_t memory = 10;
  int64_t sentence = 6;
  int64_t query = 6;
  int64_t embedding = 20;
  int64_t hops = 3;
};
// The packing order a variant's model expects: fathom oldest_first, modern recent_first.
Order memory_order(const std::string& variant);

// fathom (Fathom's memnet.py, memn2n as of 2016): embeddings A (memory, used for both the input and
// the output memory) and B (query), temporal TA (memory, d), hop matrix H (d, d), output W (d, V);
// u <- u H + o per hop. modern: adjacent weight tying (Sukhbaatar §2.2): embeddings C0..C_K with
// A1 = B = C0, A(k+1) = C(k), W = C_K^T, temporal T0..T_K tied the same way, u <- u + o, attention
// masked to real statements. Both: position encoding, no nonlinearity, nil rows start at 0.
class MemNet : public nn::Module {
 public:
  explicit MemNet(MemnetConfig config = {});
  // x: i64 (N, memory * sentence + query) as pack() writes it -> logits (N, vocab).
  Tensor forward(const Tensor& x) override;
  // Summed softmax cross-entropy of logits (N, V) against answer ids (N), as Fathom.
  Tensor loss(const Tensor& logits, const Tensor& answers) const;
  std::string type_name() const override { return "MemNet"; }
  const MemnetConfig& config() const { return config_; }
  bool modern() const { return modern_; }
  // The embedding matrices whose row 0 (nil) has its gradient zeroed.
  std::vector<Tensor> nil_parameters() const;
  // The position encoding (length, d) for sentences of `length` words.
  Tensor encoding(int64_t length) const;

 private:
  MemnetConfig config_;
  bool modern_;
  Tensor A_, B_, TA_, H_, W_;        // fathom
  std::vector<Tensor> C_, T_;        // modern
  Tensor sentence_enc_, query_enc_;  // constants (S, d), (Q, d)
};

// The training step of the memnet workload: forward, summed cross-entropy, backward, gradient
// clipping at norm 40 (fathom: each gradient by its own norm, as tf.clip_by_norm; modern: the global
// norm), Gaussian gradient noise (sigma 1e-3, plumb's normal op), nil-row gradients zeroed, Adam.
struct MemnetTrainOptions {
  double lr = 0.01;
  double clip = 40;
  double grad_noise = 1e-3;
  // modern: halve the rate every anneal_every epochs until anneal_stop (Sukhbaatar §4.2); 0 = never.
  int64_t anneal_every = 0;
  int64_t anneal_stop = 100;
};
MemnetTrainOptions default_train_options(const std::string& variant);

class MemnetTrainer {
 public:
  MemnetTrainer(std::shared_ptr<MemNet> model, MemnetTrainOptions options);
  // One update on packed inputs (B, L) and answer ids (B); returns the batch's summed loss.
  double step(const Tensor& inputs, const Tensor& answers);
  // Sets the learning rate for a 0-based epoch (the modern anneal).
  void start_epoch(int64_t epoch);
  nn::Optimizer& optimizer() { return *optimizer_; }

 private:
  std::shared_ptr<MemNet> model_;
  MemnetTrainOptions options_;
  std::unique_ptr<nn::Optimizer> optimizer_;
};

// Fraction of rows whose argmax logit is the answer, and the summed loss, without gradients, in
// batches of `batch`.
struct Evaluation {
  double accuracy = 0;
  double loss = 0;  // summed over the rows
};
Evaluation evaluate(MemNet& model, const Tensor& inputs, const Tensor& answers, int64_t batch = 256);

}  // namespace plumb::babi
