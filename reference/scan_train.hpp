#pragma once
// Float64 references of the scan family's training steps: the forward pass of a recurrent layer
// (reference/scan.hpp) followed by its backward pass (reverse mode, backpropagation through
// time), derived by hand from the forward equations. Plain sequential loops, no SIMD, no threads.
// Tensors are row-major: x[batch, T, d_in], h and dh[batch, T, D], h0[batch, D].
//
// Paper: Feng, Tung, Ahmed, Bengio, Hajimirsadeghi 2024, "Were RNNs All We Needed?" (minGRU
// §3.1.2, whose training is the paper's "175x faster for a sequence of length 512", and minLSTM
// §3.2.3; the GRU of §2.1.2, Cho et al. 2014, and the LSTM of §2.1.1, Hochreiter & Schmidhuber
// 1997, as the sequential baselines trained by backpropagation through time).
//
// A training step with loss L and incoming gradient dh = dL/dh (the direct gradient of each h_t,
// as a layer above gives it) returns h and the gradients of L with respect to every input: dx,
// dw, dbias, dh0 (and du for the GRU and the LSTM, dc0 for the LSTM).
#include <cstdint>
#include <vector>

namespace opbench::ref {

// What a training step's float64 pass computes on the way, for callers that need it (the suite's
// agreement bounds follow these terms). Row r = n * T + t.
struct MinGruTape {
  std::vector<double> k;      // [batch * T, 2D]: x W + bias (columns z then h)
  std::vector<double> delta;  // [batch * T, D]: dL/dh_t in total (direct plus through h_{t+1})
  std::vector<double> dk;     // [batch * T, 2D]: dL/dk
};

// minGRU training step (Feng et al. 2024 §3.1.2; g of the appendix, reference/scan.hpp):
//   forward   k = x W + bias, z = sigmoid(k_z), c = g(k_h), a = 1 - z, b = z c,
//             h_t = a_t h_{t-1} + b_t                                   (Feng et al. eq. 1 form)
//   backward  delta_t = dh_t + a_{t+1} delta_{t+1}   (delta_{T-1} = dh_{T-1}: a reverse scan)
//             dz_t = delta_t (c_t - h_{t-1}),  dc_t = delta_t z_t
//             dk_z = dz z (1 - z),  dk_h = dc g'(k_h)   g'(k) = 1 (k >= 0), s (1 - s) (k < 0),
//                                                       s = sigmoid(k)
//             dx = dk W^T,  dW = x^T dk,  dbias = sum over rows of dk,  dh0 = a_0 delta_0
// W: [d_in, 2D] (columns z then h), bias: [2D]. Outputs h, dx[batch, T, d_in], dw[d_in, 2D],
// dbias[2D], dh0[batch, D]. `tape`, when given, receives the intermediate values.
void mingru_train(const double* x, const double* w, const double* bias, const double* h0,
                  const double* dh, double* h, double* dx, double* dw, double* dbias, double* dh0,
                  std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D,
                  MinGruTape* tape = nullptr);

struct GruTape {
  std::vector<double> z, r, n;  // [batch * T, D]: the gates and the candidate
  std::vector<double> delta;    // [batch * T, D]: dL/dh_t in total
  std::vector<double> dk;       // [batch * T, 3D]: dL/d(pre-activations) (z, r, n columns)
  std::vector<double> drh;      // [batch * T, D]: dL/d(r_t * h_{t-1})
};

// GRU training step (Feng et al. 2024 §2.1.2, Cho et al. 2014: reset before the recurrent
// product; forward as ref::gru), backpropagation through time:
//   forward   z = sigmoid(x W_z + h_{t-1} U_z + b_z),  r = sigmoid(x W_r + h_{t-1} U_r + b_r)
//             n = tanh(x W_n + (r h_{t-1}) U_n + b_n),  h_t = (1 - z) h_{t-1} + z n
//   backward  delta_t = dh_t + (dL/dh_t through step t+1)
//             dn = delta z,  dz = delta (n - h_{t-1})
//             da_n = dn (1 - n^2),  d(rh) = da_n U_n^T,  dr = d(rh) h_{t-1}
//             da_z = dz z (1 - z),  da_r = dr r (1 - r)
//             dL/dh_{t-1} through step t = delta (1 - z) + d(rh) r + [da_z | da_r] U_{zr}^T
//             dU_{zr} += h_{t-1}^T [da_z | da_r],  dU_n += (r h_{t-1})^T da_n
//             dx = da W^T,  dW = x^T da,  dbias = sum over rows of da,  dh0 = dL/dh_{-1}
// W: [d_in, 3D], U: [D, 3D] (columns z, r, n), bias: [3D]. Outputs h, dx, dw, du, dbias, dh0.
void gru_train(const double* x, const double* w, const double* u, const double* bias,
               const double* h0, const double* dh, double* h, double* dx, double* dw, double* du,
               double* dbias, double* dh0, std::int64_t batch, std::int64_t T, std::int64_t d_in,
               std::int64_t D, GruTape* tape = nullptr);

struct MinLstmTape {
  std::vector<double> k;      // [batch * T, 3D]: x W + bias (columns f, i, h)
  std::vector<double> delta;  // [batch * T, D]: dL/dh_t in total
  std::vector<double> dk;     // [batch * T, 3D]: dL/dk
};

// minLSTM training step (Feng et al. 2024 §3.2.3, length-independent scaling; g of the appendix;
// forward as ref::minlstm), in scan_train_lstm.cpp:
//   forward   k = x W + bias, f = sigmoid(k_f), i = sigmoid(k_i), c = g(k_h),
//             a = f / (f + i), i' = i / (f + i) (= 1 - a),  h_t = a_t h_{t-1} + i'_t c_t
//   backward  delta_t = dh_t + a_{t+1} delta_{t+1}           (the minGRU's reverse scan)
//             with q = delta (h_{t-1} - c) a i'  (da/df = i / (f + i)^2 = a i' / f,
//                                                 da/di = -f / (f + i)^2 = -a i' / i):
//             dk_f = q (1 - f),  dk_i = -q (1 - i),  dk_h = delta i' g'(k_h)
//             dx = dk W^T,  dW = x^T dk,  dbias = sum over rows of dk,  dh0 = a_0 delta_0
// W: [d_in, 3D] (columns f, i, h), bias: [3D]. Outputs h, dx, dw[d_in, 3D], dbias[3D], dh0.
void minlstm_train(const double* x, const double* w, const double* bias, const double* h0,
                   const double* dh, double* h, double* dx, double* dw, double* dbias, double* dh0,
                   std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D,
                   MinLstmTape* tape = nullptr);

struct LstmTape {
  std::vector<double>
      gates;              // [batch * T, 4D]: sigmoid(k_i), sigmoid(k_f), tanh(k_g), sigmoid(k_o)
  std::vector<double> c;  // [batch * T, D]: the cell state c_t
  std::vector<double> delta_h;  // [batch * T, D]: dL/dh_t in total
  std::vector<double> delta_c;  // [batch * T, D]: dL/dc_t in total
  std::vector<double> dk;       // [batch * T, 4D]: dL/d(pre-activations) (i, f, g, o columns)
};

// LSTM training step (Hochreiter & Schmidhuber 1997 with a forget gate; Feng et al. 2024 §2.1.1;
// forward as ref::lstm), backpropagation through time, in scan_train_lstm.cpp:
//   forward   k = x W + h_{t-1} U + bias (columns i, f, g, o), i = sigmoid(k_i), f = sigmoid(k_f),
//             g = tanh(k_g), o = sigmoid(k_o),  c_t = f c_{t-1} + i g,  h_t = o tanh(c_t)
//   backward  delta_t = dh_t + dk_{t+1} U^T                   (dL/dh_t in total)
//             gamma_t = delta_t o (1 - tanh^2 c_t) + gamma_{t+1} f_{t+1}   (dL/dc_t in total)
//             dk_o = delta tanh(c_t) o (1 - o),  dk_i = gamma g i (1 - i),
//             dk_f = gamma c_{t-1} f (1 - f),    dk_g = gamma i (1 - g^2)
//             dU = sum over steps of h_{t-1}^T dk_t,  dx = dk W^T,  dW = x^T dk,
//             dbias = sum over rows of dk,  dh0 = dk_0 U^T,  dc0 = gamma_0 f_0
// W: [d_in, 4D], U: [D, 4D], bias: [4D]; h0, c0: [batch, D]. Outputs h, dx, dw, du, dbias, dh0,
// dc0[batch, D].
void lstm_train(const double* x, const double* w, const double* u, const double* bias,
                const double* h0, const double* c0, const double* dh, double* h, double* dx,
                double* dw, double* du, double* dbias, double* dh0, double* dc0, std::int64_t batch,
                std::int64_t T, std::int64_t d_in, std::int64_t D, LstmTape* tape = nullptr);

}  // namespace opbench::ref
