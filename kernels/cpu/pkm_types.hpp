#pragma once
// The shape of a product-key search and the weights of the memory layer, shared by the CPU, FAISS
// and CUDA kernels of the pkm family (the layout is that of reference/pkm.hpp): q[tokens, heads,
// dk], sub-keys k1, k2[heads, n, dk/2], product key (i, j) -> index i * n + j, results
// scores/indices[tokens, heads, k] sorted by score, equal scores by the smaller index.
#include <cstdint>

namespace opbench::pkm {

struct Dims {
  std::int64_t tokens = 0;
  std::int64_t heads = 0;
  std::int64_t n = 0;   // sub-keys per half: N = n * n product keys
  std::int64_t dk = 0;  // full key dimension, even
  std::int64_t k = 0;   // results per (token, head), 1 <= k <= n
  std::int64_t half() const { return dk / 2; }
  std::int64_t keys() const { return n * n; }
};

// The memory layer's parameters: query projection w[din, heads * dk] and b, the query batch
// normalization in inference form (running mean and variance, gamma, beta; [heads * dk]), the
// sub-keys k1, k2[heads, n, dk / 2] and the values[n * n, dv]. T is the storage type (float;
// bf16_t or f16_t for cpu.plain's reduced-precision cases); the running statistics stay float32 in
// every case, as BatchNorm's do under mixed precision.
template <class T>
struct LayerWeightsOf {
  const T* w;
  const T* b;
  const float* bn_mean;
  const float* bn_var;
  const T* bn_gamma;
  const T* bn_beta;
  const T* k1;
  const T* k2;
  const T* values;
};
using LayerWeights = LayerWeightsOf<float>;

}  // namespace opbench::pkm
