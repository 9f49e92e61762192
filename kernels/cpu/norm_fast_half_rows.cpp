// cpu.fast CRMSNorm, Weight Standardization and BatchNorm (inference and training) with 16-bit
// storage (bfloat16, binary16): the row-shaped ops of norm_fast.cpp and batchnorm_train of
// norm_fast_channels.cpp, with the same statistics, in float32 arithmetic, each output rounded
// once to nearest even.
//
// CRMSNorm and weight_std take a row at a time: the row is widened into float32 scratch (L1),
// its statistics taken there by the float32 kernels' code (norm_fast_moments.hpp), then y is
// computed from the scratch and rounded. BatchNorm needs no scratch: inference is elementwise
// with per-column parameters, and training streams x twice, once for the shifted column sums
// (as the float32 kernel: shift = mean of the first 16 rows, float32 accumulators over chunks
// of rows merged in double, the corrected two-pass formula on the columns the guard flags) and
// once for y. Conversions kW lanes at a time (half_vec.hpp), one portable path in the
// compiler's vector width: half_path() and force_*() do not apply to these kernels. Every
// kernel reads what it needs of a row (or, for batchnorm_train, of x) before writing it, so y
// may alias x.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/half_vec.hpp"
#include "kernels/cpu/norm_fast_half.hpp"
#include "kernels/cpu/norm_fast_half_detail.hpp"

