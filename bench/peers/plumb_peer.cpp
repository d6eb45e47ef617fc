// plumb_peer: times one model from the registry on a fixed synthetic batch, for the plumb-vs-PyTorch
// comparison in bench/peers/run.sh (its PyTorch twin is torch_peer.py; both print the same JSON).
//
//   plumb_peer --model mlp|lenet5 --mode train|infer --batch B --steps N --warmup W --threads T --seed S
//
// train: one step = zero_grad, forward, cross_entropy, backward, SGD(lr 0.01, momentum 0.9).step().
// infer: one step = forward under model.eval() and NoGradScope.
// The inputs (random f32 of the model's example shape) and labels (random in [0, classes)) are built
// once before timing; nothing but the step runs in the timed region.
// Output: one JSON line {"samples_per_second":..., "ms_per_step":..., "median_ms":...}, where
// ms_per_step is the mean over the timed steps and samples_per_second = batch / (ms_per_step / 1000).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "plumb/autograd.h"
#include "plumb/models.h"
#include "plumb/nn/optim.h"
#include "plumb/ops.h"
#include "plumb/random.h"
#include "plumb/thread_pool.h"

namespace {

struct Args {
  std::string model = "mlp";
  std::string mode = "train";
  int64_t batch = 64;
  int64_t steps = 100;
  int64_t warmup = 10;
  int threads = 1;
  uint64_t seed = 0;
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "plumb_peer: error: %s\nusage: plumb_peer --model mlp|lenet5 --mode train|infer --batch B "
               "--steps N --warmup W --threads T --seed S\n",
               msg);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--help" || k == "-h") usage("help requested");
    if (i + 1 >= argc) usage(("missing value for " + k).c_str());
    const std::string v = argv[++i];
    try {
      if (k == "--model") a.model = v;
      else if (k == "--mode") a.mode = v;
      else if (k == "--batch") a.batch = std::stoll(v);
      else if (k == "--steps") a.steps = std::stoll(v);
      else if (k == "--warmup") a.warmup = std::stoll(v);
      else if (k == "--threads") a.threads = std::stoi(v);
      else if (k == "--seed") a.seed = std::stoull(v);
      else usage(("unknown flag " + k).c_str());
    } catch (const std::logic_error&) {
      usage(("bad value for " + k + ": " + v).c_str());
    }
  }
  if (a.mode != "train" && a.mode != "infer") usage("--mode must be train or infer");
  if (a.batch < 1 || a.steps < 1 || a.warmup < 0 || a.threads < 1) usage("batch, steps, threads >= 1; warmup >= 0");
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  try {
    plumb::set_num_threads(a.threads);
    plumb::manual_seed(a.seed);
    const plumb::models::ModelInfo& info = plumb::models::model_info(a.model);
    auto model = plumb::models::build_model(a.model);

    // The fixed synthetic batch.
    plumb::Shape in_shape{a.batch};
    in_shape.insert(in_shape.end(), info.example_shape.begin(), info.example_shape.end());
    std::mt19937_64 gen(a.seed);
    std::normal_distribution<float> nd(0.f, 1.f);
    std::uniform_int_distribution<int64_t> ud(0, info.num_classes - 1);
    std::vector<float> xs(static_cast<size_t>(plumb::numel(in_shape)));
    for (float& v : xs) v = nd(gen);
    std::vector<int64_t> ys(static_cast<size_t>(a.batch));
    for (int64_t& v : ys) v = ud(gen);
    const plumb::Tensor x = plumb::Tensor::from_vector<float>(xs, in_shape);
    const plumb::Tensor y = plumb::Tensor::from_vector<int64_t>(ys, {a.batch});

    std::unique_ptr<plumb::nn::Optimizer> opt;
    std::unique_ptr<plumb::NoGradScope> no_grad;
    if (a.mode == "train") {
      model->train();
      opt = plumb::nn::make_sgd(model->named_parameters(), plumb::nn::SgdOptions{.lr = 0.01, .momentum = 0.9});
    } else {
      model->eval();
      no_grad = std::make_unique<plumb::NoGradScope>();
    }

    auto step = [&] {
      if (opt) {
        opt->zero_grad();
        const plumb::Tensor loss = plumb::cross_entropy((*model)(x), y);
        plumb::backward(loss);
        opt->step();
      } else {
        const plumb::Tensor out = (*model)(x);
        (void)out;
      }
    };

    using Clock = std::chrono::steady_clock;
    for (int64_t i = 0; i < a.warmup; ++i) step();
    std::vector<double> ms(static_cast<size_t>(a.steps));
    const auto t0 = Clock::now();
    for (int64_t i = 0; i < a.steps; ++i) {
      const auto s0 = Clock::now();
      step();
      ms[static_cast<size_t>(i)] = std::chrono::duration<double, std::milli>(Clock::now() - s0).count();
    }
    const double total_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::sort(ms.begin(), ms.end());
    const size_t n = ms.size();
    const double median = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    const double mean = total_ms / static_cast<double>(a.steps);
    std::printf("{\"samples_per_second\": %.3f, \"ms_per_step\": %.6f, \"median_ms\": %.6f}\n",
                static_cast<double>(a.batch) * 1000.0 / mean, mean, median);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "plumb_peer: error: %s\n", e.what());
    return 1;
  }
}
