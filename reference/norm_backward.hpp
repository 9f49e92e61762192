#pragma once
// Float64 references of the normalization family's backward passes (training mode): the
// gradients of the forward equations in norm.hpp, derived by hand and written as plain loops.
// The saved statistics are inputs, as a training framework keeps them from the forward pass
// (PyTorch's native_layer_norm saves mean and rstd): the reference differentiates the forward at
// the statistics it is given. tests/test_reference_norm_backward.cpp checks every gradient
// against central finite differences of the forward reference.
#include <cstdint>

namespace opbench::ref {

// What LayerNorm's forward pass (Ba et al. 2016, eqs. 3-4) saves per row of x[rows, cols]:
// the mean and rstd = 1 / sqrt(var + eps), var the biased variance (two passes).
void layernorm_stats(const double* x, double* mean, double* rstd, std::int64_t rows,
                     std::int64_t cols, double eps);

// LayerNorm backward. With xhat = (x - mean) * rstd and g = dy * gamma, per row (means over cols):
//   dx     = rstd * (g - mean(g) - xhat * mean(g * xhat))
//   dgamma = sum over rows of dy * xhat,   dbeta = sum over rows of dy
void layernorm_backward(const double* dy, const double* x, const double* gamma, const double* mean,
                        const double* rstd, double* dx, double* dgamma, double* dbeta,
                        std::int64_t rows, std::int64_t cols);

// What RMSNorm's forward pass (Zhang & Sennrich 2019, eq. 4) saves per row:
// rstd = 1 / sqrt(mean(x^2) + eps).
void rmsnorm_stats(const double* x, double* rstd, std::int64_t rows, std::int64_t cols, double eps);

// RMSNorm backward. With xhat = x * rstd and g = dy * gamma, per row:
//   dx     = rstd * (g - xhat * mean(g * xhat))
//   dgamma = sum over rows of dy * xhat
void rmsnorm_backward(const double* dy, const double* x, const double* gamma, const double* rstd,
                      double* dx, double* dgamma, std::int64_t rows, std::int64_t cols);

}  // namespace opbench::ref
