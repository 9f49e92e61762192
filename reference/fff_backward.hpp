#pragma once
// Float64 references of the Fast Feedforward family's backward passes (training mode): the
// gradients of the forward equations of reference/fff.hpp, differentiated by hand and written as
// plain loops, row by row, double accumulation. Shapes, layouts and the tree numbering are those of
// fff.hpp; every gradient has the shape of the tensor it differentiates. The suite proves both
// against central finite differences of the forward references (harness/gradient_check.hpp).
//
// Belcak & Wattenhofer 2023, "Fast Feedforward Networks", Sec. 3. With p_n = sigmoid(logit_n(x))
// and the training forward FORWARD_T written as a recursion over the tree,
//   y_v = leaf_l(x)                               at leaf v = nodes + l,
//   y_n = (1 - p_n) y_{2n+1} + p_n y_{2n+2}       at node n,      y = y_0,
// let M_v be the mixture weight of tree vertex v (M_0 = 1, M_{2n+1} = M_n (1 - p_n),
// M_{2n+2} = M_n p_n: the product of the decisions on its path) and V_v = dy . y_v, computed
// bottom-up by the same recursion. Then, for the loss L = dy . y:
//   dL/d leaf_l(x) = M_{nodes+l} dy                                  (the leaf's incoming gradient)
//   dL/d logit_n   = M_n (V_{2n+2} - V_{2n+1}) p_n (1 - p_n)          (sigmoid' = p (1 - p))
// and each block's parameters and x take the usual two-layer chain rule of those:
//   leaf l, g = M dy:  a_j = b1_j + w1_j . x,  h_j = ReLU(a_j),  q_j = w2_j . g
//     d leaf_b2 += g, d leaf_w2_j += h_j g, d leaf_b1_j += q_j [a_j > 0],
//     d leaf_w1_j += q_j [a_j > 0] x,  dx += q_j [a_j > 0] w1_j;   and V = dy . (b2 + sum_j h_j
//     w2_j)
//   node n, dz = dL/d logit_n: a linear node (node_width 1) d node_b1 += dz, d node_w1 += dz x,
//     dx += dz w1; a ReLU node network d node_b2 += dz, d node_w2_k += dz ReLU(pre_k) and
//     pre_k's gradient dz w2_k [pre_k > 0] as for a leaf's first layer.
// The ReLU's derivative at 0 is taken as 0 (the forward's ReLU(z) = z > 0 ? z : 0).
#include <cstdint>

#include "reference/fff.hpp"

namespace opbench::ref {

// Gradient arrays, each the shape of its weight (fff.hpp). The hard-routed backward writes only
// the leaf ones (the node pointers may be null).
struct FffGradients {
  double *node_w1, *node_b1, *node_w2, *node_b2;
  double *leaf_w1, *leaf_b1, *leaf_w2, *leaf_b2;
};

// Columns of the saved decision probabilities p[batch, max(nodes, 1)]: one per node, and one unused
// column at depth 0 (the suite declares no empty tensor).
inline std::int64_t fff_saved_columns(const FffShape& s) {
  return s.nodes() > 0 ? s.nodes() : 1;
}

// What the soft forward pass saves for its backward: every node's decision probability
// p[b, n] = sigmoid(logit_n(x_b)) (as PyTorch's sigmoid saves its output).
void soft_fff_decisions(const double* x, const FffWeights& w, const FffShape& s, double* p,
                        std::int64_t batch);

// Soft FFF backward (the header's equations): dx[batch, d_in] and every parameter's gradient, from
// x, the weights, the saved p and the incoming dy[batch, d_out]. Every leaf gets a gradient.
// With node_width 1, node_w2 and node_b2 are unused by the forward: their gradients are 0.
void soft_fff_backward(const double* x, const FffWeights& w, const FffShape& s, const double* p,
                       const double* dy, double* dx, const FffGradients& g, std::int64_t batch);

// Hard-routed FFF backward: y = leaf_{leaf[b]}(x_b), the saved leaf[b] being the forward's choice.
// The routing is piecewise constant in x and the node weights, so away from a decision boundary
// their gradient is 0 (not computed): only the chosen leaf's block is differentiated (M = 1), and
// every other leaf's gradient is 0.
void fff_backward(const double* x, const FffWeights& w, const FffShape& s, const std::int64_t* leaf,
                  const double* dy, double* dx, const FffGradients& g, std::int64_t batch);

}  // namespace opbench::ref
