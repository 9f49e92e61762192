// cpu.plain and cpu.fast MsgNorm and PowerNorm (kernels/cpu/norm_msgnorm_powernorm.hpp), each a
// template over float, bf16_t and f16_t storage.
//
// Both ops are memory-bound: MsgNorm reads x and m and writes y, PowerNorm reads x and writes y
// (its per-column parameters and statistics are small). cpu.fast therefore touches memory once:
// MsgNorm computes the norms of row r + 1 in the loop that writes row r (read from cache: it was
// summed in the previous iteration), PowerNorm sums x^2 per column in the loop that writes y. Large
// outputs (float32 or 16-bit) with 64-byte aligned rows are written with non-temporal stores. Every
// kernel reads an element before it writes the same position, so y may alias x.
#include "kernels/cpu/norm_msgnorm_powernorm.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "harness/half.hpp"
#include "kernels/cpu/half_vec.hpp"
#include "kernels/cpu/norm_fast_common.hpp"
#include "kernels/cpu/norm_fast_half_detail.hpp"
#include "kernels/cpu/norm_fast_simd.hpp"
#include "kernels/cpu/storage.hpp"

namespace opbench::cpu {

// --- cpu.plain -----------------------------------------------------------------------------------

namespace plain {
template <typename T>
void msgnorm(const T* x, const T* m, float s, T* y, std::int64_t rows, std::int64_t cols,
             float norm_floor) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    const T* mr = m + r * cols;
    T* yr = y + r * cols;
    double sx = 0.0, sm = 0.0;
    for (std::int64_t j = 0; j < cols; ++j) {
      sx += widen_double(xr[j]) * widen_double(xr[j]);
      sm += widen_double(mr[j]) * widen_double(mr[j]);
    }
    const double x_norm = std::sqrt(sx);
    const double m_den = std::max(std::sqrt(sm), static_cast<double>(norm_floor));
    for (std::int64_t j = 0; j < cols; ++j)
      yr[j] = narrow_double<T>(widen_double(xr[j]) + widen_double(mr[j]) / m_den * x_norm * s);
  }
}

template <typename T>
void powernorm(const T* x, const float* running_phi, const T* gamma, const T* beta, T* y,
               float* running_phi_new, std::int64_t rows, std::int64_t cols, float alpha,
               float eps) {
  std::vector<double> q(cols, 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j)
      q[j] += widen_double(x[r * cols + j]) * widen_double(x[r * cols + j]);
  powernorm_infer(x, running_phi, gamma, beta, y, rows, cols, eps);
  for (std::int64_t j = 0; j < cols; ++j) {
    running_phi_new[j] = static_cast<float>(alpha * static_cast<double>(running_phi[j]) +
                                            (1.0 - alpha) * q[j] / static_cast<double>(rows));
  }
}

template <typename T>
void powernorm_infer(const T* x, const float* running_phi, const T* gamma, const T* beta, T* y,
                     std::int64_t rows, std::int64_t cols, float eps) {
  std::vector<double> rstd(cols);
  for (std::int64_t j = 0; j < cols; ++j)
    rstd[j] = 1.0 / std::sqrt(static_cast<double>(running_phi[j]) + eps);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::int64_t i = r * cols + j;
      y[i] = narrow_double<T>(widen_double(gamma[j]) * widen_double(x[i]) * rstd[j] +
                              widen_double(beta[j]));
    }
}

}  // namespace plain

// --- cpu.fast ------------------------------------------------------------------------------------

