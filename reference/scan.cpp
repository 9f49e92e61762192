// Float64 references of the scan family (contract and equations in scan.hpp). Plain sequential
// loops over t, no SIMD, no threads.
#include "reference/scan.hpp"

#include <cmath>
#include <vector>

#include "reference/scalar_math.hpp"

namespace opbench::ref {
namespace {

// k[j] = bias[j] + sum_i x[i] * w[i, j] for j < cols: one row of x W + bias.
void project(const double* x, const double* w, const double* bias, double* k, std::int64_t d_in,
             std::int64_t cols) {
  for (std::int64_t j = 0; j < cols; ++j) k[j] = bias ? bias[j] : 0.0;
  for (std::int64_t i = 0; i < d_in; ++i) {
    for (std::int64_t j = 0; j < cols; ++j) k[j] += x[i] * w[i * cols + j];
  }
}

}  // namespace

// h_t = a_t h_{t-1} + b_t (Feng et al. 2024 eq. 1 form; Heinsen 2023 eq. 1).
void linear_scan(const double* a, const double* b, const double* h0, double* h, std::int64_t batch,
                 std::int64_t T, std::int64_t D) {
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t d = 0; d < D; ++d) {
      double prev = h0[n * D + d];
      for (std::int64_t t = 0; t < T; ++t) {
        const std::int64_t i = (n * T + t) * D + d;
        prev = a[i] * prev + b[i];
        h[i] = prev;
      }
    }
  }
}

// Reverse-mode of the recurrence: delta_t = g_t + a_{t+1} delta_{t+1}.
void linear_scan_backward(const double* a, const double* h0, const double* h, const double* dh,
                          double* da, double* db, double* dh0, std::int64_t batch, std::int64_t T,
                          std::int64_t D) {
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t d = 0; d < D; ++d) {
      double delta = 0.0;
      double a_next = 0.0;  // a_{t+1}; there is none after the last step
      for (std::int64_t t = T - 1; t >= 0; --t) {
        const std::int64_t i = (n * T + t) * D + d;
        delta = dh[i] + a_next * delta;
        const double h_prev = t > 0 ? h[i - D] : h0[n * D + d];
        db[i] = delta;
        da[i] = delta * h_prev;
        a_next = a[i];
      }
      dh0[n * D + d] = a_next * delta;  // a_0 * delta_0
    }
  }
}

// log h_t = log(a_t h_{t-1} + b_t), evaluated in linear space (Heinsen 2023, eq. 2 is the
// log-space algorithm for the same value).
void log_scan(const double* log_a, const double* log_b, const double* log_h0, double* log_h,
              std::int64_t batch, std::int64_t T, std::int64_t D) {
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t d = 0; d < D; ++d) {
      double prev = std::exp(log_h0[n * D + d]);
      for (std::int64_t t = 0; t < T; ++t) {
        const std::int64_t i = (n * T + t) * D + d;
        prev = std::exp(log_a[i]) * prev + std::exp(log_b[i]);
        log_h[i] = std::log(prev);
      }
    }
  }
}

// g(x) = x + 0.5 (x >= 0), sigmoid(x) (x < 0): Feng et al. 2024, appendix (log-space version).
double min_rnn_g(double x) {
  return x >= 0 ? x + 0.5 : sigmoid(x);
}

// minGRU, Feng et al. 2024 §3.1.2: h_t = (1 - z_t) h_{t-1} + z_t g(k_h).
void mingru(const double* x, const double* w, const double* bias, const double* h0, double* h,
            std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D) {
  std::vector<double> k(static_cast<std::size_t>(2 * D));
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t t = 0; t < T; ++t) {
      project(x + (n * T + t) * d_in, w, bias, k.data(), d_in, 2 * D);
      const double* prev = t > 0 ? h + (n * T + t - 1) * D : h0 + n * D;
      double* cur = h + (n * T + t) * D;
      for (std::int64_t d = 0; d < D; ++d) {
        const double z = sigmoid(k[d]);
        cur[d] = (1.0 - z) * prev[d] + z * min_rnn_g(k[D + d]);
      }
    }
  }
}

