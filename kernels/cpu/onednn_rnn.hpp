#pragma once
// The `onednn` peer of the scan family: oneDNN 2.x's vanilla_gru and vanilla_lstm RNN primitives
// (forward_inference, one layer, left to right), the sequential baselines of Feng et al. 2024 as a
// tuned library runs them. Built only with oneDNN (OPBENCH_HAVE_ONEDNN).
//
// Semantics checked against reference/scan.hpp (the suite's agreement check on every case, and
// tests/test_suites_scan.cpp over edge shapes and saturated gates):
//  - GRU: oneDNN's vanilla_gru is Cho et al.'s GRU with the reset gate applied before the
//    recurrent product, o_t = tanh(W_o x + U_o (r_t * h_{t-1}) + b_o), as our reference (and
//    unlike linear_before_reset, oneDNN's lbr_gru, which is PyTorch's/cuDNN's GRU). Its gate order
//    is u, r, o and its update h_t = u_t h_{t-1} + (1 - u_t) o_t, so its u is our 1 - z: the z
//    columns of W, U and the bias are negated when bound (sigmoid(-k) = 1 - sigmoid(k)).
//  - LSTM: gate order i, f, c~, o, the same as ours (and PyTorch's); no peepholes, no projection.
// Weights are given in ldigo ([1, 1, in, gates, out]: our row-major [in, gates * D]) and reordered
// once at bind time to the layout the primitive prefers; x and h are wrapped in place as ntc.
// run() executes and waits. Errors are std::runtime_error starting with "onednn gru:"/"lstm:".
#include "harness/op.hpp"

namespace opbench::onednn {

// Inputs x[batch, T, d_in], w[d_in, 3D], u[D, 3D], bias[3D], h0[batch, D] -> h[batch, T, D].
BindFn bind_gru();

// Inputs x, w[d_in, 4D], u[D, 4D], bias[4D], h0, c0[batch, D] -> h[batch, T, D].
BindFn bind_lstm();

}  // namespace opbench::onednn
