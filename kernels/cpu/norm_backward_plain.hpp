#pragma once
// cpu.plain: the backward passes of LayerNorm and RMSNorm (training mode) as a careful user writes
// them first: float32 storage, scalar loops, one thread, the row sums and the dgamma/dbeta column
// sums accumulated in double, the per-element arithmetic in double and each output rounded once
// into float. The equations and the argument order are those of reference/norm_backward.hpp; the
// saved statistics mean and rstd are the forward pass's, given as float32.
#include <cstdint>

namespace opbench::cpu::plain {

// dx[rows, cols], dgamma[cols], dbeta[cols] are overwritten (never accumulated into).
void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                        const float* rstd, float* dx, float* dgamma, float* dbeta,
                        std::int64_t rows, std::int64_t cols);

// dx[rows, cols] and dgamma[cols] are overwritten.
void rmsnorm_backward(const float* dy, const float* x, const float* gamma, const float* rstd,
                      float* dx, float* dgamma, std::int64_t rows, std::int64_t cols);

}  // namespace opbench::cpu::plain
