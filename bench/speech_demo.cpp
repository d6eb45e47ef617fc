// speech_demo: generates a corpus of spoken digit strings with espeak-ng (cached), trains the modern
// speech network (stacked frame pairs, dense layers, a live bidirectional LSTM, CTC over characters)
// with Adam, and prints the training CTC loss and the held-out character error rate of greedy
// decoding after each epoch. A demonstration that the workload learns (docs/speech.md), not a test.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "plumb/audio.h"
#include "plumb/speech.h"
#include "plumb/autograd.h"
#include "plumb/data.h"
#include "plumb/error.h"
#include "plumb/nn/optim.h"
#include "plumb/ops.h"
#include "plumb/random.h"
#include "plumb/thread_pool.h"

namespace {

using namespace plumb;

void usage() {
  std::puts(
      "usage: speech_demo [options]\n"
      "  --train N          training utterances (default 1500)\n"
      "  --test M           held-out utterances, another seed (default 100)\n"
      "  --kind K           digits, words or mixed (default digits)\n"
      "  --epochs E         (default 6)\n"
      "  --batch B          (default 16)\n"
      "  --hidden H         dense width (default 256)\n"
      "  --rnn-hidden R     LSTM units per direction (default 128)\n"
      "  --lr X             Adam learning rate (default 0.002)\n"
      "  --clip X           global gradient-norm clip (default 5)\n"
      "  --threads T        intra-op threads (default 2)\n"
      "  --seed S           (default 1)\n"
      "The corpora are cached under $PLUMB_CACHE_DIR/speech (else ~/.cache/plumb/speech).");
}

struct UttBatch {
  Tensor x, labels, lengths, label_lengths;
  std::vector<std::string> transcripts;
};

// Pads examples to the batch's longest utterance and transcript.
UttBatch make_batch(const std::vector<audio::SpeechExample>& all, const std::vector<int64_t>& idx) {
  int64_t frames = 1, labels = 1;
  for (int64_t i : idx) {
    frames = std::max(frames, all[static_cast<size_t>(i)].features.frames);
    labels = std::max<int64_t>(labels, static_cast<int64_t>(all[static_cast<size_t>(i)].labels.size()));
  }
  const auto n = static_cast<int64_t>(idx.size());
  UttBatch b;
  b.x = Tensor::zeros({n, frames, 26});
  std::vector<int64_t> lab(static_cast<size_t>(n * labels), 0), len, lab_len;
  for (int64_t j = 0; j < n; ++j) {
    const audio::SpeechExample& e = all[static_cast<size_t>(idx[static_cast<size_t>(j)])];
    std::copy(e.features.values.begin(), e.features.values.end(), b.x.data<float>() + j * frames * 26);
    std::copy(e.labels.begin(), e.labels.end(), lab.begin() + j * labels);
    len.push_back(e.features.frames);
    lab_len.push_back(static_cast<int64_t>(e.labels.size()));
    b.transcripts.push_back(e.transcript);
  }
  b.labels = Tensor::from_vector(lab, {n, labels});
  b.lengths = Tensor::from_vector(len, {n});
  b.label_lengths = Tensor::from_vector(lab_len, {n});
  return b;
}

double held_out_cer(models::SpeechNet& net, const std::vector<audio::SpeechExample>& test, int64_t batch,
                    std::string* sample) {
  NoGradScope no_grad;
  net.eval();
  std::vector<std::string> hyp, ref;
  for (int64_t start = 0; start < static_cast<int64_t>(test.size()); start += batch) {
    std::vector<int64_t> idx;
    const int64_t stop = std::min<int64_t>(start + batch, static_cast<int64_t>(test.size()));
    for (int64_t i = start; i < stop; ++i) idx.push_back(i);
    const UttBatch b = make_batch(test, idx);
    const auto decoded = ctc_greedy_decode(net.run(b.x, b.lengths), net.output_lengths(b.lengths), audio::kBlank);
    for (size_t j = 0; j < decoded.size(); ++j) {
      hyp.push_back(audio::decode_labels(decoded[j]));
      ref.push_back(b.transcripts[j]);
    }
  }
  net.train();
  if (sample) *sample = "\"" + hyp.front() + "\" for \"" + ref.front() + "\"";
  return audio::char_error_rate(hyp, ref);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    int64_t train_n = 1500, test_n = 100, epochs = 6, batch = 16, hidden = 256, rnn_hidden = 128;
    double lr = 2e-3, clip = 5;
    int threads = 2;
    uint64_t seed = 1;
    std::string kind = "digits";
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        usage();
        return 0;
      }
      if (i + 1 >= argc) fail("option ", a, " needs a value (see --help)");
      const std::string v = argv[++i];
      char* end = nullptr;
      const double x = std::strtod(v.c_str(), &end);
      const bool number = end != v.c_str() && !*end;
      if (a == "--kind") {
        kind = v;
        continue;
      }
      if (!number) fail(a, " expects a number, got '", v, "'");
      if (a == "--train") train_n = static_cast<int64_t>(x);
      else if (a == "--test") test_n = static_cast<int64_t>(x);
      else if (a == "--epochs") epochs = static_cast<int64_t>(x);
      else if (a == "--batch") batch = static_cast<int64_t>(x);
      else if (a == "--hidden") hidden = static_cast<int64_t>(x);
      else if (a == "--rnn-hidden") rnn_hidden = static_cast<int64_t>(x);
      else if (a == "--lr") lr = x;
      else if (a == "--clip") clip = x;
      else if (a == "--threads") threads = static_cast<int>(x);
      else if (a == "--seed") seed = static_cast<uint64_t>(x);
      else fail("unknown option ", a, " (see --help)");
    }
    if (batch < 1 || epochs < 0 || threads < 1) fail("--batch and --threads must be >= 1 and --epochs >= 0");
    set_num_threads(threads);
    const auto t0 = std::chrono::steady_clock::now();
    const auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };

    audio::CorpusOptions co;
    co.kind = kind;
    co.utterances = train_n;
    co.seed = seed;
    const auto train_utts = audio::cached_corpus(co);
    co.utterances = test_n;
    co.seed = seed + 1000;  // held out: other texts, voices, speeds and pitches
    const auto test_utts = audio::cached_corpus(co);
    const auto train = audio::load_examples(train_utts);
    const auto test = audio::load_examples(test_utts);
    std::printf("corpus: %zu training and %zu held-out %s utterances (espeak-ng, 16 kHz, 26 MFCC features), %.1f s\n",
                train.size(), test.size(), kind.c_str(), seconds());

    manual_seed(seed);
    models::SpeechConfig c = models::speech_config("modern");
    c.hidden = hidden;
    c.rnn_hidden = rnn_hidden;
    auto net = std::make_shared<models::SpeechNet>(c);
    auto opt = nn::make_optimizer("adam", net->named_parameters(), lr);
    std::printf("model: modern speech, frame pairs -> 3 x dense %lld (clipped ReLU) -> BiLSTM %lld -> 29 characters, "
                "%lld parameters; adam lr %g, batch %lld, %d threads\n",
                static_cast<long long>(hidden), static_cast<long long>(rnn_hidden),
                static_cast<long long>(net->parameter_count()), lr, static_cast<long long>(batch), threads);
    std::string sample;
    std::printf("epoch 0: held-out CER %.1f%%\n", 100 * held_out_cer(*net, test, 32, nullptr));
    double cer = 1;
    for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
      const std::vector<int64_t> order = epoch_order(static_cast<int64_t>(train.size()), true, seed, epoch);
      double loss_sum = 0;
      int64_t steps = 0;
      for (int64_t start = 0; start + batch <= static_cast<int64_t>(order.size()); start += batch) {
        const std::vector<int64_t> idx(order.begin() + start, order.begin() + start + batch);
        const UttBatch b = make_batch(train, idx);
        opt->zero_grad();
        const Tensor loss = ctc_loss(net->run(b.x, b.lengths), b.labels, net->output_lengths(b.lengths),
                                     b.label_lengths, audio::kBlank, "mean", /*zero_infinity=*/true);
        loss_sum += loss.item();
        ++steps;
        backward(loss);
        if (clip > 0) nn::clip_grad_norm(net->parameters(), clip);
        opt->step();
      }
      cer = held_out_cer(*net, test, 32, &sample);
      std::printf("epoch %lld: train CTC loss %.4f, held-out CER %.1f%% (%s), %.0f s\n", static_cast<long long>(epoch),
                  loss_sum / static_cast<double>(std::max<int64_t>(steps, 1)), 100 * cer, sample.c_str(), seconds());
      std::fflush(stdout);
    }
    std::printf("final held-out CER %.1f%% (%s 50%%)\n", 100 * cer, cer < 0.5 ? "below" : "NOT below");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "speech_demo: error: %s\n", e.what());
    return 1;
  }
}