namespace fast {
namespace {

using detail::i64;
using detail::kChunk;
using detail::kW;
using detail::load;
using detail::splat;
using detail::vf;

// Loads widened to float32 and stores rounded once into the storage type: float32 as it is
// (non-temporal when kNT), bfloat16 and binary16 through half_vec.hpp, except with AVX-512,
// where a 16-value vector is converted in one instruction here (vpmovzxwd + shift, vcvtph2ps,
// vcvtps2ph: the same values and the same rounding). half_vec's binary16 conversions go through
// 8-lane pieces in memory, and in these loops their stores and wider reloads missed store-to-load
// forwarding: float16 PowerNorm ran at 5 GB/s on one thread where this runs at 15 (the copy's
// speed), MsgNorm at 2 where this runs at 13.
inline vf ldv(const float* p) {
  return load(p);
}
inline vf ldv(const bf16_t* p) {
#if defined(__AVX512F__)
  return reinterpret_cast<vf>(_mm512_slli_epi32(
      _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
#else
  return half_vec::wv(p);
#endif
}
inline vf ldv(const f16_t* p) {
#if defined(__AVX512F__)
  return reinterpret_cast<vf>(
      _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))));
#else
  return half_vec::wv(p);
#endif
}
inline float lds(float v) {
  return v;
}
inline float lds(bf16_t v) {
  return to_float(v);
}
inline float lds(f16_t v) {
  return to_float(v);
}
template <bool kNT>
inline void stv(float* p, vf v) {
  if constexpr (kNT) {
    simd::stream(p, v);
  } else {
    simd::store(p, v);
  }
}
// A 16-bit vector of kW values is 32 bytes (AVX-512) or 16 (AVX): it is rounded by half_vec's
// nv() into an aligned temporary of the same size (forwarded to the load, or kept in a register)
// and streamed from there.
constexpr bool kHalfStream = OPBENCH_HAVE_STREAM && (kW == 16 || kW == 8);
#if defined(__AVX512F__)
template <bool kNT>
inline void stv(f16_t* p, vf v) {
  const __m256i h = _mm512_cvtps_ph(reinterpret_cast<__m512>(v), _MM_FROUND_TO_NEAREST_INT);
  if constexpr (kNT) {
    _mm256_stream_si256(reinterpret_cast<__m256i*>(p), h);
  } else {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), h);
  }
}
#endif
template <bool kNT, class H>
inline void stv(H* p, vf v) {
  if constexpr (kNT && kHalfStream) {
    alignas(32) H tmp[kW];
    half_vec::nv(tmp, v);
#if OPBENCH_HAVE_STREAM
    if constexpr (kW == 16) {
      _mm256_stream_si256(reinterpret_cast<__m256i*>(p),
                          _mm256_load_si256(reinterpret_cast<const __m256i*>(tmp)));
    } else {
      _mm_stream_si128(reinterpret_cast<__m128i*>(p),
                       _mm_load_si128(reinterpret_cast<const __m128i*>(tmp)));
    }
#endif
  } else {
    half_vec::nv(p, v);
  }
}
inline void sts(float& o, float v) {
  o = v;
}
template <class H>
inline void sts(H& o, float v) {
  half_detail::put(o, v);
}

// Non-temporal stores for an output of at least kStreamMinBytes whose rows all start on a cache
// line (a streaming store needs an aligned address; a scalar head per row would cost more than it
// saves): a copy's write traffic, where a normal store first reads the line it writes.
template <class T>
bool stream_rows(const T* y, i64 rows, i64 cols) {
  if constexpr (!std::is_same_v<T, float> && !kHalfStream) {
    return false;
  } else {
    const i64 row_bytes = cols * static_cast<i64>(sizeof(T));
    return detail::use_stream(rows * row_bytes) && row_bytes % 64 == 0 &&
           reinterpret_cast<std::uintptr_t>(y) % 64 == 0;
  }
}

// The number of contiguous row ranges (one per thread) a kernel over rows x cols splits into.
int thread_parts(i64 rows, i64 cols) {
  const bool par =
      rows > 1 && rows * cols >= detail::kParallelMinElems && omp_get_max_threads() > 1;
  return par ? static_cast<int>(std::min<i64>(omp_get_max_threads(), rows)) : 1;
}

// --- MsgNorm ---

struct SquareSums {
  double x = 0.0, m = 0.0;
};

// Writes y = x + c m over one row (one fused multiply-add per element: the rounding of c and of
// the result only) and, when kNext, sums the squares of the next row's x and m in the same loop:
// float32 vector accumulators per chunk of kChunk elements, chunks summed in double.
template <bool kWrite, bool kNext, bool kNT, class T>
SquareSums row_pass(const T* x, const T* m, T* y, float c, const T* nx, const T* nm, i64 cols) {
  SquareSums s;
  const vf vc = splat(c);
  const i64 vec_end = cols - cols % kW;
  for (i64 c0 = 0; c0 < vec_end; c0 += kChunk) {
    const i64 c1 = std::min(vec_end, c0 + kChunk);
    // Two vectors per step (a whole cache line of a 16-bit row per stream), then at most one.
    vf ax = splat(0.0f), am = ax, ax2 = ax, am2 = ax;
    i64 j = c0;
    for (; j + 2 * kW <= c1; j += 2 * kW) {
      if constexpr (kWrite) {
        const vf y0 = ldv(m + j) * vc + ldv(x + j);
        const vf y1 = ldv(m + j + kW) * vc + ldv(x + j + kW);
        stv<kNT>(y + j, y0);
        stv<kNT>(y + j + kW, y1);
      }
      if constexpr (kNext) {
        const vf a = ldv(nx + j), b = ldv(nm + j), a2 = ldv(nx + j + kW), b2 = ldv(nm + j + kW);
        ax += a * a;
        am += b * b;
        ax2 += a2 * a2;
        am2 += b2 * b2;
      }
    }
    for (; j < c1; j += kW) {
      if constexpr (kWrite) stv<kNT>(y + j, ldv(m + j) * vc + ldv(x + j));
      if constexpr (kNext) {
        const vf a = ldv(nx + j), b = ldv(nm + j);
        ax += a * a;
        am += b * b;
      }
    }
    if constexpr (kNext) {
      s.x += simd::hsum(ax + ax2);
      s.m += simd::hsum(am + am2);
    }
  }
  for (i64 j = vec_end; j < cols; ++j) {
    if constexpr (kWrite) sts(y[j], std::fma(lds(m[j]), c, lds(x[j])));
    if constexpr (kNext) {
      const double a = lds(nx[j]), b = lds(nm[j]);
      s.x += a * a;
      s.m += b * b;
    }
  }
  return s;
}

