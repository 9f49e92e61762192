// cpu.fast LayerNorm and RMSNorm with 16-bit storage (bfloat16, binary16).
//
// Per row: LayerNorm y = (x - mean) / sqrt(var + eps) * gamma + beta (biased variance; Ba et al.
// 2016), RMSNorm y = x / sqrt(mean(x^2) + eps) * gamma (Zhang & Sennrich 2019). Loads are widened
// to float32 in registers and all arithmetic is float32; each output is rounded once, to nearest
// even, from its float32 value. Statistics as in the float32 kernels (norm_fast.cpp): sums of
// d = x - shift (shift = the row's first element, so that x - shift is exact for rows with a large
// common offset) and of d^2 in float32 vectors per chunk of kChunk elements, chunks merged in
// double; when sum(d^2) > kShiftGuard * M2 (the first element is an outlier) the row is summed
// again about the float nearest its mean, from cache: the corrected two-pass formula.
//
// Paths, chosen at run time from the CPU's features (the AVX-512 functions are compiled with
// target attributes, so they exist whatever -march was): AVX-512 with bfloat16 widened by a
// zero-extension and a shift and narrowed by vcvtne2ps2bf16 (avx512_bf16) or by an integer
// round-to-nearest-even (avx512f), binary16 by vcvtph2ps / vcvtps2ph; on CPUs with AVX2, FMA and
// F16C but no AVX-512 the same in 8-lane vectors (norm_fast_half_avx2.cpp); elsewhere a portable
// scalar path with the inline conversions of harness/half.hpp. The OpenMP threads take ranges of
// rows from a shared counter, large ones first (Work); small problems run on the calling thread.
//
// Large outputs (16 MiB and more, kStreamMinBytes) are written with non-temporal stores, a 64-byte
// line (32 elements) per store. When every row starts on a line (cols % 32 == 0, y aligned) the
// rows are software-pipelined as in norm_fast_rows.hpp (pipelined_rows): one loop over the columns
// writes a block of kRowsPiped rows (their x from L1/L2) while it sums the next block's rows from
// memory, so that reads and streaming writes are in flight together, as in a copy; the rows being
// summed are prefetched 1 KiB ahead (kPrefetch). Otherwise each row is summed from memory, then
// written from L1 (masked head to the line boundary, masked tail). gamma and beta are widened once
// per thread into float32 scratch.
//
// Measured at 16384 x 4096 with opbench run (ratio to its same-size copy ceiling, 256 MiB moved;
// medians of 5 repetitions per run, four runs alternating with the previous kernel, on a 2-core
// AMD EPYC (Zen 5) VM shared with other jobs, copy 54-79 GB/s): layernorm 0.78 (0.73-0.82) bf16,
// 0.76 (0.68-0.84) f16; rmsnorm 0.88 (0.76-0.93) bf16, 0.83 (0.78-0.86) f16, where contiguous
// blocks per thread without the prefetch gave 0.70, 0.72, 0.77, 0.75; times 0.84-0.90 of theirs
// (paired medians). The hot loop is about 24 instructions per line of 32 elements (sum of the next
// row's line and write of this row's), some 6 cycles at four vector operations a cycle, about
// 1.5 ms per thread at 4 GHz against the 4.4-5.9 ms a call takes: the loop is bound by its memory
// streams, not by its arithmetic (the VM exposes no cycle counters to confirm it). In
// alternating runs of a standalone harness: taking ranges from a counter 0.87-0.94 of the time of
// contiguous blocks, the prefetch a further 0.89-0.98 (256 to 1024 elements ahead alike, NTA as
// T0); blocks of 8 rows mixed (0.86-1.0), of 1, 2 or 16 rows slower (1.0-1.7). Earlier, against a
// parallel memcpy: summing each row from memory before writing it (no pipelining) reached 0.52
// (layernorm) to 0.72 on 1 thread; widening bf16 for the output in even/odd order too (gamma and
// beta deinterleaved, vpermw after the conversion) was no faster.
#include "kernels/cpu/norm_fast_half.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/norm_fast_half_detail.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define OPBENCH_HALF_AVX512 1
#else
#define OPBENCH_HALF_AVX512 0
#endif

