#pragma once
// cpu.fast SimpleRMSNorm and DeepNorm with 16-bit storage (bfloat16, binary16), included by
// norm_srmsnorm_deepnorm.cpp only. Loads widened to float32 in registers, float32 arithmetic,
// statistics in float32 vectors per chunk of kChunk elements merged in double, each output
// rounded once to nearest even (half_vec.hpp: one portable path in the compiler's vector width,
// no run-time dispatch). Rows are shared out over the threads in ranges taken from a counter
// (half_detail::Work, as the other 16-bit norms).
//
// Large outputs (kStreamMinBytes and more) whose rows start on a line take the pipelined,
// streamed rows of norm_srmsnorm_deepnorm_piped.hpp. Otherwise each row is read for its
// statistics, then written from L1/L2 with normal stores.
//
//   srmsnorm: sum of squares of the row, factor srms_factor(); y = x * factor.
//   deepnorm: sums of d = alpha (x - x0) + (fx - f0) (shifts: norm_srmsnorm_deepnorm_detail.hpp);
//     a row whose shifts are not trusted takes the means of x and fx as shifts, its moments taken
//     again (from cache); y = (d - mean) * rstd * gamma + beta. The plain rows keep d in float32
//     scratch (L1) for the output; the pipelined rows compute it again from x and fx (L1/L2).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "harness/half.hpp"
#include "kernels/cpu/half_vec.hpp"
#include "kernels/cpu/norm_fast_half_detail.hpp"
#include "kernels/cpu/norm_srmsnorm_deepnorm_detail.hpp"
#include "kernels/cpu/norm_srmsnorm_deepnorm_piped.hpp"

