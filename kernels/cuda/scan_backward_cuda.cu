// cuda.fast backward scans, float32 (contract and per-thread bodies in scan_backward_cuda.hpp).
//
// One thread per (batch, channel) sequence, channel the fastest index of the threads, so a warp's
// loads and stores at one step are one coalesced run of a row; each thread walks t = T-1 .. 0
// with the carried gradient in a register, issuing kBwdSteps steps' loads before it uses them.
// Traffic is every tensor once: linear 3 reads (a, h, dh) and 2 writes (da, db) per element,
// 20 bytes; log space 4 reads (log a, log b, log h, dlog_h) and 2 writes, 24 bytes.
//
// Not chunked over T as the forward scans are (scan_cuda.cu): batch x D threads only, so a small
// batch x D (8 x 1024 = 8192 sequences) leaves most of a large GPU idle. Built, not yet run on a
// GPU: whether the kBwdSteps loads in flight per thread reach the copy's bandwidth is to measure.
#include <cuda_runtime.h>

#include <cstdint>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "harness/device.hpp"
#include "kernels/cuda/launch_geometry.hpp"
#include "kernels/cuda/launch_stream.hpp"
#include "kernels/cuda/scan_backward_cuda.hpp"

namespace opbench::cuda {
namespace {

constexpr int kThreads = 256;  // threads per block

unsigned blocks_for(std::int64_t n, const char* what) {
  return grid_x_or_throw(ceil_div(n, kThreads), what);
}

// Thread (n, d) of batch x D.
__global__ void linear_backward_kernel(const float* __restrict__ a, const float* __restrict__ h0,
                                       const float* __restrict__ h, const float* __restrict__ dh,
                                       float* __restrict__ da, float* __restrict__ db,
                                       float* __restrict__ dh0, int64_t batch, int64_t T,
                                       int64_t D) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= batch * D) return;
  const int64_t d = idx % D, n = idx / D;
  scan_bwd::linear_backward_sequence<scan_bwd::kBwdSteps>(a, h0, h, dh, da, db, dh0, n * T * D + d,
                                                          idx, T, D);
}

__global__ void log_backward_kernel(const float* __restrict__ log_a,
                                    const float* __restrict__ log_b,
                                    const float* __restrict__ log_h0,
                                    const float* __restrict__ log_h,
                                    const float* __restrict__ dlog_h, float* __restrict__ dlog_a,
                                    float* __restrict__ dlog_b, float* __restrict__ dlog_h0,
                                    int64_t batch, int64_t T, int64_t D) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= batch * D) return;
  const int64_t d = idx % D, n = idx / D;
  scan_bwd::log_backward_sequence<scan_bwd::kBwdSteps>(log_a, log_b, log_h0, log_h, dlog_h, dlog_a,
                                                       dlog_b, dlog_h0, n * T * D + d, idx, T, D);
}

}  // namespace

void linear_scan_backward(const float* a, const float* h0, const float* h, const float* dh,
                          float* da, float* db, float* dh0, std::int64_t batch, std::int64_t T,
                          std::int64_t D) {
  if (batch * D == 0) return;
  linear_backward_kernel<<<blocks_for(batch * D, "linear_scan_backward"), kThreads, 0,
                           launch_stream()>>>(a, h0, h, dh, da, db, dh0, batch, T, D);
  check_cuda(cudaGetLastError(), "linear_scan_backward");
}

void log_scan_backward(const float* log_a, const float* log_b, const float* log_h0,
                       const float* log_h, const float* dlog_h, float* dlog_a, float* dlog_b,
                       float* dlog_h0, std::int64_t batch, std::int64_t T, std::int64_t D) {
  if (batch * D == 0) return;
  log_backward_kernel<<<blocks_for(batch * D, "log_scan_backward"), kThreads, 0, launch_stream()>>>(
      log_a, log_b, log_h0, log_h, dlog_h, dlog_a, dlog_b, dlog_h0, batch, T, D);
  check_cuda(cudaGetLastError(), "log_scan_backward");
}

}  // namespace opbench::cuda
