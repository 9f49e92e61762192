// cpu.fast training steps of the scan family (contract in scan_train.hpp): OpenBLAS SGEMMs for the
// projections of all steps at once; the minGRU and minLSTM scans vectorized across channels and
// threaded over (batch entry, channel segment); the GRU's recurrence one step after another with an
// SGEMM over the batch for each product with U or U^T.
#include <cblas.h>

#include <algorithm>

#include "kernels/cpu/scan_fast_blocks.hpp"
#include "kernels/cpu/scan_fast_math.hpp"
#include "kernels/cpu/scan_projection.hpp"
#include "kernels/cpu/scan_train.hpp"
#include "kernels/cpu/scan_train_fast_detail.hpp"

namespace opbench::cpu::fast {
using namespace train_detail;

void mingru_train(const float* x, const float* w, const float* bias, const float* h0,
                  const float* dh, float* h, float* dx, float* dw, float* dbias, float* dh0,
                  std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D) {
  const std::int64_t rows = batch * T, G = 2 * D;
  float* k = scan_workspace(0, rows * G);  // x W + bias, then (in place) dk
  project(x, w, bias, k, rows, d_in, G);
  // Forward: h_t = (1 - z_t) h_{t-1} + z_t g(k_h), channels in vectors.
  for_channel_blocks(batch, D, [&](const ChannelBlock& blk) {
    State state(static_cast<std::size_t>(blk.vectors));
    const float* h0p = h0 + blk.n * D + blk.d0;
    for (int v = 0; v < blk.vectors; ++v) state[v] = load_lanes(h0p + v * kW, blk.lanes(v));
    for (std::int64_t t = 0; t < T; ++t) {
      const float* kr = k + (blk.n * T + t) * G + blk.d0;
      float* hr = h + (blk.n * T + t) * D + blk.d0;
      for (int v = 0; v < blk.vectors; ++v) {
        const int lanes = blk.lanes(v);
        const vf z = vsigmoid(load_lanes(kr + v * kW, lanes));
        const vf c = vmin_rnn_g(load_lanes(kr + D + v * kW, lanes));
        state[v] = (1.0f - z) * state[v] + z * c;
        store_lanes(hr + v * kW, state[v], lanes, false);
      }
    }
  });
  // Backward: the reverse scan delta_t = dh_t + a_{t+1} delta_{t+1} fused with the gates'
  // gradients, dk_z = delta (c - h_{t-1}) z (1 - z) and dk_h = delta z g'(k_h), written over the
  // block's own columns of k (no other block reads them).
  for_channel_blocks(batch, D, [&](const ChannelBlock& blk) {
    State delta(static_cast<std::size_t>(blk.vectors)), a_next(delta);
    for (int v = 0; v < blk.vectors; ++v) delta[v] = a_next[v] = splat(0.0f);
    for (std::int64_t t = T - 1; t >= 0; --t) {
      const std::int64_t r = blk.n * T + t;
      float* kr = k + r * G + blk.d0;
      const float* dhr = dh + r * D + blk.d0;
      const float* hp = t > 0 ? h + (r - 1) * D + blk.d0 : h0 + blk.n * D + blk.d0;
      for (int v = 0; v < blk.vectors; ++v) {
        const int lanes = blk.lanes(v);
        const std::int64_t o = v * kW;
        delta[v] = load_lanes(dhr + o, lanes) + a_next[v] * delta[v];
        const vf kh = load_lanes(kr + D + o, lanes);
        const vf z = vsigmoid(load_lanes(kr + o, lanes));
        const vf c = vmin_rnn_g(kh);
        store_lanes(kr + o, delta[v] * (c - load_lanes(hp + o, lanes)) * z * (1.0f - z), lanes,
                    false);
        store_lanes(kr + D + o, delta[v] * z * vmin_rnn_g_prime(kh), lanes, false);
        a_next[v] = 1.0f - z;
      }
    }
    float* dh0p = dh0 + blk.n * D + blk.d0;
    for (int v = 0; v < blk.vectors; ++v) {
      store_lanes(dh0p + v * kW, a_next[v] * delta[v], blk.lanes(v), false);
    }
  });
  project_backward(x, w, k, dx, dw, dbias, rows, d_in, G, scan_workspace(1, rows));
}

void minlstm_train(const float* x, const float* w, const float* bias, const float* h0,
                   const float* dh, float* h, float* dx, float* dw, float* dbias, float* dh0,
                   std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D) {
  const std::int64_t rows = batch * T, G = 3 * D;
  float* k = scan_workspace(0, rows * G);  // x W + bias, then (in place) dk
  project(x, w, bias, k, rows, d_in, G);
  // Forward: h_t = a_t h_{t-1} + i'_t g(k_h), a = f / (f + i), i' = i / (f + i), as the forward
  // op's cpu.fast (one reciprocal for both).
  for_channel_blocks(batch, D, [&](const ChannelBlock& blk) {
    State state(static_cast<std::size_t>(blk.vectors));
    const float* h0p = h0 + blk.n * D + blk.d0;
    for (int v = 0; v < blk.vectors; ++v) state[v] = load_lanes(h0p + v * kW, blk.lanes(v));
    for (std::int64_t t = 0; t < T; ++t) {
      const float* kr = k + (blk.n * T + t) * G + blk.d0;
      float* hr = h + (blk.n * T + t) * D + blk.d0;
      for (int v = 0; v < blk.vectors; ++v) {
        const int lanes = blk.lanes(v);
        const std::int64_t o = v * kW;
        const vf f = vsigmoid(load_lanes(kr + o, lanes));
        const vf i = vsigmoid(load_lanes(kr + D + o, lanes));
        const vf inv = 1.0f / (f + i);
        state[v] = f * inv * state[v] + i * inv * vmin_rnn_g(load_lanes(kr + 2 * D + o, lanes));
        store_lanes(hr + o, state[v], lanes, false);
      }
    }
  });
  // Backward: the reverse scan delta_t = dh_t + a_{t+1} delta_{t+1} fused with the gates'
  // gradients, q = delta (h_{t-1} - c) a i', dk_f = q (1 - f), dk_i = -q (1 - i),
  // dk_h = delta i' g'(k_h), written over the block's own columns of k.
  for_channel_blocks(batch, D, [&](const ChannelBlock& blk) {
    State delta(static_cast<std::size_t>(blk.vectors)), a_next(delta);
    for (int v = 0; v < blk.vectors; ++v) delta[v] = a_next[v] = splat(0.0f);
    for (std::int64_t t = T - 1; t >= 0; --t) {
      const std::int64_t r = blk.n * T + t;
      float* kr = k + r * G + blk.d0;
      const float* dhr = dh + r * D + blk.d0;
      const float* hp = t > 0 ? h + (r - 1) * D + blk.d0 : h0 + blk.n * D + blk.d0;
      for (int v = 0; v < blk.vectors; ++v) {
        const int lanes = blk.lanes(v);
        const std::int64_t o = v * kW;
        delta[v] = load_lanes(dhr + o, lanes) + a_next[v] * delta[v];
        const vf kh = load_lanes(kr + 2 * D + o, lanes);
        const vf f = vsigmoid(load_lanes(kr + o, lanes));
        const vf i = vsigmoid(load_lanes(kr + D + o, lanes));
        const vf inv = 1.0f / (f + i);
        const vf a = f * inv, ip = i * inv;
        const vf q = delta[v] * (load_lanes(hp + o, lanes) - vmin_rnn_g(kh)) * a * ip;
        store_lanes(kr + o, q * (1.0f - f), lanes, false);
        store_lanes(kr + D + o, q * (i - 1.0f), lanes, false);
        store_lanes(kr + 2 * D + o, delta[v] * ip * vmin_rnn_g_prime(kh), lanes, false);
        a_next[v] = a;
      }
    }
    float* dh0p = dh0 + blk.n * D + blk.d0;
    for (int v = 0; v < blk.vectors; ++v) {
      store_lanes(dh0p + v * kW, a_next[v] * delta[v], blk.lanes(v), false);
    }
  });
  project_backward(x, w, k, dx, dw, dbias, rows, d_in, G, scan_workspace(1, rows));
}

void gru_train(const float* x, const float* w, const float* u, const float* bias, const float* h0,
               const float* dh, float* h, float* dx, float* dw, float* du, float* dbias, float* dh0,
               std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D) {
  const std::int64_t rows = batch * T, G = 3 * D;
  float* k = scan_workspace(0, rows * G);      // x W + bias (+ h U), then (in place) dk
  float* gates = scan_workspace(1, rows * G);  // z, r, n of each row
  float* rh = scan_workspace(2, rows * D);     // r_t h_{t-1} of each row
  // h_{t-1} of each row (for dU), the carried gradient, d(rh) of a step, ones for dbias.
  float* scratch = scan_workspace(3, rows * D + 2 * batch * D + rows);
  float* hprev = scratch;
  float* carry = hprev + rows * D;
  float* drh = carry + batch * D;
  float* ones = drh + batch * D;
  project(x, w, bias, k, rows, d_in, G);
  const int ldk = i32(T * G), ldr = i32(T * D), ldu = i32(G);
  auto prev_of = [&](std::int64_t n, std::int64_t t) {
    return t > 0 ? h + (n * T + t - 1) * D : h0 + n * D;
  };
  for (std::int64_t t = 0; t < T; ++t) {
    float* kt = k + t * G;  // row n of this step at kt + n * T * G
    // k_zr += h_{t-1} U_zr over the batch (rows T * D apart in h, D apart in h0).
    const float* a = t > 0 ? h + (t - 1) * D : h0;
    const int lda = t > 0 ? ldr : i32(D);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, i32(batch), i32(2 * D), i32(D), 1.0f, a,
                lda, u, ldu, 1.0f, kt, ldk);
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t row = n * T + t;
      const float* kr = k + row * G;
      const float* hp = prev_of(n, t);
      float* gr = gates + row * G;
      for (std::int64_t d = 0; d < D; d += kW) {
        const int lanes = static_cast<int>(std::min<std::int64_t>(kW, D - d));
        const vf z = vsigmoid(load_lanes(kr + d, lanes));
        const vf r = vsigmoid(load_lanes(kr + D + d, lanes));
        store_lanes(gr + d, z, lanes, false);
        store_lanes(gr + D + d, r, lanes, false);
        store_lanes(rh + row * D + d, r * load_lanes(hp + d, lanes), lanes, false);
      }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, i32(batch), i32(D), i32(D), 1.0f,
                rh + t * D, ldr, u + 2 * D, ldu, 1.0f, kt + 2 * D, ldk);
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t row = n * T + t;
      const float* kr = k + row * G;
      const float* hp = prev_of(n, t);
      float* gr = gates + row * G;
      float* hc = h + row * D;
      for (std::int64_t d = 0; d < D; d += kW) {
        const int lanes = static_cast<int>(std::min<std::int64_t>(kW, D - d));
        const vf z = load_lanes(gr + d, lanes);
        const vf nn = vtanh(load_lanes(kr + 2 * D + d, lanes));
        const vf hv = load_lanes(hp + d, lanes);
        store_lanes(gr + 2 * D + d, nn, lanes, false);
        store_lanes(hc + d, hv + z * (nn - hv), lanes, false);
      }
    }
  }
  // Backward through time; the step's dk goes over its (no longer needed) pre-activations.
  std::fill(carry, carry + batch * D, 0.0f);
  for (std::int64_t t = T - 1; t >= 0; --t) {
    float* dkt = k + t * G;
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t row = n * T + t;
      const float* gr = gates + row * G;
      const float* hp = prev_of(n, t);
      float* dk = k + row * G;
      float* cn = carry + n * D;
      for (std::int64_t d = 0; d < D; d += kW) {
        const int lanes = static_cast<int>(std::min<std::int64_t>(kW, D - d));
        const vf z = load_lanes(gr + d, lanes), nn = load_lanes(gr + 2 * D + d, lanes);
        const vf delta = load_lanes(dh + row * D + d, lanes) + load_lanes(cn + d, lanes);
        store_lanes(dk + d, delta * (nn - load_lanes(hp + d, lanes)) * z * (1.0f - z), lanes,
                    false);
        store_lanes(dk + 2 * D + d, delta * z * (1.0f - nn * nn), lanes, false);
        store_lanes(cn + d, delta * (1.0f - z), lanes, false);
      }
    }
    // d(rh) = da_n U_n^T over the batch.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, i32(batch), i32(D), i32(D), 1.0f,
                dkt + 2 * D, ldk, u + 2 * D, ldu, 0.0f, drh, i32(D));
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t row = n * T + t;
      const float* gr = gates + row * G;
      const float* hp = prev_of(n, t);
      float* dk = k + row * G;
      float* cn = carry + n * D;
      const float* dn = drh + n * D;
      for (std::int64_t d = 0; d < D; d += kW) {
        const int lanes = static_cast<int>(std::min<std::int64_t>(kW, D - d));
        const vf r = load_lanes(gr + D + d, lanes), g = load_lanes(dn + d, lanes);
        store_lanes(dk + D + d, g * load_lanes(hp + d, lanes) * r * (1.0f - r), lanes, false);
        store_lanes(cn + d, load_lanes(cn + d, lanes) + g * r, lanes, false);
      }
    }
    // dL/dh_{t-1} += [da_z | da_r] U_zr^T over the batch.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, i32(batch), i32(D), i32(2 * D), 1.0f, dkt,
                ldk, u, ldu, 1.0f, carry, i32(D));
  }
  std::copy(carry, carry + batch * D, dh0);
  // dU_zr = Hprev^T dk_zr and dU_n = (r h_{t-1})^T da_n, over all rows at once.
  for (std::int64_t n = 0; n < batch; ++n) {
    std::copy(h0 + n * D, h0 + (n + 1) * D, hprev + n * T * D);
    std::copy(h + n * T * D, h + (n * T + T - 1) * D, hprev + (n * T + 1) * D);
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i32(D), i32(2 * D), i32(rows), 1.0f, hprev,
              i32(D), k, ldu, 0.0f, du, ldu);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i32(D), i32(D), i32(rows), 1.0f, rh, i32(D),
              k + 2 * D, ldu, 0.0f, du + 2 * D, ldu);
  project_backward(x, w, k, dx, dw, dbias, rows, d_in, G, ones);
}

}  // namespace opbench::cpu::fast
