// Reference CTC kernels: the alpha/beta recursions of Graves et al. (2006) in log space, one batch item
// per task. Both dtypes accumulate in double; labels are validated on the calling thread first.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/cpu_util.h"
#include "backends/cpu/reference/reference.h"
#include "ops/defs/ctc.h"
#include "ops/op_def.h"

namespace plumb::backends::reference {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

double log_add(double a, double b) {
  const double m = std::max(a, b);
  if (m == kNegInf) return kNegInf;
  return m + std::log(std::exp(a - m) + std::exp(b - m));
}

double log_add3(double a, double b, double c) {
  const double m = std::max({a, b, c});
  if (m == kNegInf) return kNegInf;
  return m + std::log(std::exp(a - m) + std::exp(b - m) + std::exp(c - m));
}

// One batch item n of log_probs (T, N, C): its extended label sequence l' = (blank, l1, blank, ..., lL, blank).
template <class T>
struct Item {
  const T* lp;
  int64_t N, C, n, frames, blank;
  const int64_t* labels;
  int64_t L;
  int64_t width() const { return 2 * L + 1; }
  int64_t label(int64_t s) const { return s % 2 == 0 ? blank : labels[s / 2]; }
  double at(int64_t t, int64_t c) const { return static_cast<double>(lp[(t * N + n) * C + c]); }
  // A label may skip the blank before it unless it repeats the previous label.
  bool can_skip(int64_t s) const { return s % 2 == 1 && s >= 2 && labels[s / 2] != labels[s / 2 - 1]; }
};

// Cells of frame t on a complete path: reachable from the start (s <= 2t + 1) and able to reach the end
// (s >= W - 2 (F - t)). The others stay -inf in alpha and beta; they contribute to neither loss nor gradient.
int64_t first_cell(int64_t W, int64_t F, int64_t t) { return std::max<int64_t>(0, W - 2 * (F - t)); }
int64_t last_cell(int64_t W, int64_t t) { return std::min<int64_t>(W, 2 * t + 2); }

// log alpha_t(s), (frames, 2L+1) row-major; returns log p(l | x).
template <class T>
double forward(const Item<T>& it, std::vector<double>& la) {
  const int64_t W = it.width(), F = it.frames;
  if (F == 0) return it.L == 0 ? 0.0 : kNegInf;
  la.assign(static_cast<size_t>(F * W), kNegInf);
  la[0] = it.at(0, it.blank);
  if (it.L > 0) la[1] = it.at(0, it.label(1));
  for (int64_t t = 1; t < F; ++t) {
    const double* prev = la.data() + (t - 1) * W;
    double* cur = la.data() + t * W;
    for (int64_t s = first_cell(W, F, t); s < last_cell(W, t); ++s) {
      const double a = prev[s], b = s > 0 ? prev[s - 1] : kNegInf, c = it.can_skip(s) ? prev[s - 2] : kNegInf;
      cur[s] = log_add3(a, b, c) + it.at(t, it.label(s));
    }
  }
  const double* last = la.data() + (F - 1) * W;
  return it.L > 0 ? log_add(last[W - 1], last[W - 2]) : last[W - 1];
}

// log beta_t(s) including the emission at t (as alpha does), (frames, 2L+1) row-major.
template <class T>
void backward(const Item<T>& it, std::vector<double>& lb) {
  const int64_t W = it.width(), F = it.frames;
  if (F == 0) return;
  lb.assign(static_cast<size_t>(F * W), kNegInf);
  lb[(F - 1) * W + W - 1] = it.at(F - 1, it.blank);
  if (it.L > 0) lb[(F - 1) * W + W - 2] = it.at(F - 1, it.label(W - 2));
  for (int64_t t = F - 2; t >= 0; --t) {
    const double* next = lb.data() + (t + 1) * W;
    double* cur = lb.data() + t * W;
    for (int64_t s = first_cell(W, F, t); s < last_cell(W, t); ++s) {
      const double a = next[s], b = s + 1 < W ? next[s + 1] : kNegInf,
                   c = s + 2 < W && it.can_skip(s + 2) ? next[s + 2] : kNegInf;
      cur[s] = log_add3(a, b, c) + it.at(t, it.label(s));
    }
  }
}

template <class T>
Item<T> item_of(const T* lp, const Shape& shape, const ops::CtcLabels& l, int64_t n, int64_t blank) {
  return Item<T>{lp, shape[1], shape[2], n, l.input_len[n], blank, l.targets.data() + l.offset[n], l.target_len[n]};
}

// Batch items in parallel; an item's lattice is at most T * (2S + 1) doubles.
template <class F>
void for_each_item(int64_t n, F&& f) {
  parallel_for(n, 1, [&](int64_t b0, int64_t b1) {
    std::vector<double> la, lb, acc;
    for (int64_t b = b0; b < b1; ++b) f(b, la, lb, acc);
  });
}

// inputs: log_probs (T, N, C), targets, input_lengths (N), target_lengths (N) -> loss () or (N).
void ctc_loss_kernel(const KernelArgs& args) {
  const auto& a = ops::attrs_as<CtcAttrs>(args.attrs);
  const Tensor& lp_t = args.inputs[0];
  const ops::CtcLabels l =
      ops::read_ctc_labels("ctc_loss", lp_t, args.inputs[1], args.inputs[2], args.inputs[3], a.blank);
  const int64_t N = lp_t.size(1);
  std::vector<double> nll(static_cast<size_t>(N));
  cpu::with_float(lp_t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* lp = lp_t.data<T>();
    for_each_item(N, [&](int64_t n, std::vector<double>& la, std::vector<double>&, std::vector<double>&) {
      nll[n] = -forward(item_of(lp, lp_t.shape(), l, n, a.blank), la);
      if (a.zero_infinity && std::isinf(nll[n])) nll[n] = 0;
    });
    T* out = args.outputs[0].data<T>();
    if (a.reduction == "none") {
      for (int64_t n = 0; n < N; ++n) out[n] = static_cast<T>(nll[n]);
      return;
    }
    double total = 0;
    for (int64_t n = 0; n < N; ++n)
      total += a.reduction == "mean" ? nll[n] / static_cast<double>(std::max<int64_t>(l.target_len[n], 1)) : nll[n];
    // torch: the mean of the length-normalized losses (0/0 = nan for an empty batch).
    out[0] = static_cast<T>(a.reduction == "mean" ? total / static_cast<double>(N) : total);
  });
}

