#pragma once
// cpu.plain of the pkm family: the straightforward code a careful user writes first, one thread,
// scalar dot products, std::partial_sort for every top-k, all k x k candidates scored. Semantics
// and layout are those of reference/pkm.hpp.
//
// T is the storage type of the tensors: float, bf16_t or f16_t (explicitly instantiated in the
// .cpp). Loads widen to float, scores are float sums and every ranking is made on them; only the
// outputs are rounded into T, once each.
#include <cstdint>

#include "harness/half.hpp"
#include "kernels/cpu/pkm_types.hpp"

namespace opbench::cpu::plain {

// Product-key search (Lample et al. 2019, Sec. 3.2). scores, indices: [tokens, heads, k].
template <class T>
void pkm_topk(const T* q, const T* k1, const T* k2, T* scores, std::int64_t* indices,
              const pkm::Dims& d);

// Exact top-k by scoring every product key [k1_i ; k2_j] with a full dk-long dot product.
template <class T>
void bruteforce_topk(const T* q, const T* k1, const T* k2, T* scores, std::int64_t* indices,
                     const pkm::Dims& d);

// The memory layer: y = sum_h sum_m softmax(scores)_m values[indices_m], queries BN(x w + b).
// x[tokens, din], y[tokens, dv], indices[tokens, heads, k]. The queries stay float.
template <class T>
void pkm_layer(const T* x, const pkm::LayerWeightsOf<T>& wts, T* y, std::int64_t* indices,
               const pkm::Dims& d, std::int64_t din, std::int64_t dv, float eps);

}  // namespace opbench::cpu::plain
