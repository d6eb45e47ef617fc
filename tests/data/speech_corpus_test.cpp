// The espeak-ng corpus generator, its manifest reader and cache, and features from its WAVs.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "../common/temp_dir.h"
#include "common/error_of.h"
#include "plumb/audio.h"
#include "plumb/error.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;
using testing::TempDirTest;

using testing::error_of;

class SpeechCorpus : public TempDirTest {};

TEST_F(SpeechCorpus, GeneratesReadsAndFeaturizes) {
  audio::CorpusOptions o;
  o.utterances = 6;
  o.kind = "mixed";
  o.seed = 7;
  const std::vector<audio::Utterance> made = audio::generate_corpus(path("c"), o);
  ASSERT_EQ(made.size(), 6u);
  EXPECT_FALSE(fs::exists(path("c") + ".tmp." + std::to_string(::getpid())));
  const std::vector<audio::Utterance> read = audio::read_manifest(path("c"));
  ASSERT_EQ(read.size(), 6u);
  int files = 0;
  for (const auto& e : fs::directory_iterator(path("c"))) files += e.path().extension() == ".wav";
  EXPECT_EQ(files, 6);  // espeak-ng's raw output is removed
  for (size_t i = 0; i < read.size(); ++i) {
    SCOPED_TRACE(read[i].transcript);
    EXPECT_EQ(read[i].path, made[i].path);
    EXPECT_EQ(read[i].transcript, made[i].transcript);
    const audio::Wave w = audio::read_wav(read[i].path);
    EXPECT_EQ(w.sample_rate, 16000);
    EXPECT_EQ(w.channels, 1);
    const double seconds = static_cast<double>(w.samples.size()) / 16000;
    EXPECT_GT(seconds, 0.3);
    EXPECT_LT(seconds, 6.0);
    float peak = 0;
    for (float v : w.samples) peak = std::max(peak, std::abs(v));
    EXPECT_GT(peak, 0.05f);  // speech, not silence
  }
  const std::vector<audio::SpeechExample> ex = audio::load_examples(read);
  ASSERT_EQ(ex.size(), 6u);
  for (const auto& e : ex) {
    EXPECT_EQ(e.features.dims, 26);
    EXPECT_GT(e.features.frames, 30);  // > 0.3 s at a 10 ms hop
    EXPECT_GE(e.features.frames, static_cast<int64_t>(e.labels.size()));
    EXPECT_EQ(audio::decode_labels(e.labels), e.transcript);
  }
}

TEST_F(SpeechCorpus, IsSeeded) {
  audio::CorpusOptions o;
  o.utterances = 4;
  o.max_words = 3;
  const auto a = audio::generate_corpus(path("a"), o);
  const auto b = audio::generate_corpus(path("b"), o);
  o.seed = 2;
  const auto c = audio::generate_corpus(path("c"), o);
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].transcript, b[i].transcript);
    int words = 1;
    for (char ch : a[i].transcript) words += ch == ' ';
    EXPECT_GE(words, 2);
    EXPECT_LE(words, 3);
    differs |= a[i].transcript != c[i].transcript;
  }
  EXPECT_TRUE(differs);
}

TEST_F(SpeechCorpus, MissingEspeakNamesThePackage) {
  audio::CorpusOptions o;
  o.utterances = 1;
  o.program = "espeak-ng-not-installed";
  const std::string e = error_of([&] { audio::generate_corpus(path("m"), o); });
  EXPECT_NE(e.find("package espeak-ng"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(path("m")));
  for (const auto& entry : fs::directory_iterator(dir_)) ADD_FAILURE() << "left behind: " << entry.path();
}

TEST_F(SpeechCorpus, RefusesAnExistingDirectoryAndBadOptions) {
  fs::create_directories(path("here"));
  audio::CorpusOptions o;
  o.utterances = 1;
  EXPECT_NE(error_of([&] { audio::generate_corpus(path("here"), o); }).find("already exists"), std::string::npos);
  o.kind = "poems";
  EXPECT_NE(error_of([&] { audio::generate_corpus(path("x"), o); }).find("unknown kind 'poems'"), std::string::npos);
}

TEST_F(SpeechCorpus, ManifestErrorsNameTheLine) {
  fs::create_directories(path("m"));
  audio::write_wav(path("m/a.wav"), std::vector<float>(100, 0.1f), 16000);
  std::ofstream(path("m/manifest.tsv")) << "a.wav\tone two\nno tab here\n";
  std::string e = error_of([&] { audio::read_manifest(path("m")); });
  EXPECT_NE(e.find("manifest.tsv:2: expected \"file<TAB>transcript\""), std::string::npos) << e;
  std::ofstream(path("m/manifest.tsv")) << "a.wav\tone two\nb.wav\tthree\n";
  e = error_of([&] { audio::read_manifest(path("m")); });
  EXPECT_NE(e.find("manifest.tsv:2: no such file"), std::string::npos) << e;
  std::ofstream(path("m/manifest.tsv")) << "a.wav\t \n";
  e = error_of([&] { audio::read_manifest(path("m/manifest.tsv")); });
  EXPECT_NE(e.find("manifest.tsv:1: empty transcript"), std::string::npos) << e;
  std::ofstream(path("m/manifest.tsv")) << "a.wav\tone 2\n";
  const auto u = audio::read_manifest(path("m"));
  EXPECT_NE(error_of([&] { audio::load_examples(u); }).find("'2'"), std::string::npos);
}

TEST_F(SpeechCorpus, CachesUnderPlumbCacheDir) {
  const char* old = std::getenv("PLUMB_CACHE_DIR");
  const std::string saved = old ? old : "";
  ::setenv("PLUMB_CACHE_DIR", path("cache").c_str(), 1);
  EXPECT_EQ(audio::speech_cache_dir(), path("cache") + "/speech");
  audio::CorpusOptions o;
  o.utterances = 2;
  const auto first = audio::cached_corpus(o);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].path.rfind(path("cache/speech/"), 0), 0u) << first[0].path;
  const auto when = fs::last_write_time(first[0].path);
  const auto again = audio::cached_corpus(o);  // read back, not regenerated
  EXPECT_EQ(again[1].transcript, first[1].transcript);
  EXPECT_EQ(fs::last_write_time(again[0].path), when);
  if (old)
    ::setenv("PLUMB_CACHE_DIR", saved.c_str(), 1);
  else
    ::unsetenv("PLUMB_CACHE_DIR");
}

}  // namespace
}  // namespace plumb