namespace opbench::cpu::fast {
namespace {

using detail::i64;
using detail::kChunk;
using detail::Sums;
using half_detail::Job;
using half_detail::ln_params;
using half_detail::Params;
using half_detail::put;
using half_detail::rms_params;
using half_detail::Scratch;
using half_detail::Work;

// ---- portable path: scalar, the inline conversions of harness/half.hpp ----------------------

// Sums of x - sh and (x - sh)^2 (kLN) or of x^2 over a float32 row: eight float32 accumulators
// per chunk, chunks merged in double.
template <bool kLN>
Sums sums_portable(const float* x, i64 n, float sh) {
  Sums s;
  for (i64 c0 = 0; c0 < n; c0 += kChunk) {
    const i64 c1 = std::min(n, c0 + kChunk);
    float a[8] = {}, q[8] = {};
    i64 j = c0;
    for (; j + 8 <= c1; j += 8) {
      for (int k = 0; k < 8; ++k) {
        const float d = kLN ? x[j + k] - sh : x[j + k];
        a[k] += d;
        q[k] += d * d;
      }
    }
    for (; j < c1; ++j) {
      const float d = kLN ? x[j] - sh : x[j];
      a[0] += d;
      q[0] += d * d;
    }
    s.s1 += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    s.s2 += ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]));
  }
  return s;
}

template <class T, bool kLN>
void rows_portable(const Job<T>& jb, Work& wk) {
  const i64 n = jb.cols;
  Scratch sg, sb, sx;
  float* g = sg.at(n);
  float* b = kLN ? sb.at(n) : nullptr;
  float* xr = sx.at(n);  // the row widened: x may alias y
  for (i64 j = 0; j < n; ++j) {
    g[j] = to_float(jb.gamma[j]);
    if constexpr (kLN) b[j] = to_float(jb.beta[j]);
  }
  for (i64 r0, r1; wk.take(r0, r1);) {
    for (i64 r = r0; r < r1; ++r) {
      T* y = jb.y + r * n;
      for (i64 j = 0; j < n; ++j) xr[j] = to_float(jb.x[r * n + j]);
      if constexpr (kLN) {
        const Params p = ln_params(sums_portable<true>(xr, n, xr[0]), xr[0], n, jb.eps,
                                   [&](float sh) { return sums_portable<true>(xr, n, sh); });
        for (i64 j = 0; j < n; ++j) put(y[j], ((xr[j] - p.sh) * p.rstd + p.nmr) * g[j] + b[j]);
      } else {
        const Params p = rms_params(sums_portable<false>(xr, n, 0.0f), n, jb.eps);
        for (i64 j = 0; j < n; ++j) put(y[j], xr[j] * p.rstd * g[j]);
      }
    }
  }
}

// ---- AVX-512 path ------------------------------------------------------------------------------

#if OPBENCH_HALF_AVX512
// Every AVX-512 function carries the same target (a function is inlined only into one whose target
// includes its own). avx512bf16 is in it for CvBf16's conversion: the compiler emits BF16
// instructions only for their intrinsics, so the other converters run on CPUs without it.
#define OPBENCH_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")))
// GCC 12's AVX-512 headers start some results from a self-initialized _mm512_undefined_*(), which
// -Wmaybe-uninitialized reports wherever they are inlined (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

constexpr int kLine = 32;  // elements of a 64-byte line

// bfloat16 widened exactly: its bits are float32's upper half.
OPBENCH_AVX512 inline __m512 widen_bf16(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// 32 bfloat16 values widened in two vectors, out of order (even elements, odd elements): one
// 64-byte load and two bit operations, where the ordered widening takes two vpmovzxwd, which
// issue at about one per two cycles here. For sums, where the order does not matter.
OPBENCH_AVX512 inline void widen_bf16_unordered(const void* p, __m512& a, __m512& b) {
  const __m512i v = _mm512_loadu_si512(p);
  a = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
  b = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))));
}

