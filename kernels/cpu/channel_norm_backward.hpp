#pragma once
// BatchNorm (training) and GroupNorm backward in float32, the contracts of
// reference/norm_backward.hpp (batchnorm_train_backward, groupnorm_backward); mean and rstd are the
// forward pass's saved statistics (float32). dx, dgamma and dbeta are overwritten.
#include <cstdint>

namespace opbench::cpu {

namespace plain {
// The straightforward loops: sums in double, per-element arithmetic in float.
void batchnorm_train_backward(const float* dy, const float* x, const float* gamma,
                              const float* mean, const float* rstd, float* dx, float* dgamma,
                              float* dbeta, std::int64_t rows, std::int64_t cols);
void groupnorm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                        const float* rstd, float* dx, float* dgamma, float* dbeta, std::int64_t n,
                        std::int64_t c, std::int64_t hw, std::int64_t groups);
}  // namespace plain

namespace fast {
// BatchNorm: the column sums dgamma, dbeta first (OpenMP over row ranges, each thread's float32
// partial columns, vectorized along the row, a group of 8 rows per column vector; partials summed
// in thread order in double), then dx = A_j dy - B_j (x - mean_j) - C_j per element with
// A_j = rstd_j gamma_j, B_j = A_j rstd_j dgamma_j / N, C_j = A_j dbeta_j / N (streaming stores
// for a large dx). Two passes over x and dy: the column sums must be complete before any dx.
void batchnorm_train_backward(const float* dy, const float* x, const float* gamma,
                              const float* mean, const float* rstd, float* dx, float* dgamma,
                              float* dbeta, std::int64_t rows, std::int64_t cols);
// GroupNorm: OpenMP over the (sample, group) pairs; a group's sums are built from its channels'
// sums of dy and dy * xhat (vectorized over hw), which are also the channels' shares of dgamma
// and dbeta (per-thread partials in double, summed in thread order); then dx per channel.
void groupnorm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                        const float* rstd, float* dx, float* dgamma, float* dbeta, std::int64_t n,
                        std::int64_t c, std::int64_t hw, std::int64_t groups);
}  // namespace fast

}  // namespace opbench::cpu
