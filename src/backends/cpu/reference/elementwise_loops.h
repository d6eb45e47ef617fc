#pragma once
// Shared by the reference elementwise kernels (unary, binary, compare): strided iteration with
// coalesced dims and NumPy-style wrapping scalar arithmetic. Not a public header.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <type_traits>

#include "backends/cpu/cpu_util.h"
#include "plumb/op_attrs.h"

namespace plumb::backends::reference::elementwise {

// From cpu_util.h: Num (f16/bf16 compute in float), the dtype switches and the dtype lists.
using cpu::Num;
using cpu::with_floating;
using cpu::with_numeric;
using cpu::with_any;
using cpu::kFloating;
using cpu::kNumeric;
using cpu::kAll;

// ---- iteration ----

constexpr int kMaxOperands = 4;        // output + up to three inputs (where)
constexpr int64_t kGrain = 1 << 15;    // elements per parallel chunk, at least

// The output's dims with size-1 dims dropped and neighbours merged where every operand allows it.
struct Plan {
  int64_t n = 0;
  int operands = 0;                                   // operand 0 is the output
  std::vector<int64_t> shape;                         // outermost first; at least one dim
  std::vector<std::array<int64_t, kMaxOperands>> strides;  // per dim, per operand (elements)
  int64_t inner(int k) const { return strides.back()[k]; }
};

inline Plan make_plan(const Tensor& out, std::initializer_list<const Tensor*> inputs) {
  const size_t rank = out.shape().size();
  Plan p;
  p.n = out.numel();
  p.operands = 1 + static_cast<int>(inputs.size());
  std::vector<std::vector<int64_t>> st;
  st.push_back(contiguous_strides(out.shape()));
  for (const Tensor* t : inputs) st.push_back(cpu::broadcast_strides(*t, rank));
  for (size_t d = 0; d < rank; ++d) {
    const int64_t size = out.shape()[d];
    if (size == 1) continue;
    std::array<int64_t, kMaxOperands> s{};
    for (int k = 0; k < p.operands; ++k) s[k] = st[k][d];
    bool merge = !p.shape.empty();
    for (int k = 0; merge && k < p.operands; ++k) merge = p.strides.back()[k] == s[k] * size;
    if (merge) {
      p.shape.back() *= size;
      p.strides.back() = s;
    } else {
      p.shape.push_back(size);
      p.strides.push_back(s);
    }
  }
  if (p.shape.empty()) {  // 0-d or all size-1: one element
    p.shape.push_back(1);
    p.strides.push_back({});
  }
  return p;
}

// Calls row(len, offsets) for runs along the innermost dim; offsets are per operand, in elements.
template <class RowFn>
void for_each_row(const Plan& p, RowFn&& row) {
  if (p.n == 0) return;
  const size_t nd = p.shape.size();
  const int64_t inner = p.shape.back();
  parallel_for(p.n, kGrain, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> idx(nd);
    std::array<int64_t, kMaxOperands> off{};
    int64_t rem = begin;
    for (size_t d = nd; d-- > 0;) {
      idx[d] = rem % p.shape[d];
      rem /= p.shape[d];
      for (int k = 0; k < p.operands; ++k) off[k] += idx[d] * p.strides[d][k];
    }
    int64_t i = begin;
    while (i < end) {
      const int64_t len = std::min(inner - idx[nd - 1], end - i);
      row(len, off.data());
      i += len;
      idx[nd - 1] += len;
      for (int k = 0; k < p.operands; ++k) off[k] += len * p.strides[nd - 1][k];
      for (size_t d = nd - 1; d > 0 && idx[d] == p.shape[d]; --d) {  // carry
        for (int k = 0; k < p.operands; ++k) off[k] += p.strides[d - 1][k] - idx[d] * p.strides[d][k];
        idx[d] = 0;
        ++idx[d - 1];
      }
    }
  });
}

