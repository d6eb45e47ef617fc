// DTypes: names, sizes, promotion, and the f16 / bf16 conversions (round to nearest even).
#include "plumb/dtype.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "plumb/error.h"

namespace plumb {
namespace {

uint32_t bits_of(float f) { return std::bit_cast<uint32_t>(f); }

TEST(DType, NamesAndSizes) {
  const DType all[] = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i64,
                       DType::i32, DType::i8,  DType::u8,  DType::boolean};
  const size_t sizes[] = {8, 4, 2, 2, 8, 4, 1, 1, 1};
  for (int i = 0; i < kNumDTypes; ++i) {
    EXPECT_EQ(dtype_size(all[i]), sizes[i]);
    EXPECT_EQ(dtype_from_name(dtype_name(all[i])), all[i]);
  }
  EXPECT_EQ(dtype_name(DType::boolean), "bool");
  EXPECT_EQ(dtype_from_name("float32"), DType::f32);
  EXPECT_EQ(dtype_from_name("bfloat16"), DType::bf16);
  try {
    dtype_from_name("f128");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown dtype 'f128'"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(is_floating(DType::bf16));
  EXPECT_FALSE(is_floating(DType::i32));
  EXPECT_TRUE(is_integral(DType::u8));
  EXPECT_FALSE(is_integral(DType::boolean));
  EXPECT_FALSE(is_integral(DType::f16));
}

TEST(DType, Promote) {
  EXPECT_EQ(promote(DType::f32, DType::f32), DType::f32);
  EXPECT_EQ(promote(DType::f32, DType::f64), DType::f64);
  EXPECT_EQ(promote(DType::f64, DType::f16), DType::f64);
  EXPECT_EQ(promote(DType::i32, DType::f32), DType::f32);
  EXPECT_EQ(promote(DType::i64, DType::f16), DType::f16);  // float beats int
  EXPECT_EQ(promote(DType::i8, DType::i64), DType::i64);
  EXPECT_EQ(promote(DType::boolean, DType::u8), DType::u8);
  EXPECT_EQ(promote(DType::boolean, DType::f32), DType::f32);
  EXPECT_EQ(promote(DType::u8, DType::i8), DType::i32);    // neither holds the other
  EXPECT_EQ(promote(DType::f16, DType::bf16), DType::f32);  // neither holds the other
  // Symmetric for every pair.
  for (int a = 0; a < kNumDTypes; ++a)
    for (int b = 0; b < kNumDTypes; ++b)
      EXPECT_EQ(promote(static_cast<DType>(a), static_cast<DType>(b)), promote(static_cast<DType>(b), static_cast<DType>(a)))
          << a << " " << b;
}

TEST(Half, EveryPatternRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    const bool is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
    if (is_nan) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << h;
      const uint16_t back = f32_to_f16(f);
      EXPECT_EQ(back & 0x7c00, 0x7c00);
      EXPECT_NE(back & 0x3ff, 0) << "nan must stay nan";
    } else {
      ASSERT_EQ(f32_to_f16(f), h) << std::hex << h << " -> " << f;
    }
  }
}

TEST(Half, KnownValues) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);  // largest finite
  EXPECT_EQ(f32_to_f16(0.0f), 0x0000);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x03ff), std::ldexp(1023.0f, -24));  // largest subnormal
}

TEST(Half, RoundsToNearestEven) {
  const float ulp = std::ldexp(1.0f, -10);  // spacing of f16 just above 1
  EXPECT_EQ(f32_to_f16(1.0f + ulp / 2), 0x3c00);           // tie: down to even
  EXPECT_EQ(f32_to_f16(1.0f + 3 * ulp / 2), 0x3c02);       // tie: up to even
  EXPECT_EQ(f32_to_f16(1.0f + ulp / 2 + ulp / 64), 0x3c01);  // above the tie: up
  EXPECT_EQ(f32_to_f16(1.0f + ulp / 2 - ulp / 64), 0x3c00);  // below the tie: down
  EXPECT_EQ(f32_to_f16(-(1.0f + 3 * ulp / 2)), 0xbc02);
  // Rounding carries into the exponent: just below 2 rounds to 2.
  EXPECT_EQ(f32_to_f16(2.0f - std::ldexp(1.0f, -12)), 0x4000);
}

