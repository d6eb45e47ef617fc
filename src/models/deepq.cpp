// deepq: the Nature DQN (Mnih et al. 2015) as Fathom's deepq runs it, on the Breakout-like game of
// src/data/breakout.cpp. Variant "fathom": Nature network, target network, Huber loss summed over
// the batch, TF-style RMSProp, Fathom's quirks kept (see docs/deepq.md); "modern": Double DQN with a
// dueling head, the batch-mean Huber loss, Adam, and the quirks fixed.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/error.h"
#include "plumb/models.h"
#include "plumb/nn/init.h"
#include "plumb/nn/layers.h"
#include "plumb/ops.h"
#include "plumb/random.h"
#include "plumb/rl.h"
#include "zoo.h"

namespace plumb::rl {

namespace {

using nn::Conv2d;
using nn::Flatten;
using nn::Linear;
using nn::ReLU;
using nn::Sequential;

// (B, 4, 84, 84) -conv 8x8/4-> (B, 32, 20, 20) -conv 4x4/2-> (B, 64, 9, 9) -conv 3x3/1-> (B, 64, 7, 7)
// -flatten-> (B, 3136).
std::shared_ptr<Sequential> conv_torso() {
  auto m = std::make_shared<Sequential>();
  m->add(std::make_shared<Conv2d>(kHistory, 32, 8, 4));
  m->add(std::make_shared<ReLU>());
  m->add(std::make_shared<Conv2d>(32, 64, 4, 2));
  m->add(std::make_shared<ReLU>());
  m->add(std::make_shared<Conv2d>(64, 64, 3, 1));
  m->add(std::make_shared<ReLU>());
  m->add(std::make_shared<Flatten>());
  return m;
}

std::shared_ptr<Sequential> mlp_head(int64_t out) {
  auto m = std::make_shared<Sequential>();
  m->add(std::make_shared<Linear>(3136, 512));
  m->add(std::make_shared<ReLU>());
  m->add(std::make_shared<Linear>(512, out));
  return m;
}

// Dueling head (Wang et al. 2016): Q = V + A - mean(A), value and advantage streams of 512 each.
class DuelingDqn final : public nn::Module {
 public:
  explicit DuelingDqn(int64_t actions) {
    features = register_module("features", conv_torso());
    value = register_module("value", mlp_head(1));
    advantage = register_module("advantage", mlp_head(actions));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor h = (*features)(x);
    const Tensor a = (*advantage)(h);
    return (*value)(h) + (a - mean(a, {1}, /*keepdim=*/true));
  }
  std::string type_name() const override { return "DuelingDqn"; }
  std::shared_ptr<Sequential> features, value, advantage;
};

// One-hot rows of the actions (B) -> (B, A) f32, the `actions` placeholder Fathom feeds.
Tensor one_hot(const Tensor& actions, int64_t num_actions) {
  const int64_t b = actions.size(0);
  Tensor t = Tensor::zeros({b, num_actions});
  const int64_t* a = actions.data<int64_t>();
  for (int64_t i = 0; i < b; ++i) t.data<float>()[i * num_actions + a[i]] = 1.0f;
  return t;
}

}  // namespace

std::shared_ptr<nn::Module> build_dqn(const std::string& variant, int num_actions) {
  if (num_actions < 1) fail("deepq: num_actions must be >= 1, got ", num_actions);
  if (variant == "modern") return std::make_shared<DuelingDqn>(num_actions);  // PyTorch's default init
  if (variant != "fathom") fail("deepq: unknown variant '", variant, "' (fathom, modern)");
  auto m = conv_torso();
  m->add(std::make_shared<Linear>(3136, 512));
  m->add(std::make_shared<ReLU>());
  m->add(std::make_shared<Linear>(512, num_actions));
  // Fathom (from deepQN_tensorflow): every weight N(0, 0.01), every bias 0.1.
  for (const auto& [name, p] : m->named_parameters()) {
    if (name.ends_with("bias"))
      nn::init::constant(p, 0.1);
    else
      nn::init::normal(p, 0, 0.01);
  }
  return m;
}

Tensor huber_loss(const Tensor& diff, double delta, bool sum) {
  if (!(delta > 0)) fail("huber_loss: delta must be > 0, got ", delta);
  const Tensor a = abs(diff);
  const Tensor quadratic = minimum(a, Tensor::scalar(delta, a.dtype(), a.device()));
  const Tensor linear = a - quadratic;
  const Tensor per = mul(pow(quadratic, 2.0), 0.5) + linear * delta;
  return sum ? plumb::sum(per) : mean(per);
}

DqnConfig fathom_config() { return DqnConfig{}; }

// Double DQN + dueling head with what DQN practice settled on (Dopamine, Rainbow): Adam with
// lr 6.25e-5 and eps 1.5e-4, the batch-mean Huber loss, Q(s,a) gathered, RGB luma weights.
DqnConfig modern_config() {
  DqnConfig c;
  c.variant = "modern";
  c.optimizer = "adam";
  c.lr = 6.25e-5;
  c.sum_loss = false;
  c.double_dqn = true;
  c.dueling = true;
  c.fathom_q_select = false;
  c.fathom_channel_order = false;
  c.target_every = 8000;
  return c;
}

DqnAgent::DqnAgent(DqnConfig config) : config_(std::move(config)) {
  const DqnConfig& c = config_;
  if (c.variant != "fathom" && c.variant != "modern") fail("deepq: unknown variant '", c.variant, "' (fathom, modern)");
  if (c.batch < 1) fail("deepq: batch must be positive, got ", c.batch);
  if (c.target_every < 1) fail("deepq: target_every must be >= 1, got ", c.target_every);
  if (c.learn_every < 1) fail("deepq: learn_every must be >= 1, got ", c.learn_every);
  if (c.eps_steps < 1) fail("deepq: eps_steps must be >= 1, got ", c.eps_steps);
  if (c.train_start < 0) fail("deepq: train_start must be >= 0, got ", c.train_start);
  if (c.n_step < 1) fail("deepq: n_step must be >= 1, got ", c.n_step);
  if (!(c.discount >= 0 && c.discount <= 1)) fail("deepq: discount must be in [0, 1], got ", c.discount);
  manual_seed(c.seed);
  q_ = build_dqn(c.dueling ? "modern" : "fathom");
  target_ = build_dqn(c.dueling ? "modern" : "fathom");
  update_target();

  const nn::NamedTensors params = q_->named_parameters();
  if (c.optimizer == "rmsprop_tf") {
    // TF's RMSProp divides by sqrt(ms + eps) and starts ms at 1; plumb's rmsprop_update (PyTorch)
    // divides by sqrt(ms) + eps. eps' = sqrt(eps) keeps the denominator within a factor sqrt(2).
    opt_ = nn::make_rmsprop(params, nn::RmsPropOptions{.lr = c.lr, .alpha = c.rms_decay, .eps = std::sqrt(c.rms_eps)});
    nn::NamedTensors state;
    for (const auto& [name, p] : params) state.emplace_back(name + ".square_avg", Tensor::ones(p.shape()));
    state.emplace_back("step", Tensor::scalar(0, DType::i64));
    opt_->load_state(state);
  } else if (c.optimizer == "adam") {
    opt_ = nn::make_adam(params, nn::AdamOptions{.lr = c.lr, .eps = c.adam_eps});
  } else {
    opt_ = nn::make_optimizer(c.optimizer, params, c.lr);
  }

  game_ = std::make_unique<Breakout>(c.env);
  replay_ = std::make_unique<ReplayMemory>(c.replay_capacity, c.seed ^ 0x7e91a7ULL);
  frame_.resize(static_cast<size_t>(kFrameSize) * kFrameSize);
  preprocess_frame(game_->screen().data(), frame_.data(), c.fathom_channel_order);
  stack_.reset(frame_.data());
}

DqnAgent::~DqnAgent() = default;

void DqnAgent::update_target() {
  NoGradScope no_grad;
  target_->load_tensors(q_->named_parameters());
}

double DqnAgent::epsilon() const {
  const double progress = std::min(1.0, static_cast<double>(updates_) / static_cast<double>(config_.eps_steps));
  return config_.eps_start + (config_.eps_end - config_.eps_start) * progress;
}

Tensor DqnAgent::q_values(const Tensor& state) {
  NoGradScope no_grad;
  ModuleScope scope("q_net");
  return (*q_)(state);
}

// Epsilon-greedy over one state. As Fathom, the Q-network runs at batch 1 even when the action is
// random; greedy ties are broken at random. eps < 0: uniform, without the network.
int DqnAgent::select(const Tensor& state, double eps, uint64_t& draws, uint64_t seed) {
  if (eps < 0) return std::min(kNumActions - 1, static_cast<int>(philox_uniform_f64(seed, draws++) * kNumActions));
  const std::vector<float> q = q_values(state).to_vector<float>();
  if (philox_uniform_f64(seed, draws++) < eps)
    return std::min(kNumActions - 1, static_cast<int>(philox_uniform_f64(seed, draws++) * kNumActions));
  const float best = *std::max_element(q.begin(), q.end());
  std::vector<int> winners;
  for (int a = 0; a < kNumActions; ++a)
    if (q[static_cast<size_t>(a)] == best) winners.push_back(a);
  if (winners.size() == 1) return winners[0];
  const auto k = static_cast<size_t>(philox_uniform_f64(seed, draws++) * static_cast<double>(winners.size()));
  return winners[std::min(k, winners.size() - 1)];
}

// The stacked state as the network's input: building it is input preparation, a "data" region.
Tensor DqnAgent::current_state() const {
  RegionScope data("data");
  return stack_.state();
}

double DqnAgent::learn() {
  const DqnConfig& c = config_;
  ReplayBatch b;
  {
    RegionScope data("data");
    b = replay_->sample(c.batch, c.n_step, c.discount);
  }
  Tensor target;
  {  // y = r + (1 - terminal) * discount^n * max_a' Q_target(s', a'), no gradients (fed in Fathom)
    NoGradScope no_grad;
    Tensor next_q;
    {
      ModuleScope scope("target_net");
      next_q = (*target_)(b.next_states);
    }
    Tensor best;
    if (c.double_dqn) {  // Double DQN: the online network picks a', the target network values it
      ModuleScope scope("q_net");
      const Tensor a = argmax((*q_)(b.next_states), 1, /*keepdim=*/true);
      best = squeeze(gather(next_q, 1, a), 1);
    } else {
      best = max(next_q, {1});
    }
    target = b.rewards + add(neg(b.terminals), 1.0) * (best * std::pow(c.discount, c.n_step));
  }
  opt_->zero_grad();
  Tensor q;
  {
    ModuleScope scope("q_net");
    q = (*q_)(b.states);
  }
  // Fathom's Q(s, a) = max(Q * onehot(a)): right while Q(s, a) > 0, 0 (and no gradient) below.
  const Tensor qa = c.fathom_q_select ? max(q * one_hot(b.actions, kNumActions), {1})
                                      : squeeze(gather(q, 1, unsqueeze(b.actions, 1)), 1);
  const Tensor loss = huber_loss(target - qa, c.clip_delta, c.sum_loss);
  backward(loss);
  if (c.grad_clip > 0) nn::clip_grad_norm(q_->parameters(), c.grad_clip);
  opt_->step();
  ++updates_;
  if (updates_ % c.target_every == 0) update_target();
  return loss.item();
}

AgentStep DqnAgent::train_step() {
  const DqnConfig& c = config_;
  AgentStep s;
  s.action = select(current_state(), epsilon(), draws_, c.seed);
  {
    RegionScope data("data");
    const StepResult r = game_->step(s.action);
    s.reward = r.reward;
    s.terminal = r.terminal;
    episode_return_ += r.reward;
    const bool cut = r.terminal || (c.life_loss_terminal && r.life_lost);
    replay_->add(frame_.data(), s.action, r.reward, cut);
    if (r.terminal) {
      s.episode_return = episode_return_;
      episode_return_ = 0;
      game_->reset();
    }
    preprocess_frame(game_->screen().data(), frame_.data(), c.fathom_channel_order);
    if (cut)
      stack_.reset(frame_.data());
    else
      stack_.push(frame_.data());
  }
  ++env_steps_;
  if (replay_->size() >= c.train_start && replay_->can_sample(c.n_step) && env_steps_ % c.learn_every == 0) {
    s.loss = learn();
    s.updated = true;
  }
  return s;
}

AgentStep DqnAgent::act_step(double eps) {
  AgentStep s;
  s.action = select(current_state(), eps, draws_, config_.seed);
  RegionScope data("data");
  const StepResult r = game_->step(s.action);
  s.reward = r.reward;
  s.terminal = r.terminal;
  episode_return_ += r.reward;
  if (r.terminal) {
    s.episode_return = episode_return_;
    episode_return_ = 0;
    game_->reset();
  }
  preprocess_frame(game_->screen().data(), frame_.data(), config_.fathom_channel_order);
  if (r.terminal)
    stack_.reset(frame_.data());
  else
    stack_.push(frame_.data());
  ++env_steps_;
  return s;
}

double DqnAgent::evaluate(int episodes, double eps, uint64_t seed, std::vector<double>* returns) {
  if (episodes < 1) fail("deepq evaluate: episodes must be >= 1, got ", episodes);
  BreakoutConfig env = config_.env;
  env.seed = seed;
  Breakout game(env);
  FrameStack stack;
  std::vector<uint8_t> frame(static_cast<size_t>(kFrameSize) * kFrameSize);
  uint64_t draws = 0;
  const uint64_t action_seed = seed ^ 0xe7a1ULL;
  double total = 0;
  for (int e = 0; e < episodes; ++e) {
    game.reset();
    preprocess_frame(game.screen().data(), frame.data(), config_.fathom_channel_order);
    stack.reset(frame.data());
    double ret = 0;
    for (;;) {
      const StepResult r = game.step(select(stack.state(), eps, draws, action_seed));
      ret += r.reward;
      if (r.terminal) break;
      preprocess_frame(game.screen().data(), frame.data(), config_.fathom_channel_order);
      stack.push(frame.data());
    }
    if (returns) returns->push_back(ret);
    total += ret;
  }
  return total / episodes;
}

}  // namespace plumb::rl

