// bAbI task files: parsing a hand-written file, one clear error per malformed line, vocabulary and
// vectorization, and the generator read back by the reader with answers consistent with the story.
#include "plumb/babi.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/temp_dir.h"
#include "plumb/error.h"

namespace plumb {
namespace {

using babi::Sample;
using Words = std::vector<std::string>;

// As the released qa1 files: a space before the question's tab; a second story restarting at 1.
constexpr const char* kSmall =
    "1 Mary moved to the bathroom.\n"
    "2 John went to the hallway.\n"
    "3 Where is Mary? \tbathroom\t1\n"
    "4 Daniel went back to the hallway.\n"
    "5 Sandra moved to the garden.\n"
    "6 Where is Daniel? \thallway\t4\n"
    "1 Sandra travelled to the office.\n"
    "2 Where is Sandra?\toffice\t1\n";

std::vector<Sample> parse_text(const std::string& text) {
  std::istringstream in(text);
  return babi::parse(in, "qa1_test.txt");
}

// The Error message of parsing `text`, or "" when it parses.
std::string parse_error(const std::string& text) {
  try {
    parse_text(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Babi, TokenizeAsMemn2n) {
  EXPECT_EQ(babi::tokenize("Mary moved to the bathroom."), (Words{"mary", "moved", "to", "the", "bathroom"}));
  EXPECT_EQ(babi::tokenize("Where is Mary? "), (Words{"where", "is", "mary"}));
  EXPECT_EQ(babi::tokenize("  John  picked up the apple,there "),
            (Words{"john", "picked", "up", "the", "apple", ",", "there"}));
  EXPECT_TRUE(babi::tokenize(" . ? ").empty());
  EXPECT_EQ(babi::tokenize("Is it?."), (Words{"is", "it", "?."}));  // a punctuation run is one token, as memn2n
}

TEST(Babi, ParsesStoriesQuestionsAndSupportingFacts) {
  const std::vector<Sample> s = parse_text(kSmall);
  ASSERT_EQ(s.size(), 3u);
  // The first question sees the two statements before it, oldest first.
  EXPECT_EQ(s[0].story,
            (std::vector<Words>{{"mary", "moved", "to", "the", "bathroom"}, {"john", "went", "to", "the", "hallway"}}));
  EXPECT_EQ(s[0].query, (Words{"where", "is", "mary"}));
  EXPECT_EQ(s[0].answer, "bathroom");
  EXPECT_EQ(s[0].supporting, (std::vector<int64_t>{0}));
  // The second question: line 3 (a question) is not a statement, so line 4 is statement index 2.
  ASSERT_EQ(s[1].story.size(), 4u);
  EXPECT_EQ(s[1].story[2], (Words{"daniel", "went", "back", "to", "the", "hallway"}));
  EXPECT_EQ(s[1].supporting, (std::vector<int64_t>{2}));
  EXPECT_EQ(s[1].answer, "hallway");
  // Line id 1 restarts the story.
  EXPECT_EQ(s[2].story, (std::vector<Words>{{"sandra", "travelled", "to", "the", "office"}}));
  EXPECT_EQ(s[2].answer, "office");
}

TEST(Babi, MalformedLinesNameFileAndLine) {
  struct Case {
    std::string text, message;
  };
  const std::vector<Case> cases = {
      {"1 Mary moved to the bathroom.\n2 Where is Mary?\tbathroom\n", "qa1_test.txt:2: a question line needs"},
      {"1 Mary moved to the bathroom.\nx Where is Mary?\tbathroom\t1\n", "qa1_test.txt:2: line id 'x' is not a"},
      {"1 Where is Mary?\tbathroom\t1\n", "qa1_test.txt:1: question before any statement"},
      {"1 Mary moved to the bathroom.\n2 Where is Mary?\tbathroom\t7\n",
       "qa1_test.txt:2: supporting id '7' is out of range"},
      {"1 Mary moved to the bathroom.\n2 Where is Mary?\tbathroom\t0\n", "qa1_test.txt:2: supporting id '0' is out"},
      {"1 Mary moved.\n2 Where is Mary?\tx\t1\n3 Where is Mary?\tx\t2\n",
       "qa1_test.txt:3: supporting id 2 is a question"},
      {"1 Mary moved to the bathroom.\n3 John went to the office.\n", "qa1_test.txt:2: line id 3 neither restarts"},
      {"2 Mary moved to the bathroom.\n", "qa1_test.txt:1: line id 2 neither restarts"},
      {"1 Mary moved.\n2 Where is Mary?\t\t1\n", "qa1_test.txt:2: empty answer"},
      {"1 Mary moved.\n\n2Where\n", "qa1_test.txt:3: expected '<id> <text>'"},
      {"1 Mary moved.\n2 Where is Mary?\tkitchen\t1\t9\n", "got 4 tab-separated fields"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const std::string e = parse_error(c.text);
    EXPECT_NE(e.find("babi: "), std::string::npos) << e;
    EXPECT_NE(e.find(c.message), std::string::npos) << e;
  }
  EXPECT_EQ(parse_error(kSmall), "");
}

class BabiFiles : public testing::TempDirTest {};

TEST_F(BabiFiles, ReadsAFileAndNamesItInErrors) {
  const std::string file = path("qa1_single-supporting-fact_train.txt");
  std::ofstream(file) << kSmall << "3 Where is Sandra?\toffice\tfour\n";
  try {
    babi::read_task_file(file);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file + ":9: supporting id 'four'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(babi::read_task_file(path("missing.txt")), Error);
  EXPECT_THROW(babi::find_task_files(dir_.string()), Error);  // no test file
}

TEST(Babi, VocabularyAndVectorization) {
  const std::vector<Sample> s = parse_text(kSmall);
  const babi::Vocabulary vocab = babi::Vocabulary::build(s);
  // back bathroom daniel garden hallway is john mary moved office sandra the to travelled went where
  EXPECT_EQ(vocab.size(), 17);
  EXPECT_EQ(vocab.id("back"), 1);
  EXPECT_EQ(vocab.word(vocab.id("where")), "where");
  EXPECT_EQ(vocab.word(0), "");
  EXPECT_THROW(vocab.id("kitchen"), Error);
  EXPECT_THROW(vocab.word(17), Error);

  const babi::Sizes z = babi::measure(s, 3);
  EXPECT_EQ(z.memory, 3);    // min(3, longest story 4)
  EXPECT_EQ(z.sentence, 6);  // "daniel went back to the hallway"
  EXPECT_EQ(z.query, 6);     // padded to the sentence size, as memn2n
  const babi::Vectorized v = babi::vectorize(s, vocab, z);
  ASSERT_EQ(v.stories.shape(), (Shape{3, 3, 6}));
  ASSERT_EQ(v.queries.shape(), (Shape{3, 6}));
  const std::vector<int64_t> st = v.stories.to_vector<int64_t>();
  auto row = [&](int64_t i, int64_t r) {
    return std::vector<int64_t>(st.begin() + (i * 3 + r) * 6, st.begin() + (i * 3 + r + 1) * 6);
  };
  auto ids = [&](const Words& w) {
    std::vector<int64_t> out;
    for (const auto& x : w) out.push_back(vocab.id(x));
    out.resize(6, 0);
    return out;
  };
  // Question 2 told 4 statements: the 3 most recent are kept, oldest first, no empty row.
  EXPECT_EQ(row(1, 0), ids({"john", "went", "to", "the", "hallway"}));
  EXPECT_EQ(row(1, 2), ids({"sandra", "moved", "to", "the", "garden"}));
  // Question 1 told 2: empty (nil) rows after them.
  EXPECT_EQ(row(0, 2), std::vector<int64_t>(6, 0));
  EXPECT_EQ(v.answers.to_vector<int64_t>(),
            (std::vector<int64_t>{vocab.id("bathroom"), vocab.id("hallway"), vocab.id("office")}));
  // The paper's order: row 0 is the most recent statement.
  const babi::Vectorized r = babi::vectorize(s, vocab, z, babi::Order::recent_first);
  const std::vector<int64_t> rv = r.stories.to_vector<int64_t>();
  EXPECT_EQ(std::vector<int64_t>(rv.begin() + 18, rv.begin() + 24), ids({"sandra", "moved", "to", "the", "garden"}));

  // Packed: memory rows, then the query.
  const Tensor p = babi::pack(v);
  ASSERT_EQ(p.shape(), (Shape{3, 3 * 6 + 6}));
  const std::vector<int64_t> pv = p.to_vector<int64_t>();
  EXPECT_EQ(std::vector<int64_t>(pv.begin() + 24 + 18, pv.begin() + 48), ids({"where", "is", "daniel"}));
  const babi::PackedDataset ds(p, v.answers, {2, 0});
  EXPECT_EQ(ds.size(), 2);
  EXPECT_EQ(ds.get(0).label, vocab.id("office"));
  EXPECT_EQ(ds.get(1).input.to_vector<int64_t>(), std::vector<int64_t>(pv.begin(), pv.begin() + 24));

  babi::Sizes small = z;
  small.sentence = 4;
  EXPECT_THROW(babi::vectorize(s, vocab, small), Error);
  EXPECT_THROW(babi::vectorize(s, babi::Vocabulary({"mary"}), z), Error);
}

// Generated files read back: counts, the task-1 vocabulary and sizes, and every answer is the
// questioned person's last place in the story, told by the supporting statement.
TEST_F(BabiFiles, GeneratorRoundTripsThroughTheReader) {
  babi::GeneratorOptions o;
  o.train_questions = 1000;
  o.test_questions = 1000;
  const babi::TaskFiles files = babi::write_task1(dir_.string(), o);
  const babi::TaskFiles found = babi::find_task_files(dir_.string());
  EXPECT_EQ(found.train, files.train);
  EXPECT_EQ(found.test, files.test);
  const babi::TaskData task = babi::load_task(files);
  ASSERT_EQ(task.train.size(), 1000u);
  ASSERT_EQ(task.test.size(), 1000u);
  EXPECT_EQ(task.vocab.size(), 20);  // bAbI task 1's 19 words and nil
  EXPECT_EQ(task.sizes.memory, 10);
  EXPECT_EQ(task.sizes.sentence, 6);
  const std::map<std::string, int> people = {{"mary", 0}, {"john", 0}, {"daniel", 0}, {"sandra", 0}};
  for (const auto* split : {&task.train, &task.test})
    for (const Sample& s : *split) {
      ASSERT_EQ(s.query.size(), 3u);
      const std::string& who = s.query[2];
      ASSERT_TRUE(people.count(who)) << who;
      ASSERT_EQ(s.supporting.size(), 1u);
      const auto& fact = s.story[static_cast<size_t>(s.supporting[0])];
      EXPECT_EQ(fact.front(), who);
      EXPECT_EQ(fact.back(), s.answer);
      for (size_t k = static_cast<size_t>(s.supporting[0]) + 1; k < s.story.size(); ++k)
        EXPECT_NE(s.story[k].front(), who) << "a later move of " << who;
    }
  // Same seed, same text; another seed, other stories; train and test differ.
  EXPECT_EQ(babi::generate_task1(50, o, 0), babi::generate_task1(50, o, 0));
  EXPECT_NE(babi::generate_task1(50, o, 0), babi::generate_task1(50, o, 1));
  babi::GeneratorOptions other = o;
  other.seed = 2;
  EXPECT_NE(babi::generate_task1(50, o, 0), babi::generate_task1(50, other, 0));
  EXPECT_THROW(babi::generate_task1(0, o, 0), Error);
  // The released format: "<id> Where is Mary? \tbathroom\t<id>".
  const std::string text = babi::generate_task1(5, o, 0);
  EXPECT_NE(text.find("? \t"), std::string::npos) << text;
  EXPECT_EQ(text.rfind("1 ", 0), 0u) << text;
}

}  // namespace
}  // namespace plumb
