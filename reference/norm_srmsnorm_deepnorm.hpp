#pragma once
// Float64 references of SimpleRMSNorm (TransNormer) and DeepNorm (DeepNet): plain loops straight
// from the papers' equations and the authors' code, no SIMD, no threads, row-major arrays. These
// functions are the contract the implementations of suites/norm_srmsnorm_deepnorm.cpp are checked
// against.
#include <cstdint>

namespace opbench::ref {

// SimpleRMSNorm's eps in the authors' code: fairseq-evo (OpenNLPLab's fairseq, which the
// TransNormer repository installs), fairseq/modules/norm/rms_norm.py, SimpleRMSNorm.__init__
// default eps=1e-8; every SimpleRMSNorm(embed_dim) there is built with that default.
inline constexpr double kSrmsnormEps = 1e-8;

// SimpleRMSNorm, per row of x[rows, cols], no gain, no bias:
//   y = x / (||x||_2 / sqrt(d) + eps),   d = cols
// Paper: Qin et al. 2022, "The Devil in Linear Transformer" (EMNLP), NormAttention
// O = XNorm(Q (K^T V)) with XNorm a (simple) RMS norm; the formula SRMSNorm(x) = x / (||x||_2 /
// sqrt(d)) is written out in TransNormerLLM (Qin et al. 2023, arXiv:2307.14995, "tensor
// normalization"). The papers give no eps. We follow the authors' TransNormer code
// (fairseq-evo, SimpleRMSNorm.forward: rms_x = norm_x * d^(-1/2); x / (rms_x + eps)): eps is
// added to the RMS itself, outside the square root, not to the mean square inside it as
// RMSNorm's eq. 4 (and TransNormerLLM's later norm.py, x * rsqrt(mean(x^2) + eps)) do. So a row
// of zeros gives 0 / eps = 0: defined, no NaN. eps = 0 is allowed and gives NaN (0/0) there.
void srmsnorm(const double* x, double* y, std::int64_t rows, std::int64_t cols, double eps);

// DeepNorm's alpha for a stack of N layers of an encoder-only or decoder-only model (Wang et al.
// 2022, Fig. 2's table): alpha = (2N)^(1/4). torchscale (microsoft/torchscale,
// architecture/encoder.py and decoder.py) computes the same: math.pow(2.0 * layers, 0.25).
double deepnorm_alpha(std::int64_t layers);
// The encoder-decoder values of the same table: encoder alpha = 0.81 (N^4 M)^(1/16), decoder
// alpha = (3M)^(1/4), for N encoder and M decoder layers.
double deepnorm_alpha_encoder(std::int64_t encoder_layers, std::int64_t decoder_layers);
double deepnorm_alpha_decoder(std::int64_t decoder_layers);

// DeepNorm (Wang et al. 2022, "DeepNet: Scaling Transformers to 1,000 Layers", Sec. 3 and the
// pseudocode of Fig. 2): the post-LN residual connection with the residual up-weighted,
//   x_{l+1} = LN(alpha * x_l + G_l(x_l)),
// here per row: s = alpha * x + fx, y = (s - mean(s)) / sqrt(var(s) + eps) * gamma + beta, the
// biased variance, two passes (mean, then squared deviations) as LayerNorm (Ba et al. 2016,
// eqs. 3-4). x is the residual stream x_l, fx the sublayer's output G_l(x_l). The paper and
// torchscale agree (torchscale: residual_connection(x, residual) = residual * alpha + x, then
// the layer's LayerNorm when not normalize_before). The sum s is not an output: in a post-LN
// block the next sublayer reads y, so nothing downstream needs s in the forward pass.
void deepnorm(const double* x, const double* fx, const double* gamma, const double* beta, double* y,
              std::int64_t rows, std::int64_t cols, double alpha, double eps);

}  // namespace opbench::ref
