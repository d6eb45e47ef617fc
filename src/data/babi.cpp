// bAbI task files: reader, tokenizer, vocabulary, vectorization and a task-1-style generator
// (include/plumb/babi.h; format in docs/memnet.md).
#include "plumb/babi.h"
#include "plumb/cache.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "plumb/error.h"
#include "plumb/file_io.h"
#include "plumb/random.h"

namespace plumb::babi {

namespace {

namespace fs = std::filesystem;

bool is_word_char(unsigned char c) { return std::isalnum(c) != 0 || c == '_' || c >= 0x80; }

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A decimal id, or -1 when `s` is not one.
int64_t parse_id(std::string_view s) {
  if (s.empty() || s.size() > 9) return -1;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t begin = 0;
  for (;;) {
    const size_t at = s.find(sep, begin);
    out.push_back(s.substr(begin, at == std::string_view::npos ? std::string_view::npos : at - begin));
    if (at == std::string_view::npos) return out;
    begin = at + 1;
  }
}

// A uniform integer stream from Philox, keyed by (seed, stream).
class Draws {
 public:
  Draws(uint64_t seed, uint64_t stream) : key_(seed * 0x9E3779B97F4A7C15ULL ^ (stream + 0xba'b1ULL)) {}
  int64_t below(int64_t n) {
    const auto k = static_cast<int64_t>(philox_uniform_f64(key_, counter_++) * static_cast<double>(n));
    return std::min(k, n - 1);
  }

 private:
  uint64_t key_;
  uint64_t counter_ = 0;
};

constexpr std::array<const char*, 4> kPeople = {"Mary", "John", "Daniel", "Sandra"};
constexpr std::array<const char*, 6> kPlaces = {"bathroom", "bedroom", "garden", "hallway", "kitchen", "office"};
constexpr std::array<const char*, 5> kMoves = {"moved to", "went to", "journeyed to", "travelled to", "went back to"};

}  // namespace

std::vector<std::string> tokenize(std::string_view sentence) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < sentence.size()) {
    const auto c = static_cast<unsigned char>(sentence[i]);
    if (std::isspace(c) != 0) {
      ++i;
      continue;
    }
    size_t j = i;
    const bool word = is_word_char(c);
    while (j < sentence.size()) {
      const auto d = static_cast<unsigned char>(sentence[j]);
      if (std::isspace(d) != 0 || is_word_char(d) != word) break;
      ++j;
    }
    std::string t = lower(sentence.substr(i, j - i));
    if (t != "." && t != "?") tokens.push_back(std::move(t));
    i = j;
  }
  return tokens;
}

std::vector<Sample> parse(std::istream& in, const std::string& name) {
  std::vector<Sample> samples;
  std::vector<std::vector<std::string>> story;  // statements of the current story
  std::vector<int64_t> statement_of;            // line id -> index in story, -1 for a question
  int64_t previous = 0;
  std::string raw;
  int64_t line_no = 0;
  auto bad = [&](const auto&... what) { fail("babi: ", name, ":", line_no, ": ", what...); };
  while (std::getline(in, raw)) {
    ++line_no;
    const std::string_view line = trim(raw);
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    if (space == std::string_view::npos) bad("expected '<id> <text>', got '", line, "'");
    const std::string_view id_text = line.substr(0, space);
    const int64_t id = parse_id(id_text);
    if (id < 1) bad("line id '", id_text, "' is not a positive number");
    if (id == 1) {
      story.clear();
      statement_of.assign(1, -1);
    } else if (id != previous + 1) {
      bad("line id ", id, " neither restarts a story at 1 nor follows ", previous);
    }
    previous = id;
    const std::string_view text = trim(line.substr(space + 1));
    if (text.find('\t') == std::string_view::npos) {  // a statement
      std::vector<std::string> words = tokenize(text);
      if (words.empty()) bad("empty statement");
      statement_of.push_back(static_cast<int64_t>(story.size()));
      story.push_back(std::move(words));
      continue;
    }
    const std::vector<std::string_view> fields = split(text, '\t');
    if (fields.size() != 3)
      bad("a question line needs 'question<TAB>answer<TAB>supporting ids', got ", fields.size(), " tab-separated field",
          fields.size() == 1 ? "" : "s");
    if (story.empty()) bad("question before any statement of its story");
    Sample s;
    s.query = tokenize(fields[0]);
    if (s.query.empty()) bad("empty question");
    s.answer = lower(trim(fields[1]));
    if (s.answer.empty()) bad("empty answer");
    if (s.answer.find_first_of(" \t") != std::string::npos) bad("answer '", s.answer, "' is more than one word");
    std::istringstream ids{std::string(fields[2])};
    std::string tok;
    while (ids >> tok) {
      const int64_t ref = parse_id(tok);
      if (ref < 1 || ref >= id)
        bad("supporting id '", tok, "' is out of range (the story's earlier lines are 1..", id - 1, ")");
      if (statement_of[static_cast<size_t>(ref)] < 0) bad("supporting id ", ref, " is a question, not a statement");
      s.supporting.push_back(statement_of[static_cast<size_t>(ref)]);
    }
    if (s.supporting.empty()) bad("no supporting ids");
    s.story = story;
    samples.push_back(std::move(s));
    statement_of.push_back(-1);
  }
  if (in.bad()) fail("babi: error reading ", name);
  return samples;
}

std::vector<Sample> read_task_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail("babi: cannot open '", path, "'");
  std::vector<Sample> samples = parse(f, path);
  if (samples.empty()) fail("babi: ", path, ": no questions");
  return samples;
}

