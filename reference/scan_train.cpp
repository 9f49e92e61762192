// Float64 references of the scan family's training steps (contract and equations in
// scan_train.hpp). Plain sequential loops, no SIMD, no threads.
#include "reference/scan_train.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "reference/scalar_math.hpp"
#include "reference/scan.hpp"
#include "reference/scan_train_projection.hpp"

namespace opbench::ref {
using namespace train_detail;

// minGRU training step: Feng et al. 2024 §3.1.2 (h_t = (1 - z_t) h_{t-1} + z_t g(k_h)), its
// reverse mode by hand (scan_train.hpp).
void mingru_train(const double* x, const double* w, const double* bias, const double* h0,
                  const double* dh, double* h, double* dx, double* dw, double* dbias, double* dh0,
                  std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D,
                  MinGruTape* tape) {
  const std::int64_t rows = batch * T, G = 2 * D;
  MinGruTape own;
  MinGruTape& tp = tape ? *tape : own;
  tp.k.assign(sz(rows * G), 0.0);
  tp.delta.assign(sz(rows * D), 0.0);
  tp.dk.assign(sz(rows * G), 0.0);
  double* k = tp.k.data();
  project_rows(x, w, bias, k, rows, d_in, G);
  // Forward: h_t = (1 - z_t) h_{t-1} + z_t g(k_h).
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int64_t r = n * T + t;
      const double* prev = t > 0 ? h + (r - 1) * D : h0 + n * D;
      for (std::int64_t d = 0; d < D; ++d) {
        const double z = sigmoid(k[r * G + d]);
        h[r * D + d] = (1.0 - z) * prev[d] + z * min_rnn_g(k[r * G + D + d]);
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
        const double kz = k[r * G + d], kh = k[r * G + D + d];
        const double z = sigmoid(kz), c = min_rnn_g(kh);
        const double h_prev = t > 0 ? h[(r - 1) * D + d] : h0[n * D + d];
        tp.dk[sz(r * G + d)] = delta * (c - h_prev) * z * (1.0 - z);
        tp.dk[sz(r * G + D + d)] = delta * z * min_rnn_g_prime(kh);
        a_next = 1.0 - z;
      }
      dh0[n * D + d] = a_next * delta;  // a_0 delta_0
    }
  }
  project_rows_backward(x, w, tp.dk.data(), dx, dw, dbias, rows, d_in, G);
}

// GRU training step: Feng et al. 2024 §2.1.2 (Cho et al. 2014), backpropagation through time
// (scan_train.hpp).
void gru_train(const double* x, const double* w, const double* u, const double* bias,
               const double* h0, const double* dh, double* h, double* dx, double* dw, double* du,
               double* dbias, double* dh0, std::int64_t batch, std::int64_t T, std::int64_t d_in,
               std::int64_t D, GruTape* tape) {
  const std::int64_t rows = batch * T, G = 3 * D;
  GruTape own;
  GruTape& tp = tape ? *tape : own;
  tp.z.assign(sz(rows * D), 0.0);
  tp.r.assign(sz(rows * D), 0.0);
  tp.n.assign(sz(rows * D), 0.0);
  tp.delta.assign(sz(rows * D), 0.0);
  tp.dk.assign(sz(rows * G), 0.0);
  tp.drh.assign(sz(rows * D), 0.0);
  std::vector<double> kx(sz(rows * G)), az(sz(D)), ar(sz(D)), an(sz(D)), rh(sz(D));
  project_rows(x, w, bias, kx.data(), rows, d_in, G);
  // Forward, as ref::gru, keeping z, r and n.
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int64_t row = b * T + t;
      const double* prev = t > 0 ? h + (row - 1) * D : h0 + b * D;
      const double* k = kx.data() + row * G;
      for (std::int64_t j = 0; j < D; ++j) {
        az[sz(j)] = k[j];
        ar[sz(j)] = k[D + j];
        an[sz(j)] = k[2 * D + j];
      }
      for (std::int64_t i = 0; i < D; ++i) {
        for (std::int64_t j = 0; j < D; ++j) {
          az[sz(j)] += prev[i] * u[i * G + j];
          ar[sz(j)] += prev[i] * u[i * G + D + j];
        }
      }
      for (std::int64_t j = 0; j < D; ++j) {
        tp.z[sz(row * D + j)] = sigmoid(az[sz(j)]);
        tp.r[sz(row * D + j)] = sigmoid(ar[sz(j)]);
        rh[sz(j)] = tp.r[sz(row * D + j)] * prev[j];
      }
      for (std::int64_t i = 0; i < D; ++i) {
        for (std::int64_t j = 0; j < D; ++j) an[sz(j)] += rh[sz(i)] * u[i * G + 2 * D + j];
      }
      for (std::int64_t j = 0; j < D; ++j) {
        const double z = tp.z[sz(row * D + j)], nn = std::tanh(an[sz(j)]);
        tp.n[sz(row * D + j)] = nn;
        h[row * D + j] = (1.0 - z) * prev[j] + z * nn;
      }
    }
  }
  // Backward through time.
  std::fill(du, du + D * G, 0.0);
  std::vector<double> carry(sz(D)), next(sz(D));
  for (std::int64_t b = 0; b < batch; ++b) {
    std::fill(carry.begin(), carry.end(), 0.0);  // dL/dh_{T-1} through a step after the last
    for (std::int64_t t = T - 1; t >= 0; --t) {
      const std::int64_t row = b * T + t;
      const double* prev = t > 0 ? h + (row - 1) * D : h0 + b * D;
      const double* z = tp.z.data() + row * D;
      const double* r = tp.r.data() + row * D;
      const double* nn = tp.n.data() + row * D;
      double* dk = tp.dk.data() + row * G;
      double* drh = tp.drh.data() + row * D;
      for (std::int64_t j = 0; j < D; ++j) {
        const double delta = dh[row * D + j] + carry[sz(j)];
        tp.delta[sz(row * D + j)] = delta;
        dk[j] = delta * (nn[j] - prev[j]) * z[j] * (1.0 - z[j]);  // da_z
        dk[2 * D + j] = delta * z[j] * (1.0 - nn[j] * nn[j]);     // da_n
        next[sz(j)] = delta * (1.0 - z[j]);
      }
      for (std::int64_t i = 0; i < D; ++i) {
        drh[i] = dot(dk + 2 * D, u + i * G + 2 * D, D);  // (da_n U_n^T)_i
        const double rh_i = r[i] * prev[i];
        for (std::int64_t j = 0; j < D; ++j) du[i * G + 2 * D + j] += rh_i * dk[2 * D + j];
      }
      for (std::int64_t j = 0; j < D; ++j) {
        dk[D + j] = drh[j] * prev[j] * r[j] * (1.0 - r[j]);  // da_r
        next[sz(j)] += drh[j] * r[j];
      }
      for (std::int64_t i = 0; i < D; ++i) {
        next[sz(i)] += dot(dk, u + i * G, 2 * D);  // ([da_z | da_r] U_zr^T)_i
        for (std::int64_t j = 0; j < 2 * D; ++j) du[i * G + j] += prev[i] * dk[j];
      }
      std::swap(carry, next);
    }
    for (std::int64_t j = 0; j < D; ++j) dh0[b * D + j] = carry[sz(j)];
  }
  project_rows_backward(x, w, tp.dk.data(), dx, dw, dbias, rows, d_in, G);
}

}  // namespace opbench::ref
