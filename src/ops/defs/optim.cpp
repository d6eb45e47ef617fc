// Optimizer update ops (class optimizer, like Fathom's ApplyAdam / ApplyRMSProp): one op per parameter
// reads the parameter, its gradient and its state, and returns the new parameter and state (PyTorch
// semantics). Out-of-place; nn::Optimizer rebinds the handles. Not differentiable.
#include <string>

#include "ops/op_def.h"

namespace plumb::ops {
namespace {

// Every input is a floating tensor of one dtype, shape and device; `names` name the inputs in errors.
void check_like_param(const std::string& op, std::span<const TensorSpec> in, std::vector<const char*> names) {
  check_same_device(op, in);
  for (size_t i = 0; i < in.size(); ++i) {
    const char* what = i < names.size() ? names[i] : "input";
    check_float(op, in[i], what);
    if (i == 0) continue;
    if (in[i].dtype != in[0].dtype)
      fail(op, ": ", what, " has dtype ", dtype_name(in[i].dtype), ", param has ", dtype_name(in[0].dtype));
    if (in[i].shape != in[0].shape)
      fail(op, ": ", what, " has shape ", shape_str(in[i].shape), ", param has ", shape_str(in[0].shape));
  }
}

void check_common(const std::string& op, const OptimAttrs& a) {
  if (!(a.lr >= 0)) fail(op, ": lr must be >= 0, got ", a.lr);
  if (!(a.weight_decay >= 0)) fail(op, ": weight_decay must be >= 0, got ", a.weight_decay);
  if (!(a.eps >= 0)) fail(op, ": eps must be >= 0, got ", a.eps);
}

// `n_state` state inputs follow param and grad; every output is shaped like param.
std::vector<TensorSpec> outputs_like_param(std::span<const TensorSpec> in, size_t n_out) {
  return std::vector<TensorSpec>(n_out, in[0]);
}

OpDef optim_def(std::string name, int min_inputs, int max_inputs, std::string doc) {
  OpDef def;
  def.name = std::move(name);
  def.op_class = OpClass::optimizer;
  def.min_inputs = min_inputs;
  def.max_inputs = max_inputs;
  def.make_attrs = attrs_factory<OptimAttrs>();
  def.differentiable = false;  // an update is not part of any loss
  def.doc = std::move(doc);
  return def;
}

// Per-element FLOPs, counted from each update's formula (multiply-add = 2, anything else = 1).
// L2 weight decay g += wd*p: one multiply-add (2); decoupled p *= (1 - lr*wd): one multiply (1).
double l2_flops(const OptimAttrs& a) { return a.weight_decay != 0 ? 2 : 0; }

// SGD: [g += wd*p: 2] [buf = m*buf + g: 2] [nesterov g += m*buf: 2] p -= lr*g: 2.
// Plain 2, momentum 4, nesterov 6 flops/element, +2 with weight decay.
double sgd_flops(const OptimAttrs& a, bool has_buf) {
  return l2_flops(a) + (has_buf ? 2 : 0) + (has_buf && a.nesterov ? 2 : 0) + 2;
}
// Adam: m = b1*m + (1-b1)*g: 3; v = b2*v + (1-b2)*g*g: 4; denom = sqrt(v)/sqrt(bc2) + eps: 3;
// p -= step_size * m/denom: 3. 13 flops/element, +2 (L2) or +1 (decoupled) with weight decay.
double adam_flops(const OptimAttrs& a) {
  const double wd = a.weight_decay == 0 ? 0 : (a.decoupled_weight_decay ? 1 : 2);
  return wd + 13;
}
// RMSprop: s = a*s + (1-a)*g*g: 4; avg = sqrt(s) + eps: 2; then either p -= lr * g/avg: 3, or
// buf = m*buf + g/avg: 3 and p -= lr*buf: 2. 9 flops/element, 11 with momentum, +2 with weight decay.
double rmsprop_flops(const OptimAttrs& a, bool has_buf) { return l2_flops(a) + 4 + 2 + (has_buf ? 5 : 3); }
// Adagrad: sum += g*g: 2; std = sqrt(sum) + eps: 2; p -= lr * g/std: 3. 7 flops/element, +2 with weight decay.
double adagrad_flops(const OptimAttrs& a) { return l2_flops(a) + 7; }

}  // namespace

void register_optim_ops() {
  {  // sgd_update(param, grad[, momentum_buf]) -> (param'[, buf'])
    OpDef def = optim_def("sgd_update", 2, 3, "SGD step (momentum, nesterov, weight decay; PyTorch semantics)");
    def.infer = [](std::span<const TensorSpec> in, const Attrs& attrs) {
      const auto& a = attrs_as<OptimAttrs>(attrs);
      check_like_param("sgd_update", in, {"param", "grad", "momentum_buffer"});
      check_common("sgd_update", a);
      if (!(a.momentum >= 0)) fail("sgd_update: momentum must be >= 0, got ", a.momentum);
      const bool has_buf = in.size() == 3;
      if (a.momentum != 0 && !has_buf)
        fail("sgd_update: momentum ", a.momentum, " needs a momentum buffer (3 inputs), got 2 inputs");
      if (a.momentum == 0 && has_buf) fail("sgd_update: momentum is 0, so it takes no momentum buffer; got 3 inputs");
      if (a.nesterov && a.momentum == 0) fail("sgd_update: nesterov requires momentum > 0");
      return outputs_like_param(in, has_buf ? 2 : 1);
    };
    def.cost = [](std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs& attrs) {
      return io_bytes(in, out, elems_of(in[0]) * sgd_flops(attrs_as<OptimAttrs>(attrs), in.size() == 3));
    };
    register_op(std::move(def));
  }
  {  // adam_update(param, grad, exp_avg, exp_avg_sq) -> (param', exp_avg', exp_avg_sq')
    OpDef def = optim_def("adam_update", 4, 4, "Adam / AdamW step with bias correction (PyTorch semantics)");
    def.infer = [](std::span<const TensorSpec> in, const Attrs& attrs) {
      const auto& a = attrs_as<OptimAttrs>(attrs);
      check_like_param("adam_update", in, {"param", "grad", "exp_avg", "exp_avg_sq"});
      check_common("adam_update", a);
      if (!(a.beta1 >= 0 && a.beta1 < 1)) fail("adam_update: beta1 must be in [0, 1), got ", a.beta1);
      if (!(a.beta2 >= 0 && a.beta2 < 1)) fail("adam_update: beta2 must be in [0, 1), got ", a.beta2);
      if (a.step < 1) fail("adam_update: step is 1-based, got ", a.step);
      return outputs_like_param(in, 3);
    };
    def.cost = [](std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs& attrs) {
      return io_bytes(in, out, elems_of(in[0]) * adam_flops(attrs_as<OptimAttrs>(attrs)));
    };
    register_op(std::move(def));
  }
  {  // rmsprop_update(param, grad, square_avg[, momentum_buf]) -> (param', square_avg'[, buf'])
    OpDef def = optim_def("rmsprop_update", 3, 4, "RMSprop step, not centered (PyTorch semantics)");
    def.infer = [](std::span<const TensorSpec> in, const Attrs& attrs) {
      const auto& a = attrs_as<OptimAttrs>(attrs);
      check_like_param("rmsprop_update", in, {"param", "grad", "square_avg", "momentum_buffer"});
      check_common("rmsprop_update", a);
      if (!(a.alpha >= 0)) fail("rmsprop_update: alpha must be >= 0, got ", a.alpha);
      if (!(a.momentum >= 0)) fail("rmsprop_update: momentum must be >= 0, got ", a.momentum);
      const bool has_buf = in.size() == 4;
      if (a.momentum != 0 && !has_buf)
        fail("rmsprop_update: momentum ", a.momentum, " needs a momentum buffer (4 inputs), got 3 inputs");
      if (a.momentum == 0 && has_buf)
        fail("rmsprop_update: momentum is 0, so it takes no momentum buffer; got 4 inputs");
      return outputs_like_param(in, has_buf ? 3 : 2);
    };
    def.cost = [](std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs& attrs) {
      return io_bytes(in, out, elems_of(in[0]) * rmsprop_flops(attrs_as<OptimAttrs>(attrs), in.size() == 4));
    };
    register_op(std::move(def));
  }
  {  // adagrad_update(param, grad, sum) -> (param', sum')
    OpDef def = optim_def("adagrad_update", 3, 3, "Adagrad step (PyTorch semantics, no lr decay)");
    def.infer = [](std::span<const TensorSpec> in, const Attrs& attrs) {
      check_like_param("adagrad_update", in, {"param", "grad", "sum"});
      check_common("adagrad_update", attrs_as<OptimAttrs>(attrs));
      return outputs_like_param(in, 2);
    };
    def.cost = [](std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs& attrs) {
      return io_bytes(in, out, elems_of(in[0]) * adagrad_flops(attrs_as<OptimAttrs>(attrs)));
    };
    register_op(std::move(def));
  }
}

}  // namespace plumb::ops
