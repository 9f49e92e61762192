// cpu.plain training steps of the scan family (contract in scan_train.hpp): scalar float32 loops,
// one thread, every sum accumulated left to right in float32.
#include "kernels/cpu/scan_train.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/scan_projection.hpp"
#include "kernels/cpu/scan_train_plain_detail.hpp"

namespace opbench::cpu::plain {
using namespace train_detail;

void mingru_train(const float* x, const float* w, const float* bias, const float* h0,
                  const float* dh, float* h, float* dx, float* dw, float* dbias, float* dh0,
                  std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D) {
  const std::int64_t rows = batch * T, G = 2 * D;
  float* k = scan_workspace(0, rows * G);  // the projection, then (in place) its gradient dk
  project_rows(x, w, bias, k, rows, d_in, G);
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int64_t r = n * T + t;
      const float* prev = t > 0 ? h + (r - 1) * D : h0 + n * D;
      for (std::int64_t d = 0; d < D; ++d) {
        const float z = sigmoid(k[r * G + d]);
        h[r * D + d] = (1.0f - z) * prev[d] + z * g(k[r * G + D + d]);
      }
    }
  }
  float* delta = scan_workspace(1, D);
  float* a_next = scan_workspace(2, D);
  for (std::int64_t n = 0; n < batch; ++n) {
    std::fill(delta, delta + D, 0.0f);
    std::fill(a_next, a_next + D, 0.0f);
    for (std::int64_t t = T - 1; t >= 0; --t) {
      const std::int64_t r = n * T + t;
      const float* prev = t > 0 ? h + (r - 1) * D : h0 + n * D;
      for (std::int64_t d = 0; d < D; ++d) {
        // delta_t = dh_t + a_{t+1} delta_{t+1}; dk_z = delta (c - h_{t-1}) z (1 - z),
        // dk_h = delta z g'(k_h), written over k_z and k_h of this row.
        delta[d] = dh[r * D + d] + a_next[d] * delta[d];
        const float kh = k[r * G + D + d];
        const float z = sigmoid(k[r * G + d]), c = g(kh);
        k[r * G + d] = delta[d] * (c - prev[d]) * z * (1.0f - z);
        k[r * G + D + d] = delta[d] * z * g_prime(kh);
        a_next[d] = 1.0f - z;
      }
    }
    for (std::int64_t d = 0; d < D; ++d) dh0[n * D + d] = a_next[d] * delta[d];
  }
  project_rows_backward(x, w, k, dx, dw, dbias, rows, d_in, G);
}

void minlstm_train(const float* x, const float* w, const float* bias, const float* h0,
                   const float* dh, float* h, float* dx, float* dw, float* dbias, float* dh0,
                   std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D) {
  const std::int64_t rows = batch * T, G = 3 * D;
  float* k = scan_workspace(0, rows * G);  // the projection, then (in place) its gradient dk
  project_rows(x, w, bias, k, rows, d_in, G);
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int64_t r = n * T + t;
      const float* prev = t > 0 ? h + (r - 1) * D : h0 + n * D;
      for (std::int64_t d = 0; d < D; ++d) {
        const float f = sigmoid(k[r * G + d]), i = sigmoid(k[r * G + D + d]);
        h[r * D + d] = f / (f + i) * prev[d] + i / (f + i) * g(k[r * G + 2 * D + d]);
      }
    }
  }
  float* delta = scan_workspace(1, D);
  float* a_next = scan_workspace(2, D);
  for (std::int64_t n = 0; n < batch; ++n) {
    std::fill(delta, delta + D, 0.0f);
    std::fill(a_next, a_next + D, 0.0f);
    for (std::int64_t t = T - 1; t >= 0; --t) {
      const std::int64_t r = n * T + t;
      const float* prev = t > 0 ? h + (r - 1) * D : h0 + n * D;
      for (std::int64_t d = 0; d < D; ++d) {
        // delta_t = dh_t + a_{t+1} delta_{t+1}; q = delta (h_{t-1} - c) a i', dk_f = q (1 - f),
        // dk_i = -q (1 - i), dk_h = delta i' g'(k_h), written over this row's k.
        delta[d] = dh[r * D + d] + a_next[d] * delta[d];
        const float kh = k[r * G + 2 * D + d];
        const float f = sigmoid(k[r * G + d]), i = sigmoid(k[r * G + D + d]);
        const float a = f / (f + i), ip = i / (f + i);
        const float q = delta[d] * (prev[d] - g(kh)) * a * ip;
        k[r * G + d] = q * (1.0f - f);
        k[r * G + D + d] = -q * (1.0f - i);
        k[r * G + 2 * D + d] = delta[d] * ip * g_prime(kh);
        a_next[d] = a;
      }
    }
    for (std::int64_t d = 0; d < D; ++d) dh0[n * D + d] = a_next[d] * delta[d];
  }
  project_rows_backward(x, w, k, dx, dw, dbias, rows, d_in, G);
}

