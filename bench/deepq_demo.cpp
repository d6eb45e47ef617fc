// deepq_demo: trains the deepq agent on the Breakout-like game for a number of environment steps,
// then compares the mean return of the learned policy with a uniformly random policy's over the
// same number of episodes. A demonstration that the workload learns (see docs/deepq.md), not a test.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "plumb/error.h"
#include "plumb/rl.h"
#include "plumb/thread_pool.h"

namespace {

void usage() {
  std::puts(
      "usage: deepq_demo [options]\n"
      "  --variant fathom|modern   hyperparameters (default modern)\n"
      "  --steps N                 training environment steps (default 200000)\n"
      "  --episodes M              evaluation episodes per policy (default 20)\n"
      "  --eval-eps E              epsilon of the evaluated policy (default 0.05, Fathom's eval)\n"
      "  --eps-steps N             updates over which epsilon falls to its floor (default 25000)\n"
      "  --eps-end E               epsilon floor (default 0.1)\n"
      "  --target-every N          updates between target copies (default 1000)\n"
      "  --replay N                replay capacity in frames (default 100000)\n"
      "  --train-start N           replay entries before learning (default 5000)\n"
      "  --learn-every N           environment steps per update (default 4)\n"
      "  --n-step N                multi-step returns (default 1)\n"
      "  --lr X                    learning rate (default: the variant's)\n"
      "  --life-terminal 0|1       store a lost life as terminal (default 1)\n"
      "  --brick-rows R --paddle-width W --ball-speed S --speedup S --lives L --max-steps N --frame-skip K\n"
      "                            the game (defaults: Breakout's 6, 16, 2, 1, 5, 10000 frames, 1)\n"
      "  --threads T               intra-op threads (default 1)\n"
      "  --seed S                  (default 1)\n"
      "  --log-every N             progress line every N steps (default 10000)");
}

double mean_of(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace plumb;
  try {
    std::string variant = "modern";
    int64_t steps = 200000, log_every = 10000;
    int episodes = 20, threads = 1;
    double eval_eps = 0.05, lr = -1;
    rl::DqnConfig base;
    int64_t eps_steps = 25000, target_every = 1000, replay = 100000, train_start = 5000, learn_every = 4;
    double eps_end = 0.1;
    bool life_terminal = true;
    int n_step = 1;
    uint64_t seed = 1;
    rl::BreakoutConfig env;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        usage();
        return 0;
      }
      if (i + 1 >= argc) fail("deepq_demo: option ", a, " needs a value (see --help)");
      const std::string v = argv[++i];
      auto num = [&] {
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        if (end == v.c_str() || *end) fail("deepq_demo: ", a, " expects a number, got '", v, "'");
        return x;
      };
      if (a == "--variant") variant = v;
      else if (a == "--steps") steps = static_cast<int64_t>(num());
      else if (a == "--episodes") episodes = static_cast<int>(num());
      else if (a == "--eval-eps") eval_eps = num();
      else if (a == "--eps-steps") eps_steps = static_cast<int64_t>(num());
      else if (a == "--eps-end") eps_end = num();
      else if (a == "--target-every") target_every = static_cast<int64_t>(num());
      else if (a == "--replay") replay = static_cast<int64_t>(num());
      else if (a == "--train-start") train_start = static_cast<int64_t>(num());
      else if (a == "--learn-every") learn_every = static_cast<int64_t>(num());
      else if (a == "--lr") lr = num();
      else if (a == "--life-terminal") life_terminal = num() != 0;
      else if (a == "--brick-rows") env.brick_rows = static_cast<int>(num());
      else if (a == "--paddle-width") env.paddle_width = static_cast<int>(num());
      else if (a == "--ball-speed") env.ball_speed = num();
      else if (a == "--speedup") env.speedup = num();
      else if (a == "--lives") env.lives = static_cast<int>(num());
      else if (a == "--max-steps") env.max_steps = static_cast<int64_t>(num());
      else if (a == "--frame-skip") env.frame_skip = static_cast<int>(num());
      else if (a == "--n-step") n_step = static_cast<int>(num());
      else if (a == "--threads") threads = static_cast<int>(num());
      else if (a == "--seed") seed = static_cast<uint64_t>(num());
      else if (a == "--log-every") log_every = static_cast<int64_t>(num());
      else fail("deepq_demo: unknown option '", a, "' (see --help)");
    }
    if (variant != "fathom" && variant != "modern") fail("deepq_demo: unknown variant '", variant, "' (fathom, modern)");
    if (steps < 0 || episodes < 1 || threads < 1 || log_every < 1) fail("deepq_demo: steps, episodes, threads, log-every must be positive");
    set_num_threads(threads);

