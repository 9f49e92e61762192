#pragma once
// The device scratch of the pkm family's CUDA kernels (from the bound kernel's arena,
// harness/device.hpp: device_scratch) and the brute force's split of the keys into ranges, which
// sets its scratch. Host-only arithmetic, so that the planner's memory check and a host test use
// the very numbers the kernels take.
#include <algorithm>
#include <cstdint>

#include "kernels/cpu/pkm_types.hpp"

namespace opbench::cuda {

namespace bruteforce {
constexpr int kTokensPerBlock = 32;  // tokens per scan block
constexpr int kKeysPerTile = 128;    // keys per tile
constexpr int kMaxRanges = 64;       // ranges of keys per (token tile, head)
constexpr int kEntryBytes = 8;       // a list entry: float score, int index

struct Split {
  int ranges = 0;
  int keys_per_range = 0;
};

// About four blocks per multiprocessor when the tokens alone give fewer (a single token has only
// `heads` blocks), with at least one tile of keys per range. Needs d.n > 0 and d.tokens > 0.
inline Split split(const pkm::Dims& d, int multiprocessors) {
  const long long token_tiles = (d.tokens + kTokensPerBlock - 1) / kTokensPerBlock;
  const long long key_tiles = (d.keys() + kKeysPerTile - 1) / kKeysPerTile;
  const long long blocks = token_tiles * d.heads;
  const long long want =
      std::clamp<long long>((4LL * std::max(multiprocessors, 1) + blocks - 1) / blocks, 1,
                            std::min<long long>(kMaxRanges, key_tiles));
  const long long tiles_per_range = (key_tiles + want - 1) / want;
  Split s;
  s.ranges = static_cast<int>((key_tiles + tiles_per_range - 1) / tiles_per_range);
  s.keys_per_range = static_cast<int>(tiles_per_range * kKeysPerTile);
  return s;
}
}  // namespace bruteforce

// Bytes of device scratch for a shape. pkm_topk: the sub-key scores of both halves
// [2, heads, tokens, n]. The brute force: a sorted list of k entries per (range, token, head).
// The layer: its queries [tokens, heads * dk] and scores [tokens, heads, k], and pkm_topk's.
inline double pkm_topk_scratch_bytes(const pkm::Dims& d) {
  if (d.tokens <= 0 || d.heads <= 0) return 0;
  return 2.0 * static_cast<double>(d.heads) * static_cast<double>(d.tokens) *
         static_cast<double>(d.n) * sizeof(float);
}

inline double bruteforce_topk_scratch_bytes(const pkm::Dims& d, int multiprocessors) {
  if (d.tokens <= 0 || d.heads <= 0 || d.n <= 0 || d.k <= 0) return 0;
  return static_cast<double>(bruteforce::split(d, multiprocessors).ranges) *
         static_cast<double>(d.tokens) * static_cast<double>(d.heads) * static_cast<double>(d.k) *
         bruteforce::kEntryBytes;
}

inline double pkm_layer_scratch_bytes(const pkm::Dims& d) {
  if (d.tokens <= 0 || d.heads <= 0) return 0;
  const double rows = static_cast<double>(d.tokens) * static_cast<double>(d.heads);
  return rows * static_cast<double>(d.dk + d.k) * sizeof(float) + pkm_topk_scratch_bytes(d);
}

}  // namespace opbench::cuda
