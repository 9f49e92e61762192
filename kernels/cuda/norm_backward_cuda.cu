// cuda.fast LayerNorm and RMSNorm backward, float32 (contract in norm_backward_cuda.hpp).
//
// Memory-bound: x and dy are read once and dx written once (12 bytes per element); gamma, mean
// and rstd are small. Two kernels per call, both on the bound stream:
//
//   1. rows: row block b of B takes rows [rows b / B, rows (b + 1) / B), one row at a time, the
//      whole block on the row. Each thread holds the same columns for every row (gamma loaded
//      once), computes xhat, the row sums sum(dy gamma) and sum(dy gamma xhat) (block reduction
//      in double, the same in every thread), then dx, and adds dy xhat and dy into its own
//      registers' partial dgamma and dbeta. At the end the block writes its partial row to
//      scratch. B = min(rows, multiprocessors x resident blocks): one wave, no tail. Rows too
//      long for registers (cols > 8192) loop over the row twice (sums, then dx; the second read
//      mostly from L2) and keep the block's partial row in scratch, read and written only by the
//      thread that owns the column.
//   2. column sums: dgamma[j] (dbeta[j]) = the B partials of column j, lane l of 8 summing blocks
//      l, l + 8, ... in double, then the 8 lane sums in lane order. A fixed order for a given B:
//      deterministic, no atomics.
//
// Loads and stores are 16-byte float4 when cols % 4 == 0 and dy, x, gamma, dx are 16-byte
// aligned, else scalar (still coalesced). Extra traffic: B x cols x 4 bytes per partial tensor,
// written once and read once (at 16384 x 4096 on 132 SMs with 2 blocks each: 4 MiB, next to the
// 768 MiB of x, dy and dx).
//
// Accuracy follows kernels/cpu/norm_backward_fast.cpp: the row sums add the unrounded products
// dy gamma (fma), in float per thread (at most 16 columns) and double across threads; mean(g) is
// kept as a float pair so that a constant row (xhat = 0, rstd = 1/sqrt(eps)) gets dx exact where g
// equals its mean; dgamma and dbeta partials are float sums over a block's rows, added in double.
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
#include "kernels/cuda/launch_geometry.hpp"
#include "kernels/cuda/launch_stream.hpp"
#include "kernels/cuda/norm_backward_cuda.hpp"

namespace opbench::cuda {
namespace {

using namespace norm_bwd;

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kMaxThreads = 512;   // threads per row block, at most
constexpr int kMaxRegFloats = 16;  // ITEMS x VEC per thread and array: x, dy, gamma and the two
                                   // partials stay in registers under 128 (no spills)
constexpr int kLoopThreads = 512;  // threads per row block of the looping kernel

struct Args {
  const float* dy;
  const float* x;
  const float* gamma;
  const float* mean;  // null for RMSNorm
  const float* rstd;
  float* dx;
  std::int64_t rows;
  int cols;
};

// Sums a and b over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the
// same sums bit for bit (each warp reduces the warps' partials in the same order). `slot` (32
// entries) alternates between two buffers from one call to the next: a warp writing the next
// row's partials cannot overwrite ones a slower warp is still reading (it would have to pass the
// next row's barrier first, which the slower warp has not reached).
__device__ __forceinline__ void block_sum(double& a, double& b, double2* slot) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    a += __shfl_xor_sync(kFullMask, a, o);
    b += __shfl_xor_sync(kFullMask, b, o);
  }
  const int lane = threadIdx.x & 31;
  if (lane == 0) slot[threadIdx.x >> 5] = make_double2(a, b);
  __syncthreads();
  const double2 p = lane < static_cast<int>(blockDim.x >> 5) ? slot[lane] : make_double2(0, 0);
  a = p.x;
  b = p.y;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    a += __shfl_xor_sync(kFullMask, a, o);
    b += __shfl_xor_sync(kFullMask, b, o);
  }
}

