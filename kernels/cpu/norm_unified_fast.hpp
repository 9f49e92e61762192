#pragma once
// Internals of cpu.fast Unified Normalization (norm_unified.cpp), on top of the norm family's
// engine: the per-feature affine pass y = x * scale + shift in float32 (columnwise of
// norm_fast_rows.hpp) and in 16-bit storage (the conversions of half_vec.hpp, rows shared out as
// in norm_fast_half_detail.hpp), the per-feature sums of x^2 down the columns, and the sums of a
// window and of its square roots for the outlier threshold.
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "harness/half.hpp"
#include "kernels/cpu/half_vec.hpp"
#include "kernels/cpu/norm_fast_common.hpp"
#include "kernels/cpu/norm_fast_half_detail.hpp"
#include "kernels/cpu/norm_fast_rows.hpp"
#include "kernels/cpu/storage.hpp"

namespace opbench::cpu::fast::unified {

using detail::i64;
using detail::kW;
using detail::load;
using detail::vf;

// kW elements widened to float32 (exact); one element is cpu::widen of storage.hpp.
inline vf load_wide(const float* p) {
  return load(p);
}
template <class T>
inline vf load_wide(const T* p) {
  return half_vec::wv(p);
}

// kW values rounded once into 16-bit storage and written with a non-temporal store to `o`
// (aligned to kW * 2 bytes): nv of half_vec.hpp rounds them into a register-sized buffer, which
// the streaming store then writes (the compiler keeps the buffer in a register).
template <class T>
inline void stream_narrowed(T* o, vf f) {
#if OPBENCH_HAVE_STREAM && (OPBENCH_SIMD_W == 16 || OPBENCH_SIMD_W == 8)
  alignas(64) T buf[kW];
  half_vec::nv(buf, f);
#if OPBENCH_SIMD_W == 16
  _mm256_stream_si256(reinterpret_cast<__m256i*>(o),
                      _mm256_load_si256(reinterpret_cast<const __m256i*>(buf)));
#else
  _mm_stream_si128(reinterpret_cast<__m128i*>(o),
                   _mm_load_si128(reinterpret_cast<const __m128i*>(buf)));
#endif
#else
  half_vec::nv(o, f);
#endif
}

// One row of y = x * scale + shift in 16-bit storage, rounded once per element. With `nt`,
// vectors go out with streaming stores from the first kW-element boundary of y on (a scalar head
// before it), so that a 4096-column row fills whole cache lines without reading them first.
template <class T>
inline void affine_row_half(const T* x, const float* scale, const float* shift, T* y, i64 cols,
                            bool nt) {
  const auto fv = [=](i64 j) { return half_vec::wv(x + j) * load(scale + j) + load(shift + j); };
  const auto fs = [=](i64 j) { return to_float(x[j]) * scale[j] + shift[j]; };
  i64 j = 0;
  if (nt) {
    constexpr std::uintptr_t kAlign = kW * sizeof(T);
    const auto mis = reinterpret_cast<std::uintptr_t>(y) % kAlign;
    const i64 head =
        mis % sizeof(T) != 0
            ? cols  // not even element-aligned: no vector stores
            : std::min<i64>(cols, static_cast<i64>((kAlign - mis) % kAlign / sizeof(T)));
    for (; j < head; ++j) half_detail::put(y[j], fs(j));
    for (; j + kW <= cols; j += kW) stream_narrowed(y + j, fv(j));
  } else {
    for (; j + kW <= cols; j += kW) half_vec::nv(y + j, fv(j));
  }
  for (; j < cols; ++j) half_detail::put(y[j], fs(j));
}

// y[r, j] = x[r, j] * scale[j] + shift[j] over x[rows, cols], the parameters in float32: the
// inference form, and the output pass of the training step. float32: columnwise of the norm
// engine (batchnorm_infer's path). 16-bit: rows taken from a shared counter (Work), streaming
// stores for outputs of kStreamMinBytes and more, as the other 16-bit norms.
inline void affine_columns(const float* x, const float* scale, const float* shift, float* y,
                           i64 rows, i64 cols) {
  detail::columnwise<2>(
      x, y, rows, cols, {scale, shift},
      [](vf xv, const std::array<vf, 2>& p) { return xv * p[0] + p[1]; },
      [](float xs, const std::array<float, 2>& p) { return xs * p[0] + p[1]; });
}
template <class T>
void affine_columns(const T* x, const float* scale, const float* shift, T* y, i64 rows, i64 cols) {
  const bool nt = detail::use_stream(rows * cols * static_cast<i64>(sizeof(T)));
  half_detail::for_rows(rows, cols, [&](half_detail::Work& wk) {
    for (i64 r0, r1; wk.take(r0, r1);)
      for (i64 r = r0; r < r1; ++r)
        affine_row_half(x + r * cols, scale, shift, y + r * cols, cols, nt);
    if (nt) simd::stream_fence();
  });
}

// Per-feature sums of x[r, j]^2 over rows [r0, r1), added to s2[j]: float32 vector accumulators
// over blocks of kBlockRows rows (four rows per sweep over the columns, so each accumulator is
// loaded and stored once per four rows; a block's sum of at most 32 squares has a relative error
// below 32 u), each block added in double. Squares are positive: no cancellation to guard.
constexpr i64 kBlockRows = 32;
template <class T>
void add_column_squares(const T* x, i64 cols, i64 r0, i64 r1, float* acc, double* s2) {
  for (i64 b0 = r0; b0 < r1; b0 += kBlockRows) {
    const i64 b1 = std::min(r1, b0 + kBlockRows);
    std::fill(acc, acc + cols, 0.0f);
    i64 r = b0;
    for (; r + 4 <= b1; r += 4) {
      const T* x0 = x + r * cols;
      const T *x1 = x0 + cols, *x2 = x1 + cols, *x3 = x2 + cols;
      i64 j = 0;
      for (; j + kW <= cols; j += kW) {
        const vf v0 = load_wide(x0 + j), v1 = load_wide(x1 + j), v2 = load_wide(x2 + j),
                 v3 = load_wide(x3 + j);
        simd::store(acc + j, load(acc + j) + ((v0 * v0 + v1 * v1) + (v2 * v2 + v3 * v3)));
      }
      for (; j < cols; ++j) {
        const float v0 = cpu::widen(x0[j]), v1 = cpu::widen(x1[j]), v2 = cpu::widen(x2[j]),
                    v3 = cpu::widen(x3[j]);
        acc[j] += (v0 * v0 + v1 * v1) + (v2 * v2 + v3 * v3);
      }
    }
    for (; r < b1; ++r) {
      const T* x0 = x + r * cols;
      for (i64 j = 0; j < cols; ++j) {
        const float v = cpu::widen(x0[j]);
        acc[j] += v * v;
      }
    }
    for (i64 j = 0; j < cols; ++j) s2[j] += acc[j];
  }
}

// sum_r x[r, j]^2 for every feature j: contiguous row ranges, one per thread, merged in thread
// order (the same sums on every run with the same thread count).
template <class T>
std::vector<double> column_squares(const T* x, i64 rows, i64 cols) {
  const bool par =
      rows > 1 && rows * cols >= detail::kParallelMinElems && omp_get_max_threads() > 1;
  const int nthreads = par ? static_cast<int>(std::min<i64>(omp_get_max_threads(), rows)) : 1;
  std::vector<double> part(static_cast<std::size_t>(nthreads) * cols, 0.0);
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    half_detail::Scratch scratch;
    add_column_squares(x, cols, rows * t / nt, rows * (t + 1) / nt, scratch.at(cols),
                       part.data() + static_cast<std::size_t>(t) * cols);
  }
  std::vector<double> s2(part.begin(), part.begin() + cols);
  for (int t = 1; t < nthreads; ++t)
    for (i64 j = 0; j < cols; ++j) s2[j] += part[static_cast<std::size_t>(t) * cols + j];
  return s2;
}

