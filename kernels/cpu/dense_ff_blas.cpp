// The OpenBLAS dense_ff baseline: two cblas_sgemm calls per block of rows, GeLU between them.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/fff_fast.hpp"
#include "kernels/cpu/fff_simd.hpp"

namespace opbench::cpu::openblas {

namespace {
// Rows per block: the hidden activations of 512 rows at width 4095 are 8 MiB, so a batch of 16384
// never needs a 268 MB buffer; 512 rows keep both SGEMMs at full efficiency.
constexpr std::int64_t kDenseBlockRows = 512;
}  // namespace

void dense_ff(const float* x, const float* w_in, const float* w_out, float* y, std::int64_t batch,
              std::int64_t d_in, std::int64_t d_out, std::int64_t width) {
  std::vector<float> h(static_cast<std::size_t>(std::min(batch, kDenseBlockRows) * width));
  for (std::int64_t r0 = 0; r0 < batch; r0 += kDenseBlockRows) {
    const std::int64_t rows = std::min(kDenseBlockRows, batch - r0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows),
                static_cast<int>(width), static_cast<int>(d_in), 1.0f, x + r0 * d_in,
                static_cast<int>(d_in), w_in, static_cast<int>(d_in), 0.0f, h.data(),
                static_cast<int>(width));
#pragma omp parallel for schedule(static) if (rows * width >= (1 << 16))
    for (std::int64_t r = 0; r < rows; ++r) {
      cpu::fast::fffsimd::gelu_inplace(h.data() + r * width, width);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows),
                static_cast<int>(d_out), static_cast<int>(width), 1.0f, h.data(),
                static_cast<int>(width), w_out, static_cast<int>(d_out), 0.0f, y + r0 * d_out,
                static_cast<int>(d_out));
  }
}

}  // namespace opbench::cpu::openblas