namespace plumb::models {

namespace {

// The agent as a workload. train: one environment step with batch-1 action selection, the stored
// transition, and one minibatch update; infer: one environment step acting with eps = 0.05.
class DeepqWorkload final : public Workload {
 public:
  DeepqWorkload(const ModelInfo& info, const WorkloadOptions& o) {
    set_identity(info.name, info.variants, o, info.default_batch);  // batch_ is settled below
    if (std::find(info.variants.begin(), info.variants.end(), variant_) == info.variants.end())
      fail("model 'deepq' has no variant '", variant_, "'; variants: fathom, modern");
    if (o.data != "synthetic" && o.data != "dataset")
      fail("unknown data source '", o.data, "' (synthetic, dataset)");
    if (o.batch < 0) fail("workload 'deepq': batch must be positive, got ", o.batch);
    rl::DqnConfig c = variant_ == "modern" ? rl::modern_config() : rl::fathom_config();
    c.seed = o.seed;
    c.env.seed = 123 + (o.seed - 1);  // seed 1 gives Fathom's ALE seed
    if (mode_ == Mode::train && o.batch > 0) c.batch = o.batch;
    batch_ = mode_ == Mode::train ? c.batch : 1;
    agent_ = std::make_unique<rl::DqnAgent>(c);
    // Fathom counts steps only once the memory holds train_start entries: fill it here.
    if (mode_ == Mode::train)
      while (agent_->replay().size() < c.train_start || !agent_->replay().can_sample(c.n_step)) agent_->train_step();
    std::ostringstream os;
    os << describe_prefix();
    if (mode_ == Mode::train)
      os << ", " << c.optimizer << " lr " << c.lr << ", Huber loss (" << (c.sum_loss ? "sum" : "mean") << ")"
         << (c.double_dqn ? ", double DQN" : "") << ", action selection at batch 1";
    else
      os << " (action selection, eps " << c.eps_eval << ")";
    os << ", breakout environment";
    describe_ = os.str();
    data_ = "breakout";
  }

