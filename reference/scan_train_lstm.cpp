// Float64 references of the minLSTM and LSTM training steps (contract and equations in
// scan_train.hpp). Plain sequential loops, no SIMD, no threads.
#include <algorithm>
#include <cmath>
#include <vector>

#include "reference/scalar_math.hpp"
#include "reference/scan.hpp"
#include "reference/scan_train.hpp"
#include "reference/scan_train_projection.hpp"

namespace opbench::ref {
using namespace train_detail;

// minLSTM training step: Feng et al. 2024 §3.2.3 (h_t = f'_t h_{t-1} + i'_t g(k_h), f' + i' = 1),
// its reverse mode by hand (scan_train.hpp).
void minlstm_train(const double* x, const double* w, const double* bias, const double* h0,
                   const double* dh, double* h, double* dx, double* dw, double* dbias, double* dh0,
                   std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D,
                   MinLstmTape* tape) {
  const std::int64_t rows = batch * T, G = 3 * D;
  MinLstmTape own;
  MinLstmTape& tp = tape ? *tape : own;
  tp.k.assign(sz(rows * G), 0.0);
  tp.delta.assign(sz(rows * D), 0.0);
  tp.dk.assign(sz(rows * G), 0.0);
  const double* k = tp.k.data();
  project_rows(x, w, bias, tp.k.data(), rows, d_in, G);
  // Forward, as ref::minlstm: h_t = f / (f + i) h_{t-1} + i / (f + i) g(k_h).
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int64_t r = n * T + t;
      const double* prev = t > 0 ? h + (r - 1) * D : h0 + n * D;
      for (std::int64_t d = 0; d < D; ++d) {
        const double f = sigmoid(k[r * G + d]), i = sigmoid(k[r * G + D + d]);
        h[r * D + d] = f / (f + i) * prev[d] + i / (f + i) * min_rnn_g(k[r * G + 2 * D + d]);
      }
    }
  }
  // Backward: the reverse scan delta_t = dh_t + a_{t+1} delta_{t+1}, then the gates' gradients.
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t d = 0; d < D; ++d) {
      double delta = 0.0, a_next = 0.0;  // no step after the last
      for (std::int64_t t = T - 1; t >= 0; --t) {
        const std::int64_t r = n * T + t;
        delta = dh[r * D + d] + a_next * delta;
        tp.delta[sz(r * D + d)] = delta;
        const double kh = k[r * G + 2 * D + d];
        const double f = sigmoid(k[r * G + d]), i = sigmoid(k[r * G + D + d]);
        const double a = f / (f + i), ip = i / (f + i), c = min_rnn_g(kh);
        const double h_prev = t > 0 ? h[(r - 1) * D + d] : h0[n * D + d];
        const double q = delta * (h_prev - c) * a * ip;  // dL/dk_f / (1 - f) = -dL/dk_i / (1 - i)
        tp.dk[sz(r * G + d)] = q * (1.0 - f);
        tp.dk[sz(r * G + D + d)] = -q * (1.0 - i);
        tp.dk[sz(r * G + 2 * D + d)] = delta * ip * min_rnn_g_prime(kh);
        a_next = a;
      }
      dh0[n * D + d] = a_next * delta;  // a_0 delta_0
    }
  }
  project_rows_backward(x, w, tp.dk.data(), dx, dw, dbias, rows, d_in, G);
}

