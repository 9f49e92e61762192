// cpu.plain of the scan family (contract in scan_plain.hpp): scalar loops, one thread.
#include "kernels/cpu/scan_plain.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/scan_layers_widened.hpp"
#include "kernels/cpu/scan_projection.hpp"
#include "kernels/cpu/storage.hpp"

namespace opbench::cpu::plain {
namespace {

float sigmoid(float x) {
  return 1.0f / (1.0f + std::exp(-x));
}
// softplus(x) = log(1 + e^x), without overflow for large x.
float softplus(float x) {
  return std::max(x, 0.0f) + std::log1p(std::exp(-std::abs(x)));
}
// g and log g of the minGRU paper's log-space version (reference/scan.hpp, min_rnn_g).
float g(float x) {
  return x >= 0.0f ? x + 0.5f : sigmoid(x);
}
float log_g(float x) {
  return x >= 0.0f ? std::log(x + 0.5f) : -softplus(-x);
}

}  // namespace

namespace {

// The scans over float, bf16_t or f16_t storage: loads widen exactly, the carried state stays in
// float (as float-only code carries it in h), each output is rounded once into T. For float the
// operations and their order are those of float-only code, so its results are unchanged.

template <class T>
void linear_scan_in(const T* a, const T* b, const T* h0, T* h, std::int64_t batch, std::int64_t T_,
                    std::int64_t D) {
  std::vector<float> state(static_cast<std::size_t>(D));
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t d = 0; d < D; ++d) state[d] = widen(h0[n * D + d]);
    for (std::int64_t t = 0; t < T_; ++t) {
      const std::int64_t row = (n * T_ + t) * D;
      for (std::int64_t d = 0; d < D; ++d) {
        state[d] = widen(a[row + d]) * state[d] + widen(b[row + d]);
        h[row + d] = narrow<T>(state[d]);
      }
    }
  }
}

template <class T>
void linear_scan_backward_in(const T* a, const T* h0, const T* h, const T* dh, T* da, T* db, T* dh0,
                             std::int64_t batch, std::int64_t T_, std::int64_t D) {
  std::vector<float> delta(static_cast<std::size_t>(D));  // delta_{t+1}, then delta_t
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t t = T_ - 1; t >= 0; --t) {
      const std::int64_t row = (n * T_ + t) * D;
      const T* h_prev = t > 0 ? h + row - D : h0 + n * D;
      for (std::int64_t d = 0; d < D; ++d) {
        // delta_t = g_t + a_{t+1} delta_{t+1}; db holds delta.
        const float carried = t + 1 < T_ ? widen(a[row + D + d]) * delta[d] : 0.0f;
        delta[d] = widen(dh[row + d]) + carried;
        db[row + d] = narrow<T>(delta[d]);
        da[row + d] = narrow<T>(delta[d] * widen(h_prev[d]));
      }
    }
    const std::int64_t first = n * T_ * D;
    for (std::int64_t d = 0; d < D; ++d) dh0[n * D + d] = narrow<T>(widen(a[first + d]) * delta[d]);
  }
}

template <class T>
void log_scan_in(const T* log_a, const T* log_b, const T* log_h0, T* log_h, std::int64_t batch,
                 std::int64_t T_, std::int64_t D) {
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t d = 0; d < D; ++d) {
      float a_star = 0.0f;                 // sum of log a so far
      float m = widen(log_h0[n * D + d]);  // running maximum of the log-sum-exp terms
      float s = 1.0f;                      // sum of exp(term - m)
      for (std::int64_t t = 0; t < T_; ++t) {
        const std::int64_t i = (n * T_ + t) * D + d;
        a_star += widen(log_a[i]);
        const float term = widen(log_b[i]) - a_star;
        if (term > m) {
          s = s * std::exp(m - term) + 1.0f;  // m = -inf (the empty sum): s * 0 + 1
          m = term;
        } else {
          // Equal maxima add exp(0) = 1 without term - m, which for -inf and -inf (b = 0 on the
          // empty sum: h0 = 0 and every b so far 0) or +inf and +inf would be NaN. A -inf term
          // below m adds exp(-inf) = 0; a NaN term or m makes s NaN, and it stays.
          s += std::exp(term == m ? 0.0f : term - m);
        }
        log_h[i] = narrow<T>(a_star + m + std::log(s));
      }
    }
  }
}

}  // namespace

#define OPBENCH_SCANS(T)                                                                       \
  void linear_scan(const T* a, const T* b, const T* h0, T* h, std::int64_t batch,              \
                   std::int64_t steps, std::int64_t D) {                                       \
    linear_scan_in(a, b, h0, h, batch, steps, D);                                              \
  }                                                                                            \
  void linear_scan_backward(const T* a, const T* h0, const T* h, const T* dh, T* da, T* db,    \
                            T* dh0, std::int64_t batch, std::int64_t steps, std::int64_t D) {  \
    linear_scan_backward_in(a, h0, h, dh, da, db, dh0, batch, steps, D);                       \
  }                                                                                            \
  void log_scan(const T* log_a, const T* log_b, const T* log_h0, T* log_h, std::int64_t batch, \
                std::int64_t steps, std::int64_t D) {                                          \
    log_scan_in(log_a, log_b, log_h0, log_h, batch, steps, D);                                 \
  }
OPBENCH_SCANS(float)
OPBENCH_SCANS(bf16_t)
OPBENCH_SCANS(f16_t)
#undef OPBENCH_SCANS

