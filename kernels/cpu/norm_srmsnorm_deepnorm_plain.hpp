#pragma once
// cpu.plain SimpleRMSNorm and DeepNorm, the bodies of the templates of
// norm_srmsnorm_deepnorm.hpp (included by norm_srmsnorm_deepnorm.cpp only, which instantiates
// them). The code a careful user writes first: scalar loops, one thread, double accumulators,
// per-element arithmetic in double, each output rounded once into T (double -> float -> half
// would round twice).
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "harness/half.hpp"
#include "kernels/cpu/norm_srmsnorm_deepnorm.hpp"
#include "kernels/cpu/storage.hpp"

namespace opbench::cpu::plain {

template <typename T>
void srmsnorm(const T* x, T* y, std::int64_t rows, std::int64_t cols, float eps) {
  using cpu::widen_double;
  const double sqrt_d = std::sqrt(static_cast<double>(cols));
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    double ss = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) ss += widen_double(xr[j]) * widen_double(xr[j]);
    const double denom = std::sqrt(ss) / sqrt_d + eps;  // eps outside the root (authors' code)
    for (std::int64_t j = 0; j < cols; ++j) yr[j] = narrow_double<T>(widen_double(xr[j]) / denom);
  }
}

template <typename T>
void deepnorm(const T* x, const T* fx, const T* gamma, const T* beta, T* y, std::int64_t rows,
              std::int64_t cols, float alpha, float eps) {
  using cpu::widen_double;
  const double a = alpha;
  const double n = static_cast<double>(cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    const T* fr = fx + r * cols;
    T* yr = y + r * cols;
    // alpha * x + fx in double (alpha * x is exact there), recomputed in each pass.
    double sum = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) sum += a * widen_double(xr[j]) + widen_double(fr[j]);
    const double mean = sum / n;
    double q = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      const double d = a * widen_double(xr[j]) + widen_double(fr[j]) - mean;
      q += d * d;
    }
    const double rstd = 1.0 / std::sqrt(q / n + eps);
    for (std::int64_t j = 0; j < cols; ++j) {
      const double d = a * widen_double(xr[j]) + widen_double(fr[j]) - mean;
      yr[j] = narrow_double<T>(d * rstd * widen_double(gamma[j]) + widen_double(beta[j]));
    }
  }
}

}  // namespace opbench::cpu::plain