// bfloat16 by vcvtne2ps2bf16 (avx512_bf16). It rounds to nearest even without consulting MXCSR,
// treats float32 denormal inputs as zero and flushes denormal outputs to zero (Intel SDM,
// VCVTNE2PS2BF16/VCVTNEPS2BF16). bfloat16 has float32's exponent range, so this differs from the
// reference rounding (bf16_from_float, to_bf16) only where the float32 result is below 2^-126 in
// magnitude, by at most 2^-126 (about 1.2e-38): far below any tolerance, and outputs that small
// take gamma and beta of that size. Every normal float32 result is rounded exactly as the
// reference rounds it (the instruction's integer add of 0x7FFF + lsb; a NaN is kept quiet); the
// tests check this bit for bit.
struct CvBf16 {
  using T = bf16_t;
  OPBENCH_AVX512 static __m512 widen(__m256i h) { return widen_bf16(h); }
  OPBENCH_AVX512 static void widen32(const T* p, __m512& a, __m512& b) {
    widen_bf16_unordered(p, a, b);
  }
  OPBENCH_AVX512 static __m512i narrow2(__m512 lo, __m512 hi) {
    return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);  // hi's elements go to the upper half
  }
};

// bfloat16 without avx512_bf16: the round-to-nearest-even of bf16_from_float on 16 lanes, then the
// upper halves of the two vectors' lanes gathered into one by vpermt2w.
struct CvBf16Int {
  using T = bf16_t;
  OPBENCH_AVX512 static __m512 widen(__m256i h) { return widen_bf16(h); }
  OPBENCH_AVX512 static void widen32(const T* p, __m512& a, __m512& b) {
    widen_bf16_unordered(p, a, b);
  }
  OPBENCH_AVX512 static __m512i rounded(__m512 v) {
    const __m512i b = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_add_epi32(b, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF)));
    // A NaN keeps its upper half, made quiet: the rounding add could carry its payload into an
    // infinity.
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_or_epi32(r, nan, b, _mm512_set1_epi32(0x00400000));
  }
  OPBENCH_AVX512 static __m512i narrow2(__m512 lo, __m512 hi) {
    static const std::uint16_t kOdd[32] = {1,  3,  5,  7,  9,  11, 13, 15, 17, 19, 21,
                                           23, 25, 27, 29, 31, 33, 35, 37, 39, 41, 43,
                                           45, 47, 49, 51, 53, 55, 57, 59, 61, 63};
    return _mm512_permutex2var_epi16(rounded(lo), _mm512_loadu_si512(kOdd), rounded(hi));
  }
};

// binary16 by vcvtph2ps (exact) and vcvtps2ph with round-to-nearest-even (subnormals kept).
struct CvF16 {
  using T = f16_t;
  OPBENCH_AVX512 static __m512 widen(__m256i h) { return _mm512_cvtph_ps(h); }
  OPBENCH_AVX512 static void widen32(const T* p, __m512& a, __m512& b) {
    a = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    b = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 16)));
  }
  OPBENCH_AVX512 static __m512i narrow2(__m512 lo, __m512 hi) {
    constexpr int kRne = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtps_ph(lo, kRne)),
                              _mm512_cvtps_ph(hi, kRne), 1);
  }
};

template <class Cv, class T>
OPBENCH_AVX512 inline __m512 ld(const T* p) {
  return Cv::widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
// Masked: lanes outside m read nothing (no fault past the end) and are 0.
template <class Cv, class T>
OPBENCH_AVX512 inline __m512 ld(const T* p, __mmask16 m) {
  return Cv::widen(_mm256_maskz_loadu_epi16(m, p));
}

inline __mmask32 first_lanes(i64 k) {  // the lowest k of 32 lanes, 0 <= k <= 32
  return k >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << k) - 1u);
}

// A row's parameters in vectors.
struct VP {
  __m512 sh, rstd, nmr;
};
OPBENCH_AVX512 inline VP vp(const Params& p) {
  return {_mm512_set1_ps(p.sh), _mm512_set1_ps(p.rstd), _mm512_set1_ps(p.nmr)};
}

template <bool kLN>
OPBENCH_AVX512 inline __m512 y_of(__m512 x, __m512 g, __m512 b, const VP& p) {
  if constexpr (kLN) {
    return _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_sub_ps(x, p.sh), p.rstd, p.nmr), g, b);
  } else {
    return _mm512_mul_ps(_mm512_mul_ps(x, p.rstd), g);
  }
}