TaskFiles find_task_files(const std::string& dir, int task) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail("babi: '", dir, "' is not a directory");
  const std::string key = "qa" + std::to_string(task) + "_";
  std::vector<std::string> train, test;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (!entry.is_regular_file() || !file.starts_with(key)) continue;
    if (file.find("train") != std::string::npos) train.push_back(entry.path().string());
    if (file.find("test") != std::string::npos) test.push_back(entry.path().string());
  }
  if (ec) fail("babi: cannot list '", dir, "': ", ec.message());
  auto pick = [&](std::vector<std::string>& found, const char* split_name) {
    if (found.empty()) fail("babi: no ", key, "*", split_name, "* file in '", dir, "'");
    if (found.size() > 1) fail("babi: several ", key, "*", split_name, "* files in '", dir, "'");
    return found[0];
  };
  return {pick(train, "train"), pick(test, "test")};
}

Vocabulary::Vocabulary(std::vector<std::string> words) : words_(std::move(words)) {
  std::sort(words_.begin(), words_.end());
  words_.erase(std::unique(words_.begin(), words_.end()), words_.end());
  for (size_t i = 0; i < words_.size(); ++i) {
    if (words_[i].empty()) fail("babi: the vocabulary cannot hold an empty word");
    ids_.emplace(words_[i], static_cast<int64_t>(i) + 1);
  }
}

Vocabulary Vocabulary::build(const std::vector<Sample>& samples) {
  std::vector<std::string> words;
  for (const Sample& s : samples) {
    for (const auto& sentence : s.story) words.insert(words.end(), sentence.begin(), sentence.end());
    words.insert(words.end(), s.query.begin(), s.query.end());
    words.push_back(s.answer);
  }
  return Vocabulary(std::move(words));
}

int64_t Vocabulary::id(const std::string& word) const {
  const auto it = ids_.find(word);
  if (it == ids_.end()) fail("babi: word '", word, "' is not in the vocabulary of ", size(), " words");
  return it->second;
}

const std::string& Vocabulary::word(int64_t id) const {
  static const std::string nil;
  if (id == 0) return nil;
  if (id < 0 || id >= size()) fail("babi: word id ", id, " is outside the vocabulary (0..", size() - 1, ")");
  return words_[static_cast<size_t>(id - 1)];
}

Sizes measure(const std::vector<Sample>& samples, int64_t max_memory) {
  if (max_memory < 1) fail("babi: max_memory must be >= 1, got ", max_memory);
  if (samples.empty()) fail("babi: no samples to measure");
  Sizes z;
  int64_t longest_story = 0;
  for (const Sample& s : samples) {
    longest_story = std::max(longest_story, static_cast<int64_t>(s.story.size()));
    for (const auto& sentence : s.story) z.sentence = std::max(z.sentence, static_cast<int64_t>(sentence.size()));
    z.query = std::max(z.query, static_cast<int64_t>(s.query.size()));
  }
  z.memory = std::min(max_memory, longest_story);
  z.sentence = z.query = std::max(z.sentence, z.query);
  return z;
}

