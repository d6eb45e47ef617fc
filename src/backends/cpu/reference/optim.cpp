// Reference kernels for the optimizer updates: sgd_update, adam_update, rmsprop_update, adagrad_update.
// All tensors are contiguous and shaped like the parameter; each kernel makes one pass over memory,
// chunks spread over the thread pool, and follows PyTorch's operation order (torch.optim, 1.13).
//
// These run once per parameter per training step, so they are written to vectorize. GCC keeps std::sqrt
// scalar under the default -fmath-errno, so the ops that take a square root work in blocks of kBlock
// elements: a vectorized loop computes the new state and the sqrt argument into an L1-resident buffer,
// sqrt_block takes the roots with SIMD instructions (IEEE-exact, so results equal std::sqrt), and a second
// vectorized loop finishes the parameter while the block is still in cache.
#include <algorithm>
#include <cmath>
#include <type_traits>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "backends/cpu/cpu_util.h"
#include "backends/cpu/reference/reference.h"
#include "plumb/op_attrs.h"

namespace plumb::backends::reference {
namespace {

using cpu::kFloatTypes;
using cpu::with_float;

constexpr int64_t kGrain = 1 << 15;  // elements per parallel chunk at least
constexpr int64_t kBlock = 256;      // elements per sqrt block (a few KiB of stack)

// d[i] = sqrt(d[i]) for i < n.
template <class T>
void sqrt_block(T* d, int64_t n) {
  int64_t j = 0;
#if defined(__AVX__)
  if constexpr (std::is_same_v<T, float>)
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(d + j, _mm256_sqrt_ps(_mm256_loadu_ps(d + j)));
  else
    for (; j + 4 <= n; j += 4) _mm256_storeu_pd(d + j, _mm256_sqrt_pd(_mm256_loadu_pd(d + j)));
#elif defined(__SSE2__)
  if constexpr (std::is_same_v<T, float>)
    for (; j + 4 <= n; j += 4) _mm_storeu_ps(d + j, _mm_sqrt_ps(_mm_loadu_ps(d + j)));
  else
    for (; j + 2 <= n; j += 2) _mm_storeu_pd(d + j, _mm_sqrt_pd(_mm_loadu_pd(d + j)));
#endif
  for (; j < n; ++j) d[j] = std::sqrt(d[j]);
}

template <class T>
const T* in_ptr(const KernelArgs& a, size_t i) {
  return a.inputs[i].data<T>();
}
template <class T>
T* out_ptr(const KernelArgs& a, size_t i) {
  return a.outputs[i].data<T>();
}

// Runs body(begin, end) over the parameter's elements in parallel chunks.
template <class F>
void for_chunks(const KernelArgs& a, F&& body) {
  parallel_for(a.inputs[0].numel(), kGrain, [&](int64_t begin, int64_t end) { body(begin, end); });
}

// Each update is a chunk function over [begin, end) taking its pointers as restrict parameters and its
// scalars by value, so the compiler sees that stores cannot alias them and vectorizes the loops.

// ---- sgd_update: param, grad[, buf] -> param'[, buf'] ----
// g = grad + wd*p; buf' = momentum*buf + g; g = nesterov ? g + momentum*buf' : buf'; p' = p - lr*g.
template <class T>
void sgd_chunk(const T* __restrict p, const T* __restrict gr, const T* __restrict buf, T* __restrict po,
               T* __restrict bo, T lr, T wd, T mom, bool has_wd, bool nesterov, int64_t begin, int64_t end) {
  if (!buf) {
    if (has_wd)
      for (int64_t i = begin; i < end; ++i) po[i] = p[i] - lr * (gr[i] + wd * p[i]);
    else
      for (int64_t i = begin; i < end; ++i) po[i] = p[i] - lr * gr[i];
    return;
  }
  for (int64_t i = begin; i < end; ++i) {
    const T g = has_wd ? gr[i] + wd * p[i] : gr[i];
    const T nb = buf[i] * mom + g;
    bo[i] = nb;
    po[i] = p[i] - lr * (nesterov ? g + mom * nb : nb);
  }
}

template <class T>
void sgd_typed(const KernelArgs& a) {
  const auto& at = static_cast<const OptimAttrs&>(a.attrs);
  const bool has_buf = a.inputs.size() == 3;
  const T* p = in_ptr<T>(a, 0);
  const T* gr = in_ptr<T>(a, 1);
  const T* buf = has_buf ? in_ptr<T>(a, 2) : nullptr;
  T* po = out_ptr<T>(a, 0);
  T* bo = has_buf ? out_ptr<T>(a, 1) : nullptr;
  const T lr = static_cast<T>(at.lr), wd = static_cast<T>(at.weight_decay), mom = static_cast<T>(at.momentum);
  const bool has_wd = at.weight_decay != 0, nesterov = at.nesterov;
  for_chunks(a, [=](int64_t b, int64_t e) { sgd_chunk<T>(p, gr, buf, po, bo, lr, wd, mom, has_wd, nesterov, b, e); });
}

// ---- adam_update: param, grad, m, v -> param', m', v' ----
// AdamW first scales p by (1 - lr*wd); Adam adds wd*p to g. m' = b1*m + (1-b1)*g; v' = b2*v + (1-b2)*g*g;
// p' = p - lr/(1-b1^t) * m' / (sqrt(v') / sqrt(1-b2^t) + eps).
template <class T>
struct AdamScalars {
  T b1, b2, c1, c2, eps, step_size, bc2_sqrt, wd, decay;
  bool l2, decoupled;
};

template <class T>
void adam_chunk(const T* __restrict p, const T* __restrict gr, const T* __restrict m, const T* __restrict v,
                T* __restrict po, T* __restrict mo, T* __restrict vo, AdamScalars<T> k, int64_t begin, int64_t end) {
  const T b1 = k.b1, b2 = k.b2, c1 = k.c1, c2 = k.c2, eps = k.eps, step_size = k.step_size;
  const T bc2_sqrt = k.bc2_sqrt, wd = k.wd, decay = k.decay;
  const bool l2 = k.l2, decoupled = k.decoupled;
  T d[kBlock];
  for (int64_t s = begin; s < end; s += kBlock) {
    const int64_t n = std::min(kBlock, end - s);
    for (int64_t j = 0; j < n; ++j) {
      const int64_t i = s + j;
      const T g = l2 ? gr[i] + wd * p[i] : gr[i];
      mo[i] = m[i] * b1 + c1 * g;
      const T nv = v[i] * b2 + c2 * (g * g);
      vo[i] = nv;
      d[j] = nv;
    }
    sqrt_block(d, n);
    for (int64_t j = 0; j < n; ++j) {
      const int64_t i = s + j;
      const T pv = decoupled ? p[i] * decay : p[i];
      po[i] = pv - step_size * (mo[i] / (d[j] / bc2_sqrt + eps));
    }
  }
}

template <class T>
void adam_typed(const KernelArgs& a) {
  const auto& at = static_cast<const OptimAttrs&>(a.attrs);
  const double t = static_cast<double>(at.step);
  AdamScalars<T> k;
  k.b1 = static_cast<T>(at.beta1);
  k.b2 = static_cast<T>(at.beta2);
  k.c1 = static_cast<T>(1 - at.beta1);
  k.c2 = static_cast<T>(1 - at.beta2);
  k.eps = static_cast<T>(at.eps);
  k.step_size = static_cast<T>(at.lr / (1 - std::pow(at.beta1, t)));
  k.bc2_sqrt = static_cast<T>(std::sqrt(1 - std::pow(at.beta2, t)));
  k.wd = static_cast<T>(at.weight_decay);
  k.decay = static_cast<T>(1 - at.lr * at.weight_decay);
  k.l2 = at.weight_decay != 0 && !at.decoupled_weight_decay;
  k.decoupled = at.weight_decay != 0 && at.decoupled_weight_decay;
  const T* p = in_ptr<T>(a, 0);
  const T* gr = in_ptr<T>(a, 1);
  const T* m = in_ptr<T>(a, 2);
  const T* v = in_ptr<T>(a, 3);
  T* po = out_ptr<T>(a, 0);
  T* mo = out_ptr<T>(a, 1);
  T* vo = out_ptr<T>(a, 2);
  for_chunks(a, [=](int64_t b, int64_t e) { adam_chunk<T>(p, gr, m, v, po, mo, vo, k, b, e); });
}

// ---- rmsprop_update: param, grad, s[, buf] -> param', s'[, buf'] ----
// g = grad + wd*p; s' = alpha*s + (1-alpha)*g*g; avg = sqrt(s') + eps;
// buf' = momentum*buf + g/avg and p' = p - lr*buf', or without momentum p' = p - lr*g/avg.
template <class T>
void rmsprop_chunk(const T* __restrict p, const T* __restrict gr, const T* __restrict sq, const T* __restrict buf,
                   T* __restrict po, T* __restrict so, T* __restrict bo, T lr, T wd, T eps, T alpha, T c, T mom,
                   bool has_wd, int64_t begin, int64_t end) {
  T d[kBlock];
  for (int64_t s = begin; s < end; s += kBlock) {
    const int64_t n = std::min(kBlock, end - s);
    for (int64_t j = 0; j < n; ++j) {
      const int64_t i = s + j;
      const T g = has_wd ? gr[i] + wd * p[i] : gr[i];
      const T ns = sq[i] * alpha + c * (g * g);
      so[i] = ns;
      d[j] = ns;
    }
    sqrt_block(d, n);
    if (buf) {
      for (int64_t j = 0; j < n; ++j) {
        const int64_t i = s + j;
        const T g = has_wd ? gr[i] + wd * p[i] : gr[i];
        const T nb = buf[i] * mom + g / (d[j] + eps);
        bo[i] = nb;
        po[i] = p[i] - lr * nb;
      }
    } else {
      for (int64_t j = 0; j < n; ++j) {
        const int64_t i = s + j;
        const T g = has_wd ? gr[i] + wd * p[i] : gr[i];
        po[i] = p[i] - lr * (g / (d[j] + eps));
      }
    }
  }
}

template <class T>
void rmsprop_typed(const KernelArgs& a) {
  const auto& at = static_cast<const OptimAttrs&>(a.attrs);
  const bool has_buf = a.inputs.size() == 4;
  const T* p = in_ptr<T>(a, 0);
  const T* gr = in_ptr<T>(a, 1);
  const T* sq = in_ptr<T>(a, 2);
  const T* buf = has_buf ? in_ptr<T>(a, 3) : nullptr;
  T* po = out_ptr<T>(a, 0);
  T* so = out_ptr<T>(a, 1);
  T* bo = has_buf ? out_ptr<T>(a, 2) : nullptr;
  const T lr = static_cast<T>(at.lr), wd = static_cast<T>(at.weight_decay), eps = static_cast<T>(at.eps);
  const T alpha = static_cast<T>(at.alpha), c = static_cast<T>(1 - at.alpha), mom = static_cast<T>(at.momentum);
  const bool has_wd = at.weight_decay != 0;
  for_chunks(a, [=](int64_t b, int64_t e) {
    rmsprop_chunk<T>(p, gr, sq, buf, po, so, bo, lr, wd, eps, alpha, c, mom, has_wd, b, e);
  });
}

// ---- adagrad_update: param, grad, sum -> param', sum' ----
// g = grad + wd*p; sum' = sum + g*g; p' = p - lr * g / (sqrt(sum') + eps).
template <class T>
void adagrad_chunk(const T* __restrict p, const T* __restrict gr, const T* __restrict sum, T* __restrict po,
                   T* __restrict so, T lr, T wd, T eps, bool has_wd, int64_t begin, int64_t end) {
  T d[kBlock];
  for (int64_t s = begin; s < end; s += kBlock) {
    const int64_t n = std::min(kBlock, end - s);
    for (int64_t j = 0; j < n; ++j) {
      const int64_t i = s + j;
      const T g = has_wd ? gr[i] + wd * p[i] : gr[i];
      const T ns = sum[i] + g * g;
      so[i] = ns;
      d[j] = ns;
    }
    sqrt_block(d, n);
    for (int64_t j = 0; j < n; ++j) {
      const int64_t i = s + j;
      const T g = has_wd ? gr[i] + wd * p[i] : gr[i];
      po[i] = p[i] - lr * (g / (d[j] + eps));
    }
  }
}

template <class T>
void adagrad_typed(const KernelArgs& a) {
  const auto& at = static_cast<const OptimAttrs&>(a.attrs);
  const T* p = in_ptr<T>(a, 0);
  const T* gr = in_ptr<T>(a, 1);
  const T* sum = in_ptr<T>(a, 2);
  T* po = out_ptr<T>(a, 0);
  T* so = out_ptr<T>(a, 1);
  const T lr = static_cast<T>(at.lr), wd = static_cast<T>(at.weight_decay), eps = static_cast<T>(at.eps);
  const bool has_wd = at.weight_decay != 0;
  for_chunks(a, [=](int64_t b, int64_t e) { adagrad_chunk<T>(p, gr, sum, po, so, lr, wd, eps, has_wd, b, e); });
}

void sgd_kernel(const KernelArgs& a) {
  with_float(a.inputs[0].dtype(), [&](auto t) { sgd_typed<decltype(t)>(a); });
}
void adam_kernel(const KernelArgs& a) {
  with_float(a.inputs[0].dtype(), [&](auto t) { adam_typed<decltype(t)>(a); });
}
void rmsprop_kernel(const KernelArgs& a) {
  with_float(a.inputs[0].dtype(), [&](auto t) { rmsprop_typed<decltype(t)>(a); });
}
void adagrad_kernel(const KernelArgs& a) {
  with_float(a.inputs[0].dtype(), [&](auto t) { adagrad_typed<decltype(t)>(a); });
}

}  // namespace

void register_optim() {
  register_kernel(Kernel{"sgd_update", DeviceType::cpu, "reference", kFloatTypes, &sgd_kernel, 0, false});
  register_kernel(Kernel{"adam_update", DeviceType::cpu, "reference", kFloatTypes, &adam_kernel, 0, false});
  register_kernel(Kernel{"rmsprop_update", DeviceType::cpu, "reference", kFloatTypes, &rmsprop_kernel, 0, false});
  register_kernel(Kernel{"adagrad_update", DeviceType::cpu, "reference", kFloatTypes, &adagrad_kernel, 0, false});
}

}  // namespace plumb::backends::reference