// The 32 outputs of one row at columns j .. j + 31, narrowed into one line (x, g, b: the row's
// input, gamma and beta widened).
template <class Cv, bool kLN, class T>
OPBENCH_AVX512 inline __m512i line(const T* x, const float* g, const float* b, const VP& p, i64 j) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512 y0 =
      y_of<kLN>(ld<Cv>(x + j), _mm512_loadu_ps(g + j), kLN ? _mm512_loadu_ps(b + j) : zero, p);
  const __m512 y1 = y_of<kLN>(ld<Cv>(x + j + 16), _mm512_loadu_ps(g + j + 16),
                              kLN ? _mm512_loadu_ps(b + j + 16) : zero, p);
  return Cv::narrow2(y0, y1);
}
template <class Cv, bool kLN, class T>
OPBENCH_AVX512 inline __m512i line(const T* x, const float* g, const float* b, const VP& p, i64 j,
                                   __mmask32 m) {
  const __m512 zero = _mm512_setzero_ps();
  const auto m0 = static_cast<__mmask16>(m), m1 = static_cast<__mmask16>(m >> 16);
  const __m512 y0 = y_of<kLN>(ld<Cv>(x + j, m0), _mm512_maskz_loadu_ps(m0, g + j),
                              kLN ? _mm512_maskz_loadu_ps(m0, b + j) : zero, p);
  const __m512 y1 = y_of<kLN>(ld<Cv>(x + j + 16, m1), _mm512_maskz_loadu_ps(m1, g + j + 16),
                              kLN ? _mm512_maskz_loadu_ps(m1, b + j + 16) : zero, p);
  return Cv::narrow2(y0, y1);
}

// Sums of x - sh and its square (kLN) or of x^2 over a row of n elements: four pairs of float32
// vector accumulators per chunk, chunks merged in double.
template <class Cv, bool kLN, class T>
OPBENCH_AVX512 Sums row_sums(const T* x, i64 n, float shift) {
  const __m512 sh = _mm512_set1_ps(shift);
  Sums s;
  for (i64 c0 = 0; c0 < n; c0 += kChunk) {
    const i64 c1 = std::min(n, c0 + kChunk);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, q0 = a0, q1 = a0, q2 = a0, q3 = a0;
    i64 j = c0;
    for (; j + 64 <= c1; j += 64) {
      __m512 d0, d1, d2, d3;
      Cv::widen32(x + j, d0, d1);
      Cv::widen32(x + j + 32, d2, d3);
      if constexpr (kLN) {
        d0 = _mm512_sub_ps(d0, sh);
        d1 = _mm512_sub_ps(d1, sh);
        d2 = _mm512_sub_ps(d2, sh);
        d3 = _mm512_sub_ps(d3, sh);
        a0 = _mm512_add_ps(a0, d0);
        a1 = _mm512_add_ps(a1, d1);
        a2 = _mm512_add_ps(a2, d2);
        a3 = _mm512_add_ps(a3, d3);
      }
      q0 = _mm512_fmadd_ps(d0, d0, q0);
      q1 = _mm512_fmadd_ps(d1, d1, q1);
      q2 = _mm512_fmadd_ps(d2, d2, q2);
      q3 = _mm512_fmadd_ps(d3, d3, q3);
    }
    for (; j < c1; j += 16) {
      const auto m = static_cast<__mmask16>(first_lanes(std::min<i64>(16, c1 - j)));
      __m512 d = ld<Cv>(x + j, m);
      if constexpr (kLN) {
        d = _mm512_maskz_sub_ps(m, d, sh);  // lanes past the end stay 0
        a0 = _mm512_add_ps(a0, d);
      }
      q0 = _mm512_fmadd_ps(d, d, q0);
    }
    if constexpr (kLN) {
      s.s1 += _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    }
    s.s2 += _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(q0, q1), _mm512_add_ps(q2, q3)));
  }
  return s;
}

template <class Cv, bool kLN, class T>
OPBENCH_AVX512 Params finish(const T* x, i64 n, float eps, const Sums& s, float sh) {
  if constexpr (kLN) {
    return ln_params(s, sh, n, eps, [=](float nsh) { return row_sums<Cv, true>(x, n, nsh); });
  } else {
    return rms_params(s, n, eps);
  }
}

template <bool kLN, class T>
OPBENCH_AVX512 inline float shift_of(const T* x) {
  return kLN ? to_float(x[0]) : 0.0f;
}

