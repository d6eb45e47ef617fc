#pragma once
// Shared helpers for CPU kernels. Not a public header.
#include <cstdint>
#include <vector>

#include "plumb/error.h"
#include "plumb/op.h"
#include "plumb/thread_pool.h"

namespace plumb::cpu {

// Calls f(T{}) for the float dtypes the reference kernels take (f32, f64).
template <class F>
void with_float(DType t, F&& f) {
  switch (t) {
    case DType::f32: f(float{}); break;
    case DType::f64: f(double{}); break;
    default: fail("cpu kernel: unsupported dtype ", dtype_name(t));
  }
}

// Calls f(T{}) for every numeric dtype kept in native C++ types (no f16/bf16).
template <class F>
void with_native(DType t, F&& f) {
  switch (t) {
    case DType::f64: f(double{}); break;
    case DType::f32: f(float{}); break;
    case DType::i64: f(int64_t{}); break;
    case DType::i32: f(int32_t{}); break;
    case DType::i8: f(int8_t{}); break;
    case DType::u8: f(uint8_t{}); break;
    case DType::boolean: f(bool{}); break;
    default: fail("cpu kernel: unsupported dtype ", dtype_name(t));
  }
}

inline const std::vector<DType> kFloatTypes = {DType::f32, DType::f64};
inline const std::vector<DType> kNativeTypes = {DType::f64, DType::f32, DType::i64, DType::i32,
                                                DType::i8,  DType::u8,  DType::boolean};

// ---- f16/bf16-aware helpers (elementwise and reduce kernels) ----

// Storage type S computes in Num<S>::C; f16/bf16 compute in float.
template <class S>
struct Num {
  using C = S;
  static C load(S v) { return v; }
  static S store(C v) { return v; }
};
template <>
struct Num<Half> {
  using C = float;
  static C load(Half v) { return f16_to_f32(v.bits); }
  static Half store(C v) { return Half{f32_to_f16(v)}; }
};
template <>
struct Num<BFloat16> {
  using C = float;
  static C load(BFloat16 v) { return bf16_to_f32(v.bits); }
  static BFloat16 store(C v) { return BFloat16{f32_to_bf16(v)}; }
};

// Calls f(T{}) for the floating dtypes, f16/bf16 as Half/BFloat16.
template <class F>
void with_floating(DType t, F&& f) {
  switch (t) {
    case DType::f64: f(double{}); break;
    case DType::f32: f(float{}); break;
    case DType::f16: f(Half{}); break;
    case DType::bf16: f(BFloat16{}); break;
    default: fail("cpu kernel: expected a floating dtype, got ", dtype_name(t));
  }
}
// Floating and integer dtypes, no bool.
template <class F>
void with_numeric(DType t, F&& f) {
  switch (t) {
    case DType::i64: f(int64_t{}); break;
    case DType::i32: f(int32_t{}); break;
    case DType::i8: f(int8_t{}); break;
    case DType::u8: f(uint8_t{}); break;
    default: with_floating(t, f);
  }
}
// Every dtype.
template <class F>
void with_any(DType t, F&& f) {
  if (t == DType::boolean) f(bool{});
  else with_numeric(t, f);
}

inline const std::vector<DType> kFloating = {DType::f64, DType::f32, DType::f16, DType::bf16};
inline const std::vector<DType> kNumeric = {DType::f64, DType::f32, DType::f16, DType::bf16,
                                            DType::i64, DType::i32, DType::i8,  DType::u8};
inline const std::vector<DType> kAll = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i64,
                                        DType::i32, DType::i8,  DType::u8,  DType::boolean};

// Strides of `t` aligned to an output of rank `rank` (leading broadcast dims get stride 0, as do size-1 dims).
inline std::vector<int64_t> broadcast_strides(const Tensor& t, size_t rank) {
  std::vector<int64_t> s(rank, 0);
  const size_t lead = rank - t.shape().size();
  for (size_t i = 0; i < t.shape().size(); ++i) s[lead + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return s;
}

// Element offset (in elements, relative to the tensor's data pointer) of linear index i of `shape`.
inline int64_t offset_of(int64_t i, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  int64_t off = 0;
  for (size_t d = shape.size(); d-- > 0;) {
    off += (i % shape[d]) * strides[d];
    i /= shape[d];
  }
  return off;
}

}  // namespace plumb::cpu