// y = f(x); f maps Num<A>::C to Num<O>::C.
template <class A, class O, class F>
void unary_loop(const Tensor& x, const Tensor& y, F f) {
  const Plan p = make_plan(y, {&x});
  if (p.n == 0) return;
  const A* xp = x.data<A>();
  O* yp = y.data<O>();
  const int64_t sx = p.inner(1);
  for_each_row(p, [&](int64_t len, const int64_t* off) {
    O* o = yp + off[0];
    const A* a = xp + off[1];
    if (sx == 1) {
      for (int64_t j = 0; j < len; ++j) o[j] = Num<O>::store(f(Num<A>::load(a[j])));
    } else if (sx == 0) {
      const O v = Num<O>::store(f(Num<A>::load(a[0])));
      for (int64_t j = 0; j < len; ++j) o[j] = v;
    } else {
      for (int64_t j = 0; j < len; ++j) o[j] = Num<O>::store(f(Num<A>::load(a[j * sx])));
    }
  });
}

// y = f(a, b) with broadcasting; specialised inner loops for contiguous and scalar-broadcast operands.
template <class A, class O, class F>
void binary_loop(const Tensor& a, const Tensor& b, const Tensor& y, F f) {
  const Plan p = make_plan(y, {&a, &b});
  if (p.n == 0) return;
  const A* ap = a.data<A>();
  const A* bp = b.data<A>();
  O* yp = y.data<O>();
  const int64_t sa = p.inner(1), sb = p.inner(2);
  using L = Num<A>;
  for_each_row(p, [&](int64_t len, const int64_t* off) {
    O* o = yp + off[0];
    const A* x = ap + off[1];
    const A* z = bp + off[2];
    if (sa == 1 && sb == 1) {
      for (int64_t j = 0; j < len; ++j) o[j] = Num<O>::store(f(L::load(x[j]), L::load(z[j])));
    } else if (sa == 1 && sb == 0) {
      const auto zv = L::load(z[0]);
      for (int64_t j = 0; j < len; ++j) o[j] = Num<O>::store(f(L::load(x[j]), zv));
    } else if (sa == 0 && sb == 1) {
      const auto xv = L::load(x[0]);
      for (int64_t j = 0; j < len; ++j) o[j] = Num<O>::store(f(xv, L::load(z[j])));
    } else {
      for (int64_t j = 0; j < len; ++j) o[j] = Num<O>::store(f(L::load(x[j * sa]), L::load(z[j * sb])));
    }
  });
}

// ---- scalar arithmetic; integer overflow wraps (as NumPy) instead of being undefined ----

template <class C>
C wrap_add(C a, C b) {
  if constexpr (std::is_same_v<C, bool>) return a || b;
  else if constexpr (std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  } else return a + b;
}
template <class C>
C wrap_sub(C a, C b) {
  if constexpr (std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    return static_cast<C>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
  } else return a - b;
}
template <class C>
C wrap_mul(C a, C b) {
  if constexpr (std::is_same_v<C, bool>) return a && b;
  else if constexpr (std::is_integral_v<C>) {
    using U = std::make_unsigned_t<C>;
    using W = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;  // no signed promotion
    return static_cast<C>(static_cast<U>(static_cast<W>(static_cast<U>(a)) * static_cast<W>(static_cast<U>(b))));
  } else return a * b;
}
template <class C>
C wrap_neg(C a) {
  return wrap_sub(C(0), a);
}

template <class C>
bool is_nan(C v) {
  if constexpr (std::is_floating_point_v<C>) return std::isnan(v);
  else return false;
}

// Value conversion for cast. Float to integer truncates toward zero, saturates out of range and maps NaN to 0
// (C++ leaves all three undefined); anything to bool is v != 0.
template <class To, class From>
To convert_value(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (std::isnan(v)) return To(0);
    if (v <= static_cast<From>(std::numeric_limits<To>::lowest())) return std::numeric_limits<To>::lowest();
    if (v >= static_cast<From>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
    return static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

inline void reg(const char* op, const std::vector<DType>& dtypes, KernelFn fn) {
  register_kernel(Kernel{op, DeviceType::cpu, "reference", dtypes, fn, /*priority*/ 0, /*strided_inputs*/ true});
}

void register_unary();
void register_binary();
void register_compare();

}  // namespace plumb::backends::reference::elementwise
