// Writes a characterization report from real profiles of a few small models, trained and run for
// inference under the profiler, each with a short thread sweep, so every chart of the page has data.
// Usage: plumb_report_fixture OUT_DIR: writes OUT_DIR/profiles/<workload>-<mode>.json and the report in
// OUT_DIR/report/, and prints the path of index.html.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/nn/layers.h"
#include "plumb/nn/optim.h"
#include "plumb/ops.h"
#include "plumb/profile.h"
#include "plumb/random.h"
#include "plumb/report.h"
#include "plumb/thread_pool.h"

namespace {

using namespace plumb;

constexpr int64_t kBatch = 32, kClasses = 10;
constexpr int kSteps = 6;

struct Model {
  std::string name;
  std::shared_ptr<nn::Module> net;
  Shape input;  // without the batch dim
};

std::vector<Model> small_models() {
  manual_seed(7);
  using Mods = std::initializer_list<std::shared_ptr<nn::Module>>;
  std::vector<Model> out;
  out.push_back({"mlp",
                 std::make_shared<nn::Sequential>(Mods{std::make_shared<nn::Flatten>(),
                                                       std::make_shared<nn::Linear>(784, 256), std::make_shared<nn::ReLU>(),
                                                       std::make_shared<nn::Linear>(256, kClasses)}),
                 {1, 28, 28}});
  out.push_back({"convnet",
                 std::make_shared<nn::Sequential>(Mods{
                     std::make_shared<nn::Conv2d>(1, 8, Shape{5, 5}), std::make_shared<nn::ReLU>(),
                     std::make_shared<nn::MaxPool2d>(Shape{2, 2}), std::make_shared<nn::Conv2d>(8, 16, Shape{5, 5}),
                     std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(Shape{2, 2}),
                     std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(256, kClasses)}),
                 {1, 28, 28}});
  out.push_back({"tanh-mlp",
                 std::make_shared<nn::Sequential>(Mods{std::make_shared<nn::Flatten>(),
                                                       std::make_shared<nn::Linear>(784, 128), std::make_shared<nn::Tanh>(),
                                                       std::make_shared<nn::LayerNorm>(Shape{128}),
                                                       std::make_shared<nn::Linear>(128, kClasses)}),
                 {1, 28, 28}});
  return out;
}

// One step: a training step (forward, loss, backward, update) or a forward without gradients.
std::function<void()> make_step(Model& m, bool train) {
  Shape shape = m.input;
  shape.insert(shape.begin(), kBatch);
  auto x = std::make_shared<Tensor>(normal(shape));
  std::vector<int64_t> labels(kBatch);
  for (int64_t i = 0; i < kBatch; ++i) labels[static_cast<size_t>(i)] = i % kClasses;
  auto y = std::make_shared<Tensor>(Tensor::from_vector(labels, {kBatch}));
  if (!train) {
    return [&m, x] {
      NoGradScope no_grad;
      (*m.net)(*x);
    };
  }
  std::shared_ptr<nn::Optimizer> opt = nn::make_optimizer("sgd", m.net->named_parameters(), 0.01);
  return [&m, x, y, opt] {
    {
      RegionScope data("data");  // stands in for fetching a batch, so the data share is not zero
      std::this_thread::sleep_for(std::chrono::microseconds(30));
    }
    opt->zero_grad();
    Tensor loss = cross_entropy((*m.net)(*x), *y);
    backward(loss);
    opt->step();
  };
}

profile::Profile run_profiled(Model& m, bool train) {
  auto step = make_step(m, train);
  profile::Profiler prof;
  prof.attach();
  for (int s = 0; s < kSteps; ++s) {
    prof.begin_step(s > 0 && s < kSteps - 1);
    step();
    prof.end_step();
  }
  prof.detach();
  profile::RunInfo run;
  run.workload = m.name;
  run.mode = train ? "train" : "infer";
  run.batch = kBatch;
  run.threads = num_threads();
  run.steps = kSteps;
  run.drop_first = 1;
  run.drop_last = 1;
  run.data = "synthetic";
  run.description = m.name + " " + run.mode + " batch " + std::to_string(kBatch);
  profile::Profile p = prof.finish(run);

  // A short intra-op thread sweep, profiler detached.
  const int saved = num_threads();
  for (int t : {1, 2, 3, 4}) {
    set_num_threads(t);
    step();
    double best = 0;  // the fastest of a few steps: the least disturbed by other processes
    for (int s = 0; s < 5; ++s) {
      const auto t0 = std::chrono::steady_clock::now();
      step();
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      best = s == 0 ? ms : std::min(best, ms);
    }
    p.scaling.push_back({t, best});
  }
  set_num_threads(saved);
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: plumb_report_fixture OUT_DIR\n");
    return 2;
  }
  try {
    set_num_threads(4);  // before the first op: the pool then has workers for the whole sweep
    std::vector<Model> ms = small_models();
    const std::filesystem::path out = argv[1];
    std::filesystem::remove_all(out);
    std::filesystem::create_directories(out / "profiles");
    std::vector<profile::Profile> profiles;
    for (Model& m : ms) {
      for (bool train : {true, false}) {
        profiles.push_back(run_profiled(m, train));
        const profile::Profile& p = profiles.back();
        profile::write_profile(p, (out / "profiles" / (p.run.workload + "-" + p.run.mode + ".json")).string());
      }
    }
    report::ReportOptions options;
    options.title = "plumb report test: three small models";
    options.notes = "Batch 32, 6 steps (first and last dropped), synthetic data; thread sweep at 1 to 4 threads.";
    options.roofs = profile::Roofs{"test roofs", 200.0, 20.0};
    std::printf("%s\n", report::write_report(profiles, (out / "report").string(), options).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "plumb_report_fixture: %s\n", e.what());
    return 1;
  }
  return 0;
}
