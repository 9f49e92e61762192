#pragma once
// Internals of cpu.fast SimpleRMSNorm and DeepNorm (norm_srmsnorm_deepnorm.cpp,
// norm_srmsnorm_deepnorm_half.hpp and _piped.hpp), shared by the float32 and the 16-bit kernels:
// SimpleRMSNorm's row factor, and DeepNorm's choice of shifts.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/cpu/norm_fast_moments.hpp"

namespace opbench::cpu::fast::srms_deep {

using detail::i64;
using detail::kChunk;

// SimpleRMSNorm's factor 1 / (||x|| / sqrt(d) + eps) from the row's sum of squares, in double.
// A zero row gives 1 / eps, and y = 0 * (1 / eps) = 0, as the reference's 0 / eps.
inline float srms_factor(double sumsq, double sqrt_d, float eps) {
  return static_cast<float>(1.0 / (std::sqrt(sumsq) / sqrt_d + static_cast<double>(eps)));
}

// DeepNorm's shifts. The statistics are those of d = alpha (x - x0) + (fx - f0), first about the
// row's first elements x0, f0. When those lie far from the row's means (sum(d^2) > kShiftGuard M2:
// an outlier as first element), not only the sums but each d is off: x - x0 and alpha (x - x0)
// are rounded to the magnitude of the outlier (1e-4 at 300, over a spread of ~4), which no
// two-pass formula on d undoes. Such rows take new shifts, the float means of x and fx (from
// cache), so that x - shift is of the row's spread again (and exact under a large common offset,
// where x and its mean agree to within a factor of 2). A row whose two outliers cancel in
// alpha x0 + f0 passes the guard with the first shifts; it is not handled.
inline bool shift_trusted(const detail::Sums& s, i64 n) {
  const double mean = s.s1 / static_cast<double>(n);
  return (s.s2 - s.s1 * mean) * detail::kShiftGuard >= s.s2;
}

// Mean and M2 from trusted shifted sums.
inline detail::Moments moments_of(const detail::Sums& s, i64 n) {
  const double mean = s.s1 / static_cast<double>(n);
  return {mean, std::max(s.s2 - s.s1 * mean, 0.0)};
}

// The float mean of a row of n values, ld(j) giving kW of them and lds(j) one.
template <class Load, class LoadS>
float row_mean(i64 n, Load ld, LoadS lds) {
  double s = 0.0;
  for (i64 c0 = 0; c0 < n; c0 += kChunk)
    s += detail::chunk_sum(c0, std::min(n, c0 + kChunk), ld, lds);
  return static_cast<float>(s / static_cast<double>(n));
}

}  // namespace opbench::cpu::fast::srms_deep
