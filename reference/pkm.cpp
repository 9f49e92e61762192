// Float64 references of the product-key memory family (contract and equations in pkm.hpp).
#include "reference/pkm.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "reference/scalar_math.hpp"

namespace opbench::ref {

// The total order of pkm.hpp: NaN as -inf, then larger score first, then the smaller index.
double pkm_order_key(double score) {
  return std::isnan(score) ? -std::numeric_limits<double>::infinity() : score;
}

bool pkm_before(double score_a, std::int64_t index_a, double score_b, std::int64_t index_b) {
  const double a = pkm_order_key(score_a), b = pkm_order_key(score_b);
  return a > b || (a == b && index_a < index_b);
}

namespace {

struct Scored {
  double score;
  std::int64_t index;
};

bool before(const Scored& a, const Scored& b) {
  return pkm_before(a.score, a.index, b.score, b.index);
}

// T_k: the first k of `all` in the order of pkm_before, sorted.
void top_k(std::vector<Scored>& all, std::int64_t k) {
  std::partial_sort(all.begin(), all.begin() + k, all.end(), before);
  all.resize(static_cast<std::size_t>(k));
}

void write_row(const std::vector<Scored>& best, double* scores, std::int64_t* indices) {
  for (std::size_t m = 0; m < best.size(); ++m) {
    scores[m] = best[m].score;
    indices[m] = best[m].index;
  }
}

}  // namespace

void check_pkm_shape(const PkmShape& s) {
  auto fail = [](const std::string& why) { throw std::invalid_argument("pkm: " + why); };
  if (s.tokens <= 0 || s.heads <= 0 || s.n <= 0 || s.dk <= 0) fail("sizes must be positive");
  if (s.dk % 2 != 0) {
    fail("the key dimension dk=" + std::to_string(s.dk) + " must be even (two halves)");
  }
  if (s.k < 1 || s.k > s.n) {
    fail("k=" + std::to_string(s.k) + " must be between 1 and sqrt(N)=" + std::to_string(s.n));
  }
}

double product_key_score(const double* q, const double* k1, const double* k2, const PkmShape& s,
                         std::int64_t token, std::int64_t head, std::int64_t index) {
  const std::int64_t half = s.dk / 2;
  const double* qv = q + (token * s.heads + head) * s.dk;
  const double* c = k1 + (head * s.n + index / s.n) * half;
  const double* c2 = k2 + (head * s.n + index % s.n) * half;
  double sum = 0.0;
  for (std::int64_t d = 0; d < s.dk; ++d) sum += qv[d] * (d < half ? c[d] : c2[d - half]);
  return sum;
}

double product_key_magnitude(const double* q, const double* k1, const double* k2, const PkmShape& s,
                             std::int64_t token, std::int64_t head, std::int64_t index) {
  const std::int64_t half = s.dk / 2;
  const double* qv = q + (token * s.heads + head) * s.dk;
  const double* c = k1 + (head * s.n + index / s.n) * half;
  const double* c2 = k2 + (head * s.n + index % s.n) * half;
  double sum = 0.0;
  for (std::int64_t d = 0; d < s.dk; ++d) {
    sum += std::abs(qv[d] * (d < half ? c[d] : c2[d - half]));
  }
  return sum;
}

void bruteforce_topk(const double* q, const double* k1, const double* k2, double* scores,
                     std::int64_t* indices, const PkmShape& s) {
  check_pkm_shape(s);
  const std::int64_t total = s.n * s.n;
  std::vector<Scored> all(static_cast<std::size_t>(total));
  for (std::int64_t t = 0; t < s.tokens; ++t) {
    for (std::int64_t h = 0; h < s.heads; ++h) {
      all.resize(static_cast<std::size_t>(total));
      for (std::int64_t idx = 0; idx < total; ++idx) {
        all[idx] = {product_key_score(q, k1, k2, s, t, h, idx), idx};
      }
      top_k(all, s.k);
      const std::int64_t row = (t * s.heads + h) * s.k;
      write_row(all, scores + row, indices + row);
    }
  }
}

void pkm_topk(const double* q, const double* k1, const double* k2, double* scores,
              std::int64_t* indices, const PkmShape& s) {
  check_pkm_shape(s);
  const std::int64_t half = s.dk / 2;
  std::vector<Scored> side1, side2, candidates;
  for (std::int64_t t = 0; t < s.tokens; ++t) {
    for (std::int64_t h = 0; h < s.heads; ++h) {
      const double* q1 = q + (t * s.heads + h) * s.dk;
      const double* q2 = q1 + half;
      side1.clear();
      side2.clear();
      for (std::int64_t i = 0; i < s.n; ++i) {
        side1.push_back({dot(q1, k1 + (h * s.n + i) * half, half), i});
        side2.push_back({dot(q2, k2 + (h * s.n + i) * half, half), i});
      }
      top_k(side1, s.k);  // I_C
      top_k(side2, s.k);  // I_C'
      candidates.clear();
      for (const Scored& a : side1) {
        for (const Scored& b : side2)
          candidates.push_back({a.score + b.score, a.index * s.n + b.index});
      }
      top_k(candidates, s.k);
      const std::int64_t row = (t * s.heads + h) * s.k;
      write_row(candidates, scores + row, indices + row);
    }
  }
}

void pkm_query(const double* x, const double* w, const double* b, const double* bn_mean,
               const double* bn_var, const double* bn_gamma, const double* bn_beta, double* q,
               std::int64_t tokens, std::int64_t din, std::int64_t hdk, double eps) {
  std::vector<double> z(static_cast<std::size_t>(hdk));
  for (std::int64_t t = 0; t < tokens; ++t) {
    // z = b + x_t W, each column summed over i in order (rows of W read contiguously)
    for (std::int64_t c = 0; c < hdk; ++c) z[c] = b[c];
    for (std::int64_t i = 0; i < din; ++i) {
      for (std::int64_t c = 0; c < hdk; ++c) z[c] += x[t * din + i] * w[i * hdk + c];
    }
    for (std::int64_t c = 0; c < hdk; ++c) {
      q[t * hdk + c] = (z[c] - bn_mean[c]) / std::sqrt(bn_var[c] + eps) * bn_gamma[c] + bn_beta[c];
    }
  }
}

void pkm_readout(const double* scores, const std::int64_t* indices, const double* values, double* y,
                 std::int64_t tokens, std::int64_t heads, std::int64_t k, std::int64_t dv) {
  std::vector<double> w(static_cast<std::size_t>(k));
  for (std::int64_t t = 0; t < tokens; ++t) {
    double* yt = y + t * dv;
    std::fill(yt, yt + dv, 0.0);
    for (std::int64_t h = 0; h < heads; ++h) {
      const double* s = scores + (t * heads + h) * k;
      const std::int64_t* idx = indices + (t * heads + h) * k;
      const double top = *std::max_element(s, s + k);  // softmax shifted by its maximum
      double sum = 0.0;
      for (std::int64_t m = 0; m < k; ++m) sum += w[m] = std::exp(s[m] - top);
      for (std::int64_t m = 0; m < k; ++m) {
        const double* v = values + idx[m] * dv;
        for (std::int64_t j = 0; j < dv; ++j) yt[j] += w[m] / sum * v[j];
      }
    }
  }
}

void pkm_layer(const double* x, const PkmLayerWeights& wts, double* y, std::int64_t* indices,
               const PkmShape& s, std::int64_t din, std::int64_t dv, double eps) {
  check_pkm_shape(s);
  const std::int64_t hdk = s.heads * s.dk;
  std::vector<double> q(static_cast<std::size_t>(s.tokens * hdk));
  pkm_query(x, wts.w, wts.b, wts.bn_mean, wts.bn_var, wts.bn_gamma, wts.bn_beta, q.data(), s.tokens,
            din, hdk, eps);
  std::vector<double> scores(static_cast<std::size_t>(s.tokens * s.heads * s.k));
  pkm_topk(q.data(), wts.k1, wts.k2, scores.data(), indices, s);
  pkm_readout(scores.data(), indices, wts.values, y, s.tokens, s.heads, s.k, dv);
}

}  // namespace opbench::ref