// inputs: log_probs (T, N, C), targets, input_lengths, target_lengths, grad_loss () or (N) -> (T, N, C).
// d nll / d log_probs[t, n, c] = -exp(log sum_{s: l'_s = c} alpha_t(s) beta_t(s) + nll - log_probs[t, n, c]).
void ctc_loss_backward_kernel(const KernelArgs& args) {
  const auto& a = ops::attrs_as<CtcAttrs>(args.attrs);
  const Tensor& lp_t = args.inputs[0];
  const ops::CtcLabels l =
      ops::read_ctc_labels("ctc_loss_backward", lp_t, args.inputs[1], args.inputs[2], args.inputs[3], a.blank);
  const int64_t T_max = lp_t.size(0), N = lp_t.size(1), C = lp_t.size(2);
  const std::vector<double> g_out = args.inputs[4].to_vector<double>();
  cpu::with_float(lp_t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* lp = lp_t.data<T>();
    T* out = args.outputs[0].data<T>();
    for_each_item(N, [&](int64_t n, std::vector<double>& la, std::vector<double>& lb, std::vector<double>& acc) {
      const Item<T> it = item_of(lp, lp_t.shape(), l, n, a.blank);
      double g = a.reduction == "none" ? g_out[n] : g_out[0];
      if (a.reduction == "mean")
        g /= static_cast<double>(std::max<int64_t>(l.target_len[n], 1)) * static_cast<double>(N);
      const double nll = -forward(it, la);
      // Frames past the input length do not enter the loss.
      for (int64_t t = it.frames; t < T_max; ++t)
        for (int64_t c = 0; c < C; ++c) out[(t * N + n) * C + c] = T(0);
      if (std::isinf(nll)) {
        // An impossible alignment: zero_infinity zeroes its gradient; otherwise it is undefined (nan, as torch).
        const T fill = a.zero_infinity ? T(0) : std::numeric_limits<T>::quiet_NaN();
        for (int64_t t = 0; t < it.frames; ++t)
          for (int64_t c = 0; c < C; ++c) out[(t * N + n) * C + c] = fill;
        return;
      }
      backward(it, lb);
      const int64_t W = it.width();
      acc.resize(static_cast<size_t>(C));
      for (int64_t t = 0; t < it.frames; ++t) {
        std::fill(acc.begin(), acc.end(), kNegInf);
        for (int64_t s = 0; s < W; ++s) {
          double& slot = acc[it.label(s)];
          slot = log_add(slot, la[t * W + s] + lb[t * W + s]);
        }
        for (int64_t c = 0; c < C; ++c) {
          // Classes on no surviving path get exactly 0 (also when their log_prob is -inf).
          const double d = acc[c] == kNegInf ? 0.0 : -std::exp(acc[c] + nll - it.at(t, c));
          out[(t * N + n) * C + c] = static_cast<T>(d * g);
        }
      }
    });
  });
}

}  // namespace

void register_ctc() {
  register_kernel(Kernel{"ctc_loss", DeviceType::cpu, "reference", cpu::kFloatTypes, &ctc_loss_kernel, 0, false});
  register_kernel(Kernel{"ctc_loss_backward", DeviceType::cpu, "reference", cpu::kFloatTypes,
                         &ctc_loss_backward_kernel, 0, false});
}

}  // namespace plumb::backends::reference
