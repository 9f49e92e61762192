// Float64 references of the normalization backward passes (equations in norm_backward.hpp).
#include "reference/norm_backward.hpp"

#include <cmath>

namespace opbench::ref {

// LayerNorm's saved statistics, Ba et al. 2016 eqs. 3-4, two passes.
void layernorm_stats(const double* x, double* mean, double* rstd, std::int64_t rows,
                     std::int64_t cols, double eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* xr = x + r * cols;
    double s = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) s += xr[j];
    const double m = s / static_cast<double>(cols);
    double q = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) q += (xr[j] - m) * (xr[j] - m);
    mean[r] = m;
    rstd[r] = 1.0 / std::sqrt(q / static_cast<double>(cols) + eps);
  }
}

// d/dx of y = xhat * gamma + beta, xhat = (x - mean(x)) * rstd(x): the mean and variance depend
// on every element of the row, which gives the two row means subtracted from g.
void layernorm_backward(const double* dy, const double* x, const double* gamma, const double* mean,
                        const double* rstd, double* dx, double* dgamma, double* dbeta,
                        std::int64_t rows, std::int64_t cols) {
  for (std::int64_t j = 0; j < cols; ++j) dgamma[j] = dbeta[j] = 0.0;
  const double n = static_cast<double>(cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* dyr = dy + r * cols;
    const double* xr = x + r * cols;
    double sum_g = 0.0, sum_gx = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      const double xhat = (xr[j] - mean[r]) * rstd[r];
      const double g = dyr[j] * gamma[j];
      sum_g += g;
      sum_gx += g * xhat;
      dgamma[j] += dyr[j] * xhat;
      dbeta[j] += dyr[j];
    }
    for (std::int64_t j = 0; j < cols; ++j) {
      const double xhat = (xr[j] - mean[r]) * rstd[r];
      const double g = dyr[j] * gamma[j];
      dx[r * cols + j] = rstd[r] * (g - sum_g / n - xhat * sum_gx / n);
    }
  }
}

// RMSNorm's saved statistic, Zhang & Sennrich 2019 eq. 4.
void rmsnorm_stats(const double* x, double* rstd, std::int64_t rows, std::int64_t cols,
                   double eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* xr = x + r * cols;
    double ss = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) ss += xr[j] * xr[j];
    rstd[r] = 1.0 / std::sqrt(ss / static_cast<double>(cols) + eps);
  }
}

// d/dx of y = x * rstd(x) * gamma: d rstd / d x_j = -rstd^3 x_j / cols.
void rmsnorm_backward(const double* dy, const double* x, const double* gamma, const double* rstd,
                      double* dx, double* dgamma, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t j = 0; j < cols; ++j) dgamma[j] = 0.0;
  const double n = static_cast<double>(cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* dyr = dy + r * cols;
    const double* xr = x + r * cols;
    double sum_gx = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      const double xhat = xr[j] * rstd[r];
      sum_gx += dyr[j] * gamma[j] * xhat;
      dgamma[j] += dyr[j] * xhat;
    }
    for (std::int64_t j = 0; j < cols; ++j) {
      const double xhat = xr[j] * rstd[r];
      dx[r * cols + j] = rstd[r] * (dyr[j] * gamma[j] - xhat * sum_gx / n);
    }
  }
}

}  // namespace opbench::ref
