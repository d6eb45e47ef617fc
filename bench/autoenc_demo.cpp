// autoenc_demo: trains the autoenc workload (a VAE) on Fashion-MNIST for whole epochs and prints the
// mean training loss over each tenth of an epoch, so the fall of the loss is visible. A demonstration
// that the workload learns (see docs/workloads.md), not a test.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "plumb/data.h"
#include "plumb/error.h"
#include "plumb/thread_pool.h"
#include "plumb/workload.h"

namespace {

void usage() {
  std::puts(
      "usage: autoenc_demo [--variant fathom|modern] [--epochs N] [--threads T] [--seed S]\n"
      "  trains on the Fashion-MNIST training split (dataset-fashion-mnist) with the workload's batch,\n"
      "  optimizer and learning rate; prints the mean loss per example over each tenth of an epoch");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace plumb;
  try {
    std::string variant = "modern";
    int epochs = 1, threads = 2;
    uint64_t seed = 1;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) fail("option ", a, " needs a value");
        return argv[++i];
      };
      if (a == "--variant") variant = value();
      else if (a == "--epochs") epochs = std::stoi(value());
      else if (a == "--threads") threads = std::stoi(value());
      else if (a == "--seed") seed = std::stoull(value());
      else if (a == "--help" || a == "-h") {
        usage();
        return 0;
      } else {
        fail("unknown option '", a, "' (try --help)");
      }
    }
    if (epochs < 1) fail("--epochs must be positive, got ", epochs);
    set_num_threads(threads);

    models::WorkloadOptions o;
    o.variant = variant;
    o.mode = models::Mode::train;
    o.data = "dataset";
    o.seed = seed;
    const auto w = models::make_workload("autoenc", o);
    const FashionMnist train(Split::train);
    const int64_t steps_per_epoch = train.size() / w->batch();  // the loader drops the last partial batch
    const int64_t window = std::max<int64_t>(steps_per_epoch / 10, 1);
    std::printf("%s\n%lld steps per epoch; loss per example, mean over windows of %lld steps\n",
                w->describe().c_str(), static_cast<long long>(steps_per_epoch), static_cast<long long>(window));

    double first = NAN, last = NAN, sum = 0;
    int64_t in_window = 0;
    for (int64_t step = 1; step <= epochs * steps_per_epoch; ++step) {
      w->step();
      sum += w->last_loss() / static_cast<double>(w->batch());
      if (++in_window == window || step == epochs * steps_per_epoch) {
        const double mean = sum / static_cast<double>(in_window);
        if (std::isnan(first)) first = mean;
        last = mean;
        std::printf("epoch %.2f  step %6lld  loss %.4f\n", static_cast<double>(step) / static_cast<double>(steps_per_epoch),
                    static_cast<long long>(step), mean);
        std::fflush(stdout);
        sum = 0;
        in_window = 0;
      }
    }
    std::printf("loss per example: first window %.4f, last window %.4f (%.1f%% of the first)\n", first, last,
                100 * last / first);
    return std::isfinite(last) && last < first ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "autoenc_demo: error: %s\n", e.what());
    return 1;
  }
}
