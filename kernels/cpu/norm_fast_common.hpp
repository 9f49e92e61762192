#pragma once
// Internals of cpu.fast's normalization kernels (kernels/cpu/norm_fast*.cpp): how work is split
// over the OpenMP threads, and the store emitters that write one or two outputs with normal or
// non-temporal (streaming) stores.
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/norm_fast_simd.hpp"

namespace opbench::cpu::fast::detail {

using simd::kW;
using simd::load;
using simd::splat;
using simd::vf;
using i64 = std::int64_t;

// Below this many elements a kernel runs on the calling thread only.
constexpr i64 kParallelMinElems = i64{1} << 14;
// Outputs of at least this many bytes are written with non-temporal stores.
constexpr i64 kStreamMinBytes = i64{16} << 20;
// Statistics are accumulated in float32 over chunks of this many elements, merged in double.
constexpr i64 kChunk = 2048;

inline bool use_stream(i64 out_bytes) {
  return OPBENCH_HAVE_STREAM && out_bytes >= kStreamMinBytes;
}

// Whether every row of y[rows, cols] starts on a vector boundary, as streaming stores need.
inline bool rows_vector_aligned(const float* y, i64 cols) {
  return cols % kW == 0 && reinterpret_cast<std::uintptr_t>(y) % sizeof(vf) == 0;
}

// Runs fn(i, nt) for i in [0, count), statically split over the threads when the work is large
// enough. `nt` tells fn whether to use non-temporal stores; the stores are fenced before return.
template <class Fn>
void for_each_index(i64 count, i64 total_elems, i64 out_bytes, Fn fn) {
  const bool nt = use_stream(out_bytes);
  if (count > 1 && total_elems >= kParallelMinElems && omp_get_max_threads() > 1) {
#pragma omp parallel
    {
#pragma omp for schedule(static) nowait
      for (i64 i = 0; i < count; ++i) fn(i, nt);
      if (nt) simd::stream_fence();
    }
  } else {
    for (i64 i = 0; i < count; ++i) fn(i, nt);
    if (nt) simd::stream_fence();
  }
}

// y[j] = f(j) for j in [0, n): fv(j) gives the vector of elements j .. j + kW - 1, fs(j) element j.
// With nt, full vectors are streamed to 64-byte aligned addresses (scalar head to reach alignment).
template <class FV, class FS>
inline void emit(float* y, i64 n, bool nt, FV fv, FS fs) {
  i64 j = 0;
  if (nt && n >= 2 * kW && reinterpret_cast<std::uintptr_t>(y) % sizeof(float) == 0) {
    const i64 head = std::min<i64>(
        n, static_cast<i64>((64 - reinterpret_cast<std::uintptr_t>(y) % 64) % 64 / sizeof(float)));
    for (; j < head; ++j) y[j] = fs(j);
    for (; j + 2 * kW <= n; j += 2 * kW) {
      const vf a = fv(j);
      const vf b = fv(j + kW);
      simd::stream(y + j, a);
      simd::stream(y + j + kW, b);
    }
    for (; j + kW <= n; j += kW) simd::stream(y + j, fv(j));
  } else {
    for (; j + 2 * kW <= n; j += 2 * kW) {
      const vf a = fv(j);
      const vf b = fv(j + kW);
      simd::store(y + j, a);
      simd::store(y + j + kW, b);
    }
    for (; j + kW <= n; j += kW) simd::store(y + j, fv(j));
  }
  for (; j < n; ++j) y[j] = fs(j);
}

// Two outputs from one pass: fv(j) returns {y1 vector, y2 vector}, fs(j) {y1[j], y2[j]}. Every
// position is read before it is written, so y1 or y2 may alias the inputs.
struct V2 {
  vf a, b;
};
struct S2 {
  float a, b;
};
template <class FV, class FS>
inline void emit2(float* y1, float* y2, i64 n, bool nt, FV fv, FS fs) {
  const auto mis = [](const float* p) { return reinterpret_cast<std::uintptr_t>(p) % 64; };
  i64 j = 0;
  if (nt && n >= 2 * kW && mis(y1) == mis(y2) && mis(y1) % sizeof(float) == 0) {
    const i64 head = std::min<i64>(n, static_cast<i64>((64 - mis(y1)) % 64 / sizeof(float)));
    for (; j < head; ++j) {
      const S2 v = fs(j);
      y1[j] = v.a;
      y2[j] = v.b;
    }
    for (; j + kW <= n; j += kW) {
      const V2 v = fv(j);
      simd::stream(y1 + j, v.a);
      simd::stream(y2 + j, v.b);
    }
  } else {
    for (; j + kW <= n; j += kW) {
      const V2 v = fv(j);
      simd::store(y1 + j, v.a);
      simd::store(y2 + j, v.b);
    }
  }
  for (; j < n; ++j) {
    const S2 v = fs(j);
    y1[j] = v.a;
    y2[j] = v.b;
  }
}

}  // namespace opbench::cpu::fast::detail
