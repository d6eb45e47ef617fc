#pragma once
// The deepq workload's pieces: a Breakout-like game drawn like ALE's screen, Fathom's preprocessing,
// a replay memory of u8 frames, and the DQN agent that the workload and bench/deepq_demo drive.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plumb/nn/module.h"
#include "plumb/nn/optim.h"
#include "plumb/tensor.h"

namespace plumb::rl {

// ---- the game (src/data/breakout.cpp) ----

// Breakout's minimal action set, in ALE's order.
enum Action : int { kNoop = 0, kFire = 1, kRight = 2, kLeft = 3 };
inline constexpr int kNumActions = 4;
inline constexpr int kScreenHeight = 210, kScreenWidth = 160;  // ALE's screen, RGB u8
inline constexpr int kMaxBrickRows = 6;

struct BreakoutConfig {
  uint64_t seed = 123;        // ALE's random_seed in Fathom
  int brick_rows = 6;         // 1..6, from the bottom up (a smaller wall makes an easier game)
  int lives = 5;
  int paddle_width = 16;      // pixels
  int paddle_speed = 3;       // pixels per frame
  double ball_speed = 2.0;    // vertical pixels per frame at the start of a life
  double speedup = 1.0;       // added to the vertical speed at each Atari speed-up event
  int64_t max_steps = 10000;  // frames per episode before it is cut (0 = no cap)
  int frame_skip = 1;         // frames per step() with the action repeated (Fathom: 1; Nature DQN: 4)
};

struct StepResult {
  double reward = 0;       // points scored in this frame (bricks: 1, 4 or 7)
  bool terminal = false;   // game over: no lives left, the wall cleared, or the step cap reached
  bool life_lost = false;  // the ball left the screen in this frame
};

// Deterministic given its seed: the serve is its only draw, and reset() continues the same random
// sequence (as ALE does across games).
class Breakout {
 public:
  explicit Breakout(BreakoutConfig config = {});
  void reset();  // a new game: full wall, all lives, ball waiting for FIRE
  // frame_skip frames with the action repeated: rewards summed, stops at the end of the game;
  // throws Error on an action outside 0..3.
  StepResult step(int action);
  // The current frame, (210, 160, 3) RGB row-major like ALE's getScreenRGB.
  const std::vector<uint8_t>& screen() const { return screen_; }

  const BreakoutConfig& config() const { return config_; }
  int lives() const { return lives_; }
  int64_t score() const { return score_; }
  int64_t steps() const { return steps_; }
  bool game_over() const { return game_over_; }
  int bricks_left() const;
  bool brick(int row, int col) const;  // row 0 is the top row of the full six-row wall
  bool ball_in_play() const { return in_play_; }
  double ball_x() const { return bx_; }
  double ball_y() const { return by_; }
  double ball_vx() const { return vx_; }
  double ball_vy() const { return vy_; }
  int paddle_x() const { return px_; }
  int hits() const { return hits_; }
  // Places the ball (tests): top-left corner and velocity in pixels per frame; puts it in play.
  void set_ball(double x, double y, double vx, double vy);
  void set_paddle(int x);

  // Geometry, in screen pixels.
  static constexpr int kWallTop = 32, kWallLeft = 8, kWallRight = 152;  // play area x in [8, 152)
  static constexpr int kBrickTop = 57, kBrickHeight = 6, kBrickWidth = 8, kBrickCols = 18;
  static constexpr int kPaddleTop = 189, kPaddleHeight = 4;
  static constexpr int kBallWidth = 2, kBallHeight = 4;
  static int brick_points(int row);  // 7, 7, 4, 4, 1, 1 from the top

