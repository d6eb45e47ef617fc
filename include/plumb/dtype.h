#pragma once
// Element types. Emulated formats (fp8, LNS, fixed point) live in numerics, not here.
#include <cstdint>
#include <string>
#include <string_view>

namespace plumb {

enum class DType : uint8_t { f64, f32, f16, bf16, i64, i32, i8, u8, boolean };
inline constexpr int kNumDTypes = 9;

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);   // "f32", "bool", ...
DType dtype_from_name(std::string_view name);  // throws Error on unknown name
bool is_floating(DType t);
bool is_integral(DType t);  // integer types, not bool
// NumPy-style promotion for binary ops: float beats int, wider beats narrower.
DType promote(DType a, DType b);

// IEEE half and bfloat16 are stored as raw 16-bit patterns; these convert with round-to-nearest-even.
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);
float bf16_to_f32(uint16_t h);

struct Half { uint16_t bits; };
struct BFloat16 { uint16_t bits; };

template <class T> struct dtype_of;
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<Half> { static constexpr DType value = DType::f16; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = DType::bf16; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int8_t> { static constexpr DType value = DType::i8; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::u8; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::boolean; };

}  // namespace plumb
