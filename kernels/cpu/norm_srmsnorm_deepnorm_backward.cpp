// SimpleRMSNorm and DeepNorm backward on the CPU (contract in norm_srmsnorm_deepnorm_backward.hpp).
//
// cpu.fast follows kernels/cpu/norm_backward_fast.cpp: each thread takes one contiguous range of
// rows and walks it in blocks of kRows rows:
//   1. the row sums, one pass over the block's rows from memory, all kRows rows per column vector
//      (srmsnorm: x . dy; deepnorm: sum(g) and sum(g * shat), and dy * shat and dy added into the
//      thread's float32 partial dgamma/dbeta, loaded and stored once per block);
//   2. the outputs of each row of the block, its inputs now from L1/L2, streamed (non-temporal
//      stores) when large, while the next block's rows are prefetched.
// Then the partials of all threads are summed, in thread order and in double: no atomics.
//
// Accuracy. Row sums run in float32 vector accumulators over chunks of kSumChunk columns, chunks
// added in double. deepnorm's s - mean is taken in double, alpha * x + (fx - mean), and rounded
// once: alpha * x is exact there, and so is fx - mean wherever the offset makes them close, so
// shat carries an error relative to itself, where a float32 s would carry one of u |s| (at the
// `offset` scenario's 1e4, alpha 3.8: 3e-3 before the rstd, which dgamma's row sums do not
// average away). ds = rstd (fma(dy, gamma, -mean(g)) - shat mean(g shat)) with mean(g) a float
// pair, as LayerNorm's fast backward: dy * gamma is not rounded before its mean is taken away
// (a constant row: rstd = 1 / sqrt(eps) = 316, shat ~ 0).
#include "kernels/cpu/norm_srmsnorm_deepnorm_backward.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/cpu/norm_backward_rows.hpp"
#include "kernels/cpu/norm_fast_common.hpp"
#include "kernels/cpu/norm_fast_simd.hpp"

namespace opbench::cpu {

// ---- cpu.plain ----------------------------------------------------------------------------------

void plain::srmsnorm_backward(const float* dy, const float* x, const float* r, float* dx,
                              std::int64_t rows, std::int64_t cols, float eps) {
  const double d = static_cast<double>(cols);
  for (std::int64_t i = 0; i < rows; ++i) {
    const float* dyr = dy + i * cols;
    const float* xr = x + i * cols;
    const double ri = r[i], rho = ri - static_cast<double>(eps);
    double xdy = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) xdy += static_cast<double>(xr[j]) * dyr[j];
    const double proj = rho > 0.0 ? xdy / (d * ri * ri * rho) : 0.0;  // 0 on a zero row
    for (std::int64_t j = 0; j < cols; ++j) {
      dx[i * cols + j] = static_cast<float>(dyr[j] / ri - xr[j] * proj);
    }
  }
}

void plain::deepnorm_backward(const float* dy, const float* x, const float* fx, const float* gamma,
                              const float* mean, const float* rstd, float* dx, float* dfx,
                              float* dgamma, float* dbeta, std::int64_t rows, std::int64_t cols,
                              float alpha) {
  std::vector<double> dg(static_cast<std::size_t>(cols), 0.0), db(dg);
  const double n = static_cast<double>(cols), a = alpha;
  for (std::int64_t i = 0; i < rows; ++i) {
    const float* dyr = dy + i * cols;
    const float* xr = x + i * cols;
    const float* fr = fx + i * cols;
    const double m = mean[i], s = rstd[i];
    double sum_g = 0.0, sum_gs = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      const double shat = (a * xr[j] + fr[j] - m) * s;
      const double g = static_cast<double>(dyr[j]) * gamma[j];
      sum_g += g;
      sum_gs += g * shat;
      dg[j] += dyr[j] * shat;
      db[j] += dyr[j];
    }
    for (std::int64_t j = 0; j < cols; ++j) {
      const double shat = (a * xr[j] + fr[j] - m) * s;
      const double g = static_cast<double>(dyr[j]) * gamma[j];
      const double ds = s * (g - sum_g / n - shat * sum_gs / n);
      dfx[i * cols + j] = static_cast<float>(ds);
      dx[i * cols + j] = static_cast<float>(a * ds);
    }
  }
  for (std::int64_t j = 0; j < cols; ++j) {
    dgamma[j] = static_cast<float>(dg[j]);
    dbeta[j] = static_cast<float>(db[j]);
  }
}

