// The AVX2 path of cpu.fast's 16-bit LayerNorm and RMSNorm (contract, statistics and the AVX-512
// path in norm_fast_half.cpp), for x86-64 CPUs with AVX2, FMA and F16C but no AVX-512, where the
// portable scalar path ran at a third of the float32 kernel's speed (16384 x 4096 bfloat16
// LayerNorm: 70 ms against 26 ms for float32 on a 2-core EPYC VM without AVX-512).
//
// The same structure as the AVX-512 path in 8-lane vectors: bfloat16 widened by a zero-extension
// and a shift (exact), narrowed by the integer round-to-nearest-even of bf16_from_float (a NaN kept
// quiet) and vpackusdw; binary16 by vcvtph2ps / vcvtps2ph (round to nearest even). Statistics:
// sums of x - shift and its square in float32 vectors per chunk, merged in double, summed again
// about the mean when the guard says so. Large outputs are streamed (non-temporal stores); rows
// whose lines are aligned are software-pipelined in blocks of four, one block written while the
// next is summed. Heads and tails shorter than a vector are done with the scalar conversions,
// with the vector path's fused multiply-adds (std::fma), so an element's value does not depend on
// where it falls. Every function carries the target attribute, so the path exists whatever
// -march was; norm_fast_half.cpp takes it only where the CPU has the three features.
//
// Measured with opbench run at 16384 x 4096 on a 2-core EPYC VM without AVX-512 (copy ceiling
// 22 GB/s in that run, noise 9-30%): LayerNorm bf16 70.1 -> 39.8 ms, RMSNorm bf16 58.2 -> 30.0 ms
// against the portable path; f16 28.4 and 21.9 ms; float32's kernel 31.7 and 40.2 ms. That is 0.31
// to 0.57 of the same-size copy, not the AVX-512 path's 0.7-0.9: on one thread the loop takes ~1 ns
// per element (95 instructions per 32 elements, no calls, no spills: objdump) where the copy moves
// the bytes in a quarter of that, so this VM's cores, not memory, bound it (its SGEMM ceiling, 61
// GFLOP/s on 2 cores, says the same). Neither fewer pipelined rows (2, 1) nor plain stores changed
// that beyond the noise. bfloat16's integer rounding is most of the gap to binary16 (vcvtps2ph).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/cpu/norm_fast_half_detail.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define OPBENCH_HALF_AVX2 1
#else
#define OPBENCH_HALF_AVX2 0
#endif

namespace opbench::cpu::fast::half_detail {

#if OPBENCH_HALF_AVX2
namespace {

#define OPBENCH_AVX2 __attribute__((target("avx2,fma,f16c")))

constexpr i64 kLine = 32;  // elements of a 64-byte line: two vectors of 16 16-bit values
constexpr int kRowsPiped = 4;
constexpr i64 kPrefetch = 512;  // elements ahead in the rows being summed (1 KiB)

OPBENCH_AVX2 inline __m128i load8(const void* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// bfloat16: its bits are float32's upper half.
struct Bf16 {
  using T = bf16_t;
  OPBENCH_AVX2 static __m256 widen(__m128i h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  // 16 values as two vectors, even elements and odd elements: for sums, where order is free.
  OPBENCH_AVX2 static void widen16(const T* p, __m256& a, __m256& b) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    a = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    b = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(static_cast<int>(0xFFFF0000u))));
  }
  // bf16_from_float on 8 lanes, the result in each lane's upper half: add 0x7FFF + lsb; a NaN
  // keeps its upper half, made quiet (the add could carry its payload into an infinity).
  OPBENCH_AVX2 static __m256i rounded(__m256 v) {
    const __m256i b = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_add_epi32(b, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF)));
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    return _mm256_blendv_epi8(r, _mm256_or_si256(b, _mm256_set1_epi32(0x00400000)), nan);
  }
  // 16 outputs in order: lo holds elements 0-7, hi 8-15. vpackusdw packs within 128-bit lanes
  // (lo 0-3, hi 0-3 | lo 4-7, hi 4-7); vpermq puts the quarters in order.
  OPBENCH_AVX2 static __m256i narrow2(__m256 lo, __m256 hi) {
    const __m256i packed =
        _mm256_packus_epi32(_mm256_srli_epi32(rounded(lo), 16), _mm256_srli_epi32(rounded(hi), 16));
    return _mm256_permute4x64_epi64(packed, _MM_SHUFFLE(3, 1, 2, 0));
  }
};

