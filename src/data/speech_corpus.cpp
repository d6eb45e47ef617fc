// A speech corpus generated with espeak-ng: seeded random digit strings or command words, spoken with
// varied voices, speeds and pitches, resampled and written as WAVs with a manifest of transcripts.
// TIMIT (Fathom's data) is licensed and not obtainable here; this corpus is documented as generated.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "plumb/audio.h"
#include "plumb/cache.h"
#include "plumb/error.h"
#include "plumb/random.h"

extern char** environ;

namespace plumb::audio {

namespace {

namespace fs = std::filesystem;

constexpr const char* kManifest = "manifest.tsv";
constexpr const char* kDigits[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};
constexpr const char* kWords[] = {"yes",  "no", "up",   "down", "left", "right", "on",   "off",
                                  "stop", "go", "back", "next", "open", "close", "play", "wait"};
// espeak-ng voice and variant pairs: two accents, male and female variants.
constexpr const char* kVoices[] = {"en+m1",    "en+m3",    "en+m5",    "en+f1",    "en+f3",    "en+m7",
                                   "en-us+m2", "en-us+m4", "en-us+f2", "en-us+f4", "en+klatt", "en-us+m6"};

// A uniform draw for utterance i, draw k.
double draw(uint64_t seed, int64_t i, int k) {
  return philox_uniform_f64(seed ^ 0x5bee'c400ULL, static_cast<uint64_t>(i) * 16 + static_cast<uint64_t>(k));
}
int64_t pick(uint64_t seed, int64_t i, int k, int64_t n) {
  return std::min<int64_t>(n - 1, static_cast<int64_t>(draw(seed, i, k) * static_cast<double>(n)));
}

struct Job {
  std::string text, voice, raw;
  int speed = 160, pitch = 50;
};

Job make_job(const CorpusOptions& o, int64_t i, const fs::path& staging) {
  Job j;
  bool digits = o.kind == "digits";
  if (o.kind == "mixed") digits = draw(o.seed, i, 0) < 0.5;
  const int64_t words = o.min_words + pick(o.seed, i, 1, o.max_words - o.min_words + 1);
  for (int64_t w = 0; w < words; ++w) {
    if (w) j.text += ' ';
    j.text += digits ? kDigits[pick(o.seed, i, 2 + static_cast<int>(w), 10)]
                     : kWords[pick(o.seed, i, 2 + static_cast<int>(w), std::size(kWords))];
  }
  j.voice = kVoices[pick(o.seed, i, 14, std::size(kVoices))];
  j.speed = 130 + static_cast<int>(pick(o.seed, i, 15, 61));  // words per minute, espeak's default 175
  j.pitch = 30 + static_cast<int>(pick(o.seed, i, 13, 41));   // 0..99, default 50
  char name[32];
  std::snprintf(name, sizeof name, "raw-%05lld.wav", static_cast<long long>(i));
  j.raw = (staging / name).string();
  return j;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Starts `program -w raw -s speed -p pitch -v voice text` with its arguments passed directly (no
// shell); stdout to /dev/null, stderr to `err`.
pid_t spawn_espeak(const CorpusOptions& o, const Job& j, const std::string& err) {
  const std::string speed = std::to_string(j.speed), pitch = std::to_string(j.pitch);
  std::vector<std::string> args = {o.program, "-w", j.raw, "-s", speed, "-p", pitch, "-v", j.voice, j.text};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, o.program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc == ENOENT || rc == EACCES)
    fail("speech corpus: cannot run '", o.program, "' (", std::strerror(rc),
         "): install espeak-ng (Debian/Ubuntu package espeak-ng: apt-get install espeak-ng)");
  if (rc != 0) fail("speech corpus: cannot start '", o.program, "': ", std::strerror(rc));
  return pid;
}

void check_options(const CorpusOptions& o) {
  if (o.utterances < 1) fail("speech corpus: utterances must be >= 1, got ", o.utterances);
  if (o.kind != "digits" && o.kind != "words" && o.kind != "mixed")
    fail("speech corpus: unknown kind '", o.kind, "' (digits, words, mixed)");
  if (o.min_words < 1 || o.max_words < o.min_words || o.max_words > 12)
    fail("speech corpus: need 1 <= min_words <= max_words <= 12, got ", o.min_words, " and ", o.max_words);
  if (o.sample_rate < 8000) fail("speech corpus: sample rate must be >= 8000, got ", o.sample_rate);
  if (o.jobs < 1) fail("speech corpus: jobs must be >= 1, got ", o.jobs);
}

// Writes the corpus into `staging` (which exists and is empty).
std::vector<Utterance> generate_into(const fs::path& staging, const CorpusOptions& o) {
  std::vector<Utterance> out(static_cast<size_t>(o.utterances));
  std::deque<std::pair<pid_t, int64_t>> running;  // oldest first; only our own children are waited for
  std::vector<Job> jobs(static_cast<size_t>(o.utterances));
  // Converts utterance i's espeak-ng output to the target rate and format.
  const auto finish = [&](int64_t i) {
    const Job& j = jobs[static_cast<size_t>(i)];
    const Wave w = read_wav(j.raw);
    if (w.samples.empty()) fail("speech corpus: espeak-ng produced no samples for \"", j.text, "\"");
    const std::vector<float> y = resample(w.samples, w.sample_rate, o.sample_rate);
    char name[32];
    std::snprintf(name, sizeof name, "utt-%05lld.wav", static_cast<long long>(i));
    write_wav((staging / name).string(), y, o.sample_rate);
    fs::remove(j.raw);
    out[static_cast<size_t>(i)] = {(staging / name).string(), j.text};
  };
  const auto reap = [&] {
    const auto [pid, i] = running.front();
    running.pop_front();
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
      if (errno != EINTR) fail("speech corpus: waitpid: ", std::strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      const Job& j = jobs[static_cast<size_t>(i)];
      fail("speech corpus: ", o.program, " failed for \"", j.text, "\" (voice ", j.voice,
           "): ", read_text(j.raw + ".err"));
    }
    fs::remove(jobs[static_cast<size_t>(i)].raw + ".err");
    finish(i);
  };
  try {
    for (int64_t i = 0; i < o.utterances; ++i) {
      jobs[static_cast<size_t>(i)] = make_job(o, i, staging);
      while (static_cast<int>(running.size()) >= o.jobs) reap();
      const Job& j = jobs[static_cast<size_t>(i)];
      running.emplace_back(spawn_espeak(o, j, j.raw + ".err"), i);
    }
    while (!running.empty()) reap();
  } catch (...) {
    for (const auto& [pid, i] : running) {  // only our own children
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
    throw;
  }
  const fs::path manifest = staging / kManifest;
  {
    std::ofstream m(manifest);
    for (const Utterance& u : out) m << fs::path(u.path).filename().string() << '\t' << u.transcript << '\n';
    if (!m) fail("speech corpus: cannot write '", manifest.string(), "'");
  }
  return out;
}

}  // namespace

std::vector<Utterance> generate_corpus(const std::string& dir, const CorpusOptions& o) {
  check_options(o);
  const fs::path target(dir);
  if (fs::exists(target)) fail("speech corpus: '", dir, "' already exists");
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  const fs::path staging = target.string() + ".tmp." + std::to_string(::getpid());
  fs::remove_all(staging);
  fs::create_directories(staging);
  try {
    generate_into(staging, o);
    std::error_code ec;
    fs::rename(staging, target, ec);
    if (ec) fail("speech corpus: cannot rename '", staging.string(), "' to '", dir, "': ", ec.message());
  } catch (...) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    throw;
  }
  return read_manifest(dir);
}

std::vector<Utterance> read_manifest(const std::string& path) {
  fs::path file(path);
  if (fs::is_directory(file)) file /= kManifest;
  std::ifstream in(file);
  if (!in) fail("speech corpus: cannot open manifest '", file.string(), "'");
  const fs::path base = file.parent_path();
  std::vector<Utterance> out;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos || tab == 0)
      fail("speech corpus: ", file.string(), ":", n, ": expected \"file<TAB>transcript\", got \"", line, "\"");
    const std::string transcript = line.substr(tab + 1);
    if (transcript.find_first_not_of(' ') == std::string::npos)
      fail("speech corpus: ", file.string(), ":", n, ": empty transcript");
    fs::path wav(line.substr(0, tab));
    if (wav.is_relative()) wav = base / wav;
    if (!fs::is_regular_file(wav))
      fail("speech corpus: ", file.string(), ":", n, ": no such file '", wav.string(), "'");
    out.push_back({wav.string(), transcript});
  }
  if (out.empty()) fail("speech corpus: manifest '", file.string(), "' lists no utterances");
  return out;
}

std::string speech_cache_dir() { return cache_path("speech", "speech corpus"); }

std::vector<Utterance> cached_corpus(const CorpusOptions& o) {
  check_options(o);
  std::ostringstream name;
  name << o.kind << "-" << o.utterances << "-w" << o.min_words << "-" << o.max_words << "-s" << o.seed << "-"
       << o.sample_rate << "hz";
  const fs::path dir = fs::path(speech_cache_dir()) / name.str();
  if (fs::exists(dir / kManifest)) return read_manifest(dir.string());
  try {
    return generate_corpus(dir.string(), o);
  } catch (const Error&) {
    if (fs::exists(dir / kManifest)) return read_manifest(dir.string());  // another process made it first
    throw;
  }
}

std::vector<SpeechExample> load_examples(const std::vector<Utterance>& utterances, const MfccOptions& options) {
  std::vector<SpeechExample> out;
  out.reserve(utterances.size());
  for (const Utterance& u : utterances) {
    Wave w = read_wav(u.path);
    if (w.sample_rate != options.sample_rate) w.samples = resample(w.samples, w.sample_rate, options.sample_rate);
    SpeechExample e;
    e.features = mfcc(w.samples, options);
    e.labels = encode_text(u.transcript);
    e.transcript = u.transcript;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace plumb::audio
