#pragma once
// SimpleRMSNorm and DeepNorm backward (training mode) in float32 on the CPU: cpu.plain and
// cpu.fast. The equations, the zero-row rule and the argument order are those of
// reference/norm_srmsnorm_deepnorm_backward.hpp:
//   srmsnorm_backward: dx = dy / r - x (x . dy) / (d r^2 rho), rho = r - eps, the second term 0
//     where rho <= 0 (a zero row: dx = dy / eps); r is the forward's saved divisor
//     ||x|| / sqrt(d) + eps, eps the forward's (float) eps.
//   deepnorm_backward: ds = LayerNorm's backward at s = alpha x + fx (recomputed, not saved) with
//     the saved mean and rstd of s; dx = alpha ds, dfx = ds, dgamma, dbeta.
// Every output is overwritten (never accumulated into).
#include <cstdint>

namespace opbench::cpu {

// The code a careful user writes first, as kernels/cpu/norm_backward_plain.hpp: scalar loops, one
// thread, the row and column sums in double, per-element arithmetic in double (s = alpha x + fx
// included: a float32 s would carry an error of u |s|, 2e-3 at the `offset` scenario's 1e4 with
// alpha 3.8), each output rounded once into float.
namespace plain {
void srmsnorm_backward(const float* dy, const float* x, const float* r, float* dx,
                       std::int64_t rows, std::int64_t cols, float eps);
void deepnorm_backward(const float* dy, const float* x, const float* fx, const float* gamma,
                       const float* mean, const float* rstd, float* dx, float* dfx, float* dgamma,
                       float* dbeta, std::int64_t rows, std::int64_t cols, float alpha);
}  // namespace plain

// Vectorized, OpenMP over rows (one contiguous range per thread, blocks of rows read once from
// memory), dgamma/dbeta as per-thread float32 partials combined in thread order in double, as
// kernels/cpu/norm_backward_fast.hpp: bitwise reproducible for a fixed thread count.
namespace fast {
void srmsnorm_backward(const float* dy, const float* x, const float* r, float* dx,
                       std::int64_t rows, std::int64_t cols, float eps);
void deepnorm_backward(const float* dy, const float* x, const float* fx, const float* gamma,
                       const float* mean, const float* rstd, float* dx, float* dfx, float* dgamma,
                       float* dbeta, std::int64_t rows, std::int64_t cols, float alpha);
}  // namespace fast

}  // namespace opbench::cpu
