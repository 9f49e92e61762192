// The pkm family in PyTorch, as a PyTorch user writes it (semantics: reference/pkm.hpp).
//
// bruteforce_topk: the N = n^2 product keys materialized once at bind time (untimed), as a model
// holding a flat key table would, keys[h, i * n + j] = [k1[h, i]; k2[h, j]]; then per head
// torch.matmul(queries, keys^T) and torch.topk.
// pkm_topk: the product-key search of XLM's HashingMemory (Lample et al. 2019; _get_indices),
// batched over the heads: each query half against its sub-keys, topk of each, the k x k candidate
// sums, topk of those, ids = i1 * n + i2 gathered. Scores are the raw dot products (the softmax is
// the layer's, not the search's).
// pkm_layer: HashingMemory's forward at inference: the query network nn.Linear then
// nn.BatchNorm1d (eval), the search per head, softmax over each head's k scores in float (as XLM
// writes it), and F.embedding_bag over the heads * k value rows with the weights as
// per_sample_weights (mode='sum').
//
// Order: torch.topk returns the larger scores first; among equal scores its order is unspecified
// (the contract's smaller-index-first is checked as a tie). It ranks NaN above every number (the
// contract ranks it as -inf); no scenario of the suite makes NaN scores.
// Dtypes: float32 and bfloat16, what PyTorch 1.13 runs on the CPU; bfloat16 scores are rounded
// before topk ranks them, a known failure; pkm_layer float32 only (suites/pkm.cpp says why).
#include "kernels/cpu/torch_plugin_common.hpp"

namespace opbench::torch_plugin {
namespace {

std::unique_ptr<Kernel> bruteforce_topk(const Call& c) {
  at::Tensor q = input(c, "q"), k1 = input(c, "k1"), k2 = input(c, "k2");
  const std::int64_t k = param(c, "k");
  const std::int64_t heads = k1.size(0), n = k1.size(1), half = k1.size(2);
  // keys[h, i, j, :] = [k1[h, i, :]; k2[h, j, :]] -> [heads, n * n, dk]
  at::Tensor keys = at::cat({k1.unsqueeze(2).expand({heads, n, n, half}),
                             k2.unsqueeze(1).expand({heads, n, n, half})},
                            -1)
                        .reshape({heads, n * n, 2 * half});
  at::Tensor keys_t = keys.transpose(1, 2);  // [heads, dk, N], a view
  return std::make_unique<Eager>(c, std::vector<std::string>{"scores", "indices"}, [=] {
    at::Tensor scores = at::matmul(q.transpose(0, 1), keys_t);  // [heads, tokens, N]
    auto [best, ids] = at::topk(scores, k, -1);
    return std::vector<at::Tensor>{best.transpose(0, 1), ids.transpose(0, 1)};
  });
}

// XLM's _get_indices for every head at once: q[tokens, heads, dk], k1/k2[heads, n, dk/2] ->
// scores, indices [heads, tokens, k].
std::pair<at::Tensor, at::Tensor> product_key_search(const at::Tensor& q, const at::Tensor& k1,
                                                     const at::Tensor& k2, std::int64_t knn) {
  const std::int64_t n = k1.size(1), half = k1.size(2);
  at::Tensor qh = q.transpose(0, 1);  // [heads, tokens, dk]
  at::Tensor q1 = qh.narrow(-1, 0, half), q2 = qh.narrow(-1, half, half);
  at::Tensor scores1 = at::matmul(q1, k1.transpose(1, 2));  // [heads, tokens, n]
  at::Tensor scores2 = at::matmul(q2, k2.transpose(1, 2));
  auto [s1, i1] = at::topk(scores1, knn, -1);
  auto [s2, i2] = at::topk(scores2, knn, -1);
  at::Tensor all_scores = (s1.unsqueeze(-1) + s2.unsqueeze(-2)).flatten(-2);  // [.., k * k]
  at::Tensor all_indices = (i1.unsqueeze(-1) * n + i2.unsqueeze(-2)).flatten(-2);
  auto [scores, best] = at::topk(all_scores, knn, -1);
  return {scores, all_indices.gather(-1, best)};
}

std::unique_ptr<Kernel> pkm_topk(const Call& c) {
  at::Tensor q = input(c, "q"), k1 = input(c, "k1"), k2 = input(c, "k2");
  const std::int64_t k = param(c, "k");
  return std::make_unique<Eager>(c, std::vector<std::string>{"scores", "indices"}, [=] {
    auto [scores, indices] = product_key_search(q, k1, k2, k);
    return std::vector<at::Tensor>{scores.transpose(0, 1), indices.transpose(0, 1)};
  });
}

std::unique_ptr<Kernel> pkm_layer(const Call& c) {
  at::Tensor x = input(c, "x");
  at::Tensor weight = input(c, "w").t().contiguous();  // nn.Linear(din, heads * dk).weight
  at::Tensor b = input(c, "b"), mean = input(c, "bn_mean"), var = input(c, "bn_var");
  at::Tensor gamma = input(c, "bn_gamma"), beta = input(c, "bn_beta");
  at::Tensor k1 = input(c, "k1"), k2 = input(c, "k2"), values = input(c, "values");
  const std::int64_t k = param(c, "k");
  const double eps = c.eps;
  return std::make_unique<Eager>(c, std::vector<std::string>{"y", "indices"}, [=] {
    const std::int64_t tokens = x.size(0), heads = k1.size(0), dk = 2 * k1.size(2);
    at::Tensor query = at::batch_norm(at::linear(x, weight, b), gamma, beta, mean, var,
                                      /*training=*/false, 0.1, eps, false);
    auto [scores, indices] = product_key_search(query.view({tokens, heads, dk}), k1, k2, k);
    // [heads, tokens, k] -> [tokens, heads * k]
    indices = indices.transpose(0, 1).reshape({tokens, heads * k});
    scores = at::softmax(scores.to(at::kFloat), -1).to(scores.scalar_type());
    scores = scores.transpose(0, 1).reshape({tokens, heads * k});
    at::Tensor y = std::get<0>(at::embedding_bag(
        values, indices.flatten(), at::arange(0, tokens * heads * k, heads * k, indices.options()),
        false, /*mode=sum*/ 0, false, scores.flatten()));
    return std::vector<at::Tensor>{y, indices};
  });
}

}  // namespace

std::unique_ptr<Kernel> bind_pkm(const Call& c) {
  if (c.op == "bruteforce_topk") return bruteforce_topk(c);
  if (c.op == "pkm_topk") return pkm_topk(c);
  if (c.op == "pkm_layer") return pkm_layer(c);
  return nullptr;
}

}  // namespace opbench::torch_plugin
