#pragma once
// Internals of cpu.fast's normalization kernels: the row engine. Row blocks (statistics of each
// row of a block, then its output in column blocks), the software-pipelined streamed rows, the
// row op described by its sums, parameters and output, and column-parameter elementwise ops.
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/cpu/norm_fast_common.hpp"
#include "kernels/cpu/norm_fast_moments.hpp"

namespace opbench::cpu::fast::detail {

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

// The rows whose sums a context c of pipelined_rows takes, for their software prefetch: the
// standardized rows' xr, RMSNorm's row pointer, and the second row of the ops that sum two (the
// residual rr of add_*, DeepNorm's fr); nullptr where there is none.
template <class C>
inline std::array<const float*, 2> summed_rows(const C& c) {
  std::array<const float*, 2> rows{nullptr, nullptr};
  if constexpr (std::is_same_v<C, const float*>) rows[0] = c;
  if constexpr (requires { c.xr; }) rows[0] = c.xr;
  if constexpr (requires { c.rr; }) rows[1] = c.rr;
  if constexpr (requires { c.fr; }) rows[1] = c.fr;
  return rows;
}
// How far ahead (elements) each summed row is prefetched: 1 KiB, 16 lines per row. At 16384 x 4096
// float32, against the hardware prefetchers alone (alternating runs of 5 repetitions on this
// 2-core VM, copy at 58-75 GB/s; the spread between runs is about 10%): layernorm 9.8-11.0 ->
// 8.6-9.3 ms, rmsnorm 9.3-10.4 -> 7.9-8.9, weight_std 9.6-10.1 -> 8.2-9.7, srmsnorm 10.9-11.6 ->
// 8.5-8.7; with both rows of the two-row ops prefetched, add_layernorm 21.2-21.7 -> 17.1-17.7,
// add_rmsnorm 21.7-22.0 -> 16.9-17.4, deepnorm 20.0-20.7 -> 14.4-14.9 (their first row alone
// gained about half of that). 512 elements ahead was about as good as 256; 1024 slower again.
constexpr i64 kSummedPrefetch = 256;

// Writes columns [c0, c1) of the N rows r + i (parameters p[i]) with streaming stores and, in
// the same loop, adds to s[i] the sums of d over those columns of N other rows (contexts c[i]):
// reads from memory and streaming writes are then in flight together, as in a copy, and each
// gamma/beta vector is loaded from L2 once for N rows. The summed rows are prefetched
// kSummedPrefetch elements ahead.
template <bool kS1, i64 N, class Outs, class C, class P, class DV, class YV>
inline void write_and_sum(const Outs& outs, i64 cols, i64 r, const P* p, const C* c, i64 c0, i64 c1,
                          const DV& dv, const YV& yv, Sums* s) {
  vf a[N], q[N];
  for (i64 i = 0; i < N; ++i) a[i] = q[i] = splat(0.0f);
  std::array<const float*, 2> pf[N];
  for (i64 i = 0; i < N; ++i) pf[i] = summed_rows(c[i]);
  for (i64 j = c0; j < c1; j += kW) {
#pragma GCC unroll 8
    for (i64 i = 0; i < N; ++i) {
      for (const float* row : pf[i])
        if (row) __builtin_prefetch(row + j + kSummedPrefetch, 0, 3);
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

}  // namespace opbench::cpu::fast::detail
