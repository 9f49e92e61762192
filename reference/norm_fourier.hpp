#pragma once
// Float64 references of the Fourier-domain normalizations of Lee, Bae, Kim 2023, "Decompose,
// Adjust, Compose: Effective Normalization by Playing with Frequency for Domain Generalization"
// (CVPR 2023, arXiv 2303.02328; authors' code: github.com/sangrokleeeeee/DAC, model.py), over
// x[n, c, h, w]. Each (n, c) plane is decomposed by the 2-D DFT (the paper's Fourier transform,
// F(x)(u, v) = sum_{h, w} x(h, w) exp(-2 pi i (h u / H + w v / W))) into amplitude A = |F| and
// phase P = atan2(Im F, Re F); an amplitude is normalized (or mixed), a phase kept (or adjusted),
// and the plane composed back as the real part of F^-1(A exp(i P)), 1/(HW) in the inverse. Then
// the channel's affine gamma, beta. With x_bn = (x - mu_c) / sqrt(var_c + eps) (batch statistics
// of channel c over n, h, w, biased variance: BatchNorm in training) and
// x_in = (x - m) / sqrt(s + eps) (the plane's own mean m and biased variance s: InstanceNorm):
//   PCNorm(x) = gamma F^-1(A(x_bn), P(x)) + beta
//   CCNorm(x) = gamma F^-1(A(x_bn), P(x - lambda mu_c)) + beta,     lambda in [0, 1]
//   SCNorm(x) = gamma F^-1(lambda A(x_in) + (1 - lambda) A(x), P(x)) + beta
// These are the paper's PCNorm and its variants CCNorm (content: how much of the mean the phase
// sees) and SCNorm (style: how much of the amplitude is normalized). Their equation numbers are
// not given here: the paper's text was not reachable from this workspace (its abstract and the
// authors' code were). The statistics are those of the authors' pcnorm(), ccnorm() and
// SCNorm.forward(): F.batch_norm in training mode, and F.instance_norm. Where the code differs
// from the equations, we follow the equations:
// - decompose() clamps |F|^2 and Re F below 1e-5 up to 1e-5 (replace_denormals), a guard for
//   the gradients of sqrt and atan2 at 0. It changes the forward result: every empty bin gets
//   amplitude 3.2e-3 (a constant image's PCNorm gains a spike of 3.2e-3 at pixel (0, 0)) and the
//   output no longer scales with the input. The equations have no clamp; neither have we.
// - lambda is softmax(w / 1e-6)[0] (CCNorm) or softmax(h / 0.1)[0] (SCNorm) of learned weights in
//   the code; we take lambda itself as an input, as the equations state it.
// - compose() runs irfft2 on the full spectrum scaled by 1/sqrt(HW) with norm="ortho": the
//   ordinary inverse (1/(HW)) of a Hermitian spectrum, which is the real part we take.
// The DFT here is the definition itself, separable (rows, then columns: O(hw (h + w)) per plane),
// in double, independent of any FFT library.
#include <cstdint>

namespace opbench::ref {

// The 2-D DFT of a complex h x w array (row-major), straight from the definition:
//   out(u, v) = sum_{r < h, s < w} in(r, s) exp(sign 2 pi i (r u / h + s v / w))
// sign = -1 is the forward transform F, sign = +1 the inverse without its 1/(hw). `in_im` may be
// nullptr (a real input). The outputs must not alias the inputs.
void dft2(const double* in_re, const double* in_im, double* out_re, double* out_im, std::int64_t h,
          std::int64_t w, int sign);

// PCNorm, Phase-Consistent Normalization: amplitude of the batch-normalized plane, phase of x.
void pcnorm(const double* x, const double* gamma, const double* beta, double* y, std::int64_t n,
            std::int64_t c, std::int64_t h, std::int64_t w, double eps);

// CCNorm, Content-Controllable Normalization: as PCNorm, with the phase of x - lambda mu_c
// (lambda = 0: PCNorm; lambda = 1: the phase of the centered plane, i.e. BatchNorm's output).
void ccnorm(const double* x, double lambda, const double* gamma, const double* beta, double* y,
            std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, double eps);

// SCNorm, Style-Controllable Normalization: amplitude lambda A(x_in) + (1 - lambda) A(x) with the
// plane's instance statistics, phase of x.
void scnorm(const double* x, double lambda, const double* gamma, const double* beta, double* y,
            std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, double eps);

}  // namespace opbench::ref