// sum of w[i] and of sqrt(w[i]) over n float32 values, in double: the square roots in double
// vectors where the CPU has them (AVX-512: 8 per instruction; AVX: 4), four accumulators each.
struct RootSums {
  double w = 0, roots = 0;
};
inline RootSums root_sums(const float* w, i64 n) {
  RootSums s;
  i64 i = 0;
#if defined(__AVX512F__)
  __m512d a[4], r[4];
  for (int k = 0; k < 4; ++k) a[k] = r[k] = _mm512_setzero_pd();
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; ++k) {
      const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(w + i + 8 * k));
      a[k] = _mm512_add_pd(a[k], v);
      r[k] = _mm512_add_pd(r[k], _mm512_sqrt_pd(v));
    }
  s.w = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a[0], a[1]), _mm512_add_pd(a[2], a[3])));
  s.roots =
      _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(r[0], r[1]), _mm512_add_pd(r[2], r[3])));
#elif defined(__AVX__)
  __m256d a[4], r[4];
  for (int k = 0; k < 4; ++k) a[k] = r[k] = _mm256_setzero_pd();
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 4; ++k) {
      const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(w + i + 4 * k));
      a[k] = _mm256_add_pd(a[k], v);
      r[k] = _mm256_add_pd(r[k], _mm256_sqrt_pd(v));
    }
  alignas(32) double ta[4], tr[4];
  _mm256_store_pd(ta, _mm256_add_pd(_mm256_add_pd(a[0], a[1]), _mm256_add_pd(a[2], a[3])));
  _mm256_store_pd(tr, _mm256_add_pd(_mm256_add_pd(r[0], r[1]), _mm256_add_pd(r[2], r[3])));
  s.w = (ta[0] + ta[1]) + (ta[2] + ta[3]);
  s.roots = (tr[0] + tr[1]) + (tr[2] + tr[3]);
#endif
  for (; i < n; ++i) {
    s.w += w[i];
    s.roots += std::sqrt(static_cast<double>(w[i]));
  }
  return s;
}

}  // namespace opbench::cpu::fast::unified
