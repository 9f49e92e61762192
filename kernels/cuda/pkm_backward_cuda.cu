// cuda.fast of pkm_layer_backward (see pkm_backward_cuda.hpp).
//
// Launches, in stream order:
//   softmax_query_grad  block per (token, head): ds [tokens, heads, k], dq and q [tokens, hdk]
//   column_partials     block per (32 columns, 64 tokens): dz in place of dq, three partial sums
//   column_totals       thread per column: the partials in slice order -> dbn_beta, dbn_gamma, db
//   cuBLAS              dw = x^T dz, dx = dz w^T
//   value_pairs, CUB sort/encode/scan, scatter_rows<ValueRows>     dvalues += p dy, row by row
//   key_pairs,   CUB sort/encode/scan, scatter_rows<SubKeyRows>    dk1, dk2 += ds q, row by row
// Built in CI; run on a GPU only where one is lent (the README's CUDA section says which kernels
// have been).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_run_length_encode.cuh>
#include <cub/device/device_scan.cuh>
#include <stdexcept>
#include <string>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "harness/device.hpp"
#include "kernels/cuda/cublas_gemm.hpp"
#include "kernels/cuda/launch_geometry.hpp"
#include "kernels/cuda/launch_stream.hpp"
#include "kernels/cuda/pkm_backward_cuda.hpp"

namespace opbench::cuda {
namespace {

using pkm_bwd::kMaxK;

constexpr int kWarps = 4;  // warps per block of softmax_query_grad and scatter_rows
constexpr int kThreads = 32 * kWarps;
constexpr int kRowColumns = 128;                   // columns of a row per scatter block
constexpr int kColumnsPerLane = kRowColumns / 32;  // a lane's columns: lane, lane + 32, ...
constexpr int kSumColumns = 32, kSumRows = 8;      // column_partials' block
constexpr unsigned kMaxRunBlocks = 8192;           // scatter blocks along the runs (they stride)

__device__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Block (t, h) = blockIdx.x = t * heads + h. dp_m by warp m (mod kWarps), lanes over dv; every
// thread then forms the same mean from shared memory; dq and q by thread per column of the head.
__global__ void __launch_bounds__(kThreads)
    softmax_query_grad(const float* __restrict__ dy, const float* __restrict__ values,
                       const std::int64_t* __restrict__ indices, const float* __restrict__ p,
                       const float* __restrict__ k1, const float* __restrict__ k2,
                       const float* __restrict__ zhat, const float* __restrict__ gamma,
                       const float* __restrict__ beta, float* __restrict__ ds_out,
                       float* __restrict__ q, float* __restrict__ dq, int heads, int k, long long n,
                       long long dk, long long dv) {
  __shared__ float s_ds[kMaxK], s_p[kMaxK];
  __shared__ long long s_row1[kMaxK], s_row2[kMaxK];
  const long long r = blockIdx.x;
  const long long t = r / heads, h = r % heads, base = r * k;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const float* dyt = dy + t * dv;
  for (int m = warp; m < k; m += kWarps) {
    const long long idx = indices[base + m];
    const float* v = values + idx * dv;
    float sum = 0.0f;
    for (long long j = lane; j < dv; j += 32) sum = fmaf(dyt[j], v[j], sum);
    sum = warp_sum(sum);
    if (lane == 0) {
      s_ds[m] = sum;  // dp for now
      s_p[m] = p[base + m];
      s_row1[m] = h * n + idx / n;
      s_row2[m] = h * n + idx % n;
    }
  }
  __syncthreads();
  float mean = 0.0f;
  for (int m = 0; m < k; ++m) mean = fmaf(s_p[m], s_ds[m], mean);
  __syncthreads();  // every thread has read dp before it becomes ds
  for (int m = threadIdx.x; m < k; m += kThreads) {
    s_ds[m] = s_p[m] * (s_ds[m] - mean);
    ds_out[base + m] = s_ds[m];
  }
  __syncthreads();
  const long long half = dk / 2, hdk = heads * dk;
  for (long long e = threadIdx.x; e < dk; e += kThreads) {
    const bool second = e >= half;
    const long long c = second ? e - half : e;
    const float* keys = second ? k2 : k1;
    const long long* rows = second ? s_row2 : s_row1;
    float acc = 0.0f;
    for (int m = 0; m < k; ++m) acc = fmaf(s_ds[m], keys[rows[m] * half + c], acc);
    const long long col = h * dk + e, at = t * hdk + col;
    dq[at] = acc;
    q[at] = fmaf(zhat[at], gamma[col], beta[col]);
  }
}

// Block (column tile, slice of tokens), threads (32 columns, 8 token lanes): per column, sums of
// dq, dq zhat and dz over the slice's tokens, dz = dq gamma / sqrt(var + eps) written over dq.
// The 8 lanes' sums are added in lane order: partials[(quantity * slices + slice) * hdk + col].
__global__ void __launch_bounds__(kSumColumns* kSumRows)
    column_partials(float* __restrict__ dq, const float* __restrict__ zhat,
                    const float* __restrict__ gamma, const float* __restrict__ var,
                    float* __restrict__ partials, long long tokens, long long hdk,
                    long long slice_tokens, float eps) {
  __shared__ float sums[3][kSumRows][kSumColumns];
  const long long col = static_cast<long long>(blockIdx.x) * kSumColumns + threadIdx.x;
  const long long slice = blockIdx.y, slices = gridDim.y;
  const long long t0 = slice * slice_tokens;
  const long long t1 = t0 + slice_tokens < tokens ? t0 + slice_tokens : tokens;
  float s_dq = 0.0f, s_dqz = 0.0f, s_dz = 0.0f;
  if (col < hdk) {
    const float scale = gamma[col] / sqrtf(var[col] + eps);
    for (long long t = t0 + threadIdx.y; t < t1; t += kSumRows) {
      const long long at = t * hdk + col;
      const float v = dq[at];
      s_dq += v;
      s_dqz = fmaf(v, zhat[at], s_dqz);
      const float dz = v * scale;
      dq[at] = dz;
      s_dz += dz;
    }
  }
  sums[0][threadIdx.y][threadIdx.x] = s_dq;
  sums[1][threadIdx.y][threadIdx.x] = s_dqz;
  sums[2][threadIdx.y][threadIdx.x] = s_dz;
  __syncthreads();
  if (threadIdx.y < 3 && col < hdk) {
    float total = 0.0f;
    for (int y = 0; y < kSumRows; ++y) total += sums[threadIdx.y][y][threadIdx.x];
    partials[(threadIdx.y * slices + slice) * hdk + col] = total;
  }
}

__global__ void column_totals(const float* __restrict__ partials, float* __restrict__ dbn_beta,
                              float* __restrict__ dbn_gamma, float* __restrict__ db,
                              long long slices, long long hdk) {
  const long long col = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= hdk) return;
  float total[3] = {0.0f, 0.0f, 0.0f};
  for (int q = 0; q < 3; ++q) {
    for (long long s = 0; s < slices; ++s) total[q] += partials[(q * slices + s) * hdk + col];
  }
  dbn_beta[col] = total[0];
  dbn_gamma[col] = total[1];
  db[col] = total[2];
}

// The value rows' pairs: contribution e = (t, h, m) adds p_e dy_t to row indices[e].
__global__ void value_pairs(const std::int64_t* __restrict__ indices, unsigned* __restrict__ rows,
                            unsigned* __restrict__ ids, long long entries) {
  const long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= entries) return;
  rows[e] = static_cast<unsigned>(indices[e]);
  ids[e] = static_cast<unsigned>(e);
}

