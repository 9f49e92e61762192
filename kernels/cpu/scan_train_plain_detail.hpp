#pragma once
// Private to the scan family's cpu.plain training steps (scan_train.cpp, scan_train_lstm.cpp):
// the scalar gate functions and the input projection with its backward, as the straightforward
// float32 loops a careful user writes first (one thread, sums left to right).
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace opbench::cpu::plain::train_detail {

inline float sigmoid(float x) {
  return 1.0f / (1.0f + std::exp(-x));
}
// The minimal layers' g (reference/scan.hpp, min_rnn_g) and its derivative.
inline float g(float x) {
  return x >= 0.0f ? x + 0.5f : sigmoid(x);
}
inline float g_prime(float x) {
  if (x >= 0.0f) return 1.0f;
  const float s = sigmoid(x);
  return s * (1.0f - s);
}

// k[rows, cols] = x[rows, d_in] w[d_in, cols] + bias, row by row.
inline void project_rows(const float* x, const float* w, const float* bias, float* k,
                         std::int64_t rows, std::int64_t d_in, std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r) {
    float* kr = k + r * cols;
    std::copy(bias, bias + cols, kr);
    for (std::int64_t i = 0; i < d_in; ++i) {
      const float xi = x[r * d_in + i];
      const float* wi = w + i * cols;
      for (std::int64_t j = 0; j < cols; ++j) kr[j] += xi * wi[j];
    }
  }
}

// dx = dk W^T (a dot product per element), dW = x^T dk and dbias = column sums of dk accumulated
// row after row.
inline void project_rows_backward(const float* x, const float* w, const float* dk, float* dx,
                                  float* dw, float* dbias, std::int64_t rows, std::int64_t d_in,
                                  std::int64_t cols) {
  std::fill(dw, dw + d_in * cols, 0.0f);
  std::fill(dbias, dbias + cols, 0.0f);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* dkr = dk + r * cols;
    for (std::int64_t i = 0; i < d_in; ++i) {
      const float* wi = w + i * cols;
      float s = 0.0f;
      for (std::int64_t j = 0; j < cols; ++j) s += dkr[j] * wi[j];
      dx[r * d_in + i] = s;
      const float xi = x[r * d_in + i];
      float* dwi = dw + i * cols;
      for (std::int64_t j = 0; j < cols; ++j) dwi[j] += xi * dkr[j];
    }
    for (std::int64_t j = 0; j < cols; ++j) dbias[j] += dkr[j];
  }
}

}  // namespace opbench::cpu::plain::train_detail
