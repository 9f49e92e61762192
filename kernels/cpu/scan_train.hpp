#pragma once
// Training steps of the scan family's recurrent layers on the CPU: one call runs the forward pass
// and the backward pass (reverse mode, backpropagation through time) and returns h and the
// gradients of every input. Equations, layouts and argument order are those of
// reference/scan_train.hpp; float32 storage and arithmetic.
//
// minLSTM's steps (x, w[d_in, 3D], bias[3D]) are minGRU's with its gates and sit beside them; the
// LSTM's (scan_train_lstm.cpp) are the GRU's pattern with four gates and a cell state.
//
// cpu.plain (scan_train.cpp): the straightforward code a careful user writes first: scalar loops,
//   one thread, for the projections too (k = x W + bias row by row, dx as dot products, dW and
//   dbias accumulated row after row), the scans one step after another.
// cpu.fast (scan_train_fast.cpp): OpenBLAS SGEMMs for the projections of all T steps at once
//   (forward x W; backward dx = dK W^T, dW = X^T dK, dbias = dK^T 1). minGRU: its forward scan and
//   its reverse scan (delta_t = dh_t + a_{t+1} delta_{t+1}, fused with the gates' gradients)
//   vectorized across channels and threaded over (batch entry, channel segment), dK written in
//   place over the projection. GRU: the recurrence is sequential by nature: per step an SGEMM
//   over the batch for h_{t-1} U forward, and for the two products with U^T backward; dU is two
//   SGEMMs over all steps after the loop (h_{t-1} and r_t h_{t-1} kept from the forward pass).
// LSTM (cpu.fast): per step one SGEMM over the batch for h_{t-1} U (all 4D columns) forward and
//   one for dk_t U^T backward; dU = Hprev^T dK as one SGEMM after the loop.
// Scratch comes from the scan family's per-thread workspace (scan_projection.hpp).
#include <cstdint>

namespace opbench::cpu::plain {

// x[batch, T, d_in], w[d_in, 2D], bias[2D], h0[batch, D], dh[batch, T, D] ->
// h[batch, T, D], dx[batch, T, d_in], dw[d_in, 2D], dbias[2D], dh0[batch, D].
void mingru_train(const float* x, const float* w, const float* bias, const float* h0,
                  const float* dh, float* h, float* dx, float* dw, float* dbias, float* dh0,
                  std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D);

// x, w[d_in, 3D], u[D, 3D], bias[3D], h0, dh -> h, dx, dw, du[D, 3D], dbias[3D], dh0.
void gru_train(const float* x, const float* w, const float* u, const float* bias, const float* h0,
               const float* dh, float* h, float* dx, float* dw, float* du, float* dbias, float* dh0,
               std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D);

// x, w[d_in, 3D], bias[3D], h0, dh -> h, dx, dw[d_in, 3D], dbias[3D], dh0.
void minlstm_train(const float* x, const float* w, const float* bias, const float* h0,
                   const float* dh, float* h, float* dx, float* dw, float* dbias, float* dh0,
                   std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D);

// x, w[d_in, 4D], u[D, 4D], bias[4D], h0, c0[batch, D], dh -> h, dx, dw, du[D, 4D], dbias[4D],
// dh0, dc0[batch, D].
void lstm_train(const float* x, const float* w, const float* u, const float* bias, const float* h0,
                const float* c0, const float* dh, float* h, float* dx, float* dw, float* du,
                float* dbias, float* dh0, float* dc0, std::int64_t batch, std::int64_t T,
                std::int64_t d_in, std::int64_t D);

}  // namespace opbench::cpu::plain

namespace opbench::cpu::fast {

void mingru_train(const float* x, const float* w, const float* bias, const float* h0,
                  const float* dh, float* h, float* dx, float* dw, float* dbias, float* dh0,
                  std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D);

void gru_train(const float* x, const float* w, const float* u, const float* bias, const float* h0,
               const float* dh, float* h, float* dx, float* dw, float* du, float* dbias, float* dh0,
               std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D);

// x, w[d_in, 3D], bias[3D], h0, dh -> h, dx, dw[d_in, 3D], dbias[3D], dh0.
void minlstm_train(const float* x, const float* w, const float* bias, const float* h0,
                   const float* dh, float* h, float* dx, float* dw, float* dbias, float* dh0,
                   std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D);

// x, w[d_in, 4D], u[D, 4D], bias[4D], h0, c0[batch, D], dh -> h, dx, dw, du[D, 4D], dbias[4D],
// dh0, dc0[batch, D].
void lstm_train(const float* x, const float* w, const float* u, const float* bias, const float* h0,
                const float* c0, const float* dh, float* h, float* dx, float* dw, float* du,
                float* dbias, float* dh0, float* dc0, std::int64_t batch, std::int64_t T,
                std::int64_t d_in, std::int64_t D);

}  // namespace opbench::cpu::fast