namespace opbench::cpu::fast {
namespace {

using detail::i64;
using detail::kChunk;
using detail::kW;
using detail::load;
using detail::splat;
using detail::vf;
using half_detail::Scratch;
using half_detail::Work;
using half_vec::emit;
using half_vec::widen;
using half_vec::widened;
using half_vec::wv;

// fn(row, scratch) for every row of x[rows, cols], the row widened into float32 scratch first;
// rows shared out as in norm_fast_half.cpp (Work).
template <class T, class Fn>
void each_row_widened(const T* x, i64 rows, i64 cols, Fn fn) {
  half_detail::for_rows(rows, cols, [&](Work& wk) {
    Scratch scratch;
    float* s = scratch.at(cols);
    i64 r0, r1;
    while (wk.take(r0, r1)) {
      for (i64 r = r0; r < r1; ++r) {
        widen(x + r * cols, s, cols);
        fn(r, s);
      }
    }
  });
}

template <class T>
void crmsnorm_t(const T* x, const T* gamma, T* y, i64 rows, i64 cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  const std::vector<float> g = widened(gamma, cols);
  const double d = static_cast<double>(cols + 1);
  each_row_widened(x, rows, cols, [&](i64 r, const float* s) {
    // sum(x) and sum(x^2) in one pass; sum(x)^2 is added, never subtracted (norm_fast.cpp).
    detail::Sums sums;
    for (i64 c0 = 0; c0 < cols; c0 += kChunk) {
      float f1, f2;
      detail::chunk_sums(
          c0, std::min(cols, c0 + kChunk), [=](i64 j) { return load(s + j); },
          [=](i64 j) { return s[j]; }, f1, f2);
      sums.s1 += f1;
      sums.s2 += f2;
    }
    const float rstd = detail::rsqrt_d((sums.s2 + sums.s1 * sums.s1) / d + eps);
    const vf vr = splat(rstd);
    const float* gp = g.data();
    emit(
        y + r * cols, cols, [=](i64 j) { return load(s + j) * vr * load(gp + j); },
        [=](i64 j) { return s[j] * rstd * gp[j]; });
  });
}

template <class T>
void weight_std_t(const T* w, T* y, i64 rows, i64 cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  each_row_widened(w, rows, cols, [&](i64 r, const float* s) {
    const detail::Moments m = detail::block_moments(s, cols);  // of w - w[0]
    const float sh = s[0], mean = static_cast<float>(m.mean);
    const float rstd = detail::rsqrt_d(m.m2 / static_cast<double>(cols) + eps);
    const vf vsh = splat(sh), vm = splat(mean), vr = splat(rstd);
    emit(
        y + r * cols, cols, [=](i64 j) { return ((load(s + j) - vsh) - vm) * vr; },
        [=](i64 j) { return ((s[j] - sh) - mean) * rstd; });
  });
}

// y[r, j] = ((x[r, j] - a[j]) - b[j]) * scale[j] + beta[j] over all rows, rounded once: the
// output pass of both BatchNorms (training: a = shift, b = mean of x - shift; inference, kB
// false: a = running mean, no b).
template <bool kB, class T>
void columns_affine(const T* x, T* y, i64 rows, i64 cols, const float* a, const float* b,
                    const float* scale, const float* beta) {
  half_detail::for_rows(rows, cols, [&](Work& wk) {
    i64 r0, r1;
    while (wk.take(r0, r1)) {
      for (i64 r = r0; r < r1; ++r) {
        const T* xr = x + r * cols;
        emit(
            y + r * cols, cols,
            [=](i64 j) {
              vf d = wv(xr + j) - load(a + j);
              if constexpr (kB) d -= load(b + j);
              return d * load(scale + j) + load(beta + j);
            },
            [=](i64 j) {
              float d = to_float(xr[j]) - a[j];
              if constexpr (kB) d -= b[j];
              return d * scale[j] + beta[j];
            });
      }
    }
  });
}

template <class T>
void batchnorm_infer_t(const T* x, const float* running_mean, const float* running_var,
                       const T* gamma, const T* beta, T* y, i64 rows, i64 cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  const std::vector<float> bt = widened(beta, cols);
  std::vector<float> scale(cols);
  for (i64 j = 0; j < cols; ++j)
    scale[j] = static_cast<float>(to_float(gamma[j]) /
                                  std::sqrt(static_cast<double>(running_var[j]) + eps));
  // x - running_mean first: exact for inputs near the running mean, however large.
  columns_affine<false>(x, y, rows, cols, running_mean, nullptr, scale.data(), bt.data());
}

// Per-thread shifted column sums of d = x - shift over rows [r0, r1): float32 accumulators
// over chunks of kChunkRows rows (four rows per sweep over the columns, so each accumulator is
// loaded and stored once per four rows), each chunk added to s1, s2 in double.
template <class T>
void column_sums(const T* x, const float* shift, i64 cols, i64 r0, i64 r1, double* s1, double* s2) {
  constexpr i64 kChunkRows = 32;
  Scratch sa, sq;
  float* a1 = sa.at(cols);
  float* a2 = sq.at(cols);
  for (i64 c0 = r0; c0 < r1; c0 += kChunkRows) {
    const i64 c1 = std::min(r1, c0 + kChunkRows);
    std::fill(a1, a1 + cols, 0.0f);
    std::fill(a2, a2 + cols, 0.0f);
    i64 r = c0;
    for (; r + 4 <= c1; r += 4) {
      const T* x0 = x + r * cols;
      const T *x1 = x0 + cols, *x2 = x1 + cols, *x3 = x2 + cols;
      i64 j = 0;
      for (; j + kW <= cols; j += kW) {
        const vf sh = load(shift + j);
        const vf d0 = wv(x0 + j) - sh, d1 = wv(x1 + j) - sh, d2 = wv(x2 + j) - sh,
                 d3 = wv(x3 + j) - sh;
        simd::store(a1 + j, load(a1 + j) + ((d0 + d1) + (d2 + d3)));
        simd::store(a2 + j, load(a2 + j) + ((d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3)));
      }
      for (; j < cols; ++j) {
        const float d0 = to_float(x0[j]) - shift[j], d1 = to_float(x1[j]) - shift[j],
                    d2 = to_float(x2[j]) - shift[j], d3 = to_float(x3[j]) - shift[j];
        a1[j] += (d0 + d1) + (d2 + d3);
        a2[j] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3);
      }
    }
    for (; r < c1; ++r) {
      const T* x0 = x + r * cols;
      for (i64 j = 0; j < cols; ++j) {
        const float d = to_float(x0[j]) - shift[j];
        a1[j] += d;
        a2[j] += d * d;
      }
    }
    for (i64 j = 0; j < cols; ++j) {
      s1[j] += a1[j];
      s2[j] += a2[j];
    }
  }
}

template <class T>
void batchnorm_train_t(const T* x, const T* gamma, const T* beta, T* y, i64 rows, i64 cols,
                       float eps) {
  if (rows <= 0 || cols <= 0) return;
  // The shift of a column: the mean of its first (up to 16) values, close to the column mean,
  // so x - shift is exact under a large common offset and sum(d^2) stays comparable to M2.
  const i64 head = std::min<i64>(rows, 16);
  std::vector<float> shift(cols);
  {
    std::vector<double> acc(cols, 0.0);
    for (i64 r = 0; r < head; ++r)
      for (i64 j = 0; j < cols; ++j) acc[j] += to_float(x[r * cols + j]);
    for (i64 j = 0; j < cols; ++j) shift[j] = static_cast<float>(acc[j] / head);
  }
  // Contiguous row ranges, one per thread, summed in thread order: the same sums every run.
  const bool par =
      rows > 1 && rows * cols >= detail::kParallelMinElems && omp_get_max_threads() > 1;
  const int nthreads = par ? static_cast<int>(std::min<i64>(omp_get_max_threads(), rows)) : 1;
  std::vector<double> t_s(static_cast<std::size_t>(nthreads) * 2 * cols, 0.0);
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    double* s1 = t_s.data() + static_cast<std::size_t>(t) * 2 * cols;
    column_sums(x, shift.data(), cols, rows * t / nt, rows * (t + 1) / nt, s1, s1 + cols);
  }
  std::vector<double> s1(cols, 0.0), s2(cols, 0.0);
  for (int t = 0; t < nthreads; ++t)
    for (i64 j = 0; j < cols; ++j) {
      s1[j] += t_s[(static_cast<std::size_t>(t) * 2) * cols + j];
      s2[j] += t_s[(static_cast<std::size_t>(t) * 2 + 1) * cols + j];
    }
  std::vector<float> mean_s, scale;
  detail::column_params(
      s1, s2, shift.data(), rows, cols, eps,
      [=](i64 j) { return static_cast<double>(to_float(gamma[j])); },
      [=](i64 r, i64 j) { return to_float(x[r * cols + j]); }, mean_s, scale);
  const std::vector<float> bt = widened(beta, cols);
  columns_affine<true>(x, y, rows, cols, shift.data(), mean_s.data(), scale.data(), bt.data());
}

}  // namespace

