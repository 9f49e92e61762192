// cpu.plain and cpu.fast of pkm_layer_backward (kernels/cpu/pkm_backward.hpp).
#include "kernels/cpu/pkm_backward.hpp"

#include <cblas.h>
#include <omp.h>

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
// Columns of one scatter task when rows alone are too few to share among the threads (a row many
// tokens share, the contention case, is then split by column blocks): 128 floats, 8 cache lines.
constexpr std::int64_t kColumnBlock = 128;
// Rows per thread from which each task is a whole row.
constexpr std::int64_t kRowsPerThread = 64;

// dst[0..n) += each entry's source row scaled, in entry order: the same sum, so the same bits,
// whatever the thread count. coef(e) and row(e) give an entry's scale and source row.
template <class Coef, class Row>
void add_rows(float* dst, std::int64_t n, const std::int64_t* entries, std::int64_t count,
              Coef coef, Row row) {
  for (std::int64_t e = 0; e < count; ++e) {
    const float c = coef(entries[e]);
    const float* src = row(entries[e]);
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) dst[j] += c * src[j];
  }
}

// For every (row, column block) task of `b`, in parallel: dst row r, columns of the block,
// += its entries' contributions (add_rows). Each task is owned by one thread: no atomics. A
// static schedule over rows in ascending order streams through dst; dynamic scheduling and
// 128-column tasks everywhere measured 2.3x slower (one atomic per 8 tasks, the source rows'
// offsets recomputed per block).
// Rows requested ahead of the one being worked on in the value rows' pass: a row's few
// contributions are too little work to hide the latency of its two rows' first lines, and the
// touched rows skip too irregularly for the hardware's prefetcher. 6 rows took that pass from 18
// to 11-12 ms at 65536 keys and 1024 tokens (4 to 8 alike; none and 1-2 slower).
constexpr std::int64_t kRowsAhead = 6;

void prefetch_row(const float* row, std::int64_t count, bool for_write) {
  const auto* bytes = reinterpret_cast<const char*>(row);
  for (std::int64_t at = 0; at < count * std::int64_t{sizeof(float)}; at += 64) {
    if (for_write) {
      __builtin_prefetch(bytes + at, 1);
    } else {
      __builtin_prefetch(bytes + at, 0);
    }
  }
}

// Whether the rows of `b` are enough to share whole among the threads.
template <class Buckets>
bool whole_rows(const Buckets& b) {
  return static_cast<std::int64_t>(b.rows.size()) >= kRowsPerThread * omp_get_max_threads();
}