// The sub-keys' pairs, both halves in one list: item s * entries + e adds ds_e q_half(s) of e's
// (t, h) to sub-key row s * heads * n + h * n + (i, j)[s] of product key indices[e] = i * n + j.
__global__ void key_pairs(const std::int64_t* __restrict__ indices, unsigned* __restrict__ rows,
                          unsigned* __restrict__ ids, long long entries, int heads, int k,
                          long long n) {
  const long long item = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (item >= 2 * entries) return;
  const long long e = item < entries ? item : item - entries;
  rows[item] = static_cast<unsigned>(pkm_bwd::sub_key_row(item, entries, indices[e], heads, k, n));
  ids[item] = static_cast<unsigned>(item);
}

// What scatter_rows adds: contribution `id` scales source row source(id) by coef(id) into
// destination row target(row).
struct ValueRows {
  const float* p;
  const float* dy;
  float* dvalues;
  long long per_token, dv;  // heads * k contributions per token
  __device__ float coef(unsigned id) const { return p[id]; }
  __device__ const float* source(unsigned id) const {
    return dy + pkm_bwd::value_source(id, per_token, dv);
  }
  __device__ float* target(unsigned row) const { return dvalues + row * dv; }
};

struct SubKeyRows {
  const float* ds;
  const float* q;
  float* dk1;
  float* dk2;
  long long entries, k, heads, dk, n;
  __device__ float coef(unsigned id) const { return ds[id % entries]; }
  __device__ const float* source(unsigned id) const {
    return q + pkm_bwd::sub_key_source(id, entries, k, heads, dk);
  }
  __device__ float* target(unsigned row) const {
    bool second = false;
    const long long at = pkm_bwd::sub_key_target(row, heads, n, dk / 2, second);
    return (second ? dk2 : dk1) + at;
  }
};

