#pragma once
// Launch geometry of the cuda.fast kernels under the device's grid limits: grid.x at most
// 2^31 - 1 blocks, grid.y and grid.z at most 65535. A launch whose tiles exceed a limit either
// strides (the grid holds at most the limit, and block b of the dimension takes tiles
// b, b + grid, b + 2 grid, ...) or is refused on the host with one line naming the limit, never
// launched into a failed launch. Host-only tests (tests/test_kernels_cuda_host.cpp) check the
// arithmetic here.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda/host_device.hpp"

namespace opbench::cuda {

constexpr std::int64_t kMaxGridX = 2147483647;  // 2^31 - 1
constexpr std::int64_t kMaxGridYZ = 65535;

OPBENCH_HD std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b;
}

// grid.y (or grid.z) for `tiles` tiles taken by a grid-stride loop over that dimension: all of
// them when they fit, else the limit. At least 1, so that a launch over no tiles stays valid.
OPBENCH_HD unsigned strided_grid_yz(std::int64_t tiles) {
  return static_cast<unsigned>(tiles < 1 ? 1 : (tiles < kMaxGridYZ ? tiles : kMaxGridYZ));
}

// The tiles that block `block` of a grid-stride dimension of `grid` blocks takes: first, then every
// `grid` more, while below `tiles`. (How the kernels loop; here so that the host can check that
// every tile is taken exactly once.)
OPBENCH_HD std::int64_t strided_tile_count(std::int64_t block, std::int64_t grid,
                                           std::int64_t tiles) {
  return block < tiles ? (tiles - block + grid - 1) / grid : 0;
}

// grid.x for `blocks` blocks of a one-dimensional launch; throws std::invalid_argument naming the
// launch when they are more than grid.x takes.
inline unsigned grid_x_or_throw(std::int64_t blocks, const char* what) {
  if (blocks > kMaxGridX) {
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(blocks) +
                                " blocks, more than one launch takes (2^31 - 1)");
  }
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks);
}

}  // namespace opbench::cuda
