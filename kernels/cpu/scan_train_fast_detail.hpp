#pragma once
// Private to the scan family's cpu.fast training steps (scan_train_fast.cpp, scan_train_lstm.cpp):
// g' of the minimal layers' g in vectors, and the input projection's backward through OpenBLAS.
#include <cblas.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/scan_fast_blocks.hpp"
#include "kernels/cpu/scan_fast_math.hpp"

namespace opbench::cpu::fast::train_detail {

using namespace simd;

inline int i32(std::int64_t v) {
  return static_cast<int>(v);
}

// g'(k) of the minimal layers' g: 1 on k >= 0, sigmoid(k) (1 - sigmoid(k)) below.
inline vf vmin_rnn_g_prime(vf k) {
  const vf s = vsigmoid(k);
  return k >= 0.0f ? splat(1.0f) : s * (1.0f - s);
}

// The projection's backward through OpenBLAS: dx = dk W^T, dW = x^T dk (one SGEMM each over all
// rows), dbias = dk^T 1 (SGEMV against a vector of ones, `ones`: rows floats of scratch).
inline void project_backward(const float* x, const float* w, const float* dk, float* dx, float* dw,
                             float* dbias, std::int64_t rows, std::int64_t d_in, std::int64_t cols,
                             float* ones) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, i32(rows), i32(d_in), i32(cols), 1.0f, dk,
              i32(cols), w, i32(cols), 0.0f, dx, i32(d_in));
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i32(d_in), i32(cols), i32(rows), 1.0f, x,
              i32(d_in), dk, i32(cols), 0.0f, dw, i32(cols));
  std::fill(ones, ones + rows, 1.0f);
  cblas_sgemv(CblasRowMajor, CblasTrans, i32(rows), i32(cols), 1.0f, dk, i32(cols), ones, 1, 0.0f,
              dbias, 1);
}

}  // namespace opbench::cpu::fast::train_detail
