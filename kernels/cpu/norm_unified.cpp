// Unified Normalization (Yang et al. 2022) on the CPU: cpu.plain and cpu.fast of the training step
// after warm-up and of the inference form y = x * a + b (kernels/cpu/norm_unified.hpp; the
// equations and where paper and code differ: reference/norm_unified.hpp).
//
// cpu.fast, training step: x is streamed twice, once for the per-feature sums of x^2 (the step's
// statistic sigma^2_t, float32 vector accumulators over blocks of 32 rows merged in double), once
// for y = x * scale + beta, scale = gamma / sqrt(var + eps): the inference form's pass. In between,
// the window's statistics per feature, O(M cols): the threshold (M times the unbiased variance of
// the square roots of the whole previous window) in double vectors; AM and GM of the new window in
// float32 vectors, the GM as exp(mean(log)) with the vector log and exp of the norm and scan
// kernels (the GM within ~1e-6 relative of float64, against the family's 1e-4), and the features
// whose AM - GM lies within float32's error of the threshold computed again in double
// (window_stats). On this shared 2-core VM, a loop of calls at rows = 1, cols = 4096, M = 4 took
// 75-97 us for the whole step, where the per-feature logs and exps alone, in double
// (std::log, std::exp), took 180 us: a tenth of the step at 1024 rows.
#include "kernels/cpu/norm_unified.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "harness/half.hpp"
#include "kernels/cpu/norm_unified_fast.hpp"
#include "kernels/cpu/scan_fast_math.hpp"
#include "kernels/cpu/storage.hpp"

