// cpu.plain: LayerNorm and RMSNorm backward (contract in norm_backward_plain.hpp), written as
// reference/norm_backward.cpp is, over float32 storage: two passes over each row (the row sums,
// then dx), double accumulators, each output rounded once. No OpenMP, no intrinsics, as the rest
// of cpu.plain (norm_plain.cpp).
#include "kernels/cpu/norm_backward_plain.hpp"

#include <cstdint>
#include <vector>

namespace opbench::cpu::plain {

void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                        const float* rstd, float* dx, float* dgamma, float* dbeta,
                        std::int64_t rows, std::int64_t cols) {
  // Column sums in double over all rows, rounded once at the end.
  std::vector<double> dg(static_cast<std::size_t>(cols), 0.0), db(dg);
  const double n = static_cast<double>(cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* dyr = dy + r * cols;
    const float* xr = x + r * cols;
    const double m = mean[r], s = rstd[r];
    double sum_g = 0.0, sum_gx = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      const double xhat = (xr[j] - m) * s;
      const double g = static_cast<double>(dyr[j]) * gamma[j];
      sum_g += g;
      sum_gx += g * xhat;
      dg[j] += dyr[j] * xhat;
      db[j] += dyr[j];
    }
    for (std::int64_t j = 0; j < cols; ++j) {
      const double xhat = (xr[j] - m) * s;
      const double g = static_cast<double>(dyr[j]) * gamma[j];
      dx[r * cols + j] = static_cast<float>(s * (g - sum_g / n - xhat * sum_gx / n));
    }
  }
  for (std::int64_t j = 0; j < cols; ++j) {
    dgamma[j] = static_cast<float>(dg[j]);
    dbeta[j] = static_cast<float>(db[j]);
  }
}

void rmsnorm_backward(const float* dy, const float* x, const float* gamma, const float* rstd,
                      float* dx, float* dgamma, std::int64_t rows, std::int64_t cols) {
  std::vector<double> dg(static_cast<std::size_t>(cols), 0.0);
  const double n = static_cast<double>(cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* dyr = dy + r * cols;
    const float* xr = x + r * cols;
    const double s = rstd[r];
    double sum_gx = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      const double xhat = xr[j] * s;
      sum_gx += static_cast<double>(dyr[j]) * gamma[j] * xhat;
      dg[j] += dyr[j] * xhat;
    }
    for (std::int64_t j = 0; j < cols; ++j) {
      const double xhat = xr[j] * s;
      dx[r * cols + j] =
          static_cast<float>(s * (static_cast<double>(dyr[j]) * gamma[j] - xhat * sum_gx / n));
    }
  }
  for (std::int64_t j = 0; j < cols; ++j) dgamma[j] = static_cast<float>(dg[j]);
}

}  // namespace opbench::cpu::plain
