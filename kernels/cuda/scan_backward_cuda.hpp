#pragma once
// cuda.fast backward scans, float32: linear_scan_backward (da, db, dh0 of h_t = a_t h_{t-1} + b_t
// given dL/dh and the saved h; equations and argument order of reference/scan.hpp) and
// log_scan_backward (dlog_a, dlog_b, dlog_h0 of Heinsen's log-space scan given dL/d(log h) and
// the saved log h; the stable form of reference/scan_backward.cpp, as kernels/cpu/
// log_scan_backward.cpp computes it). Pointers are device pointers; each function launches on the
// bound stream (launch_stream.hpp) and returns without synchronizing; no scratch. A launch error
// is thrown as std::runtime_error, a shape beyond one launch (2^31 - 1 blocks) as
// std::invalid_argument.
//
// Both are reverse scans over T, independent over (batch, channel): one thread per sequence,
// consecutive threads on consecutive channels (every load and store of a warp is one coalesced
// run of a row), the carried value in a register. The inputs of kBwdSteps steps are loaded before
// any of them is used (they do not depend on the carry), so each thread keeps that many steps'
// loads in flight; the carry's dependent chain is then arithmetic only.
//
// The functions below (OPBENCH_HD) are the kernels' whole per-thread bodies: the device calls
// them, and tests/test_kernels_cuda_host.cpp calls them on the host against the float64
// references, so the arithmetic and the step order are tested without a GPU.
#include <cmath>
#include <cstdint>

#include "kernels/cuda/host_device.hpp"