// ---- cpu.fast -----------------------------------------------------------------------------------

namespace fast {
// A named namespace: a unity build puts the cpu.fast files in one translation unit.
namespace srms_deep_backward_detail {
namespace {

using detail::emit;
using detail::emit2;
using detail::i64;
using detail::S2;
using detail::V2;
using simd::kW;
using simd::load;
using simd::splat;
using simd::store;
using simd::vf;

// Rows per block and the prefetch of the next block, as in norm_backward_fast.cpp (where 4 rows
// and prefetcht0 measured best at 16384 x 4096 on a 2-core AMD EPYC VM).
constexpr int kRows = 4;
constexpr i64 kSumChunk = 512;  // columns per float32 accumulator chunk of the row sums

using simd::fmadd;

using detail::over_rows;

// Rows [r0, r1): block4(r, prefetch) for each block of kRows rows from r, `prefetch` true when
// rows r + kRows .. r + 2 kRows - 1 are the range's next block; then block1(r) for each row left.
template <class Block4, class Block1>
void blocks(i64 r0, i64 r1, Block4 block4, Block1 block1) {
  i64 r = r0;
  for (; r + kRows <= r1; r += kRows) block4(r, r + 2 * kRows <= r1);
  for (; r < r1; ++r) block1(r);
}

inline void prefetch(const float* p) {
  __builtin_prefetch(p, 0, 3);
}

// ---- srmsnorm_backward --------------------------------------------------------------------------

struct SrmsArgs {
  const float* dy;
  const float* x;
  const float* r;
  float* dx;
  i64 cols;
  double eps;
};

// Pass 1: x . dy of rows r0 .. r0 + R - 1.
template <int R>
void srms_sums(const SrmsArgs& a, i64 r0, double* xdy) {
  const i64 cols = a.cols;
  const float* xr[R];
  const float* dyr[R];
  for (int k = 0; k < R; ++k) {
    xr[k] = a.x + (r0 + k) * cols;
    dyr[k] = a.dy + (r0 + k) * cols;
    xdy[k] = 0.0;
  }
  for (i64 c0 = 0; c0 < cols; c0 += kSumChunk) {
    const i64 c1 = std::min(cols, c0 + kSumChunk);
    vf acc[R];
    for (int k = 0; k < R; ++k) acc[k] = splat(0.0f);
    i64 j = c0;
    for (; j + kW <= c1; j += kW) {
      for (int k = 0; k < R; ++k) acc[k] = fmadd(load(xr[k] + j), load(dyr[k] + j), acc[k]);
    }
    for (int k = 0; k < R; ++k) {
      xdy[k] += simd::hsum(acc[k]);
      for (i64 t = j; t < c1; ++t) xdy[k] += static_cast<double>(xr[k][t]) * dyr[k][t];
    }
  }
}

// Pass 2 of row i: dx = dy / r - x * proj, proj = (x . dy) / (d r^2 rho), 0 where rho <= 0.
// Prefetches the same columns of the row kRows further, unless pf_x is null.
void srms_dx(const SrmsArgs& a, i64 i, double xdy, bool nt, const float* pf_x, const float* pf_dy) {
  const i64 cols = a.cols;
  const double r = a.r[i], rho = r - a.eps;
  const float inv = static_cast<float>(1.0 / r);
  const float proj =
      rho > 0.0 ? static_cast<float>(xdy / (static_cast<double>(cols) * r * r * rho)) : 0.0f;
  const float* xr = a.x + i * cols;
  const float* dyr = a.dy + i * cols;
  const vf vinv = splat(inv), vproj = splat(-proj);
  emit(
      a.dx + i * cols, cols, nt,
      [&](i64 j) {
        if (pf_x != nullptr && j % 16 == 0) {
          prefetch(pf_x + j);
          prefetch(pf_dy + j);
        }
        return fmadd(load(xr + j), vproj, load(dyr + j) * vinv);
      },
      [&](i64 j) { return std::fma(xr[j], -proj, dyr[j] * inv); });
}

template <int R>
void srms_block(const SrmsArgs& a, i64 r0, bool nt, bool pf) {
  double xdy[R];
  srms_sums<R>(a, r0, xdy);
  for (int k = 0; k < R; ++k) {
    const i64 next = (r0 + k + R) * a.cols;
    srms_dx(a, r0 + k, xdy[k], nt, pf ? a.x + next : nullptr, pf ? a.dy + next : nullptr);
  }
}

// ---- deepnorm_backward --------------------------------------------------------------------------

typedef double vd __attribute__((vector_size(kW * sizeof(double))));

inline vd splat_d(double v) {
  return vd{} + v;
}

// s - mean = alpha x + (fx - mean) in double, rounded once (see the top of the file).
inline vf centered(vf x, vf fx, vd alpha, vd mean) {
  return __builtin_convertvector(
      __builtin_convertvector(x, vd) * alpha + (__builtin_convertvector(fx, vd) - mean), vf);
}
inline float centered(float x, float fx, double alpha, double mean) {
  return static_cast<float>(alpha * x + (fx - mean));
}

struct DeepArgs {
  const float* dy;
  const float* x;
  const float* fx;
  const float* gamma;
  const float* mean;
  const float* rstd;
  float* dx;
  float* dfx;
  i64 cols;
  float alpha;
};

// Pass 1 for rows r0 .. r0 + R - 1: their sums of g and g * shat, in double, and their dy * shat
// and dy added into the partials pdg, pdb (row order: deterministic).
template <int R>
void deep_sums(const DeepArgs& a, i64 r0, float* pdg, float* pdb, double* sg, double* sgs) {
  const i64 cols = a.cols;
  const float* xr[R];
  const float* fr[R];
  const float* dyr[R];
  vd vm[R];
  vf vs[R];
  const vd va = splat_d(a.alpha);
  for (int k = 0; k < R; ++k) {
    xr[k] = a.x + (r0 + k) * cols;
    fr[k] = a.fx + (r0 + k) * cols;
    dyr[k] = a.dy + (r0 + k) * cols;
    vm[k] = splat_d(a.mean[r0 + k]);
    vs[k] = splat(a.rstd[r0 + k]);
    sg[k] = sgs[k] = 0.0;
  }
  for (i64 c0 = 0; c0 < cols; c0 += kSumChunk) {
    const i64 c1 = std::min(cols, c0 + kSumChunk);
    vf ag[R], ags[R];
    for (int k = 0; k < R; ++k) ag[k] = ags[k] = splat(0.0f);
    i64 j = c0;
    for (; j + kW <= c1; j += kW) {
      const vf gm = load(a.gamma + j);
      vf dg = load(pdg + j), db = load(pdb + j);
      for (int k = 0; k < R; ++k) {
        const vf d = load(dyr[k] + j);
        const vf h = centered(load(xr[k] + j), load(fr[k] + j), va, vm[k]) * vs[k];
        ag[k] = fmadd(d, gm, ag[k]);  // g unrounded into the sum
        ags[k] = fmadd(d * gm, h, ags[k]);
        dg = fmadd(d, h, dg);
        db += d;
      }
      store(pdg + j, dg);
      store(pdb + j, db);
    }
    for (int k = 0; k < R; ++k) {
      sg[k] += simd::hsum(ag[k]);
      sgs[k] += simd::hsum(ags[k]);
    }
    for (; j < c1; ++j) {  // the last columns of the chunk, fewer than a vector
      float dg = pdg[j], db = pdb[j];
      for (int k = 0; k < R; ++k) {
        const float d = dyr[k][j];
        const float h = centered(xr[k][j], fr[k][j], a.alpha, a.mean[r0 + k]) * a.rstd[r0 + k];
        const double g = static_cast<double>(d) * a.gamma[j];  // exact
        sg[k] += g;
        sgs[k] += g * h;
        dg = std::fma(d, h, dg);
        db += d;
      }
      pdg[j] = dg;
      pdb[j] = db;
    }
  }
}

// Pass 2 of row i: ds = rstd (fma(dy, gamma, -mean(g)) - shat mean(g shat)), dfx = ds,
// dx = alpha ds, shat recomputed from x and fx in cache (keeping pass 1's shat in a scratch block
// measured no faster, in cache on one thread: the double arithmetic is not what limits). mean(g)
// as a float pair hi + lo: fma(dy, gamma, -hi) - lo cancels exactly where g equals its mean.
// Prefetches the same columns of the row kRows further (the next block's), unless pf is false.
void deep_dx(const DeepArgs& a, i64 i, double sg, double sgs, bool nt, bool pf) {
  const i64 cols = a.cols;
  const double n = static_cast<double>(cols);
  const double mg = sg / n;
  const float mg_hi = static_cast<float>(mg);
  const float mg_lo = static_cast<float>(mg - mg_hi), mgs = static_cast<float>(sgs / n);
  const float s = a.rstd[i], m = a.mean[i], alpha = a.alpha;
  const float* xr = a.x + i * cols;
  const float* fr = a.fx + i * cols;
  const float* dyr = a.dy + i * cols;
  const i64 ahead = kRows * cols;
  const vd va = splat_d(alpha), vm = splat_d(m);
  const vf vs = splat(s), vmg_hi = splat(-mg_hi), vmg_lo = splat(mg_lo), vmgs = splat(-mgs),
           valpha = splat(alpha);
  emit2(
      a.dx + i * cols, a.dfx + i * cols, cols, nt,
      [&](i64 j) {
        if (pf && j % 16 == 0) {
          prefetch(xr + ahead + j);
          prefetch(fr + ahead + j);
          prefetch(dyr + ahead + j);
        }
        const vf sh = centered(load(xr + j), load(fr + j), va, vm) * vs;
        const vf t = fmadd(load(dyr + j), load(a.gamma + j), vmg_hi) - vmg_lo;
        const vf ds = fmadd(sh, vmgs, t) * vs;
        return V2{valpha * ds, ds};
      },
      [&](i64 j) {
        const float sh = centered(xr[j], fr[j], alpha, m) * s;
        const float t = std::fma(dyr[j], a.gamma[j], -mg_hi) - mg_lo;
        const float ds = std::fma(sh, -mgs, t) * s;
        return S2{alpha * ds, ds};
      });
}

template <int R>
void deep_block(const DeepArgs& a, i64 r0, float* pdg, float* pdb, bool nt, bool pf) {
  double sg[R], sgs[R];
  deep_sums<R>(a, r0, pdg, pdb, sg, sgs);
  for (int k = 0; k < R; ++k) deep_dx(a, r0 + k, sg[k], sgs[k], nt, pf);
}

}  // namespace
}  // namespace srms_deep_backward_detail

void srmsnorm_backward(const float* dy, const float* x, const float* r, float* dx,
                       std::int64_t rows, std::int64_t cols, float eps) {
  using namespace srms_deep_backward_detail;
  if (rows <= 0 || cols <= 0) return;
  const SrmsArgs a{dy, x, r, dx, cols, static_cast<double>(eps)};
  const bool nt = detail::use_stream(rows * cols * static_cast<i64>(sizeof(float)));
  over_rows<0>(rows, cols, {}, [&](i64 r0, i64 r1, float*, i64) {
    blocks(
        r0, r1, [&](i64 b, bool pf) { srms_block<kRows>(a, b, nt, pf); },
        [&](i64 b) { srms_block<1>(a, b, nt, false); });
    if (nt) simd::stream_fence();
  });
}

void deepnorm_backward(const float* dy, const float* x, const float* fx, const float* gamma,
                       const float* mean, const float* rstd, float* dx, float* dfx, float* dgamma,
                       float* dbeta, std::int64_t rows, std::int64_t cols, float alpha) {
  using namespace srms_deep_backward_detail;
  if (cols <= 0) return;
  if (rows <= 0) {
    std::fill(dgamma, dgamma + cols, 0.0f);
    std::fill(dbeta, dbeta + cols, 0.0f);
    return;
  }
  const DeepArgs a{dy, x, fx, gamma, mean, rstd, dx, dfx, cols, alpha};
  const bool nt = detail::use_stream(2 * rows * cols * static_cast<i64>(sizeof(float)));
  over_rows<2>(rows, cols, {dgamma, dbeta}, [&](i64 r0, i64 r1, float* part, i64 stride) {
    float* pdg = part;
    float* pdb = part + stride;
    blocks(
        r0, r1, [&](i64 b, bool pf) { deep_block<kRows>(a, b, pdg, pdb, nt, pf); },
        [&](i64 b) { deep_block<1>(a, b, pdg, pdb, nt, false); });
    if (nt) simd::stream_fence();
  });
}

}  // namespace fast

}  // namespace opbench::cpu
