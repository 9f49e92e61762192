// cpu.plain: the normalization family as a careful user writes it first: scalar loops, one thread,
// two passes over each row (mean, then mean of squared deviations) with double accumulators, the
// per-element arithmetic in double, float outputs. No OpenMP, no intrinsics.
#include "kernels/cpu/norm_plain.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace opbench::cpu::plain {
namespace {

struct Stats {
  double mean;
  double var;  // biased
};

Stats row_stats(const float* x, std::int64_t n) {
  double sum = 0.0;
  for (std::int64_t j = 0; j < n; ++j) sum += x[j];
  const double mean = sum / static_cast<double>(n);
  double sq = 0.0;
  for (std::int64_t j = 0; j < n; ++j) {
    const double d = x[j] - mean;
    sq += d * d;
  }
  return {mean, sq / static_cast<double>(n)};
}

double sum_squares(const float* x, std::int64_t n) {
  double sq = 0.0;
  for (std::int64_t j = 0; j < n; ++j) sq += static_cast<double>(x[j]) * x[j];
  return sq;
}

}  // namespace

void layernorm(const float* x, const float* gamma, const float* beta, float* y, std::int64_t rows,
               std::int64_t cols, float eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const Stats s = row_stats(xr, cols);
    const double rstd = 1.0 / std::sqrt(s.var + eps);
    for (std::int64_t j = 0; j < cols; ++j)
      yr[j] = static_cast<float>((xr[j] - s.mean) * rstd * gamma[j] + beta[j]);
  }
}

void rmsnorm(const float* x, const float* gamma, float* y, std::int64_t rows, std::int64_t cols,
             float eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    const double rstd = 1.0 / std::sqrt(sum_squares(xr, cols) / static_cast<double>(cols) + eps);
    for (std::int64_t j = 0; j < cols; ++j) yr[j] = static_cast<float>(xr[j] * rstd * gamma[j]);
  }
}

void crmsnorm(const float* x, const float* gamma, float* y, std::int64_t rows, std::int64_t cols,
              float eps) {
  const double d = static_cast<double>(cols + 1);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    double sum = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) sum += xr[j];
    const double rstd = 1.0 / std::sqrt((sum_squares(xr, cols) + sum * sum) / d + eps);
    for (std::int64_t j = 0; j < cols; ++j) yr[j] = static_cast<float>(xr[j] * rstd * gamma[j]);
  }
}

void dyt(const float* x, float alpha, const float* gamma, const float* beta, float* y,
         std::int64_t rows, std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    for (std::int64_t j = 0; j < cols; ++j) yr[j] = gamma[j] * std::tanh(alpha * xr[j]) + beta[j];
  }
}

void batchnorm_infer(const float* x, const float* running_mean, const float* running_var,
                     const float* gamma, const float* beta, float* y, std::int64_t rows,
                     std::int64_t cols, float eps) {
  std::vector<double> rstd(cols);
  for (std::int64_t j = 0; j < cols; ++j)
    rstd[j] = 1.0 / std::sqrt(static_cast<double>(running_var[j]) + eps);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    for (std::int64_t j = 0; j < cols; ++j)
      yr[j] = static_cast<float>(
          (xr[j] - static_cast<double>(running_mean[j])) * rstd[j] * gamma[j] + beta[j]);
  }
}

void batchnorm_train(const float* x, const float* gamma, const float* beta, float* y,
                     std::int64_t rows, std::int64_t cols, float eps) {
  std::vector<double> mean(cols, 0.0), var(cols, 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j) mean[j] += x[r * cols + j];
  for (std::int64_t j = 0; j < cols; ++j) mean[j] /= static_cast<double>(rows);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j) {
      const double d = x[r * cols + j] - mean[j];
      var[j] += d * d;
    }
  for (std::int64_t j = 0; j < cols; ++j) var[j] = 1.0 / std::sqrt(var[j] / rows + eps);  // rstd
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j)
      y[r * cols + j] =
          static_cast<float>((x[r * cols + j] - mean[j]) * var[j] * gamma[j] + beta[j]);
}

void groupnorm(const float* x, const float* gamma, const float* beta, float* y, std::int64_t n,
               std::int64_t c, std::int64_t hw, std::int64_t groups, float eps) {
  const std::int64_t cpg = c / groups;
  const std::int64_t len = cpg * hw;  // one group of one sample is contiguous
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t g = 0; g < groups; ++g) {
      const std::int64_t off = (i * c + g * cpg) * hw;
      const Stats s = row_stats(x + off, len);
      const double rstd = 1.0 / std::sqrt(s.var + eps);
      for (std::int64_t k = 0; k < cpg; ++k) {
        const std::int64_t ch = g * cpg + k;
        const float* xc = x + off + k * hw;
        float* yc = y + off + k * hw;
        for (std::int64_t j = 0; j < hw; ++j)
          yc[j] = static_cast<float>((xc[j] - s.mean) * rstd * gamma[ch] + beta[ch]);
      }
    }
}