// Block (runs strided along x, column chunks strided along y): for run r, its row's `width`
// columns of the chunk get the sum of its contributions. Warp w takes the run's contributions
// w, w + kWarps, ... in sorted (token) order, lane l columns l, l + 32, ...; then thread c adds
// the warps' partials of column c in warp order to the row's value, one read and one write.
template <class Rows>
__global__ void __launch_bounds__(kThreads)
    scatter_rows(Rows rows, const unsigned* __restrict__ run_rows,
                 const unsigned* __restrict__ run_starts, const unsigned* __restrict__ run_counts,
                 const unsigned* __restrict__ run_total, const unsigned* __restrict__ sorted_ids,
                 long long width) {
  __shared__ float partial[kWarps][kRowColumns];
  const unsigned runs = *run_total;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const long long chunks = (width + kRowColumns - 1) / kRowColumns;
  for (unsigned run = blockIdx.x; run < runs; run += gridDim.x) {
    const unsigned start = run_starts[run], count = run_counts[run];
    float* dst = rows.target(run_rows[run]);
    for (long long chunk = blockIdx.y; chunk < chunks; chunk += gridDim.y) {
      const long long j0 = chunk * kRowColumns;
      float acc[kColumnsPerLane] = {};
      for (unsigned at = start + warp; at < start + count; at += kWarps) {
        const unsigned id = sorted_ids[at];
        const float c = rows.coef(id);
        const float* src = rows.source(id) + j0;
#pragma unroll
        for (int u = 0; u < kColumnsPerLane; ++u) {
          const long long j = lane + 32 * u;
          if (j0 + j < width) acc[u] = fmaf(c, src[j], acc[u]);
        }
      }
#pragma unroll
      for (int u = 0; u < kColumnsPerLane; ++u) partial[warp][lane + 32 * u] = acc[u];
      __syncthreads();
      const long long j = j0 + threadIdx.x;
      if (threadIdx.x < kRowColumns && j < width) {
        float sum = partial[0][threadIdx.x];
        for (int w = 1; w < kWarps; ++w) sum += partial[w][threadIdx.x];
        dst[j] += sum;
      }
      __syncthreads();  // the partials are read before the next chunk overwrites them
    }
  }
}

int bits_for(unsigned long long rows) {
  int bits = 1;
  while (bits < 64 && (1ULL << bits) < rows) ++bits;
  return bits;
}

void check_cub(cudaError_t err, const char* what) {
  check_cuda(err, what);
}

// The most temporary storage CUB's sort, run-length encoding and scan ask for over `items` items
// (the sub-key sort, the larger of the two) and the value sort's `value_items`.
std::size_t cub_temp_bytes(long long items, int key_bits, long long value_items, int value_bits) {
  std::size_t most = 0;
  auto take = [&most](std::size_t b) { most = b > most ? b : most; };
  cub::DoubleBuffer<unsigned> keys(nullptr, nullptr), ids(nullptr, nullptr);
  std::size_t b = 0;
  check_cub(
      cub::DeviceRadixSort::SortPairs(nullptr, b, keys, ids, static_cast<int>(items), 0, key_bits),
      "cuda pkm_layer_backward: CUB sort size");
  take(b);
  check_cub(cub::DeviceRadixSort::SortPairs(nullptr, b, keys, ids, static_cast<int>(value_items), 0,
                                            value_bits),
            "cuda pkm_layer_backward: CUB sort size");
  take(b);
  unsigned* u = nullptr;
  check_cub(cub::DeviceRunLengthEncode::Encode(nullptr, b, u, u, u, u, static_cast<int>(items)),
            "cuda pkm_layer_backward: CUB run-length size");
  take(b);
  check_cub(cub::DeviceScan::ExclusiveSum(nullptr, b, u, u, static_cast<int>(items)),
            "cuda pkm_layer_backward: CUB scan size");
  take(b);
  return most;
}

// Buffers for one sort-and-scatter: keys and ids double-buffered, and the runs.
struct SortBuffers {
  unsigned *keys_a, *keys_b, *ids_a, *ids_b, *run_rows, *run_counts, *run_starts, *run_total;
  void* temp;
  std::size_t temp_bytes;
};

