#pragma once
// Shapes and weight pointers of the Fast Feedforward family, shared by the CPU and CUDA
// kernels (plain C++17, no SIMD). The layouts and equations are those of reference/fff.hpp:
// nodes numbered breadth-first from the root 0, children 2n+1 (left) and 2n+2 (right).
#include <cstdint>

namespace opbench::fff {

struct Dims {
  std::int64_t d_in = 0, d_out = 0, depth = 0, node_width = 1, leaf_width = 1;
  std::int64_t nodes() const { return (std::int64_t{1} << depth) - 1; }
  std::int64_t leaves() const { return std::int64_t{1} << depth; }
};

// node_w1[nodes, node_width, d_in], node_b1[nodes, node_width], node_w2[nodes, node_width],
// node_b2[nodes], leaf_w1[leaves, leaf_width, d_in], leaf_b1[leaves, leaf_width],
// leaf_w2[leaves, leaf_width, d_out], leaf_b2[leaves, d_out] (host or device pointers).
// With node_width == 1 a node is one linear neuron, logit = node_b1[n] + node_w1[n] . x, and
// node_w2 / node_b2 are never read (reference/fff.hpp explains why).
// T is the storage type (float; bf16_t or f16_t for cpu.plain's reduced-precision cases).
template <class T>
struct WeightsOf {
  const T *node_w1, *node_b1, *node_w2, *node_b2;
  const T *leaf_w1, *leaf_b1, *leaf_w2, *leaf_b2;
};
using Weights = WeightsOf<float>;

}  // namespace opbench::fff
