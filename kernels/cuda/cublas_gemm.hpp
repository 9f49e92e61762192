#pragma once
// The GEMMs inside cuda.fast layers (minGRU/minLSTM projections, pkm_layer's query projection)
// through cuBLAS (part of the CUDA Toolkit), row-major, float32, on the bound stream
// (launch_stream.hpp).
#include <cstdint>

namespace opbench::cuda {

// c[rows, cols] = a[rows, inner] b[inner, cols], all row-major device pointers (leading dimensions
// inner, cols, cols), float32 accumulation (no TF32), launched on the bound stream without
// synchronizing. inner = 0 gives zeros. Rows beyond cuBLAS's 32-bit sizes are taken in several
// calls; inner or cols beyond 2^31 - 1 are refused (std::invalid_argument naming `what`). The
// cuBLAS handle is created on the first call (the harness runs every kernel once for the agreement
// check before timing it), never inside a timed launch after that. cuBLAS errors are thrown as
// std::runtime_error naming `what`.
void gemm_row_major(const float* a, const float* b, float* c, std::int64_t rows, std::int64_t inner,
                    std::int64_t cols, const char* what);

// The same with either operand read transposed: c[rows, cols] = op(a) op(b), op(a) [rows, inner]
// and op(b) [inner, cols]; a transposed a is stored [inner, rows], a transposed b [cols, inner]
// (row-major, leading dimension the stored row length). One cuBLAS call: every size must be at
// most 2^31 - 1 and every operand under 2^31 elements (std::invalid_argument naming `what`).
void gemm_row_major(const float* a, bool transpose_a, const float* b, bool transpose_b, float* c,
                    std::int64_t rows, std::int64_t inner, std::int64_t cols, const char* what);

}  // namespace opbench::cuda