// One row of n outputs; with nt, a masked head up to the 64-byte boundary, then streamed lines.
template <class Cv, bool kLN, class T>
OPBENCH_AVX512 void write_row(T* y, const T* x, const float* g, const float* b, const Params& pp,
                              i64 n, bool nt) {
  const VP p = vp(pp);
  i64 j = 0;
  const auto mis = reinterpret_cast<std::uintptr_t>(y) % 64;
  if (nt && mis % sizeof(T) == 0) {
    const i64 head = std::min<i64>(n, static_cast<i64>((64 - mis) % 64 / sizeof(T)));
    if (head > 0) {
      const __mmask32 m = first_lanes(head);
      _mm512_mask_storeu_epi16(y, m, line<Cv, kLN>(x, g, b, p, 0, m));
    }
    for (j = head; j + kLine <= n; j += kLine) {
      _mm512_stream_si512(reinterpret_cast<__m512i*>(y + j), line<Cv, kLN>(x, g, b, p, j));
    }
  } else {
    for (; j + kLine <= n; j += kLine) _mm512_storeu_si512(y + j, line<Cv, kLN>(x, g, b, p, j));
  }
  if (j < n) {
    const __mmask32 m = first_lanes(n - j);
    _mm512_mask_storeu_epi16(y + j, m, line<Cv, kLN>(x, g, b, p, j, m));
  }
}

// Software prefetch distance of the rows being summed, in elements (1 KiB ahead per row): the
// hardware prefetcher alone leaves the N interleaved read streams short of a copy's rate.
constexpr i64 kPrefetch = 512;

// Streams rows 0 .. N - 1 of (x, y) (parameters p) and, in the same loop over the columns, sums
// the N rows next[i] (shifts sh[i]) into s[i]. Needs cols % kChunk % kLine == 0 and y aligned.
template <class Cv, bool kLN, int N, class T>
OPBENCH_AVX512 void write_and_sum(T* y, const T* x, i64 cols, const float* g, const float* b,
                                  const Params* p, const T* const* next, const float* sh, Sums* s) {
  VP v[N];
  __m512 vsh[N];
  for (int i = 0; i < N; ++i) {
    v[i] = vp(p[i]);
    vsh[i] = _mm512_set1_ps(sh[i]);
  }
  for (i64 c0 = 0; c0 < cols; c0 += kChunk) {
    const i64 c1 = std::min(cols, c0 + kChunk);
    __m512 a[N], q[N];
    for (int i = 0; i < N; ++i) a[i] = q[i] = _mm512_setzero_ps();
    for (i64 j = c0; j < c1; j += kLine) {
#pragma GCC unroll 8
      for (int i = 0; i < N; ++i) {
        __m512 d0, d1;
        // Past the end of the row: the next row, or at most kPrefetch elements past x's end (a
        // prefetch does not fault).
        _mm_prefetch(reinterpret_cast<const char*>(next[i] + j + kPrefetch), _MM_HINT_T0);
        Cv::widen32(next[i] + j, d0, d1);
        if constexpr (kLN) {
          d0 = _mm512_sub_ps(d0, vsh[i]);
          d1 = _mm512_sub_ps(d1, vsh[i]);
          a[i] = _mm512_add_ps(a[i], _mm512_add_ps(d0, d1));
        }
        q[i] = _mm512_fmadd_ps(d1, d1, _mm512_fmadd_ps(d0, d0, q[i]));
        _mm512_stream_si512(reinterpret_cast<__m512i*>(y + i * cols + j),
                            line<Cv, kLN>(x + i * cols, g, b, v[i], j));
      }
    }
    for (int i = 0; i < N; ++i) {
      if constexpr (kLN) s[i].s1 += _mm512_reduce_add_ps(a[i]);
      s[i].s2 += _mm512_reduce_add_ps(q[i]);
    }
  }
}

