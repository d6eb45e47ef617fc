// Reference elementwise kernels. Inputs arrive with their own strides (strided_inputs): broadcasting and
// views cost no copy. Dims are coalesced so a contiguous same-shape call is one tight loop per chunk.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <type_traits>

#include "backends/cpu/cpu_util.h"
#include "backends/cpu/reference/reference.h"
#include "plumb/op_attrs.h"

namespace plumb::backends::reference {
namespace {

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

Plan make_plan(const Tensor& out, std::initializer_list<const Tensor*> inputs) {
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

// ---- kernels ----

// y = f(x) for float dtypes
template <class Fn>
void float_unary(const KernelArgs& a, Fn fn) {
  with_floating(a.inputs[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    unary_loop<T, T>(a.inputs[0], a.outputs[0], [&](typename Num<T>::C v) { return fn(v); });
  });
}

// y = f(x) for float and integer dtypes
template <class Fn>
void numeric_unary(const KernelArgs& a, Fn fn) {
  with_numeric(a.inputs[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    unary_loop<T, T>(a.inputs[0], a.outputs[0], [&](typename Num<T>::C v) { return fn(v); });
  });
}

void neg_kernel(const KernelArgs& a) {
  numeric_unary(a, [](auto v) { return wrap_neg(v); });
}
void exp_kernel(const KernelArgs& a) {
  float_unary(a, [](auto v) { return std::exp(v); });
}
void log_kernel(const KernelArgs& a) {
  float_unary(a, [](auto v) { return std::log(v); });
}
void sqrt_kernel(const KernelArgs& a) {
  float_unary(a, [](auto v) { return std::sqrt(v); });
}
void rsqrt_kernel(const KernelArgs& a) {
  float_unary(a, [](auto v) { return decltype(v)(1) / std::sqrt(v); });
}
void abs_kernel(const KernelArgs& a) {
  numeric_unary(a, [](auto v) {
    using C = decltype(v);
    if constexpr (std::is_floating_point_v<C>) return std::fabs(v);
    else if constexpr (std::is_unsigned_v<C>) return v;
    else return v < 0 ? wrap_neg(v) : v;
  });
}
void relu_kernel(const KernelArgs& a) {
  numeric_unary(a, [](auto v) { return v < decltype(v)(0) ? decltype(v)(0) : v; });  // NaN passes through
}
void sigmoid_kernel(const KernelArgs& a) {
  float_unary(a, [](auto v) {
    using C = decltype(v);
    if (v >= C(0)) return C(1) / (C(1) + std::exp(-v));
    const C e = std::exp(v);  // no overflow for large negative v
    return e / (C(1) + e);
  });
}
void tanh_kernel(const KernelArgs& a) {
  float_unary(a, [](auto v) { return std::tanh(v); });
}
void clamp_kernel(const KernelArgs& a) {
  const auto& c = static_cast<const ClampAttrs&>(a.attrs);
  float_unary(a, [lo = c.min, hi = c.max](auto v) {
    using C = decltype(v);
    const C l = static_cast<C>(lo), h = static_cast<C>(hi);
    return v < l ? l : (v > h ? h : v);
  });
}

void cast_kernel(const KernelArgs& a) {
  with_any(a.inputs[0].dtype(), [&](auto in_tag) {
    using A = decltype(in_tag);
    with_any(a.outputs[0].dtype(), [&](auto out_tag) {
      using O = decltype(out_tag);
      unary_loop<A, O>(a.inputs[0], a.outputs[0], [](typename Num<A>::C v) {
        return convert_value<typename Num<O>::C>(v);
      });
    });
  });
}

// y = f(a, b), y of the operands' dtype
template <class Fn>
void arith(const KernelArgs& a, Fn fn) {
  with_any(a.inputs[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = typename Num<T>::C;
    binary_loop<T, T>(a.inputs[0], a.inputs[1], a.outputs[0], [&](C x, C y) { return fn(x, y); });
  });
}
template <class Fn>
void numeric_arith(const KernelArgs& a, Fn fn) {
  with_numeric(a.inputs[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = typename Num<T>::C;
    binary_loop<T, T>(a.inputs[0], a.inputs[1], a.outputs[0], [&](C x, C y) { return fn(x, y); });
  });
}
template <class Fn>
void float_arith(const KernelArgs& a, Fn fn) {
  with_floating(a.inputs[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = typename Num<T>::C;
    binary_loop<T, T>(a.inputs[0], a.inputs[1], a.outputs[0], [&](C x, C y) { return fn(x, y); });
  });
}
// bool y = f(a, b)
template <class Fn>
void compare(const KernelArgs& a, Fn fn) {
  with_any(a.inputs[0].dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = typename Num<T>::C;
    binary_loop<T, bool>(a.inputs[0], a.inputs[1], a.outputs[0], [&](C x, C y) -> bool { return fn(x, y); });
  });
}

void add_kernel(const KernelArgs& a) {
  arith(a, [](auto x, auto y) { return wrap_add(x, y); });
}
void sub_kernel(const KernelArgs& a) {
  numeric_arith(a, [](auto x, auto y) { return wrap_sub(x, y); });
}
void mul_kernel(const KernelArgs& a) {
  arith(a, [](auto x, auto y) { return wrap_mul(x, y); });
}
void div_kernel(const KernelArgs& a) {
  float_arith(a, [](auto x, auto y) { return x / y; });
}
void pow_kernel(const KernelArgs& a) {
  float_arith(a, [](auto x, auto y) { return std::pow(x, y); });
}
// NaN in either operand propagates (as NumPy's maximum/minimum).
void maximum_kernel(const KernelArgs& a) {
  arith(a, [](auto x, auto y) { return (x > y || is_nan(x)) ? x : y; });
}
void minimum_kernel(const KernelArgs& a) {
  arith(a, [](auto x, auto y) { return (x < y || is_nan(x)) ? x : y; });
}
void eq_kernel(const KernelArgs& a) {
  compare(a, [](auto x, auto y) { return x == y; });
}
void ne_kernel(const KernelArgs& a) {
  compare(a, [](auto x, auto y) { return x != y; });
}
void lt_kernel(const KernelArgs& a) {
  compare(a, [](auto x, auto y) { return x < y; });
}
void le_kernel(const KernelArgs& a) {
  compare(a, [](auto x, auto y) { return x <= y; });
}
void gt_kernel(const KernelArgs& a) {
  compare(a, [](auto x, auto y) { return x > y; });
}
void ge_kernel(const KernelArgs& a) {
  compare(a, [](auto x, auto y) { return x >= y; });
}

// y = cond ? a : b, all three broadcast; raw copies, so f16/bf16 need no conversion.
void where_kernel(const KernelArgs& args) {
  const Tensor& cond = args.inputs[0];
  with_any(args.inputs[1].dtype(), [&](auto tag) {
    using T = decltype(tag);
    const Tensor& y = args.outputs[0];
    const Plan p = make_plan(y, {&cond, &args.inputs[1], &args.inputs[2]});
    if (p.n == 0) return;
    const bool* cp = cond.data<bool>();
    const T* ap = args.inputs[1].data<T>();
    const T* bp = args.inputs[2].data<T>();
    T* yp = y.data<T>();
    const int64_t sc = p.inner(1), sa = p.inner(2), sb = p.inner(3);
    for_each_row(p, [&](int64_t len, const int64_t* off) {
      T* o = yp + off[0];
      const bool* c = cp + off[1];
      const T* x = ap + off[2];
      const T* z = bp + off[3];
      if (sc == 1 && sa == 1 && sb == 1) {
        for (int64_t j = 0; j < len; ++j) o[j] = c[j] ? x[j] : z[j];
      } else {
        for (int64_t j = 0; j < len; ++j) o[j] = c[j * sc] ? x[j * sa] : z[j * sb];
      }
    });
  });
}

void reg(const char* op, const std::vector<DType>& dtypes, KernelFn fn) {
  register_kernel(Kernel{op, DeviceType::cpu, "reference", dtypes, fn, /*priority*/ 0, /*strided_inputs*/ true});
}

}  // namespace

void register_elementwise() {
  reg("neg", kNumeric, &neg_kernel);
  reg("exp", kFloating, &exp_kernel);
  reg("log", kFloating, &log_kernel);
  reg("sqrt", kFloating, &sqrt_kernel);
  reg("rsqrt", kFloating, &rsqrt_kernel);
  reg("abs", kNumeric, &abs_kernel);
  reg("relu", kNumeric, &relu_kernel);
  reg("sigmoid", kFloating, &sigmoid_kernel);
  reg("tanh", kFloating, &tanh_kernel);
  reg("clamp", kFloating, &clamp_kernel);
  reg("cast", kAll, &cast_kernel);
  reg("add", kAll, &add_kernel);
  reg("sub", kNumeric, &sub_kernel);
  reg("mul", kAll, &mul_kernel);
  reg("div", kFloating, &div_kernel);
  reg("pow", kFloating, &pow_kernel);
  reg("maximum", kAll, &maximum_kernel);
  reg("minimum", kAll, &minimum_kernel);
  reg("eq", kAll, &eq_kernel);
  reg("ne", kAll, &ne_kernel);
  reg("lt", kAll, &lt_kernel);
  reg("le", kAll, &le_kernel);
  reg("gt", kAll, &gt_kernel);
  reg("ge", kAll, &ge_kernel);
  reg("where", kAll, &where_kernel);
}

}  // namespace plumb::backends::reference
