// cuda.fast LayerNorm and RMSNorm forward, float32 (equations in reference/norm.hpp).
//
// Memory-bound: each element of x is read once from device memory and each element of y written
// once; gamma and beta are re-read by every row but stay in L1/L2. Three shapes of kernel:
//
//   cols <= 1024          one lane group per row (4..32 lanes of a warp, 128-thread blocks), the
//                         row held in registers, reductions by warp shuffles only;
//   1024 < cols <= 16384  one block per row (96..512 threads, sized so that each thread holds a
//   (8192 unvectorized)   fixed number of items), the row in registers, warp shuffles then one
//                         shared-memory exchange per reduction;
//   larger                one 512-thread block per row looping over the row in global memory
//                         (a mean pass, a deviation pass, an output pass; the re-reads mostly hit
//                         L2).
//
// Loads and stores are 16-byte float4 when cols % 4 == 0 and every pointer is 16-byte aligned,
// else scalar (still coalesced).
//
// LayerNorm statistics are the corrected two-pass algorithm (Chan, Golub, LeVeque 1983): pass 1
// gives the float mean m of the row; pass 2 sums d = x - m and d^2. m is off from the true mean
// by rounding (half an ulp of m alone is 5e-4 for rows near 1e4, as much as the whole tolerance),
// but d is exact or nearly so and c = sum(d) / cols measures that error, so the output uses
// d - c and the variance sum(d^2) / cols - c^2, where c^2 is tiny next to the variance (no
// cancellation, unlike E[x^2] - E[x]^2). RMSNorm needs only the mean of x^2.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "harness/device.hpp"
#include "kernels/cuda/float_vectors.hpp"
#include "kernels/cuda/launch_stream.hpp"
#include "kernels/cuda/norm_cuda.hpp"

namespace opbench::cuda {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarpPathBlock = 128;  // threads per block of the lane-group kernels
constexpr int kMaxRowBlock = 512;    // most threads per block of the block-per-row kernels
constexpr int kLoopBlock = 512;      // threads per block of the looping kernel

// Sums over aligned groups of LANES lanes (a power of two <= 32); every lane of the warp takes
// part and every lane of a group gets the group's sums.
template <int LANES>
__device__ __forceinline__ void group_sum(float& a) {
#pragma unroll
  for (int o = LANES / 2; o > 0; o >>= 1) a += __shfl_xor_sync(kFullMask, a, o);
}
template <int LANES>
__device__ __forceinline__ void group_sum(float& a, float& b) {
#pragma unroll
  for (int o = LANES / 2; o > 0; o >>= 1) {
    a += __shfl_xor_sync(kFullMask, a, o);
    b += __shfl_xor_sync(kFullMask, b, o);
  }
}

// Sums over the whole block (blockDim.x a multiple of 32, at most 1024). `slot` (32 entries) must
// not be reused by another reduction without a barrier in between. Every warp reduces the
// partials in the same order, so every thread gets the same sums bit for bit.
__device__ __forceinline__ void block_sum(float& a, float* slot) {
  group_sum<32>(a);
  const int lane = threadIdx.x & 31;
  if (lane == 0) slot[threadIdx.x >> 5] = a;
  __syncthreads();
  a = lane < static_cast<int>(blockDim.x >> 5) ? slot[lane] : 0.0f;
  group_sum<32>(a);
}
__device__ __forceinline__ void block_sum(float& a, float& b, float2* slot) {
  group_sum<32>(a, b);
  const int lane = threadIdx.x & 31;
  if (lane == 0) slot[threadIdx.x >> 5] = make_float2(a, b);
  __syncthreads();
  const float2 p = lane < static_cast<int>(blockDim.x >> 5) ? slot[lane] : make_float2(0.f, 0.f);
  a = p.x;
  b = p.y;
  group_sum<32>(a, b);
}

// The row in registers. LANES > 0: groups of LANES lanes, one row each, blockDim.x / LANES rows
// per block. LANES == 0: one block per row. Thread t of a row's nt threads holds the VEC-wide
// items at elements (i * nt + t) * VEC, i < ITEMS; ITEMS * nt * VEC >= cols.
template <bool RMS, int VEC, int ITEMS, int LANES>
__global__ void __launch_bounds__(LANES > 0 ? kWarpPathBlock : kMaxRowBlock)
    norm_rows_in_registers(const float* __restrict__ x, const float* __restrict__ gamma,
                           const float* __restrict__ beta, float* __restrict__ y, std::int64_t rows,
                           int cols, float eps) {
  std::int64_t row;
  int t, nt;
  if constexpr (LANES > 0) {
    row = static_cast<std::int64_t>(blockIdx.x) * (blockDim.x / LANES) + threadIdx.x / LANES;
    t = threadIdx.x % LANES;
    nt = LANES;
  } else {
    row = blockIdx.x;
    t = threadIdx.x;
    nt = blockDim.x;
  }
  // Lane groups past the last row still take part in the shuffles; they load and store nothing.
  const bool active = row < rows;
  const float* __restrict__ xr = x + (active ? row : 0) * cols;
  float* __restrict__ yr = y + (active ? row : 0) * cols;

  // Every load issued before the first use; items past the row end are zero.
  float v[ITEMS][VEC];
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    const int idx = (i * nt + t) * VEC;
    if (active && idx < cols) {
      load_vec<VEC>(xr + idx, v[i]);
    } else {
#pragma unroll
      for (int k = 0; k < VEC; ++k) v[i][k] = 0.0f;
    }
  }