namespace opbench::cpu {

namespace {

using i64 = std::int64_t;

// M times the unbiased variance of sqrt(window) over its n = M * cols entries, two passes in
// double, as the reference (cpu.plain; cpu.fast takes one vectorized pass, fast_threshold).
double window_threshold(const float* window, i64 window_size, i64 cols) {
  const i64 n = window_size * cols;
  double mean = 0.0;
  for (i64 i = 0; i < n; ++i) mean += std::sqrt(static_cast<double>(window[i]));
  mean /= static_cast<double>(n);
  double q = 0.0;
  for (i64 i = 0; i < n; ++i) {
    const double d = std::sqrt(static_cast<double>(window[i])) - mean;
    q += d * d;
  }
  return static_cast<double>(window_size) * q / static_cast<double>(n - 1);
}

// The state outputs once var (the statistic the step normalizes by) and the decision are known:
// window_out = rows 1 .. M-1 of window, then sigma^2_t (running_var when filtered);
// running_var_out = momentum * running_var + (1 - momentum) * var.
template <class Sigma2, class Var>
void write_state(const float* window, const float* running_var, float* window_out,
                 float* running_var_out, std::int64_t* filtered_out, bool filtered, i64 cols,
                 i64 window_size, float momentum, Sigma2 sigma2, Var var) {
  if (window_size > 1)
    std::memmove(window_out, window + cols,
                 static_cast<std::size_t>((window_size - 1) * cols) * sizeof(float));
  float* newest = window_out + (window_size - 1) * cols;
  const double m = momentum;
  for (i64 j = 0; j < cols; ++j) {
    const double v = var(j);
    newest[j] = filtered ? running_var[j] : static_cast<float>(sigma2(j));
    running_var_out[j] = static_cast<float>(m * running_var[j] + (1.0 - m) * v);
  }
  filtered_out[0] = filtered ? 1 : 0;
}

}  // namespace

// ---- cpu.plain ----------------------------------------------------------------------------------

namespace plain {

template <typename T>
void unified_norm(const T* x, const T* gamma, const T* beta, const float* window,
                  const float* running_var, T* y, float* window_out, float* running_var_out,
                  std::int64_t* filtered_out, std::int64_t rows, std::int64_t cols,
                  std::int64_t window_size, float momentum, float eps) {
  if (rows <= 0 || cols <= 0 || window_size <= 0) return;
  const i64 M = window_size;
  // sigma^2_t: mean of x^2 over the tokens, per feature.
  std::vector<double> sigma2(cols, 0.0);
  for (i64 r = 0; r < rows; ++r)
    for (i64 j = 0; j < cols; ++j) {
      const double v = widen(x[r * cols + j]);
      sigma2[j] += v * v;
    }
  for (i64 j = 0; j < cols; ++j) sigma2[j] /= static_cast<double>(rows);
  // The filtration: AM - GM of each feature's new window against the previous window's threshold.
  const double threshold = window_threshold(window, M, cols);
  std::vector<double> gm(cols);
  bool filtered = false;
  for (i64 j = 0; j < cols; ++j) {
    double s = sigma2[j], l = std::log(sigma2[j]);
    for (i64 k = 1; k < M; ++k) {
      s += window[k * cols + j];
      l += std::log(static_cast<double>(window[k * cols + j]));
    }
    gm[j] = M == 1 ? sigma2[j] : std::exp(l / static_cast<double>(M));
    if (s / static_cast<double>(M) - gm[j] > threshold) filtered = true;
  }
  const auto var = [&](i64 j) { return filtered ? sigma2[j] : gm[j]; };
  std::vector<double> rstd(cols);
  for (i64 j = 0; j < cols; ++j) rstd[j] = 1.0 / std::sqrt(var(j) + static_cast<double>(eps));
  for (i64 r = 0; r < rows; ++r)
    for (i64 j = 0; j < cols; ++j) {
      const i64 i = r * cols + j;
      y[i] = narrow_double<T>(static_cast<double>(widen(x[i])) * rstd[j] * widen(gamma[j]) +
                              widen(beta[j]));
    }
  write_state(
      window, running_var, window_out, running_var_out, filtered_out, filtered, cols, M, momentum,
      [&](i64 j) { return sigma2[j]; }, var);
}

template <typename T>
void unified_norm_infer(const T* x, const T* a, const T* b, T* y, std::int64_t rows,
                        std::int64_t cols) {
  for (i64 r = 0; r < rows; ++r)
    for (i64 j = 0; j < cols; ++j) {
      const i64 i = r * cols + j;
      y[i] = narrow_double<T>(static_cast<double>(widen(x[i])) * widen(a[j]) + widen(b[j]));
    }
}

#define OPBENCH_UNIFIED_PLAIN(T)                                                              \
  template void unified_norm<T>(const T*, const T*, const T*, const float*, const float*, T*, \
                                float*, float*, std::int64_t*, std::int64_t, std::int64_t,    \
                                std::int64_t, float, float);                                  \
  template void unified_norm_infer<T>(const T*, const T*, const T*, T*, std::int64_t, std::int64_t);
OPBENCH_UNIFIED_PLAIN(float)
OPBENCH_UNIFIED_PLAIN(bf16_t)
OPBENCH_UNIFIED_PLAIN(f16_t)
#undef OPBENCH_UNIFIED_PLAIN

}  // namespace plain

// ---- cpu.fast -----------------------------------------------------------------------------------

namespace fast {
namespace {

using detail::kW;
using detail::load;
using detail::splat;
using detail::vf;

// Natural log of values >= 0 in float32 vectors: subnormals are scaled by 2^64 first (the vector
// log reads the exponent field, which a subnormal does not hold), 0 gives -inf.
inline vf log_nonneg(vf v) {
  const auto tiny = v < 1.17549435e-38f;  // FLT_MIN
  const vf l = simd::vlog(tiny ? v * 0x1p64f : v);
  return tiny ? l - 44.3614195558365f : l;  // 64 ln 2
}

// kW features of row k of window[M, cols] from feature j0 on; past cols, 1 (log 0, ignored).
inline vf window_lanes(const float* row, i64 j0, i64 cols) {
  if (j0 + kW <= cols) return load(row + j0);
  vf v = splat(1.0f);
  for (i64 k = 0; j0 + k < cols; ++k) v[k] = row[j0 + k];
  return v;
}

// The window's statistics of the training step: whether the filtration fires, and the GM of each
// feature's new window (Omega_t: rows 1 .. M-1 of window, then sigma^2_t).
struct StepStats {
  bool filtered = false;
  std::vector<float> gm;
};

// AM - GM of one feature's new window in double, as the reference computes it.
double gap_double(const float* window, double sigma2, i64 j, i64 cols, i64 M, double& gm) {
  double s = sigma2, l = std::log(sigma2);
  for (i64 k = 1; k < M; ++k) {
    s += window[k * cols + j];
    l += std::log(static_cast<double>(window[k * cols + j]));
  }
  gm = M == 1 ? sigma2 : std::exp(l / static_cast<double>(M));
  return s / static_cast<double>(M) - gm;
}

// AM - GM is the small difference of two nearly equal means, so float32 can put it on the wrong
// side of the threshold where it lies close (with M = 2 and the same drift in every feature it
// sits within 1 / (2 cols) of it: Kober's bound is an equality at M = 2). The float32 pass
// therefore bounds its own error: the sum of M values (M u AM), the vector log (a few ulp of
// |log|, summed over M terms) and exp, sigma^2_t rounded to float32, all under
// kGapSlack u AM ((M + 4)(max |log| + 1) + M + 3), four times what the terms add up to. Features
// whose float32 gap lies within that of the threshold are computed again in double (std::log,
// std::exp); the others are decided by float32. In the quick sweep's cases no feature comes that
// close; the recomputation is for the adversarial ones.
constexpr float kGapSlack = 4.0f * 0x1p-24f;

// The threshold in one pass: with s = sqrt(w), sum (s - mean)^2 = sum w - (sum s)^2 / n, both
// sums in double. The subtraction cancels where the roots barely spread (a spread of 1% of their
// mean loses 4 of double's 16 digits); a negative result of rounding is the variance 0.
double fast_threshold(const float* window, i64 window_size, i64 cols) {
  const i64 n = window_size * cols;
  const unified::RootSums s = unified::root_sums(window, n);
  const double q = std::max(0.0, s.w - s.roots * s.roots / static_cast<double>(n));
  return static_cast<double>(window_size) * q / static_cast<double>(n - 1);
}

StepStats window_stats(const float* window, const std::vector<float>& sigma2,
                       const std::vector<double>& sigma2_d, i64 cols, i64 window_size) {
  const i64 M = window_size;
  const double threshold = fast_threshold(window, M, cols);
  StepStats st;
  st.gm.assign(sigma2.size(), 1.0f);
  std::vector<float> gap(sigma2.size()), slack(sigma2.size());
  const float inv_m = 1.0f / static_cast<float>(M);
  const float terms = static_cast<float>(M + 4), fixed = static_cast<float>(M + 3);
  for (i64 j0 = 0; j0 < cols; j0 += kW) {
    const vf s2 = load(sigma2.data() + j0);
    vf sum = s2, l = log_nonneg(s2);
    vf lsum = l, lmax = simd::vabs(l);
    for (i64 k = 1; k < M; ++k) {
      const vf w = window_lanes(window + k * cols, j0, cols);
      sum += w;
      l = log_nonneg(w);
      lsum += l;
      lmax = simd::vmax(lmax, simd::vabs(l));
    }
    const vf g = M == 1 ? s2 : simd::vexp(lsum * inv_m);
    const vf am = sum * inv_m;
    simd::store(st.gm.data() + j0, g);
    simd::store(gap.data() + j0, am - g);
    simd::store(slack.data() + j0, am * kGapSlack * (terms * (lmax + 1.0f) + fixed));
  }
  std::vector<i64> near;
  for (i64 j = 0; j < cols; ++j) {
    const double gj = gap[j], sj = slack[j];
    if (gj - sj > threshold) {
      st.filtered = true;  // above whatever the rounding
    } else if (gj + sj >= threshold) {
      near.push_back(j);
    }
  }
  if (!st.filtered) {
    for (i64 j : near) {
      double gm;
      st.filtered = st.filtered || gap_double(window, sigma2_d[j], j, cols, M, gm) > threshold;
      st.gm[j] = static_cast<float>(gm);
    }
  }
  return st;
}

// beta (or b) as float32: the caller's pointer for float, a widened copy for 16-bit storage.
inline const float* as_f32(const float* p, i64, std::vector<float>&) {
  return p;
}
template <class T>
const float* as_f32(const T* p, i64 n, std::vector<float>& keep) {
  keep = half_vec::widened(p, n);
  return keep.data();
}

}  // namespace

template <typename T>
void unified_norm(const T* x, const T* gamma, const T* beta, const float* window,
                  const float* running_var, T* y, float* window_out, float* running_var_out,
                  std::int64_t* filtered_out, std::int64_t rows, std::int64_t cols,
                  std::int64_t window_size, float momentum, float eps) {
  if (rows <= 0 || cols <= 0 || window_size <= 0) return;
  std::vector<double> sigma2_d = unified::column_squares(x, rows, cols);
  for (double& v : sigma2_d) v /= static_cast<double>(rows);
  std::vector<float> sigma2((cols + kW - 1) / kW * kW, 1.0f);  // padded to whole vectors
  for (i64 j = 0; j < cols; ++j) sigma2[j] = static_cast<float>(sigma2_d[j]);
  const StepStats st = window_stats(window, sigma2, sigma2_d, cols, window_size);
  // var in double from here on: the filtered step's sigma^2_t exactly as summed.
  const auto var = [&](i64 j) { return st.filtered ? sigma2_d[j] : static_cast<double>(st.gm[j]); };
  std::vector<float> scale(cols);
  for (i64 j = 0; j < cols; ++j)
    scale[j] = static_cast<float>(static_cast<double>(widen(gamma[j])) /
                                  std::sqrt(var(j) + static_cast<double>(eps)));
  std::vector<float> keep;
  const float* shift = as_f32(beta, cols, keep);
  // The state is written before y: every input is read by now (window_out may alias window).
  write_state(
      window, running_var, window_out, running_var_out, filtered_out, st.filtered, cols,
      window_size, momentum, [&](i64 j) { return static_cast<double>(sigma2[j]); }, var);
  unified::affine_columns(x, scale.data(), shift, y, rows, cols);
}

template <typename T>
void unified_norm_infer(const T* x, const T* a, const T* b, T* y, std::int64_t rows,
                        std::int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  std::vector<float> ka, kb;
  unified::affine_columns(x, as_f32(a, cols, ka), as_f32(b, cols, kb), y, rows, cols);
}

#define OPBENCH_UNIFIED_FAST(T)                                                               \
  template void unified_norm<T>(const T*, const T*, const T*, const float*, const float*, T*, \
                                float*, float*, std::int64_t*, std::int64_t, std::int64_t,    \
                                std::int64_t, float, float);                                  \
  template void unified_norm_infer<T>(const T*, const T*, const T*, T*, std::int64_t, std::int64_t);
OPBENCH_UNIFIED_FAST(float)
OPBENCH_UNIFIED_FAST(bf16_t)
OPBENCH_UNIFIED_FAST(f16_t)
#undef OPBENCH_UNIFIED_FAST

}  // namespace fast

}  // namespace opbench::cpu
