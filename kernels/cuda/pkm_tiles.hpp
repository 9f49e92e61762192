#pragma once
// How pkm_cuda.cu's sub-key scores stage a tile of sub-keys in shared memory, kept here so that a
// host-only test checks that a warp's loads are coalesced.
//
// A tile is kKeyTile consecutive sub-keys j0.. of one (head, side), whose rows keys[j][half] are
// contiguous in memory, times one chunk of dims d0 .. d0 + dims (dims = min(kDimChunk, half - d0)).
// Element f of the tile (f < kKeyTile * dims) is dim f % dims of key f / dims: the threads of a
// block take consecutive f, so the 32 lanes of a warp read 32 consecutive floats of one key row
// when dims = 32 (a 128-byte run), and when the chunk spans whole rows (dims = half <= 32) the
// whole tile is one contiguous block of memory. (Each lane walking a key row of its own, as the
// first version did, touches 32 rows per warp load.)
#include <cstdint>

#include "kernels/cuda/host_device.hpp"

namespace opbench::cuda {

constexpr int kKeyTile = 256;  // sub-keys per tile: one per thread of a scoring block
constexpr int kDimChunk = 32;  // dims per staged chunk

struct TileElement {
  int key;  // within the tile
  int dim;  // within the chunk
};

OPBENCH_HD TileElement subkey_tile_element(int f, int dims) {
  return dims == kDimChunk ? TileElement{f / kDimChunk, f % kDimChunk}
                           : TileElement{f / dims, f % dims};
}

// Offset of a tile element in the (head, side)'s sub-key rows keys[n][half].
OPBENCH_HD std::int64_t subkey_tile_offset(int j0, int d0, int half, TileElement e) {
  return static_cast<std::int64_t>(j0 + e.key) * half + d0 + e.dim;
}

}  // namespace opbench::cuda
