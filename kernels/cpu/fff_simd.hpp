#pragma once
// Private helpers of the Fast Feedforward cpu.fast kernels: dot products of several rows against
// one shared weight vector (the weight is loaded once per step for all rows), weighted sums of
// weight rows kept in registers chunk by chunk (each output element stored once), and a vectorized
// exact-form GeLU. Built on the vector type of norm_fast_simd.hpp (AVX-512, AVX2 or SSE by -march).
// Weights are float32, or bfloat16 / binary16 widened to float32 as they are loaded (W); x and
// the sums are float32.
#include <cstdint>
#include <type_traits>

#include "harness/half.hpp"
#include "kernels/cpu/half_vec.hpp"
#include "kernels/cpu/norm_fast_simd.hpp"

namespace opbench::cpu::fast::fffsimd {

using simd::hsum;
using simd::kW;
using simd::load;
using simd::splat;
using simd::store;
using simd::vf;

// kW weights from p, widened to float32 when they are 16-bit; one weight.
inline vf loadw(const float* p) {
  return load(p);
}
template <class W>
inline vf loadw(const W* p) {
  return half_vec::wv(p);
}
inline float value(float v) {
  return v;
}
template <class W>
inline float value(W v) {
  return to_float(v);
}

// out[r] = xs[r][0:n] . w[0:n] for r < rows. Four rows at a time share each load of w.
template <class W>
void dots(const float* const* xs, std::int64_t rows, const W* w, std::int64_t n, float* out) {
  const std::int64_t nv = n / kW * kW;
  std::int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    // Two accumulators per row: eight independent FMA chains cover the FMA latency.
    const float *x0 = xs[r], *x1 = xs[r + 1], *x2 = xs[r + 2], *x3 = xs[r + 3];
    vf a0 = splat(0), a1 = splat(0), a2 = splat(0), a3 = splat(0);
    vf b0 = splat(0), b1 = splat(0), b2 = splat(0), b3 = splat(0);
    std::int64_t i = 0;
    for (; i + 2 * kW <= nv; i += 2 * kW) {
      const vf wv = loadw(w + i), wu = loadw(w + i + kW);
      a0 += wv * load(x0 + i);
      a1 += wv * load(x1 + i);
      a2 += wv * load(x2 + i);
      a3 += wv * load(x3 + i);
      b0 += wu * load(x0 + i + kW);
      b1 += wu * load(x1 + i + kW);
      b2 += wu * load(x2 + i + kW);
      b3 += wu * load(x3 + i + kW);
    }
    for (; i < nv; i += kW) {
      const vf wv = loadw(w + i);
      a0 += wv * load(x0 + i);
      a1 += wv * load(x1 + i);
      a2 += wv * load(x2 + i);
      a3 += wv * load(x3 + i);
    }
    float s0 = hsum(a0 + b0), s1 = hsum(a1 + b1), s2 = hsum(a2 + b2), s3 = hsum(a3 + b3);
    for (; i < n; ++i) {
      s0 += value(w[i]) * x0[i];
      s1 += value(w[i]) * x1[i];
      s2 += value(w[i]) * x2[i];
      s3 += value(w[i]) * x3[i];
    }
    out[r] = s0;
    out[r + 1] = s1;
    out[r + 2] = s2;
    out[r + 3] = s3;
  }
  for (; r < rows; ++r) {  // single rows: four accumulators hide the FMA latency
    const float* x0 = xs[r];
    vf a0 = splat(0), a1 = splat(0), a2 = splat(0), a3 = splat(0);
    std::int64_t i = 0;
    for (; i + 4 * kW <= nv; i += 4 * kW) {
      a0 += loadw(w + i) * load(x0 + i);
      a1 += loadw(w + i + kW) * load(x0 + i + kW);
      a2 += loadw(w + i + 2 * kW) * load(x0 + i + 2 * kW);
      a3 += loadw(w + i + 3 * kW) * load(x0 + i + 3 * kW);
    }
    for (; i < nv; i += kW) a0 += loadw(w + i) * load(x0 + i);
    float s = hsum((a0 + a1) + (a2 + a3));
    for (; i < n; ++i) s += value(w[i]) * x0[i];
    out[r] = s;
  }
}

