#pragma once
// The backward pass of the product-key memory layer on the CPU (equations and layout in
// reference/pkm.hpp: pkm_layer_backward), float32. dvalues, dk1 and dk2 are accumulate-into
// outputs: the kernels add the gradient to what the buffers hold (as autograd sums into .grad);
// dx, dw, db, dbn_gamma and dbn_beta are written.
#include <cstdint>
#include <vector>

#include "kernels/cpu/pkm_types.hpp"

namespace opbench::cpu {

// What the forward pass hands the backward pass, and the incoming gradient dy[tokens, dv].
struct PkmBackwardInputs {
  const float* x;  // [tokens, din]
  pkm::LayerWeights wts;
  const float* dy;              // [tokens, dv]
  const std::int64_t* indices;  // [tokens, heads, k]
  const float* weights;         // softmax weights [tokens, heads, k]
  const float* zhat;            // normalized projection [tokens, heads * dk]
};

struct PkmBackwardGrads {
  float* dx;
  float* dw;
  float* db;
  float* dbn_gamma;
  float* dbn_beta;
  float* dk1;      // accumulated into
  float* dk2;      // accumulated into
  float* dvalues;  // accumulated into
};

namespace plain {
// One thread, the reference's loops in float32: every contribution added straight into its row
// (the scatter-add a user writes first), the projection's gradients as plain triple loops.
void pkm_layer_backward(const PkmBackwardInputs& in, const PkmBackwardGrads& g, const pkm::Dims& d,
                        std::int64_t din, std::int64_t dv, float eps);
}  // namespace plain

namespace fast {
// OpenMP over tokens for the softmax and query gradients (the value rows gathered with software
// prefetch a few rows ahead); the three scatter-adds (value rows, both sub-key sets) without
// atomics: the (row, contribution) pairs are bucketed by row (a counting sort, stable, so each row
// sums in token order whatever the thread count), then each thread owns whole rows, in ascending
// order, and adds a row's contributions in order into it. Too few rows to share among the threads
// (a row every token picks, the contention case) split by column blocks. dW and dx are SGEMMs
// (OpenBLAS).
class PkmLayerBackward {
 public:
  PkmLayerBackward(const pkm::Dims& d, std::int64_t din, std::int64_t dv, float eps);
  void run(const PkmBackwardInputs& in, const PkmBackwardGrads& g);

 private:
  // Row-bucketed contributions: entries of row r are order[offsets[r] .. offsets[r + 1]).
  struct Buckets {
    std::vector<std::int64_t> offsets;  // [rows + 1]
    std::vector<std::int64_t> order;    // contribution ids (flat (t, h, m)), by row
    std::vector<std::int64_t> rows;     // the rows that have contributions, ascending
  };
  template <class RowOf>
  void bucket(std::int64_t rows, RowOf row_of, Buckets& b);

  pkm::Dims d_;
  std::int64_t din_, dv_;
  float eps_;
  std::vector<float> ds_, q_, dq_, dz_;
  // Per contribution (t, h, m): its value row, its two sub-key rows (h * n + i, h * n + j) and
  // where its query starts (t * heads * dk + h * dk).
  std::vector<std::int64_t> value_row_, key1_row_, key2_row_, query_at_;
  std::vector<std::int64_t> next_;  // the counting sort's cursors, kept between runs
  Buckets values_, keys1_, keys2_;
};
}  // namespace fast

}  // namespace opbench::cpu
