// Float64 references of the normalization family (contract and equations in norm.hpp).
// Plain loops, no SIMD, no threads; two-pass biased statistics.
#include "reference/norm.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace opbench::ref {
namespace {

// Mean and biased (population) variance of p[0..count), two passes: mean first, then the mean
// of squared deviations from it.
void mean_var(const double* p, std::int64_t count, double& mean, double& var) {
  double s = 0.0;
  for (std::int64_t i = 0; i < count; ++i) s += p[i];
  mean = s / static_cast<double>(count);
  double q = 0.0;
  for (std::int64_t i = 0; i < count; ++i) {
    const double d = p[i] - mean;
    q += d * d;
  }
  var = q / static_cast<double>(count);
}

void check_groups(const char* op, std::int64_t c, std::int64_t groups) {
  if (groups <= 0 || c % groups != 0) {
    throw std::invalid_argument(std::string(op) + ": groups must be positive and divide c (c=" +
                                std::to_string(c) + ", groups=" + std::to_string(groups) + ")");
  }
}

}  // namespace

// LayerNorm, Ba et al. 2016, eqs. 3-4.
void layernorm(const double* x, const double* gamma, const double* beta, double* y,
               std::int64_t rows, std::int64_t cols, double eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* xr = x + r * cols;
    double* yr = y + r * cols;
    double mean, var;
    mean_var(xr, cols, mean, var);
    const double inv = 1.0 / std::sqrt(var + eps);
    for (std::int64_t j = 0; j < cols; ++j) yr[j] = (xr[j] - mean) * inv * gamma[j] + beta[j];
  }
}

// RMSNorm, Zhang & Sennrich 2019, eq. 4.
void rmsnorm(const double* x, const double* gamma, double* y, std::int64_t rows, std::int64_t cols,
             double eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* xr = x + r * cols;
    double* yr = y + r * cols;
    double ss = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) ss += xr[j] * xr[j];
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(cols) + eps);
    for (std::int64_t j = 0; j < cols; ++j) yr[j] = xr[j] * inv * gamma[j];
  }
}

// Pre-CRMSNorm, Jiang et al. 2023, eq. 9 (implicit last element -sum(x), d = cols + 1).
void crmsnorm(const double* x, const double* gamma, double* y, std::int64_t rows, std::int64_t cols,
              double eps) {
  const double d = static_cast<double>(cols + 1);
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* xr = x + r * cols;
    double* yr = y + r * cols;
    double s = 0.0, ss = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      s += xr[j];
      ss += xr[j] * xr[j];
    }
    const double inv = 1.0 / std::sqrt((ss + s * s) / d + eps);
    for (std::int64_t j = 0; j < cols; ++j) yr[j] = xr[j] * inv * gamma[j];
  }
}

// DyT, Zhu et al. 2025, eq. 1.
void dyt(const double* x, double alpha, const double* gamma, const double* beta, double* y,
         std::int64_t rows, std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::int64_t i = r * cols + j;
      y[i] = gamma[j] * std::tanh(alpha * x[i]) + beta[j];
    }
  }
}

// BatchNorm inference, Ioffe & Szegedy 2015, Alg. 2 step 11.
void batchnorm_infer(const double* x, const double* running_mean, const double* running_var,
                     const double* gamma, const double* beta, double* y, std::int64_t rows,
                     std::int64_t cols, double eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::int64_t i = r * cols + j;
      y[i] = (x[i] - running_mean[j]) / std::sqrt(running_var[j] + eps) * gamma[j] + beta[j];
    }
  }
}

// BatchNorm training, Ioffe & Szegedy 2015, Alg. 1 (statistics per column over the rows).
void batchnorm_train(const double* x, const double* gamma, const double* beta, double* y,
                     std::int64_t rows, std::int64_t cols, double eps) {
  // Column statistics, each column's sum taken over r = 0, 1, ... in order. The loops run row by
  // row with one accumulator per column, so x is read along its rows (a column walk strides a
  // whole row per element); the order of each column's additions is the same either way.
  std::vector<double> mean(static_cast<std::size_t>(cols), 0.0);
  std::vector<double> q(static_cast<std::size_t>(cols), 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) mean[j] += x[r * cols + j];
  }
  for (std::int64_t j = 0; j < cols; ++j) mean[j] /= static_cast<double>(rows);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) {
      const double d = x[r * cols + j] - mean[j];
      q[j] += d * d;
    }
  }
  std::vector<double> inv(static_cast<std::size_t>(cols));
  for (std::int64_t j = 0; j < cols; ++j) {
    const double var = q[j] / static_cast<double>(rows);
    inv[j] = 1.0 / std::sqrt(var + eps);
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::int64_t i = r * cols + j;
      y[i] = (x[i] - mean[j]) * inv[j] * gamma[j] + beta[j];
    }
  }
}

// GroupNorm, Wu & He 2018, eqs. 1-3 and 7. In [n, c, hw] layout a group is a contiguous block.
void groupnorm(const double* x, const double* gamma, const double* beta, double* y, std::int64_t n,
               std::int64_t c, std::int64_t hw, std::int64_t groups, double eps) {
  check_groups("groupnorm", c, groups);
  const std::int64_t cpg = c / groups;
  for (std::int64_t b = 0; b < n; ++b) {
    for (std::int64_t g = 0; g < groups; ++g) {
      const std::int64_t base = (b * c + g * cpg) * hw;
      double mean, var;
      mean_var(x + base, cpg * hw, mean, var);
      const double inv = 1.0 / std::sqrt(var + eps);
      for (std::int64_t k = 0; k < cpg; ++k) {
        const std::int64_t ch = g * cpg + k;
        for (std::int64_t s = 0; s < hw; ++s) {
          const std::int64_t i = base + k * hw + s;
          y[i] = (x[i] - mean) * inv * gamma[ch] + beta[ch];
        }
      }
    }
  }
}

