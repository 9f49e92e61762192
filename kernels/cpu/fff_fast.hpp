#pragma once
// cpu.fast for the Fast Feedforward family, and the OpenBLAS dense baseline. Equations and layouts
// are those of reference/fff.hpp.
//
// Hard-routed trees (fff, ultrafast_fff) process the batch in blocks of rows that stay in cache:
// within a block, each level groups the rows by the node they reached, so one node's weights are
// loaded once and used for every row that shares it (the upper levels become small matrix-vector
// products over those rows); a block of one row is the vectorized descent. fff then groups all rows
// by leaf and evaluates each occupied leaf as a small GEMM over its rows. OpenMP runs over blocks
// of rows and over leaf work items when the batch is large enough to pay for waking threads.
#include <cstdint>

#include "harness/half.hpp"
#include "kernels/cpu/fff_types.hpp"

namespace opbench::cpu::fast {

void fff(const float* x, const fff::Weights& w, const fff::Dims& d, float* y, std::int64_t* leaf,
         std::int64_t batch);

// Soft FFF as dense algebra: node logits and every leaf's hidden layer as one SGEMM each, the
// mixture weights applied to the hidden activations, the output as one more SGEMM (OpenBLAS).
void soft_fff(const float* x, const fff::Weights& w, const fff::Dims& d, float* y,
              std::int64_t batch);

void ultrafast_fff(const float* x, const float* w_in, const float* w_out, float* y,
                   std::int64_t* path, std::int64_t batch, std::int64_t d_in, std::int64_t d_out,
                   std::int64_t depth);

// bfloat16 and binary16 storage, each output rounded once. fff and ultrafast_fff widen x to
// float32 and read the weights in their storage type, widened as they are loaded (a row reads
// only the nodes on its path and its leaf); the routing decisions and sums are float32, as
// cpu.plain's. soft_fff, which reads every weight, widens all its tensors once per call.
#define OPBENCH_FFF_FAST_DECLS_16(T)                                                             \
  void fff(const T* x, const fff::WeightsOf<T>& w, const fff::Dims& d, T* y, std::int64_t* leaf, \
           std::int64_t batch);                                                                  \
  void soft_fff(const T* x, const fff::WeightsOf<T>& w, const fff::Dims& d, T* y,                \
                std::int64_t batch);                                                             \
  void ultrafast_fff(const T* x, const T* w_in, const T* w_out, T* y, std::int64_t* path,        \
                     std::int64_t batch, std::int64_t d_in, std::int64_t d_out,                  \
                     std::int64_t depth);
OPBENCH_FFF_FAST_DECLS_16(bf16_t)
OPBENCH_FFF_FAST_DECLS_16(f16_t)
#undef OPBENCH_FFF_FAST_DECLS_16

}  // namespace opbench::cpu::fast

namespace opbench::cpu::openblas {

// The dense baseline both papers measure against: H = GeLU(x w_in^T), y = H w_out, two
// cblas_sgemm calls per block of rows with a vectorized GeLU between them.
void dense_ff(const float* x, const float* w_in, const float* w_out, float* y, std::int64_t batch,
              std::int64_t d_in, std::int64_t d_out, std::int64_t width);

}  // namespace opbench::cpu::openblas