namespace opbench::cpu::fast::srms_deep {

using detail::kW;
using detail::load;
using detail::splat;
using detail::vf;

// ---- SimpleRMSNorm ------------------------------------------------------------------------------

template <class T>
double sum_squares(const T* xr, i64 cols) {
  double ss = 0.0;
  for (i64 c0 = 0; c0 < cols; c0 += kChunk) {
    ss += detail::chunk_sum(
        c0, std::min(cols, c0 + kChunk),
        [=](i64 j) {
          const vf v = half_vec::wv(xr + j);
          return v * v;
        },
        [=](i64 j) {
          const float v = to_float(xr[j]);
          return v * v;
        });
  }
  return ss;
}

template <class T>
void srmsnorm_half(const T* x, T* y, i64 rows, i64 cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  const double sqrt_d = std::sqrt(static_cast<double>(cols));
  const bool pipe = piped(y, rows, cols);
  half_detail::for_rows(rows, cols, [&](half_detail::Work& wk) {
    for (i64 r0, r1; wk.take(r0, r1);) {
      if (pipe) {
        srmsnorm_range_piped(x, y, r0, r1, cols, sqrt_d, eps);
        continue;
      }
      for (i64 r = r0; r < r1; ++r) {
        const T* xr = x + r * cols;
        const float f = srms_factor(sum_squares(xr, cols), sqrt_d, eps);
        const vf vfac = splat(f);
        half_vec::emit(
            y + r * cols, cols, [=](i64 j) { return half_vec::wv(xr + j) * vfac; },
            [=](i64 j) { return to_float(xr[j]) * f; });
      }
    }
    if (pipe) simd::stream_fence();
  });
}

// ---- DeepNorm -----------------------------------------------------------------------------------

// A row's parameters: y = (d - mean) * rstd * gamma + beta.
struct RowP {
  float mean, rstd;
};

// d of row r about shifts x0, f0 into dst, columns [c0, c1); returns their sums.
template <class T>
inline detail::Sums fill_d(const DeepArgs<T>& k, i64 r, float x0, float f0, float* dst, i64 c0,
                           i64 c1) {
  const T* xr = k.x + r * k.cols;
  const T* fr = k.fx + r * k.cols;
  const vf va = splat(k.alpha), vx0 = splat(x0), vf0 = splat(f0);
  i64 j = c0;
  for (; j + kW <= c1; j += kW)
    simd::store(dst + j, va * (half_vec::wv(xr + j) - vx0) + (half_vec::wv(fr + j) - vf0));
  for (; j < c1; ++j) dst[j] = k.alpha * (to_float(xr[j]) - x0) + (to_float(fr[j]) - f0);
  float f1, f2;
  detail::chunk_sums(
      c0, c1, [=](i64 i) { return load(dst + i); }, [=](i64 i) { return dst[i]; }, f1, f2);
  return {static_cast<double>(f1), static_cast<double>(f2)};
}

// The row's parameters from the sums of its d about its first elements (in dst); a row whose
// shifts are not trusted is filled again about the means of x and fx.
template <class T>
RowP finish_row(const DeepArgs<T>& k, i64 r, const detail::Sums& sums, float* dst) {
  detail::Moments m;
  if (shift_trusted(sums, k.cols)) {
    m = moments_of(sums, k.cols);
  } else {
    const auto mean_of = [&](const T* p) {
      return row_mean(
          k.cols, [=](i64 j) { return half_vec::wv(p + j); },
          [=](i64 j) { return to_float(p[j]); });
    };
    const float mx = mean_of(k.x + r * k.cols), mf = mean_of(k.fx + r * k.cols);
    for (i64 c0 = 0; c0 < k.cols; c0 += kChunk)
      fill_d(k, r, mx, mf, dst, c0, std::min(k.cols, c0 + kChunk));
    // d is about the means now: its moments as they are (the guard's two passes where the sums
    // are still not trusted).
    m = detail::moments(
        k.cols, [=](i64 j) { return load(dst + j); }, [=](i64 j) { return dst[j]; });
  }
  return {static_cast<float>(m.mean), detail::rsqrt_d(m.m2 / static_cast<double>(k.cols) + k.eps)};
}

template <class T>
RowP fill_row(const DeepArgs<T>& k, i64 r, float* dst) {
  detail::Sums s;
  const float x0 = to_float(k.x[r * k.cols]), f0 = to_float(k.fx[r * k.cols]);
  for (i64 c0 = 0; c0 < k.cols; c0 += kChunk) {
    const detail::Sums c = fill_d(k, r, x0, f0, dst, c0, std::min(k.cols, c0 + kChunk));
    s.s1 += c.s1;
    s.s2 += c.s2;
  }
  return finish_row(k, r, s, dst);
}

inline vf deep_out(const float* d, const float* g, const float* b, i64 j, vf mean, vf rstd) {
  return (load(d + j) - mean) * rstd * load(g + j) + load(b + j);
}

template <class T>
void deepnorm_half(const T* x, const T* fx, const T* gamma, const T* beta, T* y, i64 rows, i64 cols,
                   float alpha, float eps) {
  if (rows <= 0 || cols <= 0) return;
  const bool pipe = piped(y, rows, cols);
  half_detail::for_rows(rows, cols, [&](half_detail::Work& wk) {
    half_detail::Scratch sg, sb, sd;
    float* g = sg.at(cols);
    float* b = sb.at(cols);
    float* d = pipe ? nullptr : sd.at(cols);  // a row's d, before any store: x may alias y
    if (pipe) {  // gamma and beta in the order of the pipelined rows' lines
      split_into(gamma, g, cols);
      split_into(beta, b, cols);
    } else {
      half_vec::widen(gamma, g, cols);
      half_vec::widen(beta, b, cols);
    }
    const DeepArgs<T> k{x, fx, y, cols, alpha, eps, g, b};
    for (i64 r0, r1; wk.take(r0, r1);) {
      if (pipe) {
        deepnorm_range_piped(k, r0, r1);
        continue;
      }
      for (i64 r = r0; r < r1; ++r) {
        const RowP p = fill_row(k, r, d);
        const vf vm = splat(p.mean), vr = splat(p.rstd);
        half_vec::emit(
            y + r * cols, cols, [=](i64 j) { return deep_out(d, g, b, j, vm, vr); },
            [=](i64 j) { return (d[j] - p.mean) * p.rstd * g[j] + b[j]; });
      }
    }
    if (pipe) simd::stream_fence();
  });
}

}  // namespace opbench::cpu::fast::srms_deep
