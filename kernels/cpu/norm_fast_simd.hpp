#pragma once
// Private helpers of norm_fast.cpp: a fixed-width float vector (GCC/Clang vector extensions, so the
// same code compiles to AVX-512, AVX2 or SSE depending on -march), unaligned loads and stores,
// non-temporal stores, horizontal sums and vectorized exp / tanh / sigmoid.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define OPBENCH_HAVE_STREAM 1
#else
#define OPBENCH_HAVE_STREAM 0
#endif

namespace opbench::cpu::fast::simd {

#if defined(__AVX512F__)
#define OPBENCH_SIMD_W 16
#elif defined(__AVX__)
#define OPBENCH_SIMD_W 8
#else
#define OPBENCH_SIMD_W 4
#endif
inline constexpr int kW = OPBENCH_SIMD_W;

typedef float vf __attribute__((vector_size(kW * sizeof(float))));
typedef std::int32_t vi __attribute__((vector_size(kW * sizeof(float))));

template <std::size_t... I>
inline vf splat_lanes(float s, std::index_sequence<I...>) {
  return vf{((void)I, s)...};
}
// All lanes s (one broadcast instruction).
inline vf splat(float s) {
  return splat_lanes(s, std::make_index_sequence<kW>{});
}

inline vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store(float* p, vf v) {
  std::memcpy(p, &v, sizeof v);
}

// Non-temporal store; p must be aligned to sizeof(vf).
inline void stream(float* p, vf v) {
#if defined(__AVX512F__)
  _mm512_stream_ps(p, (__m512)v);
#elif defined(__AVX__)
  _mm256_stream_ps(p, (__m256)v);
#elif OPBENCH_HAVE_STREAM
  _mm_stream_ps(p, (__m128)v);
#else
  store(p, v);
#endif
}

inline void stream_fence() {
#if OPBENCH_HAVE_STREAM
  _mm_sfence();
#endif
}

// Horizontal sum, pairwise: halves added until one lane is left.
inline float hsum(vf v) {
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
  typedef float v4 __attribute__((vector_size(4 * sizeof(float))));
#if OPBENCH_SIMD_W == 16
  typedef float v8 __attribute__((vector_size(8 * sizeof(float))));
  const v8 h8 = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
                __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  v4 h4 = __builtin_shufflevector(h8, h8, 0, 1, 2, 3) + __builtin_shufflevector(h8, h8, 4, 5, 6, 7);
#elif OPBENCH_SIMD_W == 8
  v4 h4 = __builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7);
#else
  v4 h4 = v;
#endif
  h4 += __builtin_shufflevector(h4, h4, 2, 3, 2, 3);
  return h4[0] + h4[1];
#else
  for (int w = kW / 2; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) v[i] += v[i + w];
  return v[0];
#endif
}

// a * b + c rounded once, stated rather than left to the compiler's contraction (the accuracy of
// the backward kernels' dx on constant rows depends on it).
inline vf fmadd(vf a, vf b, vf c) {
#if defined(__AVX512F__) && OPBENCH_SIMD_W == 16
  return (vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif defined(__FMA__) && OPBENCH_SIMD_W == 8
  return (vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
  vf r;
  for (int i = 0; i < kW; ++i) r[i] = std::fma(a[i], b[i], c[i]);
  return r;
#endif
}

inline vf vmin(vf a, vf b) {
  return a < b ? a : b;
}
inline vf vmax(vf a, vf b) {
  return a > b ? a : b;
}
inline vf vabs(vf a) {
  return a < 0.0f ? -a : a;
}

// Clamps z to [lo, hi] and keeps a NaN a NaN: vmax(lo, z) and vmin(hi, .) give their second
// operand when a comparison is false, as with a NaN (vmax(z, lo) gave lo: exp(NaN) was e^-87).
inline vf vclamp(vf z, float lo, float hi) {
  return vmin(splat(hi), vmax(splat(lo), z));
}

// exp(z), relative error ~2 ulp over the float range; inputs are clamped to [-87, 88] (no
// overflow to inf, no denormal results), NaN stays NaN. Cephes expf polynomial.
inline vf vexp(vf z) {
  z = vclamp(z, -87.0f, 88.0f);
  const vf magic = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  vf t = z * 1.44269504088896341f + magic;
  vf n = t - magic;
  vf r = z - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  vf p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  vi e = (__builtin_convertvector(n, vi) + 127) << 23;
  vf scale;
  std::memcpy(&scale, &e, sizeof scale);
  return p * scale;
}

// tanh(z): the 13/6-degree rational approximation that Eigen uses for float
// (generic_fast_tanh_float), accurate to a few ulp; inputs are clamped to +-7.9053111, where the
// float result is +-1; NaN stays NaN.
inline vf vtanh(vf z) {
  const vf x = vclamp(z, -7.90531110763549805f, 7.90531110763549805f);
  const vf x2 = x * x;
  vf p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = x2 * p + -8.60467152213735e-11f;
  p = x2 * p + 5.12229709037114e-08f;
  p = x2 * p + 1.48572235717979e-05f;
  p = x2 * p + 6.37261928875436e-04f;
  p = x2 * p + 4.89352455891786e-03f;
  p = x * p;
  vf q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = x2 * q + 2.26843463243900e-03f;
  q = x2 * q + 4.89352518554385e-03f;
  return p / q;
}

inline vf vsigmoid(vf z) {
  return 1.0f / (1.0f + vexp(-z));
}

// Scalar versions with the same formulas, for row heads and tails.
inline float sexp(float z) {
  vf v = splat(z);
  return vexp(v)[0];
}
inline float stanh(float z) {
  return vtanh(splat(z))[0];
}
inline float ssigmoid(float z) {
  return vsigmoid(splat(z))[0];
}

}  // namespace opbench::cpu::fast::simd
