#pragma once
// cpu.fast: optimized float32 normalization kernels: vectorized, OpenMP over rows (or over
// channels where statistics run down the columns), numerically sound: never the one-pass
// E[x^2] - E[x]^2, and robust to a large common offset (statistics of x - shift, where shift is a
// value of the row). The equations and the argument order are those of reference/norm.hpp.
#include <cstdint>

namespace opbench::cpu::fast {

void layernorm(const float* x, const float* gamma, const float* beta, float* y, std::int64_t rows,
               std::int64_t cols, float eps);

void rmsnorm(const float* x, const float* gamma, float* y, std::int64_t rows, std::int64_t cols,
             float eps);

void crmsnorm(const float* x, const float* gamma, float* y, std::int64_t rows, std::int64_t cols,
              float eps);

void dyt(const float* x, float alpha, const float* gamma, const float* beta, float* y,
         std::int64_t rows, std::int64_t cols);

void batchnorm_infer(const float* x, const float* running_mean, const float* running_var,
                     const float* gamma, const float* beta, float* y, std::int64_t rows,
                     std::int64_t cols, float eps);

void batchnorm_train(const float* x, const float* gamma, const float* beta, float* y,
                     std::int64_t rows, std::int64_t cols, float eps);

void groupnorm(const float* x, const float* gamma, const float* beta, float* y, std::int64_t n,
               std::int64_t c, std::int64_t hw, std::int64_t groups, float eps);

void evonorm_s0(const float* x, const float* v, const float* gamma, const float* beta, float* y,
                std::int64_t n, std::int64_t c, std::int64_t hw, std::int64_t groups, float eps);

void evonorm_b0(const float* x, const float* v, const float* gamma, const float* beta, float* y,
                std::int64_t n, std::int64_t c, std::int64_t hw, float eps);

void online_norm(const float* x, const float* mu0, const float* var0, const float* gamma,
                 const float* beta, float* y, std::int64_t n, std::int64_t c, std::int64_t hw,
                 float alpha, float eps);

void weight_std(const float* w, float* y, std::int64_t rows, std::int64_t cols, float eps);

void add_layernorm(const float* x, const float* residual, const float* gamma, const float* beta,
                   float* sum, float* y, std::int64_t rows, std::int64_t cols, float eps);

void add_rmsnorm(const float* x, const float* residual, const float* gamma, float* sum, float* y,
                 std::int64_t rows, std::int64_t cols, float eps);

}  // namespace opbench::cpu::fast
