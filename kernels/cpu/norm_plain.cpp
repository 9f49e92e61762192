// cpu.plain: the normalization family as a careful user writes it first: scalar loops, one thread,
// two passes over each row (mean, then mean of squared deviations) with double accumulators, the
// per-element arithmetic in double. Storage is float, bf16_t or f16_t: loads widen exactly, stores
// round the double result once into T (double -> float -> half would round twice). No OpenMP, no
// intrinsics.
#include "kernels/cpu/norm_plain.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "harness/half.hpp"
#include "kernels/cpu/storage.hpp"

namespace opbench::cpu::plain {
namespace {

struct Stats {
  double mean;
  double var;  // biased
};

template <typename T>
Stats row_stats(const T* x, std::int64_t n) {
  double sum = 0.0;
  for (std::int64_t j = 0; j < n; ++j) sum += widen_double(x[j]);
  const double mean = sum / static_cast<double>(n);
  double sq = 0.0;
  for (std::int64_t j = 0; j < n; ++j) {
    const double d = widen_double(x[j]) - mean;
    sq += d * d;
  }
  return {mean, sq / static_cast<double>(n)};
}

template <typename T>
double sum_squares(const T* x, std::int64_t n) {
  double sq = 0.0;
  for (std::int64_t j = 0; j < n; ++j) sq += widen_double(x[j]) * widen_double(x[j]);
  return sq;
}

}  // namespace

template <typename T>
void layernorm(const T* x, const T* gamma, const T* beta, T* y, std::int64_t rows,
               std::int64_t cols, float eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    const Stats s = row_stats(xr, cols);
    const double rstd = 1.0 / std::sqrt(s.var + eps);
    for (std::int64_t j = 0; j < cols; ++j)
      yr[j] = narrow_double<T>((widen_double(xr[j]) - s.mean) * rstd * widen_double(gamma[j]) +
                               widen_double(beta[j]));
  }
}

template <typename T>
void rmsnorm(const T* x, const T* gamma, T* y, std::int64_t rows, std::int64_t cols, float eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    const double rstd = 1.0 / std::sqrt(sum_squares(xr, cols) / static_cast<double>(cols) + eps);
    for (std::int64_t j = 0; j < cols; ++j)
      yr[j] = narrow_double<T>(widen_double(xr[j]) * rstd * widen_double(gamma[j]));
  }
}

template <typename T>
void crmsnorm(const T* x, const T* gamma, T* y, std::int64_t rows, std::int64_t cols, float eps) {
  const double d = static_cast<double>(cols + 1);
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    double sum = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) sum += widen_double(xr[j]);
    const double rstd = 1.0 / std::sqrt((sum_squares(xr, cols) + sum * sum) / d + eps);
    for (std::int64_t j = 0; j < cols; ++j)
      yr[j] = narrow_double<T>(widen_double(xr[j]) * rstd * widen_double(gamma[j]));
  }
}

template <typename T>
void dyt(const T* x, float alpha, const T* gamma, const T* beta, T* y, std::int64_t rows,
         std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    // In float, as the float32 code always was (float tanh); the casts back to float are exact.
    // The float result is a double exactly, so st rounds it once into T.
    for (std::int64_t j = 0; j < cols; ++j) {
      const float xv = static_cast<float>(widen_double(xr[j]));
      const float g = static_cast<float>(widen_double(gamma[j]));
      const float b = static_cast<float>(widen_double(beta[j]));
      yr[j] = narrow_double<T>(g * std::tanh(alpha * xv) + b);
    }
  }
}

template <typename T>
void batchnorm_infer(const T* x, const float* running_mean, const float* running_var,
                     const T* gamma, const T* beta, T* y, std::int64_t rows, std::int64_t cols,
                     float eps) {
  std::vector<double> rstd(cols);
  for (std::int64_t j = 0; j < cols; ++j)
    rstd[j] = 1.0 / std::sqrt(static_cast<double>(running_var[j]) + eps);
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    for (std::int64_t j = 0; j < cols; ++j)
      yr[j] = narrow_double<T>((widen_double(xr[j]) - static_cast<double>(running_mean[j])) *
                                   rstd[j] * widen_double(gamma[j]) +
                               widen_double(beta[j]));
  }
}

template <typename T>
void batchnorm_train(const T* x, const T* gamma, const T* beta, T* y, std::int64_t rows,
                     std::int64_t cols, float eps) {
  std::vector<double> mean(cols, 0.0), var(cols, 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j) mean[j] += widen_double(x[r * cols + j]);
  for (std::int64_t j = 0; j < cols; ++j) mean[j] /= static_cast<double>(rows);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j) {
      const double d = widen_double(x[r * cols + j]) - mean[j];
      var[j] += d * d;
    }
  for (std::int64_t j = 0; j < cols; ++j) var[j] = 1.0 / std::sqrt(var[j] / rows + eps);  // rstd
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j)
      y[r * cols + j] = narrow_double<T>((widen_double(x[r * cols + j]) - mean[j]) * var[j] *
                                             widen_double(gamma[j]) +
                                         widen_double(beta[j]));
}

