#pragma once
// What the reference and kernel tests of the op files share: float64 vectors poisoned with NaN
// (an element a kernel never writes stays NaN and fails every comparison), deterministic
// pseudo-random values, and an element-by-element comparison that names the first elements off.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace opbench::test_support {

using Vec = std::vector<double>;

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

inline Vec poisoned(std::size_t n) {
  return Vec(n, kNaN);
}

// Deterministic values in [lo, hi).
inline Vec seeded(std::size_t n, std::uint64_t seed, double lo = -2.0, double hi = 2.0) {
  std::mt19937_64 g(seed);
  Vec v(n);
  for (auto& e : v) e = lo + (hi - lo) * static_cast<double>(g() >> 11) * 0x1.0p-53;
  return v;
}

// |got[i] - want[i]| <= tol for every i.
inline void expect_all_near(const Vec& got, const Vec& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

}  // namespace opbench::test_support