void evonorm_s0(const float* x, const float* v, const float* gamma, const float* beta, float* y,
                std::int64_t n, std::int64_t c, std::int64_t hw, std::int64_t groups, float eps) {
  const std::int64_t cpg = c / groups;
  const std::int64_t len = cpg * hw;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t g = 0; g < groups; ++g) {
      const std::int64_t off = (i * c + g * cpg) * hw;
      const Stats s = row_stats(x + off, len);
      const double rstd = 1.0 / std::sqrt(s.var + eps);
      for (std::int64_t k = 0; k < cpg; ++k) {
        const std::int64_t ch = g * cpg + k;
        const float* xc = x + off + k * hw;
        float* yc = y + off + k * hw;
        for (std::int64_t j = 0; j < hw; ++j) {
          const double xv = xc[j];
          const double sig = 1.0 / (1.0 + std::exp(-static_cast<double>(v[ch]) * xv));
          yc[j] = static_cast<float>(xv * sig * rstd * gamma[ch] + beta[ch]);
        }
      }
    }
}

void evonorm_b0(const float* x, const float* v, const float* gamma, const float* beta, float* y,
                std::int64_t n, std::int64_t c, std::int64_t hw, float eps) {
  for (std::int64_t ch = 0; ch < c; ++ch) {
    // Batch statistics of channel ch over n and hw, two passes.
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < hw; ++j) sum += x[(i * c + ch) * hw + j];
    const double bmean = sum / static_cast<double>(n * hw);
    double sq = 0.0;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < hw; ++j) {
        const double d = x[(i * c + ch) * hw + j] - bmean;
        sq += d * d;
      }
    const double bstd = std::sqrt(sq / static_cast<double>(n * hw) + eps);
    for (std::int64_t i = 0; i < n; ++i) {
      const float* xc = x + (i * c + ch) * hw;
      float* yc = y + (i * c + ch) * hw;
      const Stats s = row_stats(xc, hw);
      const double istd = std::sqrt(s.var + eps);
      for (std::int64_t j = 0; j < hw; ++j) {
        const double den = std::max(bstd, static_cast<double>(v[ch]) * xc[j] + istd);
        yc[j] = static_cast<float>(xc[j] / den * gamma[ch] + beta[ch]);
      }
    }
  }
}

void online_norm(const float* x, const float* mu0, const float* var0, const float* gamma,
                 const float* beta, float* y, std::int64_t n, std::int64_t c, std::int64_t hw,
                 float alpha, float eps) {
  const double a = alpha;
  for (std::int64_t ch = 0; ch < c; ++ch) {
    double mu = mu0[ch];
    double var = var0[ch];
    for (std::int64_t t = 0; t < n; ++t) {
      const float* xc = x + (t * c + ch) * hw;
      float* yc = y + (t * c + ch) * hw;
      const Stats s = row_stats(xc, hw);  // before writing y, so y may alias x
      const double rstd = 1.0 / std::sqrt(var + eps);
      for (std::int64_t j = 0; j < hw; ++j)
        yc[j] = static_cast<float>((xc[j] - mu) * rstd * gamma[ch] + beta[ch]);
      const double dm = s.mean - mu;
      var = a * var + (1.0 - a) * s.var + a * (1.0 - a) * dm * dm;
      mu = a * mu + (1.0 - a) * s.mean;
    }
  }
}

void weight_std(const float* w, float* y, std::int64_t rows, std::int64_t cols, float eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* wr = w + r * cols;
    float* yr = y + r * cols;
    const Stats s = row_stats(wr, cols);
    const double rstd = 1.0 / std::sqrt(s.var + eps);
    for (std::int64_t j = 0; j < cols; ++j) yr[j] = static_cast<float>((wr[j] - s.mean) * rstd);
  }
}

void add_layernorm(const float* x, const float* residual, const float* gamma, const float* beta,
                   float* sum, float* y, std::int64_t rows, std::int64_t cols, float eps) {
  std::vector<double> s(cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    const float* rr = residual + r * cols;
    float* sr = sum + r * cols;
    float* yr = y + r * cols;
    double total = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      s[j] = static_cast<double>(xr[j]) + rr[j];
      sr[j] = static_cast<float>(s[j]);
      total += s[j];
    }
    const double mean = total / static_cast<double>(cols);
    double sq = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) sq += (s[j] - mean) * (s[j] - mean);
    const double rstd = 1.0 / std::sqrt(sq / static_cast<double>(cols) + eps);
    for (std::int64_t j = 0; j < cols; ++j)
      yr[j] = static_cast<float>((s[j] - mean) * rstd * gamma[j] + beta[j]);
  }
}

void add_rmsnorm(const float* x, const float* residual, const float* gamma, float* sum, float* y,
                 std::int64_t rows, std::int64_t cols, float eps) {
  std::vector<double> s(cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    const float* rr = residual + r * cols;
    float* sr = sum + r * cols;
    float* yr = y + r * cols;
    double sq = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      s[j] = static_cast<double>(xr[j]) + rr[j];
      sr[j] = static_cast<float>(s[j]);
      sq += s[j] * s[j];
    }
    const double rstd = 1.0 / std::sqrt(sq / static_cast<double>(cols) + eps);
    for (std::int64_t j = 0; j < cols; ++j) yr[j] = static_cast<float>(s[j] * rstd * gamma[j]);
  }
}

}  // namespace opbench::cpu::plain
