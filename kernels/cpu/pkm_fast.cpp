// cpu.fast of the pkm family (see pkm_fast.hpp).
#include "kernels/cpu/pkm_fast.hpp"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/cpu/half_vec.hpp"
#include "kernels/cpu/topk_select.hpp"

namespace opbench::cpu::fast {
namespace {

// Keys per SGEMM block of the brute force: the block of scores of 1024 tokens stays at 8 MiB.
constexpr std::int64_t kKeyBlock = 2048;
// Tokens per block of the product-key search: 64 x 512 sub-key scores per half fit in L2.
constexpr std::int64_t kTokenBlock = 64;

// c[m, n] = a[m, kk] (row stride lda) . b[n, kk]^T (rows of b contiguous).
void gemm_abt(const float* a, std::int64_t lda, const float* b, float* c, std::int64_t m,
              std::int64_t n, std::int64_t kk) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(kk), 1.0f, a, static_cast<int>(lda), b, static_cast<int>(kk), 0.0f,
              c, static_cast<int>(n));
}

}  // namespace

PkmTopk::PkmTopk(const pkm::Dims& d) : d_(d) {}

void PkmTopk::run(const float* q, const float* k1, const float* k2, float* scores,
                  std::int64_t* indices) {
  const pkm::Dims d = d_;
  const std::int64_t half = d.half();
  // Each thread scores a block of tokens against every head's sub-keys with single-threaded
  // SGEMMs into its own buffers (which stay in L2), then selects. OpenBLAS's own threads are not
  // used here: between calls they spin, taking the cores from the OpenMP threads that select.
  const int blas_threads = openblas_get_num_threads();
  openblas_set_num_threads(1);
#pragma omp parallel
  {
    const std::int64_t block = std::min(kTokenBlock, d.tokens);
    std::vector<float> s1(static_cast<std::size_t>(block * d.n)), s2(s1.size());
    std::vector<float> av(d.k), bv(d.k);
    std::vector<std::int32_t> ai(d.k), bi(d.k);
    SelectScratch scratch(d.n, d.k);
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t t0 = 0; t0 < d.tokens; t0 += block) {
      const std::int64_t rows = std::min(block, d.tokens - t0);
      for (std::int64_t h = 0; h < d.heads; ++h) {
        const float* qh = q + (t0 * d.heads + h) * d.dk;
        gemm_abt(qh, d.heads * d.dk, k1 + h * d.n * half, s1.data(), rows, d.n, half);
        gemm_abt(qh + half, d.heads * d.dk, k2 + h * d.n * half, s2.data(), rows, d.n, half);
        for (std::int64_t r = 0; r < rows; ++r) {
          select_topk(s1.data() + r * d.n, d.n, d.k, av.data(), ai.data(), scratch);
          select_topk(s2.data() + r * d.n, d.n, d.k, bv.data(), bi.data(), scratch);
          const std::int64_t row = ((t0 + r) * d.heads + h) * d.k;
          combine_sorted(av.data(), ai.data(), bv.data(), bi.data(), d.k, d.n, scores + row,
                         indices + row);
        }
      }
    }
  }
  openblas_set_num_threads(blas_threads);
}

BruteforceTopk::BruteforceTopk(const float* k1, const float* k2, const pkm::Dims& d)
    : d_(d),
      keys_(static_cast<std::size_t>(d.heads * d.keys() * d.dk)),
      block_(static_cast<std::size_t>(d.tokens * std::min(kKeyBlock, d.keys()))) {
  const std::int64_t half = d.half();
#pragma omp parallel for collapse(2) schedule(static)
  for (std::int64_t h = 0; h < d.heads; ++h) {
    for (std::int64_t i = 0; i < d.n; ++i) {
      for (std::int64_t j = 0; j < d.n; ++j) {
        float* key = keys_.data() + (h * d.keys() + i * d.n + j) * d.dk;
        std::copy_n(k1 + (h * d.n + i) * half, half, key);
        std::copy_n(k2 + (h * d.n + j) * half, half, key + half);
      }
    }
  }
}

void BruteforceTopk::run(const float* q, float* scores, std::int64_t* indices) {
  const pkm::Dims d = d_;
  const std::int64_t total = d.keys();
  for (std::int64_t h = 0; h < d.heads; ++h) {
    for (std::int64_t start = 0; start < total; start += kKeyBlock) {
      const std::int64_t count = std::min(kKeyBlock, total - start);
      gemm_abt(q + h * d.dk, d.heads * d.dk, keys_.data() + (h * total + start) * d.dk,
               block_.data(), d.tokens, count, d.dk);
#pragma omp parallel for schedule(static)
      for (std::int64_t t = 0; t < d.tokens; ++t) {
        const std::int64_t row = (t * d.heads + h) * d.k;
        // The running list lives in the output row; the first block fills it.
        TopKList<std::int64_t> list(scores + row, indices + row, d.k);
        std::int64_t filled = start == 0 ? 0 : std::min(start, d.k);
        list.restore(filled);
        const float* s = block_.data() + t * count;
        std::int64_t j = 0;
        for (; j < count && !list.full(); ++j) list.push(s[j], start + j);
        constexpr std::int64_t kBlock = 16;
        // An entry enters only with a key above the last's (its index is larger than every index
        // in the list). The threshold is a key, never NaN, so a NaN score never passes `>`.
        float threshold = list.full() ? list.last_key() : -INFINITY;
        for (; j + kBlock <= count; j += kBlock) {
          bool any = false;
          for (std::int64_t u = 0; u < kBlock; ++u) any |= s[j + u] > threshold;
          if (!any) continue;
          for (std::int64_t u = 0; u < kBlock; ++u) {
            if (s[j + u] > threshold) {
              list.push(s[j + u], start + j + u);
              threshold = list.last_key();
            }
          }
        }
        for (; j < count; ++j) {
          if (s[j] > threshold) {
            list.push(s[j], start + j);
            threshold = list.last_key();
          }
        }
      }
    }
  }
}

