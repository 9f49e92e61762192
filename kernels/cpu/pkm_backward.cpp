// cpu.plain and cpu.fast of pkm_layer_backward (kernels/cpu/pkm_backward.hpp).
#include "kernels/cpu/pkm_backward.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>

namespace opbench::cpu {

namespace plain {

void pkm_layer_backward(const PkmBackwardInputs& in, const PkmBackwardGrads& g, const pkm::Dims& d,
                        std::int64_t din, std::int64_t dv, float eps) {
  const pkm::LayerWeights& w = in.wts;
  const std::int64_t hdk = d.heads * d.dk, half = d.half();
  std::vector<float> dq(static_cast<std::size_t>(d.tokens * hdk), 0.0f);
  std::vector<float> dp(static_cast<std::size_t>(d.k));
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    const float* dyt = in.dy + t * dv;
    for (std::int64_t h = 0; h < d.heads; ++h) {
      const std::int64_t row = (t * d.heads + h) * d.k;
      const std::int64_t* idx = in.indices + row;
      const float* p = in.weights + row;
      float mean_dp = 0.0f;
      for (std::int64_t m = 0; m < d.k; ++m) {
        const float* v = w.values + idx[m] * dv;
        float* dvr = g.dvalues + idx[m] * dv;
        float sum = 0.0f;
        for (std::int64_t j = 0; j < dv; ++j) {
          dvr[j] += p[m] * dyt[j];
          sum += dyt[j] * v[j];
        }
        dp[m] = sum;
        mean_dp += p[m] * sum;
      }
      const std::int64_t qo = t * hdk + h * d.dk;
      for (std::int64_t m = 0; m < d.k; ++m) {
        const float ds = p[m] * (dp[m] - mean_dp);
        const std::int64_t i = idx[m] / d.n, j = idx[m] % d.n;
        float* c1 = g.dk1 + (h * d.n + i) * half;
        float* c2 = g.dk2 + (h * d.n + j) * half;
        const float* k1 = w.k1 + (h * d.n + i) * half;
        const float* k2 = w.k2 + (h * d.n + j) * half;
        for (std::int64_t e = 0; e < half; ++e) {
          const std::int64_t c = h * d.dk + e, c2i = c + half;
          dq[qo + e] += ds * k1[e];
          dq[qo + half + e] += ds * k2[e];
          c1[e] += ds * (in.zhat[t * hdk + c] * w.bn_gamma[c] + w.bn_beta[c]);
          c2[e] += ds * (in.zhat[t * hdk + c2i] * w.bn_gamma[c2i] + w.bn_beta[c2i]);
        }
      }
    }
  }
  std::vector<float> dz(static_cast<std::size_t>(d.tokens * hdk));
  for (std::int64_t c = 0; c < hdk; ++c) {
    const float rstd = 1.0f / std::sqrt(w.bn_var[c] + eps);
    float sum_dq = 0.0f, sum_dq_zhat = 0.0f, sum_dz = 0.0f;
    for (std::int64_t t = 0; t < d.tokens; ++t) {
      const float v = dq[t * hdk + c];
      sum_dq += v;
      sum_dq_zhat += v * in.zhat[t * hdk + c];
      dz[t * hdk + c] = v * w.bn_gamma[c] * rstd;
      sum_dz += dz[t * hdk + c];
    }
    g.dbn_beta[c] = sum_dq;
    g.dbn_gamma[c] = sum_dq_zhat;
    g.db[c] = sum_dz;
  }
  std::fill(g.dw, g.dw + din * hdk, 0.0f);
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    for (std::int64_t i = 0; i < din; ++i) {
      const float xi = in.x[t * din + i];
      for (std::int64_t c = 0; c < hdk; ++c) g.dw[i * hdk + c] += xi * dz[t * hdk + c];
    }
  }
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    for (std::int64_t i = 0; i < din; ++i) {
      float sum = 0.0f;
      for (std::int64_t c = 0; c < hdk; ++c) sum += dz[t * hdk + c] * w.w[i * hdk + c];
      g.dx[t * din + i] = sum;
    }
  }
}

}  // namespace plain

