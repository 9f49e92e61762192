// add_layernorm / add_rmsnorm backward: the norm's backward kernels plus the residual's gradient.
#include "kernels/cpu/add_norm_backward.hpp"

#include "kernels/cpu/norm_backward_fast.hpp"
#include "kernels/cpu/norm_backward_plain.hpp"

namespace opbench::cpu {

void plain::add_layernorm_backward(const float* dy, const float* dsum, const float* sum,
                                   const float* gamma, const float* mean, const float* rstd,
                                   float* dx, float* dgamma, float* dbeta, std::int64_t rows,
                                   std::int64_t cols) {
  plain::layernorm_backward(dy, sum, gamma, mean, rstd, dx, dgamma, dbeta, rows, cols);
  for (std::int64_t k = 0; k < rows * cols; ++k) dx[k] += dsum[k];
}

void plain::add_rmsnorm_backward(const float* dy, const float* dsum, const float* sum,
                                 const float* gamma, const float* rstd, float* dx, float* dgamma,
                                 std::int64_t rows, std::int64_t cols) {
  plain::rmsnorm_backward(dy, sum, gamma, rstd, dx, dgamma, rows, cols);
  for (std::int64_t k = 0; k < rows * cols; ++k) dx[k] += dsum[k];
}

void fast::add_layernorm_backward(const float* dy, const float* dsum, const float* sum,
                                  const float* gamma, const float* mean, const float* rstd,
                                  float* dx, float* dgamma, float* dbeta, std::int64_t rows,
                                  std::int64_t cols) {
  fast::layernorm_backward_add(dy, dsum, sum, gamma, mean, rstd, dx, dgamma, dbeta, rows, cols);
}

void fast::add_rmsnorm_backward(const float* dy, const float* dsum, const float* sum,
                                const float* gamma, const float* rstd, float* dx, float* dgamma,
                                std::int64_t rows, std::int64_t cols) {
  fast::rmsnorm_backward_add(dy, dsum, sum, gamma, rstd, dx, dgamma, rows, cols);
}

}  // namespace opbench::cpu
