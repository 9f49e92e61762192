// cuda.fast SimpleRMSNorm and DeepNorm forward, float32 (equations in
// reference/norm_srmsnorm_deepnorm.hpp, per-row arithmetic in norm_srmsnorm_deepnorm_cuda.hpp).
//
// Memory-bound: x (and fx) read once from device memory, y written once; gamma and beta re-read
// by every row from L1/L2. One block per row:
//   cols up to 32768 (float4) or 16384 (scalar) for SimpleRMSNorm, 16384 or 8192 for DeepNorm
//     (which holds x and fx): the row in registers, ITEMS items per thread (blocks of 32..512
//     threads), reductions by warp shuffles and one shared-memory exchange;
//   longer rows: a 512-thread block looping over the row in global memory (DeepNorm: a pass for
//     the means of x and fx, one for the mean of d, one for the deviations, one for the output;
//     the re-reads mostly hit L2).
// Loads and stores are float4 when cols % 4 == 0 and every pointer is 16-byte aligned, else
// scalar (still coalesced). Rows of fewer than 128 columns leave most of a 32-thread block idle:
// correct, not tuned (the suite's rows have 768 columns and more).
//
// SimpleRMSNorm: sum(x^2) -> srmsnorm_factor -> y = x * factor. DeepNorm: pass 0 the float means
// of x and fx, d = deepnorm_shifted(...) about them, pass 1 the float mean m of d, pass 2 the sums
// of e = d - m and e^2 -> deepnorm_scale -> y = deepnorm_out(e, ...).
#include <cuda_runtime.h>

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
#include "kernels/cuda/norm_srmsnorm_deepnorm_cuda.hpp"

namespace opbench::cuda {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kMaxBlock = 512;  // most threads of the register kernels, and the looped kernel's

struct Args {
  const float* x;
  const float* fx;     // DeepNorm only
  const float* gamma;  // DeepNorm only
  const float* beta;   // DeepNorm only
  float* y;
  std::int64_t rows;
  int cols;
  float alpha;  // DeepNorm only
  float eps;
};

__device__ __forceinline__ void warp_sum(float& a) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) a += __shfl_xor_sync(kFullMask, a, o);
}
__device__ __forceinline__ void warp_sum(float& a, float& b) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    a += __shfl_xor_sync(kFullMask, a, o);
    b += __shfl_xor_sync(kFullMask, b, o);
  }
}

// Sums over the block (blockDim.x a multiple of 32). Each reduction has its own `slot`, so no
// barrier is needed between two of them; every warp adds the partials in the same order, so
// every thread gets the same sums bit for bit.
__device__ __forceinline__ void block_sum(float& a, float* slot) {
  warp_sum(a);
  const int lane = threadIdx.x & 31;
  if (lane == 0) slot[threadIdx.x >> 5] = a;
  __syncthreads();
  a = lane < static_cast<int>(blockDim.x >> 5) ? slot[lane] : 0.0f;
  warp_sum(a);
}
__device__ __forceinline__ void block_sum(float& a, float& b, float2* slot) {
  warp_sum(a, b);
  const int lane = threadIdx.x & 31;
  if (lane == 0) slot[threadIdx.x >> 5] = make_float2(a, b);
  __syncthreads();
  const float2 p = lane < static_cast<int>(blockDim.x >> 5) ? slot[lane] : make_float2(0.f, 0.f);
  a = p.x;
  b = p.y;
  warp_sum(a, b);
}

