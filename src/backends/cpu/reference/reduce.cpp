// Reference reduction kernels: sum, mean, max, argmax. Inputs arrive with their own strides. Each output is
// computed by one thread in a fixed order (or, for a full reduction, in fixed-size blocks combined in order),
// so results do not depend on the thread count.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <type_traits>

#include "backends/cpu/cpu_util.h"
#include "backends/cpu/reference/reference.h"
#include "plumb/op_attrs.h"

namespace plumb::backends::reference {
namespace {

// From cpu_util.h: Num (f16/bf16 compute in float), the dtype switches and the dtype lists.
using cpu::Num;
using cpu::with_floating;
using cpu::with_any;
using cpu::kFloating;
using cpu::kAll;

template <class C>
bool is_nan(C v) {
  if constexpr (std::is_floating_point_v<C>) return std::isnan(v);
  else return false;
}

// Below every value: -inf for floats (so a run of -inf still has its max and first index), else the minimum.
template <class C>
C lowest() {
  if constexpr (std::numeric_limits<C>::has_infinity) return -std::numeric_limits<C>::infinity();
  else return std::numeric_limits<C>::lowest();
}

// ---- reduction ops: how to start, fold a run of elements, fold a row into per-column accumulators,
// merge two partial results, and produce the output ----

template <class T>
struct SumOp {
  using C = typename Num<T>::C;
  static constexpr bool kFloat = std::is_floating_point_v<C>;
  // Floats accumulate in double; integers in uint64 so overflow wraps (as NumPy) rather than being undefined.
  using Acc = std::conditional_t<kFloat, double, uint64_t>;
  using Out = std::conditional_t<kFloat, T, int64_t>;
  static Acc init() { return 0; }
  static Acc value(T v) {
    if constexpr (kFloat) return static_cast<double>(Num<T>::load(v));
    else return static_cast<uint64_t>(static_cast<int64_t>(v));
  }
  // Four partial sums break the add latency chain; the order is fixed, so results are reproducible.
  static void row(Acc& acc, const T* p, int64_t len, int64_t stride, int64_t) {
    Acc s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t j = 0;
    if (stride == 1) {
      for (; j + 4 <= len; j += 4) {
        s0 += value(p[j]);
        s1 += value(p[j + 1]);
        s2 += value(p[j + 2]);
        s3 += value(p[j + 3]);
      }
    }
    for (; j < len; ++j) s0 += value(p[j * stride]);
    acc += (s0 + s1) + (s2 + s3);
  }
  static void col(Acc* acc, const T* p, int64_t len, int64_t) {
    for (int64_t j = 0; j < len; ++j) acc[j] += value(p[j]);
  }
  static void merge(Acc& a, const Acc& b) { a += b; }
  static Out finish(const Acc& a, int64_t) {
    if constexpr (kFloat) return Num<T>::store(static_cast<C>(a));
    else return static_cast<int64_t>(a);
  }
};

template <class T>
struct MeanOp : SumOp<T> {
  using C = typename Num<T>::C;
  using Out = T;
  static Out finish(const double& a, int64_t count) { return Num<T>::store(static_cast<C>(a / count)); }
};

// NaN propagates: `v > m || v != v` lets a NaN in, and nothing compares greater than a NaN m, so it stays.
template <class T>
struct MaxOp {
  using C = typename Num<T>::C;
  using Acc = C;
  using Out = T;
  static Acc init() { return lowest<C>(); }
  static C pick(C m, C v) { return (v > m || is_nan(v)) ? v : m; }
  // Eight running maxima and a NaN flag: plain selects the compiler can vectorize, no dependent chain.
  static void row(Acc& acc, const T* p, int64_t len, int64_t stride, int64_t) {
    constexpr int kLanes = 8;
    C m[kLanes];
    for (C& x : m) x = acc;
    bool nan = false;
    int64_t j = 0;
    if (stride == 1) {
      for (; j + kLanes <= len; j += kLanes)
        for (int k = 0; k < kLanes; ++k) {
          const C v = Num<T>::load(p[j + k]);
          m[k] = v > m[k] ? v : m[k];
          nan |= is_nan(v);
        }
    }
    for (; j < len; ++j) {
      const C v = Num<T>::load(p[j * stride]);
      m[0] = v > m[0] ? v : m[0];
      nan |= is_nan(v);
    }
    for (int k = 1; k < kLanes; ++k) m[0] = m[k] > m[0] ? m[k] : m[0];
    acc = nan ? std::numeric_limits<C>::quiet_NaN() : pick(acc, m[0]);
  }
  static void col(Acc* acc, const T* p, int64_t len, int64_t) {
    for (int64_t j = 0; j < len; ++j) acc[j] = pick(acc[j], Num<T>::load(p[j]));
  }
  static void merge(Acc& a, const Acc& b) { a = pick(a, b); }
  static Out finish(const Acc& a, int64_t) { return Num<T>::store(a); }
};

// The first maximum wins; the first NaN beats everything (as NumPy).
template <class T>
struct ArgmaxOp {
  using C = typename Num<T>::C;
  struct Acc {
    C v;
    int64_t i;
  };
  using Out = int64_t;
  static Acc init() { return {lowest<C>(), 0}; }
  static void fold(Acc& a, C v, int64_t i) {
    if (!is_nan(a.v) && (v > a.v || is_nan(v))) a = {v, i};
  }
  // One compare per element: !(v <= best) is "greater, or NaN"; the first NaN ends the run.
  static void row(Acc& acc, const T* p, int64_t len, int64_t stride, int64_t idx0) {
    if (is_nan(acc.v)) return;
    C best = acc.v;
    int64_t at = -1;
    for (int64_t j = 0; j < len; ++j) {
      const C v = Num<T>::load(p[j * stride]);
      if (!(v <= best)) {
        best = v;
        at = j;
        if (is_nan(v)) break;
      }
    }
    if (at >= 0) acc = {best, idx0 + at};
  }
  static void col(Acc* acc, const T* p, int64_t len, int64_t idx) {
    for (int64_t j = 0; j < len; ++j) fold(acc[j], Num<T>::load(p[j]), idx);
  }
  static void merge(Acc& a, const Acc& b) { fold(a, b.v, b.i); }  // b covers later indices
  static Out finish(const Acc& a, int64_t) { return a.i; }
};

// ---- iteration ----

struct Dims {
  std::vector<int64_t> size, stride;
  int64_t count() const {
    int64_t n = 1;
    for (int64_t s : size) n *= s;
    return n;
  }
};

// Appends a dim, merging it into the previous one when the pair is one run in memory.
void push_dim(Dims& d, int64_t size, int64_t stride) {
  if (size == 1) return;
  if (!d.size.empty() && d.stride.back() == stride * size) {
    d.size.back() *= size;
    d.stride.back() = stride;
    return;
  }
  d.size.push_back(size);
  d.stride.push_back(stride);
}

// Element offset of linear index i over `d`.
int64_t offset_in(const Dims& d, int64_t i) {
  int64_t off = 0;
  for (size_t k = d.size.size(); k-- > 0;) {
    off += (i % d.size[k]) * d.stride[k];
    i /= d.size[k];
  }
  return off;
}

// Walks the offsets of `d` in row-major order without division.
struct Odometer {
  const Dims& d;
  std::vector<int64_t> idx;
  int64_t offset = 0;
  Odometer(const Dims& dims, int64_t start) : d(dims), idx(dims.size.size()) {
    for (size_t k = d.size.size(); k-- > 0;) {
      idx[k] = start % d.size[k];
      start /= d.size[k];
      offset += idx[k] * d.stride[k];
    }
  }
  void next() {
    for (size_t k = d.size.size(); k-- > 0;) {
      offset += d.stride[k];
      if (++idx[k] < d.size[k]) return;
      offset -= idx[k] * d.stride[k];
      idx[k] = 0;
    }
  }
};

constexpr int64_t kGrain = 1 << 15;     // input elements per parallel chunk, at least
constexpr int64_t kBlock = 1 << 15;     // block of a full reduction; fixed, so thread count never matters
constexpr int64_t kColumns = 256;       // accumulators per task when reducing over outer axes

// y: kept dims of x in order (contiguous); reduces the axes flagged in `reduced`.
template <class Op, class T>
void run_reduce(const Tensor& x, const Tensor& y, const std::vector<bool>& reduced) {
  using Acc = typename Op::Acc;
  using Out = typename Op::Out;
  Dims kept, red;
  for (size_t d = 0; d < x.shape().size(); ++d)
    push_dim(reduced[d] ? red : kept, x.shape()[d], x.strides()[d]);
  const int64_t n_out = kept.count(), n_red = red.count();
  if (n_out == 0) return;
  Out* out = y.data<Out>();
  if (n_red == 0) {  // empty extent: the identity (sum 0, mean NaN); max/argmax reject it in infer
    for (int64_t o = 0; o < n_out; ++o) out[o] = Op::finish(Op::init(), 0);
    return;
  }
  const T* xp = x.data<T>();
  const int64_t inner = red.size.empty() ? 1 : red.size.back();
  const int64_t inner_stride = red.size.empty() ? 1 : red.stride.back();

  // Reducing over outer axes of a contiguous row: fold whole rows into per-column accumulators (vectorizes).
  if (!kept.size.empty() && kept.stride.back() == 1 && !red.size.empty() && inner_stride != 1) {
    const int64_t cols = kept.size.back();
    Dims outer = kept;
    outer.size.pop_back();
    outer.stride.pop_back();
    const int64_t blocks = (cols + kColumns - 1) / kColumns;
    const int64_t tasks = outer.count() * blocks;
    parallel_for(tasks, std::max<int64_t>(1, kGrain / (n_red * kColumns)), [&](int64_t begin, int64_t end) {
      std::array<Acc, kColumns> acc;
      for (int64_t t = begin; t < end; ++t) {
        const int64_t o = t / blocks, c0 = (t % blocks) * kColumns;
        const int64_t len = std::min(kColumns, cols - c0);
        const T* base = xp + offset_in(outer, o) + c0;
        std::fill(acc.begin(), acc.begin() + len, Op::init());
        Odometer r(red, 0);
        for (int64_t i = 0; i < n_red; ++i, r.next()) Op::col(acc.data(), base + r.offset, len, i);
        for (int64_t j = 0; j < len; ++j) out[o * cols + c0 + j] = Op::finish(acc[j], n_red);
      }
    });
    return;
  }

  // One output over one long contiguous-stride run: fixed blocks in parallel, merged in order.
  if (n_out == 1 && red.size.size() == 1 && n_red >= 2 * kBlock) {
    const int64_t blocks = (n_red + kBlock - 1) / kBlock;
    std::unique_ptr<Acc[]> part(new Acc[static_cast<size_t>(blocks)]);  // not vector: vector<bool> packs bits
    std::fill(part.get(), part.get() + blocks, Op::init());
    const T* base = xp;  // n_out == 1: no kept dims
    parallel_for(blocks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const int64_t i0 = b * kBlock, len = std::min(kBlock, n_red - i0);
        Op::row(part[b], base + i0 * inner_stride, len, inner_stride, i0);
      }
    });
    Acc acc = part[0];
    for (int64_t b = 1; b < blocks; ++b) Op::merge(acc, part[b]);
    out[0] = Op::finish(acc, n_red);
    return;
  }

