// cuda.fast of bruteforce_topk, the exact baseline of the product-key search (see pkm_cuda.hpp).
//
// Every one of the N = n * n product keys is scored by its full dk-dimensional dot product, as an
// exhaustive (flat) index does, never by reusing half-dot products across keys: the work is a
// GEMM of the queries against the N keys of each head, then a top-k per row. The keys are never
// stored whole: each tile of 128 keys is assembled in shared memory from the sub-key rows it
// concatenates (key i * n + j is [k1_i ; k2_j]).
//
// Launch 1 (scan): block (32 tokens, head, range of keys) walks its range in tiles of 128 keys.
// 256 threads compute the 32 x 128 scores of a tile (each 4 tokens x 4 keys, dims in chunks of
// 32 through shared memory); then warp w keeps the running top-k of tokens 4w..4w+3: the tile's
// scores that come before the token's current k-th entry are merged into its sorted list (in
// global scratch, one per range) by counting ranks. Past the first tiles hardly any score beats
// the k-th, so the merge is rare and the GEMM dominates.
// Launch 2 (merge): one warp per (token, head) merges the sorted lists of the ranges by k rounds
// of warp argmax over their heads. The ranges exist so that a few tokens still fill the device.
//
// Order: larger score first, equal scores by the smaller index, everywhere, so the result does
// not depend on the number of ranges or on which lane saw a key first.
#include <cuda_runtime.h>

#include <algorithm>
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
#include "kernels/cuda/pkm_scratch.hpp"
#include "kernels/cuda/pkm_select.hpp"

