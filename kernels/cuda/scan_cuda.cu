// cuda.fast scans and minimal layers, float32 (contract in scan_cuda.hpp).
//
// The scans are chunked over T in three launches, because one thread per (batch, channel)
// sequence gives a GPU far too few threads (8 x 1024 sequences against ~270k resident threads
// on an H100): 1. every (batch, chunk, channel) reduces its chunk of kChunk steps to an
// aggregate (the affine map A = prod a, B = local scan; in log space the sum of log a and the
// chunk's local log-sum-exp); 2. one thread per sequence carries the state across the chunks;
// 3. every chunk rescans from its carry and writes the output. Channel is the fastest index of
// the threads, so every load and store of a warp is one coalesced run of a row. Traffic: a and b
// read twice, h written once. The log-space form keeps Heinsen's arithmetic (a* as a running sum,
// the log-sum-exp of log b - a* with a running maximum), so its error is that of the formulation.
//
// The minimal layers project through cuBLAS (cublas_gemm.hpp), add the bias and compute the gates
// in one elementwise pass, then scan.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "harness/device.hpp"
#include "kernels/cuda/cublas_gemm.hpp"
#include "kernels/cuda/launch_geometry.hpp"
#include "kernels/cuda/launch_stream.hpp"
#include "kernels/cuda/log_scan_combine.hpp"
#include "kernels/cuda/scan_cuda.hpp"

namespace opbench::cuda {
namespace {

constexpr int kChunk = kScanChunk;  // steps per chunk
constexpr int kThreads = 256;       // threads per block of the scan and elementwise kernels

// The scratch buffer `what` of the bound kernel's arena (sizes as *_scratch_bytes in the header).
float* scratch(const char* what, std::int64_t count) {
  return device_scratch().get<float>(what, static_cast<std::size_t>(count));
}

void check_launch(const char* what) {
  check_cuda(cudaGetLastError(), what);
}

// Blocks of kThreads threads for n elements, one per thread; refused when grid.x cannot hold them.
unsigned blocks_for(std::int64_t n, const char* what) {
  return grid_x_or_throw(ceil_div(n, kThreads), what);
}

// --- linear scan ---------------------------------------------------------------------------

// Thread (n, c, d): reduce chunk c of sequence (n, d) to (A, B).
__global__ void linear_reduce(const float* __restrict__ a, const float* __restrict__ b,
                              float* __restrict__ A, float* __restrict__ B, int64_t batch,
                              int64_t T, int64_t D, int64_t chunks) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= batch * chunks * D) return;
  const int64_t d = idx % D, c = (idx / D) % chunks, n = idx / (D * chunks);
  const int64_t t0 = c * kChunk, t1 = min(T, t0 + kChunk);
  float pa = 1.0f, pb = 0.0f;
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t i = (n * T + t) * D + d;
    pb = a[i] * pb + b[i];
    pa *= a[i];
  }
  A[idx] = pa;
  B[idx] = pb;
}

// Thread (n, d): A[n, c, d] becomes the h entering chunk c.
__global__ void linear_carry(const float* __restrict__ h0, float* __restrict__ A,
                             const float* __restrict__ B, int64_t batch, int64_t D,
                             int64_t chunks) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= batch * D) return;
  const int64_t d = idx % D, n = idx / D;
  float carry = h0[idx];
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t k = (n * chunks + c) * D + d;
    const float next = A[k] * carry + B[k];
    A[k] = carry;
    carry = next;
  }
}

__global__ void linear_rescan(const float* __restrict__ a, const float* __restrict__ b,
                              const float* __restrict__ carry, float* __restrict__ h, int64_t batch,
                              int64_t T, int64_t D, int64_t chunks) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= batch * chunks * D) return;
  const int64_t d = idx % D, c = (idx / D) % chunks, n = idx / (D * chunks);
  const int64_t t0 = c * kChunk, t1 = min(T, t0 + kChunk);
  float state = carry[idx];
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t i = (n * T + t) * D + d;
    state = a[i] * state + b[i];
    h[i] = state;
  }
}

