#pragma once
// Internals of cpu.fast Unified Normalization (norm_unified.cpp), on top of the norm family's
// engine: the per-feature affine pass y = x * scale + shift in float32 (columnwise of
// norm_fast_rows.hpp) and in 16-bit storage (the conversions of half_vec.hpp, 64-byte streamed
// lines), the per-feature sums of x^2 down the columns, and the sums of a
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

// With AVX-512: a whole 64-byte line (two vectors of 16) rounded in registers and written by one
// streaming store. Two 32-byte halves through nv's buffer cannot be joined without a store
// forwarding stall, and two 32-byte streaming stores per line took 1.05-1.15 times as long as one
// (measurements below). The rounding is half_vec::nv's, kept in a register: bfloat16 ties to even
// with NaN made quiet, binary16 by vcvtps2ph. (A 64-byte line helper in half_vec.hpp would serve
// every 16-bit kernel; kept here for now.)
#if OPBENCH_HAVE_STREAM && OPBENCH_SIMD_W == 16
constexpr bool kLineStores = true;
inline __m256i rounded_bits(bf16_t, vf f) {
  const half_vec::vu b = reinterpret_cast<half_vec::vu>(f);
  const half_vec::vu r = b + 0x7FFFu + ((b >> 16) & 1u);
  const half_vec::vu q = f != f ? (b | 0x00400000u) : r;
  return reinterpret_cast<__m256i>(__builtin_convertvector(q >> 16, half_vec::vh));
}
inline __m256i rounded_bits(f16_t, vf f) {
  return _mm512_cvtps_ph(reinterpret_cast<__m512>(f), _MM_FROUND_TO_NEAREST_INT);
}
template <class T>
inline void stream_line(T* o, vf lo, vf hi) {
  const __m512i line =
      _mm512_inserti64x4(_mm512_castsi256_si512(rounded_bits(T{}, lo)), rounded_bits(T{}, hi), 1);
  _mm512_stream_si512(reinterpret_cast<__m512i*>(o), line);
}
#else
constexpr bool kLineStores = false;
template <class T>
inline void stream_line(T* o, vf lo, vf hi) {
  stream_narrowed(o, lo);
  stream_narrowed(o + kW, hi);
}
#endif

// One row of y = x * scale + shift in 16-bit storage, rounded once per element: the path of rows
// that do not start on a cache line (or small outputs). With `nt`, from the first 64-byte boundary
// of y on (a scalar head before it) whole lines go out with streaming stores, so that a row fills
// its cache lines without reading them first, and x is prefetched kPrefetch elements ahead (past
// the row's end: the next row's; past x's end nothing faults), as the 16-bit LayerNorm does
// (norm_fast_half.cpp). At 16384 x 4096 bf16, alternating calls on this shared 2-core VM (median
// of 15, three runs, OMP_WAIT_POLICY=active as opbench sets it), one row at a time: rows from a
// shared counter, two 32-byte streaming stores per line, no prefetch 13.9-14.6 ms; contiguous
// rows per thread with the prefetch 11.9-12.3; with one 64-byte store per line as well
// 10.7-11.5; LayerNorm's cpu.fast 9.7-11.8.
constexpr i64 kPrefetch = 512;
template <class T>
inline void affine_row_half(const T* x, const float* scale, const float* shift, T* y, i64 cols,
                            bool nt) {
  const auto fv = [=](i64 j) { return half_vec::wv(x + j) * load(scale + j) + load(shift + j); };
  const auto fs = [=](i64 j) { return to_float(x[j]) * scale[j] + shift[j]; };
  i64 j = 0;
  if (nt) {
    constexpr i64 kLine = 64 / sizeof(T);
    const auto mis = reinterpret_cast<std::uintptr_t>(y) % 64;
    const i64 head = mis % sizeof(T) != 0
                         ? cols  // not even element-aligned: no vector stores
                         : std::min<i64>(cols, static_cast<i64>((64 - mis) % 64 / sizeof(T)));
    for (; j < head; ++j) half_detail::put(y[j], fs(j));
    for (; j + kLine <= cols; j += kLine) {
      __builtin_prefetch(x + j + kPrefetch, 0, 3);
      if constexpr (kLineStores) {
        stream_line(y + j, fv(j), fv(j + kW));
      } else {
        for (i64 k = 0; k < kLine; k += kW) stream_narrowed(y + j + k, fv(j + k));
      }
    }
    for (; j + kW <= cols; j += kW) stream_narrowed(y + j, fv(j));
  } else {
    for (; j + kW <= cols; j += kW) half_vec::nv(y + j, fv(j));
  }
  for (; j < cols; ++j) half_detail::put(y[j], fs(j));
}