  // Reducing over inner axes: each output folds its runs along the innermost reduced dim.
  Dims red_outer = red;
  if (!red_outer.size.empty()) {
    red_outer.size.pop_back();
    red_outer.stride.pop_back();
  }
  const int64_t n_runs = red_outer.count();
  parallel_for(n_out, std::max<int64_t>(1, kGrain / n_red), [&](int64_t begin, int64_t end) {
    Odometer o(kept, begin);
    for (int64_t i = begin; i < end; ++i, o.next()) {
      Acc acc = Op::init();
      Odometer r(red_outer, 0);
      for (int64_t k = 0; k < n_runs; ++k, r.next())
        Op::row(acc, xp + o.offset + r.offset, inner, inner_stride, k * inner);
      out[i] = Op::finish(acc, n_red);
    }
  });
}

std::vector<bool> reduce_mask(const Tensor& x, const std::vector<int64_t>& axes) {
  const int64_t rank = x.dim();
  std::vector<bool> mask(static_cast<size_t>(rank), axes.empty());
  for (int64_t a : axes) mask[static_cast<size_t>(a < 0 ? a + rank : a)] = true;
  return mask;
}

void sum_kernel(const KernelArgs& a) {
  const auto& attrs = static_cast<const ReduceAttrs&>(a.attrs);
  with_any(a.inputs[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    run_reduce<SumOp<T>, T>(a.inputs[0], a.outputs[0], reduce_mask(a.inputs[0], attrs.axes));
  });
}

