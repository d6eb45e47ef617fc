#pragma once
// Small helpers shared by the direct op tests (tests/ops/*_test.cpp): tensors from literals and
// deterministic fills, values as f64, and the message of an expected plumb::Error. Header-only.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "plumb/error.h"
#include "plumb/tensor.h"

namespace plumb::test_util {

inline Tensor f32(const std::vector<float>& v, Shape s) { return Tensor::from_vector(v, std::move(s)); }
inline Tensor f64(const std::vector<double>& v, Shape s) { return Tensor::from_vector(v, std::move(s)); }
inline Tensor i64(const std::vector<int64_t>& v, Shape s) { return Tensor::from_vector(v, std::move(s)); }
inline Tensor idx(const std::vector<int64_t>& v, Shape s) { return i64(v, std::move(s)); }  // an index tensor
inline Tensor of_dtype(const std::vector<double>& v, Shape s, DType t) {
  Tensor out = Tensor::empty(std::move(s), t);
  for (size_t i = 0; i < v.size(); ++i) set_element_from_double(out, static_cast<int64_t>(i), v[i]);
  return out;
}
// f64 values, converted to `dtype` through a f64 tensor.
inline Tensor vec(std::vector<double> v, Shape shape, DType dtype = DType::f64) {
  Tensor t = Tensor::from_vector(v, std::move(shape));
  if (dtype == DType::f64) return t;
  Tensor out = Tensor::empty(t.shape(), dtype);
  for (int64_t i = 0; i < t.numel(); ++i) set_element_from_double(out, i, element_as_double(t, i));
  return out;
}
// 0, 1, 2, ... in f64.
inline Tensor iota(Shape shape) {
  std::vector<double> v(static_cast<size_t>(numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  return vec(v, std::move(shape));
}
// Deterministic values in [-1, 1), without going through any op.
inline Tensor filled(Shape shape, uint64_t seed, DType dtype = DType::f32) {
  Tensor t = Tensor::empty(std::move(shape), dtype);
  uint64_t s = seed * 2654435761u + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    set_element_from_double(t, i, static_cast<double>(s >> 11) / 9007199254740992.0 * 2 - 1);
  }
  return t;
}
inline Tensor to_f32(const Tensor& t) {
  std::vector<float> v;
  for (double d : t.to_vector<double>()) v.push_back(static_cast<float>(d));
  return Tensor::from_vector(v, t.shape());
}
inline std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// The message of the plumb::Error that f throws, or "" when it does not throw.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace plumb::test_util

// Expects `expr` to throw a plumb::Error whose message contains `text`.
#define EXPECT_ERROR(expr, text)                                                   \
  do {                                                                             \
    const std::string msg_ = ::plumb::test_util::error_of([&] { (void)(expr); }); \
    EXPECT_NE(msg_.find(text), std::string::npos) << "message: " << msg_;          \
  } while (0)
