#pragma once
// Private to the scan family's training-step references (scan_train.cpp, scan_train_lstm.cpp):
// the input projection every layer starts with, its backward, and g' of the minimal layers' g.
// Plain float64 loops, summed left to right as every reference sums.
#include <algorithm>
#include <cstdint>

#include "reference/scalar_math.hpp"

namespace opbench::ref::train_detail {

inline std::size_t sz(std::int64_t n) {
  return static_cast<std::size_t>(n);
}

// k[rows, cols] = x[rows, d_in] w[d_in, cols] + bias[cols].
inline void project_rows(const double* x, const double* w, const double* bias, double* k,
                         std::int64_t rows, std::int64_t d_in, std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r) {
    double* kr = k + r * cols;
    for (std::int64_t j = 0; j < cols; ++j) kr[j] = bias[j];
    for (std::int64_t i = 0; i < d_in; ++i) {
      const double xi = x[r * d_in + i];
      for (std::int64_t j = 0; j < cols; ++j) kr[j] += xi * w[i * cols + j];
    }
  }
}

// The projection's backward: dx = dk W^T, dW = x^T dk, dbias = column sums of dk.
inline void project_rows_backward(const double* x, const double* w, const double* dk, double* dx,
                                  double* dw, double* dbias, std::int64_t rows, std::int64_t d_in,
                                  std::int64_t cols) {
  std::fill(dw, dw + d_in * cols, 0.0);
  std::fill(dbias, dbias + cols, 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* dkr = dk + r * cols;
    for (std::int64_t i = 0; i < d_in; ++i) {
      dx[r * d_in + i] = dot(dkr, w + i * cols, cols);
      const double xi = x[r * d_in + i];
      for (std::int64_t j = 0; j < cols; ++j) dw[i * cols + j] += xi * dkr[j];
    }
    for (std::int64_t j = 0; j < cols; ++j) dbias[j] += dkr[j];
  }
}

// g'(k) of the minimal layers' g (reference/scan.hpp, min_rnn_g): 1 on k >= 0, sigmoid' below.
inline double min_rnn_g_prime(double k) {
  if (k >= 0) return 1.0;
  const double s = sigmoid(k);
  return s * (1.0 - s);
}

}  // namespace opbench::ref::train_detail