// Rows held in registers: thread t of the block's nt holds the VEC-wide items at columns
// (i nt + t) VEC, i < ITEMS (ITEMS nt VEC >= cols). partials: [B, cols] dgamma, then (LayerNorm)
// [B, cols] dbeta.
template <bool LN, int VEC, int ITEMS>
__global__ void __launch_bounds__(kMaxThreads)
    rows_in_registers(Args a, float* __restrict__ partials) {
  __shared__ double2 slot[2][32];
  const int t = threadIdx.x, nt = blockDim.x, cols = a.cols;
  const std::int64_t blocks = gridDim.x;
  const std::int64_t r0 = row_begin(blockIdx.x, blocks, a.rows);
  const std::int64_t r1 = row_begin(blockIdx.x + 1, blocks, a.rows);

  float g[ITEMS][VEC], pg[ITEMS][VEC], pb[ITEMS][VEC];
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    const int idx = (i * nt + t) * VEC;
    if (idx < cols) {
      load_vec<VEC>(a.gamma + idx, g[i]);
    } else {
#pragma unroll
      for (int k = 0; k < VEC; ++k) g[i][k] = 0.0f;
    }
#pragma unroll
    for (int k = 0; k < VEC; ++k) pg[i][k] = pb[i][k] = 0.0f;
  }

  for (std::int64_t r = r0; r < r1; ++r) {
    const float m = LN ? a.mean[r] : 0.0f, s = a.rstd[r];
    const float* __restrict__ xr = a.x + r * cols;
    const float* __restrict__ dyr = a.dy + r * cols;
    float xh[ITEMS][VEC], d[ITEMS][VEC];
    // Every load issued before the first use; items past the row end stay out of every sum.
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int idx = (i * nt + t) * VEC;
      if (idx < cols) {
        load_vec<VEC>(xr + idx, xh[i]);
        load_vec<VEC>(dyr + idx, d[i]);
      }
    }
    float sg = 0.0f, sgx = 0.0f;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int idx = (i * nt + t) * VEC;
      if (idx < cols) {
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          xh[i][k] = xhat(xh[i][k], m, s);
          if constexpr (LN) sg = fmaf(d[i][k], g[i][k], sg);  // g unrounded into the sum
          sgx = fmaf(d[i][k] * g[i][k], xh[i][k], sgx);
          pg[i][k] = fmaf(d[i][k], xh[i][k], pg[i][k]);
          if constexpr (LN) pb[i][k] += d[i][k];
        }
      }
    }
    double dsg = sg, dsgx = sgx;
    block_sum(dsg, dsgx, slot[r & 1]);
    const RowTerms terms = row_terms(dsg, dsgx, static_cast<double>(cols));
    float* __restrict__ dxr = a.dx + r * cols;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int idx = (i * nt + t) * VEC;
      if (idx < cols) {
        float out[VEC];
#pragma unroll
        for (int k = 0; k < VEC; ++k) out[k] = dx_element(d[i][k], g[i][k], xh[i][k], s, terms);
        store_vec<VEC>(dxr + idx, out);
      }
    }
  }

  float* __restrict__ pgr = partials + blockIdx.x * static_cast<std::int64_t>(cols);
  float* __restrict__ pbr = pgr + blocks * cols;
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    const int idx = (i * nt + t) * VEC;
    if (idx < cols) {
      store_vec<VEC>(pgr + idx, pg[i]);
      if constexpr (LN) store_vec<VEC>(pbr + idx, pb[i]);
    }
  }
}

