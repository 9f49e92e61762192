// cuda.fast of pkm_layer, the product-key memory layer (see pkm_cuda.hpp).
//
// 1. The query projection as a tiled SGEMM (64 x 64 outputs per block, 4 x 4 per thread, din in
//    steps of 16 through shared memory) whose epilogue adds the bias and applies the batch
//    normalization's inference form, into device scratch q[tokens, heads * dk]: the
//    [tokens, heads, dk] layout the search reads. (A hand-written SGEMM, as the scan layers have:
//    cuBLAS would not fit the carried bundle of the lent machines.)
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
#include "kernels/cuda/launch_geometry.hpp"
#include "kernels/cuda/pkm_cuda.hpp"
#include "kernels/cuda/pkm_scratch_cuda.hpp"

namespace opbench::cuda {
namespace {

constexpr int kBM = 64;  // tokens per projection block
constexpr int kBN = 64;  // query columns per projection block
constexpr int kBK = 16;  // input dims per shared-memory step
constexpr int kProjThreads = 256;
constexpr int kReadThreads = 256;  // output columns per readout block
constexpr int kMaxK = 256;         // pkm_topk's limit, which the layer inherits

static_assert(kBM == 4 * (kProjThreads / 16) && kBN == 4 * 16, "4 x 4 outputs per thread");
static_assert(kBM * kBK % kProjThreads == 0 && kBK * kBN % kProjThreads == 0, "whole loads");

// q[row, col] = BN(x[row, :] . w[:, col] + b[col]), BN(z) = (z - mean) / sqrt(var + eps) * gamma +
// beta. Blocks stride over column tiles along y, so any heads * dk fits the grid.
__global__ void __launch_bounds__(kProjThreads)
    project_bn(const float* __restrict__ x, const float* __restrict__ w,
               const float* __restrict__ bias, const float* __restrict__ mean,
               const float* __restrict__ var, const float* __restrict__ gamma,
               const float* __restrict__ beta, float* __restrict__ q, long long tokens,
               long long din, long long hdk, float eps) {
  // x's tile transposed (xs[dim][row]) so that a thread reads its 4 rows as one float4; rows
  // padded by 4 floats to stay 16-byte aligned with fewer bank conflicts on the stores.
  __shared__ __align__(16) float xs[kBK][kBM + 4];
  __shared__ __align__(16) float ws[kBK][kBN];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const long long r0 = static_cast<long long>(blockIdx.x) * kBM;
  for (long long c0 = static_cast<long long>(blockIdx.y) * kBN; c0 < hdk;
       c0 += static_cast<long long>(gridDim.y) * kBN) {
    float acc[4][4] = {};
    for (long long k0 = 0; k0 < din; k0 += kBK) {
#pragma unroll
      for (int l = 0; l < kBM * kBK / kProjThreads; ++l) {
        const int kk = tid % kBK, r = tid / kBK + (kProjThreads / kBK) * l;
        const long long row = r0 + r, dim = k0 + kk;
        xs[kk][r] = row < tokens && dim < din ? x[row * din + dim] : 0.0f;
      }
#pragma unroll
      for (int l = 0; l < kBK * kBN / kProjThreads; ++l) {
        const int cc = tid % kBN, kk = tid / kBN + (kProjThreads / kBN) * l;
        const long long col = c0 + cc, dim = k0 + kk;
        ws[kk][cc] = dim < din && col < hdk ? w[dim * hdk + col] : 0.0f;
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kBK; ++kk) {
        const float4 a = *reinterpret_cast<const float4*>(&xs[kk][4 * ty]);
        const float4 b = *reinterpret_cast<const float4*>(&ws[kk][4 * tx]);
        const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
        for (int i = 0; i < 4; ++i) {
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
      }
      __syncthreads();  // the step is consumed before the next one overwrites it
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const long long row = r0 + 4 * ty + i;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const long long col = c0 + 4 * tx + j;
        if (row >= tokens || col >= hdk) continue;
        const float z = acc[i][j] + bias[col];
        q[row * hdk + col] = (z - mean[col]) / sqrtf(var[col] + eps) * gamma[col] + beta[col];
      }
    }
  }
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
  static ScratchBuffer query_scratch, score_scratch;
  float* q = query_scratch.get<float>(static_cast<std::size_t>(d.tokens * hdk),
                                      "cuda pkm_layer query scratch");
  float* s = score_scratch.get<float>(static_cast<std::size_t>(d.tokens * d.heads * d.k),
                                      "cuda pkm_layer score scratch");
  if (hdk > 0) {
    const dim3 grid(grid_x_or_throw(ceil_div(d.tokens, kBM), "cuda pkm_layer projection"),
                    strided_grid_yz(ceil_div(hdk, kBN)));
    project_bn<<<grid, kProjThreads>>>(x, w.w, w.b, w.bn_mean, w.bn_var, w.bn_gamma, w.bn_beta, q,
                                       d.tokens, din, hdk, eps);
    check_cuda(cudaGetLastError(), "cuda pkm_layer projection launch");
  }
  pkm_topk(q, w.k1, w.k2, s, indices, d);
  if (dv > 0) {
    const dim3 grid(grid_x_or_throw(d.tokens, "cuda pkm_layer readout"),
                    strided_grid_yz(ceil_div(dv, kReadThreads)));
    readout<<<grid, kReadThreads>>>(s, indices, w.values, y, static_cast<int>(d.heads),
                                    static_cast<int>(d.k), dv);
    check_cuda(cudaGetLastError(), "cuda pkm_layer readout launch");
  }
}

}  // namespace opbench::cuda
