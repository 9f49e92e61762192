// cpu.fast: the normalization kernels over channels (batchnorm_train, groupnorm, evonorm_s0,
// evonorm_b0, online_norm); the row ops are in norm_fast.cpp.
//
// batchnorm_train streams x once for per-column shifted sums (shift: the mean of the first 16
// rows), then writes y; groupnorm and evonorm_s0 use the row machinery on each contiguous
// (sample, group) block; evonorm_b0 merges per-(sample, channel) statistics into batch
// statistics (Chan et al.); online_norm is sequential over samples and parallel over channels.
// Every kernel reads all its statistics before writing an output, so y may alias x.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/norm_fast.hpp"
#include "kernels/cpu/norm_fast_rows.hpp"

namespace opbench::cpu::fast {

using namespace detail;

void batchnorm_train(const float* x, const float* gamma, const float* beta, float* y,
                     std::int64_t rows, std::int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  // Statistics down the columns in one streaming pass over x: sums of d = x - shift and d^2 per
  // column. The shift of a column is the mean of its first (up to 16) values: close to the column
  // mean, so sum(d^2) stays comparable to M2, and x - shift is exact for a large common offset.
  // Columns where it is not (sum(d^2) > kShiftGuard * M2) get the corrected two-pass M2 from a
  // second pass over those columns only.
  //
  // Layout of the pass: fewer than 64 columns are widened to W = m * cols (m rows viewed as one,
  // parameters repeated) so the vector loop has work; each thread streams its rows four at a
  // time (four sequential streams, accumulators touched once per four rows), in float32 over
  // chunks of kChunkRows rows, chunks summed in double, threads summed in thread order.
  constexpr i64 kChunkRows = 32;
  const i64 head = std::min<i64>(rows, 16);
  std::vector<float> shift_v(cols);
  {
    std::vector<double> acc(cols, 0.0);
    for (i64 r = 0; r < head; ++r)
      for (i64 j = 0; j < cols; ++j) acc[j] += x[r * cols + j];
    for (i64 j = 0; j < cols; ++j) shift_v[j] = static_cast<float>(acc[j] / head);
  }
  const float* shift = shift_v.data();
  const i64 m = cols >= 64 ? 1 : (64 + cols - 1) / cols;
  const i64 W = m * cols, wrows = rows / m;
  std::vector<float> wshift(W);
  for (i64 k = 0; k < W; ++k) wshift[k] = shift[k % cols];
  const bool par = wrows * W >= kParallelMinElems && wrows > 1 && omp_get_max_threads() > 1;
  const int nthreads = par ? static_cast<int>(std::min<i64>(omp_get_max_threads(), wrows)) : 1;
  std::vector<double> t_s1(static_cast<std::size_t>(nthreads) * W, 0.0);
  std::vector<double> t_s2(static_cast<std::size_t>(nthreads) * W, 0.0);
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
  {
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    const i64 w0 = wrows * t / T, w1 = wrows * (t + 1) / T;
    std::vector<float> a1v(W), a2v(W);
    float* a1 = a1v.data();
    float* a2 = a2v.data();
    const float* sh = wshift.data();
    double* s1 = t_s1.data() + static_cast<std::size_t>(t) * W;
    double* s2 = t_s2.data() + static_cast<std::size_t>(t) * W;
    for (i64 c0 = w0; c0 < w1; c0 += kChunkRows) {
      const i64 c1 = std::min(w1, c0 + kChunkRows);
      std::fill(a1v.begin(), a1v.end(), 0.0f);
      std::fill(a2v.begin(), a2v.end(), 0.0f);
      i64 r = c0;
      for (; r + 4 <= c1; r += 4) {
        const float* x0 = x + r * W;
        const float* x1 = x0 + W;
        const float* x2 = x1 + W;
        const float* x3 = x2 + W;
#pragma omp simd
        for (i64 k = 0; k < W; ++k) {
          const float d0 = x0[k] - sh[k], d1 = x1[k] - sh[k], d2 = x2[k] - sh[k],
                      d3 = x3[k] - sh[k];
          a1[k] += (d0 + d1) + (d2 + d3);
          a2[k] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3);
        }
      }
      for (; r < c1; ++r) {
        const float* x0 = x + r * W;
#pragma omp simd
        for (i64 k = 0; k < W; ++k) {
          const float d0 = x0[k] - sh[k];
          a1[k] += d0;
          a2[k] += d0 * d0;
        }
      }
      for (i64 k = 0; k < W; ++k) {
        s1[k] += a1[k];
        s2[k] += a2[k];
      }
    }
  }
  // Fold threads and the widening into per-column sums; then the rows left over by widening.
  std::vector<double> s1(cols, 0.0), s2(cols, 0.0);
  for (int t = 0; t < nthreads; ++t)
    for (i64 k = 0; k < W; ++k) {
      s1[k % cols] += t_s1[static_cast<std::size_t>(t) * W + k];
      s2[k % cols] += t_s2[static_cast<std::size_t>(t) * W + k];
    }
  for (i64 r = wrows * m; r < rows; ++r)
    for (i64 j = 0; j < cols; ++j) {
      const double d = x[r * cols + j] - shift[j];
      s1[j] += d;
      s2[j] += d * d;
    }
  std::vector<float> mean_s, scale;
  column_params(
      s1, s2, shift, rows, cols, eps, [=](i64 j) { return static_cast<double>(gamma[j]); },
      [=](i64 r, i64 j) { return x[r * cols + j]; }, mean_s, scale);
  columnwise<4>(
      x, y, rows, cols, {shift, mean_s.data(), scale.data(), beta},
      [](vf xv, const std::array<vf, 4>& p) { return ((xv - p[0]) - p[1]) * p[2] + p[3]; },
      [](float xs, const std::array<float, 4>& p) { return ((xs - p[0]) - p[1]) * p[2] + p[3]; });
}

