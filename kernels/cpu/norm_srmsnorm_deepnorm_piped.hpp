#pragma once
// cpu.fast SimpleRMSNorm and DeepNorm with 16-bit storage: the pipelined, streamed rows for large
// outputs (included by norm_srmsnorm_deepnorm_half.hpp, which chooses them). As the float32 row
// engine (norm_fast_rows.hpp: pipelined_rows), within a range of rows one loop over the columns
// writes a block of kRowsPiped rows (their x, fx from L1/L2) while it sums the next block's rows
// from memory, so that reads and streaming writes are in flight together, as in a copy.
//
// Work goes by lines of kLine = 2 kW values (64 bytes in AVX-512 builds, 32 with AVX), each
// written by one non-temporal store assembled in registers: storing half lines of several rows in
// turn leaves write-combining buffers partly filled, and a line put together in memory from two
// half-line stores cannot be forwarded to the one load that streams it (a stall per line). A line
// is widened into two float32 vectors in an order of its own dtype (Codec): bfloat16 as its even
// and its odd values, one load and two bit operations (its ordered widening takes two vpmovzxwd
// per 16 values, which issue at about one per two cycles on the Zen hosts: norm_fast_half.cpp),
// and narrowed back from that order with two more, no permutation; binary16 in order (vcvtph2ps
// and vcvtps2ph). Per-column parameters (DeepNorm's gamma, beta) are kept in float32 in the same
// order.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "harness/half.hpp"
#include "kernels/cpu/half_vec.hpp"
#include "kernels/cpu/norm_srmsnorm_deepnorm_detail.hpp"