template <typename T>
void groupnorm(const T* x, const T* gamma, const T* beta, T* y, std::int64_t n, std::int64_t c,
               std::int64_t hw, std::int64_t groups, float eps) {
  const std::int64_t cpg = c / groups;
  const std::int64_t len = cpg * hw;  // one group of one sample is contiguous
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t g = 0; g < groups; ++g) {
      const std::int64_t off = (i * c + g * cpg) * hw;
      const Stats s = row_stats(x + off, len);
      const double rstd = 1.0 / std::sqrt(s.var + eps);
      for (std::int64_t k = 0; k < cpg; ++k) {
        const std::int64_t ch = g * cpg + k;
        const T* xc = x + off + k * hw;
        T* yc = y + off + k * hw;
        for (std::int64_t j = 0; j < hw; ++j)
          yc[j] = narrow_double<T>((widen_double(xc[j]) - s.mean) * rstd * widen_double(gamma[ch]) +
                                   widen_double(beta[ch]));
      }
    }
}

template <typename T>
void evonorm_s0(const T* x, const T* v, const T* gamma, const T* beta, T* y, std::int64_t n,
                std::int64_t c, std::int64_t hw, std::int64_t groups, float eps) {
  const std::int64_t cpg = c / groups;
  const std::int64_t len = cpg * hw;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t g = 0; g < groups; ++g) {
      const std::int64_t off = (i * c + g * cpg) * hw;
      const Stats s = row_stats(x + off, len);
      const double rstd = 1.0 / std::sqrt(s.var + eps);
      for (std::int64_t k = 0; k < cpg; ++k) {
        const std::int64_t ch = g * cpg + k;
        const T* xc = x + off + k * hw;
        T* yc = y + off + k * hw;
        for (std::int64_t j = 0; j < hw; ++j) {
          const double xv = widen_double(xc[j]);
          const double sig = 1.0 / (1.0 + std::exp(-widen_double(v[ch]) * xv));
          yc[j] =
              narrow_double<T>(xv * sig * rstd * widen_double(gamma[ch]) + widen_double(beta[ch]));
        }
      }
    }
}

template <typename T>
void evonorm_b0(const T* x, const T* v, const T* gamma, const T* beta, T* y, std::int64_t n,
                std::int64_t c, std::int64_t hw, float eps) {
  for (std::int64_t ch = 0; ch < c; ++ch) {
    // Batch statistics of channel ch over n and hw, two passes.
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < hw; ++j) sum += widen_double(x[(i * c + ch) * hw + j]);
    const double bmean = sum / static_cast<double>(n * hw);
    double sq = 0.0;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < hw; ++j) {
        const double d = widen_double(x[(i * c + ch) * hw + j]) - bmean;
        sq += d * d;
      }
    const double bstd = std::sqrt(sq / static_cast<double>(n * hw) + eps);
    for (std::int64_t i = 0; i < n; ++i) {
      const T* xc = x + (i * c + ch) * hw;
      T* yc = y + (i * c + ch) * hw;
      const Stats s = row_stats(xc, hw);
      const double istd = std::sqrt(s.var + eps);
      for (std::int64_t j = 0; j < hw; ++j) {
        const double den = std::max(bstd, widen_double(v[ch]) * widen_double(xc[j]) + istd);
        yc[j] = narrow_double<T>(widen_double(xc[j]) / den * widen_double(gamma[ch]) +
                                 widen_double(beta[ch]));
      }
    }
  }
}

template <typename T>
void online_norm(const T* x, const float* mu0, const float* var0, const T* gamma, const T* beta,
                 T* y, std::int64_t n, std::int64_t c, std::int64_t hw, float alpha, float eps) {
  const double a = alpha;
  for (std::int64_t ch = 0; ch < c; ++ch) {
    double mu = mu0[ch];
    double var = var0[ch];
    for (std::int64_t t = 0; t < n; ++t) {
      const T* xc = x + (t * c + ch) * hw;
      T* yc = y + (t * c + ch) * hw;
      const Stats s = row_stats(xc, hw);  // before writing y, so y may alias x
      const double rstd = 1.0 / std::sqrt(var + eps);
      for (std::int64_t j = 0; j < hw; ++j)
        yc[j] = narrow_double<T>((widen_double(xc[j]) - mu) * rstd * widen_double(gamma[ch]) +
                                 widen_double(beta[ch]));
      const double dm = s.mean - mu;
      var = a * var + (1.0 - a) * s.var + a * (1.0 - a) * dm * dm;
      mu = a * mu + (1.0 - a) * s.mean;
    }
  }
}

