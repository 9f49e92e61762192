// cpu.plain of the pkm family (see pkm_plain.hpp).
#include "kernels/cpu/pkm_plain.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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

float dot(const float* a, const float* b, std::int64_t n) {
  float s = 0.0f;
  for (std::int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void write_row(const std::vector<Scored>& best, float* scores, std::int64_t* indices) {
  for (std::size_t m = 0; m < best.size(); ++m) {
    scores[m] = best[m].score;
    indices[m] = best[m].index;
  }
}

}  // namespace

void pkm_topk(const float* q, const float* k1, const float* k2, float* scores,
              std::int64_t* indices, const pkm::Dims& d) {
  const std::int64_t half = d.half();
  std::vector<Scored> side1, side2, candidates;
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    for (std::int64_t h = 0; h < d.heads; ++h) {
      const float* q1 = q + (t * d.heads + h) * d.dk;
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

void bruteforce_topk(const float* q, const float* k1, const float* k2, float* scores,
                     std::int64_t* indices, const pkm::Dims& d) {
  const std::int64_t half = d.half();
  std::vector<Scored> all;
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    for (std::int64_t h = 0; h < d.heads; ++h) {
      const float* qv = q + (t * d.heads + h) * d.dk;
      all.clear();
      for (std::int64_t i = 0; i < d.n; ++i) {
        const float* c = k1 + (h * d.n + i) * half;
        for (std::int64_t j = 0; j < d.n; ++j) {
          const float* c2 = k2 + (h * d.n + j) * half;
          float s = 0.0f;
          for (std::int64_t e = 0; e < d.dk; ++e) s += qv[e] * (e < half ? c[e] : c2[e - half]);
          all.push_back({s, i * d.n + j});
        }
      }
      top_k(all, d.k);
      const std::int64_t row = (t * d.heads + h) * d.k;
      write_row(all, scores + row, indices + row);
    }
  }
}

void pkm_layer(const float* x, const pkm::LayerWeights& wts, float* y, std::int64_t* indices,
               const pkm::Dims& d, std::int64_t din, std::int64_t dv, float eps) {
  const std::int64_t hdk = d.heads * d.dk;
  std::vector<float> q(static_cast<std::size_t>(d.tokens * hdk));
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    float* z = q.data() + t * hdk;  // x_t W + b, rows of W read contiguously
    for (std::int64_t c = 0; c < hdk; ++c) z[c] = wts.b[c];
    for (std::int64_t i = 0; i < din; ++i) {
      for (std::int64_t c = 0; c < hdk; ++c) z[c] += x[t * din + i] * wts.w[i * hdk + c];
    }
    for (std::int64_t c = 0; c < hdk; ++c) {
      z[c] = (z[c] - wts.bn_mean[c]) / std::sqrt(wts.bn_var[c] + eps) * wts.bn_gamma[c] +
             wts.bn_beta[c];
    }
  }
  std::vector<float> scores(static_cast<std::size_t>(d.tokens * d.heads * d.k));
  pkm_topk(q.data(), wts.k1, wts.k2, scores.data(), indices, d);
  std::vector<float> w(static_cast<std::size_t>(d.k));
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    float* yt = y + t * dv;
    std::fill(yt, yt + dv, 0.0f);
    for (std::int64_t h = 0; h < d.heads; ++h) {
      const float* s = scores.data() + (t * d.heads + h) * d.k;
      const std::int64_t* idx = indices + (t * d.heads + h) * d.k;
      const float top = s[0];  // the list is sorted: the first score is the largest
      float sum = 0.0f;
      for (std::int64_t m = 0; m < d.k; ++m) sum += w[m] = std::exp(s[m] - top);
      for (std::int64_t m = 0; m < d.k; ++m) {
        const float* v = wts.values + idx[m] * dv;
        for (std::int64_t j = 0; j < dv; ++j) yt[j] += w[m] / sum * v[j];
      }
    }
  }
}

}  // namespace opbench::cpu::plain
