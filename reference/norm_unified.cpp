// Unified Normalization references (reference/norm_unified.hpp): Yang et al. 2022, Sec. 3, and
// the authors' UN2dFunction.forward, whose differences from the paper the header lists.
#include "reference/norm_unified.hpp"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace opbench::ref {

void unified_norm_second_moment(const double* x, std::int64_t rows, std::int64_t cols,
                                double* sigma2) {
  if (rows < 1) throw std::invalid_argument("unified_norm: rows must be at least 1");
  for (std::int64_t j = 0; j < cols; ++j) sigma2[j] = 0.0;
  for (std::int64_t r = 0; r < rows; ++r)  // row by row: x is read along its rows
    for (std::int64_t j = 0; j < cols; ++j) sigma2[j] += x[r * cols + j] * x[r * cols + j];
  for (std::int64_t j = 0; j < cols; ++j) sigma2[j] /= static_cast<double>(rows);
}

double unified_norm_threshold(const double* window, std::int64_t window_size, std::int64_t cols) {
  const std::int64_t n = window_size * cols;
  if (n < 2) throw std::invalid_argument("unified_norm: window * cols must be at least 2");
  double mean = 0.0;
  for (std::int64_t i = 0; i < n; ++i) mean += std::sqrt(window[i]);
  mean /= static_cast<double>(n);
  double q = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = std::sqrt(window[i]) - mean;
    q += d * d;
  }
  return static_cast<double>(window_size) * q / static_cast<double>(n - 1);
}

void unified_norm_window_means(const double* window, const double* sigma2, std::int64_t window_size,
                               std::int64_t cols, double* am, double* gm) {
  const double m = static_cast<double>(window_size);
  for (std::int64_t j = 0; j < cols; ++j) {
    double s = sigma2[j], l = std::log(sigma2[j]);
    for (std::int64_t k = 1; k < window_size; ++k) {  // row 0, the oldest, leaves the window
      s += window[k * cols + j];
      l += std::log(window[k * cols + j]);
    }
    am[j] = s / m;
    gm[j] = window_size == 1 ? sigma2[j] : std::exp(l / m);
  }
}

bool unified_norm(const double* x, const double* gamma, const double* beta, const double* window,
                  const double* running_var, double* y, double* window_out, double* running_var_out,
                  std::int64_t rows, std::int64_t cols, std::int64_t window_size, double momentum,
                  double eps, UnifiedNormBranch branch) {
  if (window_size < 1) throw std::invalid_argument("unified_norm: window must be at least 1");
  const auto n = static_cast<std::size_t>(cols);
  std::vector<double> sigma2(n), am(n), gm(n);
  unified_norm_second_moment(x, rows, cols, sigma2.data());
  const double threshold = unified_norm_threshold(window, window_size, cols);
  unified_norm_window_means(window, sigma2.data(), window_size, cols, am.data(), gm.data());
  bool filtered = false;
  for (std::int64_t j = 0; j < cols; ++j) filtered = filtered || am[j] - gm[j] > threshold;
  if (branch != UnifiedNormBranch::decide) filtered = branch == UnifiedNormBranch::filtered;

  // Every input is read before an output is written: window_out may alias window.
  std::vector<double> var(n), newest(n);
  for (std::int64_t j = 0; j < cols; ++j) {
    var[j] = filtered ? sigma2[j] : gm[j];
    newest[j] = filtered ? running_var[j] : sigma2[j];
  }
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::int64_t i = r * cols + j;
      y[i] = gamma[j] * x[i] / std::sqrt(var[j] + eps) + beta[j];
    }
  for (std::int64_t k = 0; k + 1 < window_size; ++k)
    for (std::int64_t j = 0; j < cols; ++j) window_out[k * cols + j] = window[(k + 1) * cols + j];
  for (std::int64_t j = 0; j < cols; ++j) {
    window_out[(window_size - 1) * cols + j] = newest[j];
    running_var_out[j] = momentum * running_var[j] + (1.0 - momentum) * var[j];
  }
  return filtered;
}

void unified_norm_fold(const double* running_var, const double* gamma, const double* beta,
                       double* a, double* b, std::int64_t cols, double eps) {
  for (std::int64_t j = 0; j < cols; ++j) {
    a[j] = gamma[j] / std::sqrt(running_var[j] + eps);
    b[j] = beta[j];
  }
}

void unified_norm_infer(const double* x, const double* a, const double* b, double* y,
                        std::int64_t rows, std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j) y[r * cols + j] = x[r * cols + j] * a[j] + b[j];
}

}  // namespace opbench::ref
