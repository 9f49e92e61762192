#pragma once
// Float64 references of the Fast Feedforward family: plain loops straight from the papers, no SIMD,
// no threads, double accumulation. Arrays are row-major; x is x[batch, d_in] and y is
// y[batch, d_out]. These functions are the contract the implementations are checked against.
//
// Tree layout (both papers): nodes are numbered breadth-first from the root 0; the children of
// node n are 2n+1 (left) and 2n+2 (right); level l holds nodes 2^l - 1 ... 2^(l+1) - 2.
#include <cstdint>

namespace opbench::ref {

// --- FFF (Belcak & Wattenhofer 2023, "Fast Feedforward Networks", Sec. 3, FORWARD_I) ----------
// A tree of depth d: 2^d - 1 nodes and 2^d leaves. Every node n gives one decision value
// logit_n(x), and at inference the hard decision picks the right child when logit_n(x) >= 0 (the
// package's eval_forward: plane_score >= 0), the left one otherwise. Its form depends on
// node_width:
//   node_width == 1: one linear neuron, as in the authors' fastfeedforward package (class FFF:
//     node_weights[nodes, d_in], node_biases[nodes, 1], plane_score = x . w + b):
//       logit_n(x) = node_b1[n] + node_w1[n, 0, :] . x;
//     node_w2 and node_b2 are not used (a ReLU hidden neuron followed by a second layer would
//     make the node degenerate: ReLU >= 0, so whenever w2 and b2 share a sign every row goes the
//     same way).
//   node_width > 1: the paper's <d_in, node_width, 1> node network with a ReLU hidden layer,
//       logit_n(x) = node_b2[n] + sum_k node_w2[n, k] * ReLU(node_b1[n, k] + node_w1[n, k, :] . x).
// The chosen leaf l is a <d_in, leaf_width, d_out> network,
//   y = leaf_b2[l] + sum_j leaf_w2[l, j, :] * ReLU(leaf_b1[l, j] + leaf_w1[l, j, :] . x),
// ReLU being the package's default activation. Depth 0 is one leaf: a plain dense block.
// Weights are neuron-major (PyTorch Linear's [out, in] for the first layers):
//   node_w1[nodes, node_width, d_in], node_b1[nodes, node_width], node_w2[nodes, node_width],
//   node_b2[nodes], leaf_w1[leaves, leaf_width, d_in], leaf_b1[leaves, leaf_width],
//   leaf_w2[leaves, leaf_width, d_out], leaf_b2[leaves, d_out]. With node_width == 1, node_w2
//   and node_b2 may be null.
struct FffShape {
  std::int64_t d_in = 0, d_out = 0, depth = 0, node_width = 1, leaf_width = 1;
  std::int64_t nodes() const { return (std::int64_t{1} << depth) - 1; }
  std::int64_t leaves() const { return std::int64_t{1} << depth; }
};
struct FffWeights {
  const double *node_w1, *node_b1, *node_w2, *node_b2;
  const double *leaf_w1, *leaf_b1, *leaf_w2, *leaf_b2;
};

// The node's decision value logit_n(x) for one row x[d_in].
double fff_node_logit(const FffWeights& w, const FffShape& s, std::int64_t node, const double* x);
// How far float32 rounding can move a float32 evaluation of logit_n(x) (any summation order, FMA
// or not), from Higham's gamma_k, u = 2^-24:
//   node_width == 1: gamma_(d_in + 1) * (|b1| + sum_i |w1_i x_i|), the bias being one more term of
//     the d_in + 1 term sum of products;
//   node_width > 1: gamma_k * (|b2| + sum_k |w2_k| * (|b1_k| + sum_i |w1_ki * x_i|)), with
//     k = d_in + node_width + 2 roundings along the longest chain.
double fff_node_logit_bound(const FffWeights& w, const FffShape& s, std::int64_t node,
                            const double* x);
// The leaf's output for one row: y[d_out] = leaf_l(x).
void fff_leaf_forward(const FffWeights& w, const FffShape& s, std::int64_t leaf, const double* x,
                      double* y);
// Hard-routed forward: leaf[b] is the chosen leaf (0 ... 2^d - 1, left to right), y[b] its output.
void fff(const double* x, const FffWeights& w, const FffShape& s, double* y, std::int64_t* leaf,
         std::int64_t batch);

// Soft (training-mode) FFF (same paper, FORWARD_T; the package's training_forward): every leaf is
// evaluated and mixed by the product of the decisions along its path, the right child weighted by
// sigmoid(logit_n(x)) and the left one by 1 - sigmoid(logit_n(x)):
//   y = sum_l (prod_{n on path(l)} p_n) * leaf_l(x).
void soft_fff(const double* x, const FffWeights& w, const FffShape& s, double* y,
              std::int64_t batch);

// --- UltraFastBERT (Belcak & Wattenhofer 2023, "Exponentially Faster Language Modelling",
// Sec. 3.1 "conditional matrix multiplication", and the fff_l1 loop of its benchmark_cpu) --------
// A tree of depth d has 2^(d+1) - 1 single neurons; a row visits d + 1 of them. From node 0, at
// each level: lambda = x . w_in[node]; y += GeLU(lambda) * w_out[node]; the next node is 2 node + 1
// + (lambda > 0). GeLU is the exact one, GeLU(z) = z * Phi(z) = z * erfc(-z/sqrt 2) / 2.
// w_in[nodes, d_in], w_out[nodes, d_out]; path[batch, depth + 1] lists the visited nodes.
double gelu(double z);
void ultrafast_fff(const double* x, const double* w_in, const double* w_out, double* y,
                   std::int64_t* path, std::int64_t batch, std::int64_t d_in, std::int64_t d_out,
                   std::int64_t depth);
// Sum of GeLU(x . w_in[n]) * w_out[n] over the nodes n of a given path (depth + 1 of them), for one
// row: the output along a path an implementation chose.
void ultrafast_fff_along_path(const double* x, const double* w_in, const double* w_out,
                              const std::int64_t* path, double* y, std::int64_t d_in,
                              std::int64_t d_out, std::int64_t depth);
// The rounding bound of a float32 evaluation of x . w_in[n]: gamma_(d_in) * sum_i |x_i w_in[n, i]|.
double ultrafast_lambda_bound(const double* x, const double* w_in_row, std::int64_t d_in);

// --- The dense feed-forward baseline both papers compare against (UltraFastBERT Sec. 4: BERT's
// intermediate layer, GeLU): y = sum_j GeLU(x . w_in[j]) * w_out[j] over all `width` neurons.
// w_in[width, d_in], w_out[width, d_out] (the layout of ultrafast_fff's tree, so a tree's weights
// are a valid dense layer of the same width).
void dense_ff(const double* x, const double* w_in, const double* w_out, double* y,
              std::int64_t batch, std::int64_t d_in, std::int64_t d_out, std::int64_t width);

// gamma_k = k u / (1 - k u), u = 2^-24: Higham's bound on the relative error of a k-term float32
// sum of products (Accuracy and Stability of Numerical Algorithms, Sec. 3.1).
double gamma_f32(std::int64_t k);

}  // namespace opbench::ref