// Rows too long for registers: kLoopThreads threads per row block, two passes over each row (the
// sums, then dx), the block's partial row kept in scratch. Each column is read and written by the
// one thread that owns it, in row order: no race, the same order as the register kernel.
template <bool LN, int VEC>
__global__ void __launch_bounds__(kLoopThreads) rows_looped(Args a, float* __restrict__ partials) {
  __shared__ double2 slot[2][32];
  const int cols = a.cols, step = blockDim.x * VEC, start = threadIdx.x * VEC;
  const std::int64_t blocks = gridDim.x;
  const std::int64_t r0 = row_begin(blockIdx.x, blocks, a.rows);
  const std::int64_t r1 = row_begin(blockIdx.x + 1, blocks, a.rows);
  float* __restrict__ pgr = partials + blockIdx.x * static_cast<std::int64_t>(cols);
  float* __restrict__ pbr = pgr + blocks * cols;

  for (std::int64_t r = r0; r < r1; ++r) {
    const float m = LN ? a.mean[r] : 0.0f, s = a.rstd[r];
    const float* __restrict__ xr = a.x + r * cols;
    const float* __restrict__ dyr = a.dy + r * cols;
    float sg = 0.0f, sgx = 0.0f;
    for (int idx = start; idx < cols; idx += step) {
      float xv[VEC], d[VEC], g[VEC];
      load_vec<VEC>(xr + idx, xv);
      load_vec<VEC>(dyr + idx, d);
      load_vec<VEC>(a.gamma + idx, g);
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        if constexpr (LN) sg = fmaf(d[k], g[k], sg);
        sgx = fmaf(d[k] * g[k], xhat(xv[k], m, s), sgx);
      }
    }
    double dsg = sg, dsgx = sgx;
    block_sum(dsg, dsgx, slot[r & 1]);
    const RowTerms terms = row_terms(dsg, dsgx, static_cast<double>(cols));
    const bool first = r == r0;  // the partial row starts here: no zeroing pass
    float* __restrict__ dxr = a.dx + r * cols;
    for (int idx = start; idx < cols; idx += step) {
      float xv[VEC], d[VEC], g[VEC], out[VEC], pg[VEC], pb[VEC];
      load_vec<VEC>(xr + idx, xv);
      load_vec<VEC>(dyr + idx, d);
      load_vec<VEC>(a.gamma + idx, g);
      if (!first) {
        load_vec<VEC>(pgr + idx, pg);
        if constexpr (LN) load_vec<VEC>(pbr + idx, pb);
      }
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        const float xh = xhat(xv[k], m, s);
        out[k] = dx_element(d[k], g[k], xh, s, terms);
        pg[k] = first ? d[k] * xh : fmaf(d[k], xh, pg[k]);
        if constexpr (LN) pb[k] = first ? d[k] : pb[k] + d[k];
      }
      store_vec<VEC>(dxr + idx, out);
      store_vec<VEC>(pgr + idx, pg);
      if constexpr (LN) store_vec<VEC>(pbr + idx, pb);
    }
  }
}

// Stage 2: block (kSumCols, kSumLanes) per kSumCols columns.
__global__ void __launch_bounds__(kSumCols* kSumLanes)
    column_sums(const float* __restrict__ partials, std::int64_t blocks, std::int64_t cols,
                float* __restrict__ dgamma, float* __restrict__ dbeta) {
  __shared__ double sums[2][kSumLanes][kSumCols];
  const int tx = threadIdx.x, lane = threadIdx.y;
  const std::int64_t j = static_cast<std::int64_t>(blockIdx.x) * kSumCols + tx;
  double sg = 0.0, sb = 0.0;
  if (j < cols) {
    sg = lane_partial_sum(partials, blocks, cols, j, lane);
    if (dbeta != nullptr) sb = lane_partial_sum(partials + blocks * cols, blocks, cols, j, lane);
  }
  sums[0][lane][tx] = sg;
  sums[1][lane][tx] = sb;
  __syncthreads();
  if (lane == 0 && j < cols) {
    dgamma[j] = static_cast<float>(combine_lanes(&sums[0][0][tx], kSumCols));
    if (dbeta != nullptr) dbeta[j] = static_cast<float>(combine_lanes(&sums[1][0][tx], kSumCols));
  }
}

using RowKernel = void (*)(Args, float*);

struct Plan {
  RowKernel kernel = nullptr;
  int threads = 0;
  std::int64_t blocks = 0;  // row blocks (partial rows)
};

int round_up32(std::int64_t n) {
  return static_cast<int>((n + 31) / 32 * 32);
}

// The register kernel with the fewest items per thread whose block (at most kMaxThreads) covers
// the row, or the looping kernel.
template <bool LN, int VEC, int ITEMS>
bool pick(std::int64_t items, Plan& p) {
  if constexpr (ITEMS * VEC > kMaxRegFloats) {
    return false;
  } else {
    if (items > static_cast<std::int64_t>(ITEMS) * kMaxThreads)
      return pick<LN, VEC, ITEMS * 2>(items, p);
    p.kernel = rows_in_registers<LN, VEC, ITEMS>;
    p.threads = round_up32(ceil_div(items, ITEMS));
    return true;
  }
}

template <bool LN>
Plan plan(std::int64_t rows, std::int64_t cols, bool vec4) {
  Plan p;
  const bool fits = vec4 ? pick<LN, 4, 1>(cols / 4, p) : pick<LN, 1, 1>(cols, p);
  if (!fits) {
    p.kernel = vec4 ? rows_looped<LN, 4> : rows_looped<LN, 1>;
    p.threads = kLoopThreads;
  }
  int device = 0, sms = 0, per_sm = 0;
  check_cuda(cudaGetDevice(&device), "cuda norm backward: cudaGetDevice");
  check_cuda(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device),
             "cuda norm backward: multiprocessor count");
  check_cuda(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, p.kernel, p.threads, 0),
             "cuda norm backward: occupancy");
  p.blocks = row_blocks(rows, static_cast<std::int64_t>(std::max(sms, 1)) * std::max(per_sm, 1));
  return p;
}