namespace fast {

namespace {
// Columns of one scatter task: 128 floats, 8 cache lines; a row with more contributions than
// tokens * heads * k / threads is split over its column blocks, so contention still parallelizes.
constexpr std::int64_t kColumnBlock = 128;

// dst[0..n) += sum over the entries of src rows scaled, in entry order, in registers: one
// read-modify-write of dst. coef(e) and row(e) give an entry's scale and source row.
template <class Coef, class Row>
void add_rows(float* dst, std::int64_t n, const std::int64_t* entries, std::int64_t count,
              Coef coef, Row row) {
  float acc[kColumnBlock];
  for (std::int64_t j = 0; j < n; ++j) acc[j] = dst[j];
  for (std::int64_t e = 0; e < count; ++e) {
    const float c = coef(entries[e]);
    const float* src = row(entries[e]);
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) acc[j] += c * src[j];
  }
  for (std::int64_t j = 0; j < n; ++j) dst[j] = acc[j];
}

// For every (row, column block) task of `b`, in parallel: dst row r, columns of the block,
// += its entries' contributions (add_rows). Each task is owned by one thread: no atomics.
template <class Buckets, class Coef, class Row>
void scatter(const Buckets& b, float* dst, std::int64_t width, Coef coef, Row row) {
  const std::int64_t blocks = (width + kColumnBlock - 1) / kColumnBlock;
  const auto tasks = static_cast<std::int64_t>(b.rows.size()) * blocks;
#pragma omp parallel for schedule(dynamic, 8)
  for (std::int64_t task = 0; task < tasks; ++task) {
    const std::int64_t r = b.rows[task / blocks], j0 = (task % blocks) * kColumnBlock;
    const std::int64_t n = std::min(kColumnBlock, width - j0);
    const std::int64_t first = b.offsets[r], count = b.offsets[r + 1] - first;
    add_rows(dst + r * width + j0, n, b.order.data() + first, count, coef,
             [&](std::int64_t e) { return row(e) + j0; });
  }
}
}  // namespace

PkmLayerBackward::PkmLayerBackward(const pkm::Dims& d, std::int64_t din, std::int64_t dv, float eps)
    : d_(d), din_(din), dv_(dv), eps_(eps) {
  const std::int64_t hdk = d.heads * d.dk;
  ds_.resize(static_cast<std::size_t>(d.tokens * d.heads * d.k));
  q_.resize(static_cast<std::size_t>(d.tokens * hdk));
  dq_.resize(static_cast<std::size_t>(d.tokens * hdk));
  dz_.resize(static_cast<std::size_t>(d.tokens * hdk));
}

// A stable counting sort of the contributions 0 .. tokens * heads * k by row.
template <class RowOf>
void PkmLayerBackward::bucket(std::int64_t rows, RowOf row_of, Buckets& b) const {
  const std::int64_t entries = d_.tokens * d_.heads * d_.k;
  b.offsets.assign(static_cast<std::size_t>(rows + 1), 0);
  for (std::int64_t e = 0; e < entries; ++e) ++b.offsets[row_of(e) + 1];
  b.rows.clear();
  for (std::int64_t r = 0; r < rows; ++r) {
    if (b.offsets[r + 1] > 0) b.rows.push_back(r);
    b.offsets[r + 1] += b.offsets[r];
  }
  b.order.resize(static_cast<std::size_t>(entries));
  std::vector<std::int64_t> next(b.offsets.begin(), b.offsets.end() - 1);
  for (std::int64_t e = 0; e < entries; ++e) b.order[next[row_of(e)]++] = e;
}

