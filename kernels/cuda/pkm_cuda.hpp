#pragma once
// cuda.fast of the pkm family: the product-key search (pkm_cuda.cu), the brute-force search
// (pkm_bruteforce_cuda.cu) and the memory layer (pkm_layer_cuda.cu). Pointers are device pointers;
// every function launches on the bound stream (launch_stream.hpp) and returns without
// synchronizing. Semantics and layout are those of reference/pkm.hpp (kernels/cpu/pkm_types.hpp).
// Launch errors and unsupported shapes are thrown as std::runtime_error / std::invalid_argument.
#include <cstdint>
#include <string>

#include "kernels/cpu/pkm_types.hpp"
#include "kernels/cuda/pkm_scratch.hpp"  // the scratch each takes: pkm_topk_scratch_bytes, ...

namespace opbench::cuda {

// Why this kernel cannot run a shape ("" when it can): it keeps each top-k list in shared memory
// (k <= 256), scores each head in its own grid row (heads <= 65535) and numbers tokens with 32-bit
// integers (tokens <= 2^30).
std::string pkm_topk_unsupported(const pkm::Dims& d);

// 1. sub-key scores: a block scores 16 tokens' query halves against all n sub-keys of one head
//    and half, both staged in shared memory 32 dims at a time by coalesced loads; 2. one warp per
//    (token, head): the k best of each half by k rounds of warp argmax, then the k x k combination
//    walked as k sorted rows (a frontier: each round takes the best head of the rows and advances
//    that row).
void pkm_topk(const float* q, const float* k1, const float* k2, float* scores,
              std::int64_t* indices, const pkm::Dims& d);

// Why the brute force cannot run a shape ("" when it can): a warp holds a running top-k list in
// registers (k <= 256), product keys are numbered with 32-bit integers (N < 2^31), and one grid
// row per head.
std::string bruteforce_topk_unsupported(const pkm::Dims& d);

// The exact baseline: every one of the N product keys scored by its full dk-dimensional dot
// product (key i * n + j is [k1_i ; k2_j], built in shared memory tile by tile, never stored
// whole), as a tiled GEMM of 32 tokens against 128 keys per step. Each block streams one range of
// keys for its tokens and keeps a running top-k per token; a second kernel merges the ranges.
void bruteforce_topk(const float* q, const float* k1, const float* k2, float* scores,
                     std::int64_t* indices, const pkm::Dims& d);
// Its scratch on this device (the split into ranges follows the multiprocessor count; without a
// device, the most any device would take).
double bruteforce_topk_scratch_bytes(const pkm::Dims& d);

// Why the memory layer cannot run a shape ("" when it can): its search is pkm_topk's.
std::string pkm_layer_unsupported(const pkm::Dims& d);

// The memory layer: q = BN(x W + b) (cuBLAS SGEMM, then the bias and the inference batch
// normalization in one elementwise pass) into device scratch, pkm_topk on those queries, then per
// token the softmax of each head's k scores and the weighted sum of value rows over all heads.
// x[tokens, din], y[tokens, dv], indices[tokens, heads, k].
void pkm_layer(const float* x, const pkm::LayerWeights& w, float* y, std::int64_t* indices,
               const pkm::Dims& d, std::int64_t din, std::int64_t dv, float eps);

}  // namespace opbench::cuda
