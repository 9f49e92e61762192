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
#include "kernels/cuda/pkm_select.hpp"

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

__device__ Scored warp_best(Scored b) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    const Scored o{__shfl_xor_sync(0xffffffffu, b.score, offset),
                   __shfl_xor_sync(0xffffffffu, b.index, offset)};
    if (pkm_before(o, b)) b = o;
  }
  return b;
}

// The k best of row[0..n) (only read), sorted in the order, into (vs, is): k rounds of warp argmax
// (pkm_select.hpp).
__device__ void warp_topk(const float* row, int n, int k, float* vs, int* is, int lane) {
  Scored mine = pkm_lane_best_after(row, n, lane, 32, pkm_first());
  for (int m = 0; m < k; ++m) {
    const Scored top = warp_best(mine);
    if (lane == 0) {
      vs[m] = top.score;
      is[m] = static_cast<int>(top.index);
    }
    if (top.index % 32 == lane) mine = pkm_lane_best_after(row, n, lane, 32, top);
  }
  __syncwarp();
}

__global__ void select_combine(const float* __restrict__ sub, float* __restrict__ scores,
                               std::int64_t* __restrict__ indices, int tokens, int heads, int n,
                               int k) {
  __shared__ float av[kWarpsPerBlock][kMaxK], bv[kWarpsPerBlock][kMaxK];
  __shared__ int ai[kWarpsPerBlock][kMaxK], bi[kWarpsPerBlock][kMaxK];
  // Row x of the combination: its state (run start, b index taken) and its cached head.
  __shared__ int run[kWarpsPerBlock][kMaxK], taken[kWarpsPerBlock][kMaxK];
  __shared__ float head_score[kWarpsPerBlock][kMaxK];
  __shared__ long long head_index[kWarpsPerBlock][kMaxK];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const std::int64_t pair = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + warp;
  if (pair >= static_cast<std::int64_t>(tokens) * heads) return;
  const int t = static_cast<int>(pair / heads), h = static_cast<int>(pair % heads);
  const float* row1 = sub + (static_cast<std::int64_t>(h) * tokens + t) * n;
  const float* row2 = sub + (static_cast<std::int64_t>(heads + h) * tokens + t) * n;
  warp_topk(row1, n, k, av[warp], ai[warp], lane);
  warp_topk(row2, n, k, bv[warp], bi[warp], lane);
  // Rows x = lane + 32 i belong to one lane, which alone reads and writes their state.
  for (int x = lane; x < k; x += 32) {
    run[warp][x] = 0;
    taken[warp][x] = -1;
    const Scored c = pkm_row_head(av[warp][x], static_cast<long long>(ai[warp][x]) * n, bv[warp],
                                  bi[warp], k, 0, -1);
    head_score[warp][x] = c.score;
    head_index[warp][x] = c.index;
  }
  float* out_s = scores + pair * k;
  std::int64_t* out_i = indices + pair * k;
  for (int m = 0; m < k; ++m) {
    // The best head of the rows is the next best of the combination.
    Scored mine = pkm_none();
    int mine_x = -1;
    for (int x = lane; x < k; x += 32) {
      const Scored c{head_score[warp][x], head_index[warp][x]};
      if (pkm_before(c, mine)) {
        mine = c;
        mine_x = x;
      }
    }
    const Scored top = warp_best(mine);
    if (lane == 0) {
      out_s[m] = top.score;
      out_i[m] = top.index;
    }
    // The winning row advances (product indices of different rows differ).
    if (mine_x >= 0 && mine.index == top.index) {
      const int x = mine_x;
      const float ax = av[warp][x];
      const long long base = static_cast<long long>(ai[warp][x]) * n;
      int p = run[warp][x], tk = taken[warp][x];
      pkm_row_advance(ax, bv[warp], bi[warp], k, p, tk, static_cast<int>(top.index - base));
      run[warp][x] = p;
      taken[warp][x] = tk;
      const Scored c = pkm_row_head(ax, base, bv[warp], bi[warp], k, p, tk);
      head_score[warp][x] = c.score;
      head_index[warp][x] = c.index;
    }
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