// One block per row, the row in registers: thread t holds the VEC-wide items at elements
// (i * blockDim.x + t) * VEC, i < ITEMS; items past the row end are zero and add nothing.
template <bool DEEP, int VEC, int ITEMS>
__global__ void __launch_bounds__(kMaxBlock) rows_in_registers(Args a) {
  __shared__ float red_s[32];
  __shared__ float2 red_cq[32];
  const std::int64_t row = blockIdx.x;
  const int cols = a.cols, t = threadIdx.x, nt = blockDim.x;
  const float* __restrict__ xr = a.x + row * cols;
  float* __restrict__ yr = a.y + row * cols;
  float v[ITEMS][VEC];  // x (SimpleRMSNorm), then d, then e = d - m (DeepNorm)
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    const int idx = (i * nt + t) * VEC;
    if (idx < cols) {
      load_vec<VEC>(xr + idx, v[i]);
    } else {
#pragma unroll
      for (int k = 0; k < VEC; ++k) v[i][k] = 0.0f;
    }
  }
  if constexpr (DEEP) {
    // Pass 0: the float means of x and fx, the shifts of d.
    __shared__ float2 red_xf[32];
    const float* __restrict__ fr = a.fx + row * cols;
    float f[ITEMS][VEC];
    float sx = 0.0f, sf = 0.0f;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int idx = (i * nt + t) * VEC;
      if (idx < cols) {
        load_vec<VEC>(fr + idx, f[i]);
      } else {
#pragma unroll
        for (int k = 0; k < VEC; ++k) f[i][k] = 0.0f;
      }
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        sx += v[i][k];
        sf += f[i][k];
      }
    }
    block_sum(sx, sf, red_xf);
    const float mx = sx / static_cast<float>(cols), mf = sf / static_cast<float>(cols);
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      if ((i * nt + t) * VEC < cols) {
#pragma unroll
        for (int k = 0; k < VEC; ++k) v[i][k] = deepnorm_shifted(a.alpha, v[i][k], mx, f[i][k], mf);
      }
    }
  }

  // Pass 1: sum of x^2 (SimpleRMSNorm) or of d (DeepNorm).
  float s = 0.0f;
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
#pragma unroll
    for (int k = 0; k < VEC; ++k) s = DEEP ? s + v[i][k] : fmaf(v[i][k], v[i][k], s);
  }
  block_sum(s, red_s);

  if constexpr (!DEEP) {
    const float factor = srmsnorm_factor(s, cols, a.eps);
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int idx = (i * nt + t) * VEC;
      if (idx < cols) {
        float out[VEC];
#pragma unroll
        for (int k = 0; k < VEC; ++k) out[k] = v[i][k] * factor;
        store_vec<VEC>(yr + idx, out);
      }
    }
  } else {
    // Pass 2: deviations from the float mean m, kept in v.
    const float m = s / static_cast<float>(cols);
    float c = 0.0f, q = 0.0f;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      if ((i * nt + t) * VEC < cols) {
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          v[i][k] -= m;
          c += v[i][k];
          q = fmaf(v[i][k], v[i][k], q);
        }
      }
    }
    block_sum(c, q, red_cq);
    const DeepnormScale sc = deepnorm_scale(c, q, cols, a.eps);
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int idx = (i * nt + t) * VEC;
      if (idx < cols) {
        float g[VEC], b[VEC], out[VEC];
        load_vec<VEC>(a.gamma + idx, g);
        load_vec<VEC>(a.beta + idx, b);
#pragma unroll
        for (int k = 0; k < VEC; ++k) out[k] = deepnorm_out(v[i][k], sc, g[k], b[k]);
        store_vec<VEC>(yr + idx, out);
      }
    }
  }
}

// Rows too long for registers: one 512-thread block per row, looping over the row in global
// memory.
template <bool DEEP, int VEC>
__global__ void __launch_bounds__(kMaxBlock) rows_looped(Args a) {
  __shared__ float red_s[32];
  __shared__ float2 red_cq[32];
  const std::int64_t row = blockIdx.x;
  const int cols = a.cols, step = blockDim.x * VEC, start = threadIdx.x * VEC;
  const float* __restrict__ xr = a.x + row * cols;
  float* __restrict__ yr = a.y + row * cols;
  const float* __restrict__ fr = DEEP ? a.fx + row * cols : nullptr;
  float mx = 0.0f, mf = 0.0f;
  if constexpr (DEEP) {
    // Pass 0: the float means of x and fx, the shifts of d.
    __shared__ float2 red_xf[32];
    float sx = 0.0f, sf = 0.0f;
    for (int idx = start; idx < cols; idx += step) {
      float v[VEC], f[VEC];
      load_vec<VEC>(xr + idx, v);
      load_vec<VEC>(fr + idx, f);
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        sx += v[k];
        sf += f[k];
      }
    }
    block_sum(sx, sf, red_xf);
    mx = sx / static_cast<float>(cols);
    mf = sf / static_cast<float>(cols);
  }
  // The value whose statistics are taken: x (SimpleRMSNorm) or d (DeepNorm).
  const auto value = [&](int idx, float(&v)[VEC]) {
    load_vec<VEC>(xr + idx, v);
    if constexpr (DEEP) {
      float f[VEC];
      load_vec<VEC>(fr + idx, f);
#pragma unroll
      for (int k = 0; k < VEC; ++k) v[k] = deepnorm_shifted(a.alpha, v[k], mx, f[k], mf);
    }
  };

  float s = 0.0f;
  for (int idx = start; idx < cols; idx += step) {
    float v[VEC];
    value(idx, v);
#pragma unroll
    for (int k = 0; k < VEC; ++k) s = DEEP ? s + v[k] : fmaf(v[k], v[k], s);
  }
  block_sum(s, red_s);

  if constexpr (!DEEP) {
    const float factor = srmsnorm_factor(s, cols, a.eps);
    for (int idx = start; idx < cols; idx += step) {
      float v[VEC];
      value(idx, v);
#pragma unroll
      for (int k = 0; k < VEC; ++k) v[k] *= factor;
      store_vec<VEC>(yr + idx, v);
    }
  } else {
    const float m = s / static_cast<float>(cols);
    float c = 0.0f, q = 0.0f;
    for (int idx = start; idx < cols; idx += step) {
      float v[VEC];
      value(idx, v);
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        const float e = v[k] - m;
        c += e;
        q = fmaf(e, e, q);
      }
    }
    block_sum(c, q, red_cq);
    const DeepnormScale sc = deepnorm_scale(c, q, cols, a.eps);
    for (int idx = start; idx < cols; idx += step) {
      float v[VEC], g[VEC], b[VEC];
      value(idx, v);
      load_vec<VEC>(a.gamma + idx, g);
      load_vec<VEC>(a.beta + idx, b);
#pragma unroll
      for (int k = 0; k < VEC; ++k) v[k] = deepnorm_out(v[k] - m, sc, g[k], b[k]);
      store_vec<VEC>(yr + idx, v);
    }
  }
}

