// DyT backward, cpu.plain and cpu.fast (contract in dyt_backward.hpp).
#include "kernels/cpu/dyt_backward.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/norm_fast_common.hpp"
#include "kernels/cpu/norm_fast_simd.hpp"

namespace opbench::cpu {

void plain::dyt_backward(const float* dy, const float* x, float alpha, const float* gamma,
                         float* dx, float* dalpha, float* dgamma, float* dbeta, std::int64_t rows,
                         std::int64_t cols) {
  std::vector<double> dg(static_cast<std::size_t>(cols), 0.0), db(dg.size(), 0.0);
  double da = 0.0;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::int64_t k = r * cols + j;
      const float t = std::tanh(alpha * x[k]);
      const float local = dy[k] * gamma[j] * (1.0f - t * t);
      dx[k] = local * alpha;
      da += static_cast<double>(local) * x[k];
      dg[static_cast<std::size_t>(j)] += static_cast<double>(dy[k]) * t;
      db[static_cast<std::size_t>(j)] += dy[k];
    }
  }
  for (std::int64_t j = 0; j < cols; ++j) {
    dgamma[j] = static_cast<float>(dg[static_cast<std::size_t>(j)]);
    dbeta[j] = static_cast<float>(db[static_cast<std::size_t>(j)]);
  }
  dalpha[0] = static_cast<float>(da);
}

namespace fast {
namespace dyt_backward_detail {
namespace {

using detail::i64;
using simd::kW;
using simd::load;
using simd::splat;
using simd::store;
using simd::vf;

// One element's tanh'(z) * dy * gamma and tanh(z), from one exp (see dyt_backward.hpp).
struct Local {
  vf local, t;
};
inline Local local_of(vf xv, vf dyv, vf gv, vf va) {
  const vf z = va * xv;
  const vf e = simd::vexp(-2.0f * simd::vabs(z));
  const vf one_e = 1.0f + e;
  const vf mag = (1.0f - e) / one_e;
  return {dyv * gv * (4.0f * e / (one_e * one_e)), z < 0.0f ? -mag : mag};
}

// Rows per sweep of a column vector where the tensors are far larger than the caches: the
// column's gamma and partial sums stay in registers over the group (still added row after row),
// and the group's rows are as many streams from memory in flight. At 16384 x 4096 that (with
// streaming stores) took 26.3-32.2 ms to 21.3-27.7; on tensors that fit in L2 (64 x 4096) the
// group's 16 row streams were slower (95 -> 150 us), so those take one row at a time.
constexpr i64 kRowGroup = 8;

// Rows [r, r + R) into dx and the thread's partials pg, pb (which it adds to); returns their share
// of dalpha, summed row after row (each row's own sum first, as a vector then its tail). R is a
// constant so that the group's accumulators stay in registers.
template <i64 R>
double row_group(const float* dy, const float* x, vf va, float alpha, const float* gamma, float* dx,
                 float* pg, float* pb, i64 r, i64 cols, bool nt) {
  vf acc[R];
  for (i64 k = 0; k < R; ++k) acc[k] = splat(0.0f);
  i64 j = 0;
  for (; j + kW <= cols; j += kW) {
    const vf gv = load(gamma + j);
    vf g = load(pg + j), b = load(pb + j);
    for (i64 k = 0; k < R; ++k) {
      const i64 at = (r + k) * cols + j;
      const vf xv = load(x + at), dyv = load(dy + at);
      const Local l = local_of(xv, dyv, gv, va);
      if (nt) {
        simd::stream(dx + at, l.local * va);
      } else {
        store(dx + at, l.local * va);
      }
      acc[k] = acc[k] + l.local * xv;
      g = g + dyv * l.t;
      b = b + dyv;
    }
    store(pg + j, g);
    store(pb + j, b);
  }
  float tail[R] = {};
  for (; j < cols; ++j) {
    for (i64 k = 0; k < R; ++k) {
      const i64 at = (r + k) * cols + j;
      const Local l = local_of(splat(x[at]), splat(dy[at]), splat(gamma[j]), va);
      dx[at] = l.local[0] * alpha;
      tail[k] += l.local[0] * x[at];
      pg[j] += dy[at] * l.t[0];
      pb[j] += dy[at];
    }
  }
  double da = 0.0;
  for (i64 k = 0; k < R; ++k) da += static_cast<double>(simd::hsum(acc[k])) + tail[k];
  return da;
}

// Rows [r0, r1): whole groups if `grouped`, then the rest one row at a time; returns their share
// of dalpha.
double rows_range(const float* dy, const float* x, float alpha, const float* gamma, float* dx,
                  float* pg, float* pb, i64 r0, i64 r1, i64 cols, bool grouped, bool nt) {
  const vf va = splat(alpha);
  double da = 0.0;
  i64 r = r0;
  for (; grouped && r + kRowGroup <= r1; r += kRowGroup) {
    da += row_group<kRowGroup>(dy, x, va, alpha, gamma, dx, pg, pb, r, cols, nt);
  }
  for (; r < r1; ++r) da += row_group<1>(dy, x, va, alpha, gamma, dx, pg, pb, r, cols, nt);
  return da;
}

}  // namespace
}  // namespace dyt_backward_detail

void dyt_backward(const float* dy, const float* x, float alpha, const float* gamma, float* dx,
                  float* dalpha, float* dgamma, float* dbeta, std::int64_t rows,
                  std::int64_t cols) {
  using namespace dyt_backward_detail;
  const bool parallel = rows * cols >= detail::kParallelMinElems && rows > 1;
  const int threads = parallel ? omp_get_max_threads() : 1;
  // Per-thread partial column sums (float32: a thread's rows are few enough that sqrt(rows) u
  // stays within the op's rule) and dalpha (double), combined in thread order.
  std::vector<float> pg(static_cast<std::size_t>(threads * cols), 0.0f), pb(pg.size(), 0.0f);
  std::vector<double> da(static_cast<std::size_t>(threads), 0.0);
  // Row groups and streaming stores where the tensors are large (the latter where every row starts
  // on a vector boundary).
  const bool large = detail::use_stream(rows * cols * i64{sizeof(float)});
  const bool nt = large && detail::rows_vector_aligned(dx, cols);
#pragma omp parallel num_threads(threads)
  {
    const i64 t = omp_get_thread_num(), n = omp_get_num_threads();
    const i64 r0 = rows * t / n, r1 = rows * (t + 1) / n;
    da[static_cast<std::size_t>(t)] = rows_range(dy, x, alpha, gamma, dx, pg.data() + t * cols,
                                                 pb.data() + t * cols, r0, r1, cols, large, nt);
    if (nt) simd::stream_fence();
  }
  for (i64 j = 0; j < cols; ++j) {
    double g = 0.0, b = 0.0;
    for (int t = 0; t < threads; ++t) {
      g += pg[static_cast<std::size_t>(t * cols + j)];
      b += pb[static_cast<std::size_t>(t * cols + j)];
    }
    dgamma[j] = static_cast<float>(g);
    dbeta[j] = static_cast<float>(b);
  }
  double a = 0.0;
  for (double v : da) a += v;
  dalpha[0] = static_cast<float>(a);
}

}  // namespace fast
}  // namespace opbench::cpu
