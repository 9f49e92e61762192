// BatchNorm (training) and GroupNorm backward, cpu.plain and cpu.fast (contracts in
// channel_norm_backward.hpp).
#include "kernels/cpu/channel_norm_backward.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu/norm_fast_common.hpp"
#include "kernels/cpu/norm_fast_simd.hpp"

namespace opbench::cpu {

void plain::batchnorm_train_backward(const float* dy, const float* x, const float* gamma,
                                     const float* mean, const float* rstd, float* dx, float* dgamma,
                                     float* dbeta, std::int64_t rows, std::int64_t cols) {
  std::vector<double> dg(static_cast<std::size_t>(cols), 0.0), db(dg.size(), 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) {
      const float xhat = (x[r * cols + j] - mean[j]) * rstd[j];
      dg[static_cast<std::size_t>(j)] += static_cast<double>(dy[r * cols + j]) * xhat;
      db[static_cast<std::size_t>(j)] += dy[r * cols + j];
    }
  }
  const float n = static_cast<float>(rows);
  for (std::int64_t j = 0; j < cols; ++j) {
    dgamma[j] = static_cast<float>(dg[static_cast<std::size_t>(j)]);
    dbeta[j] = static_cast<float>(db[static_cast<std::size_t>(j)]);
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < cols; ++j) {
      const float xhat = (x[r * cols + j] - mean[j]) * rstd[j];
      dx[r * cols + j] =
          rstd[j] * gamma[j] * (dy[r * cols + j] - dbeta[j] / n - xhat * dgamma[j] / n);
    }
  }
}

void plain::groupnorm_backward(const float* dy, const float* x, const float* gamma,
                               const float* mean, const float* rstd, float* dx, float* dgamma,
                               float* dbeta, std::int64_t n, std::int64_t c, std::int64_t hw,
                               std::int64_t groups) {
  const std::int64_t per = c / groups, m = per * hw;
  std::vector<double> dg(static_cast<std::size_t>(c), 0.0), db(dg.size(), 0.0);
  for (std::int64_t s = 0; s < n * groups; ++s) {
    const std::int64_t first = (s % groups) * per;
    double sum_g = 0.0, sum_gx = 0.0;
    for (std::int64_t k = 0; k < m; ++k) {
      const std::int64_t ch = first + k / hw, at = s * m + k;
      const float xhat = (x[at] - mean[s]) * rstd[s];
      sum_g += static_cast<double>(dy[at]) * gamma[ch];
      sum_gx += static_cast<double>(dy[at]) * gamma[ch] * xhat;
      dg[static_cast<std::size_t>(ch)] += static_cast<double>(dy[at]) * xhat;
      db[static_cast<std::size_t>(ch)] += dy[at];
    }
    const float mg = static_cast<float>(sum_g / static_cast<double>(m));
    const float mgx = static_cast<float>(sum_gx / static_cast<double>(m));
    for (std::int64_t k = 0; k < m; ++k) {
      const std::int64_t ch = first + k / hw, at = s * m + k;
      const float xhat = (x[at] - mean[s]) * rstd[s];
      dx[at] = rstd[s] * (dy[at] * gamma[ch] - mg - xhat * mgx);
    }
  }
  for (std::int64_t ch = 0; ch < c; ++ch) {
    dgamma[ch] = static_cast<float>(dg[static_cast<std::size_t>(ch)]);
    dbeta[ch] = static_cast<float>(db[static_cast<std::size_t>(ch)]);
  }
}

