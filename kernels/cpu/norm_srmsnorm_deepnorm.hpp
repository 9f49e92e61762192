#pragma once
// SimpleRMSNorm (TransNormer) and DeepNorm (DeepNet) on the CPU: cpu.plain (one template over
// float, bf16_t and f16_t storage) and cpu.fast (overloads per storage type). The equations and
// the argument order are those of reference/norm_srmsnorm_deepnorm.hpp:
//   srmsnorm: y = x / (||x||_2 / sqrt(cols) + eps) per row, eps outside the root;
//   deepnorm: y = LayerNorm(alpha * x + fx) * gamma + beta per row (the sum is not an output).
// alpha and eps are float: the suite hands the reference the same float values.
#include <cstdint>

#include "harness/half.hpp"

namespace opbench::cpu::plain {

// Scalar loops, one thread, double accumulators and per-element double arithmetic, each output
// rounded once into T (as kernels/cpu/norm_plain.hpp). Explicitly instantiated for float,
// bf16_t and f16_t.
template <typename T>
void srmsnorm(const T* x, T* y, std::int64_t rows, std::int64_t cols, float eps);

template <typename T>
void deepnorm(const T* x, const T* fx, const T* gamma, const T* beta, T* y, std::int64_t rows,
              std::int64_t cols, float alpha, float eps);

}  // namespace opbench::cpu::plain

namespace opbench::cpu::fast {

// Vectorized, OpenMP over rows, float32 arithmetic and statistics (16-bit inputs widened in
// registers, each output rounded once). Every position of a row is read before it is written,
// so y may alias x (or fx).
void srmsnorm(const float* x, float* y, std::int64_t rows, std::int64_t cols, float eps);
void srmsnorm(const bf16_t* x, bf16_t* y, std::int64_t rows, std::int64_t cols, float eps);
void srmsnorm(const f16_t* x, f16_t* y, std::int64_t rows, std::int64_t cols, float eps);

void deepnorm(const float* x, const float* fx, const float* gamma, const float* beta, float* y,
              std::int64_t rows, std::int64_t cols, float alpha, float eps);
void deepnorm(const bf16_t* x, const bf16_t* fx, const bf16_t* gamma, const bf16_t* beta, bf16_t* y,
              std::int64_t rows, std::int64_t cols, float alpha, float eps);
void deepnorm(const f16_t* x, const f16_t* fx, const f16_t* gamma, const f16_t* beta, f16_t* y,
              std::int64_t rows, std::int64_t cols, float alpha, float eps);

}  // namespace opbench::cpu::fast