namespace opbench::cuda {
namespace {

constexpr int kThreads = 256;                     // threads of a scan block
constexpr int kWarps = kThreads / 32;             // warps of a scan block
constexpr int kTM = bruteforce::kTokensPerBlock;  // tokens per scan block (pkm_scratch.hpp)
constexpr int kTN = bruteforce::kKeysPerTile;     // keys per tile
constexpr int kDC = 32;                           // dims per shared-memory chunk
constexpr int kTokensPerWarp = kTM / kWarps;      // 4: a warp's tokens are its GEMM rows too
constexpr int kMaxK = 256;
constexpr int kListSlots = kMaxK / 32;  // list entries per lane during a merge
constexpr int kCandSlots = kTN / 32;    // tile columns per lane during a merge
constexpr int kMaxRanges = bruteforce::kMaxRanges;
constexpr int kRangeSlots = kMaxRanges / 32;
constexpr int kMergeWarps = 4;
constexpr long long kMaxKeys = 1LL << 30;  // keeps every key number and range bound in an int

static_assert(kTM == 4 * kWarps && kTN == 4 * 32, "each thread computes 4 tokens x 4 keys");
static_assert(kDC == 32, "a warp loads one 32-dim chunk of a row, one dim per lane");

struct Entry {
  float score;
  int index;
};
static_assert(sizeof(Entry) == bruteforce::kEntryBytes, "pkm_scratch.hpp counts 8-byte entries");

// The order of pkm_select.hpp (NaN sorts with -inf), so that it stays total (ranks are a
// permutation and every output position is written) whatever the inputs hold.
__device__ __forceinline__ bool before(float sa, int ia, float sb, int ib) {
  return pkm_before(sa, ia, sb, ib);
}

// How many entries of the sorted list[0, cnt) come before (s, i).
__device__ int rank_in_list(const Entry* list, int cnt, float s, int i) {
  int lo = 0, hi = cnt;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    const Entry e = list[mid];
    if (before(e.score, e.index, s, i)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// One token's running top-k: `cnt` entries of `list` (sorted), and its k-th entry once full.
struct Running {
  int cnt;
  float kth_score;
  int kth_index;
  __device__ bool admits(float s, int i, int k) const {
    return cnt < k || before(s, i, kth_score, kth_index);
  }
};

// Warp-wide: merges the columns of one token's score row (`row`, shared memory; keys tile0 + c
// for c < valid) that the running list admits into that list, keeping its k best in order. Each
// entry's new position is its rank in the union (entries of the list before it, plus admitted
// columns before it); ranks of a total order are distinct, so positions 0..min(k, size)-1 are
// each written once. All lanes read the old list before any lane writes the new one.
__device__ void merge_row(const float* row, int valid, int tile0, Entry* list, int k, Running& run,
                          int lane) {
  const Running old = run;
  bool cand[kCandSlots];
  float cs[kCandSlots];
  int ci[kCandSlots], cr[kCandSlots];
  int admitted = 0;
#pragma unroll
  for (int b = 0; b < kCandSlots; ++b) {
    const int c = lane + 32 * b;
    cs[b] = c < valid ? row[c] : 0.0f;
    ci[b] = tile0 + c;
    cand[b] = c < valid && old.admits(cs[b], ci[b], k);
    admitted += __popc(__ballot_sync(0xffffffffu, cand[b]));
  }
  if (admitted == 0) return;  // the common case once the list is full

  Entry le[kListSlots];
  int lr[kListSlots];
#pragma unroll
  for (int a = 0; a < kListSlots; ++a) {
    const int p = lane + 32 * a;
    le[a] = p < old.cnt ? list[p] : Entry{0.0f, 0};
    lr[a] = p;
  }
#pragma unroll
  for (int b = 0; b < kCandSlots; ++b) {
    cr[b] = cand[b] ? rank_in_list(list, old.cnt, cs[b], ci[b]) : 0;
  }
  // Admitted columns before each entry (the same c2 on every lane: shared-memory broadcasts).
  for (int c2 = 0; c2 < valid; ++c2) {
    const float s2 = row[c2];
    const int i2 = tile0 + c2;
    if (!old.admits(s2, i2, k)) continue;
#pragma unroll
    for (int a = 0; a < kListSlots; ++a) {
      if (lane + 32 * a < old.cnt && before(s2, i2, le[a].score, le[a].index)) ++lr[a];
    }
#pragma unroll
    for (int b = 0; b < kCandSlots; ++b) {
      if (cand[b] && before(s2, i2, cs[b], ci[b])) ++cr[b];
    }
  }
  __syncwarp();
#pragma unroll
  for (int a = 0; a < kListSlots; ++a) {
    if (lane + 32 * a < old.cnt && lr[a] < k) list[lr[a]] = le[a];
  }
#pragma unroll
  for (int b = 0; b < kCandSlots; ++b) {
    if (cand[b] && cr[b] < k) list[cr[b]] = Entry{cs[b], ci[b]};
  }
  __syncwarp();
  run.cnt = min(k, old.cnt + admitted);
  if (run.cnt == k) {
    const Entry last = list[k - 1];
    run.kth_score = last.score;
    run.kth_index = last.index;
  }
}

// One 32-dim chunk of the tile's queries (qs[dim][token]) and keys (ks[dim][key]) into shared
// memory; a warp reads 32 consecutive dims of a row (coalesced). Rows past the tokens or keys,
// and dims past dk, are zeros: they add nothing to a dot product.
__device__ void load_chunk(const float* __restrict__ q, const float* __restrict__ k1,
                           const float* __restrict__ k2, const long long* off1,
                           const long long* off2, float (*qs)[kTM + 4], float (*ks)[kTN + 4],
                           long long t0, long long tokens, int heads, int h, int dk, int d0,
                           int warp, int lane) {
  const int d = d0 + lane;
  const int half = dk / 2;
#pragma unroll
  for (int r = 0; r < kTM / kWarps; ++r) {
    const int tt = warp + kWarps * r;
    const long long t = t0 + tt;
    qs[lane][tt] = t < tokens && d < dk ? q[(t * heads + h) * dk + d] : 0.0f;
  }
#pragma unroll
  for (int r = 0; r < kTN / kWarps; ++r) {
    const int c = warp + kWarps * r;
    float v = 0.0f;
    if (off1[c] >= 0 && d < dk) v = d < half ? k1[off1[c] + d] : k2[off2[c] + (d - half)];
    ks[lane][c] = v;
  }
}

__global__ void __launch_bounds__(kThreads)
    scan_keys(const float* __restrict__ q, const float* __restrict__ k1,
              const float* __restrict__ k2, Entry* lists, long long tokens, int heads, int n,
              int dk, int k, int keys_per_range) {
  // Rows padded by 4 floats: 16-byte aligned for float4 reads, and the column-wise stores of a
  // chunk spread over 8 banks instead of 1.
  __shared__ __align__(16) float qs[kDC][kTM + 4];
  __shared__ __align__(16) float ks[kDC][kTN + 4];
  __shared__ __align__(16) float tile[kTM][kTN];
  __shared__ long long off1[kTN], off2[kTN];  // sub-key row offsets of the tile's keys; -1: none
  __shared__ Running state[kTM];  // token tt's running list; read by all lanes of its warp
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const long long t0 = static_cast<long long>(blockIdx.x) * kTM;
  const int h = blockIdx.y;
  const int total = n * n;
  const int begin = static_cast<int>(blockIdx.z) * keys_per_range;
  const int end = min(total, begin + keys_per_range);
  const int half = dk / 2;
  const long long rows = tokens * heads;

  if (threadIdx.x < kTM) state[threadIdx.x] = Running{0, 0.0f, 0};  // read after a sync below

  for (int tile0 = begin; tile0 < end; tile0 += kTN) {
    const int valid = min(kTN, end - tile0);
    if (threadIdx.x < kTN) {
      const int c = threadIdx.x;
      const int idx = tile0 + c, i = idx / n, j = idx - i * n;
      off1[c] = c < valid ? (static_cast<long long>(h) * n + i) * half : -1;
      off2[c] = c < valid ? (static_cast<long long>(h) * n + j) * half : -1;
    }
    __syncthreads();  // also: every warp is done with the previous tile's offsets
    float acc[4][4] = {};
    for (int d0 = 0; d0 < dk; d0 += kDC) {
      load_chunk(q, k1, k2, off1, off2, qs, ks, t0, tokens, heads, h, dk, d0, warp, lane);
      __syncthreads();
#pragma unroll
      for (int e = 0; e < kDC; ++e) {
        const float4 a = *reinterpret_cast<const float4*>(&qs[e][4 * warp]);
        const float4 b = *reinterpret_cast<const float4*>(&ks[e][4 * lane]);
        const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
        for (int i = 0; i < 4; ++i) {
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
      }
      __syncthreads();  // the chunk is consumed before the next one overwrites it
    }
    // The previous tile's merges finished before the last __syncthreads of the chunk loop.
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      *reinterpret_cast<float4*>(&tile[4 * warp + i][4 * lane]) =
          make_float4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
    }
    __syncthreads();
#pragma unroll 1
    for (int a = 0; a < kTokensPerWarp; ++a) {
      const int tt = kTokensPerWarp * warp + a;
      const long long t = t0 + tt;
      if (t >= tokens) continue;  // warp-uniform
      Entry* list = lists + (static_cast<long long>(blockIdx.z) * rows + t * heads + h) * k;
      Running run = state[tt];
      merge_row(tile[tt], valid, tile0, list, k, run, lane);
      __syncwarp();  // every lane has read state[tt] before lane 0 replaces it
      if (lane == 0) state[tt] = run;
    }
  }
}

// Warp per (token, head): the k best of the ranges' sorted lists, by k rounds of warp argmax over
// the lists' heads (lane owns ranges lane and lane + 32). Keys of different ranges differ, so
// exactly one head matches each round's winner and advances.
__global__ void merge_ranges(const Entry* __restrict__ lists, float* __restrict__ scores,
                             std::int64_t* __restrict__ indices, long long rows, int ranges,
                             int keys_per_range, int total, int k) {
  const int lane = threadIdx.x % 32;
  const long long row = static_cast<long long>(blockIdx.x) * kMergeWarps + threadIdx.x / 32;
  if (row >= rows) return;  // warp-uniform
  int pos[kRangeSlots], cnt[kRangeSlots];
  Entry head[kRangeSlots];
  const Entry* list[kRangeSlots];
#pragma unroll
  for (int b = 0; b < kRangeSlots; ++b) {
    const int r = lane + 32 * b;
    pos[b] = 0;
    cnt[b] = 0;
    list[b] = lists;
    head[b] = Entry{0.0f, -1};
    if (r < ranges) {
      const long long first = static_cast<long long>(r) * keys_per_range;
      const long long size = min(static_cast<long long>(total), first + keys_per_range) - first;
      cnt[b] = static_cast<int>(min(static_cast<long long>(k), size));
      list[b] = lists + (static_cast<long long>(r) * rows + row) * k;
      head[b] = list[b][0];
    }
  }
  float* out_s = scores + row * k;
  std::int64_t* out_i = indices + row * k;
  for (int m = 0; m < k; ++m) {
    float ms = 0.0f;
    int mi = -1;  // -1: this lane has nothing left
#pragma unroll
    for (int b = 0; b < kRangeSlots; ++b) {
      if (pos[b] < cnt[b] && (mi < 0 || before(head[b].score, head[b].index, ms, mi))) {
        ms = head[b].score;
        mi = head[b].index;
      }
    }
    for (int offset = 16; offset > 0; offset >>= 1) {
      const float os = __shfl_xor_sync(0xffffffffu, ms, offset);
      const int oi = __shfl_xor_sync(0xffffffffu, mi, offset);
      if (oi >= 0 && (mi < 0 || before(os, oi, ms, mi))) {
        ms = os;
        mi = oi;
      }
    }
    if (lane == 0) {
      out_s[m] = ms;
      out_i[m] = mi;
    }
#pragma unroll
    for (int b = 0; b < kRangeSlots; ++b) {
      if (pos[b] < cnt[b] && head[b].index == mi) {
        ++pos[b];
        if (pos[b] < cnt[b]) head[b] = list[b][pos[b]];
      }
    }
  }
}

int multiprocessors() {
  static const int count = [] {
    int device = 0, value = 0;
    check_cuda(cudaGetDevice(&device), "cuda bruteforce_topk: cudaGetDevice");
    check_cuda(cudaDeviceGetAttribute(&value, cudaDevAttrMultiProcessorCount, device),
               "cuda bruteforce_topk: multiprocessor count");
    return std::max(value, 1);
  }();
  return count;
}

}  // namespace

double bruteforce_topk_scratch_bytes(const pkm::Dims& d) {
  int sms = kMaxRanges * 32;  // no device to ask: as many ranges as any shape takes
  try {
    sms = multiprocessors();
  } catch (const std::exception&) {
  }
  return bruteforce_topk_scratch_bytes(d, sms);
}

std::string bruteforce_topk_unsupported(const pkm::Dims& d) {
  if (d.k > kMaxK) {
    return "cuda.fast keeps each running top-k list in a warp's registers: k <= " +
           std::to_string(kMaxK);
  }
  if (d.keys() > kMaxKeys) {
    return "cuda.fast numbers product keys with 32-bit integers: keys <= 2^30 (sqrt(keys) <= "
           "32768)";
  }
  if (d.heads > kMaxGridYZ) {
    return "cuda.fast scans each head in its own grid row: heads <= " + std::to_string(kMaxGridYZ);
  }
  return "";
}

void bruteforce_topk(const float* q, const float* k1, const float* k2, float* scores,
                     std::int64_t* indices, const pkm::Dims& d) {
  if (std::string why = bruteforce_topk_unsupported(d); !why.empty()) {
    throw std::invalid_argument(why);
  }
  if (d.tokens <= 0 || d.heads <= 0 || d.n <= 0 || d.k <= 0) return;
  const long long rows = d.tokens * d.heads;
  const long long token_tiles = (d.tokens + kTM - 1) / kTM;
  const int total = static_cast<int>(d.keys());
  const bruteforce::Split split = bruteforce::split(d, multiprocessors());
  const int ranges = split.ranges;
  const int keys_per_range = split.keys_per_range;

  // The bound kernel's arena (harness/device.hpp), bruteforce_topk_scratch_bytes in all.
  Entry* lists = device_scratch().get<Entry>("bruteforce_topk lists",
                                             static_cast<std::size_t>(ranges) * rows * d.k);
  const dim3 grid(grid_x_or_throw(token_tiles, "cuda bruteforce_topk scan"),
                  static_cast<unsigned>(d.heads), static_cast<unsigned>(ranges));
  scan_keys<<<grid, kThreads, 0, launch_stream()>>>(
      q, k1, k2, lists, d.tokens, static_cast<int>(d.heads), static_cast<int>(d.n),
      static_cast<int>(d.dk), static_cast<int>(d.k), keys_per_range);
  check_cuda(cudaGetLastError(), "cuda bruteforce_topk scan launch");
  const unsigned merge_blocks =
      grid_x_or_throw(ceil_div(rows, kMergeWarps), "cuda bruteforce_topk merge");
  merge_ranges<<<merge_blocks, kMergeWarps * 32, 0, launch_stream()>>>(
      lists, scores, indices, rows, ranges, keys_per_range, total, static_cast<int>(d.k));
  check_cuda(cudaGetLastError(), "cuda bruteforce_topk merge launch");
}

}  // namespace opbench::cuda
