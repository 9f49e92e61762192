// cpu.fast: LayerNorm and RMSNorm backward (contract in norm_backward_fast.hpp).
//
// One kernel serves both ops (RMSNorm is LayerNorm with mean = 0 and no mean(g) term). Rows are
// split into one contiguous range per OpenMP thread and walked in blocks of kRows rows:
//   1. the row sums: one pass over the block's rows of x and dy from memory, all kRows rows per
//      column vector, giving sum(g) and sum(g * xhat) of each row, and adding dy * xhat and dy of
//      the block into the thread's float32 partial dgamma/dbeta (loaded and stored once per block
//      instead of once per row);
//   2. dx of each row of the block, x and dy now from L1/L2 (kRows x 2 x 16 KiB at 4096 columns),
//      written with non-temporal stores when large (no read-for-ownership), while the next
//      block's rows are prefetched (software prefetch, one line per 16 floats).
// Then the partials of all threads are summed, in thread order and in double, into dgamma and
// dbeta: deterministic for a fixed thread count, no atomics.
//
// Accuracy: the row sums run in float32 vector accumulators over chunks of kSumChunk columns,
// chunks added in double; sum(g) adds the unrounded products dy * gamma (fma). Then
// dx = rstd * (fma(dy, gamma, -mean(g)) - xhat * mean(g * xhat)), with mean(g) a float pair: the
// product dy * gamma is not rounded before mean(g) is subtracted, so where rstd is huge (a constant
// row: rstd = 1 / sqrt(eps), xhat = 0 exactly) the error stays relative to dx, not to rstd * g
// (rounding g first missed 1e-5 + 1e-4 |dx| wherever g was close to its mean).
#include "kernels/cpu/norm_backward_fast.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/cpu/norm_backward_rows.hpp"
#include "kernels/cpu/norm_fast_common.hpp"
#include "kernels/cpu/norm_fast_simd.hpp"

