// CTC loss (Graves et al. 2006) in log space, and its gradient; greedy (best-path) decoding.
// ctc_loss is one primitive: its alpha recursion is a sequential dynamic program over frames that no
// composition of existing primitives expresses at a sensible speed, and a hardware study wants to see it
// as its own event. Class: reduction (it reduces (T, C) scores per sequence to one number).
#include "ops/defs/ctc.h"

#include <cmath>
#include <limits>

#include "ops/composite/composite.h"
#include "ops/op_def.h"

namespace plumb {

namespace ops {

CtcLabels read_ctc_labels(std::string_view op, const Tensor& log_probs, const Tensor& targets,
                          const Tensor& input_lengths, const Tensor& target_lengths, int64_t blank) {
  const int64_t T = log_probs.size(0), N = log_probs.size(1), C = log_probs.size(2);
  CtcLabels l;
  l.targets = targets.to_vector<int64_t>();
  l.input_len = input_lengths.to_vector<int64_t>();
  l.target_len = target_lengths.to_vector<int64_t>();
  l.offset.resize(static_cast<size_t>(N));
  const bool padded = targets.dim() == 2;
  const int64_t S = padded ? targets.size(1) : targets.numel();
  int64_t next = 0;
  for (int64_t n = 0; n < N; ++n) {
    const int64_t il = l.input_len[n], tl = l.target_len[n];
    if (il < 0 || il > T)
      fail(op, ": input_lengths[", n, "] = ", il, " is outside [0, T] with T = ", T, " frames");
    if (tl < 0) fail(op, ": target_lengths[", n, "] = ", tl, " is negative");
    if (padded && tl > S)
      fail(op, ": target_lengths[", n, "] = ", tl, " exceeds the padded target length S = ", S);
    l.offset[n] = padded ? n * S : next;
    next += tl;
    if (!padded && next > S)
      fail(op, ": target_lengths sum to at least ", next, " (through item ", n, ") but the concatenated targets hold ",
           S, " labels");
    for (int64_t j = 0; j < tl; ++j) {
      const int64_t v = l.targets[l.offset[n] + j];
      if (v < 0 || v >= C)
        fail(op, ": target label ", v, " (item ", n, ", position ", j, ") is out of range [0, ", C, ")");
      if (v == blank) fail(op, ": target label ", v, " (item ", n, ", position ", j, ") is the blank index");
    }
  }
  return l;
}

namespace {

// Largest target length the shapes allow: S for padded (N, S) targets, ceil(numel / N) for concatenated ones.
int64_t label_bound(const TensorSpec& targets, int64_t n) {
  if (targets.shape.size() == 2) return targets.shape[1];
  return n == 0 ? 0 : (numel(targets.shape) + n - 1) / n;
}

// Lattice cells of the alpha (or beta) recursion: T * N * (2 S + 1), for the longest labels the shapes allow.
double lattice_cells(const TensorSpec& log_probs, const TensorSpec& targets) {
  const int64_t T = log_probs.shape[0], N = log_probs.shape[1];
  return static_cast<double>(T) * static_cast<double>(N) * static_cast<double>(2 * label_bound(targets, N) + 1);
}

// log_probs (T, N, C), targets (N, S) or 1-d, input_lengths (N), target_lengths (N).
void check_ctc_inputs(std::string_view op, std::span<const TensorSpec> in, const CtcAttrs& a) {
  check_same_device(op, in.subspan(0, 4));
  const TensorSpec &lp = in[0], &tg = in[1], &il = in[2], &tl = in[3];
  check_float(op, lp, "log_probs");
  if (lp.shape.size() != 3) fail(op, ": log_probs must be (T, N, C), got ", shape_str(lp.shape));
  const int64_t N = lp.shape[1], C = lp.shape[2];
  if (C < 1) fail(op, ": log_probs ", shape_str(lp.shape), " has no classes");
  composite::check_index(op, tg, "targets");
  composite::check_index(op, il, "input_lengths");
  composite::check_index(op, tl, "target_lengths");
  if (tg.shape.size() == 2) {
    if (tg.shape[0] != N)
      fail(op, ": padded targets ", shape_str(tg.shape), " must have N = ", N, " rows (log_probs ", shape_str(lp.shape),
           ")");
  } else if (tg.shape.size() != 1) {
    fail(op, ": targets must be (N, S) padded or 1-d concatenated, got ", shape_str(tg.shape));
  }
  if (il.shape != Shape{N}) fail(op, ": input_lengths must be (", N, "), got ", shape_str(il.shape));
  if (tl.shape != Shape{N}) fail(op, ": target_lengths must be (", N, "), got ", shape_str(tl.shape));
  if (a.blank < 0 || a.blank >= C) fail(op, ": blank ", a.blank, " is out of range [0, ", C, ")");
  composite::check_reduction(op, a.reduction);
}

std::vector<TensorSpec> infer_ctc_loss(std::span<const TensorSpec> in, const Attrs& attrs) {
  const auto& a = attrs_as<CtcAttrs>(attrs);
  check_ctc_inputs("ctc_loss", in, a);
  const TensorSpec& lp = in[0];
  if (a.reduction == "none") return {TensorSpec{{lp.shape[1]}, lp.dtype, lp.device}};
  return {TensorSpec{{}, lp.dtype, lp.device}};
}

// ctc_loss_backward(log_probs, targets, input_lengths, target_lengths, grad_loss) -> grad_log_probs (T, N, C);
// grad_loss has the loss's shape: (N) for reduction "none", () otherwise.
std::vector<TensorSpec> infer_ctc_loss_backward(std::span<const TensorSpec> in, const Attrs& attrs) {
  constexpr std::string_view op = "ctc_loss_backward";
  const auto& a = attrs_as<CtcAttrs>(attrs);
  check_ctc_inputs(op, in, a);
  check_same_device(op, in);
  const TensorSpec &lp = in[0], &g = in[4];
  check_float(op, g, "grad_loss");
  check_same_dtype(op, lp, g);
  const Shape want = a.reduction == "none" ? Shape{lp.shape[1]} : Shape{};
  if (g.shape != want)
    fail(op, ": grad_loss must have the loss's shape ", shape_str(want), " (reduction ", a.reduction, "), got ",
         shape_str(g.shape));
  return {lp};
}

// Per lattice cell the recursion log-adds up to three predecessors (2 max, 3 subtract, 3 exp, 2 add, 1 log,
// 1 add) and adds the emission: 12 FLOPs (docs/sequence_ops.md). The reduction adds its own few.
constexpr double kCellFlops = 12;

Cost cost_ctc_loss(std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs& attrs) {
  const auto& a = attrs_as<CtcAttrs>(attrs);
  const double n = static_cast<double>(in[0].shape[1]);
  double reduce = 0;
  if (a.reduction == "sum") reduce = n > 0 ? n - 1 : 0;
  if (a.reduction == "mean") reduce = 2 * n;
  return io_bytes(in, out, kCellFlops * lattice_cells(in[0], in[1]) + reduce);
}

// Alpha and beta (12 each per cell), their product log-added into the label's accumulator (4 per cell), and
// per (t, n, c) the gradient itself (add nll, subtract log_prob, exp, scale by the incoming gradient: 4).
Cost cost_ctc_loss_backward(std::span<const TensorSpec> in, std::span<const TensorSpec> out, const Attrs&) {
  const double cells = lattice_cells(in[0], in[1]);
  return io_bytes(in, out, (2 * kCellFlops + 4) * cells + 4 * elems_of(in[0]));
}

std::vector<Tensor> vjp_ctc_loss(const VjpArgs& v) {
  std::vector<Tensor> grads(4);
  if (v.needs_grad[0])
    grads[0] = call(PLUMB_OP("ctc_loss_backward"),
                    {v.inputs[0], v.inputs[1], v.inputs[2], v.inputs[3], v.grad_outputs[0]},
                    attrs_as<CtcAttrs>(v.attrs));
  return grads;
}

}  // namespace

void register_ctc_ops() {
  register_op(OpDef{
      .name = "ctc_loss",
      .op_class = OpClass::reduction,
      .min_inputs = 4,
      .max_inputs = 4,
      .make_attrs = attrs_factory<CtcAttrs>(),
      .infer = infer_ctc_loss,
      .cost = cost_ctc_loss,
      .vjp = vjp_ctc_loss,
      .differentiable = true,
      .doc = "connectionist temporal classification loss of (T, N, C) log-probabilities (blank, variable lengths)",
  });
  // Recomputes alpha and beta rather than keeping the forward's lattice: the forward stays one output.
  register_op(OpDef{
      .name = "ctc_loss_backward",
      .op_class = OpClass::reduction,
      .min_inputs = 5,
      .max_inputs = 5,
      .make_attrs = attrs_factory<CtcAttrs>(),
      .infer = infer_ctc_loss_backward,
      .cost = cost_ctc_loss_backward,
      .differentiable = false,
      .doc = "gradient of ctc_loss w.r.t. log_probs by the alpha-beta recursions",
  });
}

}  // namespace ops

Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, int64_t blank, const std::string& reduction, bool zero_infinity) {
  CtcAttrs a;
  a.blank = blank;
  a.reduction = reduction;
  a.zero_infinity = zero_infinity;
  return ops::call(PLUMB_OP("ctc_loss"), {log_probs, targets, input_lengths, target_lengths}, a);
}

