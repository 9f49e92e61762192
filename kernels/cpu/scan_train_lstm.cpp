// The LSTM's training step on the CPU (contract in scan_train.hpp): cpu.plain as scalar loops on
// one thread, cpu.fast with an OpenBLAS SGEMM over the batch for each step's product with U
// (forward) and U^T (backward), the gates vectorized across channels.
#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/scan_projection.hpp"
#include "kernels/cpu/scan_train.hpp"
#include "kernels/cpu/scan_train_fast_detail.hpp"
#include "kernels/cpu/scan_train_plain_detail.hpp"

namespace opbench::cpu {

namespace plain {

void lstm_train(const float* x, const float* w, const float* u, const float* bias, const float* h0,
                const float* c0, const float* dh, float* h, float* dx, float* dw, float* du,
                float* dbias, float* dh0, float* dc0, std::int64_t batch, std::int64_t T,
                std::int64_t d_in, std::int64_t D) {
  using namespace train_detail;
  const std::int64_t rows = batch * T, G = 4 * D;
  float* k = scan_workspace(0, rows * G);      // x W + bias (+ h U), then (in place) dk
  float* gates = scan_workspace(1, rows * G);  // i, f, g, o of each row
  float* cell = scan_workspace(2, rows * D);   // c_t of each row
  float* vec = scan_workspace(3, 2 * D);
  float *carry_h = vec, *carry_c = vec + D;
  project_rows(x, w, bias, k, rows, d_in, G);
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int64_t row = b * T + t;
      const float* prev = t > 0 ? h + (row - 1) * D : h0 + b * D;
      const float* c_prev = t > 0 ? cell + (row - 1) * D : c0 + b * D;
      float* kr = k + row * G;
      for (std::int64_t i = 0; i < D; ++i) {
        for (std::int64_t j = 0; j < G; ++j) kr[j] += prev[i] * u[i * G + j];
      }
      float* gr = gates + row * G;
      for (std::int64_t d = 0; d < D; ++d) {
        gr[d] = sigmoid(kr[d]);
        gr[D + d] = sigmoid(kr[D + d]);
        gr[2 * D + d] = std::tanh(kr[2 * D + d]);
        gr[3 * D + d] = sigmoid(kr[3 * D + d]);
        cell[row * D + d] = gr[D + d] * c_prev[d] + gr[d] * gr[2 * D + d];
        h[row * D + d] = gr[3 * D + d] * std::tanh(cell[row * D + d]);
      }
    }
  }
  std::fill(du, du + D * G, 0.0f);
  for (std::int64_t b = 0; b < batch; ++b) {
    std::fill(carry_h, carry_h + D, 0.0f);
    std::fill(carry_c, carry_c + D, 0.0f);
    for (std::int64_t t = T - 1; t >= 0; --t) {
      const std::int64_t row = b * T + t;
      const float* prev = t > 0 ? h + (row - 1) * D : h0 + b * D;
      const float* c_prev = t > 0 ? cell + (row - 1) * D : c0 + b * D;
      const float* gr = gates + row * G;
      float* dk = k + row * G;
      for (std::int64_t d = 0; d < D; ++d) {
        const float ig = gr[d], fg = gr[D + d], gg = gr[2 * D + d], og = gr[3 * D + d];
        const float tc = std::tanh(cell[row * D + d]);
        const float delta = dh[row * D + d] + carry_h[d];
        const float gamma = delta * og * (1.0f - tc * tc) + carry_c[d];
        dk[d] = gamma * gg * ig * (1.0f - ig);
        dk[D + d] = gamma * c_prev[d] * fg * (1.0f - fg);
        dk[2 * D + d] = gamma * ig * (1.0f - gg * gg);
        dk[3 * D + d] = delta * tc * og * (1.0f - og);
        carry_c[d] = gamma * fg;
      }
      for (std::int64_t i = 0; i < D; ++i) {
        float s = 0.0f;
        for (std::int64_t j = 0; j < G; ++j) s += dk[j] * u[i * G + j];
        carry_h[i] = s;
        for (std::int64_t j = 0; j < G; ++j) du[i * G + j] += prev[i] * dk[j];
      }
    }
    std::copy(carry_h, carry_h + D, dh0 + b * D);
    std::copy(carry_c, carry_c + D, dc0 + b * D);
  }
  project_rows_backward(x, w, k, dx, dw, dbias, rows, d_in, G);
}

}  // namespace plain