void gru_train(const float* x, const float* w, const float* u, const float* bias, const float* h0,
               const float* dh, float* h, float* dx, float* dw, float* du, float* dbias, float* dh0,
               std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D) {
  const std::int64_t rows = batch * T, G = 3 * D;
  float* k = scan_workspace(0, rows * G);                     // x W + bias, then (in place) dk
  float* gates = scan_workspace(1, rows * G);                 // z, r, n of each row
  float* vec = scan_workspace(2, 5 * D);                      // per-step vectors
  float *acc = vec, *rh = vec + 3 * D, *carry = vec + 4 * D;  // acc: h_{t-1} U (3D)
  project_rows(x, w, bias, k, rows, d_in, G);
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int64_t row = b * T + t;
      const float* prev = t > 0 ? h + (row - 1) * D : h0 + b * D;
      const float* kr = k + row * G;
      float* gr = gates + row * G;
      std::fill(acc, acc + G, 0.0f);
      for (std::int64_t i = 0; i < D; ++i) {
        for (std::int64_t j = 0; j < 2 * D; ++j) acc[j] += prev[i] * u[i * G + j];
      }
      for (std::int64_t j = 0; j < D; ++j) {
        gr[j] = sigmoid(kr[j] + acc[j]);              // z
        gr[D + j] = sigmoid(kr[D + j] + acc[D + j]);  // r
        rh[j] = gr[D + j] * prev[j];
      }
      for (std::int64_t i = 0; i < D; ++i) {
        for (std::int64_t j = 0; j < D; ++j) acc[2 * D + j] += rh[i] * u[i * G + 2 * D + j];
      }
      for (std::int64_t j = 0; j < D; ++j) {
        gr[2 * D + j] = std::tanh(kr[2 * D + j] + acc[2 * D + j]);  // n
        h[row * D + j] = (1.0f - gr[j]) * prev[j] + gr[j] * gr[2 * D + j];
      }
    }
  }
  std::fill(du, du + D * G, 0.0f);
  float* next = acc;  // dL/dh_{t-1} being summed (D)
  float* drh = acc + D;
  for (std::int64_t b = 0; b < batch; ++b) {
    std::fill(carry, carry + D, 0.0f);
    for (std::int64_t t = T - 1; t >= 0; --t) {
      const std::int64_t row = b * T + t;
      const float* prev = t > 0 ? h + (row - 1) * D : h0 + b * D;
      const float* gr = gates + row * G;
      float* dk = k + row * G;
      for (std::int64_t j = 0; j < D; ++j) {
        const float z = gr[j], nn = gr[2 * D + j];
        const float delta = dh[row * D + j] + carry[j];
        dk[j] = delta * (nn - prev[j]) * z * (1.0f - z);  // da_z
        dk[2 * D + j] = delta * z * (1.0f - nn * nn);     // da_n
        next[j] = delta * (1.0f - z);
      }
      for (std::int64_t i = 0; i < D; ++i) {
        float s = 0.0f;
        for (std::int64_t j = 0; j < D; ++j) s += dk[2 * D + j] * u[i * G + 2 * D + j];
        drh[i] = s;
        const float rh_i = gr[D + i] * prev[i];
        for (std::int64_t j = 0; j < D; ++j) du[i * G + 2 * D + j] += rh_i * dk[2 * D + j];
      }
      for (std::int64_t j = 0; j < D; ++j) {
        const float r = gr[D + j];
        dk[D + j] = drh[j] * prev[j] * r * (1.0f - r);  // da_r
        next[j] += drh[j] * r;
      }
      for (std::int64_t i = 0; i < D; ++i) {
        float s = 0.0f;
        for (std::int64_t j = 0; j < 2 * D; ++j) s += dk[j] * u[i * G + j];
        next[i] += s;
        for (std::int64_t j = 0; j < 2 * D; ++j) du[i * G + j] += prev[i] * dk[j];
      }
      std::copy(next, next + D, carry);
    }
    std::copy(carry, carry + D, dh0 + b * D);
  }
  project_rows_backward(x, w, k, dx, dw, dbias, rows, d_in, G);
}

}  // namespace opbench::cpu::plain