  // Pass 1: sum of x (LayerNorm) or of x^2 (RMSNorm); the zero items add nothing.
  float s = 0.0f;
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      if constexpr (RMS) {
        s = fmaf(v[i][k], v[i][k], s);
      } else {
        s += v[i][k];
      }
    }
  }
  if constexpr (LANES > 0) {
    group_sum<LANES>(s);
  } else {
    __shared__ float red_s[32];
    block_sum(s, red_s);
  }

  float corr = 0.0f;  // LayerNorm: true mean - float mean
  float rstd;
  if constexpr (RMS) {
    rstd = rsqrtf(s / static_cast<float>(cols) + eps);
  } else {
    // Pass 2: deviations from the float mean, kept in v.
    const float mean = s / static_cast<float>(cols);
    float c = 0.0f, q = 0.0f;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int idx = (i * nt + t) * VEC;
      if (active && idx < cols) {
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          v[i][k] -= mean;
          c += v[i][k];
          q = fmaf(v[i][k], v[i][k], q);
        }
      }
    }
    if constexpr (LANES > 0) {
      group_sum<LANES>(c, q);
    } else {
      __shared__ float2 red_cq[32];  // a second slot: no barrier needed between the reductions
      block_sum(c, q, red_cq);
    }
    corr = c / static_cast<float>(cols);
    const float var = fmaxf(q / static_cast<float>(cols) - corr * corr, 0.0f);
    rstd = rsqrtf(var + eps);
  }

  if (!active) return;
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    const int idx = (i * nt + t) * VEC;
    if (idx < cols) {
      float g[VEC], out[VEC];
      load_vec<VEC>(gamma + idx, g);
      if constexpr (RMS) {
#pragma unroll
        for (int k = 0; k < VEC; ++k) out[k] = v[i][k] * rstd * g[k];
      } else {
        float b[VEC];
        load_vec<VEC>(beta + idx, b);
#pragma unroll
        for (int k = 0; k < VEC; ++k) out[k] = fmaf((v[i][k] - corr) * rstd, g[k], b[k]);
      }
      store_vec<VEC>(yr + idx, out);
    }
  }
}

