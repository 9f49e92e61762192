#pragma once
// cpu.plain: the straightforward code a careful user writes first, in float32, bfloat16 or float16
// storage: scalar loops, one thread, two passes over each row with double accumulators for the
// sums, the per-element arithmetic in double and each output rounded once into its type. The
// equations and the argument order are those of reference/norm.hpp.
//
// T is float, bf16_t or f16_t (explicitly instantiated in the .cpp). Running statistics
// (batchnorm_infer's running_mean/running_var, online_norm's mu0/var0) stay float32 for every T,
// as PyTorch keeps them under mixed precision.
#include <cstdint>

#include "harness/half.hpp"

namespace opbench::cpu::plain {

template <typename T>
void layernorm(const T* x, const T* gamma, const T* beta, T* y, std::int64_t rows,
               std::int64_t cols, float eps);

template <typename T>
void rmsnorm(const T* x, const T* gamma, T* y, std::int64_t rows, std::int64_t cols, float eps);

template <typename T>
void crmsnorm(const T* x, const T* gamma, T* y, std::int64_t rows, std::int64_t cols, float eps);

template <typename T>
void dyt(const T* x, float alpha, const T* gamma, const T* beta, T* y, std::int64_t rows,
         std::int64_t cols);

template <typename T>
void batchnorm_infer(const T* x, const float* running_mean, const float* running_var,
                     const T* gamma, const T* beta, T* y, std::int64_t rows, std::int64_t cols,
                     float eps);

template <typename T>
void batchnorm_train(const T* x, const T* gamma, const T* beta, T* y, std::int64_t rows,
                     std::int64_t cols, float eps);

template <typename T>
void groupnorm(const T* x, const T* gamma, const T* beta, T* y, std::int64_t n, std::int64_t c,
               std::int64_t hw, std::int64_t groups, float eps);

template <typename T>
void evonorm_s0(const T* x, const T* v, const T* gamma, const T* beta, T* y, std::int64_t n,
                std::int64_t c, std::int64_t hw, std::int64_t groups, float eps);

template <typename T>
void evonorm_b0(const T* x, const T* v, const T* gamma, const T* beta, T* y, std::int64_t n,
                std::int64_t c, std::int64_t hw, float eps);

template <typename T>
void online_norm(const T* x, const float* mu0, const float* var0, const T* gamma, const T* beta,
                 T* y, std::int64_t n, std::int64_t c, std::int64_t hw, float alpha, float eps);

template <typename T>
void weight_std(const T* w, T* y, std::int64_t rows, std::int64_t cols, float eps);

template <typename T>
void add_layernorm(const T* x, const T* residual, const T* gamma, const T* beta, T* sum, T* y,
                   std::int64_t rows, std::int64_t cols, float eps);

template <typename T>
void add_rmsnorm(const T* x, const T* residual, const T* gamma, T* sum, T* y, std::int64_t rows,
                 std::int64_t cols, float eps);

}  // namespace opbench::cpu::plain
