// The backward pass of the product-key memory layer (Lample et al. 2019, Sec. 3.1 eqs. 1-3,
// Sec. 3.2-3.3, differentiated by hand; the equations are in pkm.hpp). Float64, plain loops.
#include <algorithm>
#include <cmath>
#include <vector>

#include "reference/pkm.hpp"
#include "reference/scalar_math.hpp"

namespace opbench::ref {

void pkm_layer_saved(const double* x, const PkmLayerWeights& wts, std::int64_t* indices,
                     double* weights, double* zhat, const PkmShape& s, std::int64_t din,
                     double eps) {
  check_pkm_shape(s);
  const std::int64_t hdk = s.heads * s.dk;
  // The forward pass's own query and search (pkm_layer), so the indices are the same.
  std::vector<double> q(static_cast<std::size_t>(s.tokens * hdk));
  pkm_query(x, wts.w, wts.b, wts.bn_mean, wts.bn_var, wts.bn_gamma, wts.bn_beta, q.data(), s.tokens,
            din, hdk, eps);
  std::vector<double> scores(static_cast<std::size_t>(s.tokens * s.heads * s.k));
  pkm_topk(q.data(), wts.k1, wts.k2, scores.data(), indices, s);
  // zhat: the projection normalized, before gamma and beta (pkm_query's arithmetic).
  for (std::int64_t t = 0; t < s.tokens; ++t) {
    for (std::int64_t c = 0; c < hdk; ++c) {
      double z = wts.b[c];
      for (std::int64_t i = 0; i < din; ++i) z += x[t * din + i] * wts.w[i * hdk + c];
      zhat[t * hdk + c] = (z - wts.bn_mean[c]) / std::sqrt(wts.bn_var[c] + eps);
    }
  }
  // Softmax over each row's k scores (eq. 2), shifted by its maximum as pkm_readout is.
  for (std::int64_t r = 0; r < s.tokens * s.heads; ++r) {
    const double* sr = scores.data() + r * s.k;
    const double top = *std::max_element(sr, sr + s.k);
    double sum = 0.0;
    for (std::int64_t m = 0; m < s.k; ++m) sum += weights[r * s.k + m] = std::exp(sr[m] - top);
    for (std::int64_t m = 0; m < s.k; ++m) weights[r * s.k + m] /= sum;
  }
}

void pkm_layer_backward(const double* x, const PkmLayerWeights& wts, const double* dy,
                        const std::int64_t* indices, const double* weights, const double* zhat,
                        const PkmLayerGrads& g, const PkmShape& s, std::int64_t din,
                        std::int64_t dv, double eps) {
  check_pkm_shape(s);
  const std::int64_t hdk = s.heads * s.dk, half = s.dk / 2;
  std::fill(g.dvalues, g.dvalues + s.n * s.n * dv, 0.0);
  std::fill(g.dk1, g.dk1 + s.heads * s.n * half, 0.0);
  std::fill(g.dk2, g.dk2 + s.heads * s.n * half, 0.0);
  std::vector<double> dq(static_cast<std::size_t>(s.tokens * hdk), 0.0);
  std::vector<double> dp(static_cast<std::size_t>(s.k));
  for (std::int64_t t = 0; t < s.tokens; ++t) {
    const double* dyt = dy + t * dv;
    for (std::int64_t h = 0; h < s.heads; ++h) {
      const std::int64_t row = (t * s.heads + h) * s.k;
      const std::int64_t* idx = indices + row;
      const double* p = weights + row;
      // eq. 3 by the values, and by the weights
      double mean_dp = 0.0;
      for (std::int64_t m = 0; m < s.k; ++m) {
        const double* v = wts.values + idx[m] * dv;
        double* dvr = g.dvalues + idx[m] * dv;
        for (std::int64_t j = 0; j < dv; ++j) dvr[j] += p[m] * dyt[j];
        dp[m] = dot(dyt, v, dv);
        mean_dp += p[m] * dp[m];
      }
      // eq. 2: the softmax's Jacobian, then eq. 1 by the query and by the two sub-keys
      const std::int64_t qo = t * hdk + h * s.dk;
      for (std::int64_t m = 0; m < s.k; ++m) {
        const double ds = p[m] * (dp[m] - mean_dp);
        const std::int64_t i = idx[m] / s.n, j = idx[m] % s.n;
        double* c1 = g.dk1 + (h * s.n + i) * half;
        double* c2 = g.dk2 + (h * s.n + j) * half;
        const double* k1 = wts.k1 + (h * s.n + i) * half;
        const double* k2 = wts.k2 + (h * s.n + j) * half;
        for (std::int64_t d = 0; d < half; ++d) {
          const std::int64_t c = h * s.dk + d, c2i = c + half;
          dq[qo + d] += ds * k1[d];
          dq[qo + half + d] += ds * k2[d];
          c1[d] += ds * (zhat[t * hdk + c] * wts.bn_gamma[c] + wts.bn_beta[c]);
          c2[d] += ds * (zhat[t * hdk + c2i] * wts.bn_gamma[c2i] + wts.bn_beta[c2i]);
        }
      }
    }
  }
  // The batch normalization (inference form: mean and var are constants) and the projection.
  std::vector<double> dz(static_cast<std::size_t>(s.tokens * hdk));
  for (std::int64_t c = 0; c < hdk; ++c) {
    const double rstd = 1.0 / std::sqrt(wts.bn_var[c] + eps);
    double sum_dq = 0.0, sum_dq_zhat = 0.0, sum_dz = 0.0;
    for (std::int64_t t = 0; t < s.tokens; ++t) {
      const double d = dq[t * hdk + c];
      sum_dq += d;
      sum_dq_zhat += d * zhat[t * hdk + c];
      dz[t * hdk + c] = d * wts.bn_gamma[c] * rstd;
      sum_dz += dz[t * hdk + c];
    }
    g.dbn_beta[c] = sum_dq;
    g.dbn_gamma[c] = sum_dq_zhat;
    g.db[c] = sum_dz;
  }
  for (std::int64_t i = 0; i < din; ++i) {
    for (std::int64_t c = 0; c < hdk; ++c) {
      double sum = 0.0;
      for (std::int64_t t = 0; t < s.tokens; ++t) sum += x[t * din + i] * dz[t * hdk + c];
      g.dw[i * hdk + c] = sum;
    }
  }
  for (std::int64_t t = 0; t < s.tokens; ++t) {
    for (std::int64_t i = 0; i < din; ++i) {
      g.dx[t * din + i] = dot(dz.data() + t * hdk, wts.w + i * hdk, hdk);
    }
  }
}

}  // namespace opbench::ref
