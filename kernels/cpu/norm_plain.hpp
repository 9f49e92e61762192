#pragma once
// cpu.plain: the straightforward float32 code a careful user writes first: scalar loops, one
// thread, two passes over each row with double accumulators for the sums. The equations and the
// argument order are those of reference/norm.hpp.
#include <cstdint>

namespace opbench::cpu::plain {

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

}  // namespace opbench::cpu::plain
