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

// Fused residual add then LayerNorm (add_layernorm in norm.hpp) backward: sum = x + residual,
// y = layernorm(sum). Two gradients come in: dy (of y) and dsum (of sum, which the residual stream
// carries on to the next layer). x and residual enter only through their sum, so both get
//   dx = dsum + (layernorm_backward's dx at sum)
// and dgamma, dbeta are layernorm_backward's. mean and rstd are the statistics of sum.
void add_layernorm_backward(const double* dy, const double* dsum, const double* sum,
                            const double* gamma, const double* mean, const double* rstd, double* dx,
                            double* dgamma, double* dbeta, std::int64_t rows, std::int64_t cols);

// The same with RMSNorm: dx = dsum + (rmsnorm_backward's dx at sum), dgamma as rmsnorm_backward.
void add_rmsnorm_backward(const double* dy, const double* dsum, const double* sum,
                          const double* gamma, const double* rstd, double* dx, double* dgamma,
                          std::int64_t rows, std::int64_t cols);

// DyT backward (Zhu, Chen, He, LeCun, Liu 2025, eq. 1, y = gamma * tanh(alpha * x) + beta), with
// t = tanh(alpha * x) recomputed (nothing is saved):
//   dx = dy * gamma * alpha * (1 - t^2)
//   dalpha = sum over every element of dy * gamma * x * (1 - t^2)   (alpha is one scalar)
//   dgamma = sum over rows of dy * t,   dbeta = sum over rows of dy
void dyt_backward(const double* dy, const double* x, double alpha, const double* gamma, double* dx,
                  double* dalpha, double* dgamma, double* dbeta, std::int64_t rows,
                  std::int64_t cols);

// What BatchNorm's training forward pass (Ioffe & Szegedy 2015, Alg. 1) saves per column of
// x[rows = batch, cols = channels]: the batch mean and rstd = 1 / sqrt(var + eps), var biased.
void batchnorm_train_stats(const double* x, double* mean, double* rstd, std::int64_t rows,
                           std::int64_t cols, double eps);

// BatchNorm training backward (Ioffe & Szegedy 2015, §3: the chain rule through Alg. 1), per
// column j over the N = rows samples, with xhat = (x - mean_j) * rstd_j:
//   dgamma_j = sum over rows of dy * xhat,   dbeta_j = sum over rows of dy
//   dx = rstd_j * gamma_j * (dy - dbeta_j / N - xhat * dgamma_j / N)
void batchnorm_train_backward(const double* dy, const double* x, const double* gamma,
                              const double* mean, const double* rstd, double* dx, double* dgamma,
                              double* dbeta, std::int64_t rows, std::int64_t cols);

// What GroupNorm's forward pass (Wu & He 2018, eqs. 1-3 and 7) saves for x[n, c, hw]: the mean
// and rstd of each group of c/groups channels x hw, as mean[n, groups], rstd[n, groups].
// Throws std::invalid_argument unless groups > 0 divides c.
void groupnorm_stats(const double* x, double* mean, double* rstd, std::int64_t n, std::int64_t c,
                     std::int64_t hw, std::int64_t groups, double eps);

// GroupNorm backward: within each group of M = c/groups x hw elements, as LayerNorm's with the
// per-channel gamma: g = dy * gamma_c, xhat = (x - mean) * rstd,
//   dx = rstd * (g - mean_M(g) - xhat * mean_M(g * xhat))
//   dgamma_c = sum over n and hw of dy * xhat,   dbeta_c = sum over n and hw of dy
void groupnorm_backward(const double* dy, const double* x, const double* gamma, const double* mean,
                        const double* rstd, double* dx, double* dgamma, double* dbeta,
                        std::int64_t n, std::int64_t c, std::int64_t hw, std::int64_t groups);

}  // namespace opbench::ref
