#pragma once
// The `onednn` peer of the GRU training step (gru_train): oneDNN 2.x's vanilla_gru primitive in
// forward_training, then its backward primitive on the workspace the forward left, one layer, left
// to right. Built only with oneDNN (OPBENCH_HAVE_ONEDNN).
//
// The mapping to our GRU is the forward peer's (onednn_rnn.hpp): oneDNN's u gate is our 1 - z, so
// the z columns of W, U and the bias are negated when the case is bound; the gradients of those
// columns then come out negated too and are negated back. Done at bind time, outside the timed
// run(): the weights' reorders into the layouts the forward and the backward primitives prefer.
// Inside run(), as part of the training step: zeroing the diff weights and the diff bias (oneDNN
// accumulates into them), the forward primitive, the backward primitive, the reorders of the diff
// weights back into our [in, 3D] layout and the negation of their z columns. x, h, dh, dx, h0 and
// dh0 are wrapped in place (ntc, ldnc). No final-state gradient (dL/dh_T enters through dh).
// Errors are std::runtime_error starting with "onednn gru_train:" (or "lstm_train:").
//
// The `onednn` peer of the LSTM training step (lstm_train): vanilla_lstm in forward_training, then
// its backward, the same way. oneDNN's gate order i, f, c~, o and its ldigo weights [in, 4, D]
// are ours (reference/scan.hpp: columns i, f, g, o of w[d_in, 4D], u[D, 4D]), so binding only
// reorders the weights into the primitives' layouts (no negation); c0 is its src_iter_c and dc0
// its diff_src_iter_c (wrapped in place, ldnc). No peepholes, no projection, no final states.
#include "harness/op.hpp"

namespace opbench::onednn {

// Inputs x[batch, T, d_in], w[d_in, 3D], u[D, 3D], bias[3D], h0[batch, D], dh[batch, T, D] ->
// h[batch, T, D], dx, dw, du, dbias, dh0.
BindFn bind_gru_train();

// Inputs x, w[d_in, 4D], u[D, 4D], bias[4D], h0, c0[batch, D], dh -> h, dx, dw, du, dbias, dh0,
// dc0[batch, D].
BindFn bind_lstm_train();

}  // namespace opbench::onednn