// binary16 by F16C: vcvtph2ps is exact, vcvtps2ph rounds to nearest even (subnormals kept).
struct F16 {
  using T = f16_t;
  OPBENCH_AVX2 static __m256 widen(__m128i h) { return _mm256_cvtph_ps(h); }
  OPBENCH_AVX2 static void widen16(const T* p, __m256& a, __m256& b) {
    a = _mm256_cvtph_ps(load8(p));
    b = _mm256_cvtph_ps(load8(p + 8));
  }
  OPBENCH_AVX2 static __m256i narrow2(__m256 lo, __m256 hi) {
    constexpr int kRne = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    return _mm256_set_m128i(_mm256_cvtps_ph(hi, kRne), _mm256_cvtps_ph(lo, kRne));
  }
};

OPBENCH_AVX2 inline float reduce_add(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

struct VP {
  __m256 sh, rstd, nmr;
};
OPBENCH_AVX2 inline VP vp(const Params& p) {
  return {_mm256_set1_ps(p.sh), _mm256_set1_ps(p.rstd), _mm256_set1_ps(p.nmr)};
}

template <bool kLN>
OPBENCH_AVX2 inline __m256 y_of(__m256 x, __m256 g, __m256 b, const VP& p) {
  if constexpr (kLN) {
    return _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_sub_ps(x, p.sh), p.rstd, p.nmr), g, b);
  } else {
    return _mm256_mul_ps(_mm256_mul_ps(x, p.rstd), g);
  }
}

// The same value for one element, with the scalar conversions (heads and tails).
template <bool kLN>
OPBENCH_AVX2 inline float y_scalar(float x, float g, float b, const Params& p) {
  if constexpr (kLN) return std::fma(std::fma(x - p.sh, p.rstd, p.nmr), g, b);
  return (x * p.rstd) * g;
}

// The 16 outputs of one row at columns j .. j + 15, narrowed.
template <class Cv, bool kLN, class T>
OPBENCH_AVX2 inline __m256i half_line(const T* x, const float* g, const float* b, const VP& p,
                                      i64 j) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 y0 = y_of<kLN>(Cv::widen(load8(x + j)), _mm256_loadu_ps(g + j),
                              kLN ? _mm256_loadu_ps(b + j) : zero, p);
  const __m256 y1 = y_of<kLN>(Cv::widen(load8(x + j + 8)), _mm256_loadu_ps(g + j + 8),
                              kLN ? _mm256_loadu_ps(b + j + 8) : zero, p);
  return Cv::narrow2(y0, y1);
}

// Sums of x - sh and its square (kLN) or of x^2 over a row of n elements: four pairs of float32
// vector accumulators per chunk (a scalar one for the tail), chunks merged in double.
template <class Cv, bool kLN, class T>
OPBENCH_AVX2 Sums row_sums(const T* x, i64 n, float shift) {
  const __m256 sh = _mm256_set1_ps(shift);
  Sums s;
  for (i64 c0 = 0; c0 < n; c0 += kChunk) {
    const i64 c1 = std::min(n, c0 + kChunk);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, q0 = a0, q1 = a0, q2 = a0, q3 = a0;
    i64 j = c0;
    for (; j + 32 <= c1; j += 32) {
      __m256 d0, d1, d2, d3;
      Cv::widen16(x + j, d0, d1);
      Cv::widen16(x + j + 16, d2, d3);
      if constexpr (kLN) {
        d0 = _mm256_sub_ps(d0, sh);
        d1 = _mm256_sub_ps(d1, sh);
        d2 = _mm256_sub_ps(d2, sh);
        d3 = _mm256_sub_ps(d3, sh);
        a0 = _mm256_add_ps(a0, d0);
        a1 = _mm256_add_ps(a1, d1);
        a2 = _mm256_add_ps(a2, d2);
        a3 = _mm256_add_ps(a3, d3);
      }
      q0 = _mm256_fmadd_ps(d0, d0, q0);
      q1 = _mm256_fmadd_ps(d1, d1, q1);
      q2 = _mm256_fmadd_ps(d2, d2, q2);
      q3 = _mm256_fmadd_ps(d3, d3, q3);
    }
    for (; j + 8 <= c1; j += 8) {
      __m256 d = Cv::widen(load8(x + j));
      if constexpr (kLN) {
        d = _mm256_sub_ps(d, sh);
        a0 = _mm256_add_ps(a0, d);
      }
      q0 = _mm256_fmadd_ps(d, d, q0);
    }
    float ta = 0, tq = 0;
    for (; j < c1; ++j) {
      const float d = kLN ? to_float(x[j]) - shift : to_float(x[j]);
      ta += d;
      tq = std::fma(d, d, tq);
    }
    if constexpr (kLN) {
      s.s1 += reduce_add(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3))) + ta;
    }
    s.s2 += reduce_add(_mm256_add_ps(_mm256_add_ps(q0, q1), _mm256_add_ps(q2, q3))) + tq;
  }
  return s;
}

