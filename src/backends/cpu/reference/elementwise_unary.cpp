// Reference elementwise kernels: unary ops and cast. See elementwise_loops.h for the iteration.
#include "backends/cpu/reference/elementwise_loops.h"

namespace plumb::backends::reference::elementwise {
namespace {

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

}  // namespace

void register_unary() {
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
}

}  // namespace plumb::backends::reference::elementwise