 private:
  StepResult frame(int action);
  void serve();
  void move_ball(StepResult& r);
  void render();
  BreakoutConfig config_;
  uint64_t draws_ = 0;  // counter of the seeded generator
  std::array<std::array<bool, kBrickCols>, kMaxBrickRows> bricks_{};
  int lives_ = 0, hits_ = 0, px_ = 0;
  int64_t score_ = 0, steps_ = 0;
  bool in_play_ = false, game_over_ = false, hit_row_[kMaxBrickRows] = {};
  double bx_ = 0, by_ = 0, vx_ = 0, vy_ = 0, speed_ = 0;
  std::vector<uint8_t> screen_;
};

// ---- Fathom's preprocessing (src/data/breakout.cpp) ----

inline constexpr int kFrameSize = 84, kHistory = 4;

// (210, 160, 3) RGB -> (84, 84) u8 as Fathom: cv2.resize to 84x110 (INTER_LINEAR), BGR2GRAY, rows
// 26..109. Fathom feeds RGB to BGR2GRAY; `fathom_channel_order` keeps that, false uses RGB luma.
void preprocess_frame(const uint8_t* rgb, uint8_t* out, bool fathom_channel_order = true);
std::vector<uint8_t> preprocess_frame(const std::vector<uint8_t>& rgb, bool fathom_channel_order = true);

// The last four preprocessed frames, oldest first; a new episode starts from zeros (as Fathom).
class FrameStack {
 public:
  FrameStack();
  void reset(const uint8_t* frame);  // zeros, then `frame` as the newest
  void push(const uint8_t* frame);
  // (1, 4, 84, 84) f32 in [0, 1]: the stack divided by 255.
  Tensor state() const;
  const uint8_t* frame(int i) const { return frames_.data() + static_cast<size_t>(i) * kFrameSize * kFrameSize; }

 private:
  std::vector<uint8_t> frames_;
};

// ---- replay memory (src/data/replay.cpp) ----

struct ReplayBatch {
  Tensor states;       // (B, 4, 84, 84) f32 in [0, 1]
  Tensor actions;      // (B) i64
  Tensor rewards;      // (B) f32, clipped to [-1, 1]; with n steps, sum_k discount^k r_{t+k}
  Tensor next_states;  // (B, 4, 84, 84) f32, the state n steps later
  Tensor terminals;    // (B) f32, 1 where the episode ended within the n steps
};

// Circular buffer storing each 84x84 frame once: entry t = frame before action t, the action, its
// clipped reward, terminal. State t = frames t-3..t, zeros for frames before the episode's start.
class ReplayMemory {
 public:
  ReplayMemory(int64_t capacity, uint64_t seed);
  void add(const uint8_t* frame, int action, double reward, bool terminal);
  int64_t size() const;  // entries held (<= capacity)
  int64_t capacity() const { return capacity_; }
  int64_t added() const { return added_; }
  // True once an entry has three older frames and n stored successors.
  bool can_sample(int n_step = 1) const;
  // Uniform over the valid entries, from the memory's seeded generator; throws Error if !can_sample().
  // n_step > 1 gives multi-step returns (Rainbow), discounted by `discount`.
  ReplayBatch sample(int64_t batch, int n_step = 1, double discount = 1.0);
  // Entry `t` (0 = the oldest held) as its stacked state, 4*84*84 values in [0, 1].
  void stacked_state(int64_t t, float* out) const;
  void next_state(int64_t t, float* out) const;

