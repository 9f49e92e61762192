#include "harness/half.hpp"

#include <cmath>
#include <limits>

namespace opbench {

namespace {

// Round-to-nearest-even of a double into an IEEE binary format with `mant` stored mantissa bits
// and exponent bias `bias` (f16: 10, 15; bf16: 7, 127), returned as 16 bits.
std::uint16_t round_to_bits(double d, int mant, int bias) {
  const int exp_all_ones = 2 * bias + 1;
  const std::uint16_t sign = std::signbit(d) ? 0x8000 : 0;
  if (std::isnan(d)) {
    return static_cast<std::uint16_t>(sign | (exp_all_ones << mant) | (1 << (mant - 1)));
  }
  const double a = std::fabs(d);
  const std::uint16_t inf = static_cast<std::uint16_t>(sign | (exp_all_ones << mant));
  if (std::isinf(a)) return inf;
  const int emin = 1 - bias;
  if (a < std::ldexp(1.0, emin)) {  // subnormal (or rounds up to the smallest normal)
    const double q = std::nearbyint(std::ldexp(a, mant - emin));
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(q));
  }
  int ex = 0;
  std::frexp(a, &ex);
  int e = ex - 1;                                      // a = 1.f * 2^e
  double q = std::nearbyint(std::ldexp(a, mant - e));  // in [2^mant, 2^(mant+1)]
  if (q == std::ldexp(1.0, mant + 1)) {
    q = std::ldexp(1.0, mant);
    ++e;
  }
  const int biased = e + bias;
  if (biased >= exp_all_ones) return inf;
  return static_cast<std::uint16_t>(sign | (biased << mant) | (static_cast<int>(q) - (1 << mant)));
}

double bits_to_double(std::uint16_t h, int mant, int bias) {
  const int exp_all_ones = 2 * bias + 1;
  const int e = (h >> mant) & exp_all_ones;
  const int frac = h & ((1 << mant) - 1);
  double v;
  if (e == 0) {
    v = std::ldexp(frac, 1 - bias - mant);
  } else if (e == exp_all_ones) {
    v = frac ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else {
    v = std::ldexp(frac + (1 << mant), e - bias - mant);
  }
  return (h & 0x8000) ? -v : v;
}

// Sign-magnitude bits: toward -infinity is one step more negative.
std::uint16_t step_down(std::uint16_t h) {
  if ((h & 0x7FFF) == 0) return 0x8001;  // from +-0 to the negative smallest subnormal
  return static_cast<std::uint16_t>((h & 0x8000) ? h + 1 : h - 1);
}
std::uint16_t step_up(std::uint16_t h) {
  if ((h & 0x7FFF) == 0) return 0x0001;
  return static_cast<std::uint16_t>((h & 0x8000) ? h - 1 : h + 1);
}

}  // namespace

f16_t to_f16(double d) {
  return f16_t{round_to_bits(d, 10, 15)};
}
bf16_t to_bf16(double d) {
  return bf16_t{round_to_bits(d, 7, 127)};
}
double to_double(f16_t h) {
  return bits_to_double(h.bits, 10, 15);
}
double to_double(bf16_t h) {
  return bits_to_double(h.bits, 7, 127);
}
f16_t next_down(f16_t h) {
  return f16_t{step_down(h.bits)};
}
f16_t next_up(f16_t h) {
  return f16_t{step_up(h.bits)};
}
bf16_t next_down(bf16_t h) {
  return bf16_t{step_down(h.bits)};
}
bf16_t next_up(bf16_t h) {
  return bf16_t{step_up(h.bits)};
}

}  // namespace opbench
