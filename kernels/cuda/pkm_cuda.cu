// cuda.fast of the pkm family (see pkm_cuda.hpp).
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "harness/device.hpp"
#include "kernels/cuda/pkm_cuda.hpp"

namespace opbench::cuda {
namespace {

constexpr int kTokensPerBlock = 16;
constexpr int kScoreThreads = 256;
constexpr int kWarpsPerBlock = 4;
constexpr int kMaxK = 256;
constexpr int kMaxHalf = 512;
constexpr int kMaxGridY = 65535;  // the largest grid dimension y of a launch

// Sub-key scores: sub[side][head][token][j] = q_half(token, head) . key_side[head][j].
__global__ void subkey_scores(const float* __restrict__ q, const float* __restrict__ k1,
                              const float* __restrict__ k2, float* __restrict__ sub, int tokens,
                              int heads, int n, int dk) {
  __shared__ float qs[kTokensPerBlock * kMaxHalf];
  const int half = dk / 2;
  const int t0 = blockIdx.x * kTokensPerBlock;
  const int h = blockIdx.y;
  const int side = blockIdx.z;
  const int rows = min(kTokensPerBlock, tokens - t0);
  for (int e = threadIdx.x; e < kTokensPerBlock * half; e += blockDim.x) {
    const int r = e / half, c = e % half;
    qs[e] =
        r < rows ? q[(static_cast<std::int64_t>(t0 + r) * heads + h) * dk + side * half + c] : 0.0f;
  }
  __syncthreads();
  const float* keys = (side == 0 ? k1 : k2) + static_cast<std::int64_t>(h) * n * half;
  float* out = sub + (static_cast<std::int64_t>(side) * heads + h) * tokens * n;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    const float* key = keys + static_cast<std::int64_t>(j) * half;
    float acc[kTokensPerBlock];
#pragma unroll
    for (int r = 0; r < kTokensPerBlock; ++r) acc[r] = 0.0f;
    for (int e = 0; e < half; ++e) {
      const float kv = __ldg(key + e);
#pragma unroll
      for (int r = 0; r < kTokensPerBlock; ++r) acc[r] = fmaf(qs[r * half + e], kv, acc[r]);
    }
    for (int r = 0; r < rows; ++r) out[static_cast<std::int64_t>(t0 + r) * n + j] = acc[r];
  }
}

struct Best {
  float score;
  long long index;
};

__device__ bool before(const Best& a, const Best& b) {
  return a.score > b.score || (a.score == b.score && a.index < b.index);
}

__device__ Best warp_best(Best b) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    Best o{__shfl_xor_sync(0xffffffffu, b.score, offset),
           __shfl_xor_sync(0xffffffffu, b.index, offset)};
    if (before(o, b)) b = o;
  }
  return b;
}

constexpr float kNone = -3.402823466e38f;  // below any score; taken entries are set to it

__device__ Best lane_best(const float* row, int n, int lane) {
  Best b{kNone, 0x7fffffffffffffffLL};
  for (int j = lane; j < n; j += 32) {
    Best c{row[j], j};
    if (before(c, b)) b = c;
  }
  return b;
}

// The k best of row[0..n) (destroyed: taken entries are overwritten), sorted, into (vs, is).
__device__ void warp_topk(float* row, int n, int k, float* vs, int* is, int lane) {
  Best mine = lane_best(row, n, lane);
  for (int m = 0; m < k; ++m) {
    const Best top = warp_best(mine);
    if (lane == 0) {
      vs[m] = top.score;
      is[m] = static_cast<int>(top.index);
    }
    if (static_cast<int>(top.index % 32) == lane) {
      row[top.index] = kNone;
      mine = lane_best(row, n, lane);
    }
  }
  __syncwarp();
}

