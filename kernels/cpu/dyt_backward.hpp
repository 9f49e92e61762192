#pragma once
// DyT backward (training mode) in float32, the contract of reference/norm_backward.hpp
// (dyt_backward): dx[rows, cols], dalpha[1], dgamma[cols], dbeta[cols] are overwritten.
#include <cstdint>

namespace opbench::cpu {

namespace plain {
// The straightforward code: t = std::tanh(alpha * x) in float, 1 - t * t, the sums in double.
void dyt_backward(const float* dy, const float* x, float alpha, const float* gamma, float* dx,
                  float* dalpha, float* dgamma, float* dbeta, std::int64_t rows, std::int64_t cols);
}  // namespace plain

namespace fast {
// Vectorized, OpenMP over row ranges, one exp per element: with e = exp(-2|z|), z = alpha * x,
// tanh(z) = sign(z) (1 - e) / (1 + e) and 1 - tanh(z)^2 = 4 e / (1 + e)^2, the latter without
// the cancellation of 1 - t^2 where |t| is near 1. dgamma, dbeta and dalpha are per-thread
// partial sums combined in thread order: bitwise reproducible for a fixed thread count.
void dyt_backward(const float* dy, const float* x, float alpha, const float* gamma, float* dx,
                  float* dalpha, float* dgamma, float* dbeta, std::int64_t rows, std::int64_t cols);
}  // namespace fast

}  // namespace opbench::cpu
