// cuda.fast fff and ultrafast_fff, float32 (equations in reference/fff.hpp).
//
// One warp per row: every dot product of the descent (a node's neurons, then the leaf's) is a
// strided sum over the lanes reduced by shuffles, so no block-wide barrier is needed and the
// decision is known to every lane at once. The output row is accumulated in this warp's slice of
// shared memory, each lane owning the elements o = lane, lane + 32, ..., and written once at the
// end. Rows that share a node read the same weights, which then come from L1/L2.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "harness/device.hpp"
#include "kernels/cuda/fff_cuda.hpp"
#include "kernels/cuda/launch_stream.hpp"

namespace opbench::cuda {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kMaxWarps = 4;                      // warps (rows) per block
constexpr std::int64_t kSharedBytes = 48 * 1024;  // static shared-memory limit without opt-in

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;  // every lane holds the sum
}

__device__ __forceinline__ float warp_dot(const float* __restrict__ a, const float* __restrict__ b,
                                          std::int64_t n, int lane) {
  float s = 0;
  for (std::int64_t i = lane; i < n; i += 32) s += a[i] * b[i];
  return warp_sum(s);
}

__device__ __forceinline__ float gelu(float z) {
  return 0.5f * z * erfcf(-z * 0.70710678118654752f);
}

__global__ void ultrafast_kernel(const float* __restrict__ x, const float* __restrict__ w_in,
                                 const float* __restrict__ w_out, float* __restrict__ y,
                                 std::int64_t* __restrict__ path, std::int64_t batch,
                                 std::int64_t d_in, std::int64_t d_out, std::int64_t depth) {
  extern __shared__ float shared[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const std::int64_t b = static_cast<std::int64_t>(blockIdx.x) * (blockDim.x / 32) + warp;
  if (b >= batch) return;  // whole warps only: the shuffles below stay full-mask
  float* acc = shared + warp * d_out;
  const float* xb = x + b * d_in;
  for (std::int64_t o = lane; o < d_out; o += 32) acc[o] = 0;
  std::int64_t node = 0;
  for (std::int64_t level = 0; level <= depth; ++level) {
    const float lambda = warp_dot(xb, w_in + node * d_in, d_in, lane);
    if (lane == 0) path[b * (depth + 1) + level] = node;
    const float g = gelu(lambda);
    const float* wo = w_out + node * d_out;
    for (std::int64_t o = lane; o < d_out; o += 32) acc[o] += g * wo[o];
    node = 2 * node + 1 + (lambda > 0 ? 1 : 0);
  }
  for (std::int64_t o = lane; o < d_out; o += 32) y[b * d_out + o] = acc[o];
}

__global__ void fff_kernel(const float* __restrict__ x, fff::Weights w, fff::Dims d,
                           float* __restrict__ y, std::int64_t* __restrict__ leaf,
                           std::int64_t batch) {
  extern __shared__ float shared[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const std::int64_t b = static_cast<std::int64_t>(blockIdx.x) * (blockDim.x / 32) + warp;
  if (b >= batch) return;
  float* acc = shared + warp * d.d_out;
  const float* xb = x + b * d.d_in;
  std::int64_t node = 0;
  for (std::int64_t level = 0; level < d.depth; ++level) {
    // A linear node (node_width 1): logit = b1 + w1 . x; wider ones: the ReLU node network.
    float logit = d.node_width == 1
                      ? w.node_b1[node] + warp_dot(xb, w.node_w1 + node * d.d_in, d.d_in, lane)
                      : w.node_b2[node];
    for (std::int64_t k = 0; d.node_width > 1 && k < d.node_width; ++k) {
      const std::int64_t nk = node * d.node_width + k;
      const float pre = w.node_b1[nk] + warp_dot(xb, w.node_w1 + nk * d.d_in, d.d_in, lane);
      logit += w.node_w2[nk] * fmaxf(pre, 0.0f);
    }
    node = 2 * node + 1 + (logit >= 0 ? 1 : 0);
  }
  const std::int64_t l = node - ((std::int64_t{1} << d.depth) - 1);  // leaves are the last level
  if (lane == 0) leaf[b] = l;
  for (std::int64_t o = lane; o < d.d_out; o += 32) acc[o] = w.leaf_b2[l * d.d_out + o];
  for (std::int64_t j = 0; j < d.leaf_width; ++j) {
    const std::int64_t lj = l * d.leaf_width + j;
    const float h =
        fmaxf(w.leaf_b1[lj] + warp_dot(xb, w.leaf_w1 + lj * d.d_in, d.d_in, lane), 0.0f);
    if (h == 0) continue;  // the same on every lane: h is the warp-wide sum
    const float* w2 = w.leaf_w2 + lj * d.d_out;
    for (std::int64_t o = lane; o < d.d_out; o += 32) acc[o] += h * w2[o];
  }
  for (std::int64_t o = lane; o < d.d_out; o += 32) y[b * d.d_out + o] = acc[o];
}

// Warps per block such that each warp's output row fits in shared memory; throws when one row
// alone does not.
int warps_for(const char* name, std::int64_t d_out) {
  const std::int64_t row_bytes = std::max<std::int64_t>(d_out, 1) * 4;
  if (row_bytes > kSharedBytes) {
    throw std::invalid_argument(std::string(name) + ": d_out = " + std::to_string(d_out) +
                                " is more than this kernel supports (12288)");
  }
  return static_cast<int>(std::min<std::int64_t>(kMaxWarps, kSharedBytes / row_bytes));
}

void check_shape(const char* name, std::int64_t batch, std::int64_t d_in, std::int64_t d_out,
                 std::int64_t depth) {
  if (batch < 0 || d_in < 0 || d_out < 0 || depth < 0 || depth > 40) {
    throw std::invalid_argument(std::string(name) + ": bad shape (batch " + std::to_string(batch) +
                                ", d_in " + std::to_string(d_in) + ", d_out " +
                                std::to_string(d_out) + ", depth " + std::to_string(depth) + ")");
  }
}

unsigned blocks_for(std::int64_t batch, int warps) {
  const std::int64_t blocks = (batch + warps - 1) / warps;
  if (blocks > 0x7fffffff) throw std::invalid_argument("fff cuda: batch too large for one grid");
  return static_cast<unsigned>(blocks);
}

}  // namespace

void fff(const float* x, const fff::Weights& w, const fff::Dims& d, float* y, std::int64_t* leaf,
         std::int64_t batch) {
  const char* name = "cuda fff launch";
  check_shape(name, batch, d.d_in, d.d_out, d.depth);
  if (batch == 0) return;
  const int warps = warps_for(name, d.d_out);
  fff_kernel<<<blocks_for(batch, warps), warps * 32,
               static_cast<std::size_t>(warps * std::max<std::int64_t>(d.d_out, 1) * 4),
               launch_stream()>>>(x, w, d, y, leaf, batch);
  check_cuda(cudaGetLastError(), name);
}

void ultrafast_fff(const float* x, const float* w_in, const float* w_out, float* y,
                   std::int64_t* path, std::int64_t batch, std::int64_t d_in, std::int64_t d_out,
                   std::int64_t depth) {
  const char* name = "cuda ultrafast_fff launch";
  check_shape(name, batch, d_in, d_out, depth);
  if (batch == 0) return;
  const int warps = warps_for(name, d_out);
  ultrafast_kernel<<<blocks_for(batch, warps), warps * 32,
                     static_cast<std::size_t>(warps * std::max<std::int64_t>(d_out, 1) * 4),
                     launch_stream()>>>(x, w_in, w_out, y, path, batch, d_in, d_out, depth);
  check_cuda(cudaGetLastError(), name);
}

}  // namespace opbench::cuda