Vectorized vectorize(const std::vector<Sample>& samples, const Vocabulary& vocab, const Sizes& sizes, Order order) {
  if (sizes.memory < 1 || sizes.sentence < 1 || sizes.query < 1)
    fail("babi: sizes must be positive, got memory ", sizes.memory, ", sentence ", sizes.sentence, ", query ",
         sizes.query);
  const auto n = static_cast<int64_t>(samples.size());
  const int64_t m = sizes.memory, len = sizes.sentence, q = sizes.query;
  Vectorized v;
  v.stories = Tensor::zeros({n, m, len}, DType::i64);
  v.queries = Tensor::zeros({n, q}, DType::i64);
  v.answers = Tensor::zeros({n}, DType::i64);
  int64_t* st = v.stories.data<int64_t>();
  int64_t* qu = v.queries.data<int64_t>();
  int64_t* an = v.answers.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const Sample& s = samples[static_cast<size_t>(i)];
    const auto told = static_cast<int64_t>(s.story.size());
    const int64_t kept = std::min(told, m);
    for (int64_t r = 0; r < kept; ++r) {
      // oldest_first: row r is the r-th of the kept (most recent) statements; recent_first reverses.
      const int64_t k = order == Order::oldest_first ? told - kept + r : told - 1 - r;
      const auto& sentence = s.story[static_cast<size_t>(k)];
      if (static_cast<int64_t>(sentence.size()) > len)
        fail("babi: a sentence of ", sentence.size(), " words exceeds the sentence size ", len);
      for (size_t w = 0; w < sentence.size(); ++w)
        st[(i * m + r) * len + static_cast<int64_t>(w)] = vocab.id(sentence[w]);
    }
    if (static_cast<int64_t>(s.query.size()) > q)
      fail("babi: a query of ", s.query.size(), " words exceeds the query size ", q);
    for (size_t w = 0; w < s.query.size(); ++w) qu[i * q + static_cast<int64_t>(w)] = vocab.id(s.query[w]);
    an[i] = vocab.id(s.answer);
  }
  return v;
}

Tensor pack(const Vectorized& v) {
  if (v.stories.dim() != 3 || v.queries.dim() != 2 || v.stories.size(0) != v.queries.size(0))
    fail("babi: pack needs stories (N, M, S) and queries (N, Q), got ", shape_str(v.stories.shape()), " and ",
         shape_str(v.queries.shape()));
  const int64_t n = v.stories.size(0), story = v.stories.size(1) * v.stories.size(2), q = v.queries.size(1);
  Tensor out = Tensor::empty({n, story + q}, DType::i64);
  const std::vector<int64_t> st = v.stories.to_vector<int64_t>(), qu = v.queries.to_vector<int64_t>();
  int64_t* dst = out.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    std::copy_n(st.begin() + i * story, story, dst + i * (story + q));
    std::copy_n(qu.begin() + i * q, q, dst + i * (story + q) + story);
  }
  return out;
}

PackedDataset::PackedDataset(Tensor inputs, Tensor answers, std::vector<int64_t> rows)
    : inputs_(std::move(inputs)), answers_(std::move(answers)), rows_(std::move(rows)) {
  if (inputs_.dim() != 2 || inputs_.dtype() != DType::i64 || !inputs_.is_contiguous())
    fail("babi: packed inputs must be contiguous i64 (N, L), got ", inputs_.spec().str());
  if (answers_.dim() != 1 || answers_.dtype() != DType::i64 || answers_.size(0) != inputs_.size(0))
    fail("babi: answers must be i64 (N) matching the inputs, got ", answers_.spec().str());
  if (rows_.empty()) {
    rows_.resize(static_cast<size_t>(inputs_.size(0)));
    for (size_t i = 0; i < rows_.size(); ++i) rows_[i] = static_cast<int64_t>(i);
  }
  for (int64_t r : rows_)
    if (r < 0 || r >= inputs_.size(0)) fail("babi: row ", r, " is outside the ", inputs_.size(0), " packed rows");
}

