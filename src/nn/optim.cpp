// Optimizers over the update ops of src/ops/defs/optim.cpp: step() dispatches one sgd_update /
// adam_update / rmsprop_update / adagrad_update per parameter with a gradient, in phase `optimizer`
// with grad mode off, then rebinds the parameter and state handles to the op's outputs in place, so
// every holder of the handle (modules, user code) sees the new values without a copy.
#include "plumb/nn/optim.h"

#include <cmath>
#include <numbers>
#include <set>

#include "plumb/autograd.h"
#include "plumb/dispatch.h"
#include "plumb/op_attrs.h"
#include "plumb/ops.h"

namespace plumb::nn {
namespace {

// Points `handle` at `value`'s data; every copy of the handle shares the change.
void rebind(const Tensor& handle, const Tensor& value) {
  TensorImpl& impl = handle.impl();
  impl.storage = value.storage();
  impl.offset = value.offset();
  impl.strides = value.strides();
}

// Shared machinery: per-parameter state slots (zeros shaped like the parameter, created up front, which
// equals PyTorch's lazy init for every slot used here since dampening is 0), state() and load_state().
class SlotOptimizer : public Optimizer {
 public:
  SlotOptimizer(NamedTensors params, double lr, std::vector<std::string> slot_names, std::string op_name)
      : Optimizer(std::move(params), lr), slot_names_(std::move(slot_names)), op_(&op_def(op_name)) {
    std::set<std::string> seen;
    for (const auto& [name, p] : params_) {
      if (!p.defined()) fail("optimizer: parameter '", name, "' is undefined");
      if (!is_floating(p.dtype()))
        fail("optimizer: parameter '", name, "' must be floating, got ", dtype_name(p.dtype()));
      if (!seen.insert(name).second) fail("optimizer: parameter name '", name, "' appears twice");
      std::vector<Tensor> slots;
      for (size_t k = 0; k < slot_names_.size(); ++k) slots.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
      slots_.push_back(std::move(slots));
    }
  }

  void step() override {
    PhaseScope phase(Phase::optimizer);
    NoGradScope no_grad;
    ++steps_;
    const std::unique_ptr<Attrs> attrs = make_attrs();
    for (size_t i = 0; i < params_.size(); ++i) {
      const Tensor& p = params_[i].second;
      const Tensor g = p.grad();
      if (!g.defined()) continue;
      std::vector<Tensor> in = {p, g};
      for (const Tensor& s : slots_[i]) in.push_back(s);
      const std::vector<Tensor> out = dispatch(*op_, in, *attrs);
      rebind(p, out[0]);
      for (size_t k = 0; k < slots_[i].size(); ++k) rebind(slots_[i][k], out[k + 1]);
    }
  }

  // Snapshots: new handles on the current storage, which later steps never write (updates are out of place).
  NamedTensors state() const override {
    NamedTensors out;
    for (size_t i = 0; i < params_.size(); ++i)
      for (size_t k = 0; k < slot_names_.size(); ++k)
        out.emplace_back(params_[i].first + "." + slot_names_[k], slots_[i][k].detach());
    out.emplace_back("step", Tensor::scalar(static_cast<double>(steps_), DType::i64));
    return out;
  }