template <class Buckets, class Coef, class Row>
void scatter(const Buckets& b, float* dst, std::int64_t width, Coef coef, Row row) {
  const auto rows = static_cast<std::int64_t>(b.rows.size());
  const std::int64_t block = whole_rows(b) ? width : std::min(width, kColumnBlock);
  if (block <= 0) return;
  const std::int64_t blocks = (width + block - 1) / block;
#pragma omp parallel for schedule(static)
  for (std::int64_t task = 0; task < rows * blocks; ++task) {
    const std::int64_t r = b.rows[task / blocks], j0 = (task % blocks) * block;
    const std::int64_t n = std::min(block, width - j0);
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
  for (auto* rows : {&value_row_, &key1_row_, &key2_row_, &query_at_}) {
    rows->resize(static_cast<std::size_t>(d.tokens * d.heads * d.k));
  }
}

// A stable counting sort of the contributions 0 .. tokens * heads * k by row.
template <class RowOf>
void PkmLayerBackward::bucket(std::int64_t rows, RowOf row_of, Buckets& b) {
  const std::int64_t entries = d_.tokens * d_.heads * d_.k;
  b.offsets.assign(static_cast<std::size_t>(rows + 1), 0);
  for (std::int64_t e = 0; e < entries; ++e) ++b.offsets[row_of(e) + 1];
  b.rows.clear();
  for (std::int64_t r = 0; r < rows; ++r) {
    if (b.offsets[r + 1] > 0) b.rows.push_back(r);
    b.offsets[r + 1] += b.offsets[r];
  }
  b.order.resize(static_cast<std::size_t>(entries));
  next_.assign(b.offsets.begin(), b.offsets.end() - 1);
  for (std::int64_t e = 0; e < entries; ++e) b.order[next_[row_of(e)]++] = e;
}

void PkmLayerBackward::run(const PkmBackwardInputs& in, const PkmBackwardGrads& g) {
  const pkm::Dims& d = d_;
  const pkm::LayerWeights& w = in.wts;
  const std::int64_t hdk = d.heads * d.dk, half = d.half(), dv = dv_, hk = d.heads * d.k;
  const std::int64_t entries = d.tokens * hk;

  // Per token: the query (zhat gamma + beta), and each contribution's rows in the three scatters.
#pragma omp parallel for schedule(static)
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    float* qt = q_.data() + t * hdk;
    float* dqt = dq_.data() + t * hdk;
    for (std::int64_t c = 0; c < hdk; ++c) {
      qt[c] = in.zhat[t * hdk + c] * w.bn_gamma[c] + w.bn_beta[c];
      dqt[c] = 0.0f;
    }
    for (std::int64_t e = t * hk; e < (t + 1) * hk; ++e) {
      const std::int64_t h = e / d.k % d.heads, index = in.indices[e];
      query_at_[e] = t * hdk + h * d.dk;
      value_row_[e] = index;
      key1_row_[e] = h * d.n + index / d.n;
      key2_row_[e] = h * d.n + index % d.n;
    }
  }

  // dp_e = dy_t . values[idx_e] and the value rows' scatter-add dvalues[idx_e] += p_e dy_t.
  bucket(
      d.keys(), [this](std::int64_t e) { return value_row_[e]; }, values_);
  const float* p = in.weights;
  float* dp = ds_.data();  // dp for now, ds below
  auto dot = [dv](const float* a, const float* b) {
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (std::int64_t j = 0; j < dv; ++j) sum += a[j] * b[j];
    return sum;
  };
  if (whole_rows(values_)) {
    // One pass over the touched rows in ascending order, each value row read once for all its
    // contributions and its gradient row read and written once: the table, far larger than the
    // caches, streams instead of being gathered row by row per contribution (2.3 reads of each
    // touched row at 65536 keys and 1024 tokens).
    const auto rows = static_cast<std::int64_t>(values_.rows.size());
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < rows; ++i) {
      const std::int64_t r = values_.rows[i];
      const float* v = w.values + r * dv;
      float* dvr = g.dvalues + r * dv;
      if (i + kRowsAhead < rows) {
        const std::int64_t ahead = values_.rows[i + kRowsAhead] * dv;
        prefetch_row(w.values + ahead, dv, false);
        prefetch_row(g.dvalues + ahead, dv, true);
      }
      for (std::int64_t at = values_.offsets[r]; at < values_.offsets[r + 1]; ++at) {
        const std::int64_t e = values_.order[at];
        const float* dyt = in.dy + e / hk * dv;
        dp[e] = dot(dyt, v);
        const float c = p[e];
#pragma omp simd
        for (std::int64_t j = 0; j < dv; ++j) dvr[j] += c * dyt[j];
      }
    }
  } else {
    // Few rows, each taken by many contributions (contention): the dot products per
    // contribution (the rows stay cached), the scatter split by column blocks.
#pragma omp parallel for schedule(static)
    for (std::int64_t e = 0; e < entries; ++e) {
      dp[e] = dot(in.dy + e / hk * dv, w.values + value_row_[e] * dv);
    }
    scatter(
        values_, g.dvalues, dv, [p](std::int64_t e) { return p[e]; },
        [&](std::int64_t e) { return in.dy + e / hk * dv; });
  }

  // Per (token, head): the softmax's gradient ds = p (dp - p . dp), and dq.
#pragma omp parallel for schedule(static)
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    for (std::int64_t h = 0; h < d.heads; ++h) {
      const std::int64_t row = t * hk + h * d.k;
      float* ds = ds_.data() + row;
      float mean_dp = 0.0f;
      for (std::int64_t m = 0; m < d.k; ++m) mean_dp += p[row + m] * ds[m];
      float* dq1 = dq_.data() + t * hdk + h * d.dk;
      float* dq2 = dq1 + half;
      for (std::int64_t m = 0; m < d.k; ++m) {
        ds[m] = p[row + m] * (ds[m] - mean_dp);
        const float* k1 = w.k1 + key1_row_[row + m] * half;
        const float* k2 = w.k2 + key2_row_[row + m] * half;
        const float c = ds[m];
#pragma omp simd
        for (std::int64_t e = 0; e < half; ++e) {
          dq1[e] += c * k1[e];
          dq2[e] += c * k2[e];
        }
      }
    }
  }

  // The sub-keys' scatter-adds, each row owned by one task.
  bucket(
      d.heads * d.n, [this](std::int64_t e) { return key1_row_[e]; }, keys1_);
  bucket(
      d.heads * d.n, [this](std::int64_t e) { return key2_row_[e]; }, keys2_);
  const float* ds = ds_.data();
  const float* q = q_.data();
  // Entry e = (t, h, m) scales q1 or q2 of (t, h), which start at query_at_[e] (+ half).
  scatter(
      keys1_, g.dk1, half, [ds](std::int64_t e) { return ds[e]; },
      [&](std::int64_t e) { return q + query_at_[e]; });
  scatter(
      keys2_, g.dk2, half, [ds](std::int64_t e) { return ds[e]; },
      [&](std::int64_t e) { return q + query_at_[e] + half; });

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
