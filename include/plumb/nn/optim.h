#pragma once
// Optimizers. Each update is one dispatched op of class `optimizer` per parameter (like Fathom's
// ApplyAdam), run in phase `optimizer`, so profiles see it as its own op type.
#include <memory>
#include <string>
#include <vector>

#include "plumb/nn/module.h"

namespace plumb::nn {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Applies one update to every parameter that has a gradient; advances the step count.
  virtual void step() = 0;
  void zero_grad();
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  int64_t steps() const { return steps_; }
  virtual std::string type_name() const = 0;

  // Optimizer state (moments, step count) as named tensors, for checkpoints: names are
  // "<param name>.<slot>" plus "step"; load_state restores exactly what state() returned.
  virtual NamedTensors state() const = 0;
  virtual void load_state(const NamedTensors& state) = 0;

 protected:
  Optimizer(NamedTensors params, double lr) : params_(std::move(params)), lr_(lr) {}
  NamedTensors params_;
  double lr_;
  int64_t steps_ = 0;
};

struct SgdOptions {
  double lr = 0.01, momentum = 0, weight_decay = 0;
  bool nesterov = false;
};
struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled_weight_decay = false;  // true = AdamW
};
struct RmsPropOptions {
  double lr = 0.01, alpha = 0.99, eps = 1e-8, momentum = 0, weight_decay = 0;
};
struct AdagradOptions {
  double lr = 0.01, eps = 1e-10, weight_decay = 0;
};

std::unique_ptr<Optimizer> make_sgd(NamedTensors params, SgdOptions o);
std::unique_ptr<Optimizer> make_adam(NamedTensors params, AdamOptions o);
std::unique_ptr<Optimizer> make_rmsprop(NamedTensors params, RmsPropOptions o);
std::unique_ptr<Optimizer> make_adagrad(NamedTensors params, AdagradOptions o);
// By name ("sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad") with defaults and the given lr;
// throws Error listing the names on an unknown one.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, NamedTensors params, double lr);

// Scales all gradients so their global L2 norm is at most max_norm; returns the norm before clipping.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

// Learning-rate schedules: the rate for a 0-based step.
class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  virtual double at(int64_t step) const = 0;
};
std::unique_ptr<LrSchedule> constant_lr(double lr);
std::unique_ptr<LrSchedule> step_lr(double lr, int64_t step_size, double gamma);
std::unique_ptr<LrSchedule> cosine_lr(double lr, int64_t total_steps, double min_lr = 0);
// Linear warmup from 0 over warmup_steps, then `after` (shifted by warmup_steps).
std::unique_ptr<LrSchedule> warmup_lr(int64_t warmup_steps, std::unique_ptr<LrSchedule> after);

}  // namespace plumb::nn