namespace fast {
namespace channel_norm_backward_detail {
namespace {

using detail::i64;
using simd::kW;
using simd::load;
using simd::splat;
using simd::store;
using simd::vf;

// Rows BatchNorm's backward sweeps per column vector: at 16384 x 4096 (float32) 8 took it from
// 47 to 28 ms with streaming stores (1, 2, 4, 8 and 16 rows measured; 16 no faster), the floor of
// its traffic (x and dy read twice, dx written once) at this machine's bandwidth.
constexpr i64 kRowGroup = 8;

int threads_for(i64 elements, i64 tasks) {
  return elements >= detail::kParallelMinElems && tasks > 1 ? omp_get_max_threads() : 1;
}

}  // namespace
}  // namespace channel_norm_backward_detail

void batchnorm_train_backward(const float* dy, const float* x, const float* gamma,
                              const float* mean, const float* rstd, float* dx, float* dgamma,
                              float* dbeta, std::int64_t rows, std::int64_t cols) {
  using namespace channel_norm_backward_detail;
  const int threads = threads_for(rows * cols, rows);
  // Streaming stores where dx is large and every row starts on a vector boundary.
  const bool nt =
      detail::use_stream(rows * cols * i64{sizeof(float)}) && detail::rows_vector_aligned(dx, cols);
  std::vector<float> pg(static_cast<std::size_t>(threads * cols), 0.0f), pb(pg.size(), 0.0f);
  std::vector<float> a(static_cast<std::size_t>(cols)), b(a.size()), cc(a.size());
#pragma omp parallel num_threads(threads)
  {
    const i64 t = omp_get_thread_num(), nt_threads = omp_get_num_threads();
    const i64 r0 = rows * t / nt_threads, r1 = rows * (t + 1) / nt_threads;
    float* g = pg.data() + t * cols;
    float* bb = pb.data() + t * cols;
    // Each column vector sweeps kRowGroup rows at a time: its partial sums and column constants
    // stay in registers for the group (still added row after row), and the group's rows are as
    // many streams from memory in flight.
    for (i64 r = r0; r < r1; r += kRowGroup) {
      const i64 count = std::min(kRowGroup, r1 - r);
      i64 j = 0;
      for (; j + kW <= cols; j += kW) {
        const vf m = load(mean + j), rs = load(rstd + j);
        vf gv = load(g + j), bv = load(bb + j);
        for (i64 k = 0; k < count; ++k) {
          const vf d = load(dy + (r + k) * cols + j);
          gv = gv + d * ((load(x + (r + k) * cols + j) - m) * rs);
          bv = bv + d;
        }
        store(g + j, gv);
        store(bb + j, bv);
      }
      for (; j < cols; ++j) {
        for (i64 k = 0; k < count; ++k) {
          const i64 at = (r + k) * cols + j;
          g[j] += dy[at] * ((x[at] - mean[j]) * rstd[j]);
          bb[j] += dy[at];
        }
      }
    }
#pragma omp barrier
#pragma omp for schedule(static)
    for (i64 j = 0; j < cols; ++j) {
      double sg = 0.0, sb = 0.0;
      for (i64 k = 0; k < nt_threads; ++k) {
        sg += pg[static_cast<std::size_t>(k * cols + j)];
        sb += pb[static_cast<std::size_t>(k * cols + j)];
      }
      dgamma[j] = static_cast<float>(sg);
      dbeta[j] = static_cast<float>(sb);
      const double aj = static_cast<double>(rstd[j]) * gamma[j];
      a[static_cast<std::size_t>(j)] = static_cast<float>(aj);
      b[static_cast<std::size_t>(j)] = static_cast<float>(aj * rstd[j] * sg / rows);
      cc[static_cast<std::size_t>(j)] = static_cast<float>(aj * sb / rows);
    }
    for (i64 r = r0; r < r1; r += kRowGroup) {
      const i64 count = std::min(kRowGroup, r1 - r);
      i64 j = 0;
      for (; j + kW <= cols; j += kW) {
        const vf m = load(mean + j), av = load(a.data() + j), bv = load(b.data() + j),
                 cv = load(cc.data() + j);
        for (i64 k = 0; k < count; ++k) {
          const i64 at = (r + k) * cols + j;
          const vf v = av * load(dy + at) - bv * (load(x + at) - m) - cv;
          if (nt) {
            simd::stream(dx + at, v);
          } else {
            store(dx + at, v);
          }
        }
      }
      for (; j < cols; ++j) {
        for (i64 k = 0; k < count; ++k) {
          const i64 at = (r + k) * cols + j;
          dx[at] = a[static_cast<std::size_t>(j)] * dy[at] -
                   b[static_cast<std::size_t>(j)] * (x[at] - mean[j]) -
                   cc[static_cast<std::size_t>(j)];
        }
      }
    }
    if (nt) simd::stream_fence();
  }
}

void groupnorm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                        const float* rstd, float* dx, float* dgamma, float* dbeta, std::int64_t n,
                        std::int64_t c, std::int64_t hw, std::int64_t groups) {
  using namespace channel_norm_backward_detail;
  const i64 per = c / groups, m = per * hw, sets = n * groups;
  const int threads = threads_for(n * c * hw, sets);
  std::vector<double> pg(static_cast<std::size_t>(threads * c), 0.0), pb(pg.size(), 0.0);
#pragma omp parallel num_threads(threads)
  {
    const i64 t = omp_get_thread_num(), nt = omp_get_num_threads();
    double* g_part = pg.data() + t * c;
    double* b_part = pb.data() + t * c;
    std::vector<float> sdy(static_cast<std::size_t>(per)), sdyx(sdy.size());
    for (i64 s = sets * t / nt; s < sets * (t + 1) / nt; ++s) {
      const i64 first = (s % groups) * per;
      const vf vm = splat(mean[s]), vr = splat(rstd[s]);
      double sum_g = 0.0, sum_gx = 0.0;
      for (i64 q = 0; q < per; ++q) {  // the channel's sums of dy and dy * xhat over hw
        const float* xc = x + s * m + q * hw;
        const float* dyc = dy + s * m + q * hw;
        vf d = splat(0.0f), dx_ = splat(0.0f);
        i64 k = 0;
        for (; k + kW <= hw; k += kW) {
          const vf dv = load(dyc + k);
          d = d + dv;
          dx_ = dx_ + dv * ((load(xc + k) - vm) * vr);
        }
        float ds = simd::hsum(d), dxs = simd::hsum(dx_);
        for (; k < hw; ++k) {
          ds += dyc[k];
          dxs += dyc[k] * ((xc[k] - mean[s]) * rstd[s]);
        }
        const i64 ch = first + q;
        sum_g += static_cast<double>(gamma[ch]) * ds;
        sum_gx += static_cast<double>(gamma[ch]) * dxs;
        g_part[ch] += dxs;
        b_part[ch] += ds;
      }
      const vf mg = splat(static_cast<float>(sum_g / static_cast<double>(m)));
      const vf mgx = splat(static_cast<float>(sum_gx / static_cast<double>(m)));
      for (i64 q = 0; q < per; ++q) {
        const float* xc = x + s * m + q * hw;
        const float* dyc = dy + s * m + q * hw;
        float* out = dx + s * m + q * hw;
        const vf gc = splat(gamma[first + q]);
        i64 k = 0;
        for (; k + kW <= hw; k += kW) {
          const vf xhat = (load(xc + k) - vm) * vr;
          store(out + k, vr * (load(dyc + k) * gc - mg - xhat * mgx));
        }
        for (; k < hw; ++k) {
          const float xhat = (xc[k] - mean[s]) * rstd[s];
          out[k] = rstd[s] * (dyc[k] * gamma[first + q] - mg[0] - xhat * mgx[0]);
        }
      }
    }
  }
  for (i64 ch = 0; ch < c; ++ch) {
    double sg = 0.0, sb = 0.0;
    for (int t = 0; t < threads; ++t) {
      sg += pg[static_cast<std::size_t>(t * c + ch)];
      sb += pb[static_cast<std::size_t>(t * c + ch)];
    }
    dgamma[ch] = static_cast<float>(sg);
    dbeta[ch] = static_cast<float>(sb);
  }
}

}  // namespace fast
}  // namespace opbench::cpu