// Sorts `items` (row, id) pairs by row (stably: ids in order within a row), finds the runs of
// equal rows, and adds each run's contributions to its row.
template <class Rows>
void sort_and_scatter(SortBuffers& s, long long items, int key_bits, long long max_runs,
                      const Rows& rows, long long width, const char* what) {
  const cudaStream_t stream = launch_stream();
  cub::DoubleBuffer<unsigned> keys(s.keys_a, s.keys_b), ids(s.ids_a, s.ids_b);
  std::size_t bytes = s.temp_bytes;
  const int n = static_cast<int>(items);
  check_cub(cub::DeviceRadixSort::SortPairs(s.temp, bytes, keys, ids, n, 0, key_bits, stream),
            what);
  // Counts past the last run are scanned too (the scan's length is set on the host): zeroed, so
  // that nothing reads memory never written.
  check_cuda(
      cudaMemsetAsync(s.run_counts, 0, static_cast<std::size_t>(items) * sizeof(unsigned), stream),
      what);
  bytes = s.temp_bytes;
  check_cub(cub::DeviceRunLengthEncode::Encode(s.temp, bytes, keys.Current(), s.run_rows,
                                               s.run_counts, s.run_total, n, stream),
            what);
  bytes = s.temp_bytes;
  // Over all `items` slots: the starts past the last run are never read.
  check_cub(cub::DeviceScan::ExclusiveSum(s.temp, bytes, s.run_counts, s.run_starts, n, stream),
            what);
  const long long runs = max_runs < items ? max_runs : items;
  const dim3 grid(static_cast<unsigned>(runs < kMaxRunBlocks ? runs : kMaxRunBlocks),
                  strided_grid_yz(ceil_div(width, kRowColumns)));
  scatter_rows<<<grid, kThreads, 0, stream>>>(rows, s.run_rows, s.run_starts, s.run_counts,
                                              s.run_total, ids.Current(), width);
  check_cuda(cudaGetLastError(), what);
}

}  // namespace

std::string pkm_layer_backward_unsupported(const pkm::Dims& d) {
  if (d.k > kMaxK) {
    return "cuda.fast keeps a (token, head)'s k softmax terms in shared memory: k <= " +
           std::to_string(kMaxK);
  }
  if (2 * d.tokens * d.heads * d.k > pkm_bwd::kMaxEntries) {
    return "cuda.fast sorts the sub-key contributions with 32-bit item numbers: "
           "2 * tokens * heads * k < 2^31";
  }
  if (d.keys() > pkm_bwd::kMaxEntries || 2 * d.heads * d.n > pkm_bwd::kMaxEntries) {
    return "cuda.fast sorts by row with 32-bit keys: product keys and 2 * heads * subkeys < 2^31";
  }
  return "";
}

double pkm_layer_backward_scratch_bytes(const pkm::Dims& d) {
  if (d.tokens <= 0 || d.heads <= 0 || d.k <= 0) return pkm_bwd::explicit_scratch_bytes(d);
  const long long entries = d.tokens * d.heads * d.k;
  return pkm_bwd::explicit_scratch_bytes(d) +
         static_cast<double>(cub_temp_bytes(
             2 * entries, bits_for(static_cast<unsigned long long>(2 * d.heads * d.n)), entries,
             bits_for(d.keys())));
}

