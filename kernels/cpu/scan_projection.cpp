// Input projection through OpenBLAS SGEMM, and the per-thread scratch of the scan family.
#include "kernels/cpu/scan_projection.hpp"

#include <cblas.h>

#include <array>
#include <vector>

namespace opbench::cpu {

void project(const float* x, const float* w, const float* bias, float* k, std::int64_t rows,
             std::int64_t d_in, std::int64_t cols) {
  // k = bias broadcast over rows, then k += x W (beta = 1), one SGEMM for all steps and batches.
  for (std::int64_t r = 0; r < rows; ++r) {
    float* kr = k + r * cols;
    for (std::int64_t j = 0; j < cols; ++j) kr[j] = bias[j];
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows),
              static_cast<int>(cols), static_cast<int>(d_in), 1.0f, x, static_cast<int>(d_in), w,
              static_cast<int>(cols), 1.0f, k, static_cast<int>(cols));
}

float* scan_workspace(int slot, std::int64_t count) {
  thread_local std::array<std::vector<float>, 4> buffers;
  auto& b = buffers.at(static_cast<std::size_t>(slot));
  if (static_cast<std::int64_t>(b.size()) < count) b.resize(static_cast<std::size_t>(count));
  return b.data();
}

}  // namespace opbench::cpu
