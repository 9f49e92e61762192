#pragma once
// What the Fourier-domain norm kernels (norm_fourier.cpp) do outside the transforms: widening
// float, bf16_t or f16_t to float32 in blocks (one value's widen and narrow_double are
// storage.hpp's), and the statistics, in double: a plane's sum and its squared deviations, and
// BatchNorm's training statistics of every channel from those of its planes.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "harness/half.hpp"
#include "kernels/cpu/storage.hpp"

namespace opbench::cpu::fourier {

using i64 = std::int64_t;

// Sums in double over 8 interleaved accumulators: independent addition chains, which the
// compiler keeps in one vector register (one chain would wait on each addition's latency;
// reassociating it is not the compiler's to do), in a fixed order, so the result never depends on
// the thread that computes it.
class Sum8 {
 public:
  template <class F>
  void add(const float* p, i64 count, F f) {
    i64 i = 0;
    for (; i + 8 <= count; i += 8)
      for (int k = 0; k < 8; ++k) acc_[k] += f(static_cast<double>(p[i + k]));
    for (; i < count; ++i) acc_[0] += f(static_cast<double>(p[i]));
  }
  double total() const {
    return ((acc_[0] + acc_[4]) + (acc_[1] + acc_[5])) +
           ((acc_[2] + acc_[6]) + (acc_[3] + acc_[7]));
  }

 private:
  double acc_[8] = {0, 0, 0, 0, 0, 0, 0, 0};
};

// A plane's sum and its squared deviations from its own mean, sum (v - sum / count)^2: the
// second of two passes, exact to rounding even under a large common offset.
struct Moments {
  double sum, m2;
};
inline Moments moments(const float* v, i64 count) {
  Sum8 sum, sq;
  sum.add(v, count, [](double d) { return d; });
  const double m = sum.total() / static_cast<double>(count);
  sq.add(v, count, [m](double d) { return (d - m) * (d - m); });
  return {sum.total(), sq.total()};
}

// The straightforward widening, one value at a time.
struct WidenEach {
  template <class T>
  void operator()(const T* src, float* dst, i64 count) const {
    for (i64 i = 0; i < count; ++i) dst[i] = widen(src[i]);
  }
};

// BatchNorm's training statistics of x[n, c, hw]: per channel the mean and 1 / sqrt(var + eps)
// (biased variance over n and hw), and every plane's sum (planes in [n, c] order).
struct BatchStats {
  std::vector<double> mean, rstd, plane_sum;
};

// Each plane's sum and squared deviations from its own mean (two passes over a plane that stays
// in cache, widened to float32 by widen_block(src, dst, count)), over OpenMP threads when
// `threads`; then each channel's by Chan et al.'s pairwise combination,
// M2 = sum_p M2_p + hw sum_p (m_p - mu)^2: the two-pass variance over n and hw, without a third
// pass over x.
template <class T, class Widen>
BatchStats batch_stats(const T* x, i64 n, i64 c, i64 hw, double eps, bool threads,
                       Widen widen_block) {
  const i64 planes = n * c;
  BatchStats s;
  s.plane_sum.resize(static_cast<std::size_t>(planes));
  std::vector<double> m2(static_cast<std::size_t>(planes));
#pragma omp parallel if (threads && planes > 1)
  {
    // A 16-bit plane is widened once, into this thread's buffer, for both passes.
    std::vector<float> buf(std::is_same_v<T, float> ? 0 : static_cast<std::size_t>(hw));
#pragma omp for schedule(dynamic, 8)
    for (i64 p = 0; p < planes; ++p) {
      const float* v;
      if constexpr (std::is_same_v<T, float>) {
        v = x + p * hw;
      } else {
        widen_block(x + p * hw, buf.data(), hw);
        v = buf.data();
      }
      const Moments mo = moments(v, hw);
      s.plane_sum[static_cast<std::size_t>(p)] = mo.sum;
      m2[static_cast<std::size_t>(p)] = mo.m2;
    }
  }
  s.mean.resize(static_cast<std::size_t>(c));
  s.rstd.resize(static_cast<std::size_t>(c));
  const double count = static_cast<double>(n * hw);
  for (i64 ch = 0; ch < c; ++ch) {
    double sum = 0;
    for (i64 b = 0; b < n; ++b) sum += s.plane_sum[static_cast<std::size_t>(b * c + ch)];
    const double mu = sum / count;
    double q = 0;
    for (i64 b = 0; b < n; ++b) {
      const std::size_t p = static_cast<std::size_t>(b * c + ch);
      const double d = s.plane_sum[p] / static_cast<double>(hw) - mu;
      q += m2[p] + static_cast<double>(hw) * d * d;
    }
    s.mean[static_cast<std::size_t>(ch)] = mu;
    s.rstd[static_cast<std::size_t>(ch)] = 1.0 / std::sqrt(q / count + eps);
  }
  return s;
}

}  // namespace opbench::cpu::fourier