void mean_kernel(const KernelArgs& a) {
  const auto& attrs = static_cast<const ReduceAttrs&>(a.attrs);
  with_floating(a.inputs[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    run_reduce<MeanOp<T>, T>(a.inputs[0], a.outputs[0], reduce_mask(a.inputs[0], attrs.axes));
  });
}

void max_kernel(const KernelArgs& a) {
  const auto& attrs = static_cast<const ReduceAttrs&>(a.attrs);
  with_any(a.inputs[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    run_reduce<MaxOp<T>, T>(a.inputs[0], a.outputs[0], reduce_mask(a.inputs[0], attrs.axes));
  });
}

void argmax_kernel(const KernelArgs& a) {
  const auto& attrs = static_cast<const ArgReduceAttrs&>(a.attrs);
  with_any(a.inputs[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    run_reduce<ArgmaxOp<T>, T>(a.inputs[0], a.outputs[0], reduce_mask(a.inputs[0], {attrs.axis}));
  });
}

void reg(const char* op, const std::vector<DType>& dtypes, KernelFn fn) {
  register_kernel(Kernel{op, DeviceType::cpu, "reference", dtypes, fn, /*priority*/ 0, /*strided_inputs*/ true});
}

}  // namespace

void register_reduce() {
  reg("sum", kAll, &sum_kernel);
  reg("mean", kFloating, &mean_kernel);
  reg("max", kAll, &max_kernel);
  reg("argmax", kAll, &argmax_kernel);
}

}  // namespace plumb::backends::reference
