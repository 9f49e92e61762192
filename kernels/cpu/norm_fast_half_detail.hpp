#pragma once
// Internals of cpu.fast's 16-bit row kernels (norm_fast_half.cpp: LayerNorm, RMSNorm;
// norm_fast_half_fused.cpp: DyT, residual add + LayerNorm / RMSNorm), shared so that both files
// split rows over the threads, derive a row's parameters from its sums and round their outputs
// the same way.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "harness/half.hpp"
#include "kernels/cpu/norm_fast_moments.hpp"

namespace opbench::cpu::fast::half_detail {

using detail::i64;
using detail::kChunk;
using detail::Sums;

// Rows handed out to the threads in ranges (see for_rows()): each range is taken from a shared
// counter, the first ones large, then smaller (a quarter of what is left per thread, at least
// min_take rows: kMinTake, or a thread's share of fewer rows), so that a thread that is slowed or
// descheduled on a shared machine leaves the rest of its share to the others, where contiguous
// blocks, one per thread, made every call wait for the slowest thread.
constexpr i64 kMinTake = 64;
struct Work {
  std::atomic<i64> next{0};
  i64 rows = 0;
  i64 threads = 1;
  i64 min_take = 1;
  bool take(i64& r0, i64& r1) {
    i64 cur = next.load(std::memory_order_relaxed);
    for (;;) {
      if (cur >= rows) return false;
      const i64 n = std::min(rows - cur, std::max(min_take, (rows - cur) / (4 * threads)));
      if (next.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed)) {
        r0 = cur;
        r1 = cur + n;
        return true;
      }
    }
  }
};

// Runs fn(Work&) on every thread (on the calling thread only for small problems); fn takes its
// rows from the shared Work until none are left.
template <class Fn>
void for_rows(i64 rows, i64 cols, Fn fn) {
  const bool par =
      rows > 1 && rows * cols >= detail::kParallelMinElems && omp_get_max_threads() > 1;
  Work wk;
  wk.rows = rows;
  wk.threads = par ? omp_get_max_threads() : 1;  // sizes the ranges only
  wk.min_take = std::min<i64>(kMinTake, (rows + wk.threads - 1) / wk.threads);
#pragma omp parallel if (par)
  { fn(wk); }
}

// A row's parameters. LayerNorm: y = ((x - sh) * rstd + nmr) * gamma + beta, nmr = -mean * rstd
// with mean that of x - sh. RMSNorm: y = x * rstd * gamma.
struct Params {
  float sh, rstd, nmr;
};

// LayerNorm's parameters from the sums of x - sh; resum(s) gives the sums of x - s, called when
// those about sh are not trusted (see moments() in norm_fast_moments.hpp).
template <class Resum>
Params ln_params(Sums s, float sh, i64 n, float eps, Resum resum) {
  const double dn = static_cast<double>(n);
  double mean = s.s1 / dn, m2 = s.s2 - s.s1 * mean;
  if (!(m2 * detail::kShiftGuard >= s.s2)) {
    sh = static_cast<float>(sh + mean);
    s = resum(sh);
    mean = s.s1 / dn;
    m2 = s.s2 - s.s1 * mean;
  }
  const float rstd = detail::rsqrt_d(std::max(m2, 0.0) / dn + eps);
  return {sh, rstd, static_cast<float>(-mean * rstd)};
}

inline Params rms_params(const Sums& s, i64 n, float eps) {
  return {0.0f, detail::rsqrt_d(s.s2 / static_cast<double>(n) + eps), 0.0f};
}

// Float32 scratch aligned to a cache line (gamma and beta widened, a row for the portable path).
struct Scratch {
  std::vector<float> buf;
  float* at(i64 n) {
    buf.resize(static_cast<std::size_t>(n) + 16);
    const auto mis = reinterpret_cast<std::uintptr_t>(buf.data()) % 64;
    return buf.data() + (64 - mis) % 64 / sizeof(float);
  }
};

// One call of LayerNorm (beta given) or RMSNorm over x[rows, cols] in 16-bit storage T.
template <class T>
struct Job {
  const T* x;
  const T* gamma;
  const T* beta;  // null for RMSNorm
  T* y;
  i64 rows, cols;
  float eps;
  bool nt;  // non-temporal stores (large output)
};

// The AVX2 path (norm_fast_half_avx2.cpp): rows of LayerNorm (kLN) or RMSNorm taken from `wk`.
// Only for CPUs with AVX2, FMA and F16C (has_avx2_path()); instantiated for bf16_t and f16_t.
bool has_avx2_path();
template <class T, bool kLN>
void rows_avx2(const Job<T>& jb, Work& wk);

// Rounded once, to nearest even (the portable conversions of harness/half.hpp).
inline void put(bf16_t& o, float f) {
  o = bf16_from_float(f);
}
inline void put(f16_t& o, float f) {
  o = f16_from_float(f);
}

}  // namespace opbench::cpu::fast::half_detail