template <class Cv, bool kLN, class T>
OPBENCH_AVX2 Params finish(const T* x, i64 n, float eps, const Sums& s, float sh) {
  if constexpr (kLN) {
    return ln_params(s, sh, n, eps, [=](float nsh) { return row_sums<Cv, true>(x, n, nsh); });
  } else {
    return rms_params(s, n, eps);
  }
}

template <bool kLN, class T>
inline float shift_of(const T* x) {
  return kLN ? to_float(x[0]) : 0.0f;
}

// One row of n outputs; with nt, scalar up to the 32-byte boundary, then streamed vectors.
template <class Cv, bool kLN, class T>
OPBENCH_AVX2 void write_row(T* y, const T* x, const float* g, const float* b, const Params& pp,
                            i64 n, bool nt) {
  const VP p = vp(pp);
  i64 j = 0;
  const auto mis = reinterpret_cast<std::uintptr_t>(y) % 32;
  if (nt && mis % sizeof(T) == 0) {
    const i64 head = std::min<i64>(n, static_cast<i64>((32 - mis) % 32 / sizeof(T)));
    for (; j < head; ++j) put(y[j], y_scalar<kLN>(to_float(x[j]), g[j], kLN ? b[j] : 0.0f, pp));
    for (; j + 16 <= n; j += 16) {
      _mm256_stream_si256(reinterpret_cast<__m256i*>(y + j), half_line<Cv, kLN>(x, g, b, p, j));
    }
  } else {
    for (; j + 16 <= n; j += 16) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + j), half_line<Cv, kLN>(x, g, b, p, j));
    }
  }
  for (; j < n; ++j) put(y[j], y_scalar<kLN>(to_float(x[j]), g[j], kLN ? b[j] : 0.0f, pp));
}

