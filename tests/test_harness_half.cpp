// The 16-bit formats (harness/half.hpp): rounding against values worked out by hand from the
// formats' definitions (IEEE 754-2008 binary16; bfloat16 = the upper 16 bits of binary32), the
// kernels' inline bfloat16 conversion against the reference rounding over a sweep of every
// float32 exponent and mantissa pattern, and the neighbour steps.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "harness/half.hpp"

namespace opbench {
namespace {

float float_of_bits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

TEST(Half, F16RoundsToNearestEven) {
  EXPECT_EQ(to_f16(1.0).bits, 0x3C00);
  EXPECT_EQ(to_f16(-2.0).bits, 0xC000);
  EXPECT_EQ(to_f16(65504.0).bits, 0x7BFF);                     // the largest finite
  EXPECT_EQ(to_f16(65520.0).bits, 0x7C00);                     // halfway to 2^16: rounds to inf
  EXPECT_EQ(to_f16(65519.99).bits, 0x7BFF);                    // just below halfway: stays finite
  EXPECT_EQ(to_f16(std::ldexp(1.0, -24)).bits, 0x0001);        // the smallest subnormal
  EXPECT_EQ(to_f16(std::ldexp(1.0, -25)).bits, 0x0000);        // half of it: a tie, to even (zero)
  EXPECT_EQ(to_f16(std::ldexp(3.0, -25)).bits, 0x0002);        // 1.5 of it: a tie, to even (2)
  EXPECT_EQ(to_f16(1.0 + std::ldexp(1.0, -11)).bits, 0x3C00);  // tie between 1 and 1+2^-10
  EXPECT_EQ(to_f16(1.0 + std::ldexp(3.0, -11)).bits, 0x3C02);  // tie: to the even mantissa
  EXPECT_EQ(to_f16(-0.0).bits, 0x8000);
  EXPECT_EQ(to_f16(-std::numeric_limits<double>::infinity()).bits, 0xFC00);
  const f16_t nan = to_f16(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(nan.bits & 0x7C00, 0x7C00);
  EXPECT_NE(nan.bits & 0x03FF, 0);
  EXPECT_TRUE(std::isnan(to_double(nan)));
}

TEST(Half, Bf16RoundsToNearestEven) {
  EXPECT_EQ(to_bf16(1.0).bits, 0x3F80);
  EXPECT_EQ(to_bf16(-0.5).bits, 0xBF00);
  EXPECT_EQ(to_bf16(3.14159265).bits, 0x4049);                      // 3.140625; 3.15625 is farther
  EXPECT_EQ(to_bf16(1.0 + std::ldexp(1.0, -8)).bits, 0x3F80);       // tie: to even (1.0)
  EXPECT_EQ(to_bf16(1.0 + std::ldexp(3.0, -8)).bits, 0x3F82);       // tie: to even
  EXPECT_EQ(to_bf16(std::ldexp(255.0 / 128.0, 127)).bits, 0x7F7F);  // the largest finite
  EXPECT_EQ(to_bf16(std::ldexp(511.0 / 256.0, 127)).bits, 0x7F80);  // halfway above it: inf
  EXPECT_EQ(to_bf16(std::ldexp(1.0, -133)).bits, 0x0001);           // the smallest subnormal
}

TEST(Half, DecodingIsExactAndRoundTrips) {
  EXPECT_EQ(to_double(f16_t{0x3555}), 0.333251953125);  // 0x155 = 341: (1024 + 341) / 4096
  EXPECT_EQ(to_double(f16_t{0x0001}), std::ldexp(1.0, -24));
  EXPECT_EQ(to_double(bf16_t{0x4049}), 3.140625);
  EXPECT_EQ(to_double(bf16_t{0x0001}), std::ldexp(1.0, -133));
  for (std::uint32_t b = 0; b <= 0xFFFF; ++b) {  // every finite value rounds to itself
    const auto bits = static_cast<std::uint16_t>(b);
    if ((bits & 0x7C00) != 0x7C00) ASSERT_EQ(to_f16(to_double(f16_t{bits})).bits, bits) << b;
    if ((bits & 0x7F80) != 0x7F80) ASSERT_EQ(to_bf16(to_double(bf16_t{bits})).bits, bits) << b;
  }
}

TEST(Half, KernelsBf16ConversionEqualsTheReferenceRounding) {
  // Every exponent (sign included) with a spread of lower-half patterns: ties, carries into the
  // exponent, subnormals, the largest finite values, infinities and NaNs.
  int checked = 0;
  for (std::uint32_t hi = 0; hi <= 0xFFFF; ++hi) {
    for (std::uint32_t lo : {0x0000u, 0x0001u, 0x7FFFu, 0x8000u, 0x8001u, 0xFFFFu, 0x1234u}) {
      const std::uint32_t bits = (hi << 16) | lo;
      const float f = float_of_bits(bits);
      const bf16_t fast = bf16_from_float(f);
      if (std::isnan(f)) {
        ASSERT_TRUE(std::isnan(to_float(fast))) << std::hex << bits;
        ASSERT_EQ(fast.bits & 0x8000, (bits >> 16) & 0x8000) << std::hex << bits;
      } else {
        ASSERT_EQ(fast.bits, to_bf16(f).bits) << std::hex << bits;
        ASSERT_EQ(to_float(fast), static_cast<float>(to_double(fast))) << std::hex << bits;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 65536 * 7);
}

TEST(Half, KernelsF16ConversionEqualsTheReferenceRounding) {
  for (std::uint32_t b = 0; b <= 0xFFFF; ++b) {  // widening: every pattern
    const f16_t h{static_cast<std::uint16_t>(b)};
    const double d = to_double(h);
    if (std::isnan(d)) {
      ASSERT_TRUE(std::isnan(to_float(h))) << std::hex << b;
    } else {
      ASSERT_EQ(to_float(h), static_cast<float>(d)) << std::hex << b;
    }
  }
  // Narrowing: every float exponent with lower bits that make ties (13 dropped bits: 0x1000),
  // values just either side of them, subnormal results, overflow to infinity, NaNs.
  int checked = 0;
  for (std::uint32_t hi = 0; hi <= 0xFFFF; ++hi) {
    for (std::uint32_t lo : {0x0000u, 0x0FFFu, 0x1000u, 0x1001u, 0x3000u, 0xFFFFu, 0x8765u}) {
      const std::uint32_t bits = (hi << 16) | lo;
      const float f = float_of_bits(bits);
      const f16_t fast = f16_from_float(f);
      if (std::isnan(f)) {
        ASSERT_TRUE(std::isnan(to_double(fast))) << std::hex << bits;
      } else {
        ASSERT_EQ(fast.bits, to_f16(f).bits) << std::hex << bits;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 65536 * 7);
}

// The kernels' inline rounding from double against the reference rounding: every bf16 and f16
// value's neighbourhood (exact values, the ties halfway to the next value, a hair either side of
// them), across zero, subnormals, the normal range and overflow.
TEST(Half, InlineRoundingFromDoubleEqualsTheReference) {
  std::int64_t checked = 0;
  for (std::uint32_t b = 0; b <= 0xFFFF; ++b) {
    const double bf = to_double(bf16_t{static_cast<std::uint16_t>(b)});
    const double hf = to_double(f16_t{static_cast<std::uint16_t>(b)});
    for (double v : {bf, hf}) {
      if (!std::isfinite(v)) continue;
      const double up_bf = to_double(next_up(to_bf16(v))), up_hf = to_double(next_up(to_f16(v)));
      for (double base : {v, -v}) {
        for (double up : {up_bf, up_hf}) {
          const double mid = base + (std::abs(up) - std::abs(v)) / 2 * (base < 0 ? -1 : 1);
          for (double d : {base, mid, std::nextafter(mid, 0.0), std::nextafter(mid, 1e300),
                           std::nextafter(mid, -1e300)}) {
            if (!std::isfinite(d)) continue;
            ASSERT_EQ(bf16_from_double(d).bits, to_bf16(d).bits) << d;
            ASSERT_EQ(f16_from_double(d).bits, to_f16(d).bits) << d;
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 1000000);
  EXPECT_EQ(bf16_from_double(1e39).bits, to_bf16(1e39).bits);  // overflow: infinity
  EXPECT_EQ(f16_from_double(65520.0).bits, 0x7C00);            // the tie at the top: infinity
  EXPECT_EQ(f16_from_double(65519.99).bits, 0x7BFF);
  EXPECT_TRUE(std::isnan(to_double(bf16_from_double(std::nan("")))));
}

TEST(Half, NeighboursStepThroughZeroAndSubnormals) {
  EXPECT_EQ(next_up(f16_t{0x3C00}).bits, 0x3C01);
  EXPECT_EQ(next_down(f16_t{0x3C00}).bits, 0x3BFF);
  EXPECT_EQ(next_up(f16_t{0x0000}).bits, 0x0001);
  EXPECT_EQ(next_down(f16_t{0x8000}).bits, 0x8001);
  EXPECT_EQ(next_up(f16_t{0x8001}).bits, 0x8000);
  EXPECT_EQ(next_down(bf16_t{0xBF80}).bits, 0xBF81);  // -1 toward -inf: more negative
  EXPECT_LT(to_double(next_down(bf16_t{0x3F80})), 1.0);
  EXPECT_GT(to_double(next_up(bf16_t{0x3F80})), 1.0);
}

}  // namespace
}  // namespace opbench
