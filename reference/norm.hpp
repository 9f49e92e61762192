#pragma once
// Float64 references of the normalization family: plain loops straight from each paper's
// equations, no SIMD, no threads. All arrays are row-major; statistics use the biased (population)
// variance computed in two passes, as the papers define it. These functions are the contract the
// implementations are checked against.
#include <cstdint>

namespace opbench::ref {

// LayerNorm (Ba, Kiros, Hinton 2016, eqs. 3-4), per row of x[rows, cols]:
//   y = (x - mean) / sqrt(var + eps) * gamma + beta
void layernorm(const double* x, const double* gamma, const double* beta, double* y,
               std::int64_t rows, std::int64_t cols, double eps);

// RMSNorm (Zhang & Sennrich 2019, eq. 4), per row: y = x / sqrt(mean(x^2) + eps) * gamma
void rmsnorm(const double* x, const double* gamma, double* y, std::int64_t rows, std::int64_t cols,
             double eps);

// Pre-CRMSNorm (Jiang et al. 2023, "Pre-RMSNorm and Pre-CRMSNorm Transformers", eq. 9): each row
// of x[rows, cols] is a zero-mean vector of dimension d = cols + 1 stored without its last element
// (which is -sum(x)):  y = x / sqrt((sum(x^2) + sum(x)^2) / d + eps) * gamma
void crmsnorm(const double* x, const double* gamma, double* y, std::int64_t rows, std::int64_t cols,
              double eps);

// DyT, Dynamic Tanh (Zhu, Chen, He, LeCun, Liu 2025, "Transformers without Normalization", eq. 1):
//   y = gamma * tanh(alpha * x) + beta, alpha a learned scalar
void dyt(const double* x, double alpha, const double* gamma, const double* beta, double* y,
         std::int64_t rows, std::int64_t cols);

// BatchNorm at inference (Ioffe & Szegedy 2015, Alg. 2 step 11), x[rows = batch, cols = channels]:
//   y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta
void batchnorm_infer(const double* x, const double* running_mean, const double* running_var,
                     const double* gamma, const double* beta, double* y, std::int64_t rows,
                     std::int64_t cols, double eps);

// BatchNorm in training (Ioffe & Szegedy 2015, Alg. 1): mean and biased variance of each column
// over the rows (the mini-batch), then y = (x - mean) / sqrt(var + eps) * gamma + beta
void batchnorm_train(const double* x, const double* gamma, const double* beta, double* y,
                     std::int64_t rows, std::int64_t cols, double eps);

// GroupNorm (Wu & He 2018, eqs. 1-3 with the group set of eq. 7), x[n, c, hw]: mean and biased
// variance over each group of c/groups channels x hw, then per-channel gamma, beta.
// Throws std::invalid_argument unless groups > 0 divides c.
void groupnorm(const double* x, const double* gamma, const double* beta, double* y, std::int64_t n,
               std::int64_t c, std::int64_t hw, std::int64_t groups, double eps);

// EvoNorm-S0 (Liu, Brock, Simonyan, Le 2020, Alg. 1 / Table 1), x[n, c, hw]:
//   y = x * sigmoid(v * x) / sqrt(group_var(x) + eps) * gamma + beta
// with group_var the biased variance over each group of c/groups channels x hw, v per channel,
// sigmoid(z) = 1 / (1 + exp(-z)). Throws std::invalid_argument unless groups > 0 divides c.
void evonorm_s0(const double* x, const double* v, const double* gamma, const double* beta,
                double* y, std::int64_t n, std::int64_t c, std::int64_t hw, std::int64_t groups,
                double eps);

// EvoNorm-B0 (Liu et al. 2020, Alg. 1 / Table 1), training form, x[n, c, hw]:
//   y = x / max(sqrt(batch_var(x) + eps), v * x + sqrt(instance_var(x) + eps)) * gamma + beta
// batch_var: biased variance of channel c over n and hw; instance_var: over hw for each (n, c).
void evonorm_b0(const double* x, const double* v, const double* gamma, const double* beta,
                double* y, std::int64_t n, std::int64_t c, std::int64_t hw, double eps);

// Online Normalization forward (Chiley et al. 2019, eqs. 6-8), x[n, c, hw] with the samples n
// arriving in order. Sample t is normalized with the statistics of the samples before it, then
// the statistics are updated with its per-channel mean m_t and biased variance s_t over hw:
//   y_t = (x_t - mu_{t-1}) / sqrt(var_{t-1} + eps) * gamma + beta
//   mu_t  = alpha * mu_{t-1} + (1 - alpha) * m_t
//   var_t = alpha * var_{t-1} + (1 - alpha) * s_t + alpha * (1 - alpha) * (m_t - mu_{t-1})^2
// mu_0 = mu0, var_0 = var0 (per channel).
void online_norm(const double* x, const double* mu0, const double* var0, const double* gamma,
                 const double* beta, double* y, std::int64_t n, std::int64_t c, std::int64_t hw,
                 double alpha, double eps);

// Weight Standardization (Qiao et al. 2019, eq. 2), w[rows = out channels, cols = fan-in]:
//   y = (w - mean_row) / sqrt(var_row + eps)
void weight_std(const double* w, double* y, std::int64_t rows, std::int64_t cols, double eps);

// Fused residual add then LayerNorm, as pre-norm transformers use it: sum = x + residual,
// y = layernorm(sum). Both sum and y are outputs.
void add_layernorm(const double* x, const double* residual, const double* gamma, const double* beta,
                   double* sum, double* y, std::int64_t rows, std::int64_t cols, double eps);

// Fused residual add then RMSNorm: sum = x + residual, y = rmsnorm(sum).
void add_rmsnorm(const double* x, const double* residual, const double* gamma, double* sum,
                 double* y, std::int64_t rows, std::int64_t cols, double eps);

}  // namespace opbench::ref
