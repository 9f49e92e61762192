// cpu.fast: optimized float32 normalization kernels.
//
// Row-wise ops (layernorm, rmsnorm, crmsnorm, weight_std, add_*) read each row once from memory.
// Large aligned outputs (streamed) are software-pipelined: one loop writes a block of 4 rows while
// it reads the next 4 for their statistics (pipelined_rows). Otherwise rows go in blocks of 2; a
// statistics pass over each row of the block, then the output of the block in column blocks of
// 1024 (x from L1/L2, the gamma/beta slices stay in L1 across the rows). Ops without statistics
// (dyt, batchnorm_infer) stream whole rows. Rows (or blocks) are split statically over the OpenMP
// threads; small problems run on the calling thread. Outputs of 16 MiB and more are written with
// non-temporal stores (no read-for-ownership, no cache pollution; a scalar head reaches 64-byte
// alignment); smaller ones with normal stores, so that the next kernel finds them in cache.
//
// Statistics are shifted sums: d = x - shift, with shift a value of the row (its first element),
// so x - shift is exact by Sterbenz for rows with a large common offset and sum(d^2) stays
// comparable to M2. sum(d) and sum(d^2) are accumulated in one pass with several float32 vector
// accumulators per chunk of 2048 elements, chunks summed in double, M2 = sum(d^2) - sum(d)^2 / n.
// Their error is a few 1e-7 of sum(d^2), so when sum(d^2) > 8 M2 (the shift lies far from the
// mean: an outlier as first element) M2 is recomputed by the corrected two-pass formula over the
// cached row. Never the unshifted E[x^2] - E[x]^2. A constant row gives d = 0 exactly, so the
// output is beta exactly.
//
// batchnorm_train streams x once for per-column shifted sums (shift: the mean of the first 16
// rows), then writes y; groupnorm and evonorm_s0 use the row machinery on each contiguous
// (sample, group) block; evonorm_b0 merges per-(sample, channel) statistics into batch
// statistics (Chan et al.); online_norm is sequential over samples and parallel over channels.
// Every kernel reads all its statistics before writing an output, so y may alias x.
#include "kernels/cpu/norm_fast.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/cpu/norm_fast_simd.hpp"

