// SimpleRMSNorm and DeepNorm on the CPU: cpu.plain (instantiated from
// norm_srmsnorm_deepnorm_plain.hpp) and cpu.fast in float32, bfloat16 and binary16.
//
// cpu.fast float32 runs on the row engine of the other row norms (norm_fast_rows.hpp: row_op),
// so it gets the same threading, streaming stores and software pipelining (a block of 4 rows
// written while the next 4 are summed from memory) as rmsnorm and add_layernorm:
//   srmsnorm: sum(x^2) in float32 vector accumulators per chunk, chunks merged in double; the
//     row's factor 1 / (sqrt(sum / d) + eps) in double, rounded once to float; y = x * factor.
//   deepnorm: statistics of d = alpha (x - x0) + (fx - f0), x0 and f0 the row's first elements,
//     which is s - s0 for s = alpha x + fx: x - x0 and fx - f0 are exact for rows with a large
//     common offset (Sterbenz), so d carries an error of a few ulp of the row's spread, where the
//     float32 sum alpha x + fx would carry one of |s| (at an offset of 1e4 and alpha 3.8, half an
//     ulp of s is 2e-3, beyond the tolerance once divided by a spread of ~4). Mean and M2 of d
//     by the shifted sums; a row whose first elements lie far from its means (the guard of
//     norm_fast_moments.hpp) is shifted again by the means of x and fx (shift_trusted,
//     norm_srmsnorm_deepnorm_detail.hpp), then y = (d - mean) * rstd * gamma + beta.
// cpu.fast bfloat16 / binary16: norm_srmsnorm_deepnorm_half.hpp (the same statistics on values
// widened in registers, each output rounded once; pipelined streamed rows of their own).
#include "kernels/cpu/norm_srmsnorm_deepnorm.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/norm_fast_rows.hpp"
#include "kernels/cpu/norm_srmsnorm_deepnorm_detail.hpp"
#include "kernels/cpu/norm_srmsnorm_deepnorm_half.hpp"
#include "kernels/cpu/norm_srmsnorm_deepnorm_plain.hpp"

namespace opbench::cpu {

namespace plain {
template void srmsnorm<float>(const float*, float*, std::int64_t, std::int64_t, float);
template void srmsnorm<bf16_t>(const bf16_t*, bf16_t*, std::int64_t, std::int64_t, float);
template void srmsnorm<f16_t>(const f16_t*, f16_t*, std::int64_t, std::int64_t, float);
template void deepnorm<float>(const float*, const float*, const float*, const float*, float*,
                              std::int64_t, std::int64_t, float, float);
template void deepnorm<bf16_t>(const bf16_t*, const bf16_t*, const bf16_t*, const bf16_t*, bf16_t*,
                               std::int64_t, std::int64_t, float, float);
template void deepnorm<f16_t>(const f16_t*, const f16_t*, const f16_t*, const f16_t*, f16_t*,
                              std::int64_t, std::int64_t, float, float);
}  // namespace plain

namespace fast {

using namespace srms_deep;

// ---- float32 ----------------------------------------------------------------------------------

void srmsnorm(const float* x, float* y, std::int64_t rows, std::int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  using namespace detail;
  const double sqrt_d = std::sqrt(static_cast<double>(cols));
  struct P {
    float factor;
  };
  row_op<P, false>(
      rows, cols, Out1{y}, [=](i64 r) { return x + r * cols; },
      [](const float* xr, i64 j) { return load(xr + j); },
      [](const float* xr, i64 j) { return xr[j]; },
      [=](i64, const Sums& sums) { return P{srms_factor(sums.s2, sqrt_d, eps)}; },
      [=](i64 r, const P& p, i64 j) { return load(x + r * cols + j) * splat(p.factor); },
      [=](i64 r, const P& p, i64 j) { return x[r * cols + j] * p.factor; });
}

void deepnorm(const float* x, const float* fx, const float* gamma, const float* beta, float* y,
              std::int64_t rows, std::int64_t cols, float alpha, float eps) {
  if (rows <= 0 || cols <= 0) return;
  using namespace detail;
  struct C {
    const float *xr, *fr;
    float x0, f0;
    vf vx0, vf0;
  };
  struct P {
    float x0, f0, mean, rstd;
  };
  const vf va = splat(alpha);
  const auto begin = [=](i64 r) {
    const float* xr = x + r * cols;
    const float* fr = fx + r * cols;
    return C{xr, fr, xr[0], fr[0], splat(xr[0]), splat(fr[0])};
  };
  const auto dv = [=](const C& c, i64 j) {
    return va * (load(c.xr + j) - c.vx0) + (load(c.fr + j) - c.vf0);
  };
  const auto ds = [=](const C& c, i64 j) { return alpha * (c.xr[j] - c.x0) + (c.fr[j] - c.f0); };
  row_op<P, true>(
      rows, cols, Out1{y}, begin, dv, ds,
      [=](i64 r, const Sums& sums) {
        C c = begin(r);
        Moments m;
        if (shift_trusted(sums, cols)) {
          m = moments_of(sums, cols);
        } else {  // the row's means as shifts, the row read again from cache
          const float mx = row_mean(
              cols, [=](i64 j) { return load(c.xr + j); }, [=](i64 j) { return c.xr[j]; });
          const float mf = row_mean(
              cols, [=](i64 j) { return load(c.fr + j); }, [=](i64 j) { return c.fr[j]; });
          c = C{c.xr, c.fr, mx, mf, splat(mx), splat(mf)};
          m = moments(
              cols, [=](i64 j) { return dv(c, j); }, [=](i64 j) { return ds(c, j); });
        }
        return P{c.x0, c.f0, static_cast<float>(m.mean),
                 rsqrt_d(m.m2 / static_cast<double>(cols) + eps)};
      },
      [=](i64 r, const P& p, i64 j) {
        const vf d =
            va * (load(x + r * cols + j) - splat(p.x0)) + (load(fx + r * cols + j) - splat(p.f0));
        return (d - splat(p.mean)) * splat(p.rstd) * load(gamma + j) + load(beta + j);
      },
      [=](i64 r, const P& p, i64 j) {
        const float d = alpha * (x[r * cols + j] - p.x0) + (fx[r * cols + j] - p.f0);
        return (d - p.mean) * p.rstd * gamma[j] + beta[j];
      });
}

// ---- 16-bit overloads -------------------------------------------------------------------------

void srmsnorm(const bf16_t* x, bf16_t* y, std::int64_t rows, std::int64_t cols, float eps) {
  srmsnorm_half(x, y, rows, cols, eps);
}
void srmsnorm(const f16_t* x, f16_t* y, std::int64_t rows, std::int64_t cols, float eps) {
  srmsnorm_half(x, y, rows, cols, eps);
}

void deepnorm(const bf16_t* x, const bf16_t* fx, const bf16_t* gamma, const bf16_t* beta, bf16_t* y,
              std::int64_t rows, std::int64_t cols, float alpha, float eps) {
  deepnorm_half(x, fx, gamma, beta, y, rows, cols, alpha, eps);
}
void deepnorm(const f16_t* x, const f16_t* fx, const f16_t* gamma, const f16_t* beta, f16_t* y,
              std::int64_t rows, std::int64_t cols, float alpha, float eps) {
  deepnorm_half(x, fx, gamma, beta, y, rows, cols, alpha, eps);
}

}  // namespace fast

}  // namespace opbench::cpu
