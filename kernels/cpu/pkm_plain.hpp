#pragma once
// cpu.plain of the pkm family: the straightforward float32 code a careful user writes first, one
// thread, scalar dot products, std::partial_sort for every top-k, all k x k candidates scored.
// Semantics and layout are those of reference/pkm.hpp.
#include <cstdint>

#include "kernels/cpu/pkm_types.hpp"

namespace opbench::cpu::plain {

// Product-key search (Lample et al. 2019, Sec. 3.2). scores, indices: [tokens, heads, k].
void pkm_topk(const float* q, const float* k1, const float* k2, float* scores,
              std::int64_t* indices, const pkm::Dims& d);

// Exact top-k by scoring every product key [k1_i ; k2_j] with a full dk-long dot product.
void bruteforce_topk(const float* q, const float* k1, const float* k2, float* scores,
                     std::int64_t* indices, const pkm::Dims& d);

// The memory layer: y = sum_h sum_m softmax(scores)_m values[indices_m], queries BN(x w + b).
// x[tokens, din], y[tokens, dv], indices[tokens, heads, k].
void pkm_layer(const float* x, const pkm::LayerWeights& wts, float* y, std::int64_t* indices,
               const pkm::Dims& d, std::int64_t din, std::int64_t dv, float eps);

}  // namespace opbench::cpu::plain