void groupnorm(const float* x, const float* gamma, const float* beta, float* y, std::int64_t n,
               std::int64_t c, std::int64_t hw, std::int64_t groups, float eps) {
  if (n <= 0 || c <= 0 || hw <= 0 || groups <= 0) return;
  const i64 cpg = c / groups;
  const i64 len = cpg * hw;  // one (sample, group) block is contiguous
  const i64 total = n * c * hw;
  for_each_index(n * groups, total, total * 4, [&](i64 b, bool nt) {
    const i64 g = b % groups;
    const float* xb = x + b * len;
    float* yb = y + b * len;
    const float sh = xb[0];
    const vf vsh = splat(sh);
    const Moments m = block_moments(xb, len);
    const float mean = static_cast<float>(m.mean);
    const float rstd = rsqrt_d(m.m2 / static_cast<double>(len) + eps);
    const vf vmean = splat(mean);
    for (i64 k = 0; k < cpg; ++k) {
      const i64 ch = g * cpg + k;
      const float* xc = xb + k * hw;
      const float a = rstd * gamma[ch], bb = beta[ch];
      const vf va = splat(a), vb = splat(bb);
      emit(
          yb + k * hw, hw, nt, [&](i64 j) { return ((load(xc + j) - vsh) - vmean) * va + vb; },
          [&](i64 j) { return ((xc[j] - sh) - mean) * a + bb; });
    }
  });
}

void evonorm_s0(const float* x, const float* v, const float* gamma, const float* beta, float* y,
                std::int64_t n, std::int64_t c, std::int64_t hw, std::int64_t groups, float eps) {
  if (n <= 0 || c <= 0 || hw <= 0 || groups <= 0) return;
  const i64 cpg = c / groups;
  const i64 len = cpg * hw;
  const i64 total = n * c * hw;
  for_each_index(n * groups, total, total * 4, [&](i64 b, bool nt) {
    const i64 g = b % groups;
    const float* xb = x + b * len;
    float* yb = y + b * len;
    const Moments m = block_moments(xb, len);
    const float rstd = rsqrt_d(m.m2 / static_cast<double>(len) + eps);
    for (i64 k = 0; k < cpg; ++k) {
      const i64 ch = g * cpg + k;
      const float* xc = xb + k * hw;
      const float a = rstd * gamma[ch], bb = beta[ch], vc = v[ch];
      const vf va = splat(a), vb = splat(bb), vv = splat(vc);
      emit(
          yb + k * hw, hw, nt,
          [&](i64 j) {
            const vf xv = load(xc + j);
            return xv * simd::vsigmoid(vv * xv) * va + vb;
          },
          [&](i64 j) { return xc[j] * simd::ssigmoid(vc * xc[j]) * a + bb; });
    }
  });
}

