// cpu.fast recurrent layers (contract in scan_fast.hpp): minGRU and minLSTM as one SGEMM
// projection then a fused gates + scan pass (vectorized across D, OpenMP over channel blocks);
// GRU and LSTM as the input SGEMM for all steps, then per step one SGEMM of h_{t-1} against U
// accumulated in place into the step's projection (beta = 1), then the vectorized gate update.
#include <cblas.h>

#include "kernels/cpu/scan_fast.hpp"
#include "kernels/cpu/scan_fast_blocks.hpp"
#include "kernels/cpu/scan_fast_math.hpp"
#include "kernels/cpu/scan_projection.hpp"

namespace opbench::cpu::fast {
namespace {

using namespace simd;

// The fused pass of a minimal layer after its projection k[batch, T, G*D]. `gates(k_row + d, lanes,
// la, lb)` gives, for the channels at d, a and b of the linear recurrence (plain form) or log a
// and log b (log form). The plain form scans h = a h + b; the log form runs Heinsen's streaming
// a* + logcumsumexp(log b - a*) from log h0 and writes exp of it.
template <class Gates>
void min_layer_scan(const float* k, const float* h0, float* h, std::int64_t batch, std::int64_t T,
                    std::int64_t D, int G, ScanForm form, Gates gates) {
  const std::int64_t row_k = G * D;
  for_channel_blocks(batch, D, [&](const ChannelBlock& blk) {
    State state(static_cast<std::size_t>(blk.vectors)), m(state), s(state);
    const float* h0p = h0 + blk.n * D + blk.d0;
    for (int v = 0; v < blk.vectors; ++v) {
      const vf init = load_lanes(h0p + v * kW, blk.lanes(v));
      state[v] = form == ScanForm::plain ? init : splat(0.0f);  // h, or a* in the log form
      m[v] = vlog(init);
      s[v] = splat(1.0f);
    }
    for (std::int64_t t = 0; t < T; ++t) {
      const float* kr = k + (blk.n * T + t) * row_k + blk.d0;
      float* hr = h + (blk.n * T + t) * D + blk.d0;
      for (int v = 0; v < blk.vectors; ++v) {
        const int lanes = blk.lanes(v);
        vf ga, gb;
        gates(kr + v * kW, lanes, ga, gb);
        if (form == ScanForm::plain) {
          state[v] = ga * state[v] + gb;
          store_lanes(hr + v * kW, state[v], lanes, false);
        } else {
          state[v] += ga;
          lse_push(m[v], s[v], gb - state[v]);
          store_lanes(hr + v * kW, vexp(state[v] + m[v] + vlog(s[v])), lanes, false);
        }
      }
    }
  });
}

}  // namespace

void mingru(const float* x, const float* w, const float* bias, const float* h0, float* h,
            std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D, ScanForm form) {
  float* k = scan_workspace(0, batch * T * 2 * D);
  project(x, w, bias, k, batch * T, d_in, 2 * D);
  min_layer_scan(k, h0, h, batch, T, D, 2, form, [&](const float* kp, int lanes, vf& a, vf& b) {
    const vf kz = load_lanes(kp, lanes), kh = load_lanes(kp + D, lanes);
    if (form == ScanForm::plain) {
      const vf z = vsigmoid(kz);
      a = 1.0f - z;
      b = z * vmin_rnn_g(kh);
    } else {
      const vf sp = vsoftplus(kz);  // log(1 - z) = -softplus(k), log z = k - softplus(k)
      a = -sp;
      b = kz - sp + vlog_g(kh);
    }
  });
}

void minlstm(const float* x, const float* w, const float* bias, const float* h0, float* h,
             std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D, ScanForm form) {
  float* k = scan_workspace(0, batch * T * 3 * D);
  project(x, w, bias, k, batch * T, d_in, 3 * D);
  min_layer_scan(k, h0, h, batch, T, D, 3, form, [&](const float* kp, int lanes, vf& a, vf& b) {
    const vf kf = load_lanes(kp, lanes), ki = load_lanes(kp + D, lanes);
    const vf kh = load_lanes(kp + 2 * D, lanes);
    if (form == ScanForm::plain) {
      const vf f = vsigmoid(kf), i = vsigmoid(ki);
      const vf inv = 1.0f / (f + i);
      a = f * inv;
      b = i * inv * vmin_rnn_g(kh);
    } else {
      // diff = log(i / f); log f' = -softplus(diff), log i' = diff - softplus(diff).
      const vf diff = vsoftplus(-kf) - vsoftplus(-ki);
      const vf sp = vsoftplus(diff);
      a = -sp;
      b = diff - sp + vlog_g(kh);
    }
  });
}

namespace {

// h_{t-1} as the A operand of a step's SGEMM: rows n of batch, leading dimension between them.
struct PrevRows {
  const float* p;
  int ld;
};
PrevRows prev_rows(const float* h0, const float* h, std::int64_t t, std::int64_t T,
                   std::int64_t D) {
  if (t == 0) return {h0, static_cast<int>(D)};
  return {h + (t - 1) * D, static_cast<int>(T * D)};
}

// C[batch, cols] (rows ldc apart) += A[batch, D] (rows lda apart) U[D, cols] (rows ldu apart).
void step_gemm(PrevRows a, const float* u, int ldu, float* c, int ldc, std::int64_t batch,
               std::int64_t D, std::int64_t cols) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(batch),
              static_cast<int>(cols), static_cast<int>(D), 1.0f, a.p, a.ld, u, ldu, 1.0f, c, ldc);
}

}  // namespace

