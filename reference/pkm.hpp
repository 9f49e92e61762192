#pragma once
// Float64 references of the product-key memory family, from Lample, Sablayrolles, Ranzato, Denoyer,
// Jegou 2019, "Large Memory Layers with Product Keys" (arXiv 1907.05242):
//   Sec. 3.1, eqs. 1-3: I = T_k(q(x)^T k_i), w = Softmax((q(x)^T k_i)_{i in I}), m(x) = sum w_i v_i
//   Sec. 3.2:           product keys k = (c_i, c'_j): I_C = T_k(q1^T c_i), I_C' = T_k(q2^T c'_j),
//                       then T_k over the k x k candidates {(c_i, c'_j) | i in I_C, j in I_C'}
//   Sec. 3.3:           multi-head memory: H independent queries and sub-key sets, outputs summed
//   Query network:      a linear layer followed by batch normalization (here its inference form).
//
// Layout (row-major): queries q[tokens, heads, dk]; sub-keys k1, k2[heads, n, dk/2] with n =
// sqrt(N); the first half of each query is scored against k1, the second against k2; the product
// key (i, j) has index i * n + j. Top-k lists are sorted in the order of pkm_before below. Plain
// loops, no SIMD, no threads; every input is double.
#include <cstdint>

namespace opbench::ref {

// The order of every top-k list of the family (T_k of eq. 1; the contract of every implementation,
// the CUDA kernels' kernels/cuda/pkm_select.hpp included): larger score first, equal scores by the
// smaller index, made a total order for any score: a NaN score sorts as -inf (and then, with the
// -inf scores, by index). Without the NaN rule NaN compares false with everything: the comparison
// is no strict weak order (std::sort and std::partial_sort are then undefined, and lists repeat or
// lose entries). pkm_order_key is the score an entry is ordered by.
double pkm_order_key(double score);
// Whether (score_a, index_a) comes before (score_b, index_b) in that order.
bool pkm_before(double score_a, std::int64_t index_a, double score_b, std::int64_t index_b);

// Shape of a product-key search: `n` sub-keys per side (N = n * n product keys), `dk` the full
// key dimension (even), `k` results per (token, head).
struct PkmShape {
  std::int64_t tokens = 0;
  std::int64_t heads = 0;
  std::int64_t n = 0;
  std::int64_t dk = 0;
  std::int64_t k = 0;
};

// Throws std::invalid_argument with one line when the shape is not a valid search (odd dk,
// k < 1, k > n, a non-positive size).
void check_pkm_shape(const PkmShape& s);

// The score of product key `index` for query q[token, head]: q . [k1_i ; k2_j], written as the
// explicit dot product over all dk dimensions of the concatenated key.
double product_key_score(const double* q, const double* k1, const double* k2, const PkmShape& s,
                         std::int64_t token, std::int64_t head, std::int64_t index);
// sum_d |q_d * key_d| of the same product: the scale of the rounding error of any float
// evaluation of that score (the error bound of a dot product is proportional to it).
double product_key_magnitude(const double* q, const double* k1, const double* k2, const PkmShape& s,
                             std::int64_t token, std::int64_t head, std::int64_t index);

// Exact top-k by scoring all N = n^2 product keys explicitly (eq. 1 over the materialized keys).
// scores, indices: [tokens, heads, k].
void bruteforce_topk(const double* q, const double* k1, const double* k2, double* scores,
                     std::int64_t* indices, const PkmShape& s);

// The product-key search of Sec. 3.2: per half the k best sub-keys, the k x k candidate sums,
// their top-k. Equal to bruteforce_topk where every score is finite (the paper's exactness claim,
// tested exhaustively). With infinite or NaN scores the m-th entry of both still has the same order
// key (that of a sum never decreases as the key of either half grows, NaN and infinities included),
// but among equal keys the candidates need not hold the smallest indices: a row of +inf, -inf or
// NaN sums (an infinite or NaN half) offers only the k sub-keys its other half chose by score.
void pkm_topk(const double* q, const double* k1, const double* k2, double* scores,
              std::int64_t* indices, const PkmShape& s);

// The query network in inference form: q = BN(x W + b), where BN(z) = (z - mean) / sqrt(var + eps)
// * gamma + beta per column. x[tokens, din], w[din, heads * dk], the rest [heads * dk];
// q[tokens, heads * dk].
void pkm_query(const double* x, const double* w, const double* b, const double* bn_mean,
               const double* bn_var, const double* bn_gamma, const double* bn_beta, double* q,
               std::int64_t tokens, std::int64_t din, std::int64_t hdk, double eps);

// Eqs. 2-3 summed over heads: y[t] = sum_h sum_m softmax_m(scores[t, h, :]) * values[idx[t, h, m]].
// values[N, dv], y[tokens, dv].
void pkm_readout(const double* scores, const std::int64_t* indices, const double* values, double* y,
                 std::int64_t tokens, std::int64_t heads, std::int64_t k, std::int64_t dv);

// The whole memory layer: pkm_query, pkm_topk per head, pkm_readout. y[tokens, dv] and the chosen
// indices[tokens, heads, k].
struct PkmLayerWeights {
  const double* w;
  const double* b;
  const double* bn_mean;
  const double* bn_var;
  const double* bn_gamma;
  const double* bn_beta;
  const double* k1;
  const double* k2;
  const double* values;
};
void pkm_layer(const double* x, const PkmLayerWeights& wts, double* y, std::int64_t* indices,
               const PkmShape& s, std::int64_t din, std::int64_t dv, double eps);

// --- training: the backward pass of pkm_layer (reference/pkm_backward.cpp) ---------------------
//
// What the forward pass saves for it: the chosen product keys indices[tokens, heads, k] (T_k of
// eq. 1), their softmax weights weights[tokens, heads, k] (eq. 2) and the normalized projection
// zhat[tokens, hdk] = (x W + b - mean) / sqrt(var + eps), from which the query is
// q = zhat * gamma + beta. pkm_layer_saved computes them exactly as pkm_layer does.
void pkm_layer_saved(const double* x, const PkmLayerWeights& wts, std::int64_t* indices,
                     double* weights, double* zhat, const PkmShape& s, std::int64_t din,
                     double eps);

// The gradients of L = sum(dy * y) with respect to the layer's trained parameters and its input.
// The index set is piecewise constant in every input, so the gradient flows through the chosen
// k keys of each (token, head) only. With p = weights, v = values, c = (i, j) = idx / n, idx % n:
//   dvalues[idx] = sum over (t, h, m) choosing idx of p[t,h,m] dy[t]        (eq. 3, by v)
//   dp[t,h,m]  = dy[t] . v[idx[t,h,m]];   ds = p (dp - sum_m' p dp)          (softmax, eq. 2)
//   dq[t,h]    = sum_m ds[t,h,m] [k1[h,i] ; k2[h,j]]                         (eq. 1, by q)
//   dk1[h,i]   = sum over (t, m) choosing i of ds[t,h,m] q1[t,h]; dk2 likewise with q2, j
//   dbn_beta   = sum_t dq; dbn_gamma = sum_t dq * zhat; dz = dq * gamma / sqrt(var + eps)
//   db = sum_t dz;  dw = x^T dz;  dx = dz W^T                               (the query network)
// Every output is written whole (the rows of dvalues, dk1, dk2 that no token chose are 0); the
// running statistics (bn_mean, bn_var) are not trained and get no gradient. Shapes: dx[tokens,
// din], dw[din, hdk], db, dbn_gamma, dbn_beta[hdk], dk1, dk2[heads, n, dk / 2], dvalues[N, dv].
struct PkmLayerGrads {
  double* dx;
  double* dw;
  double* db;
  double* dbn_gamma;
  double* dbn_beta;
  double* dk1;
  double* dk2;
  double* dvalues;
};
void pkm_layer_backward(const double* x, const PkmLayerWeights& wts, const double* dy,
                        const std::int64_t* indices, const double* weights, const double* zhat,
                        const PkmLayerGrads& g, const PkmShape& s, std::int64_t din,
                        std::int64_t dv, double eps);

}  // namespace opbench::ref
