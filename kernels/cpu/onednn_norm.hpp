#pragma once
// The `onednn` peer of the norm family: oneDNN's layer normalization and batch normalization
// primitives (oneDNN 2.x, the Debian libdnnl-dev build with the OpenMP runtime). Built only when
// CMake finds oneDNN (OPBENCH_HAVE_ONEDNN).
//
// Every binding does all of oneDNN's setup at bind time: engine, stream, primitive descriptor,
// primitive, a user-managed scratchpad and memory objects that wrap the case's tensors in place
// (row-major, no copies). run() executes the primitive and waits for the stream, so a timed run()
// is the execution alone. Threads: oneDNN's OpenMP runtime uses omp_get_max_threads() of the
// calling thread; set it (omp_set_num_threads) before binding, as some oneDNN kernels plan their
// work split when the primitive is created.
//
// Dtypes: the case's dtype is that of "x"; x, y, gamma and beta must all have it, one of f32,
// bf16 or f16. x and y are given to oneDNN in that dtype (oneDNN computes in float32 and rounds the
// output once). oneDNN 2.x takes scale and shift in float32 only, so bf16 or f16 gamma and beta
// are widened at bind time into float32 buffers the bound kernel owns (2 x cols floats, outside
// the timed run()). BatchNorm's running_mean and running_var are float32 in every dtype. Whether
// oneDNN implements a dtype is its primitive descriptor's answer on this CPU, which dtypes() asks
// once: oneDNN 2.6.3 has layer and batch normalization in f32 everywhere and in bf16 only on CPUs
// with AVX-512 (avx512_core), none in f16. A binding in a dtype it lacks throws "onednn <op>:
// oneDNN error while creating the ... primitive descriptor: ... (dnnl_status unimplemented) for f16
// x [rows, cols]".
//
// Semantics are those of reference/norm.hpp. Errors (a missing tensor or one of another dtype, a
// shape mismatch, a dnnl::error) are thrown as std::runtime_error with a message that starts with
// "onednn <op>:" and names the tensor or the oneDNN status and dtype.
#include <cstdint>
#include <string>
#include <vector>

#include "harness/op.hpp"

namespace opbench::onednn {

// The oneDNN library version in use at run time, "2.6.3" (from dnnl_version()).
std::string version();

enum class Norm { layernorm, batchnorm_infer, batchnorm_train };

// The dtypes among f32, bf16 and f16 in which oneDNN implements `op` on this CPU (it creates the
// primitive descriptor), asked once per process: what the peer declares, so that the planner
// never hands it a case oneDNN would refuse (bf16 needs AVX-512 in oneDNN 2.6).
std::vector<DType> dtypes(Norm op);

// The name of the implementation oneDNN picks on this CPU for `op` on data [rows, cols] of dtype
// dt, described as the bindings describe it ("bnorm_tbb_jit:avx2"); throws dnnl::error where it
// has none.
std::string implementation(Norm op, DType dt, std::int64_t rows, std::int64_t cols);

// LayerNorm per row: inputs "x"[rows, cols], "gamma"[cols], "beta"[cols] -> output "y"[rows, cols],
// y = (x - mean) / sqrt(var + eps) * gamma + beta with the biased variance of each row.
// oneDNN forward_inference, flags use_scale | use_shift.
BindFn bind_layernorm(float eps);

// BatchNorm at inference: inputs "x"[rows = batch N, cols = channels C], "running_mean"[cols],
// "running_var"[cols], "gamma"[cols], "beta"[cols] -> "y"[rows, cols],
// y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta.
// oneDNN forward_inference, flags use_global_stats | use_scale | use_shift, src as {N, C, 1, 1}
// in format nhwc (the same bytes; see batchnorm_data() for why not {N, C} nc).
BindFn bind_batchnorm_infer(float eps);

// BatchNorm in training: inputs "x"[rows, cols], "gamma"[cols], "beta"[cols] -> "y"[rows, cols],
// with the mean and biased variance of each column over the rows. oneDNN forward_training, flags
// use_scale | use_shift; the batch statistics oneDNN writes go to buffers owned by the kernel.
BindFn bind_batchnorm_train(float eps);

}  // namespace opbench::onednn
