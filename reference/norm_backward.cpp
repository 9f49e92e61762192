// Float64 references of the normalization backward passes (equations in norm_backward.hpp).
#include "reference/norm_backward.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

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

// x and residual enter LayerNorm only through sum = x + residual: d/dx = d/dresidual = d/dsum.
void add_layernorm_backward(const double* dy, const double* dsum, const double* sum,
                            const double* gamma, const double* mean, const double* rstd, double* dx,
                            double* dgamma, double* dbeta, std::int64_t rows, std::int64_t cols) {
  layernorm_backward(dy, sum, gamma, mean, rstd, dx, dgamma, dbeta, rows, cols);
  for (std::int64_t k = 0; k < rows * cols; ++k) dx[k] += dsum[k];
}

void add_rmsnorm_backward(const double* dy, const double* dsum, const double* sum,
                          const double* gamma, const double* rstd, double* dx, double* dgamma,
                          std::int64_t rows, std::int64_t cols) {
  rmsnorm_backward(dy, sum, gamma, rstd, dx, dgamma, rows, cols);
  for (std::int64_t k = 0; k < rows * cols; ++k) dx[k] += dsum[k];
}

// d/dz tanh(z) = 1 - tanh(z)^2, with z = alpha x: d/dx takes alpha, d/dalpha takes x.
void dyt_backward(const double* dy, const double* x, double alpha, const double* gamma, double* dx,
                  double* dalpha, double* dgamma, double* dbeta, std::int64_t rows,
                  std::int64_t cols) {
  for (std::int64_t j = 0; j < cols; ++j) dgamma[j] = dbeta[j] = 0.0;
  double da = 0.0;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::int64_t k = r * cols + j;
      const double t = std::tanh(alpha * x[k]);
      const double local = dy[k] * gamma[j] * (1.0 - t * t);  // dL/dz at this element
      dx[k] = local * alpha;
      da += local * x[k];
      dgamma[j] += dy[k] * t;
      dbeta[j] += dy[k];
    }
  }
  dalpha[0] = da;
}

// BatchNorm's saved statistics, Ioffe & Szegedy 2015 Alg. 1, two passes down each column.
void batchnorm_train_stats(const double* x, double* mean, double* rstd, std::int64_t rows,
                           std::int64_t cols, double eps) {
  for (std::int64_t j = 0; j < cols; ++j) {
    double s = 0.0;
    for (std::int64_t r = 0; r < rows; ++r) s += x[r * cols + j];
    const double m = s / static_cast<double>(rows);
    double q = 0.0;
    for (std::int64_t r = 0; r < rows; ++r) q += (x[r * cols + j] - m) * (x[r * cols + j] - m);
    mean[j] = m;
    rstd[j] = 1.0 / std::sqrt(q / static_cast<double>(rows) + eps);
  }
}

// The batch statistics depend on every sample of the column: LayerNorm's gradient with rows and
// columns exchanged, where mean(g) = gamma dbeta / N and mean(g xhat) = gamma dgamma / N.
void batchnorm_train_backward(const double* dy, const double* x, const double* gamma,
                              const double* mean, const double* rstd, double* dx, double* dgamma,
                              double* dbeta, std::int64_t rows, std::int64_t cols) {
  const double n = static_cast<double>(rows);
  for (std::int64_t j = 0; j < cols; ++j) {
    double dg = 0.0, db = 0.0;
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int64_t k = r * cols + j;
      dg += dy[k] * (x[k] - mean[j]) * rstd[j];
      db += dy[k];
    }
    dgamma[j] = dg;
    dbeta[j] = db;
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int64_t k = r * cols + j;
      const double xhat = (x[k] - mean[j]) * rstd[j];
      dx[k] = rstd[j] * gamma[j] * (dy[k] - db / n - xhat * dg / n);
    }
  }
}

namespace {
void check_groups(std::int64_t c, std::int64_t groups) {
  if (groups <= 0 || c % groups != 0) {
    throw std::invalid_argument("groupnorm backward: groups must be positive and divide c (c=" +
                                std::to_string(c) + ", groups=" + std::to_string(groups) + ")");
  }
}
}  // namespace

// GroupNorm's saved statistics, Wu & He 2018 eqs. 1-3 over the group set of eq. 7.
void groupnorm_stats(const double* x, double* mean, double* rstd, std::int64_t n, std::int64_t c,
                     std::int64_t hw, std::int64_t groups, double eps) {
  check_groups(c, groups);
  const std::int64_t m = c / groups * hw;  // a group is contiguous in x[n, c, hw]
  for (std::int64_t s = 0; s < n * groups; ++s) {
    const double* xs = x + s * m;
    double sum = 0.0;
    for (std::int64_t k = 0; k < m; ++k) sum += xs[k];
    const double mu = sum / static_cast<double>(m);
    double q = 0.0;
    for (std::int64_t k = 0; k < m; ++k) q += (xs[k] - mu) * (xs[k] - mu);
    mean[s] = mu;
    rstd[s] = 1.0 / std::sqrt(q / static_cast<double>(m) + eps);
  }
}

// LayerNorm's gradient over each group, gamma per channel inside it.
void groupnorm_backward(const double* dy, const double* x, const double* gamma, const double* mean,
                        const double* rstd, double* dx, double* dgamma, double* dbeta,
                        std::int64_t n, std::int64_t c, std::int64_t hw, std::int64_t groups) {
  check_groups(c, groups);
  const std::int64_t per = c / groups, m = per * hw;
  for (std::int64_t ch = 0; ch < c; ++ch) dgamma[ch] = dbeta[ch] = 0.0;
  for (std::int64_t s = 0; s < n * groups; ++s) {
    const std::int64_t first_channel = (s % groups) * per;
    double sum_g = 0.0, sum_gx = 0.0;
    for (std::int64_t k = 0; k < m; ++k) {
      const std::int64_t ch = first_channel + k / hw, at = s * m + k;
      const double xhat = (x[at] - mean[s]) * rstd[s];
      const double g = dy[at] * gamma[ch];
      sum_g += g;
      sum_gx += g * xhat;
      dgamma[ch] += dy[at] * xhat;
      dbeta[ch] += dy[at];
    }
    for (std::int64_t k = 0; k < m; ++k) {
      const std::int64_t ch = first_channel + k / hw, at = s * m + k;
      const double xhat = (x[at] - mean[s]) * rstd[s];
      const double g = dy[at] * gamma[ch];
      dx[at] =
          rstd[s] * (g - sum_g / static_cast<double>(m) - xhat * sum_gx / static_cast<double>(m));
    }
  }
}

}  // namespace opbench::ref
