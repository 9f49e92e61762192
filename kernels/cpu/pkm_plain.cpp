// cpu.plain of the pkm family (see pkm_plain.hpp).
#include "kernels/cpu/pkm_plain.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/storage.hpp"

namespace opbench::cpu::plain {
namespace {

struct Scored {
  float score;
  std::int64_t index;
};

// The total order of reference/pkm.hpp: larger score first, equal scores by the smaller index, a
// NaN score ranked as -inf (without it std::partial_sort gets no strict weak order).
float order_key(float s) {
  return std::isnan(s) ? -std::numeric_limits<float>::infinity() : s;
}

// The scores first: the order keys only where neither >, < nor == holds (a NaN on either side),
// so the order costs nothing on NaN-free scores (keys on every comparison cost ~7% here).
bool before(const Scored& a, const Scored& b) {
  if (a.score > b.score) return true;
  if (a.score < b.score) return false;
  if (a.score == b.score) return a.index < b.index;
  const float ka = order_key(a.score), kb = order_key(b.score);
  return ka > kb || (ka == kb && a.index < b.index);
}

void top_k(std::vector<Scored>& v, std::int64_t k) {
  std::partial_sort(v.begin(), v.begin() + k, v.end(), before);
  v.resize(static_cast<std::size_t>(k));
}

template <class A, class B>
float dot(const A* a, const B* b, std::int64_t n) {
  float s = 0.0f;
  for (std::int64_t i = 0; i < n; ++i) s += widen(a[i]) * widen(b[i]);
  return s;
}

template <class S>
void write_row(const std::vector<Scored>& best, S* scores, std::int64_t* indices) {
  for (std::size_t m = 0; m < best.size(); ++m) {
    scores[m] = narrow<S>(best[m].score);
    indices[m] = best[m].index;
  }
}

// The product-key search over queries of type Q, keys of type K, scores stored as S (the layer
// searches with its float queries and keeps float scores).
template <class Q, class K, class S>
void search(const Q* q, const K* k1, const K* k2, S* scores, std::int64_t* indices,
            const pkm::Dims& d) {
  const std::int64_t half = d.half();
  std::vector<Scored> side1, side2, candidates;
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    for (std::int64_t h = 0; h < d.heads; ++h) {
      const Q* q1 = q + (t * d.heads + h) * d.dk;
      side1.clear();
      side2.clear();
      for (std::int64_t i = 0; i < d.n; ++i) {
        side1.push_back({dot(q1, k1 + (h * d.n + i) * half, half), i});
        side2.push_back({dot(q1 + half, k2 + (h * d.n + i) * half, half), i});
      }
      top_k(side1, d.k);
      top_k(side2, d.k);
      candidates.clear();
      for (const Scored& a : side1) {
        for (const Scored& b : side2) {
          candidates.push_back({a.score + b.score, a.index * d.n + b.index});
        }
      }
      top_k(candidates, d.k);
      const std::int64_t row = (t * d.heads + h) * d.k;
      write_row(candidates, scores + row, indices + row);
    }
  }
}

}  // namespace

template <class T>
void pkm_topk(const T* q, const T* k1, const T* k2, T* scores, std::int64_t* indices,
              const pkm::Dims& d) {
  search(q, k1, k2, scores, indices, d);
}

template <class T>
void bruteforce_topk(const T* q, const T* k1, const T* k2, T* scores, std::int64_t* indices,
                     const pkm::Dims& d) {
  const std::int64_t half = d.half();
  std::vector<Scored> all;
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    for (std::int64_t h = 0; h < d.heads; ++h) {
      const T* qv = q + (t * d.heads + h) * d.dk;
      all.clear();
      for (std::int64_t i = 0; i < d.n; ++i) {
        const T* c = k1 + (h * d.n + i) * half;
        for (std::int64_t j = 0; j < d.n; ++j) {
          const T* c2 = k2 + (h * d.n + j) * half;
          float s = 0.0f;
          for (std::int64_t e = 0; e < d.dk; ++e) {
            s += widen(qv[e]) * widen(e < half ? c[e] : c2[e - half]);
          }
          all.push_back({s, i * d.n + j});
        }
      }
      top_k(all, d.k);
      const std::int64_t row = (t * d.heads + h) * d.k;
      write_row(all, scores + row, indices + row);
    }
  }
}

template <class T>
void pkm_layer(const T* x, const pkm::LayerWeightsOf<T>& wts, T* y, std::int64_t* indices,
               const pkm::Dims& d, std::int64_t din, std::int64_t dv, float eps) {
  const std::int64_t hdk = d.heads * d.dk;
  std::vector<float> q(static_cast<std::size_t>(d.tokens * hdk));
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    float* z = q.data() + t * hdk;  // x_t W + b, rows of W read contiguously
    for (std::int64_t c = 0; c < hdk; ++c) z[c] = widen(wts.b[c]);
    for (std::int64_t i = 0; i < din; ++i) {
      const float xi = widen(x[t * din + i]);
      for (std::int64_t c = 0; c < hdk; ++c) z[c] += xi * widen(wts.w[i * hdk + c]);
    }
    for (std::int64_t c = 0; c < hdk; ++c) {
      z[c] = (z[c] - wts.bn_mean[c]) / std::sqrt(wts.bn_var[c] + eps) * widen(wts.bn_gamma[c]) +
             widen(wts.bn_beta[c]);
    }
  }
  std::vector<float> scores(static_cast<std::size_t>(d.tokens * d.heads * d.k));
  search(q.data(), wts.k1, wts.k2, scores.data(), indices, d);
  std::vector<float> w(static_cast<std::size_t>(d.k));
  std::vector<float> acc(static_cast<std::size_t>(dv));
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    float* yt = acc.data();
    std::fill(yt, yt + dv, 0.0f);
    for (std::int64_t h = 0; h < d.heads; ++h) {
      const float* s = scores.data() + (t * d.heads + h) * d.k;
      const std::int64_t* idx = indices + (t * d.heads + h) * d.k;
      const float top = s[0];  // the list is sorted: the first score is the largest
      float sum = 0.0f;
      for (std::int64_t m = 0; m < d.k; ++m) sum += w[m] = std::exp(s[m] - top);
      for (std::int64_t m = 0; m < d.k; ++m) {
        const T* v = wts.values + idx[m] * dv;
        for (std::int64_t j = 0; j < dv; ++j) yt[j] += w[m] / sum * widen(v[j]);
      }
    }
    for (std::int64_t j = 0; j < dv; ++j) y[t * dv + j] = narrow<T>(yt[j]);
  }
}

#define OPBENCH_PKM_PLAIN(T)                                                                    \
  template void pkm_topk<T>(const T*, const T*, const T*, T*, std::int64_t*, const pkm::Dims&); \
  template void bruteforce_topk<T>(const T*, const T*, const T*, T*, std::int64_t*,             \
                                   const pkm::Dims&);                                           \
  template void pkm_layer<T>(const T*, const pkm::LayerWeightsOf<T>&, T*, std::int64_t*,        \
                             const pkm::Dims&, std::int64_t, std::int64_t, float);
OPBENCH_PKM_PLAIN(float)
OPBENCH_PKM_PLAIN(bf16_t)
OPBENCH_PKM_PLAIN(f16_t)
#undef OPBENCH_PKM_PLAIN

}  // namespace opbench::cpu::plain