__global__ void select_combine(float* __restrict__ sub, float* __restrict__ scores,
                               std::int64_t* __restrict__ indices, int tokens, int heads, int n,
                               int k) {
  __shared__ float av[kWarpsPerBlock][kMaxK], bv[kWarpsPerBlock][kMaxK];
  __shared__ int ai[kWarpsPerBlock][kMaxK], bi[kWarpsPerBlock][kMaxK], next[kWarpsPerBlock][kMaxK];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const std::int64_t pair = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + warp;
  if (pair >= static_cast<std::int64_t>(tokens) * heads) return;
  const int t = static_cast<int>(pair / heads), h = static_cast<int>(pair % heads);
  float* row1 = sub + (static_cast<std::int64_t>(h) * tokens + t) * n;
  float* row2 = sub + (static_cast<std::int64_t>(heads + h) * tokens + t) * n;
  warp_topk(row1, n, k, av[warp], ai[warp], lane);
  warp_topk(row2, n, k, bv[warp], bi[warp], lane);
  for (int x = lane; x < k; x += 32) next[warp][x] = 0;
  __syncwarp();
  float* out_s = scores + pair * k;
  std::int64_t* out_i = indices + pair * k;
  for (int m = 0; m < k; ++m) {
    // Row x's head is (x, next[x]); rows are sorted along y, so the best head is the next best.
    Best mine{kNone, 0x7fffffffffffffffLL};
    for (int x = lane; x < k; x += 32) {
      const int y = next[warp][x];
      if (y < k) {
        Best c{av[warp][x] + bv[warp][y], static_cast<long long>(ai[warp][x]) * n + bi[warp][y]};
        if (before(c, mine)) mine = c;
      }
    }
    const Best top = warp_best(mine);
    if (lane == 0) {
      out_s[m] = top.score;
      out_i[m] = top.index;
    }
    // The winning row advances; its lane (rows x = lane + 32 i belong to one lane) moves it.
    if (mine.index == top.index && mine.score == top.score) {
      for (int x = lane; x < k; x += 32) {
        const int y = next[warp][x];
        if (y < k && static_cast<long long>(ai[warp][x]) * n + bi[warp][y] == top.index) {
          next[warp][x] = y + 1;
        }
      }
    }
    __syncwarp();
  }
}

// Scratch for the sub-key scores: grown when a larger case comes (cudaMalloc synchronizes, but
// only on the first run of a shape, which the timing never sees: the runner checks first).
float* scratch(std::size_t floats) {
  static float* buffer = nullptr;
  static std::size_t capacity = 0;
  if (floats > capacity) {
    if (buffer) check_cuda(cudaFree(buffer), "cuda pkm_topk scratch free");
    check_cuda(cudaMalloc(&buffer, floats * sizeof(float)), "cuda pkm_topk scratch");
    capacity = floats;
  }
  return buffer;
}

}  // namespace

std::string pkm_topk_unsupported(const pkm::Dims& d) {
  if (d.dk > 2 * kMaxHalf) {
    return "cuda.fast keeps a query half in shared memory: dk <= " + std::to_string(2 * kMaxHalf);
  }
  if (d.k > kMaxK) {
    return "cuda.fast keeps each top-k list in shared memory: k <= " + std::to_string(kMaxK);
  }
  if (d.heads > kMaxGridY) {
    return "cuda.fast scores each head in its own grid row: heads <= " + std::to_string(kMaxGridY);
  }
  return "";
}

void pkm_topk(const float* q, const float* k1, const float* k2, float* scores,
              std::int64_t* indices, const pkm::Dims& d) {
  if (std::string why = pkm_topk_unsupported(d); !why.empty()) throw std::invalid_argument(why);
  if (d.tokens <= 0 || d.heads <= 0) return;
  float* sub = scratch(static_cast<std::size_t>(2 * d.heads * d.tokens * d.n));
  const dim3 grid1(static_cast<unsigned>((d.tokens + kTokensPerBlock - 1) / kTokensPerBlock),
                   static_cast<unsigned>(d.heads), 2);
  subkey_scores<<<grid1, kScoreThreads>>>(q, k1, k2, sub, static_cast<int>(d.tokens),
                                          static_cast<int>(d.heads), static_cast<int>(d.n),
                                          static_cast<int>(d.dk));
  check_cuda(cudaGetLastError(), "cuda pkm_topk sub-key scores launch");
  const std::int64_t pairs = d.tokens * d.heads;
  const auto blocks = static_cast<unsigned>((pairs + kWarpsPerBlock - 1) / kWarpsPerBlock);
  select_combine<<<blocks, kWarpsPerBlock * 32>>>(sub, scores, indices, static_cast<int>(d.tokens),
                                                  static_cast<int>(d.heads), static_cast<int>(d.n),
                                                  static_cast<int>(d.k));
  check_cuda(cudaGetLastError(), "cuda pkm_topk selection launch");
}

}  // namespace opbench::cuda
