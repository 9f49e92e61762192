#pragma once
// cpu.fast: LayerNorm and RMSNorm backward (training mode) in float32: vectorized, OpenMP over
// rows, each row of x and dy read once from memory, dgamma/dbeta reduced in two deterministic
// stages (no atomics). The equations and the argument order are those of
// reference/norm_backward.hpp; mean and rstd are the forward pass's saved statistics (float32).
//
// Results are bitwise reproducible for a fixed OpenMP thread count (rows are split statically and
// every sum runs in a fixed order); they may differ in the last bits between thread counts.
#include <cstdint>

namespace opbench::cpu::fast {

// dx[rows, cols], dgamma[cols], dbeta[cols] are overwritten (never accumulated into).
void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                        const float* rstd, float* dx, float* dgamma, float* dbeta,
                        std::int64_t rows, std::int64_t cols);

// dx[rows, cols] and dgamma[cols] are overwritten.
void rmsnorm_backward(const float* dy, const float* x, const float* gamma, const float* rstd,
                      float* dx, float* dgamma, std::int64_t rows, std::int64_t cols);

// The same after a residual add (add_norm_backward.hpp): x is the normalized sum, and dx is
// overwritten with dsum plus the norm's dx, in the same pass.
void layernorm_backward_add(const float* dy, const float* dsum, const float* x, const float* gamma,
                            const float* mean, const float* rstd, float* dx, float* dgamma,
                            float* dbeta, std::int64_t rows, std::int64_t cols);
void rmsnorm_backward_add(const float* dy, const float* dsum, const float* x, const float* gamma,
                          const float* rstd, float* dx, float* dgamma, std::int64_t rows,
                          std::int64_t cols);

}  // namespace opbench::cpu::fast
