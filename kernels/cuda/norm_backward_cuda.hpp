#pragma once
// cuda.fast LayerNorm and RMSNorm backward, float32 (equations and argument order of
// reference/norm_backward.hpp; the CPU design is kernels/cpu/norm_backward_fast.cpp). Pointers are
// device pointers; each function launches on the bound stream (launch_stream.hpp) and returns
// without synchronizing. The per-block partial column sums live in the bound kernel's scratch
// arena (harness/device.hpp: device_scratch); norm_backward_scratch_bytes says how much a shape
// takes, for the planner's memory check. Launch errors are thrown as std::runtime_error, a bad
// shape as std::invalid_argument.
//
// The small functions below (OPBENCH_HD) are the kernels' arithmetic: the device calls them, and
// tests/test_kernels_cuda_host.cpp calls them on the host, in the kernels' launch structure, so
// that the per-row math and the fixed order of the partial sums are tested without a GPU.
#include <cmath>
#include <cstdint>

#include "kernels/cuda/host_device.hpp"

namespace opbench::cuda {

void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                        const float* rstd, float* dx, float* dgamma, float* dbeta,
                        std::int64_t rows, std::int64_t cols);

void rmsnorm_backward(const float* dy, const float* x, const float* gamma, const float* rstd,
                      float* dx, float* dgamma, std::int64_t rows, std::int64_t cols);

// Bytes of device scratch the shape takes on the current device (0 without one): the partial
// dgamma (and dbeta) rows of every row block.
double norm_backward_scratch_bytes(std::int64_t rows, std::int64_t cols, bool layernorm);

namespace norm_bwd {

// Threads of the column-sum kernel: kSumCols columns by kSumLanes lanes, each lane summing every
// kSumLanes-th partial, then the kSumLanes lane sums added in lane order.
constexpr int kSumCols = 32;
constexpr int kSumLanes = 8;

// Row blocks of a launch: one per row when rows are few, else as many as are resident at once
// (`resident`: multiprocessors x resident blocks per multiprocessor), so the row loop runs in one
// wave with no tail. At least 1.
OPBENCH_HD std::int64_t row_blocks(std::int64_t rows, std::int64_t resident) {
  const std::int64_t b = rows < resident ? rows : resident;
  return b > 0 ? b : 1;
}

// First row of row block `b` of `blocks`; block b takes [row_begin(b), row_begin(b + 1)): every
// row exactly once, the blocks' sizes differing by at most one.
OPBENCH_HD std::int64_t row_begin(std::int64_t b, std::int64_t blocks, std::int64_t rows) {
  return rows * b / blocks;
}

// The row's mean(g) and mean(g xhat) from its sums (double) over n columns, as dx_element takes
// them: mean(g) as a float pair hi + lo, so that fma(dy, gamma, -hi) - lo cancels exactly where g
// equals its mean (a constant row's dx is 0 exactly, whatever rstd is; see norm_backward_fast.cpp).
struct RowTerms {
  float mg_hi, mg_lo, mgx;
};
OPBENCH_HD RowTerms row_terms(double sum_g, double sum_gx, double n) {
  const double mg = sum_g / n;
  const float hi = static_cast<float>(mg);
  return {hi, static_cast<float>(mg - static_cast<double>(hi)), static_cast<float>(sum_gx / n)};
}

// xhat of one element; the kernels' pass 1 and pass 2 both use it, so the sums and dx agree.
OPBENCH_HD float xhat(float x, float mean, float rstd) {
  return (x - mean) * rstd;
}

// dx = rstd (dy gamma - mean(g) - xhat mean(g xhat)); RMSNorm passes mg_hi = mg_lo = 0.
OPBENCH_HD float dx_element(float dy, float gamma, float xh, float rstd, const RowTerms& t) {
  const float g = fmaf(dy, gamma, -t.mg_hi) - t.mg_lo;
  return fmaf(xh, -t.mgx, g) * rstd;
}

// Column j's sum of the partials of `blocks` row blocks (partials[b * cols + j]) taken by lane
// `lane` of kSumLanes: blocks lane, lane + kSumLanes, ..., in that order, in double.
OPBENCH_HD double lane_partial_sum(const float* partials, std::int64_t blocks, std::int64_t cols,
                                   std::int64_t j, int lane) {
  double s = 0.0;
  for (std::int64_t b = lane; b < blocks; b += kSumLanes) s += partials[b * cols + j];
  return s;
}

// The kernel's second stage for one column: the kSumLanes lane sums (lane l at lane_sums[l *
// stride]) added in lane order.
OPBENCH_HD double combine_lanes(const double* lane_sums, int stride) {
  double s = 0.0;
  for (int l = 0; l < kSumLanes; ++l) s += lane_sums[l * stride];
  return s;
}

}  // namespace norm_bwd
}  // namespace opbench::cuda