  void load_state(const NamedTensors& state) override {
    const NamedTensors want = this->state();
    std::set<std::string> expected;
    for (const auto& [name, t] : want) expected.insert(name);
    for (const auto& [name, t] : state)
      if (!expected.count(name)) fail(type_name(), " load_state: unexpected entry '", name, "'");
    auto find = [&](const std::string& name) -> const Tensor& {
      for (const auto& [n, t] : state)
        if (n == name) return t;
      fail(type_name(), " load_state: missing entry '", name, "'");
    };
    // Check everything before changing anything.
    for (const auto& [name, mine] : want) {
      const Tensor& t = find(name);
      if (!t.defined()) fail(type_name(), " load_state: entry '", name, "' is undefined");
      if (t.shape() != mine.shape())
        fail(type_name(), " load_state: '", name, "' has shape ", shape_str(t.shape()), ", expected ",
             shape_str(mine.shape()));
      if (t.dtype() != mine.dtype())
        fail(type_name(), " load_state: '", name, "' has dtype ", dtype_name(t.dtype()), ", expected ",
             dtype_name(mine.dtype()));
      if (t.device() != mine.device())
        fail(type_name(), " load_state: '", name, "' is on ", t.device().str(), ", expected ", mine.device().str());
    }
    const int64_t step = static_cast<int64_t>(find("step").item());
    if (step < 0) fail(type_name(), " load_state: step must be >= 0, got ", step);
    NoGradScope no_grad;
    for (size_t i = 0; i < params_.size(); ++i)
      for (size_t k = 0; k < slot_names_.size(); ++k)
        rebind(slots_[i][k], contiguous(find(params_[i].first + "." + slot_names_[k])).detach());
    steps_ = step;
  }

 protected:
  // The update op's attributes for the step being taken (steps_ already advanced).
  virtual std::unique_ptr<Attrs> make_attrs() const = 0;

 private:
  std::vector<std::string> slot_names_;
  const OpDef* op_;
  std::vector<std::vector<Tensor>> slots_;  // per parameter, one per slot name
};

std::vector<std::string> slots_if(bool on, std::vector<std::string> names) { return on ? names : std::vector<std::string>{}; }

class Sgd final : public SlotOptimizer {
 public:
  Sgd(NamedTensors params, SgdOptions o)
      : SlotOptimizer(std::move(params), o.lr, slots_if(o.momentum != 0, {"momentum_buffer"}), "sgd_update"), o_(o) {}
  std::string type_name() const override { return "SGD"; }

 protected:
  std::unique_ptr<Attrs> make_attrs() const override {
    auto a = std::make_unique<OptimAttrs>();
    a->lr = lr_;
    a->momentum = o_.momentum;
    a->weight_decay = o_.weight_decay;
    a->nesterov = o_.nesterov;
    return a;
  }

 private:
  SgdOptions o_;
};

class Adam final : public SlotOptimizer {
 public:
  Adam(NamedTensors params, AdamOptions o)
      : SlotOptimizer(std::move(params), o.lr, {"exp_avg", "exp_avg_sq"}, "adam_update"), o_(o) {}
  std::string type_name() const override { return o_.decoupled_weight_decay ? "AdamW" : "Adam"; }

 protected:
  std::unique_ptr<Attrs> make_attrs() const override {
    auto a = std::make_unique<OptimAttrs>();
    a->lr = lr_;
    a->beta1 = o_.beta1;
    a->beta2 = o_.beta2;
    a->eps = o_.eps;
    a->weight_decay = o_.weight_decay;
    a->decoupled_weight_decay = o_.decoupled_weight_decay;
    a->step = steps_;  // one count for all parameters (PyTorch counts per parameter; equal when all have grads)
    return a;
  }

 private:
  AdamOptions o_;
};

class RmsProp final : public SlotOptimizer {
 public:
  RmsProp(NamedTensors params, RmsPropOptions o)
      : SlotOptimizer(std::move(params), o.lr,
                      o.momentum != 0 ? std::vector<std::string>{"square_avg", "momentum_buffer"}
                                      : std::vector<std::string>{"square_avg"},
                      "rmsprop_update"),
        o_(o) {}
  std::string type_name() const override { return "RMSprop"; }

 protected:
  std::unique_ptr<Attrs> make_attrs() const override {
    auto a = std::make_unique<OptimAttrs>();
    a->lr = lr_;
    a->alpha = o_.alpha;
    a->eps = o_.eps;
    a->momentum = o_.momentum;
    a->weight_decay = o_.weight_decay;
    return a;
  }

 private:
  RmsPropOptions o_;
};

class Adagrad final : public SlotOptimizer {
 public:
  Adagrad(NamedTensors params, AdagradOptions o)
      : SlotOptimizer(std::move(params), o.lr, {"sum"}, "adagrad_update"), o_(o) {}
  std::string type_name() const override { return "Adagrad"; }