// Rows too long for registers: one block per row, looping over the row in global memory. Each
// loop takes two items per thread per trip for more loads in flight.
template <bool RMS, int VEC>
__global__ void __launch_bounds__(kLoopBlock)
    norm_rows_looped(const float* __restrict__ x, const float* __restrict__ gamma,
                     const float* __restrict__ beta, float* __restrict__ y, int cols, float eps) {
  __shared__ float red_s[32];
  __shared__ float2 red_cq[32];
  const std::int64_t row = blockIdx.x;
  const float* __restrict__ xr = x + row * cols;
  float* __restrict__ yr = y + row * cols;
  const int step = blockDim.x * VEC;
  const int start = threadIdx.x * VEC;

  // Pass 1: sum of x (LayerNorm) or of x^2 (RMSNorm).
  float s0 = 0.0f, s1 = 0.0f;
  int idx = start;
  for (; idx + step < cols; idx += 2 * step) {
    float a[VEC], b[VEC];
    load_vec<VEC>(xr + idx, a);
    load_vec<VEC>(xr + idx + step, b);
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      if constexpr (RMS) {
        s0 = fmaf(a[k], a[k], s0);
        s1 = fmaf(b[k], b[k], s1);
      } else {
        s0 += a[k];
        s1 += b[k];
      }
    }
  }
  if (idx < cols) {
    float a[VEC];
    load_vec<VEC>(xr + idx, a);
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      if constexpr (RMS) {
        s0 = fmaf(a[k], a[k], s0);
      } else {
        s0 += a[k];
      }
    }
  }
  float s = s0 + s1;
  block_sum(s, red_s);

  float mean = 0.0f, corr = 0.0f;
  float rstd;
  if constexpr (RMS) {
    rstd = rsqrtf(s / static_cast<float>(cols) + eps);
  } else {
    // Pass 2: deviations from the float mean.
    mean = s / static_cast<float>(cols);
    float c0 = 0.0f, c1 = 0.0f, q0 = 0.0f, q1 = 0.0f;
    idx = start;
    for (; idx + step < cols; idx += 2 * step) {
      float a[VEC], b[VEC];
      load_vec<VEC>(xr + idx, a);
      load_vec<VEC>(xr + idx + step, b);
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        const float da = a[k] - mean;
        const float db = b[k] - mean;
        c0 += da;
        c1 += db;
        q0 = fmaf(da, da, q0);
        q1 = fmaf(db, db, q1);
      }
    }
    if (idx < cols) {
      float a[VEC];
      load_vec<VEC>(xr + idx, a);
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        const float da = a[k] - mean;
        c0 += da;
        q0 = fmaf(da, da, q0);
      }
    }
    float c = c0 + c1, q = q0 + q1;
    block_sum(c, q, red_cq);
    corr = c / static_cast<float>(cols);
    const float var = fmaxf(q / static_cast<float>(cols) - corr * corr, 0.0f);
    rstd = rsqrtf(var + eps);
  }

  // Pass 3: the output.
#pragma unroll 2
  for (idx = start; idx < cols; idx += step) {
    float a[VEC], g[VEC], out[VEC];
    load_vec<VEC>(xr + idx, a);
    load_vec<VEC>(gamma + idx, g);
    if constexpr (RMS) {
#pragma unroll
      for (int k = 0; k < VEC; ++k) out[k] = a[k] * rstd * g[k];
    } else {
      float b[VEC];
      load_vec<VEC>(beta + idx, b);
#pragma unroll
      for (int k = 0; k < VEC; ++k) out[k] = fmaf(((a[k] - mean) - corr) * rstd, g[k], b[k]);
    }
    store_vec<VEC>(yr + idx, out);
  }
}

struct NormArgs {
  const float* x;
  const float* gamma;
  const float* beta;  // nullptr for RMSNorm
  float* y;
  std::int64_t rows;
  int cols;
  float eps;
};

int round_up(int a, int b) {
  return (a + b - 1) / b * b;
}
int ceil_div(int a, int b) {
  return (a + b - 1) / b;
}

int next_pow2(int n) {
  int p = 1;
  while (p < n) p <<= 1;
  return p;
}

void check_grid(std::int64_t blocks, const char* name) {
  if (blocks > std::numeric_limits<int>::max()) {
    throw std::runtime_error(std::string(name) + ": too many rows for one launch (" +
                             std::to_string(blocks) + " blocks)");
  }
}

// One lane group of LANES lanes per row, 128-thread blocks.
template <bool RMS, int VEC, int ITEMS, int LANES>
void launch_groups(const NormArgs& a) {
  const std::int64_t rows_per_block = kWarpPathBlock / LANES;
  const std::int64_t blocks = (a.rows + rows_per_block - 1) / rows_per_block;
  check_grid(blocks, "norm_cuda");
  norm_rows_in_registers<RMS, VEC, ITEMS, LANES>
      <<<static_cast<unsigned>(blocks), kWarpPathBlock, 0, launch_stream()>>>(
          a.x, a.gamma, a.beta, a.y, a.rows, a.cols, a.eps);
}

// Lane groups of 4..32 lanes with one item each, sized to the row.
template <bool RMS, int VEC>
void launch_small(const NormArgs& a, int items_total) {
  switch (std::max(4, next_pow2(items_total))) {
    case 4:
      return launch_groups<RMS, VEC, 1, 4>(a);
    case 8:
      return launch_groups<RMS, VEC, 1, 8>(a);
    case 16:
      return launch_groups<RMS, VEC, 1, 16>(a);
    default:
      return launch_groups<RMS, VEC, 1, 32>(a);
  }
}

