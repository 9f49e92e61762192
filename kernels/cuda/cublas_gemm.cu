// The row-major SGEMM of the cuda.fast layers through cuBLAS (see cublas_gemm.hpp).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/cuda/cublas_gemm.hpp"

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "harness/device.hpp"
#include "kernels/cuda/launch_geometry.hpp"
#include "kernels/cuda/launch_stream.hpp"

namespace opbench::cuda {
namespace {

void check_cublas(cublasStatus_t status, const std::string& what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(what + ": cuBLAS error " + cublasGetStatusString(status));
  }
}

// One handle per process, created on first use on the device then current, float32 math
// (CUBLAS_DEFAULT_MATH: no TF32 tensor cores, whose 10-bit mantissa would fail the float32
// tolerances). Never destroyed: the CUDA context may be gone by the time static destructors run.
cublasHandle_t handle() {
  static const cublasHandle_t h = [] {
    cublasHandle_t created = nullptr;
    check_cublas(cublasCreate(&created), "cublasCreate");
    check_cublas(cublasSetMathMode(created, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    check_cublas(cublasSetPointerMode(created, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
    return created;
  }();
  return h;
}

// The handle, set to the stream the calling kernel launches on (launch_stream.hpp). The stream is
// set only when it changed: cublasSetStream also resets the handle's workspace. The harness runs
// kernels from one thread; the handle is not for concurrent use.
cublasHandle_t handle_on(cudaStream_t stream) {
  static cudaStream_t bound = nullptr;
  static bool set = false;
  const cublasHandle_t h = handle();
  if (!set || bound != stream) {
    check_cublas(cublasSetStream(h, stream), "cublasSetStream");
    bound = stream;
    set = true;
  }
  return h;
}

// What both GEMMs check before cuBLAS: negative sizes refused, nothing to do for an empty c, then
// `too_large` (a size cuBLAS cannot take, "" if none) refused, and zeros for inner = 0. Returns
// whether cuBLAS has work to do.
bool needs_cublas(float* c, std::int64_t rows, std::int64_t inner, std::int64_t cols,
                  const std::string& too_large, const char* what) {
  if (rows < 0 || inner < 0 || cols < 0) {
    throw std::invalid_argument(std::string(what) + ": negative GEMM size");
  }
  if (rows == 0 || cols == 0) return false;
  if (!too_large.empty()) throw std::invalid_argument(std::string(what) + ": " + too_large);
  if (inner == 0) {
    check_cuda(cudaMemsetAsync(c, 0, static_cast<std::size_t>(rows * cols) * sizeof(float),
                               launch_stream()),
               what);
    return false;
  }
  return true;
}

}  // namespace

void gemm_row_major(const float* a, const float* b, float* c, std::int64_t rows, std::int64_t inner,
                    std::int64_t cols, const char* what) {
  const bool too_large = inner > kMaxBlasInt || cols > kMaxBlasInt;
  if (!needs_cublas(c, rows, inner, cols,
                    too_large ? "a GEMM of inner size " + std::to_string(inner) + " and " +
                                    std::to_string(cols) +
                                    " columns, more than cuBLAS's 32-bit sizes take (2^31 - 1)"
                              : "",
                    what)) {
    return;
  }
  const cublasHandle_t h = handle_on(launch_stream());
  const float one = 1.0f, zero = 0.0f;
  const std::int64_t step = gemm_rows_per_call(inner, cols);
  for (std::int64_t r0 = 0; r0 < rows; r0 += step) {
    const int n = static_cast<int>(std::min(step, rows - r0));
    // Row-major C = A B is column-major C^T = B^T A^T: cuBLAS's (m, n, k) = (cols, rows, inner),
    // with row-major B (leading dimension cols) as the first operand and A (inner) as the second.
    check_cublas(
        cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(cols), n, static_cast<int>(inner),
                    &one, b, static_cast<int>(cols), a + r0 * inner, static_cast<int>(inner), &zero,
                    c + r0 * cols, static_cast<int>(cols)),
        what);
  }
}

void gemm_row_major(const float* a, bool transpose_a, const float* b, bool transpose_b, float* c,
                    std::int64_t rows, std::int64_t inner, std::int64_t cols, const char* what) {
  const bool too_large = std::max({rows, inner, cols}) > kMaxBlasInt ||
                         rows * inner > kMaxBlasInt || inner * cols > kMaxBlasInt ||
                         rows * cols > kMaxBlasInt;
  if (!needs_cublas(c, rows, inner, cols,
                    too_large ? "a transposed GEMM of " + std::to_string(rows) + " x " +
                                    std::to_string(inner) + " x " + std::to_string(cols) +
                                    ", an operand beyond cuBLAS's 32-bit sizes (2^31 - 1)"
                              : "",
                    what)) {
    return;
  }
  const cublasHandle_t h = handle_on(launch_stream());
  const float one = 1.0f, zero = 0.0f;
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T. A row-major matrix is its
  // transpose in column-major, so an operand read as stored takes CUBLAS_OP_N and a transposed one
  // CUBLAS_OP_T, each with its stored row length as leading dimension.
  const int ldb = static_cast<int>(transpose_b ? inner : cols);
  const int lda = static_cast<int>(transpose_a ? rows : inner);
  check_cublas(cublasSgemm(h, transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                           transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(cols),
                           static_cast<int>(rows), static_cast<int>(inner), &one, b, ldb, a, lda,
                           &zero, c, static_cast<int>(cols)),
               what);
}

}  // namespace opbench::cuda