bool aligned16(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}

void check_shape(const char* name, std::int64_t rows, std::int64_t cols) {
  if (rows < 0 || cols < 0) {
    throw std::invalid_argument(std::string(name) + ": negative shape [" + std::to_string(rows) +
                                ", " + std::to_string(cols) + "]");
  }
  if (cols > std::numeric_limits<int>::max() / 2) {
    throw std::invalid_argument(std::string(name) + ": cols = " + std::to_string(cols) +
                                " is more than this kernel supports (2^30 - 1)");
  }
}

template <bool LN>
void launch(const char* name, const Args& a, float* dgamma, float* dbeta) {
  if (a.cols == 0) return;
  if (dgamma == nullptr || (LN && dbeta == nullptr)) {
    throw std::invalid_argument(std::string(name) + ": null device pointer");
  }
  const std::size_t col_bytes = static_cast<std::size_t>(a.cols) * sizeof(float);
  if (a.rows == 0) {  // sums over no rows
    check_cuda(cudaMemsetAsync(dgamma, 0, col_bytes, launch_stream()), name);
    if (LN) check_cuda(cudaMemsetAsync(dbeta, 0, col_bytes, launch_stream()), name);
    return;
  }
  if (a.dy == nullptr || a.x == nullptr || a.gamma == nullptr || a.rstd == nullptr ||
      a.dx == nullptr || (LN && a.mean == nullptr)) {
    throw std::invalid_argument(std::string(name) + ": null device pointer");
  }
  const bool vec4 =
      a.cols % 4 == 0 && aligned16(a.dy) && aligned16(a.x) && aligned16(a.gamma) && aligned16(a.dx);
  const Plan p = plan<LN>(a.rows, a.cols, vec4);
  float* partials = device_scratch().get<float>(
      "norm_backward partials", static_cast<std::size_t>(p.blocks * a.cols * (LN ? 2 : 1)));
  p.kernel<<<grid_x_or_throw(p.blocks, name), p.threads, 0, launch_stream()>>>(a, partials);
  check_cuda(cudaGetLastError(), name);
  column_sums<<<grid_x_or_throw(ceil_div(a.cols, kSumCols), name), dim3(kSumCols, kSumLanes), 0,
                launch_stream()>>>(partials, p.blocks, a.cols, dgamma, LN ? dbeta : nullptr);
  check_cuda(cudaGetLastError(), name);
}

}  // namespace

void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                        const float* rstd, float* dx, float* dgamma, float* dbeta,
                        std::int64_t rows, std::int64_t cols) {
  check_shape("cuda layernorm_backward", rows, cols);
  launch<true>("cuda layernorm_backward",
               Args{dy, x, gamma, mean, rstd, dx, rows, static_cast<int>(cols)}, dgamma, dbeta);
}

void rmsnorm_backward(const float* dy, const float* x, const float* gamma, const float* rstd,
                      float* dx, float* dgamma, std::int64_t rows, std::int64_t cols) {
  check_shape("cuda rmsnorm_backward", rows, cols);
  launch<false>("cuda rmsnorm_backward",
                Args{dy, x, gamma, nullptr, rstd, dx, rows, static_cast<int>(cols)}, dgamma,
                nullptr);
}

double norm_backward_scratch_bytes(std::int64_t rows, std::int64_t cols, bool layernorm) {
  if (rows <= 0 || cols <= 0 || !cuda_status().available) return 0;
  // The planner does not know the pointers: device allocations are 256-byte aligned, so the
  // float4 path is taken whenever cols % 4 == 0.
  const std::int64_t blocks = layernorm ? plan<true>(rows, cols, cols % 4 == 0).blocks
                                        : plan<false>(rows, cols, cols % 4 == 0).blocks;
  return static_cast<double>(blocks) * static_cast<double>(cols) * (layernorm ? 2.0 : 1.0) *
         sizeof(float);
}

}  // namespace opbench::cuda