 private:
  void stack(int64_t abs, float* out) const;  // abs = the entry's index in the add order
  int64_t capacity_;
  uint64_t seed_, draws_ = 0;
  int64_t added_ = 0;
  std::vector<uint8_t> frames_;
  std::vector<int32_t> actions_;
  std::vector<float> rewards_;
  std::vector<uint8_t> terminals_;
};

// ---- the DQN agent (src/models/deepq.cpp) ----

// Hyperparameters; fathom_config() / modern_config() give the two workload variants.
struct DqnConfig {
  std::string variant = "fathom";  // "fathom": Nature DQN as Fathom; "modern": Double DQN, dueling head
  BreakoutConfig env;
  int64_t replay_capacity = 100000;  // frames (Fathom: 1,000,000)
  int64_t batch = 32;
  double discount = 0.99;
  double eps_start = 1.0, eps_end = 0.1;
  int64_t eps_steps = 1000000;    // linear decay length, counted in minibatch updates (as Fathom)
  double eps_eval = 0.05;
  int64_t target_every = 10000;   // updates between target-network copies
  int64_t train_start = 100;      // replay entries before the first update
  int64_t learn_every = 1;        // environment steps per update (Fathom: 1; DeepMind: 4)
  int n_step = 1;                 // multi-step returns (1 = one-step Q-learning, as Fathom)
  double lr = 2.5e-4;
  std::string optimizer = "rmsprop_tf";  // "rmsprop_tf" (TF's RMSProp, see docs/deepq.md) or "adam"
  double rms_decay = 0.95, rms_eps = 0.01;  // TF semantics: eps inside the square root
  double adam_eps = 1.5e-4;
  double clip_delta = 1.0;        // Huber threshold
  bool sum_loss = true;           // "sum" accumulator (Fathom) or the batch mean
  bool double_dqn = false, dueling = false;
  bool fathom_q_select = true;    // Q(s,a) as max(Q * onehot(a)), Fathom's quirk; false gathers it
  bool fathom_channel_order = true;  // preprocessing quirk, see preprocess_frame
  bool life_loss_terminal = false;   // store a lost life as terminal (a common training aid)
  double grad_clip = 0;           // global-norm clip (0 = none)
  uint64_t seed = 1;
};
DqnConfig fathom_config();
DqnConfig modern_config();

// Nature DQN: (B, 4, 84, 84) -> conv 8x8/4 32, 4x4/2 64, 3x3/1 64, FC 512, FC actions, ReLU.
// "fathom": Fathom's init (weights N(0, 0.01), biases 0.1); "modern": a dueling head (value and
// advantage streams of 512 each) with PyTorch's default init. Throws Error on another variant.
std::shared_ptr<nn::Module> build_dqn(const std::string& variant, int num_actions = kNumActions);

// Fathom's Huber loss: q = min(|d|, delta), 0.5 q^2 + delta (|d| - q), summed or averaged.
Tensor huber_loss(const Tensor& diff, double delta, bool sum);

struct AgentStep {
  int action = 0;
  double reward = 0;
  bool terminal = false;       // the episode ended (the game was reset)
  double episode_return = 0;   // the finished episode's return when terminal
  bool updated = false;        // a minibatch update ran
  double loss = 0;             // its loss
};

class DqnAgent {
 public:
  explicit DqnAgent(DqnConfig config);
  ~DqnAgent();
  DqnAgent(const DqnAgent&) = delete;
  DqnAgent& operator=(const DqnAgent&) = delete;

  // One training step: epsilon-greedy action at batch 1, one frame, store the transition, and once
  // train_start entries are held one minibatch update (every learn_every steps).
  AgentStep train_step();
  // One frame with an epsilon-greedy action (no storing, no learning); eps < 0 picks uniformly at
  // random without running the network.
  AgentStep act_step(double eps);
  // Mean return over `episodes` full games with epsilon `eps` (or random actions when eps < 0),
  // on a separate game seeded with `seed`.
  double evaluate(int episodes, double eps, uint64_t seed, std::vector<double>* returns = nullptr);

  void update_target();  // copies the Q-network into the target network
  double epsilon() const;
  int64_t updates() const { return updates_; }
  int64_t env_steps() const { return env_steps_; }
  const DqnConfig& config() const { return config_; }
  nn::Module& q_net() { return *q_; }
  nn::Module& target_net() { return *target_; }
  ReplayMemory& replay() { return *replay_; }
  Breakout& game() { return *game_; }
  // Q-values of one state (1, 4, 84, 84) -> (1, actions), no gradients.
  Tensor q_values(const Tensor& state);
  // One minibatch update from the replay memory; returns the loss.
  double learn();

 private:
  int select(const Tensor& state, double eps, uint64_t& draws, uint64_t seed);
  Tensor current_state() const;
  DqnConfig config_;
  std::shared_ptr<nn::Module> q_, target_;
  std::unique_ptr<nn::Optimizer> opt_;
  std::unique_ptr<Breakout> game_;
  std::unique_ptr<ReplayMemory> replay_;
  FrameStack stack_;
  std::vector<uint8_t> frame_;
  int64_t updates_ = 0, env_steps_ = 0;
  uint64_t draws_ = 0;
  double episode_return_ = 0;
};

}  // namespace plumb::rl