template <typename T>
void weight_std(const T* w, T* y, std::int64_t rows, std::int64_t cols, float eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* wr = w + r * cols;
    T* yr = y + r * cols;
    const Stats s = row_stats(wr, cols);
    const double rstd = 1.0 / std::sqrt(s.var + eps);
    for (std::int64_t j = 0; j < cols; ++j)
      yr[j] = narrow_double<T>((widen_double(wr[j]) - s.mean) * rstd);
  }
}

template <typename T>
void add_layernorm(const T* x, const T* residual, const T* gamma, const T* beta, T* sum, T* y,
                   std::int64_t rows, std::int64_t cols, float eps) {
  std::vector<double> s(cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    const T* rr = residual + r * cols;
    T* sr = sum + r * cols;
    T* yr = y + r * cols;
    double total = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      s[j] = widen_double(xr[j]) + widen_double(rr[j]);
      sr[j] = narrow_double<T>(s[j]);
      total += s[j];
    }
    const double mean = total / static_cast<double>(cols);
    double sq = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) sq += (s[j] - mean) * (s[j] - mean);
    const double rstd = 1.0 / std::sqrt(sq / static_cast<double>(cols) + eps);
    for (std::int64_t j = 0; j < cols; ++j)
      yr[j] =
          narrow_double<T>((s[j] - mean) * rstd * widen_double(gamma[j]) + widen_double(beta[j]));
  }
}

template <typename T>
void add_rmsnorm(const T* x, const T* residual, const T* gamma, T* sum, T* y, std::int64_t rows,
                 std::int64_t cols, float eps) {
  std::vector<double> s(cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    const T* rr = residual + r * cols;
    T* sr = sum + r * cols;
    T* yr = y + r * cols;
    double sq = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      s[j] = widen_double(xr[j]) + widen_double(rr[j]);
      sr[j] = narrow_double<T>(s[j]);
      sq += s[j] * s[j];
    }
    const double rstd = 1.0 / std::sqrt(sq / static_cast<double>(cols) + eps);
    for (std::int64_t j = 0; j < cols; ++j)
      yr[j] = narrow_double<T>(s[j] * rstd * widen_double(gamma[j]));
  }
}

// The three storage types; callers include only the header.
#define OPBENCH_NORM_PLAIN(T)                                                                      \
  template void layernorm<T>(const T*, const T*, const T*, T*, std::int64_t, std::int64_t, float); \
  template void rmsnorm<T>(const T*, const T*, T*, std::int64_t, std::int64_t, float);             \
  template void crmsnorm<T>(const T*, const T*, T*, std::int64_t, std::int64_t, float);            \
  template void dyt<T>(const T*, float, const T*, const T*, T*, std::int64_t, std::int64_t);       \
  template void batchnorm_infer<T>(const T*, const float*, const float*, const T*, const T*, T*,   \
                                   std::int64_t, std::int64_t, float);                             \
  template void batchnorm_train<T>(const T*, const T*, const T*, T*, std::int64_t, std::int64_t,   \
                                   float);                                                         \
  template void groupnorm<T>(const T*, const T*, const T*, T*, std::int64_t, std::int64_t,         \
                             std::int64_t, std::int64_t, float);                                   \
  template void evonorm_s0<T>(const T*, const T*, const T*, const T*, T*, std::int64_t,            \
                              std::int64_t, std::int64_t, std::int64_t, float);                    \
  template void evonorm_b0<T>(const T*, const T*, const T*, const T*, T*, std::int64_t,            \
                              std::int64_t, std::int64_t, float);                                  \
  template void online_norm<T>(const T*, const float*, const float*, const T*, const T*, T*,       \
                               std::int64_t, std::int64_t, std::int64_t, float, float);            \
  template void weight_std<T>(const T*, T*, std::int64_t, std::int64_t, float);                    \
  template void add_layernorm<T>(const T*, const T*, const T*, const T*, T*, T*, std::int64_t,     \
                                 std::int64_t, float);                                             \
  template void add_rmsnorm<T>(const T*, const T*, const T*, T*, T*, std::int64_t, std::int64_t,   \
                               float);

OPBENCH_NORM_PLAIN(float)
OPBENCH_NORM_PLAIN(bf16_t)
OPBENCH_NORM_PLAIN(f16_t)

#undef OPBENCH_NORM_PLAIN

}  // namespace opbench::cpu::plain