// Rows [r0, r1) software-pipelined (see the top of the file): block b is written while block b + 1
// is summed. Blocks of 4 rows, as the float32 kernel (kRowsPiped).
constexpr int kRowsPiped = 4;
template <class Cv, bool kLN, class T>
OPBENCH_AVX512 void rows_piped(const Job<T>& jb, i64 r0, i64 r1, const float* g, const float* b) {
  constexpr int R = kRowsPiped;
  const i64 n = jb.cols;
  Params p[R];
  for (i64 i = 0; i < std::min<i64>(R, r1 - r0); ++i) {
    const T* xr = jb.x + (r0 + i) * n;
    const float sh = shift_of<kLN>(xr);
    p[i] = finish<Cv, kLN>(xr, n, jb.eps, row_sums<Cv, kLN>(xr, n, sh), sh);
  }
  for (i64 b0 = r0; b0 < r1; b0 += R) {
    const i64 nw = std::min<i64>(R, r1 - b0);             // rows written
    const i64 ns = std::clamp<i64>(r1 - (b0 + R), 0, R);  // rows summed (ns <= nw)
    const T* next[R];
    float sh[R];
    Sums s[R];
    for (i64 i = 0; i < ns; ++i) {
      next[i] = jb.x + (b0 + R + i) * n;
      sh[i] = shift_of<kLN>(next[i]);
    }
    if (nw == R && ns == R) {
      write_and_sum<Cv, kLN, R>(jb.y + b0 * n, jb.x + b0 * n, n, g, b, p, next, sh, s);
    } else {  // the last blocks of the range
      for (i64 i = 0; i < nw; ++i) {
        const i64 r = b0 + i;
        if (i < ns) {
          write_and_sum<Cv, kLN, 1>(jb.y + r * n, jb.x + r * n, n, g, b, p + i, next + i, sh + i,
                                    s + i);
        } else {
          write_row<Cv, kLN>(jb.y + r * n, jb.x + r * n, g, b, p[i], n, true);
        }
      }
    }
    for (i64 i = 0; i < ns; ++i) p[i] = finish<Cv, kLN>(next[i], n, jb.eps, s[i], sh[i]);
  }
}

// Rows [r0, r1) one at a time: summed from memory, then written from L1.
template <class Cv, bool kLN, class T>
OPBENCH_AVX512 void rows_each(const Job<T>& jb, i64 r0, i64 r1, const float* g, const float* b) {
  const i64 n = jb.cols;
  for (i64 r = r0; r < r1; ++r) {
    const T* xr = jb.x + r * n;
    const float sh = shift_of<kLN>(xr);
    const Params p = finish<Cv, kLN>(xr, n, jb.eps, row_sums<Cv, kLN>(xr, n, sh), sh);
    write_row<Cv, kLN>(jb.y + r * n, xr, g, b, p, n, jb.nt);
  }
}

template <class Cv, bool kLN, class T>
OPBENCH_AVX512 void widen_into(float* o, const T* h, i64 n) {
  for (i64 j = 0; j < n; j += 16) {
    const auto m = static_cast<__mmask16>(first_lanes(std::min<i64>(16, n - j)));
    _mm512_mask_storeu_ps(o + j, m, ld<Cv>(h + j, m));
  }
}