namespace {

// The minimal layers after their projection k[batch*T, G*D]: gate values a, b of the linear
// recurrence (plain form) or their logarithms (log form), then the scan. `gates` writes, for one
// row of k, a (or log a) and b (or log b) of the D channels.
template <class Gates>
void min_layer(const float* x, const float* w, const float* bias, const float* h0, float* h,
               std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D, int G,
               ScanForm form, Gates gates) {
  const std::int64_t rows = batch * T;
  float* k = scan_workspace(0, rows * G * D);
  project(x, w, bias, k, rows, d_in, G * D);
  float* av = scan_workspace(1, rows * D);
  float* bv = scan_workspace(2, rows * D);
  for (std::int64_t r = 0; r < rows; ++r) gates(k + r * G * D, av + r * D, bv + r * D, form);
  if (form == ScanForm::plain) {
    linear_scan(av, bv, h0, h, batch, T, D);
    return;
  }
  float* log_h0 = scan_workspace(3, batch * D);
  for (std::int64_t i = 0; i < batch * D; ++i) log_h0[i] = std::log(h0[i]);
  log_scan(av, bv, log_h0, h, batch, T, D);
  for (std::int64_t i = 0; i < rows * D; ++i) h[i] = std::exp(h[i]);
}

}  // namespace

void mingru(const float* x, const float* w, const float* bias, const float* h0, float* h,
            std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D, ScanForm form) {
  min_layer(x, w, bias, h0, h, batch, T, d_in, D, 2, form,
            [D](const float* k, float* a, float* b, ScanForm f) {
              for (std::int64_t d = 0; d < D; ++d) {
                const float kz = k[d], kh = k[D + d];
                if (f == ScanForm::plain) {
                  const float z = sigmoid(kz);
                  a[d] = 1.0f - z;
                  b[d] = z * g(kh);
                } else {
                  a[d] = -softplus(kz);               // log(1 - z)
                  b[d] = -softplus(-kz) + log_g(kh);  // log z + log g(k_h)
                }
              }
            });
}

void minlstm(const float* x, const float* w, const float* bias, const float* h0, float* h,
             std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D, ScanForm form) {
  min_layer(x, w, bias, h0, h, batch, T, d_in, D, 3, form,
            [D](const float* k, float* a, float* b, ScanForm f) {
              for (std::int64_t d = 0; d < D; ++d) {
                const float kf = k[d], ki = k[D + d], kh = k[2 * D + d];
                if (f == ScanForm::plain) {
                  const float fg = sigmoid(kf), ig = sigmoid(ki);
                  a[d] = fg / (fg + ig);
                  b[d] = ig / (fg + ig) * g(kh);
                } else {
                  // log(i / f) = softplus(-k_f) - softplus(-k_i); f' = 1 / (1 + i/f).
                  const float diff = softplus(-kf) - softplus(-ki);
                  a[d] = -softplus(diff);
                  b[d] = -softplus(-diff) + log_g(kh);
                }
              }
            });
}

void gru(const float* x, const float* w, const float* u, const float* bias, const float* h0,
         float* h, std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D) {
  const std::int64_t G = 3 * D;
  float* kx = scan_workspace(0, batch * T * G);
  project(x, w, bias, kx, batch * T, d_in, G);
  float* kh = scan_workspace(1, G);
  float* rh = scan_workspace(2, D);
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t t = 0; t < T; ++t) {
      const float* prev = t > 0 ? h + (n * T + t - 1) * D : h0 + n * D;
      const float* k = kx + (n * T + t) * G;
      std::fill(kh, kh + G, 0.0f);
      for (std::int64_t i = 0; i < D; ++i) {
        for (std::int64_t j = 0; j < 2 * D; ++j) kh[j] += prev[i] * u[i * G + j];
      }
      for (std::int64_t j = 0; j < D; ++j) rh[j] = sigmoid(k[D + j] + kh[D + j]) * prev[j];
      for (std::int64_t i = 0; i < D; ++i) {
        for (std::int64_t j = 0; j < D; ++j) kh[2 * D + j] += rh[i] * u[i * G + 2 * D + j];
      }
      float* cur = h + (n * T + t) * D;
      for (std::int64_t j = 0; j < D; ++j) {
        const float z = sigmoid(k[j] + kh[j]);
        cur[j] = (1.0f - z) * prev[j] + z * std::tanh(k[2 * D + j] + kh[2 * D + j]);
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
  float* k = scan_workspace(1, G);
  float* c = scan_workspace(2, D);
  for (std::int64_t n = 0; n < batch; ++n) {
    std::copy(c0 + n * D, c0 + (n + 1) * D, c);
    for (std::int64_t t = 0; t < T; ++t) {
      const float* prev = t > 0 ? h + (n * T + t - 1) * D : h0 + n * D;
      std::copy(kx + (n * T + t) * G, kx + (n * T + t + 1) * G, k);
      for (std::int64_t i = 0; i < D; ++i) {
        for (std::int64_t j = 0; j < G; ++j) k[j] += prev[i] * u[i * G + j];
      }
      float* cur = h + (n * T + t) * D;
      for (std::int64_t d = 0; d < D; ++d) {
        c[d] = sigmoid(k[D + d]) * c[d] + sigmoid(k[d]) * std::tanh(k[2 * D + d]);
        cur[d] = sigmoid(k[3 * D + d]) * std::tanh(c[d]);
      }
    }
  }
}

// --- the layers in bfloat16 and float16 storage ------------------------------------------------
// Through the float32 layers above (scan_layers_widened.hpp), converting in scalar loops.

namespace {

struct ScalarConv {
  template <class T>
  static void widen(const T* src, float* dst, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) dst[i] = cpu::widen(src[i]);
  }
  template <class T>
  static void narrow(const float* src, T* dst, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) dst[i] = cpu::narrow<T>(src[i]);
  }
};

}  // namespace

OPBENCH_WIDENED_LAYERS(bf16_t, ScalarConv)
OPBENCH_WIDENED_LAYERS(f16_t, ScalarConv)

}  // namespace opbench::cpu::plain
