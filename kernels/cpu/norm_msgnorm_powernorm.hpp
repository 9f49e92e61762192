#pragma once
// cpu.plain and cpu.fast MsgNorm and PowerNorm (training step and inference), each one template
// over the storage type T = float, bf16_t or f16_t (explicitly instantiated in the .cpp). The
// equations, the argument order and the paper/code choices are those of
// reference/norm_msgnorm_powernorm.hpp. PowerNorm's running statistic (running_phi, psi^2) is
// float32 for every T, in and out, as BatchNorm's running statistics in norm_plain.hpp.
//
// cpu.plain: scalar loops, one thread, sums and per-element arithmetic in double, each output
// rounded once into T. cpu.fast: vectorized (the float vector of norm_fast_simd.hpp; 16-bit
// values widened to float32 in registers and rounded back to nearest even as half_vec.hpp does),
// OpenMP over rows, float32 arithmetic, sums in float32 vectors per chunk merged in double, each
// output rounded once into T; large outputs with aligned rows by non-temporal stores.
#include <cstdint>

#include "harness/half.hpp"

namespace opbench::cpu {

namespace plain {

// y = x + (m / max(||m||, norm_floor)) * ||x|| * s, per row.
template <typename T>
void msgnorm(const T* x, const T* m, float s, T* y, std::int64_t rows, std::int64_t cols,
             float norm_floor);

// y = gamma * x / sqrt(running_phi + eps) + beta; running_phi_new = alpha * running_phi +
// (1 - alpha) * mean over rows of x^2, per column.
template <typename T>
void powernorm(const T* x, const float* running_phi, const T* gamma, const T* beta, T* y,
               float* running_phi_new, std::int64_t rows, std::int64_t cols, float alpha,
               float eps);

// y = gamma * x / sqrt(running_phi + eps) + beta.
template <typename T>
void powernorm_infer(const T* x, const float* running_phi, const T* gamma, const T* beta, T* y,
                     std::int64_t rows, std::int64_t cols, float eps);

}  // namespace plain

namespace fast {

// Rows split in one contiguous range per thread; each thread writes row r while it reads row
// r + 1 for its norms (one loop), so that memory reads and writes are in flight together.
template <typename T>
void msgnorm(const T* x, const T* m, float s, T* y, std::int64_t rows, std::int64_t cols,
             float norm_floor);

// One pass over x: y written and x^2 summed per column in the same loop (four rows per sweep,
// float32 accumulators over chunks of rows merged in double, threads summed in thread order, so
// the same sums every run for a given thread count).
template <typename T>
void powernorm(const T* x, const float* running_phi, const T* gamma, const T* beta, T* y,
               float* running_phi_new, std::int64_t rows, std::int64_t cols, float alpha,
               float eps);

template <typename T>
void powernorm_infer(const T* x, const float* running_phi, const T* gamma, const T* beta, T* y,
                     std::int64_t rows, std::int64_t cols, float eps);

}  // namespace fast

}  // namespace opbench::cpu