namespace opbench::cpu::fast {
namespace {

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

bool use_stream(i64 out_bytes) {
  return OPBENCH_HAVE_STREAM && out_bytes >= kStreamMinBytes;
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

// Row-wise driver. stats(r) computes the parameters of row r (one pass over the row, from memory);
// out(r, p, c0, c1, nt) writes columns [c0, c1) of row r. Rows go in blocks: first the statistics
// of every row of the block, then
// the output in column blocks of kColBlock, all rows of the block per column block, so that the
// gamma/beta slices stay in L1 across the rows (one row each of x, gamma, beta and y is 64 KiB at
// 4096 columns, more than L1). With 4096 columns every row starts at the same L1 set, so the
// lines of all rows of a block compete for one 12-way set: with normal stores (x and y lines in
// L1) blocks are 2 rows, with streaming stores (y bypasses the caches) 8 rows; row ops with large
// aligned outputs take pipelined_rows instead. (Software prefetches
// of the next block's rows while this one was written helped on a host whose copy ran at 51 GB/s;
// on one at 80-90 GB/s they cost 16-21% at 16384 x 4096, against the hardware prefetchers alone.)
constexpr i64 kRowsPerBlockCached = 2;
constexpr i64 kRowsPerBlockStreamed = 8;
constexpr i64 kColBlock = 1024;

inline bool aligned64(const float* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 64 == 0;
}

template <class P, class Stats, class Out>
void for_row_blocks(i64 rows, i64 cols, i64 out_bytes, bool outputs_aligned, Stats stats, Out out) {
  // Without statistics (P empty) rows stream straight through: column blocks would read x from
  // memory in short pieces, row after row, which the prefetchers handle worse than whole rows.
  // Column blocks would also cost scalar heads with streaming stores unless rows are 64-byte
  // aligned.
  const bool blocked =
      !std::is_empty_v<P> && (!use_stream(out_bytes) || (outputs_aligned && cols % 16 == 0));
  const bool nt_all = use_stream(out_bytes);
  const i64 R = !blocked ? 1 : nt_all ? kRowsPerBlockStreamed : kRowsPerBlockCached;
  const i64 CB = blocked ? kColBlock : cols;
  const i64 nblocks = (rows + R - 1) / R;
  for_each_index(nblocks, rows * cols, out_bytes, [&](i64 b, bool nt) {
    const i64 r0 = b * R, r1 = std::min(rows, r0 + R);
    P p[kRowsPerBlockStreamed];
    for (i64 r = r0; r < r1; ++r) p[r - r0] = stats(r);
    for (i64 c0 = 0; c0 < cols; c0 += CB) {
      const i64 c1 = std::min(cols, c0 + CB);
      for (i64 r = r0; r < r1; ++r) out(r, p[r - r0], c0, c1, nt);
    }
  });
}

// Shifted sums of one row, accumulated over column ranges.
struct Sums {
  double s1 = 0.0, s2 = 0.0;
};

// Elementwise op with per-column parameters: y[r, j] = f(x[r, j], p_0[j], ..., p_{N-1}[j]) with
// fv(vf x, const std::array<vf, N>&) and fs(float x, const std::array<float, N>&). Narrow
// matrices (fewer than 64 columns) run as rows of m * cols with the parameters repeated, so that
// the vector loops and the row blocks have work to do.
template <std::size_t N, class FV, class FS>
void columnwise(const float* x, float* y, i64 rows, i64 cols,
                const std::array<const float*, N>& params, FV fv, FS fs) {
  const i64 m = cols >= 64 ? 1 : (64 + cols - 1) / cols;
  const i64 W = m * cols, wrows = rows / m;
  std::array<const float*, N> p = params;
  std::vector<float> rep;
  if (m > 1) {
    rep.resize(N * static_cast<std::size_t>(W));
    for (std::size_t k = 0; k < N; ++k) {
      for (i64 i = 0; i < W; ++i) rep[k * W + i] = params[k][i % cols];
      p[k] = rep.data() + k * W;
    }
  }
  struct E {};
  if (wrows > 0)
    for_row_blocks<E>(
        wrows, W, wrows * W * 4, aligned64(y), [](i64) { return E{}; },
        [&](i64 r, const E&, i64 c0, i64 c1, bool nt) {
          const float* xr = x + r * W + c0;
          emit(
              y + r * W + c0, c1 - c0, nt,
              [&](i64 j) {
                std::array<vf, N> v;
                for (std::size_t k = 0; k < N; ++k) v[k] = load(p[k] + c0 + j);
                return fv(load(xr + j), v);
              },
              [&](i64 j) {
                std::array<float, N> v;
                for (std::size_t k = 0; k < N; ++k) v[k] = p[k][c0 + j];
                return fs(xr[j], v);
              });
        });
  for (i64 i = wrows * W; i < rows * cols; ++i) {  // rows left over by the widening
    std::array<float, N> v;
    for (std::size_t k = 0; k < N; ++k) v[k] = params[k][i % cols];
    y[i] = fs(x[i], v);
  }
}

// Sum of f over [j0, j1) with four vector accumulators.
template <class FV, class FS>
inline float chunk_sum(i64 j0, i64 j1, FV fv, FS fs) {
  vf a0 = splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
  i64 j = j0;
  for (; j + 4 * kW <= j1; j += 4 * kW) {
    a0 += fv(j);
    a1 += fv(j + kW);
    a2 += fv(j + 2 * kW);
    a3 += fv(j + 3 * kW);
  }
  for (; j + kW <= j1; j += kW) a0 += fv(j);
  float s = simd::hsum((a0 + a1) + (a2 + a3));
  for (; j < j1; ++j) s += fs(j);
  return s;
}

struct Moments {
  double mean;  // of the values d given by the loaders
  double m2;    // sum of squared deviations from mean
};

// Sums of d and d^2 over [j0, j1) with four pairs of vector accumulators.
template <class DV, class DS>
inline void chunk_sums(i64 j0, i64 j1, DV dv, DS ds, float& s1, float& s2) {
  vf a0 = splat(0.0f), a1 = a0, a2 = a0, a3 = a0, q0 = a0, q1 = a0, q2 = a0, q3 = a0;
  i64 j = j0;
  for (; j + 4 * kW <= j1; j += 4 * kW) {
    const vf d0 = dv(j), d1 = dv(j + kW), d2 = dv(j + 2 * kW), d3 = dv(j + 3 * kW);
    a0 += d0;
    a1 += d1;
    a2 += d2;
    a3 += d3;
    q0 += d0 * d0;
    q1 += d1 * d1;
    q2 += d2 * d2;
    q3 += d3 * d3;
  }
  for (; j + kW <= j1; j += kW) {
    const vf d = dv(j);
    a0 += d;
    q0 += d * d;
  }
  s1 = simd::hsum((a0 + a1) + (a2 + a3));
  s2 = simd::hsum((q0 + q1) + (q2 + q3));
  for (; j < j1; ++j) {
    const float d = ds(j);
    s1 += d;
    s2 += d * d;
  }
}

// Above this ratio of sum(d^2) to M2 the one-pass shifted sums are not trusted (their relative
// error, a few 1e-7 of sum(d^2), would exceed ~2e-5 of M2) and M2 is recomputed exactly.
constexpr double kShiftGuard = 8.0;

// Mean and M2 of d(j), j in [0, n), n >= 1, where d is the data minus a shift taken from the data
// (so that sum(d^2) stays comparable to M2). One pass: sum(d) and sum(d^2) in float32 vector
// accumulators per chunk of kChunk elements, chunks summed in double; M2 = sum(d^2) - sum(d)^2/n.
// If the shift lies far from the mean (sum(d^2) > kShiftGuard * M2: an outlier as first element)
// a second pass over the (now cached) data computes the corrected two-pass M2 about that mean
// (Chan, Golub & LeVeque 1983), which has no cancellation. A constant row gives d = 0, M2 = 0.
template <class DV, class DS>
inline Moments moments(i64 n, DV dv, DS ds) {
  double s1 = 0.0, s2 = 0.0;
  for (i64 c0 = 0; c0 < n; c0 += kChunk) {
    float f1, f2;
    chunk_sums(c0, std::min(n, c0 + kChunk), dv, ds, f1, f2);
    s1 += f1;
    s2 += f2;
  }
  const double dn = static_cast<double>(n);
  double mean = s1 / dn;
  double m2 = s2 - s1 * mean;
  if (!(m2 * kShiftGuard >= s2)) {
    const float mf = static_cast<float>(mean);
    const vf vm = splat(mf);
    double e1 = 0.0, e2 = 0.0;
    for (i64 c0 = 0; c0 < n; c0 += kChunk) {
      float f1, f2;
      chunk_sums(
          c0, std::min(n, c0 + kChunk), [&](i64 j) { return dv(j) - vm; },
          [&](i64 j) { return ds(j) - mf; }, f1, f2);
      e1 += f1;
      e2 += f2;
    }
    mean = static_cast<double>(mf) + e1 / dn;
    m2 = e2 - e1 * e1 / dn;
  }
  return {mean, m2 > 0.0 ? m2 : 0.0};
}

float rsqrt_d(double v) {
  return static_cast<float>(1.0 / std::sqrt(v));
}

// Shifted moments of a contiguous block: mean of x - x[0] and M2.
inline Moments block_moments(const float* x, i64 n) {
  const float sh = x[0];
  const vf vsh = splat(sh);
  return moments(
      n, [&](i64 j) { return load(x + j) - vsh; }, [&](i64 j) { return x[j] - sh; });
}

// Mean and M2 from the shifted sums of n values; exact() recomputes them (two-pass over the
// cached row) when the sums are not trusted (see moments()).
template <class Exact>
inline Moments finish_moments(const Sums& s, i64 n, Exact exact) {
  const double dn = static_cast<double>(n);
  const double mean = s.s1 / dn, m2 = s.s2 - s.s1 * mean;
  if (!(m2 * kShiftGuard >= s.s2)) return exact();
  return {mean, m2 > 0.0 ? m2 : 0.0};
}

// Where a row op writes: one output, or two (the add_* ops write the sum and y).
struct Out1 {
  float* y;
};
struct Out2 {
  float* a;
  float* b;
};
constexpr i64 output_count(const Out1&) {
  return 1;
}
constexpr i64 output_count(const Out2&) {
  return 2;
}
inline bool outputs_aligned(const Out1& o) {
  return aligned64(o.y);
}
inline bool outputs_aligned(const Out2& o) {
  return aligned64(o.a) && aligned64(o.b);
}
inline void stream_at(const Out1& o, i64 off, vf v) {
  simd::stream(o.y + off, v);
}
inline void stream_at(const Out2& o, i64 off, const V2& v) {
  simd::stream(o.a + off, v.a);
  simd::stream(o.b + off, v.b);
}
template <class FV, class FS>
inline void emit_at(const Out1& o, i64 off, i64 n, bool nt, FV fv, FS fs) {
  emit(o.y + off, n, nt, fv, fs);
}
template <class FV, class FS>
inline void emit_at(const Out2& o, i64 off, i64 n, bool nt, FV fv, FS fs) {
  emit2(o.a + off, o.b + off, n, nt, fv, fs);
}

// Sums of d and (when kS1) d^2 over a whole row: float32 accumulators per chunk of kChunk
// elements, chunks summed in double.
template <bool kS1, class C, class DV, class DS>
inline Sums row_sums(const C& c, i64 cols, DV dv, DS ds) {
  Sums s;
  for (i64 c0 = 0; c0 < cols; c0 += kChunk) {
    const i64 c1 = std::min(cols, c0 + kChunk);
    const auto v = [&](i64 j) { return dv(c, j); };
    const auto sc = [&](i64 j) { return ds(c, j); };
    if constexpr (kS1) {
      float f1, f2;
      chunk_sums(c0, c1, v, sc, f1, f2);
      s.s1 += f1;
      s.s2 += f2;
    } else {
      s.s2 += chunk_sum(
          c0, c1,
          [&](i64 j) {
            const vf d = v(j);
            return d * d;
          },
          [&](i64 j) {
            const float d = sc(j);
            return d * d;
          });
    }
  }
  return s;
}

// Writes columns [c0, c1) of the N rows r + i (parameters p[i]) with streaming stores and, in
// the same loop, adds to s[i] the sums of d over those columns of N other rows (contexts c[i]):
// reads from memory and streaming writes are then in flight together, as in a copy, and each
// gamma/beta vector is loaded from L2 once for N rows.
template <bool kS1, i64 N, class Outs, class C, class P, class DV, class YV>
inline void write_and_sum(const Outs& outs, i64 cols, i64 r, const P* p, const C* c, i64 c0, i64 c1,
                          const DV& dv, const YV& yv, Sums* s) {
  vf a[N], q[N];
  for (i64 i = 0; i < N; ++i) a[i] = q[i] = splat(0.0f);
  for (i64 j = c0; j < c1; j += kW) {
#pragma GCC unroll 8
    for (i64 i = 0; i < N; ++i) {
      const vf d = dv(c[i], j);
      if constexpr (kS1) a[i] += d;
      q[i] += d * d;
      stream_at(outs, (r + i) * cols + j, yv(r + i, p[i], j));
    }
  }
  for (i64 i = 0; i < N; ++i) {
    if constexpr (kS1) s[i].s1 += simd::hsum(a[i]);
    s[i].s2 += simd::hsum(q[i]);
  }
}

// Streamed rows, software-pipelined: each thread takes a contiguous range of rows in blocks of
// kRowsPiped, and writes block b (from L1/L2) while it reads block b + 1 from memory for its
// statistics, in one loop over the columns (write_and_sum). A pass that only reads followed by
// one that only writes leaves the memory system half idle in each: on this host one core reads
// at 36 GB/s and stream-writes at 25, but copies at 43. Measured at 16384 x 4096 against the copy
// ceiling (alternating runs): layernorm 0.62-0.69 (blocks of 8, a statistics pass then an output
// pass) to 0.78-0.88, weight_std 0.72-0.83 to 0.83-0.96. Blocks of 1 row reached 0.9 for
// weight_std but only 0.56-0.59 for layernorm, whose gamma/beta then came from L2 for every row;
// 8 rows were no better than 4, and column blocks of 1024 (gamma/beta slices kept in L1) cut the
// reads from memory into short pieces and lost more than they saved. Needs cols % kW == 0 and
// 64-byte aligned outputs.
constexpr i64 kRowsPiped = 4;
template <class P, bool kS1, class Outs, class Begin, class DV, class DS, class Fin, class YV>
void pipelined_rows(i64 rows, i64 cols, const Outs& outs, Begin begin, DV dv, DS ds, Fin fin,
                    YV yv) {
  constexpr i64 R = kRowsPiped;
  using C = decltype(begin(i64{0}));
  const i64 parts = std::min<i64>(rows, omp_get_max_threads());
  for_each_index(parts, rows * cols, rows * cols * 4 * output_count(outs), [&](i64 part, bool) {
    const i64 r0 = rows * part / parts, r1 = rows * (part + 1) / parts;
    // Local copies: the streaming-store builtin may write any memory the compiler cannot prove
    // private, so reading the functions' captures through the shared closures would reload
    // every pointer after every store.
    const Outs outs_l = outs;
    const DV dv_l = dv;
    const YV yv_l = yv;
    P p[R];
    C cn[R];
    for (i64 i = 0; i < std::min(R, r1 - r0); ++i)
      p[i] = fin(r0 + i, row_sums<kS1>(begin(r0 + i), cols, dv, ds));
    for (i64 b0 = r0; b0 < r1; b0 += R) {
      const i64 n = std::min(R, r1 - b0);                   // rows written
      const i64 nn = std::clamp<i64>(r1 - (b0 + R), 0, R);  // rows summed
      Sums sn[R];
      for (i64 i = 0; i < nn; ++i) cn[i] = begin(b0 + R + i);
      for (i64 c0 = 0; c0 < cols; c0 += kChunk) {
        const i64 c1 = std::min(cols, c0 + kChunk);
        if (n == R && nn == R) {
          write_and_sum<kS1, R>(outs_l, cols, b0, p, cn, c0, c1, dv_l, yv_l, sn);
          continue;
        }
        for (i64 i = 0; i < n; ++i) {  // the last blocks of a range
          if (i < nn) {
            write_and_sum<kS1, 1>(outs_l, cols, b0 + i, p + i, cn + i, c0, c1, dv_l, yv_l, sn + i);
          } else {
            for (i64 j = c0; j < c1; j += kW)
              stream_at(outs_l, (b0 + i) * cols + j, yv_l(b0 + i, p[i], j));
          }
        }
      }
      for (i64 i = 0; i < nn; ++i) p[i] = fin(b0 + R + i, sn[i]);
    }
  });
}

// Row-wise op with per-row statistics, described by:
//   begin(r)        -> C, what the sums of row r need (row pointers, shifts), made once per row;
//   dv(c, j), ds(c, j) -> the value d at column j (vector of kW, scalar) whose sums are taken:
//                     sum(d) when kS1, and sum(d^2);
//   fin(r, sums)    -> P, the row's parameters (it may read row r again, from cache);
//   yv(r, p, j), ys(r, p, j) -> the output at column j: a vector (vf, or V2 for two outputs) and a
//                     scalar (float or S2).
// Every position of a row is read before it is written, so outputs may alias the inputs.
template <class P, bool kS1, class Outs, class Begin, class DV, class DS, class Fin, class YV,
          class YS>
void row_op(i64 rows, i64 cols, const Outs& outs, Begin begin, DV dv, DS ds, Fin fin, YV yv,
            YS ys) {
  const i64 out_bytes = rows * cols * 4 * output_count(outs);
  if (use_stream(out_bytes) && outputs_aligned(outs) && cols % 16 == 0 && rows > 1) {
    pipelined_rows<P, kS1>(rows, cols, outs, begin, dv, ds, fin, yv);
    return;
  }
  for_row_blocks<P>(
      rows, cols, out_bytes, outputs_aligned(outs),
      [&](i64 r) { return fin(r, row_sums<kS1>(begin(r), cols, dv, ds)); },
      [&](i64 r, const P& p, i64 c0, i64 c1, bool nt) {
        const YV yv_l = yv;  // local copies, as in pipelined_rows
        const YS ys_l = ys;
        emit_at(
            outs, r * cols + c0, c1 - c0, nt, [&](i64 j) { return yv_l(r, p, c0 + j); },
            [&](i64 j) { return ys_l(r, p, c0 + j); });
      });
}

// Rows standardized by their own mean and standard deviation (shifted sums, the two-pass guard),
// then out(z, j) / outs(z, j) applied to z = ((x - shift) - mean) * rstd: layernorm and
// weight_std.
template <class OV, class OS>
void standardize_rows(const float* x, float* y, i64 rows, i64 cols, float eps, OV out, OS outs) {
  struct C {
    const float* xr;
    float sh;
    vf vsh;
  };
  struct P {
    float sh, mean, rstd;
  };
  row_op<P, true>(
      rows, cols, Out1{y},
      [=](i64 r) {
        const float* xr = x + r * cols;
        return C{xr, xr[0], splat(xr[0])};
      },
      [](const C& c, i64 j) { return load(c.xr + j) - c.vsh; },
      [](const C& c, i64 j) { return c.xr[j] - c.sh; },
      [=](i64 r, const Sums& sums) {
        const float* xr = x + r * cols;
        const Moments m = finish_moments(sums, cols, [=] { return block_moments(xr, cols); });
        return P{xr[0], static_cast<float>(m.mean),
                 rsqrt_d(m.m2 / static_cast<double>(cols) + eps)};
      },
      [=](i64 r, const P& p, i64 j) {
        return out(((load(x + r * cols + j) - splat(p.sh)) - splat(p.mean)) * splat(p.rstd), j);
      },
      [=](i64 r, const P& p, i64 j) {
        return outs(((x[r * cols + j] - p.sh) - p.mean) * p.rstd, j);
      });
}

}  // namespace

void layernorm(const float* x, const float* gamma, const float* beta, float* y, std::int64_t rows,
               std::int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  standardize_rows(
      x, y, rows, cols, eps, [=](vf z, i64 j) { return z * load(gamma + j) + load(beta + j); },
      [=](float z, i64 j) { return z * gamma[j] + beta[j]; });
}

void rmsnorm(const float* x, const float* gamma, float* y, std::int64_t rows, std::int64_t cols,
             float eps) {
  if (rows <= 0 || cols <= 0) return;
  struct P {
    float rstd;
  };
  row_op<P, false>(
      rows, cols, Out1{y}, [=](i64 r) { return x + r * cols; },
      [](const float* xr, i64 j) { return load(xr + j); },
      [](const float* xr, i64 j) { return xr[j]; },
      [=](i64, const Sums& sums) { return P{rsqrt_d(sums.s2 / static_cast<double>(cols) + eps)}; },
      [=](i64 r, const P& p, i64 j) {
        return load(x + r * cols + j) * splat(p.rstd) * load(gamma + j);
      },
      [=](i64 r, const P& p, i64 j) { return x[r * cols + j] * p.rstd * gamma[j]; });
}

void crmsnorm(const float* x, const float* gamma, float* y, std::int64_t rows, std::int64_t cols,
              float eps) {
  if (rows <= 0 || cols <= 0) return;
  const double d = static_cast<double>(cols + 1);
  struct P {
    float rstd;
  };
  // sum(x) and sum(x^2) in one pass; sum(x)^2 is added, never subtracted, so there is no
  // cancellation to guard against.
  row_op<P, true>(
      rows, cols, Out1{y}, [=](i64 r) { return x + r * cols; },
      [](const float* xr, i64 j) { return load(xr + j); },
      [](const float* xr, i64 j) { return xr[j]; },
      [=](i64, const Sums& sums) { return P{rsqrt_d((sums.s2 + sums.s1 * sums.s1) / d + eps)}; },
      [=](i64 r, const P& p, i64 j) {
        return load(x + r * cols + j) * splat(p.rstd) * load(gamma + j);
      },
      [=](i64 r, const P& p, i64 j) { return x[r * cols + j] * p.rstd * gamma[j]; });
}

void dyt(const float* x, float alpha, const float* gamma, const float* beta, float* y,
         std::int64_t rows, std::int64_t cols) {
  if (rows <= 0 || cols <= 0) return;
  const vf va = splat(alpha);
  columnwise<2>(
      x, y, rows, cols, {gamma, beta},
      [&](vf xv, const std::array<vf, 2>& p) { return p[0] * simd::vtanh(va * xv) + p[1]; },
      [&](float xs, const std::array<float, 2>& p) {
        return p[0] * simd::stanh(alpha * xs) + p[1];
      });
}

void batchnorm_infer(const float* x, const float* running_mean, const float* running_var,
                     const float* gamma, const float* beta, float* y, std::int64_t rows,
                     std::int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  std::vector<float> scale(cols);
  for (i64 j = 0; j < cols; ++j)
    scale[j] = static_cast<float>(gamma[j] / std::sqrt(static_cast<double>(running_var[j]) + eps));
  // x - running_mean first: exact for inputs near the running mean, however large.
  columnwise<3>(
      x, y, rows, cols, {running_mean, scale.data(), beta},
      [](vf xv, const std::array<vf, 3>& p) { return (xv - p[0]) * p[1] + p[2]; },
      [](float xs, const std::array<float, 3>& p) { return (xs - p[0]) * p[1] + p[2]; });
}

void batchnorm_train(const float* x, const float* gamma, const float* beta, float* y,
                     std::int64_t rows, std::int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  // Statistics down the columns in one streaming pass over x: sums of d = x - shift and d^2 per
  // column. The shift of a column is the mean of its first (up to 16) values: close to the column
  // mean, so sum(d^2) stays comparable to M2, and x - shift is exact for a large common offset.
  // Columns where it is not (sum(d^2) > kShiftGuard * M2) get the corrected two-pass M2 from a
  // second pass over those columns only.
  //
  // Layout of the pass: fewer than 64 columns are widened to W = m * cols (m rows viewed as one,
  // parameters repeated) so the vector loop has work; each thread streams its rows four at a
  // time (four sequential streams, accumulators touched once per four rows), in float32 over
  // chunks of kChunkRows rows, chunks summed in double, threads summed in thread order.
  constexpr i64 kChunkRows = 32;
  const i64 head = std::min<i64>(rows, 16);
  std::vector<float> shift_v(cols);
  {
    std::vector<double> acc(cols, 0.0);
    for (i64 r = 0; r < head; ++r)
      for (i64 j = 0; j < cols; ++j) acc[j] += x[r * cols + j];
    for (i64 j = 0; j < cols; ++j) shift_v[j] = static_cast<float>(acc[j] / head);
  }
  const float* shift = shift_v.data();
  const i64 m = cols >= 64 ? 1 : (64 + cols - 1) / cols;
  const i64 W = m * cols, wrows = rows / m;
  std::vector<float> wshift(W);
  for (i64 k = 0; k < W; ++k) wshift[k] = shift[k % cols];
  const bool par = wrows * W >= kParallelMinElems && wrows > 1 && omp_get_max_threads() > 1;
  const int nthreads = par ? static_cast<int>(std::min<i64>(omp_get_max_threads(), wrows)) : 1;
  std::vector<double> t_s1(static_cast<std::size_t>(nthreads) * W, 0.0);
  std::vector<double> t_s2(static_cast<std::size_t>(nthreads) * W, 0.0);
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
  {
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    const i64 w0 = wrows * t / T, w1 = wrows * (t + 1) / T;
    std::vector<float> a1v(W), a2v(W);
    float* a1 = a1v.data();
    float* a2 = a2v.data();
    const float* sh = wshift.data();
    double* s1 = t_s1.data() + static_cast<std::size_t>(t) * W;
    double* s2 = t_s2.data() + static_cast<std::size_t>(t) * W;
    for (i64 c0 = w0; c0 < w1; c0 += kChunkRows) {
      const i64 c1 = std::min(w1, c0 + kChunkRows);
      std::fill(a1v.begin(), a1v.end(), 0.0f);
      std::fill(a2v.begin(), a2v.end(), 0.0f);
      i64 r = c0;
      for (; r + 4 <= c1; r += 4) {
        const float* x0 = x + r * W;
        const float* x1 = x0 + W;
        const float* x2 = x1 + W;
        const float* x3 = x2 + W;
#pragma omp simd
        for (i64 k = 0; k < W; ++k) {
          const float d0 = x0[k] - sh[k], d1 = x1[k] - sh[k], d2 = x2[k] - sh[k],
                      d3 = x3[k] - sh[k];
          a1[k] += (d0 + d1) + (d2 + d3);
          a2[k] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3);
        }
      }
      for (; r < c1; ++r) {
        const float* x0 = x + r * W;
#pragma omp simd
        for (i64 k = 0; k < W; ++k) {
          const float d0 = x0[k] - sh[k];
          a1[k] += d0;
          a2[k] += d0 * d0;
        }
      }
      for (i64 k = 0; k < W; ++k) {
        s1[k] += a1[k];
        s2[k] += a2[k];
      }
    }
  }
  // Fold threads and the widening into per-column sums; then the rows left over by widening.
  std::vector<double> s1(cols, 0.0), s2(cols, 0.0);
  for (int t = 0; t < nthreads; ++t)
    for (i64 k = 0; k < W; ++k) {
      s1[k % cols] += t_s1[static_cast<std::size_t>(t) * W + k];
      s2[k % cols] += t_s2[static_cast<std::size_t>(t) * W + k];
    }
  for (i64 r = wrows * m; r < rows; ++r)
    for (i64 j = 0; j < cols; ++j) {
      const double d = x[r * cols + j] - shift[j];
      s1[j] += d;
      s2[j] += d * d;
    }
  const double dn = static_cast<double>(rows);
  std::vector<float> mean_s(cols), scale(cols);
  std::vector<double> m2(cols);
  std::vector<i64> redo;
  for (i64 j = 0; j < cols; ++j) {
    const double mean = s1[j] / dn;
    m2[j] = s2[j] - s1[j] * mean;
    mean_s[j] = static_cast<float>(mean);
    if (!(m2[j] * kShiftGuard >= s2[j])) redo.push_back(j);
  }
  if (!redo.empty()) {
    // Corrected two-pass over the flagged columns (rare: a column whose first values lie far
    // from its mean relative to its spread), in double.
    const i64 nr = static_cast<i64>(redo.size());
    std::vector<double> e1(nr, 0.0), e2(nr, 0.0);
    for (i64 r = 0; r < rows; ++r) {
      const float* xr = x + r * cols;
      for (i64 k = 0; k < nr; ++k) {
        const i64 j = redo[k];
        const double e = static_cast<double>(xr[j] - shift[j]) - mean_s[j];
        e1[k] += e;
        e2[k] += e * e;
      }
    }
    for (i64 k = 0; k < nr; ++k) {
      const i64 j = redo[k];
      m2[j] = e2[k] - e1[k] * e1[k] / dn;
      mean_s[j] = static_cast<float>(static_cast<double>(mean_s[j]) + e1[k] / dn);
    }
  }
  for (i64 j = 0; j < cols; ++j)
    scale[j] = static_cast<float>(gamma[j] /
                                  std::sqrt(std::max(m2[j], 0.0) / dn + static_cast<double>(eps)));
  columnwise<4>(
      x, y, rows, cols, {shift, mean_s.data(), scale.data(), beta},
      [](vf xv, const std::array<vf, 4>& p) { return ((xv - p[0]) - p[1]) * p[2] + p[3]; },
      [](float xs, const std::array<float, 4>& p) { return ((xs - p[0]) - p[1]) * p[2] + p[3]; });
}

void groupnorm(const float* x, const float* gamma, const float* beta, float* y, std::int64_t n,
               std::int64_t c, std::int64_t hw, std::int64_t groups, float eps) {
  if (n <= 0 || c <= 0 || hw <= 0 || groups <= 0) return;
  const i64 cpg = c / groups;
  const i64 len = cpg * hw;  // one (sample, group) block is contiguous
  const i64 total = n * c * hw;
  for_each_index(n * groups, total, total * 4, [&](i64 b, bool nt) {
    const i64 g = b % groups;
    const float* xb = x + b * len;
    float* yb = y + b * len;
    const float sh = xb[0];
    const vf vsh = splat(sh);
    const Moments m = block_moments(xb, len);
    const float mean = static_cast<float>(m.mean);
    const float rstd = rsqrt_d(m.m2 / static_cast<double>(len) + eps);
    const vf vmean = splat(mean);
    for (i64 k = 0; k < cpg; ++k) {
      const i64 ch = g * cpg + k;
      const float* xc = xb + k * hw;
      const float a = rstd * gamma[ch], bb = beta[ch];
      const vf va = splat(a), vb = splat(bb);
      emit(
          yb + k * hw, hw, nt, [&](i64 j) { return ((load(xc + j) - vsh) - vmean) * va + vb; },
          [&](i64 j) { return ((xc[j] - sh) - mean) * a + bb; });
    }
  });
}

void evonorm_s0(const float* x, const float* v, const float* gamma, const float* beta, float* y,
                std::int64_t n, std::int64_t c, std::int64_t hw, std::int64_t groups, float eps) {
  if (n <= 0 || c <= 0 || hw <= 0 || groups <= 0) return;
  const i64 cpg = c / groups;
  const i64 len = cpg * hw;
  const i64 total = n * c * hw;
  for_each_index(n * groups, total, total * 4, [&](i64 b, bool nt) {
    const i64 g = b % groups;
    const float* xb = x + b * len;
    float* yb = y + b * len;
    const Moments m = block_moments(xb, len);
    const float rstd = rsqrt_d(m.m2 / static_cast<double>(len) + eps);
    for (i64 k = 0; k < cpg; ++k) {
      const i64 ch = g * cpg + k;
      const float* xc = xb + k * hw;
      const float a = rstd * gamma[ch], bb = beta[ch], vc = v[ch];
      const vf va = splat(a), vb = splat(bb), vv = splat(vc);
      emit(
          yb + k * hw, hw, nt,
          [&](i64 j) {
            const vf xv = load(xc + j);
            return xv * simd::vsigmoid(vv * xv) * va + vb;
          },
          [&](i64 j) { return xc[j] * simd::ssigmoid(vc * xc[j]) * a + bb; });
    }
  });
}

void evonorm_b0(const float* x, const float* v, const float* gamma, const float* beta, float* y,
                std::int64_t n, std::int64_t c, std::int64_t hw, float eps) {
  if (n <= 0 || c <= 0 || hw <= 0) return;
  const i64 rows = n * c;
  const i64 total = rows * hw;
  // Instance statistics of every (sample, channel) row: absolute mean and M2, in double.
  std::vector<double> imean(rows), im2(rows);
  for_each_index(rows, total, 0, [&](i64 r, bool) {
    const float* xr = x + r * hw;
    const Moments m = block_moments(xr, hw);
    imean[r] = static_cast<double>(xr[0]) + m.mean;
    im2[r] = m.m2;
  });
  // Batch statistics per channel: merge the n instance statistics (Chan et al.).
  std::vector<float> bstd(c);
  for (i64 ch = 0; ch < c; ++ch) {
    double mean = imean[ch], m2 = im2[ch], count = static_cast<double>(hw);
    for (i64 i = 1; i < n; ++i) {
      const double nb = static_cast<double>(hw), tot = count + nb;
      const double delta = imean[i * c + ch] - mean;
      mean += delta * nb / tot;
      m2 += im2[i * c + ch] + delta * delta * count * nb / tot;
      count = tot;
    }
    bstd[ch] = static_cast<float>(std::sqrt(m2 / count + eps));
  }
  for_each_index(rows, total, total * 4, [&](i64 r, bool nt) {
    const i64 ch = r % c;
    const float* xr = x + r * hw;
    const float istd = static_cast<float>(std::sqrt(im2[r] / static_cast<double>(hw) + eps));
    const float bs = bstd[ch], vc = v[ch], g = gamma[ch], bb = beta[ch];
    const vf vbs = splat(bs), vis = splat(istd), vv = splat(vc), vg = splat(g), vb = splat(bb);
    emit(
        y + r * hw, hw, nt,
        [&](i64 j) {
          const vf xv = load(xr + j);
          return xv / simd::vmax(vbs, vv * xv + vis) * vg + vb;
        },
        [&](i64 j) { return xr[j] / std::max(bs, vc * xr[j] + istd) * g + bb; });
  });
}

void online_norm(const float* x, const float* mu0, const float* var0, const float* gamma,
                 const float* beta, float* y, std::int64_t n, std::int64_t c, std::int64_t hw,
                 float alpha, float eps) {
  if (n <= 0 || c <= 0 || hw <= 0) return;
  const double a = alpha;
  const i64 total = n * c * hw;
  // Sequential over samples, parallel over channels.
  for_each_index(c, total, total * 4, [&](i64 ch, bool nt) {
    double mu = mu0[ch], var = var0[ch];
    const float g = gamma[ch], bb = beta[ch];
    for (i64 t = 0; t < n; ++t) {
      const float* xr = x + (t * c + ch) * hw;
      // Statistics of this sample first, so that y may alias x.
      const Moments m = block_moments(xr, hw);
      const double mt = static_cast<double>(xr[0]) + m.mean;
      const double st = m.m2 / static_cast<double>(hw);
      // mu as an unevaluated float sum hi + lo: x - hi is exact when x is near mu.
      const float hi = static_cast<float>(mu);
      const float lo = static_cast<float>(mu - hi);
      const float s = static_cast<float>(g / std::sqrt(var + eps));
      const vf vhi = splat(hi), vlo = splat(lo), vs = splat(s), vb = splat(bb);
      emit(
          y + (t * c + ch) * hw, hw, nt,
          [&](i64 j) { return ((load(xr + j) - vhi) - vlo) * vs + vb; },
          [&](i64 j) { return ((xr[j] - hi) - lo) * s + bb; });
      const double dm = mt - mu;
      var = a * var + (1.0 - a) * st + a * (1.0 - a) * dm * dm;
      mu = a * mu + (1.0 - a) * mt;
    }
  });
}

void weight_std(const float* w, float* y, std::int64_t rows, std::int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  standardize_rows(
      w, y, rows, cols, eps, [](vf z, i64) { return z; }, [](float z, i64) { return z; });
}

void add_layernorm(const float* x, const float* residual, const float* gamma, const float* beta,
                   float* sum, float* y, std::int64_t rows, std::int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  // Statistics and y from d = (x - x0) + (r - r0): both differences are exact for rows with a
  // large common offset, so y follows the exact sum x + r, not its float rounding.
  struct C {
    const float *xr, *rr;
    float sx, sr;
    vf vsx, vsr;
  };
  struct P {
    float sx, sr, mean, rstd;
  };
  const auto begin = [=](i64 r) {
    const float* xr = x + r * cols;
    const float* rr = residual + r * cols;
    return C{xr, rr, xr[0], rr[0], splat(xr[0]), splat(rr[0])};
  };
  const auto dv = [](const C& c, i64 j) {
    return (load(c.xr + j) - c.vsx) + (load(c.rr + j) - c.vsr);
  };
  const auto ds = [](const C& c, i64 j) { return (c.xr[j] - c.sx) + (c.rr[j] - c.sr); };
  row_op<P, true>(
      rows, cols, Out2{sum, y}, begin, dv, ds,
      [=](i64 r, const Sums& sums) {
        const C c = begin(r);
        const Moments m = finish_moments(sums, cols, [=] {
          return moments(
              cols, [=](i64 j) { return dv(c, j); }, [=](i64 j) { return ds(c, j); });
        });
        return P{c.sx, c.sr, static_cast<float>(m.mean),
                 rsqrt_d(m.m2 / static_cast<double>(cols) + eps)};
      },
      [=](i64 r, const P& p, i64 j) {
        const vf xv = load(x + r * cols + j), rv = load(residual + r * cols + j);
        const vf d = (xv - splat(p.sx)) + (rv - splat(p.sr));
        return V2{xv + rv, (d - splat(p.mean)) * splat(p.rstd) * load(gamma + j) + load(beta + j)};
      },
      [=](i64 r, const P& p, i64 j) {
        const float xv = x[r * cols + j], rv = residual[r * cols + j];
        const float d = (xv - p.sx) + (rv - p.sr);
        return S2{xv + rv, (d - p.mean) * p.rstd * gamma[j] + beta[j]};
      });
}

void add_rmsnorm(const float* x, const float* residual, const float* gamma, float* sum, float* y,
                 std::int64_t rows, std::int64_t cols, float eps) {
  if (rows <= 0 || cols <= 0) return;
  struct C {
    const float *xr, *rr;
  };
  struct P {
    float rstd;
  };
  row_op<P, false>(
      rows, cols, Out2{sum, y},
      [=](i64 r) {
        return C{x + r * cols, residual + r * cols};
      },
      [](const C& c, i64 j) { return load(c.xr + j) + load(c.rr + j); },
      [](const C& c, i64 j) { return c.xr[j] + c.rr[j]; },
      [=](i64, const Sums& sums) { return P{rsqrt_d(sums.s2 / static_cast<double>(cols) + eps)}; },
      [=](i64 r, const P& p, i64 j) {
        const vf s = load(x + r * cols + j) + load(residual + r * cols + j);
        return V2{s, s * splat(p.rstd) * load(gamma + j)};
      },
      [=](i64 r, const P& p, i64 j) {
        const float s = x[r * cols + j] + residual[r * cols + j];
        return S2{s, s * p.rstd * gamma[j]};
      });
}

}  // namespace opbench::cpu::fast
