// cuda.fast of pkm_layer, the product-key memory layer (see pkm_cuda.hpp).
//
// 1. The query projection x w through cuBLAS (cublas_gemm.hpp) into device scratch
//    q[tokens, heads * dk] (the [tokens, heads, dk] layout the search reads), then one elementwise
//    pass that adds the bias and applies the batch normalization's inference form in place.
// 2. pkm_topk on those queries: scores into scratch, indices straight into the output.
// 3. The readout: a block per (token, 256 output columns); per head, the softmax weights of the k
//    scores in shared memory, then each thread sums its column of the k weighted value rows (a
//    warp reads 32 consecutive floats of a row), summed over heads.
#include <cuda_runtime.h>

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
#include "kernels/cuda/pkm_cuda.hpp"

namespace opbench::cuda {
namespace {

constexpr int kEpilogueThreads = 256;
constexpr int kReadThreads = 256;  // output columns per readout block
constexpr int kMaxK = 256;         // pkm_topk's limit, which the layer inherits

// q[row, col] = BN(z + b[col]) in place, z = (x w)[row, col] from the GEMM: the bias and the
// inference batch normalization, BN(z) = (z - mean) / sqrt(var + eps) * gamma + beta, as one
// elementwise pass over q[rows, hdk].
__global__ void __launch_bounds__(kEpilogueThreads)
    bias_batchnorm(float* __restrict__ q, const float* __restrict__ bias,
                   const float* __restrict__ mean, const float* __restrict__ var,
                   const float* __restrict__ gamma, const float* __restrict__ beta, long long n,
                   long long hdk, float eps) {
  const long long idx = static_cast<long long>(blockIdx.x) * kEpilogueThreads + threadIdx.x;
  if (idx >= n) return;
  const long long col = idx % hdk;
  const float z = q[idx] + bias[col];
  q[idx] = (z - mean[col]) / sqrtf(var[col] + eps) * gamma[col] + beta[col];
}

// y[t, col] = sum_h sum_m softmax(scores[t, h, :])_m * values[indices[t, h, m], col]. Block
// (token, chunk of columns), striding over chunks along y; every thread takes part in the
// barriers, including those past dv.
__global__ void __launch_bounds__(kReadThreads)
    readout(const float* __restrict__ scores, const std::int64_t* __restrict__ indices,
            const float* __restrict__ values, float* __restrict__ y, int heads, int k,
            long long dv) {
  __shared__ float weight[kMaxK];
  __shared__ long long value_row[kMaxK];
  const long long t = blockIdx.x;
  const long long chunks = (dv + kReadThreads - 1) / kReadThreads;
  for (long long chunk = blockIdx.y; chunk < chunks; chunk += gridDim.y) {
    const long long col = chunk * kReadThreads + threadIdx.x;
    float out = 0.0f;
    for (int h = 0; h < heads; ++h) {
      const long long row = (t * heads + h) * k;
      __syncthreads();  // the previous head's weights are no longer read
      // The search's list is sorted, so its first score is the largest: the softmax's shift.
      const float top = scores[row];
      for (int m = threadIdx.x; m < k; m += kReadThreads) {
        weight[m] = expf(scores[row + m] - top);
        value_row[m] = indices[row + m];
      }
      __syncthreads();
      if (col < dv) {
        float acc = 0.0f, sum = 0.0f;
        for (int m = 0; m < k; ++m) {
          acc = fmaf(weight[m], values[value_row[m] * dv + col], acc);
          sum += weight[m];
        }
        out += acc / sum;
      }
    }
    if (col < dv) y[t * dv + col] = out;
  }
}

}  // namespace

std::string pkm_layer_unsupported(const pkm::Dims& d) {
  return pkm_topk_unsupported(d);
}

void pkm_layer(const float* x, const pkm::LayerWeights& w, float* y, std::int64_t* indices,
               const pkm::Dims& d, std::int64_t din, std::int64_t dv, float eps) {
  if (std::string why = pkm_layer_unsupported(d); !why.empty()) throw std::invalid_argument(why);
  if (din < 0 || dv < 0 || d.k < 1) {
    throw std::invalid_argument("cuda pkm_layer: din and dv must not be negative, k at least 1");
  }
  if (d.tokens <= 0 || d.heads <= 0) return;
  const long long hdk = d.heads * d.dk;
  // The bound kernel's arena (harness/device.hpp), pkm_layer_scratch_bytes in all.
  DeviceScratch& scratch = device_scratch();
  float* q = scratch.get<float>("pkm_layer queries", static_cast<std::size_t>(d.tokens * hdk));
  float* s =
      scratch.get<float>("pkm_layer scores", static_cast<std::size_t>(d.tokens * d.heads * d.k));
  if (hdk > 0) {
    gemm_row_major(x, w.w, q, d.tokens, din, hdk, "cuda pkm_layer projection");
    const long long n = d.tokens * hdk;
    bias_batchnorm<<<grid_x_or_throw(ceil_div(n, kEpilogueThreads), "cuda pkm_layer batch norm"),
                     kEpilogueThreads, 0, launch_stream()>>>(q, w.b, w.bn_mean, w.bn_var,
                                                             w.bn_gamma, w.bn_beta, n, hdk, eps);
    check_cuda(cudaGetLastError(), "cuda pkm_layer batch norm launch");
  }
  pkm_topk(q, w.k1, w.k2, s, indices, d);
  if (dv > 0) {
    const dim3 grid(grid_x_or_throw(d.tokens, "cuda pkm_layer readout"),
                    strided_grid_yz(ceil_div(dv, kReadThreads)));
    readout<<<grid, kReadThreads, 0, launch_stream()>>>(
        s, indices, w.values, y, static_cast<int>(d.heads), static_cast<int>(d.k), dv);
    check_cuda(cudaGetLastError(), "cuda pkm_layer readout launch");
  }
}

}  // namespace opbench::cuda
