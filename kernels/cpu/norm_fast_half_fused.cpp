// cpu.fast DyT and the residual-add LayerNorm / RMSNorm with 16-bit storage (bfloat16, binary16).
//
// DyT: y = gamma * tanh(alpha * x) + beta (Zhu et al. 2025), tanh by the float32 kernel's rational
// approximation (simd::vtanh). add_layernorm / add_rmsnorm: sum = x + residual is written out and
// y = LayerNorm(sum) or RMSNorm(sum), as cpu.plain and the reference define them: the statistics
// and y follow the sum x + residual itself, not its rounding to the storage type (under a large
// common offset the rounded sum is off by up to half the dtype's spacing there, 32 for bfloat16 at
// 1e4, several standard deviations of the row).
//
// Loads are widened to float32 and all arithmetic is float32; each output is rounded once, to
// nearest even, from its float32 value. The sum of two 16-bit values is exact in float32 unless
// their exponents are far apart (|r| < 2^-13 |x| for binary16, less for bfloat16); then x + r
// lies closer to x than any midpoint between neighbours of the dtype does, with room for
// float32's rounding, so the float32 sum rounds to the same value as the exact one: the stored
// sum is the exact sum rounded once, bit for bit cpu.plain's (the tests check it). Row
// statistics as in the float32 kernels (norm_fast_moments.hpp): shifted sums (LayerNorm: about
// the row's first sum) in float32 vectors per chunk, merged in double, the corrected two-pass
// formula when the shift is an outlier.
//
// One path, portable: float32 arithmetic in the GCC vector type of norm_fast_simd.hpp and the
// conversions of harness/half.hpp done kW lanes at a time (wv, nv), whatever -march gives; this
// file has no run-time dispatch and no AVX-512 path of its own, so these kernels take it whatever
// half_path() reports for LayerNorm and RMSNorm. add_*: each row's sums go to float32 scratch
// (x and residual read once), their statistics are taken there (L1/L2), then sum and y are
// rounded from it. DyT: one pass per row (bfloat16: two, see dyt_rows). The rows are shared out
// as in norm_fast_half.cpp (Work).
//
// Measured at 4096 x 4096 with a standalone loop on a 2-core AMD EPYC VM shared with other jobs
// (AVX2; GCC tuned for Zen 1, whose own vectorization of scalar loops is 128-bit), medians of 7,
// one thread (two gave the same times, the second core being busy): add_layernorm 33 ms bf16,
// 25 ms f16; add_rmsnorm 29, 23; dyt 35-41, 29. A first version with the scalar loops of the
// portable LayerNorm took 56, 50 / 48, 36 / 40, 40: its statistics (sums_portable) were a third
// of a row's time, its binary16 conversions scalar.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/half_vec.hpp"
#include "kernels/cpu/norm_fast_half.hpp"
#include "kernels/cpu/norm_fast_half_detail.hpp"

