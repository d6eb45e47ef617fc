// Profiler-on overhead on a training workload, in one process: warm up, then alternate steps with the
// profiler off and on, and compare median step times.
// Usage: bench_profiler [--model=lenet5] [--batch=64] [--rounds=15] [--steps=20] [--warmup=20] [--threads=N]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "plumb/error.h"
#include "plumb/profile.h"
#include "plumb/thread_pool.h"
#include "plumb/workload.h"

namespace {

struct Options {
  std::string model = "lenet5";
  int64_t batch = 64;
  int rounds = 15, steps = 20, warmup = 20, threads = 0;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const size_t eq = a.find('=');
    const std::string key = a.substr(0, eq), value = eq == std::string::npos ? "" : a.substr(eq + 1);
    auto number = [&] {
      char* end = nullptr;
      const long v = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end || v < 0) plumb::fail(key, ": expected a non-negative integer, got '", value, "'");
      return v;
    };
    if (key == "--model") o.model = value;
    else if (key == "--batch") o.batch = number();
    else if (key == "--rounds") o.rounds = static_cast<int>(number());
    else if (key == "--steps") o.steps = static_cast<int>(number());
    else if (key == "--warmup") o.warmup = static_cast<int>(number());
    else if (key == "--threads") o.threads = static_cast<int>(number());
    else plumb::fail("unknown flag '", a, "' (--model, --batch, --rounds, --steps, --warmup, --threads)");
  }
  if (o.rounds < 1 || o.steps < 1) plumb::fail("--rounds and --steps must be at least 1");
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct StepTime {
  double wall = 0;
  double cpu = 0;  // the stepping thread's CPU time: all recording happens there, and it is blind to
                   // time spent descheduled, so it shows the profiler's cost on a busy machine
};

// One step, timed as the profile times it: begin_step reads the process CPU clock (a system call,
// slow on some virtual machines) before its wall-clock stamp and end_step after, so the window is the
// step itself with every op, module and region event recorded inside it. Attaching is outside too:
// a real run attaches once.
StepTime timed_step(plumb::models::Workload& w, plumb::profile::Profiler* prof) {
  if (prof) {
    prof->attach();
    prof->begin_step();
  }
  const int64_t c0 = thread_cpu_ns();
  const int64_t t0 = plumb::now_ns();
  w.step();
  const int64_t t1 = plumb::now_ns();
  const int64_t c1 = thread_cpu_ns();
  if (prof) {
    prof->end_step();
    prof->detach();
  }
  return {static_cast<double>(t1 - t0), static_cast<double>(c1 - c0)};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    if (o.threads > 0) plumb::set_num_threads(o.threads);
    plumb::models::WorkloadOptions wo;
    wo.mode = plumb::models::Mode::train;
    wo.batch = o.batch;
    auto w = plumb::models::make_workload(o.model, wo);
    for (int i = 0; i < o.warmup; ++i) w->step();

    // Off and on steps alternate one by one (which goes first alternates too), so load that drifts
    // over seconds on a shared machine falls on both alike; each pair also gives a paired ratio.
    plumb::profile::Profiler prof;
    std::vector<double> off, on, paired, cpu_off, cpu_on;
    size_t events = 0;
    for (int r = 0; r < o.rounds; ++r) {
      prof.clear();  // keeps one round's events in memory, not the whole run's
      for (int i = 0; i < o.steps; ++i) {
        StepTime t_off, t_on;
        if ((r * o.steps + i) % 2 == 0) {
          t_off = timed_step(*w, nullptr);
          t_on = timed_step(*w, &prof);
        } else {
          t_on = timed_step(*w, &prof);
          t_off = timed_step(*w, nullptr);
        }
        off.push_back(t_off.wall);
        on.push_back(t_on.wall);
        cpu_off.push_back(t_off.cpu);
        cpu_on.push_back(t_on.cpu);
        paired.push_back(t_on.wall / t_off.wall);
      }
      events = prof.finish({}).ops.size();
    }
    const double m_off = median(off), m_on = median(on);
    const double c_off = median(cpu_off), c_on = median(cpu_on);
    const double ops_per_step = static_cast<double>(events) / o.steps;
    std::printf("workload        %s train, batch %lld, %d threads\n", o.model.c_str(),
                static_cast<long long>(o.batch), plumb::num_threads());
    std::printf("protocol        %d warmup steps, then %d rounds x %d steps off and %d on, alternating step by step\n",
                o.warmup, o.rounds, o.steps, o.steps);
    std::printf("op events/step  %.0f\n", ops_per_step);
    // The headline: on a shared machine step times are bimodal (a pool thread descheduled or not), which
    // makes medians of the two sets jump between modes; ratios of adjacent steps see the same mode.
    const double pr = median(paired);
    std::printf("overhead        %+.2f%% (on/off %.4f: median over %zu adjacent off/on step pairs)\n", (pr - 1) * 100,
                pr, paired.size());
    std::printf("median step     off %.3f ms, on %.3f ms (wall): ratio %.4f, %.0f ns per op event\n", m_off / 1e6,
                m_on / 1e6, m_on / m_off, (m_on - m_off) / std::max(ops_per_step, 1.0));
    // Competing load only ever adds time, so the fastest steps are the least disturbed.
    const double q_off = percentile(off, 0.1), q_on = percentile(on, 0.1);
    std::printf("10th percentile off %.3f ms, on %.3f ms: ratio %.4f\n", q_off / 1e6, q_on / 1e6, q_on / q_off);
    std::printf("stepping thread CPU  off %.3f ms, on %.3f ms: +%.3f ms = %+.2f%% of the off step's wall time "
                "(%.0f ns per op event)\n",
                c_off / 1e6, c_on / 1e6, (c_on - c_off) / 1e6, (c_on - c_off) / m_off * 100,
                (c_on - c_off) / std::max(ops_per_step, 1.0));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_profiler: error: %s\n", e.what());
    return 1;
  }
}