// c = s ||x|| / max(||m||, floor), the code's F.normalize floor, in double, rounded once.
inline float msg_coefficient(const SquareSums& q, float s, float norm_floor) {
  const double den = std::max(std::sqrt(q.m), static_cast<double>(norm_floor));
  return static_cast<float>(static_cast<double>(s) * std::sqrt(q.x) / den);
}

template <bool kNT, class T>
void msgnorm_rows(const T* x, const T* m, float s, T* y, i64 r0, i64 r1, i64 cols,
                  float norm_floor) {
  if (r0 >= r1) return;
  SquareSums q = row_pass<false, true, kNT>(x, m, y, 0.0f, x + r0 * cols, m + r0 * cols, cols);
  for (i64 r = r0; r < r1; ++r) {
    const i64 o = r * cols;
    const float c = msg_coefficient(q, s, norm_floor);
    if (r + 1 < r1) {
      q = row_pass<true, true, kNT>(x + o, m + o, y + o, c, x + o + cols, m + o + cols, cols);
    } else {
      row_pass<true, false, kNT, T>(x + o, m + o, y + o, c, nullptr, nullptr, cols);
    }
  }
}

// --- PowerNorm ---

// Rows [r, r + N) of y = x * scale + beta (per-column scale and beta in float32), and when kStats
// acc[j] += x[r.., j]^2 summed pairwise over the N rows, so each accumulator, scale and beta
// vector is loaded once per N rows.
template <int N, bool kStats, bool kNT, class T>
inline void scale_rows(const T* x, T* y, i64 cols, const float* scale, const float* beta,
                       float* acc) {
  i64 j = 0;
  for (; j + kW <= cols; j += kW) {
    const vf sc = load(scale + j), bt = load(beta + j);
    vf sq[N];
#pragma GCC unroll 4
    for (int i = 0; i < N; ++i) {
      const vf v = ldv(x + i * cols + j);
      sq[i] = v * v;
      stv<kNT>(y + i * cols + j, v * sc + bt);
    }
    if constexpr (kStats) {
      vf t = sq[0];
      if constexpr (N == 4) t = (sq[0] + sq[1]) + (sq[2] + sq[3]);
      simd::store(acc + j, load(acc + j) + t);
    }
  }
  for (; j < cols; ++j) {
    float t = 0.0f;
    for (int i = 0; i < N; ++i) {
      const float v = lds(x[i * cols + j]);
      t += v * v;
      sts(y[i * cols + j], v * scale[j] + beta[j]);
    }
    if constexpr (kStats) acc[j] += t;
  }
}

// Rows [r0, r1) of PowerNorm's output; with kStats, sum[j] += sum of x^2 over those rows,
// in float32 over chunks of kChunkRows rows, each chunk added in double.
template <bool kStats, bool kNT, class T>
void powernorm_rows(const T* x, T* y, i64 r0, i64 r1, i64 cols, const float* scale,
                    const float* beta, double* sum) {
  constexpr i64 kChunkRows = 32;
  half_detail::Scratch scratch;
  float* acc = kStats ? scratch.at(cols) : nullptr;
  for (i64 c0 = r0; c0 < r1; c0 += kChunkRows) {
    const i64 c1 = std::min(r1, c0 + kChunkRows);
    if constexpr (kStats) std::fill(acc, acc + cols, 0.0f);
    i64 r = c0;
    for (; r + 4 <= c1; r += 4)
      scale_rows<4, kStats, kNT>(x + r * cols, y + r * cols, cols, scale, beta, acc);
    for (; r < c1; ++r)
      scale_rows<1, kStats, kNT>(x + r * cols, y + r * cols, cols, scale, beta, acc);
    if constexpr (kStats)
      for (i64 j = 0; j < cols; ++j) sum[j] += acc[j];
  }
}