TEST(Half, InfNanOverflow) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(f32_to_f16(inf), 0x7c00);
  EXPECT_EQ(f32_to_f16(-inf), 0xfc00);
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);  // below the midpoint to 65536: stays finite
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // the midpoint rounds to even, which is inf
  EXPECT_EQ(f32_to_f16(1e10f), 0x7c00);
  EXPECT_EQ(f32_to_f16(-1e10f), 0xfc00);
}

TEST(Half, Subnormals) {
  const float tiny = std::ldexp(1.0f, -24);  // smallest f16 subnormal
  EXPECT_EQ(f32_to_f16(tiny), 0x0001);
  EXPECT_EQ(f32_to_f16(tiny / 2), 0x0000);       // tie between 0 and tiny: even is 0
  EXPECT_EQ(f32_to_f16(tiny * 0.75f), 0x0001);   // above the tie
  EXPECT_EQ(f32_to_f16(tiny * 0.25f), 0x0000);
  EXPECT_EQ(f32_to_f16(tiny * 1.5f), 0x0002);    // tie between 1 and 2: even is 2
  EXPECT_EQ(f32_to_f16(tiny * 2.5f), 0x0002);    // tie between 2 and 3: even is 2
  EXPECT_EQ(f32_to_f16(tiny * 1023.5f), 0x0400);  // the largest subnormal's tie rounds up to the smallest normal
  EXPECT_EQ(f32_to_f16(-tiny * 3), 0x8003);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -30)), 0x0000);  // underflow to zero
  EXPECT_EQ(f32_to_f16(-std::ldexp(1.0f, -30)), 0x8000);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::denorm_min()), 0x0000);
}

TEST(BFloat16, EveryPatternRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = bf16_to_f32(static_cast<uint16_t>(h));
    EXPECT_EQ(bits_of(f), h << 16);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(f)))) << std::hex << h;
    } else {
      ASSERT_EQ(f32_to_bf16(f), h) << std::hex << h;
    }
  }
}

TEST(BFloat16, RoundsToNearestEven) {
  const float ulp = std::ldexp(1.0f, -7);  // spacing of bf16 just above 1
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(1.0f + ulp / 2), 0x3f80);       // tie: down to even
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * ulp / 2), 0x3f82);   // tie: up to even
  EXPECT_EQ(f32_to_bf16(1.0f + ulp / 2 + std::ldexp(1.0f, -20)), 0x3f81);
  EXPECT_EQ(f32_to_bf16(-1.0f - 3 * ulp / 2), 0xbf82);
  EXPECT_EQ(f32_to_bf16(3.14159265f), 0x4049);  // 3.140625
}

TEST(BFloat16, InfNanSubnormals) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(f32_to_bf16(inf), 0x7f80);
  EXPECT_EQ(f32_to_bf16(-inf), 0xff80);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds up past the largest finite
  const uint16_t nan = f32_to_bf16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(std::isnan(bf16_to_f32(nan)));
  // A signalling NaN whose payload sits only in the low bits must not become inf.
  const uint16_t snan = f32_to_bf16(std::bit_cast<float>(0x7f800001u));
  EXPECT_TRUE(std::isnan(bf16_to_f32(snan))) << std::hex << snan;
  // bf16 shares f32's exponent range, so f32 subnormals round within the subnormals.
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x00010000u)), 0x0001);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x00008000u)), 0x0000);  // tie: even is 0
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x00018000u)), 0x0002);  // tie: even is 2
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x007fffffu)), 0x0080);  // carries into the smallest normal
}

}  // namespace
}  // namespace plumb
