#pragma once
// The `onednn` peer of LayerNorm's backward pass (training mode): oneDNN's
// layer_normalization_backward primitive, prop_kind::backward, flags use_scale | use_shift (diffs
// of x, of the scale and of the shift). float32 only. Built only when CMake finds oneDNN
// (OPBENCH_HAVE_ONEDNN). RMSNorm has no oneDNN 2.6 primitive, so it has no peer here.
//
// As the forward bindings (onednn_norm.hpp), binding does all of oneDNN's setup: engine, stream,
// the forward-training primitive descriptor oneDNN wants as a hint, the backward primitive
// descriptor and primitive, a user-managed scratchpad, and memory objects that wrap the case's
// tensors in place (row-major, no copies). run() executes the primitive and waits for the stream.
// Threads: oneDNN's OpenMP runtime uses omp_get_max_threads() of the calling thread; set it before
// binding.
//
// The saved statistics: the op gives mean and rstd = 1 / sqrt(var + eps) of each row (as PyTorch
// saves them); oneDNN takes mean and variance. The variance var = 1 / rstd^2 - eps is computed at
// bind time (in double, rounded once to float32), outside the timed run(), into a buffer the bound
// kernel owns: rows floats, negligible next to x, dy and dx. So, unlike every other input, a change
// to "rstd" after binding is not seen by run(); oneDNN recomputes 1 / sqrt(var + eps) in float32,
// which gives rstd back to within a few float32 ulps. "mean" is wrapped in place. oneDNN 2.6 also
// takes the shift (beta) with use_shift, though no gradient depends on it: the kernel gives it
// zeros of its own.
//
// Semantics are those of reference/norm_backward.hpp (layernorm_backward). Errors (a missing
// tensor or one of another dtype or shape, a dnnl::error) are thrown as std::runtime_error with a
// message that starts with "onednn layernorm_backward:".
#include <cstdint>
#include <string>

#include "harness/op.hpp"

namespace opbench::onednn {

// Inputs "dy"[rows, cols], "x"[rows, cols], "gamma"[cols], "mean"[rows], "rstd"[rows], all f32 ->
// outputs "dx"[rows, cols], "dgamma"[cols], "dbeta"[cols], f32 (overwritten by each run()).
// rows and cols are those of "x"; every other tensor must match them. eps is the forward pass's
// (the one rstd was computed with).
BindFn bind_layernorm_backward(float eps);

// The name of the implementation oneDNN picks on this CPU for layer normalization backward of f32
// data [rows, cols] ("simple_layer_normalization:any" in oneDNN 2.6); throws dnnl::error where it
// has none.
std::string layernorm_backward_implementation(std::int64_t rows, std::int64_t cols);

}  // namespace opbench::onednn