void gru(const float* x, const float* w, const float* u, const float* bias, const float* h0,
         float* h, std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D) {
  const std::int64_t G = 3 * D;
  float* kx = scan_workspace(0, batch * T * G);
  project(x, w, bias, kx, batch * T, d_in, G);
  float* rh = scan_workspace(1, batch * D);  // r_t * h_{t-1}
  const int ldk = static_cast<int>(T * G);
  for (std::int64_t t = 0; t < T; ++t) {
    const PrevRows prev = prev_rows(h0, h, t, T, D);
    float* k = kx + t * G;  // row n of this step at k + n * T * G
    step_gemm(prev, u, static_cast<int>(G), k, ldk, batch, D, 2 * D);  // z and r columns
    for (std::int64_t n = 0; n < batch; ++n) {
      const float* kn = k + n * T * G;
      const float* hp = prev.p + n * prev.ld;
      for (std::int64_t d = 0; d < D; d += kW) {
        const int lanes = static_cast<int>(std::min<std::int64_t>(kW, D - d));
        const vf r = vsigmoid(load_lanes(kn + D + d, lanes));
        store_lanes(rh + n * D + d, r * load_lanes(hp + d, lanes), lanes, false);
      }
    }
    step_gemm({rh, static_cast<int>(D)}, u + 2 * D, static_cast<int>(G), k + 2 * D, ldk, batch, D,
              D);
    for (std::int64_t n = 0; n < batch; ++n) {
      const float* kn = k + n * T * G;
      const float* hp = prev.p + n * prev.ld;
      float* hc = h + (n * T + t) * D;
      for (std::int64_t d = 0; d < D; d += kW) {
        const int lanes = static_cast<int>(std::min<std::int64_t>(kW, D - d));
        const vf z = vsigmoid(load_lanes(kn + d, lanes));
        const vf cand = vtanh(load_lanes(kn + 2 * D + d, lanes));
        const vf hv = load_lanes(hp + d, lanes);
        store_lanes(hc + d, hv + z * (cand - hv), lanes, false);
      }
    }
  }
}

void lstm(const float* x, const float* w, const float* u, const float* bias, const float* h0,
          const float* c0, float* h, std::int64_t batch, std::int64_t T, std::int64_t d_in,
          std::int64_t D) {
  const std::int64_t G = 4 * D;
  float* kx = scan_workspace(0, batch * T * G);
  project(x, w, bias, kx, batch * T, d_in, G);
  float* c = scan_workspace(1, batch * D);
  std::copy(c0, c0 + batch * D, c);
  const int ldk = static_cast<int>(T * G);
  for (std::int64_t t = 0; t < T; ++t) {
    const PrevRows prev = prev_rows(h0, h, t, T, D);
    float* k = kx + t * G;
    step_gemm(prev, u, static_cast<int>(G), k, ldk, batch, D, G);
    for (std::int64_t n = 0; n < batch; ++n) {
      const float* kn = k + n * T * G;
      float* cn = c + n * D;
      float* hc = h + (n * T + t) * D;
      for (std::int64_t d = 0; d < D; d += kW) {
        const int lanes = static_cast<int>(std::min<std::int64_t>(kW, D - d));
        const vf i = vsigmoid(load_lanes(kn + d, lanes));
        const vf f = vsigmoid(load_lanes(kn + D + d, lanes));
        const vf g = vtanh(load_lanes(kn + 2 * D + d, lanes));
        const vf o = vsigmoid(load_lanes(kn + 3 * D + d, lanes));
        const vf cv = f * load_lanes(cn + d, lanes) + i * g;
        store_lanes(cn + d, cv, lanes, false);
        store_lanes(hc + d, o * vtanh(cv), lanes, false);
      }
    }
  }
}

}  // namespace opbench::cpu::fast
