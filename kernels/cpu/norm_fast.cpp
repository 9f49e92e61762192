// cpu.fast: optimized float32 normalization kernels.
//
// Row-wise ops (layernorm, rmsnorm, crmsnorm, weight_std, add_*) read each row once from memory.
// Large aligned outputs (streamed) are software-pipelined: one loop writes a block of 4 rows while
// it reads the next 4 for their statistics (pipelined_rows). Otherwise rows go in blocks of 2; a
// statistics pass over each row of the block, then the output of the block in column blocks of
// 1024 (x from L1/L2, the gamma/beta slices stay in L1 across the rows). Ops without statistics
// (dyt, batchnorm_infer) stream whole rows. Rows (or blocks) are split statically over the OpenMP
// threads; small problems run on the calling thread. Outputs of 16 MiB and more are written with
// non-temporal stores (no read-for-ownership, no cache pollution; a scalar head reaches 64-byte
// alignment); smaller ones with normal stores, so that the next kernel finds them in cache.
//
// Statistics are shifted sums: d = x - shift, with shift a value of the row (its first element),
// so x - shift is exact by Sterbenz for rows with a large common offset and sum(d^2) stays
// comparable to M2. sum(d) and sum(d^2) are accumulated in one pass with several float32 vector
// accumulators per chunk of 2048 elements, chunks summed in double, M2 = sum(d^2) - sum(d)^2 / n.
// Their error is a few 1e-7 of sum(d^2), so when sum(d^2) > 8 M2 (the shift lies far from the
// mean: an outlier as first element) M2 is recomputed by the corrected two-pass formula over the
// cached row. Never the unshifted E[x^2] - E[x]^2. A constant row gives d = 0 exactly, so the
// output is beta exactly.
//
// The engine lives in norm_fast_rows.hpp (rows), norm_fast_moments.hpp (statistics) and
// norm_fast_common.hpp (threads and stores); the channel ops are in norm_fast_channels.cpp.
#include "kernels/cpu/norm_fast.hpp"

#include "kernels/cpu/norm_fast_rows.hpp"

