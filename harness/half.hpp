#pragma once
// The two 16-bit floating-point storage formats, as distinct types so that a tensor of one can
// never be read as the other: IEEE 754 binary16 (`f16_t`: 5 exponent bits, 10 stored mantissa
// bits, u = 2^-11) and bfloat16 (`bf16_t`: float32's 8 exponent bits, 7 stored mantissa bits,
// u = 2^-8). One definition of their rounding for the whole project: the generators, the
// tensors' decoding, and the kernels' loads and stores.
#include <cstdint>
#include <cstring>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace opbench {

struct f16_t {
  std::uint16_t bits;
};
struct bf16_t {
  std::uint16_t bits;
};

// Round-to-nearest-even of a double, once, into the format (NaN stays NaN with its sign, values
// beyond the largest finite one become infinities, tiny ones subnormals or zero).
f16_t to_f16(double d);
bf16_t to_bf16(double d);

// Exact: every f16 and bf16 value is a double.
double to_double(f16_t h);
double to_double(bf16_t h);

// The kernels' conversions, inline: bfloat16 is float32's upper half, so widening is a shift and
// narrowing a round-to-nearest-even of the lower half (a NaN is kept quiet). Equal to
// to_bf16(double(f)) for every float f.
inline float to_float(bf16_t h) {
  const std::uint32_t bits = static_cast<std::uint32_t>(h.bits) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline bf16_t bf16_from_float(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {  // NaN: keep the sign and make it quiet
    return bf16_t{static_cast<std::uint16_t>((bits >> 16) | 0x0040u)};
  }
  bits += 0x7FFFu + ((bits >> 16) & 1u);  // ties to even; a carry rounds up into the exponent
  return bf16_t{static_cast<std::uint16_t>(bits >> 16)};
}

// The same for binary16: the F16C instructions where the compiler targets them (exact widening,
// round-to-nearest-even narrowing with subnormals), the reference conversions elsewhere. Equal to
// to_double(h) and to_f16(double(f)) for every h and f.
inline float to_float(f16_t h) {
#if defined(__F16C__)
  return _cvtsh_ss(h.bits);
#else
  return static_cast<float>(to_double(h));
#endif
}
inline f16_t f16_from_float(float f) {
#if defined(__F16C__)
  return f16_t{static_cast<std::uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT))};
#else
  return to_f16(f);
#endif
}

// Round-to-nearest-even from double in one rounding, inline for kernels that compute in double
// (cpu.plain): the same results as to_bf16 / to_f16 (the tests compare them). In the format's
// normal range the double is rounded to the format's significand in place (its low bits, with
// ties to even), and the result, now a value of the format, converts exactly through float;
// zeros, subnormals, NaNs and values near overflow take the reference conversion.
namespace detail {
// d rounded to nearest even at `keep` stored significand bits, in place: its low bits dropped,
// with ties to even (a carry moves into the exponent). For d in the target format's normal range.
inline double round_significand(double d, int keep) {
  std::uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  const int drop = 52 - keep;
  b += ((std::uint64_t{1} << (drop - 1)) - 1) + ((b >> drop) & 1);
  b &= ~((std::uint64_t{1} << drop) - 1);
  std::memcpy(&d, &b, sizeof d);
  return d;
}
inline std::uint64_t magnitude_bits(double d) {
  std::uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b & 0x7FFFFFFFFFFFFFFFull;
}
}  // namespace detail

inline bf16_t bf16_from_double(double d) {
  // [2^-126, 2^127]: bfloat16 normals, well below overflow (the largest is ~3.39e38 < 2^128).
  const std::uint64_t mag = detail::magnitude_bits(d);
  if (mag >= 0x3810000000000000ull && mag <= 0x47E0000000000000ull) {
    const float f = static_cast<float>(detail::round_significand(d, 7));  // exact: 8 bits
    std::uint32_t fb;
    std::memcpy(&fb, &f, sizeof fb);
    return bf16_t{static_cast<std::uint16_t>(fb >> 16)};
  }
  return to_bf16(d);
}
inline f16_t f16_from_double(double d) {
  // [2^-14, 2^15]: binary16 normals below 65520, where rounding overflows to infinity.
  const std::uint64_t mag = detail::magnitude_bits(d);
  if (mag >= 0x3F10000000000000ull && mag <= 0x40E0000000000000ull) {
    // Exact twice: the rounded value is a binary16 one.
    return f16_from_float(static_cast<float>(detail::round_significand(d, 10)));
  }
  return to_f16(d);
}

// The neighbouring values of `h` (for the generators' adversarial steps): the next one toward
// -infinity and toward +infinity; from +-0 the smallest subnormal of that direction.
f16_t next_down(f16_t h);
f16_t next_up(f16_t h);
bf16_t next_down(bf16_t h);
bf16_t next_up(bf16_t h);

}  // namespace opbench
