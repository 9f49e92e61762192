#pragma once
// Private helpers of the 16-bit cpu.fast kernels that have no run-time path choice (the norms of
// norm_fast_half_fused.cpp, _rows.cpp and _channels.cpp, the scans of scan_fast.cpp): kW values
// at a time widened to float32 and rounded once into bfloat16 or binary16, in the float vector
// type of norm_fast_simd.hpp, whatever -march gives.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__F16C__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "harness/half.hpp"
#include "kernels/cpu/norm_fast_common.hpp"
#include "kernels/cpu/norm_fast_half_detail.hpp"

namespace opbench::cpu::fast::half_vec {

using detail::i64;
using detail::kW;
using detail::vf;

// kW values widened to float32 (wv) and rounded to nearest even into the dtype (nv), as the
// conversions of harness/half.hpp do (their scalar forms finish the rows), in the width of vf:
// the compiler's own vectorization of scalar loops uses 128-bit vectors on a CPU tuned for them
// (Zen 1). bfloat16: a zero-extension and a shift; bf16_from_float's integer rounding lane by
// lane. binary16: the F16C conversions where the compiler targets them (the rounding of
// f16_from_float), which scalar conversions inside a loop do not become; elsewhere lane by lane.
typedef std::uint32_t vu __attribute__((vector_size(kW * sizeof(float))));
typedef std::uint16_t vh __attribute__((vector_size(kW * sizeof(std::uint16_t))));

inline vf wv(const bf16_t* h) {
  vh v;
  std::memcpy(&v, h, sizeof v);
  return reinterpret_cast<vf>(__builtin_convertvector(v, vu) << 16);
}
inline void nv(bf16_t* o, vf f) {
  const vu b = reinterpret_cast<vu>(f);
  const vu r = b + 0x7FFFu + ((b >> 16) & 1u);  // ties to even
  const vu q = f != f ? (b | 0x00400000u) : r;  // a NaN made quiet
  const vh v = __builtin_convertvector(q >> 16, vh);
  std::memcpy(o, &v, sizeof v);
}
// binary16 by F16C's 8-lane conversions (kW is 8 or 16 wherever F16C is: it comes with AVX), or
// with AVX-512 by one 16-lane conversion: two 8-lane halves joined through memory (the memcpy into
// f) made f16 PowerNorm a third as fast as bf16 (5 against 15 GB/s at 16384x4096).
inline vf wv(const f16_t* h) {
  vf f;
#if defined(__AVX512F__) && OPBENCH_SIMD_W == 16
  const __m512 v = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h)));
  std::memcpy(&f, &v, sizeof v);
#elif defined(__F16C__)
  static_assert(kW % 8 == 0);
  for (int k = 0; k < kW; k += 8) {
    const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + k)));
    std::memcpy(reinterpret_cast<float*>(&f) + k, &v, sizeof v);
  }
#else
  for (int k = 0; k < kW; ++k) f[k] = to_float(h[k]);
#endif
  return f;
}
inline void nv(f16_t* o, vf f) {
#if defined(__AVX512F__) && OPBENCH_SIMD_W == 16
  __m512 v;
  std::memcpy(&v, &f, sizeof v);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
#elif defined(__F16C__)
  for (int k = 0; k < kW; k += 8) {
    __m256 v;
    std::memcpy(&v, reinterpret_cast<const float*>(&f) + k, sizeof v);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o + k),
                     _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
#else
  for (int k = 0; k < kW; ++k) o[k] = f16_from_float(f[k]);
#endif
}

// o[j] = f(j) rounded into the dtype for j in [0, n): fv(j) gives the float32 vector of elements
// j .. j + kW - 1, fs(j) element j.
template <class T, class FV, class FS>
inline void emit(T* o, i64 n, FV fv, FS fs) {
  i64 j = 0;
  for (; j + kW <= n; j += kW) nv(o + j, fv(j));
  for (; j < n; ++j) half_detail::put(o[j], fs(j));
}

// n values widened into float32 scratch (dst), and float32 values rounded once into the dtype.
template <class T>
inline void widen(const T* src, float* dst, i64 n) {
  i64 j = 0;
  for (; j + kW <= n; j += kW) simd::store(dst + j, wv(src + j));
  for (; j < n; ++j) dst[j] = to_float(src[j]);
}
template <class T>
inline void narrow(const float* src, T* dst, i64 n) {
  emit(
      dst, n, [=](i64 j) { return detail::load(src + j); }, [=](i64 j) { return src[j]; });
}

// fn(i0, i1) over [0, n) in one contiguous piece per thread, pieces of at least 32768 values
// (below that the threads' start-up costs more than the conversion).
template <class Fn>
void split_over_threads(i64 n, Fn fn) {
  constexpr i64 kMinPerThread = i64{1} << 15;
  const int threads =
      static_cast<int>(std::clamp<i64>(n / kMinPerThread, 1, omp_get_max_threads()));
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const i64 t = omp_get_thread_num(), nt = omp_get_num_threads();
    fn(n * t / nt, n * (t + 1) / nt);
  }
}

// widen() and narrow() of whole tensors, over the threads.
template <class T>
void widen_threads(const T* src, float* dst, i64 n) {
  split_over_threads(n, [&](i64 i0, i64 i1) { widen(src + i0, dst + i0, i1 - i0); });
}
template <class T>
void narrow_threads(const float* src, T* dst, i64 n) {
  split_over_threads(n, [&](i64 i0, i64 i1) { narrow(src + i0, dst + i0, i1 - i0); });
}

// A float32 copy of n 16-bit values (parameter vectors, keys), widened over the threads.
template <class T>
std::vector<float> widened(const T* src, i64 n) {
  std::vector<float> out(static_cast<std::size_t>(n));
  widen_threads(src, out.data(), n);
  return out;
}

}  // namespace opbench::cpu::fast::half_vec