// One block per row, sized so that each thread holds ITEMS items.
template <bool RMS, int VEC, int ITEMS>
void launch_block_rows(const NormArgs& a, int items_total) {
  check_grid(a.rows, "norm_cuda");
  const int threads = round_up(ceil_div(items_total, ITEMS), 32);
  norm_rows_in_registers<RMS, VEC, ITEMS, 0>
      <<<static_cast<unsigned>(a.rows), threads, 0, launch_stream()>>>(a.x, a.gamma, a.beta, a.y,
                                                                       a.rows, a.cols, a.eps);
}

template <bool RMS, int VEC>
void launch_looped(const NormArgs& a) {
  check_grid(a.rows, "norm_cuda");
  norm_rows_looped<RMS, VEC><<<static_cast<unsigned>(a.rows), kLoopBlock, 0, launch_stream()>>>(
      a.x, a.gamma, a.beta, a.y, a.cols, a.eps);
}

template <bool RMS>
void dispatch_vec4(const NormArgs& a) {
  const int n = a.cols / 4;  // float4 items per row
  if (n <= 32) return launch_small<RMS, 4>(a, n);
  if (n <= 64) return launch_groups<RMS, 4, 2, 32>(a);
  if (n <= 128) return launch_groups<RMS, 4, 4, 32>(a);
  if (n <= 256) return launch_groups<RMS, 4, 8, 32>(a);                  // cols <= 1024
  if (n <= 4 * kMaxRowBlock) return launch_block_rows<RMS, 4, 4>(a, n);  // cols <= 8192
  if (n <= 8 * kMaxRowBlock) return launch_block_rows<RMS, 4, 8>(a, n);  // cols <= 16384
  return launch_looped<RMS, 4>(a);
}

template <bool RMS>
void dispatch_scalar(const NormArgs& a) {
  const int n = a.cols;
  if (n <= 32) return launch_small<RMS, 1>(a, n);
  if (n <= 64) return launch_groups<RMS, 1, 2, 32>(a);
  if (n <= 128) return launch_groups<RMS, 1, 4, 32>(a);
  if (n <= 256) return launch_groups<RMS, 1, 8, 32>(a);
  if (n <= 512) return launch_groups<RMS, 1, 16, 32>(a);
  if (n <= 1024) return launch_groups<RMS, 1, 32, 32>(a);
  if (n <= 8 * kMaxRowBlock) return launch_block_rows<RMS, 1, 8>(a, n);    // cols <= 4096
  if (n <= 16 * kMaxRowBlock) return launch_block_rows<RMS, 1, 16>(a, n);  // cols <= 8192
  return launch_looped<RMS, 1>(a);
}

bool aligned16(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}

template <bool RMS>
void launch_norm(const char* name, const float* x, const float* gamma, const float* beta, float* y,
                 std::int64_t rows, std::int64_t cols, float eps) {
  if (rows < 0 || cols < 0) {
    throw std::invalid_argument(std::string(name) + ": negative shape [" + std::to_string(rows) +
                                ", " + std::to_string(cols) + "]");
  }
  if (rows == 0 || cols == 0) return;
  if (cols > std::numeric_limits<int>::max() / 2) {
    throw std::invalid_argument(std::string(name) + ": cols = " + std::to_string(cols) +
                                " is more than this kernel supports (2^30 - 1)");
  }
  if (x == nullptr || gamma == nullptr || y == nullptr || (!RMS && beta == nullptr)) {
    throw std::invalid_argument(std::string(name) + ": null device pointer");
  }
  const NormArgs a{x, gamma, beta, y, rows, static_cast<int>(cols), eps};
  const bool vec4 =
      cols % 4 == 0 && aligned16(x) && aligned16(gamma) && aligned16(y) && (RMS || aligned16(beta));
  if (vec4) {
    dispatch_vec4<RMS>(a);
  } else {
    dispatch_scalar<RMS>(a);
  }
  check_cuda(cudaGetLastError(), name);
}

}  // namespace

void layernorm(const float* x, const float* gamma, const float* beta, float* y, std::int64_t rows,
               std::int64_t cols, float eps) {
  launch_norm<false>("cuda layernorm launch", x, gamma, beta, y, rows, cols, eps);
}

void rmsnorm(const float* x, const float* gamma, float* y, std::int64_t rows, std::int64_t cols,
             float eps) {
  launch_norm<true>("cuda rmsnorm launch", x, gamma, nullptr, y, rows, cols, eps);
}

}  // namespace opbench::cuda