namespace opbench::cpu::fast {
namespace {

using detail::i64;
using detail::kChunk;
using detail::kW;
using detail::load;
using detail::splat;
using detail::vf;
using half_detail::Params;
using half_detail::Scratch;
using half_detail::Work;
using half_vec::emit;
using half_vec::nv;
using half_vec::wv;

// LayerNorm's (kLN) or RMSNorm's parameters of a float32 row by the float32 kernels' statistics
// (norm_fast_moments.hpp: vf accumulators per chunk, merged in double; LayerNorm about the row's
// first element, with the two-pass guard), which the compiler keeps in full-width vectors where
// the scalar loops of sums_portable became 128-bit ones, a third of the time of a row.
template <bool kLN>
Params row_params(const float* s, i64 n, float eps) {
  if constexpr (kLN) {
    const detail::Moments m = detail::block_moments(s, n);
    const float rstd = detail::rsqrt_d(m.m2 / static_cast<double>(n) + eps);
    return {s[0], rstd, static_cast<float>(-m.mean * rstd)};
  } else {
    detail::Sums sums;
    for (i64 c0 = 0; c0 < n; c0 += kChunk) {
      float f1, f2;
      detail::chunk_sums(
          c0, std::min(n, c0 + kChunk), [=](i64 j) { return load(s + j); },
          [=](i64 j) { return s[j]; }, f1, f2);
      sums.s2 += f2;
    }
    return half_detail::rms_params(sums, n, eps);
  }
}

template <class T>
void dyt_rows(const T* x, float alpha, const T* gamma, const T* beta, T* y, i64 n, Work& wk) {
  Scratch sg, sb, st;
  float* g = sg.at(n);
  float* b = sb.at(n);
  float* t = std::is_same_v<T, f16_t> ? nullptr : st.at(n);  // bfloat16: the row's outputs
  for (i64 j = 0; j < n; ++j) {
    g[j] = to_float(gamma[j]);
    b[j] = to_float(beta[j]);
  }
  const vf va = splat(alpha);
  for (i64 r0, r1; wk.take(r0, r1);) {
    for (i64 r = r0; r < r1; ++r) {
      const T* xr = x + r * n;
      const auto fv = [&](i64 j) {
        return load(g + j) * simd::vtanh(va * wv(xr + j)) + load(b + j);
      };
      const auto fs = [&](i64 j) { return g[j] * simd::stanh(alpha * to_float(xr[j])) + b[j]; };
      if constexpr (std::is_same_v<T, f16_t>) {
        emit(y + r * n, n, fv, fs);  // element by element: each vector is read, then stored
      } else {
        // Two passes, the second from L1: bfloat16's integer rounding in the loop of the
        // rational tanh left too few registers (spills; 1.2 times the time on one core, where
        // binary16's one-instruction rounding is faster in one pass).
        i64 j = 0;
        for (; j + kW <= n; j += kW) simd::store(t + j, fv(j));
        for (; j < n; ++j) t[j] = fs(j);
        emit(
            y + r * n, n, [&](i64 k) { return load(t + k); }, [&](i64 k) { return t[k]; });
      }
    }
  }
}

// Residual add then LayerNorm (kLN, beta used) or RMSNorm over rows of n elements.
template <class T, bool kLN>
void add_norm_rows(const T* x, const T* res, const T* gamma, const T* beta, T* sum, T* y, i64 n,
                   float eps, Work& wk) {
  Scratch sg, sb, ss;
  float* g = sg.at(n);
  float* b = kLN ? sb.at(n) : nullptr;
  float* s = ss.at(n);  // the row's sums, before any store: x or residual may alias sum or y
  for (i64 j = 0; j < n; ++j) {
    g[j] = to_float(gamma[j]);
    if constexpr (kLN) b[j] = to_float(beta[j]);
  }
  for (i64 r0, r1; wk.take(r0, r1);) {
    for (i64 r = r0; r < r1; ++r) {
      const T* xr = x + r * n;
      const T* rr = res + r * n;
      i64 j = 0;
      for (; j + kW <= n; j += kW) simd::store(s + j, wv(xr + j) + wv(rr + j));
      for (; j < n; ++j) s[j] = to_float(xr[j]) + to_float(rr[j]);
      const Params p = row_params<kLN>(s, n, eps);
      emit(
          sum + r * n, n, [&](i64 k) { return load(s + k); }, [&](i64 k) { return s[k]; });
      const vf sh = splat(p.sh), rstd = splat(p.rstd), nmr = splat(p.nmr);
      if constexpr (kLN) {
        emit(
            y + r * n, n,
            [&](i64 k) { return ((load(s + k) - sh) * rstd + nmr) * load(g + k) + load(b + k); },
            [&](i64 k) { return ((s[k] - p.sh) * p.rstd + p.nmr) * g[k] + b[k]; });
      } else {
        emit(
            y + r * n, n, [&](i64 k) { return load(s + k) * rstd * load(g + k); },
            [&](i64 k) { return s[k] * p.rstd * g[k]; });
      }
    }
  }
}

template <class T>
void run_dyt(const T* x, float alpha, const T* gamma, const T* beta, T* y, i64 rows, i64 cols) {
  if (rows <= 0 || cols <= 0) return;
  half_detail::for_rows(rows, cols,
                        [&](Work& wk) { dyt_rows(x, alpha, gamma, beta, y, cols, wk); });
}

template <class T, bool kLN>
void run_add(const T* x, const T* res, const T* gamma, const T* beta, T* sum, T* y, i64 rows,
             i64 cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  half_detail::for_rows(rows, cols, [&](Work& wk) {
    add_norm_rows<T, kLN>(x, res, gamma, beta, sum, y, cols, eps, wk);
  });
}

}  // namespace

void dyt(const bf16_t* x, float alpha, const bf16_t* gamma, const bf16_t* beta, bf16_t* y,
         std::int64_t rows, std::int64_t cols) {
  run_dyt(x, alpha, gamma, beta, y, rows, cols);
}
void dyt(const f16_t* x, float alpha, const f16_t* gamma, const f16_t* beta, f16_t* y,
         std::int64_t rows, std::int64_t cols) {
  run_dyt(x, alpha, gamma, beta, y, rows, cols);
}

void add_layernorm(const bf16_t* x, const bf16_t* residual, const bf16_t* gamma, const bf16_t* beta,
                   bf16_t* sum, bf16_t* y, std::int64_t rows, std::int64_t cols, float eps) {
  run_add<bf16_t, true>(x, residual, gamma, beta, sum, y, rows, cols, eps);
}
void add_layernorm(const f16_t* x, const f16_t* residual, const f16_t* gamma, const f16_t* beta,
                   f16_t* sum, f16_t* y, std::int64_t rows, std::int64_t cols, float eps) {
  run_add<f16_t, true>(x, residual, gamma, beta, sum, y, rows, cols, eps);
}

void add_rmsnorm(const bf16_t* x, const bf16_t* residual, const bf16_t* gamma, bf16_t* sum,
                 bf16_t* y, std::int64_t rows, std::int64_t cols, float eps) {
  run_add<bf16_t, false>(x, residual, gamma, nullptr, sum, y, rows, cols, eps);
}
void add_rmsnorm(const f16_t* x, const f16_t* residual, const f16_t* gamma, f16_t* sum, f16_t* y,
                 std::int64_t rows, std::int64_t cols, float eps) {
  run_add<f16_t, false>(x, residual, gamma, nullptr, sum, y, rows, cols, eps);
}

}  // namespace opbench::cpu::fast
