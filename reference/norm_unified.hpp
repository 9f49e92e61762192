#pragma once
// Float64 references of Unified Normalization (UN): Yang, Zhang, Lan, Yang, Li, Tan, Xiao, Pu,
// "Unified Normalization for Accelerating and Stabilizing Transformers", ACM MM 2022
// (arXiv 2208.01313), Sec. 3: "Unified Framework", "Fluctuation Smoothing", "Outlier
// Filtration". Authors' code: hikvision-research/Unified-Normalization,
// neural_machine_translation/fairseq/modules/unified_normalization/unified_normalization.py
// (UN2dFunction.forward, UN1d.forward; the image_classification copy is the same code).
//
// x[rows, cols]: rows are the step's tokens (batch x sequence, padding removed), cols the
// features C. UN normalizes each feature by statistics over the tokens, as BatchNorm does, so at
// inference the statistics are fixed and fold into a per-feature affine map.
//
// The paper's equations (unified framework, then UN's choices for its averaging functions):
//   Z_t = (X_t - mu^_t) / sqrt(sigma^2_t + eps),  Y_t = gamma Z_t + beta
//   mu^_t = 0,  sigma^2_t = (prod_{i=0}^{M-1} sigma^2_{t-i})^(1/M)   (geometric mean, GM)
// sigma^2_t being the step's statistic of each feature: with mu^ = 0 it is the mean of x^2 over
// the tokens (code: x2 = (mask_x * mask_x).mean(dim=0)). Outlier filtration, with
// Omega_t = (sigma^2_t, ..., sigma^2_{t-M+1}): if E(Omega_t) - Pi(Omega_t) > M V(Omega^(1/2)) (AM
// minus GM against M times the variance of the square roots), the step is an outlier and the
// layer drops the smoothing: sigma^2_t is the step's own statistic.
//
// Where paper and code differ, we follow the code, because it is what produced the paper's
// results and because the paper's test, read literally, never fires:
//  - The threshold's variance. By Kober's inequality, for M positive numbers
//    AM - GM <= (1/M) sum_{i<j} (sqrt(a_i) - sqrt(a_j))^2 = M Var_pop(sqrt(a)), so AM - GM of
//    Omega_t never exceeds M times the population variance of its own square roots (the bound the
//    paper proves). The code compares with the variance taken *before* sigma^2_t enters the buffer
//    (recorded_var = torch.var(torch.sqrt(buffer_x2)), the previous window Omega_{t-1}), over the
//    whole [M, C] buffer (all features at once) and unbiased (torch.var's default, n - 1). We do
//    the same: T = M * var_unbiased(sqrt(Omega_{t-1}) over its M*C entries), one per layer.
//  - The decision is per layer: filtered when AM - GM of Omega_t exceeds T for any feature
//    (code: (diff > recorded_var * fp_buffer_size).sum() > 0; paper: "all the moving average
//    strategies will be dropped in a specific normalization layer").
//  - On a filtered step the code puts the running variance, not sigma^2_t, into the buffer slot
//    (buffer_x2[...].copy_(running_var)); the paper does not say. We follow the code.
//  - The running variance the inference form uses: running_var = m running_var + (1 - m) sigma^_t
//    (code, momentum m = 0.9 by default).
// Not modelled: the warm-up (the code normalizes by sigma^2_t alone while iters <= M or
// iters < warmup_iters, and filters only from warmup_iters on, when outlier_filtration is set);
// these references are the step after warm-up with filtration on. The backward statistics (the
// paper's psi, the code's buffer_gz, ema_gz and the clamped ratio r) belong to the backward pass.
//
// The window is kept in age order (row 0 the oldest): the code's ring buffer buffer_x2 holds the
// same set, and every statistic taken over it (mean, GM, variance) is order-free.
#include <cstdint>

namespace opbench::ref {

// sigma^2_t of every feature: (1/rows) sum_r x[r, c]^2 (mu^ = 0: no mean is subtracted).
void unified_norm_second_moment(const double* x, std::int64_t rows, std::int64_t cols,
                                double* sigma2);

// T = M * unbiased variance of sqrt(window) over all M * cols entries of window[M, cols]
// (Omega_{t-1}). Needs M * cols >= 2.
double unified_norm_threshold(const double* window, std::int64_t window_size, std::int64_t cols);

// AM and GM of each feature's Omega_t: rows 1 .. M-1 of window[M, cols] and sigma2. The GM is
// exp(mean(log)), the code's "numerically-stable version of the geometric mean"; with M = 1 it is
// sigma2 itself (so that AM - GM is exactly 0, as it is in exact arithmetic).
void unified_norm_window_means(const double* window, const double* sigma2, std::int64_t window_size,
                               std::int64_t cols, double* am, double* gm);

// Which statistic the step uses: as the filtration decides, or forced (the agreement check
// follows a kernel's own decision where the reference's is within rounding of the threshold).
enum class UnifiedNormBranch { decide, smoothed, filtered };

// One training step after warm-up, x[rows, cols], window[M, cols] = Omega_{t-1} (oldest first),
// running_var[cols]:
//   filtered        = any c: AM_c(Omega_t) - GM_c(Omega_t) > T
//   var[c]          = filtered ? sigma^2_t[c] : GM_c(Omega_t)
//   y               = gamma * x / sqrt(var + eps) + beta
//   window_out      = Omega_t (rows 1 .. M-1 of window, then sigma^2_t, or running_var when
//                     filtered)
//   running_var_out = momentum * running_var + (1 - momentum) * var
// Returns filtered. Needs rows >= 1 and M * cols >= 2.
bool unified_norm(const double* x, const double* gamma, const double* beta, const double* window,
                  const double* running_var, double* y, double* window_out, double* running_var_out,
                  std::int64_t rows, std::int64_t cols, std::int64_t window_size, double momentum,
                  double eps, UnifiedNormBranch branch = UnifiedNormBranch::decide);

// The inference form's fold, done once after training: a = gamma / sqrt(running_var + eps),
// b = beta (code, UN1d.forward in eval mode: x / sqrt(running_var + eps) * weight + bias).
void unified_norm_fold(const double* running_var, const double* gamma, const double* beta,
                       double* a, double* b, std::int64_t cols, double eps);

// UN at inference with the statistics folded: y = x * a + b per feature.
void unified_norm_infer(const double* x, const double* a, const double* b, double* y,
                        std::int64_t rows, std::int64_t cols);

}  // namespace opbench::ref
