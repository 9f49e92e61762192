#pragma once
// Float64 references of the scan family: plain sequential loops straight from the equations, no
// SIMD, no threads. Tensors are row-major: sequences x[batch, T, width], states h0[batch, D].
// These functions are the contract the implementations are checked against.
//
// Papers: Feng, Tung, Ahmed, Bengio, Hajimirsadeghi 2024, "Were RNNs All We Needed?" (minGRU,
// minLSTM, and the GRU/LSTM baselines they replace); Heinsen 2023, "Efficient Parallelization of a
// Ubiquitous Sequential Computation" (the log-space scan); Blelloch 1990 (prefix sums).
#include <cstdint>

namespace opbench::ref {

// The linear recurrence (Feng et al. eq. 1 form; Heinsen eq. 1), per (batch, channel d):
//   h_t = a_t * h_{t-1} + b_t,  t = 0..T-1,  h_{-1} = h0
// a, b, h: [batch, T, D]; h0: [batch, D].
void linear_scan(const double* a, const double* b, const double* h0, double* h, std::int64_t batch,
                 std::int64_t T, std::int64_t D);

// Its backward (reverse-mode) pass. Given the forward's a, h0 and h, and g = dL/dh (the direct
// gradient of every h_t), the total gradient of h_t is the reverse recurrence
//   delta_{T-1} = g_{T-1},  delta_t = g_t + a_{t+1} * delta_{t+1}
// and da_t = delta_t * h_{t-1}, db_t = delta_t, dh0 = a_0 * delta_0 (with h_{-1} = h0).
// b is not needed: the forward's h stands in for it, as an autograd engine saves it.
void linear_scan_backward(const double* a, const double* h0, const double* h, const double* dh,
                          double* da, double* db, double* dh0, std::int64_t batch, std::int64_t T,
                          std::int64_t D);

// The log-space scan (Heinsen 2023, eq. 2): inputs log a_t, log b_t and log h0, output
//   log h_t = log(a_t * h_{t-1} + b_t)
// evaluated here in linear space (exp of the inputs, the recurrence, log), which is exact to
// float64 rounding; Heinsen's a* + logcumsumexp(log b - a*) is an algorithm for the same value and
// is what the implementations run. Domain: b_t > 0 and h0 > 0 (log b finite or -inf), a_t >= 0.
void log_scan(const double* log_a, const double* log_b, const double* log_h0, double* log_h,
              std::int64_t batch, std::int64_t T, std::int64_t D);

// Its backward (reverse-mode) pass, in log space (reference/scan_backward.cpp). Given the inputs
// log a, log b, log h0, the forward's log h and g = dL/d(log h) (the direct gradient of every
// log h_t), the total gradient r_t = dL/d(log h_t) obeys, with h_t = a_t h_{t-1} + b_t
// (Heinsen 2023, eq. 1; eq. 2 is its log form) and d log h_{t+1} / d log h_t = a_{t+1} h_t /
// h_{t+1},
//   r_{T-1} = g_{T-1},  r_t = g_t + exp(log a_{t+1} + log h_t - log h_{t+1}) r_{t+1}
// and, from d log h_t = (a_t h_{t-1} d log a_t + b_t d log b_t) / h_t,
//   d log a_t = r_t exp(log a_t + log h_{t-1} - log h_t)    (log h_{-1} = log h0)
//   d log b_t = r_t exp(log b_t - log h_t)
//   d log h0  = r_0 exp(log a_0 + log h0 - log h_0)         (= d log a_0: a_0 h0 is one product)
// Every exponent is a ratio of one term of h_t to h_t, so <= 0 (no overflow), and the carried
// term exp(...) r_{t+1} is d log a_{t+1} itself: r_t = g_t + d log a_{t+1}. log a = -inf (a = 0)
// gives exp(-inf) = 0: no gradient through a zero gate, and none to log a.
void log_scan_backward(const double* log_a, const double* log_b, const double* log_h0,
                       const double* log_h, const double* dlog_h, double* dlog_a, double* dlog_b,
                       double* dlog_h0, std::int64_t batch, std::int64_t T, std::int64_t D);

// g(x) of Feng et al. (appendix, log-space minGRU/minLSTM): x + 0.5 for x >= 0, sigmoid(x)
// otherwise; always positive, so the hidden state stays positive and has a logarithm.
double min_rnn_g(double x);

// minGRU (Feng et al. §3.1.2 with the positive candidate g of the log-space version), per step:
//   [k_z | k_h] = x_t W + bias          W: [d_in, 2D] (columns z then h), bias: [2D]
//   z_t = sigmoid(k_z),  h~_t = g(k_h)
//   h_t = (1 - z_t) * h_{t-1} + z_t * h~_t      h0: [batch, D] (> 0 for the log-space form)
// x: [batch, T, d_in], h: [batch, T, D]. The plain and the log-space forms compute this same h.
void mingru(const double* x, const double* w, const double* bias, const double* h0, double* h,
            std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D);

// minLSTM (Feng et al. §3.2.3, length-independent scaling of the gates), per step:
//   [k_f | k_i | k_h] = x_t W + bias    W: [d_in, 3D] (columns f, i, h), bias: [3D]
//   f_t = sigmoid(k_f), i_t = sigmoid(k_i), h~_t = g(k_h)
//   f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)
//   h_t = f'_t * h_{t-1} + i'_t * h~_t
void minlstm(const double* x, const double* w, const double* bias, const double* h0, double* h,
             std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D);

// GRU as Feng et al. §2.1.2 write it (Cho et al. 2014: the reset gate applies before the
// recurrent product), the baseline the paper measured against:
//   z_t = sigmoid(x_t W_z + h_{t-1} U_z + b_z)
//   r_t = sigmoid(x_t W_r + h_{t-1} U_r + b_r)
//   n_t = tanh(x_t W_n + (r_t * h_{t-1}) U_n + b_n)
//   h_t = (1 - z_t) * h_{t-1} + z_t * n_t
// W: [d_in, 3D] and U: [D, 3D] with columns z, r, n; bias: [3D].
void gru(const double* x, const double* w, const double* u, const double* bias, const double* h0,
         double* h, std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D);

// LSTM (Hochreiter & Schmidhuber 1997, with a forget gate; Feng et al. §2.1.1):
//   [i | f | g | o] = x_t W + h_{t-1} U + bias    W: [d_in, 4D], U: [D, 4D], bias: [4D]
//   c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g),  h_t = sigmoid(o) * tanh(c_t)
// h0, c0: [batch, D]; output h: [batch, T, D].
void lstm(const double* x, const double* w, const double* u, const double* bias, const double* h0,
          const double* c0, double* h, std::int64_t batch, std::int64_t T, std::int64_t d_in,
          std::int64_t D);

}  // namespace opbench::ref