// EvoNorm-S0, Liu et al. 2020, Alg. 1 / Table 1.
void evonorm_s0(const double* x, const double* v, const double* gamma, const double* beta,
                double* y, std::int64_t n, std::int64_t c, std::int64_t hw, std::int64_t groups,
                double eps) {
  check_groups("evonorm_s0", c, groups);
  const std::int64_t cpg = c / groups;
  for (std::int64_t b = 0; b < n; ++b) {
    for (std::int64_t g = 0; g < groups; ++g) {
      const std::int64_t base = (b * c + g * cpg) * hw;
      double mean, var;
      mean_var(x + base, cpg * hw, mean, var);
      const double sd = std::sqrt(var + eps);
      for (std::int64_t k = 0; k < cpg; ++k) {
        const std::int64_t ch = g * cpg + k;
        for (std::int64_t s = 0; s < hw; ++s) {
          const std::int64_t i = base + k * hw + s;
          const double sig = 1.0 / (1.0 + std::exp(-v[ch] * x[i]));
          y[i] = x[i] * sig / sd * gamma[ch] + beta[ch];
        }
      }
    }
  }
}

// EvoNorm-B0, Liu et al. 2020, Alg. 1 / Table 1 (training form: batch variance over n and hw).
void evonorm_b0(const double* x, const double* v, const double* gamma, const double* beta,
                double* y, std::int64_t n, std::int64_t c, std::int64_t hw, double eps) {
  const double count = static_cast<double>(n * hw);
  for (std::int64_t ch = 0; ch < c; ++ch) {
    double s = 0.0;
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t k = 0; k < hw; ++k) s += x[(b * c + ch) * hw + k];
    const double bmean = s / count;
    double q = 0.0;
    for (std::int64_t b = 0; b < n; ++b) {
      for (std::int64_t k = 0; k < hw; ++k) {
        const double d = x[(b * c + ch) * hw + k] - bmean;
        q += d * d;
      }
    }
    const double batch_sd = std::sqrt(q / count + eps);
    for (std::int64_t b = 0; b < n; ++b) {
      const std::int64_t base = (b * c + ch) * hw;
      double imean, ivar;
      mean_var(x + base, hw, imean, ivar);
      const double inst_sd = std::sqrt(ivar + eps);
      for (std::int64_t k = 0; k < hw; ++k) {
        const std::int64_t i = base + k;
        const double den = std::max(batch_sd, v[ch] * x[i] + inst_sd);
        y[i] = x[i] / den * gamma[ch] + beta[ch];
      }
    }
  }
}

// Online Normalization forward, Chiley et al. 2019, eqs. 6-8.
void online_norm(const double* x, const double* mu0, const double* var0, const double* gamma,
                 const double* beta, double* y, std::int64_t n, std::int64_t c, std::int64_t hw,
                 double alpha, double eps) {
  for (std::int64_t ch = 0; ch < c; ++ch) {
    double mu = mu0[ch];
    double var = var0[ch];
    for (std::int64_t t = 0; t < n; ++t) {
      const std::int64_t base = (t * c + ch) * hw;
      double m, s;
      mean_var(x + base, hw, m, s);  // before writing y, so y may alias x
      const double inv = 1.0 / std::sqrt(var + eps);
      for (std::int64_t k = 0; k < hw; ++k) {
        y[base + k] = (x[base + k] - mu) * inv * gamma[ch] + beta[ch];
      }
      const double dm = m - mu;
      var = alpha * var + (1.0 - alpha) * s + alpha * (1.0 - alpha) * dm * dm;
      mu = alpha * mu + (1.0 - alpha) * m;
    }
  }
}

// Weight Standardization, Qiao et al. 2019, eq. 2.
void weight_std(const double* w, double* y, std::int64_t rows, std::int64_t cols, double eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* wr = w + r * cols;
    double* yr = y + r * cols;
    double mean, var;
    mean_var(wr, cols, mean, var);
    const double inv = 1.0 / std::sqrt(var + eps);
    for (std::int64_t j = 0; j < cols; ++j) yr[j] = (wr[j] - mean) * inv;
  }
}

// Residual add then LayerNorm (pre-norm transformer block).
void add_layernorm(const double* x, const double* residual, const double* gamma, const double* beta,
                   double* sum, double* y, std::int64_t rows, std::int64_t cols, double eps) {
  for (std::int64_t i = 0; i < rows * cols; ++i) sum[i] = x[i] + residual[i];
  layernorm(sum, gamma, beta, y, rows, cols, eps);
}

// Residual add then RMSNorm.
void add_rmsnorm(const double* x, const double* residual, const double* gamma, double* sum,
                 double* y, std::int64_t rows, std::int64_t cols, double eps) {
  for (std::int64_t i = 0; i < rows * cols; ++i) sum[i] = x[i] + residual[i];
  rmsnorm(sum, gamma, y, rows, cols, eps);
}

}  // namespace opbench::ref