namespace fast {

void lstm_train(const float* x, const float* w, const float* u, const float* bias, const float* h0,
                const float* c0, const float* dh, float* h, float* dx, float* dw, float* du,
                float* dbias, float* dh0, float* dc0, std::int64_t batch, std::int64_t T,
                std::int64_t d_in, std::int64_t D) {
  using namespace train_detail;
  const std::int64_t rows = batch * T, G = 4 * D;
  float* k = scan_workspace(0, rows * G);      // x W + bias + h U, then (in place) dk
  float* gates = scan_workspace(1, rows * G);  // i, f, g, o of each row
  // c_t and tanh(c_t) of each row; h_{t-1} of each row (for dU); the carried gradients of h and
  // c; ones for dbias.
  float* scratch = scan_workspace(2, 3 * rows * D + 2 * batch * D + rows);
  float* cell = scratch;
  float* tanh_c = cell + rows * D;
  float* hprev = tanh_c + rows * D;
  float* carry_h = hprev + rows * D;
  float* carry_c = carry_h + batch * D;
  float* ones = carry_c + batch * D;
  project(x, w, bias, k, rows, d_in, G);
  const int ldk = i32(T * G), ldr = i32(T * D), ldu = i32(G);
  auto row_lanes = [D](std::int64_t d) {
    return static_cast<int>(std::min<std::int64_t>(kW, D - d));
  };
  for (std::int64_t t = 0; t < T; ++t) {
    // k_t += h_{t-1} U over the batch (rows T * D apart in h, D apart in h0).
    const float* a = t > 0 ? h + (t - 1) * D : h0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, i32(batch), i32(G), i32(D), 1.0f, a,
                t > 0 ? ldr : i32(D), u, ldu, 1.0f, k + t * G, ldk);
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t row = n * T + t;
      const float* kr = k + row * G;
      const float* cp = t > 0 ? cell + (row - 1) * D : c0 + n * D;
      float* gr = gates + row * G;
      for (std::int64_t d = 0; d < D; d += kW) {
        const int lanes = row_lanes(d);
        const vf i = vsigmoid(load_lanes(kr + d, lanes));
        const vf f = vsigmoid(load_lanes(kr + D + d, lanes));
        const vf g = vtanh(load_lanes(kr + 2 * D + d, lanes));
        const vf o = vsigmoid(load_lanes(kr + 3 * D + d, lanes));
        const vf c = f * load_lanes(cp + d, lanes) + i * g;
        const vf tc = vtanh(c);
        store_lanes(gr + d, i, lanes, false);
        store_lanes(gr + D + d, f, lanes, false);
        store_lanes(gr + 2 * D + d, g, lanes, false);
        store_lanes(gr + 3 * D + d, o, lanes, false);
        store_lanes(cell + row * D + d, c, lanes, false);
        store_lanes(tanh_c + row * D + d, tc, lanes, false);
        store_lanes(h + row * D + d, o * tc, lanes, false);
      }
    }
  }
  // Backward through time; the step's dk goes over its (no longer needed) pre-activations.
  std::fill(carry_h, carry_h + 2 * batch * D, 0.0f);  // carry_h and carry_c
  for (std::int64_t t = T - 1; t >= 0; --t) {
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t row = n * T + t;
      const float* gr = gates + row * G;
      const float* cp = t > 0 ? cell + (row - 1) * D : c0 + n * D;
      float* dk = k + row * G;
      float* ch = carry_h + n * D;
      float* cc = carry_c + n * D;
      for (std::int64_t d = 0; d < D; d += kW) {
        const int lanes = row_lanes(d);
        const vf i = load_lanes(gr + d, lanes), f = load_lanes(gr + D + d, lanes);
        const vf g = load_lanes(gr + 2 * D + d, lanes), o = load_lanes(gr + 3 * D + d, lanes);
        const vf tc = load_lanes(tanh_c + row * D + d, lanes);
        const vf delta = load_lanes(dh + row * D + d, lanes) + load_lanes(ch + d, lanes);
        const vf gamma = delta * o * (1.0f - tc * tc) + load_lanes(cc + d, lanes);
        store_lanes(dk + d, gamma * g * i * (1.0f - i), lanes, false);
        store_lanes(dk + D + d, gamma * load_lanes(cp + d, lanes) * f * (1.0f - f), lanes, false);
        store_lanes(dk + 2 * D + d, gamma * i * (1.0f - g * g), lanes, false);
        store_lanes(dk + 3 * D + d, delta * tc * o * (1.0f - o), lanes, false);
        store_lanes(cc + d, gamma * f, lanes, false);
      }
    }
    // dL/dh_{t-1} = dk_t U^T over the batch.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, i32(batch), i32(D), i32(G), 1.0f,
                k + t * G, ldk, u, ldu, 0.0f, carry_h, i32(D));
  }
  std::copy(carry_h, carry_h + batch * D, dh0);
  std::copy(carry_c, carry_c + batch * D, dc0);
  // dU = Hprev^T dK over all rows at once.
  for (std::int64_t n = 0; n < batch; ++n) {
    std::copy(h0 + n * D, h0 + (n + 1) * D, hprev + n * T * D);
    std::copy(h + n * T * D, h + (n * T + T - 1) * D, hprev + (n * T + 1) * D);
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i32(D), i32(G), i32(rows), 1.0f, hprev,
              i32(D), k, ldu, 0.0f, du, ldu);
  project_backward(x, w, k, dx, dw, dbias, rows, d_in, G, ones);
}

}  // namespace fast

}  // namespace opbench::cpu