PkmLayer::PkmLayer(const pkm::Dims& d, std::int64_t din, std::int64_t dv, float eps)
    : d_(d),
      din_(din),
      dv_(dv),
      eps_(eps),
      topk_(d),
      q_(static_cast<std::size_t>(d.tokens * d.heads * d.dk)),
      scale_(static_cast<std::size_t>(d.heads * d.dk)),
      shift_(static_cast<std::size_t>(d.heads * d.dk)),
      scores_(static_cast<std::size_t>(d.tokens * d.heads * d.k)) {}

template <class V>
void PkmLayer::run_with_values(const float* x, const pkm::LayerWeights& wts, const V* values, V* y,
                               std::int64_t* indices) {
  const pkm::Dims d = d_;
  const std::int64_t hdk = d.heads * d.dk;
  const std::int64_t dv = dv_;
  // BN(z + b) = z * scale + shift with scale = gamma / sqrt(var + eps),
  // shift = (b - mean) * scale + beta.
  for (std::int64_t c = 0; c < hdk; ++c) {
    scale_[c] = wts.bn_gamma[c] / std::sqrt(wts.bn_var[c] + eps_);
    shift_[c] = (wts.b[c] - wts.bn_mean[c]) * scale_[c] + wts.bn_beta[c];
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(d.tokens),
              static_cast<int>(hdk), static_cast<int>(din_), 1.0f, x, static_cast<int>(din_), wts.w,
              static_cast<int>(hdk), 0.0f, q_.data(), static_cast<int>(hdk));
  float* q = q_.data();
  const float* scale = scale_.data();
  const float* shift = shift_.data();
#pragma omp parallel for schedule(static)
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    float* qt = q + t * hdk;
#pragma omp simd
    for (std::int64_t c = 0; c < hdk; ++c) qt[c] = qt[c] * scale[c] + shift[c];
  }
  topk_.run(q, wts.k1, wts.k2, scores_.data(), indices);
  const float* scores = scores_.data();
#pragma omp parallel
  {
    std::vector<float> w(static_cast<std::size_t>(d.k));
    // A float32 y is summed in place; a 16-bit one in a float32 row, rounded once at the end.
    std::vector<float> acc(std::is_same_v<V, float> ? 0 : static_cast<std::size_t>(dv));
#pragma omp for schedule(static)
    for (std::int64_t t = 0; t < d.tokens; ++t) {
      float* yt = acc.data();
      if constexpr (std::is_same_v<V, float>) yt = y + t * dv;
      std::fill(yt, yt + dv, 0.0f);
      for (std::int64_t h = 0; h < d.heads; ++h) {
        const float* s = scores + (t * d.heads + h) * d.k;
        const std::int64_t* idx = indices + (t * d.heads + h) * d.k;
        float sum = 0.0f;
        for (std::int64_t m = 0; m < d.k; ++m) sum += w[m] = std::exp(s[m] - s[0]);
        const float inv = 1.0f / sum;
        for (std::int64_t m = 0; m < d.k; ++m) {
          const float wm = w[m] * inv;
          const V* v = values + idx[m] * dv;
          if constexpr (std::is_same_v<V, float>) {
#pragma omp simd
            for (std::int64_t j = 0; j < dv; ++j) yt[j] += wm * v[j];
          } else {
            std::int64_t j = 0;
            for (; j + half_vec::kW <= dv; j += half_vec::kW) {
              simd::store(yt + j, detail::load(yt + j) + wm * half_vec::wv(v + j));
            }
            for (; j < dv; ++j) yt[j] += wm * to_float(v[j]);
          }
        }
      }
      if constexpr (!std::is_same_v<V, float>) half_vec::narrow(yt, y + t * dv, dv);
    }
  }
}

template void PkmLayer::run_with_values<float>(const float*, const pkm::LayerWeights&, const float*,
                                               float*, std::int64_t*);
template void PkmLayer::run_with_values<bf16_t>(const float*, const pkm::LayerWeights&,
                                                const bf16_t*, bf16_t*, std::int64_t*);
template void PkmLayer::run_with_values<f16_t>(const float*, const pkm::LayerWeights&, const f16_t*,
                                               f16_t*, std::int64_t*);

}  // namespace opbench::cpu::fast