// --- log-space scan (Heinsen) ----------------------------------------------------------------

// Thread (n, c, d): the chunk's sum of log a (SA) and the log-sum-exp of log b - (local a*) as
// M + log S (log_scan_combine.hpp: -inf terms, b = 0, are skipped; an all -inf chunk is empty).
__global__ void log_reduce(const float* __restrict__ la, const float* __restrict__ lb,
                           float* __restrict__ SA, float* __restrict__ M, float* __restrict__ S,
                           int64_t batch, int64_t T, int64_t D, int64_t chunks) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= batch * chunks * D) return;
  const int64_t d = idx % D, c = (idx / D) % chunks, n = idx / (D * chunks);
  const int64_t t0 = c * kChunk, t1 = min(T, t0 + kChunk);
  log_reduce_chunk(la, lb, (n * T + t0) * D + d, t1 - t0, D, &SA[idx], &M[idx], &S[idx]);
}

// Thread (n, d): SA, M, S of chunk c become a* before the chunk and the log-sum-exp (in global
// coordinates, log h0 included) of every term before it.
__global__ void log_carry(const float* __restrict__ log_h0, float* __restrict__ SA,
                          float* __restrict__ M, float* __restrict__ S, int64_t batch, int64_t D,
                          int64_t chunks) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= batch * D) return;
  const int64_t d = idx % D, n = idx / D;
  log_carry_sequence(log_h0[idx], SA, M, S, n * chunks * D + d, chunks, D);
}

__global__ void log_rescan(const float* __restrict__ la, const float* __restrict__ lb,
                           const float* __restrict__ SA, const float* __restrict__ M,
                           const float* __restrict__ S, float* __restrict__ out, int64_t batch,
                           int64_t T, int64_t D, int64_t chunks, bool exp_output) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= batch * chunks * D) return;
  const int64_t d = idx % D, c = (idx / D) % chunks, n = idx / (D * chunks);
  const int64_t t0 = c * kChunk, t1 = min(T, t0 + kChunk);
  log_rescan_chunk(la, lb, SA[idx], M[idx], S[idx], out, (n * T + t0) * D + d, t1 - t0, D,
                   exp_output);
}

void log_scan_impl(const float* la, const float* lb, const float* log_h0, float* out,
                   std::int64_t batch, std::int64_t T, std::int64_t D, bool exp_output) {
  const std::int64_t chunks = (T + kChunk - 1) / kChunk;
  const std::int64_t n = batch * chunks * D;
  float* SA = scratch("log_scan SA", n);
  float* M = scratch("log_scan M", n);
  float* S = scratch("log_scan S", n);
  log_reduce<<<blocks_for(n, "log_scan reduce"), kThreads, 0, launch_stream()>>>(
      la, lb, SA, M, S, batch, T, D, chunks);
  check_launch("log_scan reduce");
  log_carry<<<blocks_for(batch * D, "log_scan carry"), kThreads, 0, launch_stream()>>>(
      log_h0, SA, M, S, batch, D, chunks);
  check_launch("log_scan carry");
  log_rescan<<<blocks_for(n, "log_scan rescan"), kThreads, 0, launch_stream()>>>(
      la, lb, SA, M, S, out, batch, T, D, chunks, exp_output);
  check_launch("log_scan rescan");
}

// --- minimal layers --------------------------------------------------------------------------

__device__ __forceinline__ float sigmoid(float x) {
  return 1.0f / (1.0f + __expf(-x));
}
__device__ __forceinline__ float softplus(float x) {
  return fmaxf(x, 0.0f) + log1pf(__expf(-fabsf(x)));
}
__device__ __forceinline__ float min_rnn_g(float x) {
  return x >= 0.0f ? x + 0.5f : sigmoid(x);
}
__device__ __forceinline__ float log_g(float x) {
  return x >= 0.0f ? __logf(x + 0.5f) : -softplus(-x);
}