 protected:
  std::unique_ptr<Attrs> make_attrs() const override {
    auto a = std::make_unique<OptimAttrs>();
    a->lr = lr_;
    a->eps = o_.eps;
    a->weight_decay = o_.weight_decay;
    return a;
  }

 private:
  AdagradOptions o_;
};

void check_step(int64_t step) {
  if (step < 0) fail("lr schedule: step must be >= 0, got ", step);
}

class ConstantLr final : public LrSchedule {
 public:
  explicit ConstantLr(double lr) : lr_(lr) {}
  double at(int64_t step) const override {
    check_step(step);
    return lr_;
  }

 private:
  double lr_;
};

class StepLr final : public LrSchedule {
 public:
  StepLr(double lr, int64_t step_size, double gamma) : lr_(lr), step_size_(step_size), gamma_(gamma) {}
  double at(int64_t step) const override {
    check_step(step);
    return lr_ * std::pow(gamma_, static_cast<double>(step / step_size_));
  }

 private:
  double lr_;
  int64_t step_size_;
  double gamma_;
};

// Half a cosine from lr down to min_lr over total_steps, then min_lr.
class CosineLr final : public LrSchedule {
 public:
  CosineLr(double lr, int64_t total, double min_lr) : lr_(lr), total_(total), min_(min_lr) {}
  double at(int64_t step) const override {
    check_step(step);
    if (step >= total_) return min_;
    const double frac = static_cast<double>(step) / static_cast<double>(total_);
    return min_ + (lr_ - min_) * (1 + std::cos(std::numbers::pi * frac)) / 2;
  }

 private:
  double lr_;
  int64_t total_;
  double min_;
};

class WarmupLr final : public LrSchedule {
 public:
  WarmupLr(int64_t warmup, std::unique_ptr<LrSchedule> after) : warmup_(warmup), after_(std::move(after)) {}
  double at(int64_t step) const override {
    check_step(step);
    if (step < warmup_) return after_->at(0) * static_cast<double>(step) / static_cast<double>(warmup_);
    return after_->at(step - warmup_);
  }