void PkmLayerBackward::run(const PkmBackwardInputs& in, const PkmBackwardGrads& g) {
  const pkm::Dims& d = d_;
  const pkm::LayerWeights& w = in.wts;
  const std::int64_t hdk = d.heads * d.dk, half = d.half(), dv = dv_, hk = d.heads * d.k;

  // Per token: the query (zhat gamma + beta), the softmax's gradient ds and dq.
#pragma omp parallel for schedule(static)
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    const float* dyt = in.dy + t * dv;
    float* qt = q_.data() + t * hdk;
    float* dqt = dq_.data() + t * hdk;
    for (std::int64_t c = 0; c < hdk; ++c) {
      qt[c] = in.zhat[t * hdk + c] * w.bn_gamma[c] + w.bn_beta[c];
      dqt[c] = 0.0f;
    }
    for (std::int64_t h = 0; h < d.heads; ++h) {
      const std::int64_t row = t * hk + h * d.k;
      const std::int64_t* idx = in.indices + row;
      const float* p = in.weights + row;
      float* ds = ds_.data() + row;
      float mean_dp = 0.0f;
      for (std::int64_t m = 0; m < d.k; ++m) {
        const float* v = w.values + idx[m] * dv;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (std::int64_t j = 0; j < dv; ++j) sum += dyt[j] * v[j];
        ds[m] = sum;  // dp for now
        mean_dp += p[m] * sum;
      }
      float* dq1 = dqt + h * d.dk;
      float* dq2 = dq1 + half;
      for (std::int64_t m = 0; m < d.k; ++m) {
        ds[m] = p[m] * (ds[m] - mean_dp);
        const float* k1 = w.k1 + (h * d.n + idx[m] / d.n) * half;
        const float* k2 = w.k2 + (h * d.n + idx[m] % d.n) * half;
        const float c = ds[m];
#pragma omp simd
        for (std::int64_t e = 0; e < half; ++e) {
          dq1[e] += c * k1[e];
          dq2[e] += c * k2[e];
        }
      }
    }
  }

  // The three scatter-adds, each row owned by one task.
  const std::int64_t* idx = in.indices;
  const std::int64_t n = d.n, k = d.k, heads = d.heads;
  bucket(
      d.keys(), [idx](std::int64_t e) { return idx[e]; }, values_);
  bucket(
      heads * n, [&](std::int64_t e) { return (e / k) % heads * n + idx[e] / n; }, keys1_);
  bucket(
      heads * n, [&](std::int64_t e) { return (e / k) % heads * n + idx[e] % n; }, keys2_);
  const float* p = in.weights;
  scatter(
      values_, g.dvalues, dv, [p](std::int64_t e) { return p[e]; },
      [&](std::int64_t e) { return in.dy + e / hk * dv; });
  const float* ds = ds_.data();
  const float* q = q_.data();
  // Entry e = (t, h, m) scales q1 or q2 of (t, h): q + t * hdk + h * dk (+ half).
  scatter(
      keys1_, g.dk1, half, [ds](std::int64_t e) { return ds[e]; },
      [&](std::int64_t e) { return q + e / hk * hdk + (e / k) % heads * d.dk; });
  scatter(
      keys2_, g.dk2, half, [ds](std::int64_t e) { return ds[e]; },
      [&](std::int64_t e) { return q + e / hk * hdk + (e / k) % heads * d.dk + half; });

  // The batch normalization's column sums and dz, each thread over a range of columns.
  constexpr std::int64_t kCols = 64;
  const std::int64_t col_blocks = (hdk + kCols - 1) / kCols;
#pragma omp parallel for schedule(static)
  for (std::int64_t cb = 0; cb < col_blocks; ++cb) {
    const std::int64_t c0 = cb * kCols, nc = std::min(kCols, hdk - c0);
    float rstd[kCols], sum_dq[kCols] = {}, sum_dqz[kCols] = {}, sum_dz[kCols] = {};
    for (std::int64_t c = 0; c < nc; ++c) {
      rstd[c] = w.bn_gamma[c0 + c] / std::sqrt(w.bn_var[c0 + c] + eps_);  // gamma * rstd
    }
    for (std::int64_t t = 0; t < d.tokens; ++t) {
      const float* dqt = dq_.data() + t * hdk + c0;
      const float* zt = in.zhat + t * hdk + c0;
      float* dzt = dz_.data() + t * hdk + c0;
#pragma omp simd
      for (std::int64_t c = 0; c < nc; ++c) {
        sum_dq[c] += dqt[c];
        sum_dqz[c] += dqt[c] * zt[c];
        dzt[c] = dqt[c] * rstd[c];
        sum_dz[c] += dzt[c];
      }
    }
    for (std::int64_t c = 0; c < nc; ++c) {
      g.dbn_beta[c0 + c] = sum_dq[c];
      g.dbn_gamma[c0 + c] = sum_dqz[c];
      g.db[c0 + c] = sum_dz[c];
    }
  }

  // The projection: dW = x^T dz [din, hdk], dx = dz W^T [tokens, din].
  const auto T = static_cast<int>(d.tokens), D = static_cast<int>(din_), H = static_cast<int>(hdk);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, H, T, 1.0f, in.x, D, dz_.data(), H, 0.0f,
              g.dw, H);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, D, H, 1.0f, dz_.data(), H, w.w, H, 0.0f,
              g.dx, D);
}

}  // namespace fast

}  // namespace opbench::cpu