void evonorm_b0(const float* x, const float* v, const float* gamma, const float* beta, float* y,
                std::int64_t n, std::int64_t c, std::int64_t hw, float eps) {
  if (n <= 0 || c <= 0 || hw <= 0) return;
  const i64 rows = n * c;
  const i64 total = rows * hw;
  // Instance statistics of every (sample, channel) row: absolute mean and M2, in double.
  std::vector<double> imean(rows), im2(rows);
  for_each_index(rows, total, 0, [&](i64 r, bool) {
    const float* xr = x + r * hw;
    const Moments m = block_moments(xr, hw);
    imean[r] = static_cast<double>(xr[0]) + m.mean;
    im2[r] = m.m2;
  });
  // Batch statistics per channel: the n instance statistics merged (Chan et al.).
  const std::vector<float> bstd = merged_batch_std(imean, im2, n, c, hw, eps);
  for_each_index(rows, total, total * 4, [&](i64 r, bool nt) {
    const i64 ch = r % c;
    const float* xr = x + r * hw;
    const float istd = static_cast<float>(std::sqrt(im2[r] / static_cast<double>(hw) + eps));
    const float bs = bstd[ch], vc = v[ch], g = gamma[ch], bb = beta[ch];
    const vf vbs = splat(bs), vis = splat(istd), vv = splat(vc), vg = splat(g), vb = splat(bb);
    emit(
        y + r * hw, hw, nt,
        [&](i64 j) {
          const vf xv = load(xr + j);
          return xv / simd::vmax(vbs, vv * xv + vis) * vg + vb;
        },
        [&](i64 j) { return xr[j] / std::max(bs, vc * xr[j] + istd) * g + bb; });
  });
}

void online_norm(const float* x, const float* mu0, const float* var0, const float* gamma,
                 const float* beta, float* y, std::int64_t n, std::int64_t c, std::int64_t hw,
                 float alpha, float eps) {
  if (n <= 0 || c <= 0 || hw <= 0) return;
  const double a = alpha;
  const i64 total = n * c * hw;
  // Sequential over samples, parallel over channels.
  for_each_index(c, total, total * 4, [&](i64 ch, bool nt) {
    double mu = mu0[ch], var = var0[ch];
    const float g = gamma[ch], bb = beta[ch];
    for (i64 t = 0; t < n; ++t) {
      const float* xr = x + (t * c + ch) * hw;
      // Statistics of this sample first, so that y may alias x.
      const Moments m = block_moments(xr, hw);
      const double mt = static_cast<double>(xr[0]) + m.mean;
      const double st = m.m2 / static_cast<double>(hw);
      // mu as an unevaluated float sum hi + lo: x - hi is exact when x is near mu.
      const float hi = static_cast<float>(mu);
      const float lo = static_cast<float>(mu - hi);
      const float s = static_cast<float>(g / std::sqrt(var + eps));
      const vf vhi = splat(hi), vlo = splat(lo), vs = splat(s), vb = splat(bb);
      emit(
          y + (t * c + ch) * hw, hw, nt,
          [&](i64 j) { return ((load(xr + j) - vhi) - vlo) * vs + vb; },
          [&](i64 j) { return ((xr[j] - hi) - lo) * s + bb; });
      const double dm = mt - mu;
      var = a * var + (1.0 - a) * st + a * (1.0 - a) * dm * dm;
      mu = a * mu + (1.0 - a) * mt;
    }
  });
}

}  // namespace opbench::cpu::fast
