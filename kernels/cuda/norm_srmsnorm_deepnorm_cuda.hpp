#pragma once
// cuda.fast SimpleRMSNorm and DeepNorm forward, float32 (equations and argument order in
// reference/norm_srmsnorm_deepnorm.hpp). Pointers are device pointers; each function launches on
// the bound stream (launch_stream.hpp) and returns without synchronizing; a bad shape or a launch
// error is thrown (std::invalid_argument, std::runtime_error).
//
// The per-row arithmetic the kernels run is below, marked OPBENCH_HD: the same functions run on
// the device and in the host-only tests (tests/test_norm_srmsnorm_deepnorm.cpp), which drive them
// over whole rows against the float64 references without a GPU.
#include <cmath>
#include <cstdint>

#include "kernels/cuda/host_device.hpp"

namespace opbench::cuda {

// y = x / (||x||_2 / sqrt(cols) + eps) per row of x[rows, cols].
void srmsnorm(const float* x, float* y, std::int64_t rows, std::int64_t cols, float eps);

// y = LayerNorm(alpha * x + fx) * gamma + beta per row (gamma, beta [cols]).
void deepnorm(const float* x, const float* fx, const float* gamma, const float* beta, float* y,
              std::int64_t rows, std::int64_t cols, float alpha, float eps);

// SimpleRMSNorm's factor from the row's sum of squares: 1 / (sqrt(sumsq / cols) + eps), eps
// outside the root as in the authors' code. A zero row gives 1 / eps, so y = 0 * (1 / eps) = 0.
OPBENCH_HD float srmsnorm_factor(float sumsq, int cols, float eps) {
  return 1.0f / (sqrtf(sumsq / static_cast<float>(cols)) + eps);
}

// DeepNorm's summand, shifted: d = alpha (x - mx) + (f - mf) = s - (alpha mx + mf) for
// s = alpha x + f, with mx, mf the row's float means of x and fx. x - mx and f - mf are exact for
// rows with a large common offset (x and mx within a factor of 2: Sterbenz), so d carries rounding
// of the row's spread, not of |s| (the float32 sum alpha x + f alone would be off by half an ulp
// of s: 2e-3 at an offset of 1e4 and alpha 3.8, more than the tolerance once divided by a spread
// of ~4). Means rather than the row's first elements: an outlier as first element would round
// every x - x0 to its own magnitude (1e-4 at 300, beyond the tolerance near y = 0). The
// statistics and y use d only.
OPBENCH_HD float deepnorm_shifted(float alpha, float x, float mx, float f, float mf) {
  return alpha * (x - mx) + (f - mf);
}

// LayerNorm's parameters from the sums over a row of its deviations e = d - m from m, the float
// mean of d: the corrected two-pass formula (Chan, Golub & LeVeque 1983). corr = sum(e) / n is
// what m misses of the true mean; var = sum(e^2) / n - corr^2, where corr^2 is tiny next to the
// variance (no cancellation).
struct DeepnormScale {
  float corr, rstd;
};
OPBENCH_HD DeepnormScale deepnorm_scale(float sum_e, float sum_e2, int cols, float eps) {
  const float n = static_cast<float>(cols);
  const float corr = sum_e / n;
  const float var = fmaxf(sum_e2 / n - corr * corr, 0.0f);
  return {corr, 1.0f / sqrtf(var + eps)};
}

// One output from its deviation e = d - m.
OPBENCH_HD float deepnorm_out(float e, DeepnormScale s, float gamma, float beta) {
  return (e - s.corr) * s.rstd * gamma + beta;
}

}  // namespace opbench::cuda
