// cpu.fast GroupNorm, EvoNorm-S0, EvoNorm-B0 and Online Normalization with 16-bit storage
// (bfloat16, binary16): the ops over x[n, c, hw] of norm_fast_channels.cpp, with the same
// statistics and the same work split, in float32 arithmetic, each output rounded once to
// nearest even.
//
// A block whose statistics are taken (a (sample, group) block of GroupNorm and EvoNorm-S0, a
// (sample, channel) row of EvoNorm-B0's instance statistics and of Online Normalization) is
// widened into float32 scratch, its shifted moments taken there by the float32 kernels' code
// (norm_fast_moments.hpp: about the block's first value, the two-pass guard), and its output
// computed from the scratch and rounded. EvoNorm-B0's output pass reads x again and needs no
// scratch. Conversions kW lanes at a time (half_vec.hpp), one portable path in the
// compiler's vector width: half_path() and force_*() do not apply to these kernels. A block's
// statistics are taken before any of it is written, so y may alias x.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/half_vec.hpp"
#include "kernels/cpu/norm_fast_half.hpp"
#include "kernels/cpu/norm_fast_half_detail.hpp"
#include "kernels/cpu/norm_fast_simd.hpp"

namespace opbench::cpu::fast {
namespace {

using detail::i64;
using detail::load;
using detail::splat;
using detail::vf;
using half_detail::Scratch;
using half_vec::emit;
using half_vec::widen;
using half_vec::wv;

// fn(b, scratch) for b in [0, count), block b (len values from x + b * len) widened first;
// blocks statically split over the threads when the work is large enough.
template <class T, class Fn>
void each_block_widened(const T* x, i64 count, i64 len, Fn fn) {
  detail::for_each_index(count, count * len, 0, [&](i64 b, bool) {
    thread_local Scratch scratch;
    float* s = scratch.at(len);
    widen(x + b * len, s, len);
    fn(b, s);
  });
}

// GroupNorm (kS0 false) and EvoNorm-S0 (kS0 true): statistics over each contiguous (sample,
// group) block of c / groups channels x hw, then per channel y = ((x - sh) - mean) * a + b
// (GroupNorm) or x * sigmoid(v x) * a + b (EvoNorm-S0), a = rstd * gamma.
template <bool kS0, class T>
void group_blocks(const T* x, const T* v, const T* gamma, const T* beta, T* y, i64 n, i64 c, i64 hw,
                  i64 groups, float eps) {
  if (n <= 0 || c <= 0 || hw <= 0 || groups <= 0) return;
  const i64 cpg = c / groups;
  const i64 len = cpg * hw;
  each_block_widened(x, n * groups, len, [&](i64 b, const float* s) {
    const i64 g = b % groups;
    T* yb = y + b * len;
    const detail::Moments m = detail::block_moments(s, len);  // of x - x[0]
    const float sh = s[0], mean = static_cast<float>(m.mean);
    const float rstd = detail::rsqrt_d(m.m2 / static_cast<double>(len) + eps);
    const vf vsh = splat(sh), vm = splat(mean);
    for (i64 k = 0; k < cpg; ++k) {
      const i64 ch = g * cpg + k;
      const float* sc = s + k * hw;
      const float a = rstd * to_float(gamma[ch]), bb = to_float(beta[ch]);
      const vf va = splat(a), vb = splat(bb);
      if constexpr (kS0) {
        const float vc = to_float(v[ch]);
        const vf vv = splat(vc);
        emit(
            yb + k * hw, hw,
            [=](i64 j) {
              const vf xv = load(sc + j);
              return xv * simd::vsigmoid(vv * xv) * va + vb;
            },
            [=](i64 j) { return sc[j] * simd::ssigmoid(vc * sc[j]) * a + bb; });
      } else {
        emit(
            yb + k * hw, hw, [=](i64 j) { return ((load(sc + j) - vsh) - vm) * va + vb; },
            [=](i64 j) { return ((sc[j] - sh) - mean) * a + bb; });
      }
    }
  });
}

template <class T>
void evonorm_b0_t(const T* x, const T* v, const T* gamma, const T* beta, T* y, i64 n, i64 c, i64 hw,
                  float eps) {
  if (n <= 0 || c <= 0 || hw <= 0) return;
  const i64 rows = n * c;
  // Instance statistics of every (sample, channel) row: absolute mean and M2, in double.
  std::vector<double> imean(rows), im2(rows);
  each_block_widened(x, rows, hw, [&](i64 r, const float* s) {
    const detail::Moments m = detail::block_moments(s, hw);
    imean[r] = static_cast<double>(s[0]) + m.mean;
    im2[r] = m.m2;
  });
  // Batch statistics per channel: the n instance statistics merged (Chan et al.).
  const std::vector<float> bstd = detail::merged_batch_std(imean, im2, n, c, hw, eps);
  detail::for_each_index(rows, rows * hw, 0, [&](i64 r, bool) {
    const i64 ch = r % c;
    const T* xr = x + r * hw;
    const float istd = static_cast<float>(std::sqrt(im2[r] / static_cast<double>(hw) + eps));
    const float bs = bstd[ch], vc = to_float(v[ch]), g = to_float(gamma[ch]),
                bb = to_float(beta[ch]);
    const vf vbs = splat(bs), vis = splat(istd), vv = splat(vc), vg = splat(g), vb = splat(bb);
    emit(
        y + r * hw, hw,
        [=](i64 j) {
          const vf xv = wv(xr + j);
          return xv / simd::vmax(vbs, vv * xv + vis) * vg + vb;
        },
        [=](i64 j) {
          const float xs = to_float(xr[j]);
          return xs / std::max(bs, vc * xs + istd) * g + bb;
        });
  });
}

template <class T>
void online_norm_t(const T* x, const float* mu0, const float* var0, const T* gamma, const T* beta,
                   T* y, i64 n, i64 c, i64 hw, float alpha, float eps) {
  if (n <= 0 || c <= 0 || hw <= 0) return;
  const double a = alpha;
  // Sequential over samples, parallel over channels (norm_fast_channels.cpp).
  detail::for_each_index(c, n * c * hw, 0, [&](i64 ch, bool) {
    thread_local Scratch scratch;
    float* s = scratch.at(hw);
    double mu = mu0[ch], var = var0[ch];
    const float g = to_float(gamma[ch]), bb = to_float(beta[ch]);
    for (i64 t = 0; t < n; ++t) {
      const i64 off = (t * c + ch) * hw;
      widen(x + off, s, hw);
      const detail::Moments m = detail::block_moments(s, hw);
      const double mt = static_cast<double>(s[0]) + m.mean;
      const double st = m.m2 / static_cast<double>(hw);
      // mu as an unevaluated float sum hi + lo: x - hi is exact when x is near mu.
      const float hi = static_cast<float>(mu);
      const float lo = static_cast<float>(mu - hi);
      const float sc = static_cast<float>(g / std::sqrt(var + eps));
      const vf vhi = splat(hi), vlo = splat(lo), vs = splat(sc), vb = splat(bb);
      emit(
          y + off, hw, [=](i64 j) { return ((load(s + j) - vhi) - vlo) * vs + vb; },
          [=](i64 j) { return ((s[j] - hi) - lo) * sc + bb; });
      const double dm = mt - mu;
      var = a * var + (1.0 - a) * st + a * (1.0 - a) * dm * dm;
      mu = a * mu + (1.0 - a) * mt;
    }
  });
}

}  // namespace

#define OPBENCH_HALF_CHANNELS(T)                                                                   \
  void groupnorm(const T* x, const T* gamma, const T* beta, T* y, std::int64_t n, std::int64_t c,  \
                 std::int64_t hw, std::int64_t groups, float eps) {                                \
    group_blocks<false, T>(x, nullptr, gamma, beta, y, n, c, hw, groups, eps);                     \
  }                                                                                                \
  void evonorm_s0(const T* x, const T* v, const T* gamma, const T* beta, T* y, std::int64_t n,     \
                  std::int64_t c, std::int64_t hw, std::int64_t groups, float eps) {               \
    group_blocks<true, T>(x, v, gamma, beta, y, n, c, hw, groups, eps);                            \
  }                                                                                                \
  void evonorm_b0(const T* x, const T* v, const T* gamma, const T* beta, T* y, std::int64_t n,     \
                  std::int64_t c, std::int64_t hw, float eps) {                                    \
    evonorm_b0_t(x, v, gamma, beta, y, n, c, hw, eps);                                             \
  }                                                                                                \
  void online_norm(const T* x, const float* mu0, const float* var0, const T* gamma, const T* beta, \
                   T* y, std::int64_t n, std::int64_t c, std::int64_t hw, float alpha,             \
                   float eps) {                                                                    \
    online_norm_t(x, mu0, var0, gamma, beta, y, n, c, hw, alpha, eps);                             \
  }
OPBENCH_HALF_CHANNELS(bf16_t)
OPBENCH_HALF_CHANNELS(f16_t)
#undef OPBENCH_HALF_CHANNELS

}  // namespace opbench::cpu::fast