// Asks for the `n` values at p to be brought into cache (one prefetch per 64-byte line).
template <class W>
void prefetch(const W* p, std::int64_t n) {
  for (std::int64_t i = 0; i < n; i += 64 / sizeof(W)) __builtin_prefetch(p + i, 0, 3);
}

// y[0:n] = bias[0:n] (zero when bias is null) + sum_k c[k] * ws[k][0:n]. Eight vectors of y stay in
// registers while all `count` weight rows stream through, so y is written once; with `stream`
// (and y aligned to a vector) by non-temporal stores, which skip reading y's lines first (the
// caller issues simd::stream_fence() before the results are used).
template <class W>
void weighted_sum(float* y, const float* c, const W* const* ws, std::int64_t count, std::int64_t n,
                  const std::type_identity_t<W>* bias, bool stream = false) {
  stream = stream && reinterpret_cast<std::uintptr_t>(y) % sizeof(vf) == 0;
  constexpr int kChunk = 8;
  std::int64_t i = 0;
  for (; i + kChunk * kW <= n; i += kChunk * kW) {
    vf acc[kChunk];
#pragma GCC unroll 8
    for (int v = 0; v < kChunk; ++v) acc[v] = bias ? loadw(bias + i + v * kW) : splat(0);
    for (std::int64_t k = 0; k < count; ++k) {
      const vf ck = splat(c[k]);
      const W* wk = ws[k] + i;
#pragma GCC unroll 8
      for (int v = 0; v < kChunk; ++v) acc[v] += ck * loadw(wk + v * kW);
    }
    if (stream) {
#pragma GCC unroll 8
      for (int v = 0; v < kChunk; ++v) simd::stream(y + i + v * kW, acc[v]);
    } else {
#pragma GCC unroll 8
      for (int v = 0; v < kChunk; ++v) store(y + i + v * kW, acc[v]);
    }
  }
  for (; i + kW <= n; i += kW) {
    vf acc = bias ? loadw(bias + i) : splat(0);
    for (std::int64_t k = 0; k < count; ++k) acc += splat(c[k]) * loadw(ws[k] + i);
    store(y + i, acc);
  }
  for (; i < n; ++i) {
    float acc = bias ? value(bias[i]) : 0.0f;
    for (std::int64_t k = 0; k < count; ++k) acc += c[k] * value(ws[k][i]);
    y[i] = acc;
  }
}

// GeLU(z) = z Phi(z). Phi from the upper tail Q(a) = erfc(a / sqrt 2) / 2 of a = |z| with
// Abramowitz & Stegun 7.1.26 (|error of erf| <= 1.5e-7), so neither tail cancels:
// Phi(z) = Q(|z|) for z < 0 and 1 - Q(|z|) otherwise.
inline vf vgelu(vf z) {
  const vf a = simd::vabs(z) * 0.70710678118654752f;
  const vf t = 1.0f / (1.0f + 0.3275911f * a);
  vf poly = t * 1.061405429f - 1.453152027f;
  poly = poly * t + 1.421413741f;
  poly = poly * t - 0.284496736f;
  poly = poly * t + 0.254829592f;
  poly = poly * t;
  const vf q = 0.5f * poly * simd::vexp(-(a * a));
  const vf phi = z < 0.0f ? q : 1.0f - q;
  return z * phi;
}

// v[0:n] = GeLU(v[0:n]) in place.
inline void gelu_inplace(float* v, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + kW <= n; i += kW) store(v + i, vgelu(load(v + i)));
  for (; i < n; ++i) v[i] = vgelu(splat(v[i]))[0];
}

}  // namespace opbench::cpu::fast::fffsimd