// minLSTM, Feng et al. 2024 §3.2.3: normalized gates f' = f / (f + i), i' = i / (f + i).
void minlstm(const double* x, const double* w, const double* bias, const double* h0, double* h,
             std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D) {
  std::vector<double> k(static_cast<std::size_t>(3 * D));
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t t = 0; t < T; ++t) {
      project(x + (n * T + t) * d_in, w, bias, k.data(), d_in, 3 * D);
      const double* prev = t > 0 ? h + (n * T + t - 1) * D : h0 + n * D;
      double* cur = h + (n * T + t) * D;
      for (std::int64_t d = 0; d < D; ++d) {
        const double f = sigmoid(k[d]);
        const double i = sigmoid(k[D + d]);
        cur[d] = f / (f + i) * prev[d] + i / (f + i) * min_rnn_g(k[2 * D + d]);
      }
    }
  }
}

// GRU, Feng et al. 2024 §2.1.2 (Cho et al. 2014): reset before the recurrent product.
void gru(const double* x, const double* w, const double* u, const double* bias, const double* h0,
         double* h, std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D) {
  const std::int64_t G = 3 * D;
  std::vector<double> kx(static_cast<std::size_t>(G)), kz(static_cast<std::size_t>(D)),
      kr(static_cast<std::size_t>(D)), kn(static_cast<std::size_t>(D)),
      z(static_cast<std::size_t>(D)), rh(static_cast<std::size_t>(D));
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t t = 0; t < T; ++t) {
      project(x + (n * T + t) * d_in, w, bias, kx.data(), d_in, G);
      const double* prev = t > 0 ? h + (n * T + t - 1) * D : h0 + n * D;
      double* cur = h + (n * T + t) * D;
      // z and r gates: x W + b + h_{t-1} U over the first 2D columns of U.
      for (std::int64_t j = 0; j < D; ++j) {
        kz[j] = kx[j];
        kr[j] = kx[D + j];
      }
      for (std::int64_t i = 0; i < D; ++i) {
        for (std::int64_t j = 0; j < D; ++j) {
          kz[j] += prev[i] * u[i * G + j];
          kr[j] += prev[i] * u[i * G + D + j];
        }
      }
      for (std::int64_t j = 0; j < D; ++j) {
        z[j] = sigmoid(kz[j]);
        rh[j] = sigmoid(kr[j]) * prev[j];
        kn[j] = kx[2 * D + j];
      }
      for (std::int64_t i = 0; i < D; ++i) {
        for (std::int64_t j = 0; j < D; ++j) kn[j] += rh[i] * u[i * G + 2 * D + j];
      }
      for (std::int64_t j = 0; j < D; ++j)
        cur[j] = (1.0 - z[j]) * prev[j] + z[j] * std::tanh(kn[j]);
    }
  }
}

// LSTM with a forget gate (Hochreiter & Schmidhuber 1997; Feng et al. 2024 §2.1.1).
void lstm(const double* x, const double* w, const double* u, const double* bias, const double* h0,
          const double* c0, double* h, std::int64_t batch, std::int64_t T, std::int64_t d_in,
          std::int64_t D) {
  const std::int64_t G = 4 * D;
  std::vector<double> k(static_cast<std::size_t>(G)), c(static_cast<std::size_t>(D));
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t d = 0; d < D; ++d) c[d] = c0[n * D + d];
    for (std::int64_t t = 0; t < T; ++t) {
      project(x + (n * T + t) * d_in, w, bias, k.data(), d_in, G);
      const double* prev = t > 0 ? h + (n * T + t - 1) * D : h0 + n * D;
      for (std::int64_t i = 0; i < D; ++i) {
        for (std::int64_t j = 0; j < G; ++j) k[j] += prev[i] * u[i * G + j];
      }
      double* cur = h + (n * T + t) * D;
      for (std::int64_t d = 0; d < D; ++d) {
        c[d] = sigmoid(k[D + d]) * c[d] + sigmoid(k[d]) * std::tanh(k[2 * D + d]);
        cur[d] = sigmoid(k[3 * D + d]) * std::tanh(c[d]);
      }
    }
  }
}

}  // namespace opbench::ref
