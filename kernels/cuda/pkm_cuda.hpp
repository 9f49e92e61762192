#pragma once
// cuda.fast of the pkm family: the product-key search. Pointers are device pointers; the function
// launches on the default stream and returns without synchronizing. Semantics and layout are
// those of reference/pkm.hpp (kernels/cpu/pkm_types.hpp). Launch errors and unsupported shapes
// are thrown as std::runtime_error / std::invalid_argument.
#include <cstdint>
#include <string>

#include "kernels/cpu/pkm_types.hpp"

namespace opbench::cuda {

// Why this kernel cannot run a shape ("" when it can): it keeps a query half in shared memory
// (dk <= 1024) and each top-k list in shared memory (k <= 256).
std::string pkm_topk_unsupported(const pkm::Dims& d);

// 1. sub-key scores: a block scores 16 tokens' query halves (in shared memory) against all n
//    sub-keys of one head and half; 2. one warp per (token, head): the k best of each half by k
//    rounds of warp argmax, then the k x k combination walked as k sorted rows (a frontier: each
//    round takes the best head of the rows and advances that row).
void pkm_topk(const float* q, const float* k1, const float* k2, float* scores,
              std::int64_t* indices, const pkm::Dims& d);

}  // namespace opbench::cuda
