// Float64 references of the SimpleRMSNorm and DeepNorm backward passes (equations and their
// derivation in norm_srmsnorm_deepnorm_backward.hpp). Plain loops, no SIMD, no threads.
#include "reference/norm_srmsnorm_deepnorm_backward.hpp"

#include <cmath>
#include <vector>

namespace opbench::ref {

// The forward's divisor, as reference/norm_srmsnorm_deepnorm.cpp computes it.
void srmsnorm_divisor(const double* x, double* r, std::int64_t rows, std::int64_t cols,
                      double eps) {
  const double sqrt_d = std::sqrt(static_cast<double>(cols));
  for (std::int64_t i = 0; i < rows; ++i) {
    const double* xr = x + i * cols;
    double ss = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) ss += xr[j] * xr[j];
    r[i] = std::sqrt(ss) / sqrt_d + eps;
  }
}

// dx = dy / r - x (x . dy) / (d r^2 rho), rho = r - eps; the second term is 0 where rho <= 0.
void srmsnorm_backward(const double* dy, const double* x, const double* r, double* dx,
                       std::int64_t rows, std::int64_t cols, double eps) {
  const double d = static_cast<double>(cols);
  for (std::int64_t i = 0; i < rows; ++i) {
    const double* dyr = dy + i * cols;
    const double* xr = x + i * cols;
    const double rho = r[i] - eps;
    double xdy = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) xdy += xr[j] * dyr[j];
    const double proj = rho > 0.0 ? xdy / (d * r[i] * r[i] * rho) : 0.0;
    for (std::int64_t j = 0; j < cols; ++j) dx[i * cols + j] = dyr[j] / r[i] - xr[j] * proj;
  }
}

// LayerNorm's statistics of s = alpha x + fx, two passes over s (as the forward reference).
void deepnorm_stats(const double* x, const double* fx, double* mean, double* rstd,
                    std::int64_t rows, std::int64_t cols, double alpha, double eps) {
  const double n = static_cast<double>(cols);
  std::vector<double> s(static_cast<std::size_t>(cols));
  for (std::int64_t i = 0; i < rows; ++i) {
    double sum = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      s[j] = alpha * x[i * cols + j] + fx[i * cols + j];
      sum += s[j];
    }
    const double m = sum / n;
    double q = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) q += (s[j] - m) * (s[j] - m);
    mean[i] = m;
    rstd[i] = 1.0 / std::sqrt(q / n + eps);
  }
}

// LayerNorm's backward at s = alpha x + fx (recomputed), then the chain rule through the sum.
void deepnorm_backward(const double* dy, const double* x, const double* fx, const double* gamma,
                       const double* mean, const double* rstd, double* dx, double* dfx,
                       double* dgamma, double* dbeta, std::int64_t rows, std::int64_t cols,
                       double alpha) {
  for (std::int64_t j = 0; j < cols; ++j) dgamma[j] = dbeta[j] = 0.0;
  const double n = static_cast<double>(cols);
  std::vector<double> shat(static_cast<std::size_t>(cols));
  for (std::int64_t i = 0; i < rows; ++i) {
    const double* dyr = dy + i * cols;
    double sum_g = 0.0, sum_gs = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      const double s = alpha * x[i * cols + j] + fx[i * cols + j];
      shat[j] = (s - mean[i]) * rstd[i];
      const double g = dyr[j] * gamma[j];
      sum_g += g;
      sum_gs += g * shat[j];
      dgamma[j] += dyr[j] * shat[j];
      dbeta[j] += dyr[j];
    }
    for (std::int64_t j = 0; j < cols; ++j) {
      const double ds = rstd[i] * (dyr[j] * gamma[j] - sum_g / n - shat[j] * sum_gs / n);
      dfx[i * cols + j] = ds;
      dx[i * cols + j] = alpha * ds;
    }
  }
}

}  // namespace opbench::ref