  void step() override {
    if (mode_ == Mode::train) {
      const rl::AgentStep s = agent_->train_step();
      if (s.updated) last_loss_ = s.loss;
    } else {
      agent_->act_step(agent_->config().eps_eval);
    }
  }
  nn::Module& model() override { return agent_->q_net(); }

 private:
  std::unique_ptr<rl::DqnAgent> agent_;
};

}  // namespace

namespace {

// One minibatch update as DqnAgent runs it, for `plumb info` on the meta device: the target
// network's forward on the next states (the online module stands in: same architecture, same
// cost), Double DQN's online forward (modern), then the Huber loss of target - Q(s, a). Rewards,
// terminals, actions and Fathom's one-hot placeholder are fed, so they are inputs here too.
Tensor dqn_step_loss(nn::Module& q, const Tensor& states) {
  const rl::DqnConfig c = q.type_name() == "DuelingDqn" ? rl::modern_config() : rl::fathom_config();
  const int64_t b = states.size(0);
  const Device d = states.device();
  Tensor target;
  {
    NoGradScope no_grad;
    Tensor next_q;
    {
      ModuleScope scope("target_net");
      next_q = q(states);
    }
    Tensor best;
    if (c.double_dqn) {
      ModuleScope scope("q_net");
      best = squeeze(gather(next_q, 1, argmax(q(states), 1, /*keepdim=*/true)), 1);
    } else {
      best = max(next_q, {1});
    }
    const Tensor rewards = Tensor::empty({b}, states.dtype(), d), terminals = Tensor::empty({b}, states.dtype(), d);
    target = rewards + add(neg(terminals), 1.0) * (best * std::pow(c.discount, c.n_step));
  }
  Tensor qs;
  {
    ModuleScope scope("q_net");
    qs = q(states);
  }
  const Tensor qa = c.fathom_q_select
                        ? max(qs * Tensor::empty({b, rl::kNumActions}, states.dtype(), d), {1})
                        : squeeze(gather(qs, 1, unsqueeze(Tensor::empty({b}, DType::i64, d), 1)), 1);
  return rl::huber_loss(target - qa, c.clip_delta, c.sum_loss);
}

}  // namespace

void register_deepq() {
  register_model(
      ModelInfo{.name = "deepq",
                .description = "Nature DQN on a Breakout-like game: 3 conv + 2 fc, 4 actions (fathom 1,686,180 "
                               "params; modern: Double DQN, dueling head, 3,292,837)",
                .variants = {"fathom", "modern"},
                .example_shape = {4, 84, 84},
                .num_classes = rl::kNumActions,
                .dataset = "breakout",
                .default_batch = 32,
                .optimizer = "rmsprop",
                .lr = 2.5e-4,
                .in_suite = true,
                .step_loss = dqn_step_loss},
      [](const std::string& variant) { return rl::build_dqn(variant); },
      [](const ModelInfo& info, const WorkloadOptions& o) -> std::unique_ptr<Workload> {
        return std::make_unique<DeepqWorkload>(info, o);
      });
}

}  // namespace plumb::models