// Both PowerNorms: scale = gamma / sqrt(running_phi + eps) (double, rounded once) and beta
// widened to float32; rows split over the threads; with running_phi_new, the update from the
// column sums of the threads added in thread order.
template <class T>
void powernorm_any(const T* x, const float* running_phi, const T* gamma, const T* beta, T* y,
                   float* running_phi_new, i64 rows, i64 cols, float alpha, float eps) {
  if (rows <= 0 || cols <= 0) return;
  half_detail::Scratch s_scale, s_beta;
  float* scale = s_scale.at(cols);
  float* bt = s_beta.at(cols);
  for (i64 j = 0; j < cols; ++j) {
    scale[j] = static_cast<float>(
        lds(gamma[j]) / std::sqrt(static_cast<double>(running_phi[j]) + static_cast<double>(eps)));
    bt[j] = lds(beta[j]);
  }
  const bool stats = running_phi_new != nullptr;
  const bool nt = stream_rows(y, rows, cols);
  const int parts = thread_parts(rows, cols);
  std::vector<double> t_sum(stats ? static_cast<std::size_t>(parts) * cols : 0, 0.0);
#pragma omp parallel num_threads(parts) if (parts > 1)
  {
    const i64 t = omp_get_thread_num(), n = omp_get_num_threads();
    const i64 r0 = rows * t / n, r1 = rows * (t + 1) / n;
    double* sum = stats ? t_sum.data() + t * cols : nullptr;
    if (stats && nt) powernorm_rows<true, true>(x, y, r0, r1, cols, scale, bt, sum);
    if (stats && !nt) powernorm_rows<true, false>(x, y, r0, r1, cols, scale, bt, sum);
    if (!stats && nt) powernorm_rows<false, true>(x, y, r0, r1, cols, scale, bt, sum);
    if (!stats && !nt) powernorm_rows<false, false>(x, y, r0, r1, cols, scale, bt, sum);
    if (nt) simd::stream_fence();
  }
  if (!stats) return;
  const double a = alpha, dn = static_cast<double>(rows);
  for (i64 j = 0; j < cols; ++j) {
    double q = 0.0;
    for (int t = 0; t < parts; ++t) q += t_sum[static_cast<std::size_t>(t) * cols + j];
    running_phi_new[j] = static_cast<float>(a * running_phi[j] + (1.0 - a) * (q / dn));
  }
}

}  // namespace

template <typename T>
void msgnorm(const T* x, const T* m, float s, T* y, std::int64_t rows, std::int64_t cols,
             float norm_floor) {
  if (rows <= 0 || cols <= 0) return;
  const bool nt = stream_rows(y, rows, cols);
  const int parts = thread_parts(rows, cols);
#pragma omp parallel num_threads(parts) if (parts > 1)
  {
    const i64 t = omp_get_thread_num(), n = omp_get_num_threads();
    const i64 r0 = rows * t / n, r1 = rows * (t + 1) / n;
    if (nt) {
      msgnorm_rows<true>(x, m, s, y, r0, r1, cols, norm_floor);
      simd::stream_fence();
    } else {
      msgnorm_rows<false>(x, m, s, y, r0, r1, cols, norm_floor);
    }
  }
}

template <typename T>
void powernorm(const T* x, const float* running_phi, const T* gamma, const T* beta, T* y,
               float* running_phi_new, std::int64_t rows, std::int64_t cols, float alpha,
               float eps) {
  powernorm_any(x, running_phi, gamma, beta, y, running_phi_new, rows, cols, alpha, eps);
}

template <typename T>
void powernorm_infer(const T* x, const float* running_phi, const T* gamma, const T* beta, T* y,
                     std::int64_t rows, std::int64_t cols, float eps) {
  powernorm_any(x, running_phi, gamma, beta, y, static_cast<float*>(nullptr), rows, cols, 0.0f,
                eps);
}

}  // namespace fast

#define OPBENCH_MSGNORM_POWERNORM(ns, T)                                                          \
  template void ns::msgnorm<T>(const T*, const T*, float, T*, std::int64_t, std::int64_t, float); \
  template void ns::powernorm<T>(const T*, const float*, const T*, const T*, T*, float*,          \
                                 std::int64_t, std::int64_t, float, float);                       \
  template void ns::powernorm_infer<T>(const T*, const float*, const T*, const T*, T*,            \
                                       std::int64_t, std::int64_t, float);
OPBENCH_MSGNORM_POWERNORM(plain, float)
OPBENCH_MSGNORM_POWERNORM(plain, bf16_t)
OPBENCH_MSGNORM_POWERNORM(plain, f16_t)
OPBENCH_MSGNORM_POWERNORM(fast, float)
OPBENCH_MSGNORM_POWERNORM(fast, bf16_t)
OPBENCH_MSGNORM_POWERNORM(fast, f16_t)
#undef OPBENCH_MSGNORM_POWERNORM

}  // namespace opbench::cpu