Example PackedDataset::get(int64_t index) const {
  if (index < 0 || index >= size()) fail("babi: example ", index, " is outside the dataset of ", size());
  const int64_t row = rows_[static_cast<size_t>(index)], len = inputs_.size(1);
  Tensor x = Tensor::empty({len}, DType::i64);
  std::copy_n(inputs_.data<int64_t>() + row * len, len, x.data<int64_t>());
  return {x, answers_.data<int64_t>()[row]};
}

TaskData load_task(const TaskFiles& files, int64_t max_memory) {
  TaskData d;
  d.train = read_task_file(files.train);
  d.test = read_task_file(files.test);
  std::vector<Sample> all = d.train;
  all.insert(all.end(), d.test.begin(), d.test.end());
  d.vocab = Vocabulary::build(all);
  d.sizes = measure(all, max_memory);
  d.source = fs::path(files.train).parent_path().string();
  return d;
}

std::string generate_task1(int64_t questions, const GeneratorOptions& o, uint64_t stream) {
  if (questions < 1) fail("babi generator: questions must be >= 1, got ", questions);
  if (o.questions_per_story < 1 || o.statements_per_question < 1)
    fail("babi generator: questions_per_story and statements_per_question must be >= 1");
  Draws draw(o.seed, stream);
  std::ostringstream out;
  int64_t asked = 0;
  while (asked < questions) {
    std::array<int64_t, kPeople.size()> place{}, line_of{};  // each person's last place and its line
    place.fill(-1);
    int64_t id = 0;
    for (int64_t q = 0; q < o.questions_per_story && asked < questions; ++q, ++asked) {
      for (int64_t s = 0; s < o.statements_per_question; ++s) {
        const int64_t who = draw.below(kPeople.size()), where = draw.below(kPlaces.size());
        out << ++id << ' ' << kPeople[who] << ' ' << kMoves[draw.below(kMoves.size())] << " the " << kPlaces[where]
            << ".\n";
        place[who] = where;
        line_of[who] = id;
      }
      std::vector<int64_t> known;
      for (size_t p = 0; p < kPeople.size(); ++p)
        if (place[p] >= 0) known.push_back(static_cast<int64_t>(p));
      const int64_t who = known[draw.below(static_cast<int64_t>(known.size()))];
      // As the released files: "Where is Mary? " then a tab, the answer, a tab, the supporting id.
      out << ++id << " Where is " << kPeople[who] << "? \t" << kPlaces[place[who]] << '\t' << line_of[who] << '\n';
    }
  }
  return out.str();
}

TaskFiles write_task1(const std::string& dir, const GeneratorOptions& o) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("babi: cannot create '", dir, "': ", ec.message());
  const std::string train_text = generate_task1(o.train_questions, o, 0);
  const std::string test_text = generate_task1(o.test_questions, o, 1);
  TaskFiles files{(fs::path(dir) / "qa1_single-supporting-fact_train.txt").string(),
                  (fs::path(dir) / "qa1_single-supporting-fact_test.txt").string()};
  write_file_atomic(files.train, train_text);
  write_file_atomic(files.test, test_text);
  return files;
}

TaskFiles default_task1_files() {
  if (const char* dir = env_value("PLUMB_BABI_DIR")) {
    try {
      return find_task_files(dir, 1);
    } catch (const Error& e) {
      fail("PLUMB_BABI_DIR: ", e.what());
    }
  }
  std::vector<fs::path> roots;
  for (const std::string& r : cache_roots()) roots.emplace_back(r);
  std::error_code ec;
  const fs::path tmp = fs::temp_directory_path(ec);
  if (!ec) roots.push_back(tmp / "plumb");
  // The generator's output for its defaults; "v1" changes whenever the generator's text would.
  for (const fs::path& root : roots) {
    const fs::path dir = root / "babi-task1-generated-v1";
    const fs::path train = dir / "qa1_single-supporting-fact_train.txt";
    const fs::path test = dir / "qa1_single-supporting-fact_test.txt";
    if (fs::is_regular_file(train, ec) && fs::is_regular_file(test, ec)) return {train.string(), test.string()};
    try {
      return write_task1(dir.string());
    } catch (const Error&) {
      continue;  // an unwritable cache: try the next place
    }
  }
  fail("babi: no writable directory for the generated task-1 files (set PLUMB_CACHE_DIR or PLUMB_BABI_DIR)");
}

}  // namespace plumb::babi