namespace opbench::cpu::fast::srms_deep {

using detail::kW;
using detail::load;
using detail::splat;
using detail::vf;
using half_vec::vh;
using half_vec::vu;

constexpr i64 kRowsPiped = 4;
constexpr i64 kLine = 2 * kW;
constexpr bool kStreamHalf = OPBENCH_HAVE_STREAM && (kW == 16 || kW == 8);
typedef std::uint16_t vline __attribute__((vector_size(kLine * sizeof(std::uint16_t))));

// Whether the rows of y[rows, cols] take the pipelined rows: a large output (as the float32
// kernels: kStreamMinBytes), every row starting on a line.
template <class T>
bool piped(const T* y, i64 rows, i64 cols) {
  return kStreamHalf && detail::use_stream(rows * cols * static_cast<i64>(sizeof(T))) &&
         cols % kLine == 0 && reinterpret_cast<std::uintptr_t>(y) % (kLine * sizeof(T)) == 0;
}

template <class T>
struct Codec;

// bfloat16: a and b the even and the odd values of the line (their bits are float32's upper
// halves); back by the rounding of half_vec::nv (to nearest even in the integers, a NaN made
// quiet), the even values' upper halves moved down into the odd ones' lanes.
template <>
struct Codec<bf16_t> {
  static void split(const bf16_t* p, vf& a, vf& b) {
    vu v;
    std::memcpy(&v, p, sizeof v);
    a = reinterpret_cast<vf>(v << 16);
    b = reinterpret_cast<vf>(v & 0xFFFF0000u);
  }
  static vu rounded(vf f) {
    const vu b = reinterpret_cast<vu>(f);
    const vu r = b + 0x7FFFu + ((b >> 16) & 1u);  // ties to even
    return f != f ? (b | 0x00400000u) : r;
  }
  static vline join(vf a, vf b) {
    return reinterpret_cast<vline>((rounded(b) & 0xFFFF0000u) | (rounded(a) >> 16));
  }
};

template <std::size_t... I>
inline vline concat(vh a, vh b, std::index_sequence<I...>) {
  return __builtin_shufflevector(a, b, I...);
}

// binary16: a and b the first and the second kW values; back by vcvtps2ph, to nearest even.
template <>
struct Codec<f16_t> {
  static void split(const f16_t* p, vf& a, vf& b) {
    a = half_vec::wv(p);
    b = half_vec::wv(p + kW);
  }
  static vh narrowed(vf f) {
#if OPBENCH_SIMD_W == 16
    return reinterpret_cast<vh>(_mm512_cvtps_ph((__m512)f, _MM_FROUND_TO_NEAREST_INT));
#elif OPBENCH_SIMD_W == 8 && defined(__F16C__)
    return reinterpret_cast<vh>(_mm256_cvtps_ph((__m256)f, _MM_FROUND_TO_NEAREST_INT));
#else
    vh h;
    half_vec::nv(reinterpret_cast<f16_t*>(&h), f);
    return h;
#endif
  }
  static vline join(vf a, vf b) {
    return concat(narrowed(a), narrowed(b), std::make_index_sequence<kLine>{});
  }
};

// A line at o (aligned to kLine * 2 bytes) with one non-temporal store.
template <class T>
inline void stream_line(T* o, vline l) {
#if OPBENCH_HAVE_STREAM && OPBENCH_SIMD_W == 16
  _mm512_stream_si512(reinterpret_cast<__m512i*>(o), reinterpret_cast<__m512i>(l));
#elif OPBENCH_HAVE_STREAM && OPBENCH_SIMD_W == 8
  _mm256_stream_si256(reinterpret_cast<__m256i*>(o), reinterpret_cast<__m256i>(l));
#else
  std::memcpy(o, &l, sizeof l);
#endif
}

// n values of p (n % kLine == 0) widened into dst in the codec's order.
template <class T>
void split_into(const T* p, float* dst, i64 n) {
  for (i64 j = 0; j < n; j += kLine) {
    vf a, b;
    Codec<T>::split(p + j, a, b);
    simd::store(dst + j, a);
    simd::store(dst + j + kW, b);
  }
}

// ---- SimpleRMSNorm ------------------------------------------------------------------------------

template <class T>
double sum_squares_lines(const T* xr, i64 cols) {
  double ss = 0.0;
  for (i64 c0 = 0; c0 < cols; c0 += kChunk) {
    vf acc = splat(0.0f);
    for (i64 j = c0; j < std::min(cols, c0 + kChunk); j += kLine) {
      vf a, b;
      Codec<T>::split(xr + j, a, b);
      acc += a * a + b * b;
    }
    ss += simd::hsum(acc);
  }
  return ss;
}

// One chunk [c0, c1) of a block: by lines, out(i, j) writes line j of the i-th of n rows written
// and sum(i, j) adds line j of the i-th of nn rows summed, the two interleaved row by row when
// both blocks are whole (kRowsPiped rows).
template <class Sum, class Out>
inline void write_and_sum_lines(i64 n, i64 nn, i64 c0, i64 c1, Sum& sum, Out& out) {
  constexpr i64 R = kRowsPiped;
  if (n == R && nn == R) {
    for (i64 j = c0; j < c1; j += kLine) {
#pragma GCC unroll 4
      for (i64 i = 0; i < R; ++i) {
        sum(i, j);
        out(i, j);
      }
    }
  } else {  // the last blocks of a range
    for (i64 j = c0; j < c1; j += kLine) {
      for (i64 i = 0; i < nn; ++i) sum(i, j);
      for (i64 i = 0; i < n; ++i) out(i, j);
    }
  }
}

// Rows [r0, r1) of y = x * factor: block b0 written while the next block is summed.
template <class T>
void srmsnorm_range_piped(const T* x, T* y, i64 r0, i64 r1, i64 cols, double sqrt_d, float eps) {
  constexpr i64 R = kRowsPiped;
  float f[R];
  for (i64 i = 0; i < std::min(R, r1 - r0); ++i)
    f[i] = srms_factor(sum_squares_lines(x + (r0 + i) * cols, cols), sqrt_d, eps);
  for (i64 b0 = r0; b0 < r1; b0 += R) {
    const i64 n = std::min(R, r1 - b0);                   // rows written
    const i64 nn = std::clamp<i64>(r1 - (b0 + R), 0, R);  // rows summed
    const T* xw = x + b0 * cols;
    const T* xs = xw + R * cols;
    T* yw = y + b0 * cols;
    double ss[R] = {};
    for (i64 c0 = 0; c0 < cols; c0 += kChunk) {
      const i64 c1 = std::min(cols, c0 + kChunk);
      vf acc[R];
      for (i64 i = 0; i < R; ++i) acc[i] = splat(0.0f);
      const auto sum = [&](i64 i, i64 j) {
        vf a, b;
        Codec<T>::split(xs + i * cols + j, a, b);
        acc[i] += a * a + b * b;
      };
      const auto out = [&](i64 i, i64 j) {
        vf a, b;
        Codec<T>::split(xw + i * cols + j, a, b);
        const vf fv = splat(f[i]);
        stream_line(yw + i * cols + j, Codec<T>::join(a * fv, b * fv));
      };
      write_and_sum_lines(n, nn, c0, c1, sum, out);
      for (i64 i = 0; i < nn; ++i) ss[i] += simd::hsum(acc[i]);
    }
    for (i64 i = 0; i < nn; ++i) f[i] = srms_factor(ss[i], sqrt_d, eps);
  }
}

// ---- DeepNorm -----------------------------------------------------------------------------------

// One call's operands, and a thread's gamma and beta in float32 (for the pipelined rows in the
// codec's order: split_into).
template <class T>
struct DeepArgs {
  const T* x;
  const T* fx;
  T* y;
  i64 cols;
  float alpha, eps;
  const float* g;
  const float* b;
};

// A row's shifts and parameters: y = (alpha (x - x0) + (fx - f0) - mean) * rstd * gamma + beta.
struct RowS {
  float x0, f0, mean, rstd;
};

// d = alpha (x - x0) + (fx - f0) of the line at column j of a row, in the codec's order.
template <class T>
inline void d_line(const T* xr, const T* fr, vf va, vf vx0, vf vf0, i64 j, vf& d0, vf& d1) {
  vf xa, xb, fa, fb;
  Codec<T>::split(xr + j, xa, xb);
  Codec<T>::split(fr + j, fa, fb);
  d0 = va * (xa - vx0) + (fa - vf0);
  d1 = va * (xb - vx0) + (fb - vf0);
}

// Sums of d of row r about shifts x0, f0 (the whole row, from wherever it is).
template <class T>
detail::Sums d_sums(const DeepArgs<T>& k, i64 r, float x0, float f0) {
  const T* xr = k.x + r * k.cols;
  const T* fr = k.fx + r * k.cols;
  const vf va = splat(k.alpha), vx0 = splat(x0), vf0 = splat(f0);
  detail::Sums s;
  for (i64 c0 = 0; c0 < k.cols; c0 += kChunk) {
    vf a = splat(0.0f), q = a;
    for (i64 j = c0; j < std::min(k.cols, c0 + kChunk); j += kLine) {
      vf d0, d1;
      d_line(xr, fr, va, vx0, vf0, j, d0, d1);
      a += d0 + d1;
      q += d0 * d0 + d1 * d1;
    }
    s.s1 += simd::hsum(a);
    s.s2 += simd::hsum(q);
  }
  return s;
}

// Row r's shifts and parameters from the sums of its d about its first elements; a row whose
// shifts are not trusted takes the means of x and fx (from cache), and its d about them is
// summed again: two passes, its float mean first (Chan, Golub & LeVeque), as moments() does.
template <class T>
RowS row_shifted(const DeepArgs<T>& k, i64 r, detail::Sums s) {
  const T* xr = k.x + r * k.cols;
  const T* fr = k.fx + r * k.cols;
  float x0 = to_float(xr[0]), f0 = to_float(fr[0]);
  const double dn = static_cast<double>(k.cols);
  if (!shift_trusted(s, k.cols)) {
    const auto mean_of = [&](const T* p) {
      double t = 0.0;
      for (i64 j = 0; j < k.cols; j += kLine) {
        vf a, b;
        Codec<T>::split(p + j, a, b);
        t += simd::hsum(a + b);
      }
      return static_cast<float>(t / dn);
    };
    x0 = mean_of(xr);
    f0 = mean_of(fr);
    s = d_sums(k, r, x0, f0);
    if (!shift_trusted(s, k.cols)) {
      // Still far (a row of outliers): about the float mean of d as well, folded into f0.
      f0 += static_cast<float>(s.s1 / dn);
      s = d_sums(k, r, x0, f0);
    }
  }
  const detail::Moments m = moments_of(s, k.cols);
  return {x0, f0, static_cast<float>(m.mean),
          detail::rsqrt_d(m.m2 / dn + static_cast<double>(k.eps))};
}

// Rows [r0, r1): block b0 written (d from x, fx in L1/L2) while the next block is summed.
template <class T>
void deepnorm_range_piped(const DeepArgs<T>& k, i64 r0, i64 r1) {
  constexpr i64 R = kRowsPiped;
  const i64 cols = k.cols;
  const vf va = splat(k.alpha);
  RowS p[R];
  for (i64 i = 0; i < std::min(R, r1 - r0); ++i) {
    const i64 r = r0 + i;
    p[i] = row_shifted(k, r, d_sums(k, r, to_float(k.x[r * cols]), to_float(k.fx[r * cols])));
  }
  for (i64 b0 = r0; b0 < r1; b0 += R) {
    const i64 n = std::min(R, r1 - b0);                   // rows written
    const i64 nn = std::clamp<i64>(r1 - (b0 + R), 0, R);  // rows summed
    const T* xw = k.x + b0 * cols;
    const T* fw = k.fx + b0 * cols;
    const T* xs = xw + R * cols;
    const T* fs = fw + R * cols;
    T* yw = k.y + b0 * cols;
    float x0[R], f0[R];
    for (i64 i = 0; i < nn; ++i) {
      x0[i] = to_float(xs[i * cols]);
      f0[i] = to_float(fs[i * cols]);
    }
    detail::Sums s[R];
    for (i64 c0 = 0; c0 < cols; c0 += kChunk) {
      const i64 c1 = std::min(cols, c0 + kChunk);
      vf a[R], q[R];
      for (i64 i = 0; i < R; ++i) a[i] = q[i] = splat(0.0f);
      const auto sum = [&](i64 i, i64 j) {
        vf d0, d1;
        d_line(xs + i * cols, fs + i * cols, va, splat(x0[i]), splat(f0[i]), j, d0, d1);
        a[i] += d0 + d1;
        q[i] += d0 * d0 + d1 * d1;
      };
      const auto out = [&](i64 i, i64 j) {
        vf d0, d1;
        d_line(xw + i * cols, fw + i * cols, va, splat(p[i].x0), splat(p[i].f0), j, d0, d1);
        const vf vm = splat(p[i].mean), vr = splat(p[i].rstd);
        stream_line(yw + i * cols + j,
                    Codec<T>::join((d0 - vm) * vr * load(k.g + j) + load(k.b + j),
                                   (d1 - vm) * vr * load(k.g + j + kW) + load(k.b + j + kW)));
      };
      write_and_sum_lines(n, nn, c0, c1, sum, out);
      for (i64 i = 0; i < nn; ++i) {
        s[i].s1 += simd::hsum(a[i]);
        s[i].s2 += simd::hsum(q[i]);
      }
    }
    for (i64 i = 0; i < nn; ++i) p[i] = row_shifted(k, b0 + R + i, s[i]);
  }
}

}  // namespace opbench::cpu::fast::srms_deep
