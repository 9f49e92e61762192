#pragma once
// CPU kernels of the Fast Feedforward family's backward passes (float32): the equations of
// reference/fff_backward.hpp. cpu.plain runs them row by row in scalar loops, as the reference
// does; cpu.fast turns them into OpenBLAS SGEMMs (kernels/cpu/fff_backward_fast.cpp).
//
// Every output is written whole (gradients are not accumulated into): a kernel zeroes what it
// does not reach, such as the leaves no row chose in the hard-routed backward.
#include <cstdint>

#include "kernels/cpu/fff_types.hpp"

namespace opbench::fff {

// Gradient arrays, each the shape of its weight in fff_types.hpp.
template <class T>
struct GradientsOf {
  T *node_w1, *node_b1, *node_w2, *node_b2;
  T *leaf_w1, *leaf_b1, *leaf_w2, *leaf_b2;
};
using Gradients = GradientsOf<float>;

// Columns of the saved decision probabilities p[batch, max(nodes, 1)].
inline std::int64_t saved_columns(const Dims& d) {
  return d.nodes() > 0 ? d.nodes() : 1;
}

}  // namespace opbench::fff

namespace opbench::cpu::plain {

// Soft FFF backward: dx and every parameter gradient from x, the weights, the forward's saved
// decision probabilities p[batch, saved_columns] and dy. Node gradient tensors of node_width 1
// (node_w2, node_b2: one unused row) and of depth 0 (one unused node) are written as 0.
void soft_fff_backward(const float* x, const fff::Weights& w, const fff::Dims& d, const float* p,
                       const float* dy, float* dx, const fff::Gradients& g, std::int64_t batch);

// Hard-routed FFF backward through the forward's saved leaf[batch]: dx and the leaf gradients
// (dense over all leaves; the node pointers of g are unused).
void fff_backward(const float* x, const fff::Weights& w, const fff::Dims& d,
                  const std::int64_t* leaf, const float* dy, float* dx, const fff::Gradients& g,
                  std::int64_t batch);

}  // namespace opbench::cpu::plain

namespace opbench::cpu::fast {

// Soft FFF backward as dense algebra: the leaves' pre-activations and dy's projections through
// every leaf's second layer as SGEMMs, the mixture and node recursion per row (OpenMP), then
// the weight gradients and dx as SGEMMs over the whole block of rows.
void soft_fff_backward(const float* x, const fff::Weights& w, const fff::Dims& d, const float* p,
                       const float* dy, float* dx, const fff::Gradients& g, std::int64_t batch);

// Hard-routed FFF backward: the rows grouped by leaf (a counting sort), each leaf's rows gathered
// into a block and differentiated with single-threaded SGEMMs, leaves spread over OpenMP threads.
void fff_backward(const float* x, const fff::Weights& w, const fff::Dims& d,
                  const std::int64_t* leaf, const float* dy, float* dx, const fff::Gradients& g,
                  std::int64_t batch);

}  // namespace opbench::cpu::fast