template <class Cv, bool kLN>
OPBENCH_AVX512 void rows_avx512(const Job<typename Cv::T>& jb, Work& wk) {
  const i64 n = jb.cols;
  Scratch sg, sb;
  float* g = sg.at(n);
  float* b = kLN ? sb.at(n) : nullptr;
  widen_into<Cv, kLN>(g, jb.gamma, n);
  if constexpr (kLN) widen_into<Cv, kLN>(b, jb.beta, n);
  const bool piped = jb.nt && n % kLine == 0 && reinterpret_cast<std::uintptr_t>(jb.y) % 64 == 0;
  for (i64 r0, r1; wk.take(r0, r1);) {
    if (piped) {
      rows_piped<Cv, kLN>(jb, r0, r1, g, b);
    } else {
      rows_each<Cv, kLN>(jb, r0, r1, g, b);
    }
  }
  if (jb.nt) _mm_sfence();
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif  // OPBENCH_HALF_AVX512

// ---- the path, chosen at run time ------------------------------------------------------------

enum class Path : int { automatic, portable, avx2, avx512f, avx512_bf16 };

struct Cpu {
  bool avx2 = false;    // AVX2, FMA and F16C (norm_fast_half_avx2.cpp)
  bool avx512 = false;  // F, BW, VL, DQ (and the OS saves the registers)
  bool bf16 = false;    // AVX512_BF16 too
};

Cpu detect() {
  Cpu c;
  c.avx2 = half_detail::has_avx2_path();
#if OPBENCH_HALF_AVX512
  __builtin_cpu_init();
  c.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  c.bf16 = c.avx512 && __builtin_cpu_supports("avx512bf16");
#endif
  return c;
}

const Cpu& cpu() {
  static const Cpu c = detect();
  return c;
}

std::atomic<int> g_forced{static_cast<int>(Path::automatic)};

Path path_for(bool bf16) {
  const auto forced = static_cast<Path>(g_forced.load(std::memory_order_relaxed));
  const Cpu& c = cpu();
  if (forced == Path::portable) return Path::portable;
  if (forced == Path::avx2) return Path::avx2;  // forced only where the CPU has it
  if (!c.avx512) return c.avx2 ? Path::avx2 : Path::portable;
  if (forced == Path::avx512f) return Path::avx512f;
  return bf16 && c.bf16 ? Path::avx512_bf16 : Path::avx512f;
}

const char* name_of(Path p) {
  switch (p) {
    case Path::avx512_bf16:
      return "avx512_bf16";
    case Path::avx512f:
      return "avx512f";
    case Path::avx2:
      return "avx2";
    default:
      return "portable";
  }
}

template <class T>
using RowsFn = void (*)(const Job<T>&, Work&);

template <class T, bool kLN>
RowsFn<T> pick() {
  constexpr bool kBf16 = std::is_same_v<T, bf16_t>;
  const Path p = path_for(kBf16);
#if OPBENCH_HALF_AVX512
  if constexpr (kBf16) {
    if (p == Path::avx512_bf16) return &rows_avx512<CvBf16, kLN>;
    if (p == Path::avx512f) return &rows_avx512<CvBf16Int, kLN>;
  } else {
    if (p == Path::avx512f) return &rows_avx512<CvF16, kLN>;
  }
#endif
  if (p == Path::avx2) return &half_detail::rows_avx2<T, kLN>;
  return &rows_portable<T, kLN>;
}

// Rows in ranges taken from a shared counter (Work, norm_fast_half_detail.hpp).
template <class T, bool kLN>
void run(const T* x, const T* gamma, const T* beta, T* y, i64 rows, i64 cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  const RowsFn<T> fn = pick<T, kLN>();
  const i64 out_bytes = rows * cols * static_cast<i64>(sizeof(T));
  const Job<T> jb{x, gamma, beta, y, rows, cols, eps, out_bytes >= detail::kStreamMinBytes};
  half_detail::for_rows(rows, cols, [&](Work& wk) { fn(jb, wk); });
}

}  // namespace

void layernorm(const bf16_t* x, const bf16_t* gamma, const bf16_t* beta, bf16_t* y,
               std::int64_t rows, std::int64_t cols, float eps) {
  run<bf16_t, true>(x, gamma, beta, y, rows, cols, eps);
}
void layernorm(const f16_t* x, const f16_t* gamma, const f16_t* beta, f16_t* y, std::int64_t rows,
               std::int64_t cols, float eps) {
  run<f16_t, true>(x, gamma, beta, y, rows, cols, eps);
}
void rmsnorm(const bf16_t* x, const bf16_t* gamma, bf16_t* y, std::int64_t rows, std::int64_t cols,
             float eps) {
  run<bf16_t, false>(x, gamma, nullptr, y, rows, cols, eps);
}
void rmsnorm(const f16_t* x, const f16_t* gamma, f16_t* y, std::int64_t rows, std::int64_t cols,
             float eps) {
  run<f16_t, false>(x, gamma, nullptr, y, rows, cols, eps);
}

const char* half_path(bool bf16) {
  return name_of(path_for(bf16));
}

void force_portable_half(bool on) {
  g_forced.store(static_cast<int>(on ? Path::portable : Path::automatic));
}

bool force_half_path(const char* name) {
  Path p = Path::automatic;
  if (name == nullptr) {
    p = Path::automatic;
  } else if (std::strcmp(name, "portable") == 0) {
    p = Path::portable;
  } else if (std::strcmp(name, "avx2") == 0 && cpu().avx2) {
    p = Path::avx2;
  } else if (std::strcmp(name, "avx512f") == 0 && cpu().avx512) {
    p = Path::avx512f;
  } else if (std::strcmp(name, "avx512_bf16") == 0 && cpu().bf16) {
    p = Path::avx512_bf16;
  } else {
    return false;
  }
  g_forced.store(static_cast<int>(p));
  return true;
}

}  // namespace opbench::cpu::fast