namespace opbench::cpu::fast {
// A named namespace (not only an anonymous one): a unity build puts this file in one translation
// unit with the other cpu.fast files, whose private helpers share names such as `block`.
namespace norm_backward_detail {
namespace {

using detail::emit;
using detail::i64;
using simd::kW;
using simd::load;
using simd::splat;
using simd::store;
using simd::vf;

// Rows whose sums are taken in one pass (see the top of the file). Measured at 16384 x 4096 on a
// 2-core AMD EPYC VM (AVX-512 build, copy ceiling 47-58 GB/s), fraction of the copy ceiling
// before the prefetches: 1 row 0.56, 2 rows 0.67, 4 rows 0.77, 8 rows 0.76. With the prefetch of
// the next block's rows (prefetcht0) 4 rows went to 0.93-0.95 (prefetcht1: 0.90; prefetching two
// blocks ahead: 0.91); without non-temporal stores for dx, 0.82. Forward LayerNorm's prefetches
// cost 16-21% on a host with a faster copy (norm_fast_rows.hpp): measure again on a new host.
constexpr int kRows = 4;
// Columns per float32 accumulator chunk of the row sums.
constexpr i64 kSumChunk = 512;

using simd::fmadd;

// Pointers and statistics of one call; LN = false is RMSNorm (mean 0, no dbeta, no mean(g)).
struct Args {
  const float* dy;
  const float* x;
  const float* gamma;
  const float* mean;  // null for RMSNorm
  const float* rstd;
  const float* dsum;  // the fused residual add's gradient, added into dx; null for a plain norm
  float* dx;
  i64 cols;
};

// Pass 1 for rows r0 .. r0 + R - 1: their sums of g (LayerNorm only) and of g * xhat, in double,
// and their dy * xhat and dy added into the partials pdg, pdb (row order: deterministic).
template <int R, bool LN>
void row_sums(const Args& a, i64 r0, float* pdg, float* pdb, double* sg, double* sgx) {
  const i64 cols = a.cols;
  const float* xr[R];
  const float* dyr[R];
  vf vm[R], vs[R];
  float m[R], s[R];
  for (int k = 0; k < R; ++k) {
    xr[k] = a.x + (r0 + k) * cols;
    dyr[k] = a.dy + (r0 + k) * cols;
    m[k] = LN ? a.mean[r0 + k] : 0.0f;
    s[k] = a.rstd[r0 + k];
    vm[k] = splat(m[k]);
    vs[k] = splat(s[k]);
    sg[k] = sgx[k] = 0.0;
  }
  for (i64 c0 = 0; c0 < cols; c0 += kSumChunk) {
    const i64 c1 = std::min(cols, c0 + kSumChunk);
    vf ag[R], agx[R];
    for (int k = 0; k < R; ++k) ag[k] = agx[k] = splat(0.0f);
    i64 j = c0;
    for (; j + kW <= c1; j += kW) {
      const vf gm = load(a.gamma + j);
      vf dg = load(pdg + j);
      vf db = LN ? load(pdb + j) : vf{};
      for (int k = 0; k < R; ++k) {
        const vf d = load(dyr[k] + j);
        const vf xh = (load(xr[k] + j) - vm[k]) * vs[k];
        if constexpr (LN) ag[k] = fmadd(d, gm, ag[k]);  // g unrounded into the sum
        const vf g = d * gm;
        agx[k] = fmadd(g, xh, agx[k]);
        dg = fmadd(d, xh, dg);
        if constexpr (LN) db += d;
      }
      store(pdg + j, dg);
      if constexpr (LN) store(pdb + j, db);
    }
    for (int k = 0; k < R; ++k) {
      sg[k] += LN ? simd::hsum(ag[k]) : 0.0f;
      sgx[k] += simd::hsum(agx[k]);
    }
    for (; j < c1; ++j) {  // the last columns of the row, fewer than a vector
      float dg = pdg[j], db = LN ? pdb[j] : 0.0f;
      for (int k = 0; k < R; ++k) {
        const float d = dyr[k][j];
        const float xh = (xr[k][j] - m[k]) * s[k];
        const double g = static_cast<double>(d) * a.gamma[j];  // exact
        if constexpr (LN) sg[k] += g;
        sgx[k] += g * xh;
        dg = std::fma(d, xh, dg);
        db += d;
      }
      pdg[j] = dg;
      if constexpr (LN) pdb[j] = db;
    }
  }
}

// Pass 2 for row r: dx = rstd * (fma(dy, gamma, -mean(g)) - xhat * mean(g * xhat)), plus dsum
// after a residual add (ADD), in the same pass: no second read and write of dx. While it runs
// on x and dy from cache, it prefetches the same columns of the row kRows further (the next
// block's), one cache line per 16 floats, unless pf_x is null.
template <bool LN, bool ADD>
void row_dx(const Args& a, i64 r, double sg, double sgx, bool nt, const float* pf_x,
            const float* pf_dy) {
  const i64 cols = a.cols;
  const double n = static_cast<double>(cols);
  const float m = LN ? a.mean[r] : 0.0f, s = a.rstd[r];
  // mean(g) as a float pair hi + lo: fma(dy, gamma, -hi) - lo cancels exactly where g equals its
  // mean (one column: dx = 0 exactly, whatever rstd is).
  const double mg = sg / n;
  const float mg_hi = static_cast<float>(mg);
  const float mg_lo = static_cast<float>(mg - mg_hi), mgx = static_cast<float>(sgx / n);
  const float* xr = a.x + r * cols;
  const float* dyr = a.dy + r * cols;
  const float* dsr = ADD ? a.dsum + r * cols : nullptr;
  const vf vm = splat(m), vs = splat(s), vmg_hi = splat(-mg_hi), vmg_lo = splat(mg_lo),
           vmgx = splat(-mgx);
  emit(
      a.dx + r * cols, cols, nt,
      [&](i64 j) {
        if (pf_x != nullptr && j % 16 == 0) {
          __builtin_prefetch(pf_x + j, 0, 3);
          __builtin_prefetch(pf_dy + j, 0, 3);
        }
        const vf xh = (load(xr + j) - vm) * vs;
        const vf t = fmadd(load(dyr + j), load(a.gamma + j), vmg_hi) - vmg_lo;
        if constexpr (ADD) return fmadd(fmadd(xh, vmgx, t), vs, load(dsr + j));
        return fmadd(xh, vmgx, t) * vs;
      },
      [&](i64 j) {
        const float xh = (xr[j] - m) * s;
        const float t = std::fma(dyr[j], a.gamma[j], -mg_hi) - mg_lo;
        if constexpr (ADD) return std::fma(std::fma(xh, -mgx, t), s, dsr[j]);
        return std::fma(xh, -mgx, t) * s;
      });
}

// Rows r0 .. r0 + R - 1; `prefetch`: whether rows r0 + R .. r0 + 2R - 1 are this thread's next.
template <int R, bool LN, bool ADD>
void block(const Args& a, i64 r0, float* pdg, float* pdb, bool nt, bool prefetch) {
  double sg[R], sgx[R];
  row_sums<R, LN>(a, r0, pdg, pdb, sg, sgx);
  for (int k = 0; k < R; ++k) {
    const i64 next = (r0 + k + R) * a.cols;
    row_dx<LN, ADD>(a, r0 + k, sg[k], sgx[k], nt, prefetch ? a.x + next : nullptr,
                    prefetch ? a.dy + next : nullptr);
  }
}

// Rows [r0, r1) on one thread: blocks of kRows, then the rows left over one by one.
template <bool LN, bool ADD>
void rows_range(const Args& a, i64 r0, i64 r1, float* pdg, float* pdb, bool nt) {
  i64 r = r0;
  for (; r + kRows <= r1; r += kRows) {
    block<kRows, LN, ADD>(a, r, pdg, pdb, nt, r + 2 * kRows <= r1);
  }
  for (; r < r1; ++r) block<1, LN, ADD>(a, r, pdg, pdb, nt, false);
}

// One partial dgamma and dbeta per thread (detail::over_rows), summed in thread order.
template <bool LN, bool ADD>
void backward(const Args& a, float* dgamma, float* dbeta, i64 rows) {
  const bool nt = detail::use_stream(rows * a.cols * static_cast<i64>(sizeof(float)));
  detail::over_rows<2>(rows, a.cols, {dgamma, LN ? dbeta : nullptr},
                       [&](i64 r0, i64 r1, float* part, i64 stride) {
                         rows_range<LN, ADD>(a, r0, r1, part, part + stride, nt);
                         if (nt) simd::stream_fence();
                       });
}

}  // namespace
}  // namespace norm_backward_detail

using norm_backward_detail::Args;
using norm_backward_detail::backward;

namespace {
// Both LayerNorm entry points (with and without the residual's dsum), rows <= 0 included.
template <bool ADD>
void layernorm_entry(const Args& a, float* dgamma, float* dbeta, std::int64_t rows) {
  if (a.cols <= 0) return;
  if (rows <= 0) {
    std::fill(dgamma, dgamma + a.cols, 0.0f);
    std::fill(dbeta, dbeta + a.cols, 0.0f);
    return;
  }
  backward<true, ADD>(a, dgamma, dbeta, rows);
}
template <bool ADD>
void rmsnorm_entry(const Args& a, float* dgamma, std::int64_t rows) {
  if (a.cols <= 0) return;
  if (rows <= 0) {
    std::fill(dgamma, dgamma + a.cols, 0.0f);
    return;
  }
  backward<false, ADD>(a, dgamma, nullptr, rows);
}
}  // namespace

void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                        const float* rstd, float* dx, float* dgamma, float* dbeta,
                        std::int64_t rows, std::int64_t cols) {
  layernorm_entry<false>(Args{dy, x, gamma, mean, rstd, nullptr, dx, cols}, dgamma, dbeta, rows);
}

void rmsnorm_backward(const float* dy, const float* x, const float* gamma, const float* rstd,
                      float* dx, float* dgamma, std::int64_t rows, std::int64_t cols) {
  rmsnorm_entry<false>(Args{dy, x, gamma, nullptr, rstd, nullptr, dx, cols}, dgamma, rows);
}

void layernorm_backward_add(const float* dy, const float* dsum, const float* x, const float* gamma,
                            const float* mean, const float* rstd, float* dx, float* dgamma,
                            float* dbeta, std::int64_t rows, std::int64_t cols) {
  layernorm_entry<true>(Args{dy, x, gamma, mean, rstd, dsum, dx, cols}, dgamma, dbeta, rows);
}

void rmsnorm_backward_add(const float* dy, const float* dsum, const float* x, const float* gamma,
                          const float* rstd, float* dx, float* dgamma, std::int64_t rows,
                          std::int64_t cols) {
  rmsnorm_entry<true>(Args{dy, x, gamma, nullptr, rstd, dsum, dx, cols}, dgamma, rows);
}

}  // namespace opbench::cpu::fast
