#pragma once
// Backward of the fused residual add then LayerNorm / RMSNorm (reference/norm_backward.hpp,
// add_layernorm_backward and add_rmsnorm_backward) in float32: the norm's backward at `sum`, plus
// the residual stream's own gradient dsum. dx[rows, cols] (the gradient of both x and residual),
// dgamma[cols] and dbeta[cols] are overwritten.
#include <cstdint>

namespace opbench::cpu {

namespace plain {
void add_layernorm_backward(const float* dy, const float* dsum, const float* sum,
                            const float* gamma, const float* mean, const float* rstd, float* dx,
                            float* dgamma, float* dbeta, std::int64_t rows, std::int64_t cols);
void add_rmsnorm_backward(const float* dy, const float* dsum, const float* sum, const float* gamma,
                          const float* rstd, float* dx, float* dgamma, std::int64_t rows,
                          std::int64_t cols);
}  // namespace plain

namespace fast {
// cpu.fast's LayerNorm / RMSNorm backward kernel with dsum added as dx is written (one pass).
void add_layernorm_backward(const float* dy, const float* dsum, const float* sum,
                            const float* gamma, const float* mean, const float* rstd, float* dx,
                            float* dgamma, float* dbeta, std::int64_t rows, std::int64_t cols);
void add_rmsnorm_backward(const float* dy, const float* dsum, const float* sum, const float* gamma,
                          const float* rstd, float* dx, float* dgamma, std::int64_t rows,
                          std::int64_t cols);
}  // namespace fast

}  // namespace opbench::cpu
