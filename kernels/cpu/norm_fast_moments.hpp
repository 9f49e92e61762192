#pragma once
// Internals of cpu.fast's normalization kernels: the statistics. Shifted sums accumulated in
// float32 vector accumulators per chunk, merged in double, with the two-pass guard (see
// moments()).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/norm_fast_common.hpp"

namespace opbench::cpu::fast::detail {

// Shifted sums of one row, accumulated over column ranges.
struct Sums {
  double s1 = 0.0, s2 = 0.0;
};

// Sum of f over [j0, j1) with four vector accumulators.
template <class FV, class FS>
inline float chunk_sum(i64 j0, i64 j1, FV fv, FS fs) {
  vf a0 = splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
  i64 j = j0;
  for (; j + 4 * kW <= j1; j += 4 * kW) {
    a0 += fv(j);
    a1 += fv(j + kW);
    a2 += fv(j + 2 * kW);
    a3 += fv(j + 3 * kW);
  }
  for (; j + kW <= j1; j += kW) a0 += fv(j);
  float s = simd::hsum((a0 + a1) + (a2 + a3));
  for (; j < j1; ++j) s += fs(j);
  return s;
}

struct Moments {
  double mean;  // of the values d given by the loaders
  double m2;    // sum of squared deviations from mean
};

// Sums of d and d^2 over [j0, j1) with four pairs of vector accumulators.
template <class DV, class DS>
inline void chunk_sums(i64 j0, i64 j1, DV dv, DS ds, float& s1, float& s2) {
  vf a0 = splat(0.0f), a1 = a0, a2 = a0, a3 = a0, q0 = a0, q1 = a0, q2 = a0, q3 = a0;
  i64 j = j0;
  for (; j + 4 * kW <= j1; j += 4 * kW) {
    const vf d0 = dv(j), d1 = dv(j + kW), d2 = dv(j + 2 * kW), d3 = dv(j + 3 * kW);
    a0 += d0;
    a1 += d1;
    a2 += d2;
    a3 += d3;
    q0 += d0 * d0;
    q1 += d1 * d1;
    q2 += d2 * d2;
    q3 += d3 * d3;
  }
  for (; j + kW <= j1; j += kW) {
    const vf d = dv(j);
    a0 += d;
    q0 += d * d;
  }
  s1 = simd::hsum((a0 + a1) + (a2 + a3));
  s2 = simd::hsum((q0 + q1) + (q2 + q3));
  for (; j < j1; ++j) {
    const float d = ds(j);
    s1 += d;
    s2 += d * d;
  }
}

// Above this ratio of sum(d^2) to M2 the one-pass shifted sums are not trusted (their relative
// error, a few 1e-7 of sum(d^2), would exceed ~2e-5 of M2) and M2 is recomputed exactly.
constexpr double kShiftGuard = 8.0;

// Mean and M2 of d(j), j in [0, n), n >= 1, where d is the data minus a shift taken from the data
// (so that sum(d^2) stays comparable to M2). One pass: sum(d) and sum(d^2) in float32 vector
// accumulators per chunk of kChunk elements, chunks summed in double; M2 = sum(d^2) - sum(d)^2/n.
// If the shift lies far from the mean (sum(d^2) > kShiftGuard * M2: an outlier as first element)
// a second pass over the (now cached) data computes the corrected two-pass M2 about that mean
// (Chan, Golub & LeVeque 1983), which has no cancellation. A constant row gives d = 0, M2 = 0.
template <class DV, class DS>
inline Moments moments(i64 n, DV dv, DS ds) {
  double s1 = 0.0, s2 = 0.0;
  for (i64 c0 = 0; c0 < n; c0 += kChunk) {
    float f1, f2;
    chunk_sums(c0, std::min(n, c0 + kChunk), dv, ds, f1, f2);
    s1 += f1;
    s2 += f2;
  }
  const double dn = static_cast<double>(n);
  double mean = s1 / dn;
  double m2 = s2 - s1 * mean;
  if (!(m2 * kShiftGuard >= s2)) {
    const float mf = static_cast<float>(mean);
    const vf vm = splat(mf);
    double e1 = 0.0, e2 = 0.0;
    for (i64 c0 = 0; c0 < n; c0 += kChunk) {
      float f1, f2;
      chunk_sums(
          c0, std::min(n, c0 + kChunk), [&](i64 j) { return dv(j) - vm; },
          [&](i64 j) { return ds(j) - mf; }, f1, f2);
      e1 += f1;
      e2 += f2;
    }
    mean = static_cast<double>(mf) + e1 / dn;
    m2 = e2 - e1 * e1 / dn;
  }
  return {mean, m2 > 0.0 ? m2 : 0.0};
}

inline float rsqrt_d(double v) {
  return static_cast<float>(1.0 / std::sqrt(v));
}

// Shifted moments of a contiguous block: mean of x - x[0] and M2.
inline Moments block_moments(const float* x, i64 n) {
  const float sh = x[0];
  const vf vsh = splat(sh);
  return moments(
      n, [&](i64 j) { return load(x + j) - vsh; }, [&](i64 j) { return x[j] - sh; });
}

// Mean and M2 from the shifted sums of n values; exact() recomputes them (two-pass over the
// cached row) when the sums are not trusted (see moments()).
template <class Exact>
inline Moments finish_moments(const Sums& s, i64 n, Exact exact) {
  const double dn = static_cast<double>(n);
  const double mean = s.s1 / dn, m2 = s.s2 - s.s1 * mean;
  if (!(m2 * kShiftGuard >= s.s2)) return exact();
  return {mean, m2 > 0.0 ? m2 : 0.0};
}

// BatchNorm's per-column parameters from the column sums s1, s2 of d = x - shift over `rows` rows:
// mean_s, the mean of d, and scale = gamma / sqrt(var + eps). Columns whose sums are not trusted
// (sum(d^2) > kShiftGuard * M2: a column whose first values lie far from its mean relative to
// its spread, rare) get the corrected two-pass M2 in double, from value(r, j) = x[r, j].
template <class Gamma, class Value>
void column_params(const std::vector<double>& s1, const std::vector<double>& s2, const float* shift,
                   i64 rows, i64 cols, float eps, Gamma gamma, Value value,
                   std::vector<float>& mean_s, std::vector<float>& scale) {
  const double dn = static_cast<double>(rows);
  mean_s.assign(static_cast<std::size_t>(cols), 0.0f);
  scale.assign(static_cast<std::size_t>(cols), 0.0f);
  std::vector<double> m2(cols);
  std::vector<i64> redo;
  for (i64 j = 0; j < cols; ++j) {
    const double mean = s1[j] / dn;
    m2[j] = s2[j] - s1[j] * mean;
    mean_s[j] = static_cast<float>(mean);
    if (!(m2[j] * kShiftGuard >= s2[j])) redo.push_back(j);
  }
  if (!redo.empty()) {
    const i64 nr = static_cast<i64>(redo.size());
    std::vector<double> e1(nr, 0.0), e2(nr, 0.0);
    for (i64 r = 0; r < rows; ++r) {
      for (i64 k = 0; k < nr; ++k) {
        const i64 j = redo[k];
        const double e = static_cast<double>(value(r, j) - shift[j]) - mean_s[j];
        e1[k] += e;
        e2[k] += e * e;
      }
    }
    for (i64 k = 0; k < nr; ++k) {
      const i64 j = redo[k];
      m2[j] = e2[k] - e1[k] * e1[k] / dn;
      mean_s[j] = static_cast<float>(static_cast<double>(mean_s[j]) + e1[k] / dn);
    }
  }
  for (i64 j = 0; j < cols; ++j)
    scale[j] = static_cast<float>(gamma(j) /
                                  std::sqrt(std::max(m2[j], 0.0) / dn + static_cast<double>(eps)));
}

// EvoNorm-B0's batch standard deviation per channel, sqrt(var + eps), from the instance
// statistics (absolute mean, M2 over hw values) of each (sample, channel) row, merged pairwise
// (Chan, Golub & LeVeque) over the n samples.
inline std::vector<float> merged_batch_std(const std::vector<double>& imean,
                                           const std::vector<double>& im2, i64 n, i64 c, i64 hw,
                                           float eps) {
  std::vector<float> bstd(c);
  for (i64 ch = 0; ch < c; ++ch) {
    double mean = imean[ch], m2 = im2[ch], count = static_cast<double>(hw);
    for (i64 i = 1; i < n; ++i) {
      const double nb = static_cast<double>(hw), tot = count + nb;
      const double delta = imean[i * c + ch] - mean;
      mean += delta * nb / tot;
      m2 += im2[i * c + ch] + delta * delta * count * nb / tot;
      count = tot;
    }
    bstd[ch] = static_cast<float>(std::sqrt(m2 / count + eps));
  }
  return bstd;
}

}  // namespace opbench::cpu::fast::detail