    rl::DqnConfig c = variant == "modern" ? rl::modern_config() : rl::fathom_config();
    c.env = env;
    c.env.seed = 123 + seed - 1;
    c.seed = seed;
    c.eps_steps = eps_steps;
    c.eps_end = eps_end;
    c.target_every = target_every;
    c.replay_capacity = replay;
    c.train_start = train_start;
    c.learn_every = learn_every;
    c.life_loss_terminal = life_terminal;
    c.n_step = n_step;
    if (lr > 0) c.lr = lr;
    std::printf("deepq_demo: %s, %lld steps, eps 1 -> %.2f over %lld updates, target every %lld, replay %lld, "
                "train_start %lld, learn every %lld, %d-step returns, %s lr %g, life-terminal %d, %d thread(s)\n",
                variant.c_str(), static_cast<long long>(steps), eps_end, static_cast<long long>(eps_steps),
                static_cast<long long>(target_every), static_cast<long long>(replay),
                static_cast<long long>(train_start), static_cast<long long>(learn_every), n_step, c.optimizer.c_str(), c.lr,
                life_terminal ? 1 : 0, threads);
    std::printf("game: %d brick rows, paddle %d px, ball speed %g (+%g per speed-up), %d lives, cap %lld frames, "
                "frame skip %d\n",
                env.brick_rows, env.paddle_width, env.ball_speed, env.speedup, env.lives,
                static_cast<long long>(env.max_steps), env.frame_skip);
    std::fflush(stdout);

    rl::DqnAgent agent(c);
    const auto t0 = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    std::vector<double> returns;
    double loss_sum = 0;
    int64_t loss_n = 0;
    for (int64_t s = 1; s <= steps; ++s) {
      const rl::AgentStep st = agent.train_step();
      if (st.terminal) returns.push_back(st.episode_return);
      if (st.updated) loss_sum += st.loss, ++loss_n;
      if (s % log_every == 0 || s == steps) {
        const size_t k = std::min<size_t>(returns.size(), 10);
        const std::vector<double> last(returns.end() - static_cast<std::ptrdiff_t>(k), returns.end());
        std::printf("step %lld  updates %lld  eps %.3f  episodes %zu  mean return (last %zu) %.2f  loss %.4f  %.0f s\n",
                    static_cast<long long>(s), static_cast<long long>(agent.updates()), agent.epsilon(),
                    returns.size(), k, mean_of(last), loss_n ? loss_sum / static_cast<double>(loss_n) : 0.0, elapsed());
        std::fflush(stdout);
        loss_sum = 0, loss_n = 0;
      }
    }

    const uint64_t eval_seed = 9000 + seed;  // a game seed the training never saw
    std::vector<double> learned, random;
    const double m_learned = agent.evaluate(episodes, eval_eps, eval_seed, &learned);
    const double m_random = agent.evaluate(episodes, -1, eval_seed, &random);
    auto list = [](const std::vector<double>& v) {
      std::string s;
      for (double x : v) {
        if (!s.empty()) s += ' ';
        s += std::to_string(static_cast<int>(x));
      }
      return s;
    };
    std::printf("learned policy (eps %.2f): mean return %.2f over %d episodes [%s]\n", eval_eps, m_learned, episodes,
                list(learned).c_str());
    std::printf("random policy:             mean return %.2f over %d episodes [%s]\n", m_random, episodes,
                list(random).c_str());
    std::printf("ratio learned / random: %.2f  (training %.0f s)\n", m_random > 0 ? m_learned / m_random : 0.0, elapsed());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "deepq_demo: error: %s\n", e.what());
    return 1;
  }
}
