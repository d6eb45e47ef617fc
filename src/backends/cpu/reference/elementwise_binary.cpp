// Reference elementwise kernels: binary arithmetic. See elementwise_loops.h for the iteration.
#include "backends/cpu/reference/elementwise_loops.h"

namespace plumb::backends::reference::elementwise {
namespace {

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

}  // namespace

void register_binary() {
  reg("add", kAll, &add_kernel);
  reg("sub", kNumeric, &sub_kernel);
  reg("mul", kAll, &mul_kernel);
  reg("div", kFloating, &div_kernel);
  reg("pow", kFloating, &pow_kernel);
  reg("maximum", kAll, &maximum_kernel);
  reg("minimum", kAll, &minimum_kernel);
}

}  // namespace plumb::backends::reference::elementwise