namespace opbench::cpu::fast {

using namespace detail;

void layernorm(const float* x, const float* gamma, const float* beta, float* y, std::int64_t rows,
               std::int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  standardize_rows(
      x, y, rows, cols, eps, [=](vf z, i64 j) { return z * load(gamma + j) + load(beta + j); },
      [=](float z, i64 j) { return z * gamma[j] + beta[j]; });
}

void rmsnorm(const float* x, const float* gamma, float* y, std::int64_t rows, std::int64_t cols,
             float eps) {
  if (rows <= 0 || cols <= 0) return;
  struct P {
    float rstd;
  };
  row_op<P, false>(
      rows, cols, Out1{y}, [=](i64 r) { return x + r * cols; },
      [](const float* xr, i64 j) { return load(xr + j); },
      [](const float* xr, i64 j) { return xr[j]; },
      [=](i64, const Sums& sums) { return P{rsqrt_d(sums.s2 / static_cast<double>(cols) + eps)}; },
      [=](i64 r, const P& p, i64 j) {
        return load(x + r * cols + j) * splat(p.rstd) * load(gamma + j);
      },
      [=](i64 r, const P& p, i64 j) { return x[r * cols + j] * p.rstd * gamma[j]; });
}

void crmsnorm(const float* x, const float* gamma, float* y, std::int64_t rows, std::int64_t cols,
              float eps) {
  if (rows <= 0 || cols <= 0) return;
  const double d = static_cast<double>(cols + 1);
  struct P {
    float rstd;
  };
  // sum(x) and sum(x^2) in one pass; sum(x)^2 is added, never subtracted, so there is no
  // cancellation to guard against.
  row_op<P, true>(
      rows, cols, Out1{y}, [=](i64 r) { return x + r * cols; },
      [](const float* xr, i64 j) { return load(xr + j); },
      [](const float* xr, i64 j) { return xr[j]; },
      [=](i64, const Sums& sums) { return P{rsqrt_d((sums.s2 + sums.s1 * sums.s1) / d + eps)}; },
      [=](i64 r, const P& p, i64 j) {
        return load(x + r * cols + j) * splat(p.rstd) * load(gamma + j);
      },
      [=](i64 r, const P& p, i64 j) { return x[r * cols + j] * p.rstd * gamma[j]; });
}

void dyt(const float* x, float alpha, const float* gamma, const float* beta, float* y,
         std::int64_t rows, std::int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  const vf va = splat(alpha);
  columnwise<2>(
      x, y, rows, cols, {gamma, beta},
      [&](vf xv, const std::array<vf, 2>& p) { return p[0] * simd::vtanh(va * xv) + p[1]; },
      [&](float xs, const std::array<float, 2>& p) {
        return p[0] * simd::stanh(alpha * xs) + p[1];
      });
}

void batchnorm_infer(const float* x, const float* running_mean, const float* running_var,
                     const float* gamma, const float* beta, float* y, std::int64_t rows,
                     std::int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  std::vector<float> scale(cols);
  for (i64 j = 0; j < cols; ++j)
    scale[j] = static_cast<float>(gamma[j] / std::sqrt(static_cast<double>(running_var[j]) + eps));
  // x - running_mean first: exact for inputs near the running mean, however large.
  columnwise<3>(
      x, y, rows, cols, {running_mean, scale.data(), beta},
      [](vf xv, const std::array<vf, 3>& p) { return (xv - p[0]) * p[1] + p[2]; },
      [](float xs, const std::array<float, 3>& p) { return (xs - p[0]) * p[1] + p[2]; });
}

void weight_std(const float* w, float* y, std::int64_t rows, std::int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  standardize_rows(
      w, y, rows, cols, eps, [](vf z, i64) { return z; }, [](float z, i64) { return z; });
}

void add_layernorm(const float* x, const float* residual, const float* gamma, const float* beta,
                   float* sum, float* y, std::int64_t rows, std::int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  // Statistics and y from d = (x - x0) + (r - r0): both differences are exact for rows with a
  // large common offset, so y follows the exact sum x + r, not its float rounding.
  struct C {
    const float *xr, *rr;
    float sx, sr;
    vf vsx, vsr;
  };
  struct P {
    float sx, sr, mean, rstd;
  };
  const auto begin = [=](i64 r) {
    const float* xr = x + r * cols;
    const float* rr = residual + r * cols;
    return C{xr, rr, xr[0], rr[0], splat(xr[0]), splat(rr[0])};
  };
  const auto dv = [](const C& c, i64 j) {
    return (load(c.xr + j) - c.vsx) + (load(c.rr + j) - c.vsr);
  };
  const auto ds = [](const C& c, i64 j) { return (c.xr[j] - c.sx) + (c.rr[j] - c.sr); };
  row_op<P, true>(
      rows, cols, Out2{sum, y}, begin, dv, ds,
      [=](i64 r, const Sums& sums) {
        const C c = begin(r);
        const Moments m = finish_moments(sums, cols, [=] {
          return moments(
              cols, [=](i64 j) { return dv(c, j); }, [=](i64 j) { return ds(c, j); });
        });
        return P{c.sx, c.sr, static_cast<float>(m.mean),
                 rsqrt_d(m.m2 / static_cast<double>(cols) + eps)};
      },
      [=](i64 r, const P& p, i64 j) {
        const vf xv = load(x + r * cols + j), rv = load(residual + r * cols + j);
        const vf d = (xv - splat(p.sx)) + (rv - splat(p.sr));
        return V2{xv + rv, (d - splat(p.mean)) * splat(p.rstd) * load(gamma + j) + load(beta + j)};
      },
      [=](i64 r, const P& p, i64 j) {
        const float xv = x[r * cols + j], rv = residual[r * cols + j];
        const float d = (xv - p.sx) + (rv - p.sr);
        return S2{xv + rv, (d - p.mean) * p.rstd * gamma[j] + beta[j]};
      });
}

void add_rmsnorm(const float* x, const float* residual, const float* gamma, float* sum, float* y,
                 std::int64_t rows, std::int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  struct C {
    const float *xr, *rr;
  };
  struct P {
    float rstd;
  };
  row_op<P, false>(
      rows, cols, Out2{sum, y},
      [=](i64 r) {
        return C{x + r * cols, residual + r * cols};
      },
      [](const C& c, i64 j) { return load(c.xr + j) + load(c.rr + j); },
      [](const C& c, i64 j) { return c.xr[j] + c.rr[j]; },
      [=](i64, const Sums& sums) { return P{rsqrt_d(sums.s2 / static_cast<double>(cols) + eps)}; },
      [=](i64 r, const P& p, i64 j) {
        const vf s = load(x + r * cols + j) + load(residual + r * cols + j);
        return V2{s, s * splat(p.rstd) * load(gamma + j)};
      },
      [=](i64 r, const P& p, i64 j) {
        const float s = x[r * cols + j] + residual[r * cols + j];
        return S2{s, s * p.rstd * gamma[j]};
      });
}

}  // namespace opbench::cpu::fast