 private:
  int64_t warmup_;
  std::unique_ptr<LrSchedule> after_;
};

}  // namespace

void Optimizer::zero_grad() {
  for (auto& [name, p] : params_) p.set_grad(Tensor());
}

std::unique_ptr<Optimizer> make_sgd(NamedTensors params, SgdOptions o) {
  if (!(o.lr >= 0)) fail("SGD: lr must be >= 0, got ", o.lr);
  if (!(o.momentum >= 0)) fail("SGD: momentum must be >= 0, got ", o.momentum);
  if (!(o.weight_decay >= 0)) fail("SGD: weight_decay must be >= 0, got ", o.weight_decay);
  if (o.nesterov && o.momentum == 0) fail("SGD: nesterov requires momentum > 0");
  return std::make_unique<Sgd>(std::move(params), o);
}

std::unique_ptr<Optimizer> make_adam(NamedTensors params, AdamOptions o) {
  if (!(o.lr >= 0)) fail("Adam: lr must be >= 0, got ", o.lr);
  if (!(o.beta1 >= 0 && o.beta1 < 1)) fail("Adam: beta1 must be in [0, 1), got ", o.beta1);
  if (!(o.beta2 >= 0 && o.beta2 < 1)) fail("Adam: beta2 must be in [0, 1), got ", o.beta2);
  if (!(o.eps >= 0)) fail("Adam: eps must be >= 0, got ", o.eps);
  if (!(o.weight_decay >= 0)) fail("Adam: weight_decay must be >= 0, got ", o.weight_decay);
  return std::make_unique<Adam>(std::move(params), o);
}

std::unique_ptr<Optimizer> make_rmsprop(NamedTensors params, RmsPropOptions o) {
  if (!(o.lr >= 0)) fail("RMSprop: lr must be >= 0, got ", o.lr);
  if (!(o.alpha >= 0)) fail("RMSprop: alpha must be >= 0, got ", o.alpha);
  if (!(o.eps >= 0)) fail("RMSprop: eps must be >= 0, got ", o.eps);
  if (!(o.momentum >= 0)) fail("RMSprop: momentum must be >= 0, got ", o.momentum);
  if (!(o.weight_decay >= 0)) fail("RMSprop: weight_decay must be >= 0, got ", o.weight_decay);
  return std::make_unique<RmsProp>(std::move(params), o);
}

std::unique_ptr<Optimizer> make_adagrad(NamedTensors params, AdagradOptions o) {
  if (!(o.lr >= 0)) fail("Adagrad: lr must be >= 0, got ", o.lr);
  if (!(o.eps >= 0)) fail("Adagrad: eps must be >= 0, got ", o.eps);
  if (!(o.weight_decay >= 0)) fail("Adagrad: weight_decay must be >= 0, got ", o.weight_decay);
  return std::make_unique<Adagrad>(std::move(params), o);
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, NamedTensors params, double lr) {
  if (name == "sgd") return make_sgd(std::move(params), SgdOptions{.lr = lr});
  if (name == "momentum") return make_sgd(std::move(params), SgdOptions{.lr = lr, .momentum = 0.9});
  if (name == "adam") return make_adam(std::move(params), AdamOptions{.lr = lr});
  // torch.optim.AdamW's default weight decay.
  if (name == "adamw")
    return make_adam(std::move(params), AdamOptions{.lr = lr, .weight_decay = 1e-2, .decoupled_weight_decay = true});
  if (name == "rmsprop") return make_rmsprop(std::move(params), RmsPropOptions{.lr = lr});
  if (name == "adagrad") return make_adagrad(std::move(params), AdagradOptions{.lr = lr});
  fail("unknown optimizer '", name, "'; known: sgd, momentum, adam, adamw, rmsprop, adagrad");
}

// As torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1. The squared
// sums accumulate in f64 so parameters of mixed dtypes combine; the work is part of the optimizer phase.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  if (!(max_norm >= 0)) fail("clip_grad_norm: max_norm must be >= 0, got ", max_norm);
  PhaseScope phase(Phase::optimizer);
  NoGradScope no_grad;
  Tensor total;
  for (const Tensor& p : params) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    const Tensor sq = cast(sum(mul(g, g)), DType::f64);
    total = total.defined() ? add(total, sq) : sq;
  }
  if (!total.defined()) return 0;
  const double norm = sqrt(total).item();
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1)
    for (const Tensor& p : params) {
      Tensor handle = p;  // shares p's impl, so set_grad reaches the caller's tensor
      const Tensor g = handle.grad();
      if (g.defined()) handle.set_grad(mul(g, coef));
    }
  return norm;
}

std::unique_ptr<LrSchedule> constant_lr(double lr) { return std::make_unique<ConstantLr>(lr); }

std::unique_ptr<LrSchedule> step_lr(double lr, int64_t step_size, double gamma) {
  if (step_size <= 0) fail("step_lr: step_size must be > 0, got ", step_size);
  return std::make_unique<StepLr>(lr, step_size, gamma);
}

std::unique_ptr<LrSchedule> cosine_lr(double lr, int64_t total_steps, double min_lr) {
  if (total_steps <= 0) fail("cosine_lr: total_steps must be > 0, got ", total_steps);
  return std::make_unique<CosineLr>(lr, total_steps, min_lr);
}

std::unique_ptr<LrSchedule> warmup_lr(int64_t warmup_steps, std::unique_ptr<LrSchedule> after) {
  if (warmup_steps < 0) fail("warmup_lr: warmup_steps must be >= 0, got ", warmup_steps);
  if (!after) fail("warmup_lr: no schedule to follow the warmup");
  return std::make_unique<WarmupLr>(warmup_steps, std::move(after));
}

}  // namespace plumb::nn