// Streams rows 0 .. N - 1 of (x, y) (parameters p) and, in the same loop over the columns, sums
// the N rows next[i] (shifts sh[i]) into s[i]. Needs cols % kLine == 0 and y 32-byte aligned.
template <class Cv, bool kLN, int N, class T>
OPBENCH_AVX2 void write_and_sum(T* y, const T* x, i64 cols, const float* g, const float* b,
                                const Params* p, const T* const* next, const float* sh, Sums* s) {
  VP v[N];
  __m256 vsh[N];
  for (int i = 0; i < N; ++i) {
    v[i] = vp(p[i]);
    vsh[i] = _mm256_set1_ps(sh[i]);
  }
  for (i64 c0 = 0; c0 < cols; c0 += kChunk) {
    const i64 c1 = std::min(cols, c0 + kChunk);
    __m256 a[N], q[N];
    for (int i = 0; i < N; ++i) a[i] = q[i] = _mm256_setzero_ps();
    for (i64 j = c0; j < c1; j += kLine) {
#pragma GCC unroll 8
      for (int i = 0; i < N; ++i) {
        __m256 d0, d1, d2, d3;
        // Past the end of the row: the next row, or at most kPrefetch elements past x's end (a
        // prefetch does not fault).
        _mm_prefetch(reinterpret_cast<const char*>(next[i] + j + kPrefetch), _MM_HINT_T0);
        Cv::widen16(next[i] + j, d0, d1);
        Cv::widen16(next[i] + j + 16, d2, d3);
        if constexpr (kLN) {
          d0 = _mm256_sub_ps(d0, vsh[i]);
          d1 = _mm256_sub_ps(d1, vsh[i]);
          d2 = _mm256_sub_ps(d2, vsh[i]);
          d3 = _mm256_sub_ps(d3, vsh[i]);
          a[i] = _mm256_add_ps(a[i], _mm256_add_ps(_mm256_add_ps(d0, d1), _mm256_add_ps(d2, d3)));
        }
        q[i] = _mm256_fmadd_ps(d1, d1, _mm256_fmadd_ps(d0, d0, q[i]));
        q[i] = _mm256_fmadd_ps(d3, d3, _mm256_fmadd_ps(d2, d2, q[i]));
        T* yr = y + i * cols + j;
        _mm256_stream_si256(reinterpret_cast<__m256i*>(yr),
                            half_line<Cv, kLN>(x + i * cols, g, b, v[i], j));
        _mm256_stream_si256(reinterpret_cast<__m256i*>(yr + 16),
                            half_line<Cv, kLN>(x + i * cols, g, b, v[i], j + 16));
      }
    }
    for (int i = 0; i < N; ++i) {
      if constexpr (kLN) s[i].s1 += reduce_add(a[i]);
      s[i].s2 += reduce_add(q[i]);
    }
  }
}

// Rows [r0, r1) software-pipelined: block b is written while block b + 1 is summed.
template <class Cv, bool kLN, class T>
OPBENCH_AVX2 void rows_piped(const Job<T>& jb, i64 r0, i64 r1, const float* g, const float* b) {
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
OPBENCH_AVX2 void rows_each(const Job<T>& jb, i64 r0, i64 r1, const float* g, const float* b) {
  const i64 n = jb.cols;
  for (i64 r = r0; r < r1; ++r) {
    const T* xr = jb.x + r * n;
    const float sh = shift_of<kLN>(xr);
    const Params p = finish<Cv, kLN>(xr, n, jb.eps, row_sums<Cv, kLN>(xr, n, sh), sh);
    write_row<Cv, kLN>(jb.y + r * n, xr, g, b, p, n, jb.nt);
  }
}

template <class Cv, bool kLN>
OPBENCH_AVX2 void rows(const Job<typename Cv::T>& jb, Work& wk) {
  const i64 n = jb.cols;
  Scratch sg, sb;
  float* g = sg.at(n);
  float* b = kLN ? sb.at(n) : nullptr;
  for (i64 j = 0; j < n; ++j) {
    g[j] = to_float(jb.gamma[j]);
    if constexpr (kLN) b[j] = to_float(jb.beta[j]);
  }
  const bool piped = jb.nt && n % kLine == 0 && reinterpret_cast<std::uintptr_t>(jb.y) % 32 == 0;
  for (i64 r0, r1; wk.take(r0, r1);) {
    if (piped) {
      rows_piped<Cv, kLN>(jb, r0, r1, g, b);
    } else {
      rows_each<Cv, kLN>(jb, r0, r1, g, b);
    }
  }
  if (jb.nt) _mm_sfence();
}

template <class T>
using CvOf = std::conditional_t<std::is_same_v<T, bf16_t>, Bf16, F16>;

}  // namespace

bool has_avx2_path() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
}

template <class T, bool kLN>
void rows_avx2(const Job<T>& jb, Work& wk) {
  rows<CvOf<T>, kLN>(jb, wk);
}

#else  // not x86-64 with GCC or Clang: no AVX2 path

bool has_avx2_path() {
  return false;
}

template <class T, bool kLN>
void rows_avx2(const Job<T>&, Work&) {}

#endif

template void rows_avx2<bf16_t, true>(const Job<bf16_t>&, Work&);
template void rows_avx2<bf16_t, false>(const Job<bf16_t>&, Work&);
template void rows_avx2<f16_t, true>(const Job<f16_t>&, Work&);
template void rows_avx2<f16_t, false>(const Job<f16_t>&, Work&);

}  // namespace opbench::cpu::fast::half_detail