// Element (row, d): a and b of the recurrence (or log a, log b) from the projection
// k[row, G*D] = x w (without its bias, added here).
__global__ void gates(const float* __restrict__ k, const float* __restrict__ bias,
                      float* __restrict__ a, float* __restrict__ b, int64_t rows, int64_t D,
                      bool lstm, bool log_form) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= rows * D) return;
  const int64_t d = idx % D, row = idx / D;
  const int64_t G = lstm ? 3 : 2;
  const float* kr = k + row * G * D;
  if (!lstm) {
    const float kz = kr[d] + bias[d], kh = kr[D + d] + bias[D + d];
    if (log_form) {
      const float sp = softplus(kz);
      a[idx] = -sp;
      b[idx] = kz - sp + log_g(kh);
    } else {
      const float z = sigmoid(kz);
      a[idx] = 1.0f - z;
      b[idx] = z * min_rnn_g(kh);
    }
    return;
  }
  const float kf = kr[d] + bias[d], ki = kr[D + d] + bias[D + d],
              kh = kr[2 * D + d] + bias[2 * D + d];
  if (log_form) {
    const float diff = softplus(-kf) - softplus(-ki);
    const float sp = softplus(diff);
    a[idx] = -sp;
    b[idx] = diff - sp + log_g(kh);
  } else {
    const float f = sigmoid(kf), i = sigmoid(ki);
    a[idx] = f / (f + i);
    b[idx] = i / (f + i) * min_rnn_g(kh);
  }
}

__global__ void log_of(const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx < n) y[idx] = logf(x[idx]);
}

}  // namespace

void linear_scan(const float* a, const float* b, const float* h0, float* h, std::int64_t batch,
                 std::int64_t T, std::int64_t D) {
  const std::int64_t chunks = (T + kChunk - 1) / kChunk;
  const std::int64_t n = batch * chunks * D;
  float* A = scratch("linear_scan A", n);
  float* B = scratch("linear_scan B", n);
  linear_reduce<<<blocks_for(n, "linear_scan reduce"), kThreads, 0, launch_stream()>>>(
      a, b, A, B, batch, T, D, chunks);
  check_launch("linear_scan reduce");
  linear_carry<<<blocks_for(batch * D, "linear_scan carry"), kThreads, 0, launch_stream()>>>(
      h0, A, B, batch, D, chunks);
  check_launch("linear_scan carry");
  linear_rescan<<<blocks_for(n, "linear_scan rescan"), kThreads, 0, launch_stream()>>>(
      a, b, A, h, batch, T, D, chunks);
  check_launch("linear_scan rescan");
}

void log_scan(const float* log_a, const float* log_b, const float* log_h0, float* log_h,
              std::int64_t batch, std::int64_t T, std::int64_t D) {
  log_scan_impl(log_a, log_b, log_h0, log_h, batch, T, D, false);
}

void min_layer(MinLayer kind, const float* x, const float* w, const float* bias, const float* h0,
               float* h, std::int64_t batch, std::int64_t T, std::int64_t d_in, std::int64_t D,
               bool log_form) {
  const bool lstm = kind == MinLayer::minlstm;
  const std::int64_t rows = batch * T, cols = (lstm ? 3 : 2) * D;
  // The projection's buffer holds log h0 later (log form): at least batch * D floats.
  float* k = scratch("min_layer projection", std::max(rows * cols, batch * D));
  gemm_row_major(x, w, k, rows, d_in, cols, "min_layer projection");
  float* a = scratch("min_layer a", rows * D);
  float* b = scratch("min_layer b", rows * D);
  gates<<<blocks_for(rows * D, "min_layer gates"), kThreads, 0, launch_stream()>>>(
      k, bias, a, b, rows, D, lstm, log_form);
  check_launch("min_layer gates");
  if (!log_form) {
    linear_scan(a, b, h0, h, batch, T, D);
    return;
  }
  // log h0 goes in k's scratch, free once the gates are computed.
  log_of<<<blocks_for(batch * D, "min_layer log h0"), kThreads, 0, launch_stream()>>>(h0, k,
                                                                                      batch * D);
  check_launch("min_layer log h0");
  log_scan_impl(a, b, k, h, batch, T, D, true);
}

}  // namespace opbench::cuda
