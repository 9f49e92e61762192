// BatchNorm (training) and GroupNorm backward, cpu.plain and cpu.fast (contracts in
// channel_norm_backward.hpp).
#include "kernels/cpu/channel_norm_backward.hpp"

#include <omp.h>

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
  std::vector<float> pg(static_cast<std::size_t>(threads * cols), 0.0f), pb(pg.size(), 0.0f);
  std::vector<float> a(static_cast<std::size_t>(cols)), b(a.size()), cc(a.size());
#pragma omp parallel num_threads(threads)
  {
    const i64 t = omp_get_thread_num(), nt = omp_get_num_threads();
    const i64 r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
    float* g = pg.data() + t * cols;
    float* bb = pb.data() + t * cols;
    for (i64 r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      const float* dyr = dy + r * cols;
      i64 j = 0;
      for (; j + kW <= cols; j += kW) {
        const vf d = load(dyr + j);
        store(g + j, load(g + j) + d * ((load(xr + j) - load(mean + j)) * load(rstd + j)));
        store(bb + j, load(bb + j) + d);
      }
      for (; j < cols; ++j) {
        g[j] += dyr[j] * ((xr[j] - mean[j]) * rstd[j]);
        bb[j] += dyr[j];
      }
    }
#pragma omp barrier
#pragma omp for schedule(static)
    for (i64 j = 0; j < cols; ++j) {
      double sg = 0.0, sb = 0.0;
      for (i64 k = 0; k < nt; ++k) {
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
    for (i64 r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      const float* dyr = dy + r * cols;
      float* dxr = dx + r * cols;
      i64 j = 0;
      for (; j + kW <= cols; j += kW) {
        const vf xc = load(xr + j) - load(mean + j);
        store(dxr + j,
              load(a.data() + j) * load(dyr + j) - load(b.data() + j) * xc - load(cc.data() + j));
      }
      for (; j < cols; ++j) {
        dxr[j] = a[static_cast<std::size_t>(j)] * dyr[j] -
                 b[static_cast<std::size_t>(j)] * (xr[j] - mean[j]) -
                 cc[static_cast<std::size_t>(j)];
      }
    }
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
