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
constexpr std::int64_t kMaxBlasInt = 2147483647;  // cuBLAS's sizes and leading dimensions are ints

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

// Rows of a row-major GEMM (inner and cols each at most kMaxBlasInt) per cuBLAS call: as many as
// keep every operand of one call under 2^31 elements, so that no 32-bit size or offset overflows;
// at least 1.
OPBENCH_HD std::int64_t gemm_rows_per_call(std::int64_t inner, std::int64_t cols) {
  const std::int64_t widest = inner > cols ? inner : cols;
  const std::int64_t rows = widest > 0 ? kMaxBlasInt / widest : kMaxBlasInt;
  return rows > 0 ? rows : 1;
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
