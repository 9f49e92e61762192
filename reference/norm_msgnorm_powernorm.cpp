// Float64 references of MsgNorm and PowerNorm (contract, equations and the paper/code choices in
// norm_msgnorm_powernorm.hpp). Plain loops, no SIMD, no threads.
#include "reference/norm_msgnorm_powernorm.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace opbench::ref {

// MsgNorm, Li et al. 2020, Sec. 3.3, with the code's F.normalize floor on ||m||.
void msgnorm(const double* x, const double* m, double s, double* y, std::int64_t rows,
             std::int64_t cols, double norm_floor) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* xr = x + r * cols;
    const double* mr = m + r * cols;
    double* yr = y + r * cols;
    double sx = 0.0, sm = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      sx += xr[j] * xr[j];
      sm += mr[j] * mr[j];
    }
    const double x_norm = std::sqrt(sx);
    const double m_den = std::max(std::sqrt(sm), norm_floor);
    // In the code's order: the normalized message, times ||x||, times s, added to x.
    for (std::int64_t j = 0; j < cols; ++j) yr[j] = xr[j] + mr[j] / m_den * x_norm * s;
  }
}

// PowerNorm training step, Shen et al. 2020, Algorithm 1 (forward propagation).
void powernorm(const double* x, const double* running_phi, const double* gamma, const double* beta,
               double* y, double* running_phi_new, std::int64_t rows, std::int64_t cols,
               double alpha, double eps) {
  // psi_B^2 first (row by row, one accumulator per column), so that y may alias x.
  std::vector<double> q(static_cast<std::size_t>(cols), 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) q[j] += x[r * cols + j] * x[r * cols + j];
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::int64_t i = r * cols + j;
      y[i] = gamma[j] * x[i] / std::sqrt(running_phi[j] + eps) + beta[j];  // psi_{t-1}
    }
  }
  for (std::int64_t j = 0; j < cols; ++j) {
    const double batch_phi = q[j] / static_cast<double>(rows);
    running_phi_new[j] = alpha * running_phi[j] + (1.0 - alpha) * batch_phi;
  }
}

// PowerNorm inference, Shen et al. 2020, Algorithm 1 (inference).
void powernorm_infer(const double* x, const double* running_phi, const double* gamma,
                     const double* beta, double* y, std::int64_t rows, std::int64_t cols,
                     double eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::int64_t i = r * cols + j;
      y[i] = gamma[j] * x[i] / std::sqrt(running_phi[j] + eps) + beta[j];
    }
  }
}

}  // namespace opbench::ref