#define OPBENCH_HALF_ROWS(T)                                                                      \
  void crmsnorm(const T* x, const T* gamma, T* y, std::int64_t rows, std::int64_t cols,           \
                float eps) {                                                                      \
    crmsnorm_t(x, gamma, y, rows, cols, eps);                                                     \
  }                                                                                               \
  void weight_std(const T* w, T* y, std::int64_t rows, std::int64_t cols, float eps) {            \
    weight_std_t(w, y, rows, cols, eps);                                                          \
  }                                                                                               \
  void batchnorm_infer(const T* x, const float* running_mean, const float* running_var,           \
                       const T* gamma, const T* beta, T* y, std::int64_t rows, std::int64_t cols, \
                       float eps) {                                                               \
    batchnorm_infer_t(x, running_mean, running_var, gamma, beta, y, rows, cols, eps);             \
  }                                                                                               \
  void batchnorm_train(const T* x, const T* gamma, const T* beta, T* y, std::int64_t rows,        \
                       std::int64_t cols, float eps) {                                            \
    batchnorm_train_t(x, gamma, beta, y, rows, cols, eps);                                        \
  }
OPBENCH_HALF_ROWS(bf16_t)
OPBENCH_HALF_ROWS(f16_t)
#undef OPBENCH_HALF_ROWS

}  // namespace opbench::cpu::fast