// One 64-byte line of y = x * scale + shift (16 floats, or 32 16-bit values) to o = y + j from
// x + j, with the line's parameters in registers (sv, tv: kVecs vectors each), written with
// streaming stores; o is 64-byte aligned.
template <class T>
constexpr i64 kLineElems = 64 / static_cast<i64>(sizeof(T));
template <class T>
constexpr i64 kLineVecs = kLineElems<T> / kW;
inline void affine_line(float* o, const float* x, const vf* sv, const vf* tv) {
  for (i64 k = 0; k < kLineVecs<float>; ++k)
    simd::stream(o + k * kW, load(x + k * kW) * sv[k] + tv[k]);
}
template <class T>
inline void affine_line(T* o, const T* x, const vf* sv, const vf* tv) {
  const auto fv = [=](i64 k) { return half_vec::wv(x + k * kW) * sv[k] + tv[k]; };
  if constexpr (kLineStores) {
    stream_line(o, fv(0), fv(1));
  } else {
    for (i64 k = 0; k < kLineVecs<T>; ++k) stream_narrowed(o + k * kW, fv(k));
  }
}

// Large outputs whose rows all start on a cache line (y aligned, a row a whole number of lines):
// each thread takes a contiguous range of rows and goes through them kRowsInterleaved at a time,
// one line of each row in turn (the line's parameters loaded once for them), x prefetched
// kPrefetch elements ahead in every row. One row at a time (affine_row_half) read x at about 0.7
// of a copy's rate and took 1.1-1.25 times LayerNorm's time: one read stream per thread is
// followed short of a copy's rate, as the 16-bit LayerNorm found for its rows
// (norm_fast_half.cpp). Interleaved, at 16384 x 4096 bf16 (median of 12 alternating calls, three
// runs, 2-core VM shared with other jobs): 9.2-10.6 ms, LayerNorm's cpu.fast 9.9-13.1, a parallel
// memcpy of x into y 8.9-11.5.
constexpr i64 kRowsInterleaved = 4;
// Rows [r, r1) of one thread. Its own function, arguments by value: inside the threads' closure
// every pointer was read again through the closure after each streaming store (the store may
// write any memory the compiler cannot prove private, as norm_fast_rows.hpp notes).
template <class T>
void affine_rows_part(const T* x, const float* scale, const float* shift, T* y, i64 r, i64 r1,
                      i64 cols) {
  constexpr i64 kLine = kLineElems<T>;
  vf sv[kLineVecs<T>], tv[kLineVecs<T>];
  const auto params = [&](i64 j) {
    for (i64 k = 0; k < kLineVecs<T>; ++k) {
      sv[k] = load(scale + j + k * kW);
      tv[k] = load(shift + j + k * kW);
    }
  };
  for (; r + kRowsInterleaved <= r1; r += kRowsInterleaved) {
    for (i64 j = 0; j < cols; j += kLine) {
      params(j);  // once for the rows of the block
      for (i64 i = 0; i < kRowsInterleaved; ++i) {
        const T* xr = x + (r + i) * cols;
        __builtin_prefetch(xr + j + kPrefetch, 0, 3);
        affine_line(y + (r + i) * cols + j, xr + j, sv, tv);
      }
    }
  }
  for (; r < r1; ++r) {
    for (i64 j = 0; j < cols; j += kLine) {
      params(j);
      affine_line(y + r * cols + j, x + r * cols + j, sv, tv);
    }
  }
}
template <class T>
void affine_rows_interleaved(const T* x, const float* scale, const float* shift, T* y, i64 rows,
                             i64 cols) {
  const i64 parts = std::min<i64>(rows, omp_get_max_threads());
  detail::for_each_index(
      parts, rows * cols, rows * cols * static_cast<i64>(sizeof(T)), [=](i64 part, bool) {
        affine_rows_part(x, scale, shift, y, rows * part / parts, rows * (part + 1) / parts, cols);
      });
}

template <class T>
bool rows_interleavable(const T* y, i64 rows, i64 cols) {
  const i64 bytes = rows * cols * static_cast<i64>(sizeof(T));
  return OPBENCH_HAVE_STREAM && detail::use_stream(bytes) && rows > 1 &&
         reinterpret_cast<std::uintptr_t>(y) % 64 == 0 &&
         cols * static_cast<i64>(sizeof(T)) % 64 == 0;
}

// y[r, j] = x[r, j] * scale[j] + shift[j] over x[rows, cols], the parameters in float32: the
// inference form, and the output pass of the training step. Large aligned outputs: interleaved
// rows (above). Otherwise float32 takes columnwise of the norm engine (batchnorm_infer's path),
// 16-bit contiguous rows per thread, streamed lines for outputs of kStreamMinBytes and more.
inline void affine_columns(const float* x, const float* scale, const float* shift, float* y,
                           i64 rows, i64 cols) {
  if (rows_interleavable(y, rows, cols))
    return affine_rows_interleaved(x, scale, shift, y, rows, cols);
  detail::columnwise<2>(
      x, y, rows, cols, {scale, shift},
      [](vf xv, const std::array<vf, 2>& p) { return xv * p[0] + p[1]; },
      [](float xs, const std::array<float, 2>& p) { return xs * p[0] + p[1]; });
}
template <class T>
void affine_columns(const T* x, const float* scale, const float* shift, T* y, i64 rows, i64 cols) {
  if (rows_interleavable(y, rows, cols))
    return affine_rows_interleaved(x, scale, shift, y, rows, cols);
  detail::for_each_index(
      rows, rows * cols, rows * cols * static_cast<i64>(sizeof(T)),
      [&](i64 r, bool nt) { affine_row_half(x + r * cols, scale, shift, y + r * cols, cols, nt); });
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
