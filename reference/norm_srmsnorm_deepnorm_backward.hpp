#pragma once
// Float64 references of the backward passes (training mode) of SimpleRMSNorm and DeepNorm, the
// forward ops of norm_srmsnorm_deepnorm.hpp: their gradients derived by hand below and written as
// plain loops. As in norm_backward.hpp, what the forward pass saves is an input (float32, as a
// training framework keeps it) and the reference differentiates the forward at the value it is
// given. tests/test_suites_backward.cpp proves both against central finite differences of the
// forward references; tests/test_norm_srmsnorm_deepnorm_backward.cpp against hand values.
#include <cstdint>

namespace opbench::ref {

// What SimpleRMSNorm's forward pass saves per row of x[rows, cols]: its divisor
//   r = ||x||_2 / sqrt(d) + eps,   d = cols
// (the authors' code, fairseq-evo SimpleRMSNorm.forward, divides x by rms_x + eps; PyTorch's
// autograd keeps that divisor for the division's backward). r, not 1/r: a zero row saves r = eps
// exactly, so the backward can tell it from r alone (rho = r - eps = 0, below).
void srmsnorm_divisor(const double* x, double* r, std::int64_t rows, std::int64_t cols, double eps);

// SimpleRMSNorm backward (forward: Qin et al. 2022, "The Devil in Linear Transformer",
// NormAttention's SRMSNorm, y = x / (||x||_2 / sqrt(d) + eps), eps outside the root as in the
// authors' code; no gain, so dx is the only gradient). Per row, with n = ||x||_2,
// rho = n / sqrt(d) (the RMS) and r = rho + eps:
//   dr/dx_k     = x_k / (n sqrt(d))                                    (n > 0)
//   dy_j/dx_k   = delta_jk / r - x_j x_k / (r^2 n sqrt(d))
//   dx_k        = sum_j dy_j dy_j/dx_k = dy_k / r - x_k (x . dy) / (r^2 n sqrt(d))
//               = dy_k / r - x_k (x . dy) / (d r^2 rho)                (n sqrt(d) = d rho)
// RMSNorm's form (norm_backward.hpp, gamma = 1, rstd = 1/r, xhat = x/r) is
//   dx = (dy - xhat mean(xhat dy) * r / rho) / r:
// the projection term grows by r / rho = 1 + eps / rho, eps being outside the root. With eps = 0
// it is RMSNorm's and x . dx = 0 (y is scale-invariant in x).
// The zero row (n = 0, the forward gives 0 / eps = 0): y(h) = h / (|h|/sqrt(d) + eps) =
// h / eps + O(|h|^2), so y is differentiable there with dy/dx = I / eps, and dx = dy / eps: the
// projection term, O(|x|), vanishes in the limit. The reference gives exactly that wherever
// rho = r - eps <= 0 (r is the saved value, so a zero row's r equals eps), and so must every
// implementation. (A nonzero row whose RMS is below half a float32 ulp of eps also saves r = eps
// and gets the term 0; its exact value is then under u/2 of dy / r, below float32 resolution.)
// PyTorch's autograd of the authors' code gives the same dy / eps: the division's backward is
// dy / r, and torch.norm's backward masks its 0/0 at a zero norm to 0.
void srmsnorm_backward(const double* dy, const double* x, const double* r, double* dx,
                       std::int64_t rows, std::int64_t cols, double eps);

// What DeepNorm's forward pass saves per row: LayerNorm's mean and rstd = 1 / sqrt(var + eps)
// (biased variance, two passes) of s = alpha * x + fx.
void deepnorm_stats(const double* x, const double* fx, double* mean, double* rstd,
                    std::int64_t rows, std::int64_t cols, double alpha, double eps);

// DeepNorm backward (forward: Wang et al. 2022, "DeepNet", Sec. 3, x_{l+1} = LN(alpha x_l +
// G_l(x_l)), and Fig. 2; here y = LN(s) gamma + beta, s = alpha x + fx, fx = G(x)'s output).
// LayerNorm's backward (norm_backward.hpp, Ba et al. 2016 eqs. 3-4 differentiated) at s, with
// shat = (s - mean) * rstd and g = dy * gamma, per row:
//   ds     = rstd * (g - mean(g) - shat * mean(g * shat))
//   dx     = alpha * ds      (ds/dx = alpha I)
//   dfx    = ds              (ds/dfx = I)
//   dgamma = sum over rows of dy * shat,   dbeta = sum over rows of dy
// s is recomputed from x and fx (in float64 here): the forward op does not output it (a post-LN
// block's next sublayer reads y only), so only mean and rstd are saved. dx is the gradient
// through the residual branch alone: the caller adds G's backward of dfx, (dG/dx)^T dfx, to get
// the full gradient of x_l. The paper and torchscale (residual * alpha + x, then LayerNorm; its
// backward by autograd) agree; neither writes the backward out.
void deepnorm_backward(const double* dy, const double* x, const double* fx, const double* gamma,
                       const double* mean, const double* rstd, double* dx, double* dfx,
                       double* dgamma, double* dbeta, std::int64_t rows, std::int64_t cols,
                       double alpha);

}  // namespace opbench::ref