// LSTM training step: Hochreiter & Schmidhuber 1997 with a forget gate (Feng et al. 2024
// §2.1.1), backpropagation through time (scan_train.hpp).
void lstm_train(const double* x, const double* w, const double* u, const double* bias,
                const double* h0, const double* c0, const double* dh, double* h, double* dx,
                double* dw, double* du, double* dbias, double* dh0, double* dc0, std::int64_t batch,
                std::int64_t T, std::int64_t d_in, std::int64_t D, LstmTape* tape) {
  const std::int64_t rows = batch * T, G = 4 * D;
  LstmTape own;
  LstmTape& tp = tape ? *tape : own;
  tp.gates.assign(sz(rows * G), 0.0);
  tp.c.assign(sz(rows * D), 0.0);
  tp.delta_h.assign(sz(rows * D), 0.0);
  tp.delta_c.assign(sz(rows * D), 0.0);
  tp.dk.assign(sz(rows * G), 0.0);
  std::vector<double> k(sz(rows * G));
  project_rows(x, w, bias, k.data(), rows, d_in, G);
  // Forward, as ref::lstm, keeping the gates and c.
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int64_t row = b * T + t;
      const double* prev = t > 0 ? h + (row - 1) * D : h0 + b * D;
      const double* c_prev = t > 0 ? tp.c.data() + (row - 1) * D : c0 + b * D;
      double* kr = k.data() + row * G;
      for (std::int64_t i = 0; i < D; ++i) {
        for (std::int64_t j = 0; j < G; ++j) kr[j] += prev[i] * u[i * G + j];
      }
      double* gr = tp.gates.data() + row * G;
      for (std::int64_t d = 0; d < D; ++d) {
        gr[d] = sigmoid(kr[d]);                    // i
        gr[D + d] = sigmoid(kr[D + d]);            // f
        gr[2 * D + d] = std::tanh(kr[2 * D + d]);  // g
        gr[3 * D + d] = sigmoid(kr[3 * D + d]);    // o
        const double c = gr[D + d] * c_prev[d] + gr[d] * gr[2 * D + d];
        tp.c[sz(row * D + d)] = c;
        h[row * D + d] = gr[3 * D + d] * std::tanh(c);
      }
    }
  }
  // Backward through time: carry_h = dk_{t+1} U^T, carry_c = gamma_{t+1} f_{t+1}.
  std::fill(du, du + D * G, 0.0);
  std::vector<double> carry_h(sz(D)), carry_c(sz(D));
  for (std::int64_t b = 0; b < batch; ++b) {
    std::fill(carry_h.begin(), carry_h.end(), 0.0);  // no step after the last
    std::fill(carry_c.begin(), carry_c.end(), 0.0);
    for (std::int64_t t = T - 1; t >= 0; --t) {
      const std::int64_t row = b * T + t;
      const double* prev = t > 0 ? h + (row - 1) * D : h0 + b * D;
      const double* c_prev = t > 0 ? tp.c.data() + (row - 1) * D : c0 + b * D;
      const double* gr = tp.gates.data() + row * G;
      double* dk = tp.dk.data() + row * G;
      for (std::int64_t d = 0; d < D; ++d) {
        const double ig = gr[d], fg = gr[D + d], gg = gr[2 * D + d], og = gr[3 * D + d];
        const double tc = std::tanh(tp.c[sz(row * D + d)]);
        const double delta = dh[row * D + d] + carry_h[sz(d)];
        const double gamma = delta * og * (1.0 - tc * tc) + carry_c[sz(d)];
        tp.delta_h[sz(row * D + d)] = delta;
        tp.delta_c[sz(row * D + d)] = gamma;
        dk[d] = gamma * gg * ig * (1.0 - ig);             // dk_i
        dk[D + d] = gamma * c_prev[d] * fg * (1.0 - fg);  // dk_f
        dk[2 * D + d] = gamma * ig * (1.0 - gg * gg);     // dk_g
        dk[3 * D + d] = delta * tc * og * (1.0 - og);     // dk_o
        carry_c[sz(d)] = gamma * fg;
      }
      for (std::int64_t i = 0; i < D; ++i) {
        carry_h[sz(i)] = dot(dk, u + i * G, G);  // (dk U^T)_i
        for (std::int64_t j = 0; j < G; ++j) du[i * G + j] += prev[i] * dk[j];
      }
    }
    for (std::int64_t d = 0; d < D; ++d) {
      dh0[b * D + d] = carry_h[sz(d)];
      dc0[b * D + d] = carry_c[sz(d)];
    }
  }
  project_rows_backward(x, w, tp.dk.data(), dx, dw, dbias, rows, d_in, G);
}

}  // namespace opbench::ref
