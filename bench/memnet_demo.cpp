// memnet_demo: trains the memnet workload's model on bAbI task 1 (the generated task-1 files, or a
// real bAbI directory) with the workload's training step and prints, per epoch, the mean training
// loss per question and the validation and test accuracy. A demonstration that the workload learns
// (docs/memnet.md), not a test.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "plumb/babi.h"
#include "plumb/data.h"
#include "plumb/error.h"
#include "plumb/random.h"
#include "plumb/tensor.h"
#include "plumb/thread_pool.h"

namespace {

void usage() {
  std::puts(
      "usage: memnet_demo [options]\n"
      "  --variant fathom|modern   model and training step (default fathom)\n"
      "  --epochs N                passes over the training questions (default 60)\n"
      "  --batch B                 (default 32, Fathom's)\n"
      "  --dir DIR                 a bAbI directory holding qa1_*train* and qa1_*test* (default:\n"
      "                            $PLUMB_BABI_DIR, else the generated task-1 files)\n"
      "  --threads T               intra-op threads (default 2)\n"
      "  --seed S                  parameters, split and order (default 1)");
}

// Rows `rows[begin, end)` of a contiguous (N, L) i64 tensor, and their answers.
plumb::Batch gather(const plumb::Tensor& inputs, const plumb::Tensor& answers, const std::vector<int64_t>& rows,
                    size_t begin, size_t end) {
  const int64_t len = inputs.size(1), b = static_cast<int64_t>(end - begin);
  plumb::Batch out{plumb::Tensor::empty({b, len}, plumb::DType::i64), plumb::Tensor::empty({b}, plumb::DType::i64)};
  for (int64_t i = 0; i < b; ++i) {
    const int64_t r = rows[begin + static_cast<size_t>(i)];
    std::memcpy(out.inputs.data<int64_t>() + i * len, inputs.data<int64_t>() + r * len, len * sizeof(int64_t));
    out.labels.data<int64_t>()[i] = answers.data<int64_t>()[r];
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace plumb;
  try {
    std::string variant = "fathom", dir;
    int64_t epochs = 60, batch = 32;
    int threads = 2;
    uint64_t seed = 1;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) fail("memnet_demo: ", a, " needs a value");
        return argv[++i];
      };
      if (a == "--variant")
        variant = value();
      else if (a == "--epochs")
        epochs = std::stoll(value());
      else if (a == "--batch")
        batch = std::stoll(value());
      else if (a == "--dir")
        dir = value();
      else if (a == "--threads")
        threads = std::stoi(value());
      else if (a == "--seed")
        seed = std::stoull(value());
      else if (a == "--help" || a == "-h") {
        usage();
        return 0;
      } else {
        usage();
        fail("memnet_demo: unknown option '", a, "'");
      }
    }
    if (epochs < 1 || batch < 1) fail("memnet_demo: --epochs and --batch must be >= 1");
    set_num_threads(threads);

    const babi::TaskData task = babi::load_task(dir.empty() ? babi::default_task1_files() : babi::find_task_files(dir));
    const babi::Order order = babi::memory_order(variant);
    const babi::Vectorized train = babi::vectorize(task.train, task.vocab, task.sizes, order);
    const babi::Vectorized test = babi::vectorize(task.test, task.vocab, task.sizes, order);
    const Tensor train_x = babi::pack(train), test_x = babi::pack(test);
    // As the workload: a seeded 10% validation split, the rest swept in order (fathom) or shuffled.
    const int64_t n = train.answers.size(0), n_val = std::llround(0.1 * static_cast<double>(n));
    const std::vector<int64_t> perm = epoch_order(n, true, seed ^ 0x5b1175ULL, 0);
    const std::vector<int64_t> fit(perm.begin(), perm.end() - n_val), held(perm.end() - n_val, perm.end());
    const Batch val = gather(train_x, train.answers, held, 0, held.size());

    babi::MemnetConfig config;
    config.variant = variant;
    config.vocab = task.vocab.size();
    config.memory = task.sizes.memory;
    config.sentence = task.sizes.sentence;
    config.query = task.sizes.query;
    manual_seed(seed);
    auto model = std::make_shared<babi::MemNet>(config);
    babi::MemnetTrainer trainer(model, babi::default_train_options(variant));
    std::printf(
        "memnet (%s) on %s: %zu train (%zu fit, %zu validation), %zu test questions; vocabulary %lld, "
        "memory %lld, sentence %lld; %lld parameters; batch %lld, %d threads\n",
        variant.c_str(), task.source.c_str(), task.train.size(), fit.size(), held.size(), task.test.size(),
        static_cast<long long>(config.vocab), static_cast<long long>(config.memory),
        static_cast<long long>(config.sentence), static_cast<long long>(model->parameter_count()),
        static_cast<long long>(batch), threads);
    std::puts("epoch  train loss/question  val acc  test acc  seconds");
    const auto start = std::chrono::steady_clock::now();
    int64_t first_95 = -1;
    double final_test = 0;
    for (int64_t e = 0; e < epochs; ++e) {
      trainer.start_epoch(e);
      std::vector<int64_t> rows = fit;
      if (variant == "modern") {
        const std::vector<int64_t> shuffled = epoch_order(static_cast<int64_t>(fit.size()), true, seed, e);
        for (size_t i = 0; i < rows.size(); ++i) rows[i] = fit[static_cast<size_t>(shuffled[i])];
      }
      double loss = 0;
      size_t seen = 0;
      for (size_t b = 0; b + static_cast<size_t>(batch) <= rows.size(); b += static_cast<size_t>(batch)) {
        const Batch x = gather(train_x, train.answers, rows, b, b + static_cast<size_t>(batch));
        loss += trainer.step(x.inputs, x.labels);
        seen += static_cast<size_t>(batch);
      }
      const babi::Evaluation v = babi::evaluate(*model, val.inputs, val.labels);
      const babi::Evaluation t = babi::evaluate(*model, test_x, test.answers);
      final_test = t.accuracy;
      if (first_95 < 0 && t.accuracy >= 0.95) first_95 = e + 1;
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("%5lld  %19.4f  %7.3f  %8.3f  %7.1f\n", static_cast<long long>(e + 1),
                  loss / static_cast<double>(seen), v.accuracy, t.accuracy, secs);
      std::fflush(stdout);
    }
    std::printf("final test accuracy %.3f; first epoch at >= 0.95: %s\n", final_test,
                first_95 < 0 ? "none" : std::to_string(first_95).c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "memnet_demo: error: %s\n", e.what());
    return 1;
  }
}
