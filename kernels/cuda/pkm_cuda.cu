// cuda.fast of the pkm family (see pkm_cuda.hpp).
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "harness/device.hpp"
#include "kernels/cuda/launch_geometry.hpp"
#include "kernels/cuda/launch_stream.hpp"
#include "kernels/cuda/pkm_cuda.hpp"
#include "kernels/cuda/pkm_select.hpp"
#include "kernels/cuda/pkm_tiles.hpp"

namespace opbench::cuda {
namespace {

constexpr int kTokensPerBlock = 16;
constexpr int kScoreThreads = 256;
constexpr int kWarpsPerBlock = 4;
constexpr int kMaxK = 256;
constexpr int kRowSlots = kMaxK / 32;                       // rows of the combination per lane
constexpr std::int64_t kMaxTokens = std::int64_t{1} << 30;  // tokens are numbered with ints

// Sub-key scores: sub[side][head][token][j] = q_half(token, head) . key_side[head][j]. Block
// (16 tokens, head, side); thread j of the block scores key j0 + j of each tile of kKeyTile keys
// for the 16 tokens. The tile's keys and the tokens' query halves are staged in shared memory a
// chunk of 32 dims at a time, by coalesced loads (pkm_tiles.hpp); each score sums its dims in order
// with fmaf, as a plain dot product does.
__global__ void __launch_bounds__(kScoreThreads)
    subkey_scores(const float* __restrict__ q, const float* __restrict__ k1,
                  const float* __restrict__ k2, float* __restrict__ sub, int tokens, int heads,
                  int n, int dk) {
  __shared__ float qs[kTokensPerBlock][kDimChunk];
  __shared__ float ks[kDimChunk][kKeyTile + 1];  // [dim][key], padded: conflict-free stores
  const int half = dk / 2;
  const int t0 = blockIdx.x * kTokensPerBlock;
  const int h = blockIdx.y;
  const int side = blockIdx.z;
  const int rows = min(kTokensPerBlock, tokens - t0);
  const float* keys = (side == 0 ? k1 : k2) + static_cast<std::int64_t>(h) * n * half;
  float* out = sub + (static_cast<std::int64_t>(side) * heads + h) * tokens * n;
  for (int j0 = 0; j0 < n; j0 += kKeyTile) {
    float acc[kTokensPerBlock];
#pragma unroll
    for (int r = 0; r < kTokensPerBlock; ++r) acc[r] = 0.0f;
    for (int d0 = 0; d0 < half; d0 += kDimChunk) {
      const int dims = min(kDimChunk, half - d0);
      // A warp reads 32 consecutive dims of a token's query half.
      for (int e = threadIdx.x; e < kTokensPerBlock * kDimChunk; e += kScoreThreads) {
        const int r = e / kDimChunk, c = e % kDimChunk;
        qs[r][c] =
            r < rows && c < dims
                ? q[(static_cast<std::int64_t>(t0 + r) * heads + h) * dk + side * half + d0 + c]
                : 0.0f;
      }
      for (int f = threadIdx.x; f < kKeyTile * dims; f += kScoreThreads) {
        const TileElement e = subkey_tile_element(f, dims);
        ks[e.dim][e.key] =
            j0 + e.key < n ? __ldg(keys + subkey_tile_offset(j0, d0, half, e)) : 0.0f;
      }
      __syncthreads();
      for (int e = 0; e < dims; ++e) {
        const float kv = ks[e][threadIdx.x];
#pragma unroll
        for (int r = 0; r < kTokensPerBlock; ++r) acc[r] = fmaf(qs[r][e], kv, acc[r]);
      }
      __syncthreads();  // the chunk is consumed before the next one overwrites it
    }
    const int j = j0 + threadIdx.x;
    if (j < n) {
#pragma unroll
      for (int r = 0; r < kTokensPerBlock; ++r) {  // a fixed trip count keeps acc in registers
        if (r < rows) out[static_cast<std::int64_t>(t0 + r) * n + j] = acc[r];
      }
    }
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
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const std::int64_t pair = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + warp;
  if (pair >= static_cast<std::int64_t>(tokens) * heads) return;
  const int t = static_cast<int>(pair / heads), h = static_cast<int>(pair % heads);
  const float* row1 = sub + (static_cast<std::int64_t>(h) * tokens + t) * n;
  const float* row2 = sub + (static_cast<std::int64_t>(heads + h) * tokens + t) * n;
  warp_topk(row1, n, k, av[warp], ai[warp], lane);
  warp_topk(row2, n, k, bv[warp], bi[warp], lane);
  const float* b = bv[warp];
  const int* ib = bi[warp];
  // Rows x = lane + 32 i of the combination belong to this lane, which keeps each one's state
  // (run start, b index taken) and head in registers (slots indexed at compile time).
  int run[kRowSlots], taken[kRowSlots];
  Scored head[kRowSlots];
#pragma unroll
  for (int i = 0; i < kRowSlots; ++i) {
    const int x = lane + 32 * i;
    run[i] = 0;
    taken[i] = -1;
    head[i] =
        x < k ? pkm_row_head(av[warp][x], static_cast<long long>(ai[warp][x]) * n, b, ib, k, 0, -1)
              : pkm_none();
  }
  float* out_s = scores + pair * k;
  std::int64_t* out_i = indices + pair * k;
  for (int m = 0; m < k; ++m) {
    // The best head of the rows is the next best of the combination.
    Scored mine = head[0];
#pragma unroll
    for (int i = 1; i < kRowSlots; ++i) {
      if (pkm_before(head[i], mine)) mine = head[i];
    }
    const Scored top = warp_best(mine);
    if (lane == 0) {
      out_s[m] = top.score;
      out_i[m] = top.index;
    }
    // The winning row advances (product indices of different rows differ).
#pragma unroll
    for (int i = 0; i < kRowSlots; ++i) {
      const int x = lane + 32 * i;
      if (x < k && head[i].index == top.index) {
        const float ax = av[warp][x];
        const long long base = static_cast<long long>(ai[warp][x]) * n;
        pkm_row_advance(ax, b, ib, k, run[i], taken[i], static_cast<int>(top.index - base));
        head[i] = pkm_row_head(ax, base, b, ib, k, run[i], taken[i]);
      }
    }
  }
}

}  // namespace

std::string pkm_topk_unsupported(const pkm::Dims& d) {
  if (d.k > kMaxK) {
    return "cuda.fast keeps each top-k list in shared memory: k <= " + std::to_string(kMaxK);
  }
  if (d.heads > kMaxGridYZ) {
    return "cuda.fast scores each head in its own grid row: heads <= " + std::to_string(kMaxGridYZ);
  }
  if (d.tokens > kMaxTokens) {
    return "cuda.fast numbers tokens with 32-bit integers: tokens <= 2^30";
  }
  return "";
}

void pkm_topk(const float* q, const float* k1, const float* k2, float* scores,
              std::int64_t* indices, const pkm::Dims& d) {
  if (std::string why = pkm_topk_unsupported(d); !why.empty()) throw std::invalid_argument(why);
  if (d.k < 1 || d.k > d.n) {
    throw std::invalid_argument("cuda pkm_topk: k = " + std::to_string(d.k) +
                                " must be between 1 and n = " + std::to_string(d.n));
  }
  if (d.tokens <= 0 || d.heads <= 0) return;
  // The bound kernel's arena (harness/device.hpp), pkm_topk_scratch_bytes in all.
  float* sub = device_scratch().get<float>("pkm_topk sub-key scores",
                                           static_cast<std::size_t>(2 * d.heads * d.tokens * d.n));
  const dim3 grid1(grid_x_or_throw(ceil_div(d.tokens, kTokensPerBlock), "cuda pkm_topk scores"),
                   static_cast<unsigned>(d.heads), 2);
  subkey_scores<<<grid1, kScoreThreads, 0, launch_stream()>>>(
      q, k1, k2, sub, static_cast<int>(d.tokens), static_cast<int>(d.heads), static_cast<int>(d.n),
      static_cast<int>(d.dk));
  check_cuda(cudaGetLastError(), "cuda pkm_topk sub-key scores launch");
  const std::int64_t pairs = d.tokens * d.heads;
  const unsigned blocks =
      grid_x_or_throw(ceil_div(pairs, kWarpsPerBlock), "cuda pkm_topk selection");
  select_combine<<<blocks, kWarpsPerBlock * 32, 0, launch_stream()>>>(
      sub, scores, indices, static_cast<int>(d.tokens), static_cast<int>(d.heads),
      static_cast<int>(d.n), static_cast<int>(d.k));
  check_cuda(cudaGetLastError(), "cuda pkm_topk selection launch");
}

}  // namespace opbench::cuda
