#pragma once
// Unified Normalization (Yang et al. 2022) on the CPU: the training step after warm-up and the
// inference form with its statistics folded into y = x * a + b. Equations, argument order and
// the window's layout (oldest row first) are those of reference/norm_unified.hpp.
//
// T is float, bf16_t or f16_t (explicitly instantiated in norm_unified.cpp). The carried state
// (window, running_var and their updates) stays float32 for every T, as running statistics do
// under mixed precision; `filtered` is 1 when the outlier filtration dropped the smoothing.
#include <cstdint>

#include "harness/half.hpp"

namespace opbench::cpu {

namespace plain {

// Scalar loops, one thread, double accumulators and double arithmetic, each output rounded once.
template <typename T>
void unified_norm(const T* x, const T* gamma, const T* beta, const float* window,
                  const float* running_var, T* y, float* window_out, float* running_var_out,
                  std::int64_t* filtered, std::int64_t rows, std::int64_t cols,
                  std::int64_t window_size, float momentum, float eps);

template <typename T>
void unified_norm_infer(const T* x, const T* a, const T* b, T* y, std::int64_t rows,
                        std::int64_t cols);

}  // namespace plain

namespace fast {

// Vectorized, OpenMP: one streaming pass over x for the per-feature sums of x^2 (float32 vector
// accumulators over blocks of rows, merged in double), the window's statistics per feature in
// vectors (O(M cols); a feature close to the threshold again in double), then
// y = x * scale + beta by the inference form's kernel.
template <typename T>
void unified_norm(const T* x, const T* gamma, const T* beta, const float* window,
                  const float* running_var, T* y, float* window_out, float* running_var_out,
                  std::int64_t* filtered, std::int64_t rows, std::int64_t cols,
                  std::int64_t window_size, float momentum, float eps);

// Elementwise with per-feature parameters, written with streaming stores when large.
template <typename T>
void unified_norm_infer(const T* x, const T* a, const T* b, T* y, std::int64_t rows,
                        std::int64_t cols);

}  // namespace fast

}  // namespace opbench::cpu
