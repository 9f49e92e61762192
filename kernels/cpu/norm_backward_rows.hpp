#pragma once
// The row split of the cpu.fast norm backward kernels (norm_backward_fast.cpp,
// norm_srmsnorm_deepnorm_backward.cpp): rows shared out one contiguous range per thread, each
// thread adding its rows' parameter gradients (dgamma, dbeta) into partial column sums of its own,
// then the partials summed in thread order, in double, so that the result never depends on which
// thread finished first.
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/cpu/norm_fast_common.hpp"

namespace opbench::cpu::fast::detail {

// Rows [0, rows) split into one contiguous range per thread: range(r0, r1, partial, stride) runs
// on each, with NS zeroed float32 partial column sums of the thread (partial + k * stride, k < NS,
// each padded to whole cache lines: no false sharing); then sums[k][j] = the partials summed in
// thread order, in double (a null sums[k] is left out). One thread below kParallelMinElems.
template <int NS, class Range>
void over_rows(i64 rows, i64 cols, const std::array<float*, NS>& sums, Range range) {
  const int nthreads =
      rows > 1 && rows * cols >= kParallelMinElems ? std::max(1, omp_get_max_threads()) : 1;
  const i64 stride = (cols + 15) / 16 * 16;
  const std::size_t per_thread = static_cast<std::size_t>(stride) * NS;
  // Uninitialized: each thread zeroes its own (first touch on the thread that uses it).
  const std::unique_ptr<float[]> storage(new float[per_thread * nthreads + 16]);
  float* const base = storage.get() + (64 - reinterpret_cast<std::uintptr_t>(storage.get()) % 64) %
                                          64 / sizeof(float);
  const auto run = [&](int t, int threads) {
    float* part = base + per_thread * static_cast<std::size_t>(t);
    std::fill(part, part + per_thread, 0.0f);
    range(rows * t / threads, rows * (t + 1) / threads, part, stride);
  };
  // Columns [c0, c1) of every sum.
  const auto reduce = [&](int threads, i64 c0, i64 c1) {
    for (int k = 0; k < NS; ++k) {
      float* const sum = sums[static_cast<std::size_t>(k)];
      if (sum == nullptr) continue;
      for (i64 j = c0; j < c1; ++j) {
        double acc = 0.0;
        for (int t = 0; t < threads; ++t) {
          acc += base[per_thread * static_cast<std::size_t>(t) +
                      static_cast<std::size_t>(k * stride + j)];
        }
        sum[j] = static_cast<float>(acc);
      }
    }
  };
  if (nthreads == 1) {
    run(0, 1);
    reduce(1, 0, cols);
    return;
  }
#pragma omp parallel num_threads(nthreads)
  {
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    run(t, T);
#pragma omp barrier
    reduce(T, cols * t / T, cols * (t + 1) / T);
  }
}

}  // namespace opbench::cpu::fast::detail