namespace opbench::cuda {

void linear_scan_backward(const float* a, const float* h0, const float* h, const float* dh,
                          float* da, float* db, float* dh0, std::int64_t batch, std::int64_t T,
                          std::int64_t D);

void log_scan_backward(const float* log_a, const float* log_b, const float* log_h0,
                       const float* log_h, const float* dlog_h, float* dlog_a, float* dlog_b,
                       float* dlog_h0, std::int64_t batch, std::int64_t T, std::int64_t D);

namespace scan_bwd {

constexpr int kBwdSteps = 8;  // steps whose loads one thread issues together

// --- linear: delta_t = dh_t + a_{t+1} delta_{t+1}; db_t = delta_t, da_t = delta_t h_{t-1} ------

// delta_t from dh_t and the step after (a_{t+1} = 0, delta_{t+1} = 0 after the last step). One
// rounding (fma) where the CPU's mul-add takes two: within the suite's rule either way.
OPBENCH_HD float linear_delta(float dh, float a_next, float delta_next) {
  return fmaf(a_next, delta_next, dh);
}

// Sequence (n, d) of linear_scan_backward: `first` = (n T) D + d, its element at t = 0;
// `state` = n D + d, its h0 and dh0. Steps t = T-1 .. 0, K at a time (loads first), then the
// T mod K steps left, one at a time.
template <int K>
OPBENCH_HD void linear_backward_sequence(const float* __restrict__ a, const float* __restrict__ h0,
                                         const float* __restrict__ h, const float* __restrict__ dh,
                                         float* __restrict__ da, float* __restrict__ db,
                                         float* __restrict__ dh0, std::int64_t first,
                                         std::int64_t state, std::int64_t T, std::int64_t D) {
  float delta = 0.0f, a_next = 0.0f;
  std::int64_t t = T - 1;
  for (; t >= K - 1; t -= K) {
    float g[K], av[K], hp[K];
#ifdef __CUDACC__
#pragma unroll
#endif
    for (int j = 0; j < K; ++j) {
      const std::int64_t i = first + (t - j) * D;
      g[j] = dh[i];
      av[j] = a[i];
      hp[j] = t - j > 0 ? h[i - D] : h0[state];
    }
#ifdef __CUDACC__
#pragma unroll
#endif
    for (int j = 0; j < K; ++j) {
      const std::int64_t i = first + (t - j) * D;
      delta = linear_delta(g[j], a_next, delta);
      db[i] = delta;
      da[i] = delta * hp[j];
      a_next = av[j];
    }
  }
  for (; t >= 0; --t) {
    const std::int64_t i = first + t * D;
    delta = linear_delta(dh[i], a_next, delta);
    db[i] = delta;
    da[i] = delta * (t > 0 ? h[i - D] : h0[state]);
    a_next = a[i];
  }
  dh0[state] = a_next * delta;  // a_0 delta_0 (0 when T = 0)
}

// --- log space: r_t = dlog_h_t + dlog_a_{t+1}, dlog_a_t = r_t exp(log a_t + log h_{t-1} - log
// h_t), dlog_b_t = r_t exp(log b_t - log h_t), dlog_h0 = dlog_a_0
// -------------------------------------

// exp(x) for the exponents here (<= 0 up to rounding), 0 below -87: a zero gate or b = 0 (log =
// -inf) passes exactly no gradient, as in the reference, and cpu.fast gives the same 0 (the
// suite's rule allows e^-87 there). NaN stays NaN. The accurate expf (2 ulp), not __expf.
OPBENCH_HD float exp_or_zero(float x) {
  return x < -87.0f ? 0.0f : expf(x);
}

// One step: r = dlog_h + carried (dlog_a of the step after; 0 after the last); writes dlog_b and
// returns dlog_a, the next step's carried value.
OPBENCH_HD float log_backward_step(float dlog_h, float carried, float log_a, float log_b,
                                   float log_h_prev, float log_h, float& dlog_b) {
  const float r = dlog_h + carried;
  dlog_b = r * exp_or_zero(log_b - log_h);
  return r * exp_or_zero(log_a + log_h_prev - log_h);
}

// Sequence (n, d) of log_scan_backward (indices as linear_backward_sequence). log h_t is read once,
// as step t + 1's log h_{t-1}, and carried into step t.
template <int K>
OPBENCH_HD void log_backward_sequence(const float* __restrict__ log_a,
                                      const float* __restrict__ log_b,
                                      const float* __restrict__ log_h0,
                                      const float* __restrict__ log_h,
                                      const float* __restrict__ dlog_h, float* __restrict__ dlog_a,
                                      float* __restrict__ dlog_b, float* __restrict__ dlog_h0,
                                      std::int64_t first, std::int64_t state, std::int64_t T,
                                      std::int64_t D) {
  float carried = 0.0f;
  float lh = T > 0 ? log_h[first + (T - 1) * D] : 0.0f;  // log h_t of the step being computed
  std::int64_t t = T - 1;
  for (; t >= K - 1; t -= K) {
    float g[K], la[K], lb[K], lp[K];
#ifdef __CUDACC__
#pragma unroll
#endif
    for (int j = 0; j < K; ++j) {
      const std::int64_t i = first + (t - j) * D;
      g[j] = dlog_h[i];
      la[j] = log_a[i];
      lb[j] = log_b[i];
      lp[j] = t - j > 0 ? log_h[i - D] : log_h0[state];
    }
#ifdef __CUDACC__
#pragma unroll
#endif
    for (int j = 0; j < K; ++j) {
      const std::int64_t i = first + (t - j) * D;
      float b_grad;
      carried = log_backward_step(g[j], carried, la[j], lb[j], lp[j], lh, b_grad);
      dlog_b[i] = b_grad;
      dlog_a[i] = carried;
      lh = lp[j];
    }
  }
  for (; t >= 0; --t) {
    const std::int64_t i = first + t * D;
    const float prev = t > 0 ? log_h[i - D] : log_h0[state];
    float b_grad;
    carried = log_backward_step(dlog_h[i], carried, log_a[i], log_b[i], prev, lh, b_grad);
    dlog_b[i] = b_grad;
    dlog_a[i] = carried;
    lh = prev;
  }
  dlog_h0[state] = carried;  // dlog_a_0 (0 when T = 0)
}

}  // namespace scan_bwd
}  // namespace opbench::cuda
