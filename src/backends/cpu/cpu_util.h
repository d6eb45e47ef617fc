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