int round_up32(std::int64_t n) {
  return static_cast<int>((n + 31) / 32 * 32);
}

template <bool DEEP, int VEC, int ITEMS>
void launch_registers(const Args& a, int items_total, unsigned blocks) {
  const int threads = round_up32(ceil_div(items_total, ITEMS));
  rows_in_registers<DEEP, VEC, ITEMS><<<blocks, threads, 0, launch_stream()>>>(a);
}

// ITEMS per thread chosen so that a row takes at most kMaxBlock threads and, from 256 items on,
// at least 128 (enough loads in flight per row).
template <bool DEEP, int VEC>
void dispatch(const Args& a, unsigned blocks) {
  const int n = a.cols / VEC;  // items per row
  if (n <= 256) return launch_registers<DEEP, VEC, 1>(a, n, blocks);
  if (n <= 512) return launch_registers<DEEP, VEC, 2>(a, n, blocks);
  if (n <= 4 * kMaxBlock) return launch_registers<DEEP, VEC, 4>(a, n, blocks);
  if (n <= 8 * kMaxBlock) return launch_registers<DEEP, VEC, 8>(a, n, blocks);
  // At most 64 floats of a row per thread: SimpleRMSNorm 16 float4 items (cols <= 32768) or 32
  // scalar ones (16384); DeepNorm holds x and fx until their means are known, so 16 scalar items
  // (cols <= 8192), and its float4 rows stop at 8 items (16384).
  if constexpr (VEC == 4 && !DEEP) {
    if (n <= 16 * kMaxBlock) return launch_registers<DEEP, VEC, 16>(a, n, blocks);
  } else if constexpr (VEC == 1 && !DEEP) {
    if (n <= 32 * kMaxBlock) return launch_registers<DEEP, VEC, 32>(a, n, blocks);
  } else if constexpr (VEC == 1) {
    if (n <= 16 * kMaxBlock) return launch_registers<DEEP, VEC, 16>(a, n, blocks);
  }
  rows_looped<DEEP, VEC><<<blocks, kMaxBlock, 0, launch_stream()>>>(a);
}

bool aligned16(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}

template <bool DEEP>
void launch(const char* name, const Args& a_in, std::int64_t cols) {
  if (a_in.rows < 0 || cols < 0) {
    throw std::invalid_argument(std::string(name) + ": negative shape [" +
                                std::to_string(a_in.rows) + ", " + std::to_string(cols) + "]");
  }
  if (a_in.rows == 0 || cols == 0) return;
  if (cols > std::numeric_limits<int>::max() / 2) {
    throw std::invalid_argument(std::string(name) + ": cols = " + std::to_string(cols) +
                                " is more than this kernel supports (2^30 - 1)");
  }
  if (a_in.x == nullptr || a_in.y == nullptr ||
      (DEEP && (a_in.fx == nullptr || a_in.gamma == nullptr || a_in.beta == nullptr))) {
    throw std::invalid_argument(std::string(name) + ": null device pointer");
  }
  Args a = a_in;
  a.cols = static_cast<int>(cols);
  const unsigned blocks = grid_x_or_throw(a.rows, name);
  const bool vec4 = cols % 4 == 0 && aligned16(a.x) && aligned16(a.y) &&
                    (!DEEP || (aligned16(a.fx) && aligned16(a.gamma) && aligned16(a.beta)));
  if (vec4) {
    dispatch<DEEP, 4>(a, blocks);
  } else {
    dispatch<DEEP, 1>(a, blocks);
  }
  check_cuda(cudaGetLastError(), name);
}

}  // namespace

void srmsnorm(const float* x, float* y, std::int64_t rows, std::int64_t cols, float eps) {
  launch<false>("cuda srmsnorm launch", Args{x, nullptr, nullptr, nullptr, y, rows, 0, 0.0f, eps},
                cols);
}

void deepnorm(const float* x, const float* fx, const float* gamma, const float* beta, float* y,
              std::int64_t rows, std::int64_t cols, float alpha, float eps) {
  launch<true>("cuda deepnorm launch", Args{x, fx, gamma, beta, y, rows, 0, alpha, eps}, cols);
}

}  // namespace opbench::cuda
