#pragma once
// cpu.fast of the pkm family. Each kernel is an object built once per case (workspace, and for
// the brute force the materialized product keys) and run many times; semantics and layout are
// those of reference/pkm.hpp.
#include <cstdint>
#include <vector>

#include "harness/half.hpp"
#include "kernels/cpu/pkm_types.hpp"

namespace opbench::cpu::fast {

// Product-key search, OpenMP over blocks of tokens: per block and head, the sub-key scores as two
// SGEMMs (one per half, OpenBLAS), then per token a partial selection of the k best per half and
// the k x k combination walked in the sorted order of both sides (topk_select.hpp).
class PkmTopk {
 public:
  using Storage = float;  // the type of the tensors it takes
  explicit PkmTopk(const pkm::Dims& d);
  void run(const float* q, const float* k1, const float* k2, float* scores, std::int64_t* indices);

 private:
  pkm::Dims d_;
};

// The exact baseline: the N product keys of each head materialized once ([heads, N, dk], at
// construction, like a flat index), then per block of keys an SGEMM of all queries against the
// block and a running top-k per (token, head) that skips blocks of scores below its threshold.
class BruteforceTopk {
 public:
  using Storage = float;
  BruteforceTopk(const float* k1, const float* k2, const pkm::Dims& d);
  void run(const float* q, float* scores, std::int64_t* indices);

 private:
  pkm::Dims d_;
  std::vector<float> keys_;   // [heads, N, dk]
  std::vector<float> block_;  // [tokens, block] scores of one block of keys
};

// The memory layer: the query projection as one SGEMM with the batch normalization folded into a
// per-column scale and shift, PkmTopk, then softmax and the weighted sum of value rows per token.
class PkmLayer {
 public:
  using Storage = float;
  PkmLayer(const pkm::Dims& d, std::int64_t din, std::int64_t dv, float eps);
  void run(const float* x, const pkm::LayerWeights& wts, float* y, std::int64_t* indices) {
    run_with_values(x, wts, wts.values, y, indices);
  }
  // The same with the value table and y in V (float, bf16_t or f16_t; wts.values is not read):
  // the value rows are read in their own type and summed in float32, y rounded once.
  template <class V>
  void run_with_values(const float* x, const pkm::LayerWeights& wts, const V* values, V* y,
                       std::int64_t* indices);

 private:
  pkm::Dims d_;
  std::int64_t din_, dv_;
  float eps_;
  PkmTopk topk_;
  std::vector<float> q_, scale_, shift_, scores_;
};

// The two searches in bfloat16 or binary16 storage (T), as cpu.plain's contract: scores are
// float32 sums of the exact 16-bit values and every ranking is made on them; only the returned
// scores are rounded, once. Every query and sub-key takes part in the scores, so the 16-bit
// tensors are widened to float32 once per call (vectorized, over the threads; the brute force's
// keys once per case, when it materializes them) and the float32 kernel runs on them.
template <class T>
class PkmTopkHalf {
 public:
  using Storage = T;
  explicit PkmTopkHalf(const pkm::Dims& d) : d_(d), f32_(d) {}
  void run(const T* q, const T* k1, const T* k2, T* scores, std::int64_t* indices);

 private:
  pkm::Dims d_;
  PkmTopk f32_;
  std::vector<float> q_, k1_, k2_, scores_;
};

template <class T>
class BruteforceTopkHalf {
 public:
  using Storage = T;
  BruteforceTopkHalf(const T* k1, const T* k2, const pkm::Dims& d);
  void run(const T* q, T* scores, std::int64_t* indices);

 private:
  pkm::Dims d_;
  BruteforceTopk f32_;
  std::vector<float> q_, scores_;
};

// The memory layer in bfloat16 or binary16 storage (T), as cpu.plain's contract: the projection,
// its batch normalization and the search in float32, on x, W, b, gamma, beta and the sub-keys
// widened once per call (every token reads all of them); the value rows, of which a token reads
// only heads * k, are read in 16-bit straight from the table, and y is rounded once.
template <class T>
class PkmLayerHalf {
 public:
  using Storage = T;
  PkmLayerHalf(const pkm::Dims& d, std::int64_t din, std::int64_t dv, float eps)
      : d_(d), din_(din), f32_(d, din, dv, eps) {}
  void run(const T* x, const pkm::LayerWeightsOf<T>& wts, T* y, std::int64_t* indices);

 private:
  pkm::Dims d_;
  std::int64_t din_;
  PkmLayer f32_;
  std::vector<float> x_, w_, b_, gamma_, beta_, k1_, k2_;
};

}  // namespace opbench::cpu::fast