void pkm_layer_backward(const cpu::PkmBackwardInputs& in, const cpu::PkmBackwardGrads& g,
                        const pkm::Dims& d, std::int64_t din, std::int64_t dv, float eps) {
  if (std::string why = pkm_layer_backward_unsupported(d); !why.empty()) {
    throw std::invalid_argument(why);
  }
  if (din < 0 || dv < 0 || d.k < 1 || d.dk < 0 || d.dk % 2 != 0) {
    throw std::invalid_argument(
        "cuda pkm_layer_backward: din and dv must not be negative, k at least 1, dk even");
  }
  if (d.tokens <= 0 || d.heads <= 0) return;
  const cudaStream_t stream = launch_stream();
  const pkm::LayerWeights& w = in.wts;
  const long long T = d.tokens, H = d.heads, K = d.k, hdk = H * d.dk, half = d.half();
  const long long entries = T * H * K, items = 2 * entries;
  const long long slices = pkm_bwd::slices(T);

  DeviceScratch& scratch = device_scratch();
  auto floats = [&scratch](const char* what, long long count) {
    return scratch.get<float>(what, static_cast<std::size_t>(count));
  };
  auto words = [&scratch](const char* what, long long count) {
    return scratch.get<unsigned>(what, static_cast<std::size_t>(count));
  };
  float* q = floats("pkm_layer_backward q", T * hdk);
  float* dq = floats("pkm_layer_backward dq", T * hdk);
  float* ds = floats("pkm_layer_backward ds", entries);
  float* partials = floats("pkm_layer_backward column partials", 3 * slices * hdk);
  SortBuffers s{};
  s.keys_a = words("pkm_layer_backward keys a", items);
  s.keys_b = words("pkm_layer_backward keys b", items);
  s.ids_a = words("pkm_layer_backward ids a", items);
  s.ids_b = words("pkm_layer_backward ids b", items);
  s.run_rows = words("pkm_layer_backward run rows", items);
  s.run_counts = words("pkm_layer_backward run counts", items);
  s.run_starts = words("pkm_layer_backward run starts", items);
  s.run_total = words("pkm_layer_backward run total", 1);
  const int key_bits = bits_for(static_cast<unsigned long long>(2 * H * d.n));
  const int value_bits = bits_for(static_cast<unsigned long long>(d.keys()));
  // Never 0 bytes: CUB takes a null temporary pointer for a size query and would sort nothing.
  s.temp_bytes = std::max<std::size_t>(cub_temp_bytes(items, key_bits, entries, value_bits), 16);
  s.temp = scratch.get("pkm_layer_backward CUB temporary", s.temp_bytes);

  // 1. The softmax's gradient, dq and q.
  softmax_query_grad<<<grid_x_or_throw(T * H, "cuda pkm_layer_backward softmax"), kThreads, 0,
                       stream>>>(in.dy, w.values, in.indices, in.weights, w.k1, w.k2, in.zhat,
                                 w.bn_gamma, w.bn_beta, ds, q, dq, static_cast<int>(H),
                                 static_cast<int>(K), d.n, d.dk, dv);
  check_cuda(cudaGetLastError(), "cuda pkm_layer_backward softmax launch");

  // 2. The batch normalization's column sums; dz over dq.
  if (hdk > 0) {
    const dim3 grid(grid_x_or_throw(ceil_div(hdk, kSumColumns), "cuda pkm_layer_backward sums"),
                    static_cast<unsigned>(slices));
    column_partials<<<grid, dim3(kSumColumns, kSumRows), 0, stream>>>(
        dq, in.zhat, w.bn_gamma, w.bn_var, partials, T, hdk, pkm_bwd::slice_tokens(T), eps);
    check_cuda(cudaGetLastError(), "cuda pkm_layer_backward column sums launch");
    column_totals<<<grid_x_or_throw(ceil_div(hdk, 256), "cuda pkm_layer_backward totals"), 256, 0,
                    stream>>>(partials, g.dbn_beta, g.dbn_gamma, g.db, slices, hdk);
    check_cuda(cudaGetLastError(), "cuda pkm_layer_backward column totals launch");
  }

  // 3. The projection: dw [din, hdk] = x^T dz, dx [tokens, din] = dz w^T.
  gemm_row_major(in.x, true, dq, false, g.dw, din, T, hdk, "cuda pkm_layer_backward dw");
  gemm_row_major(dq, false, w.w, true, g.dx, T, hdk, din, "cuda pkm_layer_backward dx");

  // 4. The scatter-adds: the value rows, then both sub-key sets.
  if (dv > 0) {
    value_pairs<<<grid_x_or_throw(ceil_div(entries, 256), "cuda pkm_layer_backward pairs"), 256, 0,
                  stream>>>(in.indices, s.keys_a, s.ids_a, entries);
    check_cuda(cudaGetLastError(), "cuda pkm_layer_backward value pairs launch");
    sort_and_scatter(s, entries, value_bits, d.keys(),
                     ValueRows{in.weights, in.dy, g.dvalues, H * K, dv}, dv,
                     "cuda pkm_layer_backward value rows");
  }
  if (half > 0) {
    key_pairs<<<grid_x_or_throw(ceil_div(items, 256), "cuda pkm_layer_backward pairs"), 256, 0,
                stream>>>(in.indices, s.keys_a, s.ids_a, entries, static_cast<int>(H),
                          static_cast<int>(K), d.n);
    check_cuda(cudaGetLastError(), "cuda pkm_layer_backward sub-key pairs launch");
    const SubKeyRows rows{ds, q, g.dk1, g.dk2, entries, K, H, d.dk, d.n};
    sort_and_scatter(s, items, key_bits, 2 * H * d.n, rows, half,
                     "cuda pkm_layer_backward sub-key rows");
  }
}

}  // namespace opbench::cuda