std::vector<std::vector<int64_t>> ctc_greedy_decode(const Tensor& log_probs, const Tensor& input_lengths,
                                                    int64_t blank) {
  constexpr std::string_view op = "ctc_greedy_decode";
  if (!log_probs.defined() || !input_lengths.defined()) fail(op, ": log_probs and input_lengths must be defined");
  if (log_probs.device().type != DeviceType::cpu || input_lengths.device().type != DeviceType::cpu)
    fail(op, ": decoding reads values and needs CPU tensors, got ", log_probs.device().str(), " and ",
         input_lengths.device().str());
  ops::check_float(op, log_probs.spec(), "log_probs");
  ops::composite::check_index(op, input_lengths.spec(), "input_lengths");
  if (log_probs.dim() != 3) fail(op, ": log_probs must be (T, N, C), got ", shape_str(log_probs.shape()));
  const int64_t T = log_probs.size(0), N = log_probs.size(1), C = log_probs.size(2);
  if (input_lengths.shape() != Shape{N})
    fail(op, ": input_lengths must be (", N, "), got ", shape_str(input_lengths.shape()));
  if (blank < 0 || blank >= C) fail(op, ": blank ", blank, " is out of range [0, ", C, ")");
  const std::vector<double> lp = log_probs.to_vector<double>();  // (T, N, C) row-major
  const std::vector<int64_t> len = input_lengths.to_vector<int64_t>();
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) {
    if (len[n] < 0 || len[n] > T) fail(op, ": input_lengths[", n, "] = ", len[n], " is outside [0, ", T, "]");
    int64_t prev = -1;
    for (int64_t t = 0; t < len[n]; ++t) {
      const double* row = lp.data() + (t * N + n) * C;
      int64_t best = 0;  // first maximum on ties
      for (int64_t c = 1; c < C; ++c)
        if (row[c] > row[best]) best = c;
      if (best != blank && best != prev) out[n].push_back(best);
      prev = best;
    }
  }
  return out;
}

}  // namespace plumb
