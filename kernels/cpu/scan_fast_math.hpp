#pragma once
// Private vector math of the scan family's cpu.fast kernels, on top of norm_fast_simd.hpp (the
// vector type, loads, streaming stores, exp, sigmoid, tanh): log, log1p, softplus and the minGRU
// paper's g / log g, each accurate to a few ulp.
#include <cstdint>
#include <cstring>

#include "kernels/cpu/norm_fast_simd.hpp"

namespace opbench::cpu::fast::simd {

// Natural log for finite x > 0 (Cephes logf: x = m 2^e with m in [sqrt(1/2), sqrt(2)), a degree-8
// polynomial in m - 1); NaN stays NaN. No other special value: see vlog.
inline vf vlog_finite(vf x) {
  vi bits;
  std::memcpy(&bits, &x, sizeof bits);
  vi e = ((bits >> 23) & 0xff) - 126;
  vi mb = (bits & 0x807fffff) | 0x3f000000;  // mantissa scaled into [0.5, 1)
  vf m;
  std::memcpy(&m, &mb, sizeof m);
  const auto small = m < 0.707106781186547524f;
  e = e - (small ? vi{} + 1 : vi{});
  m = (small ? m + m : m) - 1.0f;
  const vf ef = __builtin_convertvector(e, vf);
  const vf z = m * m;
  vf p = splat(7.0376836292e-2f);
  p = p * m - 1.1514610310e-1f;
  p = p * m + 1.1676998740e-1f;
  p = p * m - 1.2420140846e-1f;
  p = p * m + 1.4249322787e-1f;
  p = p * m - 1.6668057665e-1f;
  p = p * m + 2.0000714765e-1f;
  p = p * m - 2.4999993993e-1f;
  p = p * m + 3.3333331174e-1f;
  vf y = m * z * p + ef * -2.12194440e-4f - z * 0.5f;
  y = m + y + ef * 0.693359375f;
  return x != x ? x : y;
}

// Natural log for any x: vlog_finite, and x <= 0 gives -inf or NaN, as std::log; +inf stays +inf.
inline vf vlog(vf x) {
  const float inf = __builtin_inff();
  vf y = vlog_finite(x);
  y = x == 0.0f ? splat(-inf) : y;
  y = x < 0.0f ? splat(__builtin_nanf("")) : y;
  return x == inf ? splat(inf) : y;
}

// log(1 + u) for u >= 0, accurate for tiny u (Goldberg's correction: the rounding of 1 + u is
// undone by u / ((1 + u) - 1)).
inline vf vlog1p(vf u) {
  const vf w = u + 1.0f;
  const vf d = w - 1.0f;
  return d == 0.0f ? u : vlog(w) * (u / d);
}

// softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|), without overflow.
inline vf vsoftplus(vf x) {
  return vmax(x, splat(0.0f)) + vlog1p(vexp(-vabs(x)));
}

// g(x) = x + 0.5 (x >= 0), sigmoid(x) (x < 0), and log g(x) = log(x + 0.5) or -softplus(-x).
inline vf vmin_rnn_g(vf x) {
  return x >= 0.0f ? x + 0.5f : vsigmoid(x);
}
inline vf vlog_g(vf x) {
  return x >= 0.0f ? vlog(x + 0.5f) : -vsoftplus(-x);
}

// -|x|: x with its sign bit set (one instruction).
inline vf vneg_abs(vf x) {
  vi bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits |= static_cast<std::int32_t>(0x80000000u);
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// One step of a running log-sum-exp kept as (m, s) with the value m + log s: adds the term x.
// Exactly one exp per step: the larger of (m, x) becomes the new maximum. The special values
// follow kernels/cuda/log_scan_combine.hpp and the reference, branch-free:
//  - Equal maxima add exp(0) = 1 without computing x - m: +inf and +inf stay +inf, and a -inf
//    term (b = 0) on the empty sum (m = -inf, from h0 = 0) leaves the value -inf (inf - inf would
//    be NaN). s >= 1 always (it counts the maximum's own term).
//  - A -inf term on a finite m adds vexp(-inf), floored at e^-87 like every term far below m:
//    nothing, next to s >= 1. A finite term on m = -inf makes s * e^-87 + 1 = 1 (s counts at most
//    the steps so far): the empty sum gives way to that term.
//  - x - m is NaN only when x or m is NaN; s takes the NaN and keeps it (vexp keeps a NaN too;
//    the explicit select says so here, where a lost NaN would give a finite, wrong answer).
inline void lse_push(vf& m, vf& s, vf x) {
  const vf diff = x == m ? splat(0.0f) : x - m;
  const vf e = vexp(vneg_abs(diff));
  const vf next = diff > 0.0f ? s * e + 1.0f : s + e;
  s = diff != diff ? diff : next;
  m = vmax(m, x);
}

// log s of a running log-sum-exp's sum: s >= 1 or NaN (lse_push), so vlog's special values
// (0, negative, +inf) cannot occur.
inline vf lse_log_sum(vf s) {
  return vlog_finite(s);
}

}  // namespace opbench::cpu::fast::simd
