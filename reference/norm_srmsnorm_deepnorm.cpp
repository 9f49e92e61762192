// Float64 references of SimpleRMSNorm and DeepNorm (contract and equations in
// norm_srmsnorm_deepnorm.hpp). Plain loops, no SIMD, no threads.
#include "reference/norm_srmsnorm_deepnorm.hpp"

#include <cmath>
#include <vector>

namespace opbench::ref {

// SimpleRMSNorm: x / (||x||_2 / sqrt(d) + eps), eps outside the root (the authors' code).
void srmsnorm(const double* x, double* y, std::int64_t rows, std::int64_t cols, double eps) {
  const double sqrt_d = std::sqrt(static_cast<double>(cols));
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* xr = x + r * cols;
    double* yr = y + r * cols;
    double ss = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) ss += xr[j] * xr[j];
    const double rms = std::sqrt(ss) / sqrt_d;
    for (std::int64_t j = 0; j < cols; ++j) yr[j] = xr[j] / (rms + eps);
  }
}

double deepnorm_alpha(std::int64_t layers) {
  return std::pow(2.0 * static_cast<double>(layers), 0.25);
}

double deepnorm_alpha_encoder(std::int64_t encoder_layers, std::int64_t decoder_layers) {
  const double n = static_cast<double>(encoder_layers);
  return 0.81 * std::pow(n * n * n * n * static_cast<double>(decoder_layers), 1.0 / 16.0);
}

double deepnorm_alpha_decoder(std::int64_t decoder_layers) {
  return std::pow(3.0 * static_cast<double>(decoder_layers), 0.25);
}

// DeepNorm, Wang et al. 2022: y = LN(alpha * x + fx), LayerNorm with two-pass biased statistics.
void deepnorm(const double* x, const double* fx, const double* gamma, const double* beta, double* y,
              std::int64_t rows, std::int64_t cols, double alpha, double eps) {
  std::vector<double> s(static_cast<std::size_t>(cols));
  const double n = static_cast<double>(cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* xr = x + r * cols;
    const double* fr = fx + r * cols;
    double* yr = y + r * cols;
    double sum = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      s[j] = alpha * xr[j] + fr[j];
      sum += s[j];
    }
    const double mean = sum / n;
    double q = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) q += (s[j] - mean) * (s[j] - mean);
    const double inv = 1.0 / std::sqrt(q / n + eps);
    for (std::int64_t j = 0; j < cols; ++j) yr[j] = (s[j] - mean) * inv * gamma[j] + beta[j];
  }
}

}  // namespace opbench::ref
