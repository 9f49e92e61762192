// Host-only tests of the arithmetic inside the cuda.fast kernels (kernels/cuda/*.hpp: the functions
// marked OPBENCH_HD, which the kernels call on the device), compiled by the C++ compiler and run on
// the host: they need neither nvcc's device code nor a GPU, so they run where the device tests
// (test_kernels_cuda_*.cpp) skip. Each drives the same functions the kernels do, in the kernels'
// launch structure, against an independent oracle: the float64 reference or a plain sort.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/launch_geometry.hpp"
#include "kernels/cuda/log_scan_combine.hpp"
#include "kernels/cuda/norm_backward_cuda.hpp"
#include "kernels/cuda/pkm_backward_cuda.hpp"
#include "kernels/cuda/pkm_scratch.hpp"
#include "kernels/cuda/pkm_select.hpp"
#include "kernels/cuda/pkm_tiles.hpp"
#include "kernels/cuda/scan_backward_cuda.hpp"
#include "kernels/cuda/scan_cuda.hpp"
#include "reference/norm_backward.hpp"
#include "reference/scan.hpp"

namespace opbench::cuda {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kPoison = 12345.0f;  // written before a run; no correct output equals it

// ---- log-space scan (log_scan_combine.hpp) ------------------------------------------------------

TEST(CudaHostLogScan, EmptySumIsTheIdentityOfPushAndMerge) {
  float m = -kInf, s = 0.0f;
  lse_push(m, s, -kInf);  // b = 0 on an empty sum: was exp(-inf - -inf) = NaN
  EXPECT_EQ(m, -kInf);
  EXPECT_EQ(s, 0.0f);
  EXPECT_EQ(lse_value(0.0f, m, s), -kInf);
  lse_push(m, s, 2.0f);
  EXPECT_EQ(m, 2.0f);
  EXPECT_EQ(s, 1.0f);
  lse_merge(m, s, -kInf, 0.0f);  // an all -inf chunk
  EXPECT_EQ(m, 2.0f);
  EXPECT_EQ(s, 1.0f);
  float em = -kInf, es = 0.0f;  // merging into the empty sum gives the other sum
  lse_merge(em, es, 2.0f, 3.0f);
  EXPECT_EQ(em, 2.0f);
  EXPECT_EQ(es, 3.0f);
  // +inf terms give +inf (the reference's log(inf)), NaN terms NaN.
  float im = 0.0f, is = 1.0f;
  lse_push(im, is, kInf);
  lse_push(im, is, kInf);
  EXPECT_EQ(lse_value(0.0f, im, is), kInf);
  float nm = 0.0f, ns = 1.0f;
  lse_push(nm, ns, kNaN);
  lse_push(nm, ns, -kInf);
  lse_push(nm, ns, 5.0f);
  EXPECT_TRUE(std::isnan(lse_value(0.0f, nm, ns)));
}

// scan_cuda.cu's three launches, run on the host with the same per-thread bodies and index maps
// (one chunk of `chunk` steps per thread).
std::vector<float> chunked_log_scan(const std::vector<float>& la, const std::vector<float>& lb,
                                    const std::vector<float>& log_h0, std::int64_t batch,
                                    std::int64_t T, std::int64_t D, std::int64_t chunk) {
  const std::int64_t chunks = (T + chunk - 1) / chunk;
  const std::size_t n = static_cast<std::size_t>(batch * chunks * D);
  std::vector<float> SA(n, kNaN), M(n, kNaN), S(n, kNaN), out(la.size(), kPoison);
  for (std::int64_t idx = 0; idx < batch * chunks * D; ++idx) {
    const std::int64_t d = idx % D, c = (idx / D) % chunks, b = idx / (D * chunks);
    const std::int64_t t0 = c * chunk, t1 = std::min(T, t0 + chunk);
    log_reduce_chunk(la.data(), lb.data(), (b * T + t0) * D + d, t1 - t0, D, &SA[idx], &M[idx],
                     &S[idx]);
  }
  for (std::int64_t idx = 0; idx < batch * D; ++idx) {
    const std::int64_t d = idx % D, b = idx / D;
    log_carry_sequence(log_h0[idx], SA.data(), M.data(), S.data(), b * chunks * D + d, chunks, D);
  }
  for (std::int64_t idx = 0; idx < batch * chunks * D; ++idx) {
    const std::int64_t d = idx % D, c = (idx / D) % chunks, b = idx / (D * chunks);
    const std::int64_t t0 = c * chunk, t1 = std::min(T, t0 + chunk);
    log_rescan_chunk(la.data(), lb.data(), SA[idx], M[idx], S[idx], out.data(),
                     (b * T + t0) * D + d, t1 - t0, D, false);
  }
  return out;
}

std::vector<double> reference_log_scan(const std::vector<float>& la, const std::vector<float>& lb,
                                       const std::vector<float>& log_h0, std::int64_t batch,
                                       std::int64_t T, std::int64_t D) {
  const std::vector<double> a(la.begin(), la.end()), b(lb.begin(), lb.end()),
      h0(log_h0.begin(), log_h0.end());
  std::vector<double> out(la.size());
  ref::log_scan(a.data(), b.data(), h0.data(), out.data(), batch, T, D);
  return out;
}

// Every output equals the reference's: the same -inf, +inf and NaN positions, finite values within
// `tol` * (1 + |ref|).
void expect_log_scan_matches(const std::vector<float>& got, const std::vector<double>& want,
                             double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  int bad = 0;
  for (std::size_t i = 0; i < got.size() && bad < 5; ++i) {
    const double g = got[i], w = want[i];
    const bool ok = std::isnan(w) ? std::isnan(g)
                    : std::isinf(w)
                        ? g == w
                        : std::isfinite(g) && std::abs(g - w) <= tol * (1 + std::abs(w));
    if (!ok) {
      ++bad;
      ADD_FAILURE() << what << ": element " << i << " is " << g << ", the reference " << w;
    }
  }
}

struct ScanInputs {
  std::int64_t batch, T, D;
  std::vector<float> la, lb, log_h0;
  float& log_b(std::int64_t n, std::int64_t t, std::int64_t d) { return lb[(n * T + t) * D + d]; }
};

// Gates near one and moderate b, so that the log-space form's own error stays far below `tol`.
ScanInputs scan_inputs(std::int64_t batch, std::int64_t T, std::int64_t D, unsigned seed) {
  ScanInputs in{batch, T, D, {}, {}, {}};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> gate(-0.02f, 0.0f), term(-3.0f, 0.5f), h0(-1.0f, 1.0f);
  const std::size_t n = static_cast<std::size_t>(batch * T * D);
  for (std::size_t i = 0; i < n; ++i) {
    in.la.push_back(gate(rng));
    in.lb.push_back(term(rng));
  }
  for (std::int64_t i = 0; i < batch * D; ++i) in.log_h0.push_back(h0(rng));
  return in;
}

TEST(CudaHostLogScan, ZeroBAtChunkStartsAndWholeZeroChunks) {
  // b = 0 (log b = -inf) where a chunk starts, over whole chunks, over a whole sequence, and after
  // h0 = 0; chunks of 1, 4 and 64 steps (64 is scan_cuda.cu's), T not a multiple of them.
  ScanInputs in = scan_inputs(3, 150, 5, 7);
  for (std::int64_t n = 0; n < in.batch; ++n) {
    for (std::int64_t t = 0; t < in.T; ++t) {
      for (std::int64_t d = 0; d < in.D; ++d) {
        if (t % 4 == 0 || t % 64 == 0 || (t >= 64 && t < 128 && d == 1) || (n == 1 && d == 2) ||
            (t % 7 == 3 && d == 3)) {
          in.log_b(n, t, d) = -kInf;
        }
      }
    }
  }
  in.log_h0[0 * in.D + 4] = -kInf;  // h0 = 0 and then b = 0 until t = 70
  for (std::int64_t t = 0; t < 70; ++t) in.log_b(0, t, 4) = -kInf;
  in.log_h0[1 * in.D + 2] = -kInf;  // h0 = 0 and b = 0 everywhere: log h = -inf throughout
  const std::vector<double> want =
      reference_log_scan(in.la, in.lb, in.log_h0, in.batch, in.T, in.D);
  for (std::int64_t chunk : {1, 4, 64}) {
    expect_log_scan_matches(chunked_log_scan(in.la, in.lb, in.log_h0, in.batch, in.T, in.D, chunk),
                            want, 1e-4, "chunk " + std::to_string(chunk));
  }
}

TEST(CudaHostLogScan, InfinitiesAndNaNsGoWhereTheReferenceHasThem) {
  ScanInputs in = scan_inputs(1, 140, 4, 11);
  in.log_b(0, 70, 0) = kInf;   // +inf from t = 70 on
  in.log_b(0, 64, 1) = kNaN;   // NaN from the first step of a chunk on
  in.log_b(0, 100, 2) = kNaN;  // NaN inside a chunk
  for (std::int64_t t = 0; t < 64; ++t) in.log_b(0, t, 3) = t == 10 ? kNaN : -kInf;
  const std::vector<double> want =
      reference_log_scan(in.la, in.lb, in.log_h0, in.batch, in.T, in.D);
  for (std::int64_t chunk : {4, 64}) {
    expect_log_scan_matches(chunked_log_scan(in.la, in.lb, in.log_h0, in.batch, in.T, in.D, chunk),
                            want, 1e-4, "chunk " + std::to_string(chunk));
  }
}

TEST(CudaHostLogScan, OrdinaryInputsAgree) {
  ScanInputs in = scan_inputs(2, 300, 3, 3);
  const std::vector<double> want =
      reference_log_scan(in.la, in.lb, in.log_h0, in.batch, in.T, in.D);
  expect_log_scan_matches(chunked_log_scan(in.la, in.lb, in.log_h0, in.batch, in.T, in.D, 64), want,
                          1e-4, "chunk 64");
}

// ---- pkm order and selection (pkm_select.hpp) ---------------------------------------------------

// The oracle's order, written independently: larger first, NaN as -inf, ties by the smaller index.
bool oracle_before(float sa, long long ia, float sb, long long ib) {
  const double ka = std::isnan(sa) ? -HUGE_VAL : sa, kb = std::isnan(sb) ? -HUGE_VAL : sb;
  return ka > kb || (ka == kb && ia < ib);
}

bool same_float(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

TEST(CudaHostPkm, OrderIsTotalWithNaN) {
  EXPECT_TRUE(pkm_before(1.0f, 5LL, kNaN, 0LL));
  EXPECT_FALSE(pkm_before(kNaN, 0LL, 1.0f, 5LL));
  EXPECT_TRUE(pkm_before(kNaN, 2LL, kNaN, 3LL));  // NaN and NaN: by index
  EXPECT_FALSE(pkm_before(kNaN, 3LL, kNaN, 2LL));
  EXPECT_TRUE(pkm_before(-kInf, 2LL, kNaN, 3LL));  // NaN sorts with -inf
  EXPECT_TRUE(pkm_before(kNaN, 2LL, -kInf, 3LL));
  EXPECT_TRUE(pkm_before(-3.0f, 9, -kInf, 0));
  EXPECT_TRUE(pkm_before(2.0f, 1, 2.0f, 4));
  for (float s : {kNaN, -kInf, 0.0f, kInf}) {
    EXPECT_TRUE(pkm_before(pkm_first(), Scored{s, 0}));
    EXPECT_TRUE(pkm_before(Scored{s, LLONG_MAX - 1}, pkm_none()));
  }
}

// pkm_cuda.cu's warp_topk with the 32 lanes run one after another: each lane's best, k rounds of
// taking the best of the lanes (warp_best) and asking the lane it came from for its next.
void emulated_warp_topk(const std::vector<float>& row, int k, std::vector<float>& vs,
                        std::vector<int>& is) {
  const int n = static_cast<int>(row.size());
  std::vector<Scored> mine(32);
  for (int lane = 0; lane < 32; ++lane) {
    mine[lane] = pkm_lane_best_after(row.data(), n, lane, 32, pkm_first());
  }
  vs.assign(k, kPoison);
  is.assign(k, -7);
  for (int m = 0; m < k; ++m) {
    Scored top = mine[0];
    for (int lane = 1; lane < 32; ++lane) {
      if (pkm_before(mine[lane], top)) top = mine[lane];
    }
    vs[m] = top.score;
    is[m] = static_cast<int>(top.index);
    const int lane = static_cast<int>(top.index % 32);
    mine[lane] = pkm_lane_best_after(row.data(), n, lane, 32, top);
  }
}

// The k best by a full sort in the oracle's order.
std::vector<std::pair<float, long long>> oracle_topk(std::vector<std::pair<float, long long>> all,
                                                     int k) {
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return oracle_before(a.first, a.second, b.first, b.second);
  });
  all.resize(k);
  return all;
}

// Scores with NaN, infinities and ties in many places.
std::vector<float> awkward_scores(int n, unsigned seed, int kind) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> s(n);
  for (int j = 0; j < n; ++j) {
    s[j] = normal(rng);
    if (kind == 1 && j % 3 == 0) s[j] = kNaN;
    if (kind == 1 && j % 11 == 0) s[j] = -kInf;
    if (kind == 1 && j % 17 == 0) s[j] = kInf;
    if (kind == 2) s[j] = static_cast<float>(static_cast<int>(s[j] * 2));  // many exact ties
    if (kind == 3) s[j] = j % 5 == 0 ? s[j] : kNaN;                        // mostly NaN
  }
  if (kind == 4) std::fill(s.begin(), s.end(), kNaN);
  return s;
}

TEST(CudaHostPkm, WarpTopkFollowsTheTotalOrder) {
  for (int kind = 0; kind <= 4; ++kind) {
    for (int n : {1, 31, 64, 100, 512}) {
      for (int k : {1, 7, 32, 64}) {
        if (k > n) continue;
        const std::vector<float> row = awkward_scores(n, 100 + n + k, kind);
        std::vector<std::pair<float, long long>> all;
        for (int j = 0; j < n; ++j) all.emplace_back(row[j], j);
        const auto want = oracle_topk(all, k);
        std::vector<float> vs;
        std::vector<int> is;
        emulated_warp_topk(row, k, vs, is);
        std::set<int> seen(is.begin(), is.end());
        EXPECT_EQ(seen.size(), static_cast<std::size_t>(k))
            << "duplicate indices, kind " << kind << " n " << n << " k " << k;
        for (int m = 0; m < k; ++m) {
          EXPECT_EQ(is[m], want[m].second)
              << "kind " << kind << " n " << n << " k " << k << " m " << m;
          EXPECT_TRUE(same_float(vs[m], want[m].first)) << vs[m] << " vs " << want[m].first;
        }
      }
    }
  }
}

// pkm_cuda.cu's combination: a frontier of row heads (pkm_row_head / pkm_row_advance), the best
// head taken each round, its row advanced.
void emulated_combine(const std::vector<float>& av, const std::vector<int>& ai,
                      const std::vector<float>& bv, const std::vector<int>& bi, int n,
                      std::vector<float>& out_s, std::vector<long long>& out_i) {
  const int k = static_cast<int>(av.size());
  std::vector<int> run(k, 0), taken(k, -1);
  std::vector<Scored> head(k);
  for (int x = 0; x < k; ++x) {
    head[x] =
        pkm_row_head(av[x], static_cast<long long>(ai[x]) * n, bv.data(), bi.data(), k, 0, -1);
  }
  out_s.assign(k, kPoison);
  out_i.assign(k, -7);
  for (int m = 0; m < k; ++m) {
    int best = 0;
    for (int x = 1; x < k; ++x) {
      if (pkm_before(head[x], head[best])) best = x;
    }
    const Scored top = head[best];
    out_s[m] = top.score;
    out_i[m] = top.index;
    const long long base = static_cast<long long>(ai[best]) * n;
    pkm_row_advance(av[best], bv.data(), bi.data(), k, run[best], taken[best],
                    static_cast<int>(top.index - base));
    head[best] = pkm_row_head(av[best], base, bv.data(), bi.data(), k, run[best], taken[best]);
  }
}

// Both sides' k best (sorted), their combination, and the oracle's top-k of all k x k sums.
void check_combination(const std::vector<float>& s1, const std::vector<float>& s2, int k,
                       const std::string& what) {
  const int n = static_cast<int>(s1.size());
  std::vector<float> av, bv;
  std::vector<int> ai, bi;
  emulated_warp_topk(s1, k, av, ai);
  emulated_warp_topk(s2, k, bv, bi);
  std::vector<std::pair<float, long long>> all;
  for (int x = 0; x < k; ++x) {
    for (int y = 0; y < k; ++y) {
      all.emplace_back(av[x] + bv[y], static_cast<long long>(ai[x]) * n + bi[y]);
    }
  }
  const auto want = oracle_topk(all, k);
  std::vector<float> got_s;
  std::vector<long long> got_i;
  emulated_combine(av, ai, bv, bi, n, got_s, got_i);
  for (int m = 0; m < k; ++m) {
    EXPECT_EQ(got_i[m], want[m].second) << what << ": position " << m;
    EXPECT_TRUE(same_float(got_s[m], want[m].first))
        << what << ": position " << m << ": " << got_s[m] << " vs " << want[m].first;
  }
}

TEST(CudaHostPkm, CombinationFollowsTheTotalOrder) {
  for (int n : {8, 64, 300}) {
    for (int k : {1, 8, 40}) {
      if (k > n) continue;
      const std::string shape = " n " + std::to_string(n) + " k " + std::to_string(k);
      for (int kind1 = 0; kind1 <= 4; ++kind1) {
        for (int kind2 = 0; kind2 <= 4; ++kind2) {
          check_combination(awkward_scores(n, 1 + n, kind1), awkward_scores(n, 2 + n, kind2), k,
                            "kinds " + std::to_string(kind1) + "," + std::to_string(kind2) + shape);
        }
      }
    }
  }
}

TEST(CudaHostPkm, CombinationWithSumsEqualAfterRounding) {
  // Side 1 large (1e8: an ulp of 8), side 2 small and distinct: many sums round to the same float,
  // and in a run of equal sums the order is by index, not by side 2's order.
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> small(-3.0f, 3.0f);
  for (int n : {16, 100}) {
    std::vector<float> s1(n), s2(n);
    for (int j = 0; j < n; ++j) {
      s1[j] = 1e8f + 8.0f * static_cast<float>(j % 4);
      s2[j] = small(rng);
    }
    for (int k : {4, 16}) {
      check_combination(s1, s2, k, "rounding n " + std::to_string(n) + " k " + std::to_string(k));
    }
  }
}

// ---- coalesced sub-key tiles (pkm_tiles.hpp) --------------------------------------------------

// Every warp load of every staged tile (32 consecutive tile elements, as pkm_cuda.cu's threads
// take them) reads 32 consecutive floats of memory when a chunk is 32 dims or spans whole rows,
// and in any case touches no more key rows than the 32 floats span at least; every element of the
// tile is loaded exactly once.
TEST(CudaHostPkm, SubkeyTileLoadsAreCoalesced) {
  for (int half : {1, 4, 8, 16, 20, 32, 40, 64, 100, 512}) {
    for (int d0 = 0; d0 < half; d0 += kDimChunk) {
      const int dims = std::min(kDimChunk, half - d0);
      std::vector<int> count(static_cast<std::size_t>(kKeyTile * dims), 0);
      for (int f0 = 0; f0 < kKeyTile * dims; f0 += 32) {
        std::vector<std::int64_t> offsets;
        std::set<int> rows;
        for (int f = f0; f < std::min(f0 + 32, kKeyTile * dims); ++f) {
          const TileElement e = subkey_tile_element(f, dims);
          ASSERT_TRUE(e.key >= 0 && e.key < kKeyTile && e.dim >= 0 && e.dim < dims);
          ++count[static_cast<std::size_t>(e.key * dims + e.dim)];
          offsets.push_back(subkey_tile_offset(0, d0, half, e));
          rows.insert(e.key);
        }
        const std::string what = "half " + std::to_string(half) + " d0 " + std::to_string(d0) +
                                 " load at " + std::to_string(f0);
        if (dims == kDimChunk || dims == half) {
          for (std::size_t l = 1; l < offsets.size(); ++l) {
            ASSERT_EQ(offsets[l], offsets[0] + static_cast<std::int64_t>(l)) << what;
          }
        }
        EXPECT_LE(rows.size(), static_cast<std::size_t>((32 + dims - 1) / dims + 1)) << what;
      }
      for (int c : count) ASSERT_EQ(c, 1) << "half " << half << " d0 " << d0;
    }
  }
}

// ---- launch geometry (launch_geometry.hpp) --------------------------------------------------

TEST(CudaHostGeometry, StridedGridYTakesEveryTileOnceWithinTheLimit) {
  for (std::int64_t tiles : {0LL, 1LL, 65534LL, 65535LL, 65536LL, 65535LL * 3 + 7, 1000000LL}) {
    const std::int64_t grid = strided_grid_yz(tiles);
    EXPECT_GE(grid, 1);
    EXPECT_LE(grid, kMaxGridYZ) << tiles << " tiles";
    std::vector<int> taken(static_cast<std::size_t>(tiles), 0);
    std::int64_t total = 0;
    for (std::int64_t block = 0; block < grid; ++block) {
      const std::int64_t count = strided_tile_count(block, grid, tiles);
      total += count;
      for (std::int64_t i = 0; i < count; ++i) ++taken[static_cast<std::size_t>(block + i * grid)];
    }
    EXPECT_EQ(total, tiles);
    EXPECT_TRUE(std::all_of(taken.begin(), taken.end(), [](int c) { return c == 1; }))
        << tiles << " tiles";
  }
}

TEST(CudaHostGeometry, GemmCallsStayWithinCublasIntSizes) {
  // cublas_gemm.cu takes gemm_rows_per_call rows per cuBLAS call: every operand of a call under
  // 2^31 elements and at least one row.
  for (std::int64_t inner : std::vector<std::int64_t>{1, 7, 4096, 1 << 20, kMaxBlasInt}) {
    for (std::int64_t cols : std::vector<std::int64_t>{1, 96, 1 << 16, kMaxBlasInt}) {
      const std::int64_t step = gemm_rows_per_call(inner, cols);
      EXPECT_GE(step, 1);
      EXPECT_LE(step, kMaxBlasInt);
      EXPECT_LE(step * inner, kMaxBlasInt) << inner << " x " << cols;
      EXPECT_LE(step * cols, kMaxBlasInt) << inner << " x " << cols;
      for (std::int64_t rows : std::vector<std::int64_t>{1, 1000, std::int64_t{3} << 31}) {
        // The calls' row counts: all `step` but the last, which is 1..step.
        const std::int64_t calls = ceil_div(rows, step), last = rows - (calls - 1) * step;
        EXPECT_TRUE(last >= 1 && last <= step) << rows << " rows";
      }
    }
  }
  EXPECT_EQ(gemm_rows_per_call(4096, 96), kMaxBlasInt / 4096);
}

TEST(CudaHostGeometry, OneDimensionalGridsBeyondTheLimitAreRefusedWithOneLine) {
  EXPECT_EQ(grid_x_or_throw(0, "x"), 1u);
  EXPECT_EQ(grid_x_or_throw(kMaxGridX, "x"), static_cast<unsigned>(kMaxGridX));
  try {
    grid_x_or_throw(kMaxGridX + 1, "cuda log_scan reduce");
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cuda log_scan reduce"), std::string::npos) << what;
    EXPECT_NE(what.find("2^31 - 1"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

// ---- scratch the kernels declare (scan_cuda.hpp, pkm_scratch.hpp) ------------------------------

TEST(CudaHostScratch, ScansTakeTwoOrThreeFloatsPerChunkAndChannel) {
  // batch 2, D 8: T = 64 is one chunk, T = 65 two.
  EXPECT_EQ(linear_scan_scratch_bytes(2, 64, 8), 2.0 * 2 * 1 * 8 * 4);
  EXPECT_EQ(linear_scan_scratch_bytes(2, 65, 8), 2.0 * 2 * 2 * 8 * 4);
  EXPECT_EQ(log_scan_scratch_bytes(2, 65, 8), 3.0 * 2 * 2 * 8 * 4);
  EXPECT_EQ(linear_scan_scratch_bytes(2, 0, 8), 0.0);
  // minGRU, batch 2, T 3, D 4: projection 6 x 8, a and b 6 x 4 each, then one chunk of scan.
  EXPECT_EQ(min_layer_scratch_bytes(MinLayer::mingru, 2, 3, 4, false),
            (48 + 48) * 4.0 + 2 * 2 * 1 * 4 * 4.0);
  EXPECT_EQ(min_layer_scratch_bytes(MinLayer::mingru, 2, 3, 4, true),
            (48 + 48) * 4.0 + 3 * 2 * 1 * 4 * 4.0);
  EXPECT_EQ(min_layer_scratch_bytes(MinLayer::minlstm, 2, 3, 4, false),
            (72 + 48) * 4.0 + 2 * 2 * 1 * 4 * 4.0);
  // T = 0: the projection's buffer still holds log h0 (batch x D).
  EXPECT_EQ(min_layer_scratch_bytes(MinLayer::mingru, 2, 0, 4, true), 8 * 4.0);
}

TEST(CudaHostScratch, TheBruteForceSplitsItsKeysIntoRangesThatCoverThemOnce) {
  namespace bf = bruteforce;
  // One token, 4 heads, 2^20 keys on 132 multiprocessors: as many ranges as allowed.
  bf::Split s = bf::split({1, 4, 1024, 64, 8}, 132);
  EXPECT_EQ(s.ranges, bf::kMaxRanges);
  EXPECT_EQ(s.keys_per_range, 16384);
  // Many tokens fill the device alone: one range.
  s = bf::split({65536, 4, 1024, 64, 8}, 132);
  EXPECT_EQ(s.ranges, 1);
  EXPECT_EQ(bruteforce_topk_scratch_bytes({65536, 4, 1024, 64, 8}, 132),
            65536.0 * 4 * 8 * bf::kEntryBytes);
  for (std::int64_t tokens : {1, 7, 32, 33, 500, 4096}) {
    for (std::int64_t n : {3, 16, 100, 1024}) {
      for (int sms : {1, 80, 132}) {
        const pkm::Dims d{tokens, 2, n, 16, 1};
        s = bf::split(d, sms);
        EXPECT_GE(s.ranges, 1);
        EXPECT_LE(s.ranges, bf::kMaxRanges);
        EXPECT_EQ(s.keys_per_range % bf::kKeysPerTile, 0);
        EXPECT_GE(static_cast<std::int64_t>(s.ranges) * s.keys_per_range, d.keys());
        EXPECT_LT(static_cast<std::int64_t>(s.ranges - 1) * s.keys_per_range, d.keys());
        EXPECT_EQ(bruteforce_topk_scratch_bytes(d, sms),
                  static_cast<double>(s.ranges) * tokens * 2 * 1 * bf::kEntryBytes);
      }
    }
  }
  EXPECT_EQ(bruteforce_topk_scratch_bytes({0, 4, 1024, 64, 8}, 132), 0.0);
}

TEST(CudaHostScratch, ThePkmSearchAndLayerCountTheirBuffers) {
  const pkm::Dims d{10, 4, 512, 64, 32};
  EXPECT_EQ(pkm_topk_scratch_bytes(d), 2.0 * 4 * 10 * 512 * 4);
  EXPECT_EQ(pkm_layer_scratch_bytes(d), 10.0 * 4 * (64 + 32) * 4 + pkm_topk_scratch_bytes(d));
  EXPECT_EQ(pkm_topk_scratch_bytes({0, 4, 512, 64, 32}), 0.0);
  EXPECT_EQ(pkm_layer_scratch_bytes({10, 0, 512, 64, 32}), 0.0);
}

// ---- pkm layer backward (pkm_backward_cuda.hpp) -------------------------------------------------

TEST(CudaHostPkmBackward, ColumnSumSlicesTakeEveryTokenOnceWithinGridY) {
  for (const std::int64_t tokens : {1LL, 63LL, 64LL, 65LL, 4096LL, 64LL * 65535 + 1, 1LL << 30}) {
    const std::int64_t per = pkm_bwd::slice_tokens(tokens), n = pkm_bwd::slices(tokens);
    EXPECT_LE(n, pkm_bwd::kMaxSlices) << tokens;
    EXPECT_GE(per, pkm_bwd::kTokensPerSlice) << tokens;
    EXPECT_GE(n * per, tokens) << tokens;        // every token in a slice
    EXPECT_LT((n - 1) * per, tokens) << tokens;  // no slice without tokens
  }
  EXPECT_EQ(pkm_bwd::slices(4096), 64);
  EXPECT_EQ(pkm_bwd::slices(65), 2);
  EXPECT_EQ(pkm_bwd::slices(0), 0);
}

TEST(CudaHostPkmBackward, ScratchCountsEveryBuffer) {
  // 10 tokens, 4 heads, 512 sub-keys, dk 64, k 32: q and dq 10 x 256, ds 10 x 4 x 32, partials of
  // one slice, seven sort buffers of 2 x 1280 items and the run count.
  const pkm::Dims d{10, 4, 512, 64, 32};
  EXPECT_EQ(pkm_bwd::explicit_scratch_bytes(d),
            4.0 * (2 * 10 * 256 + 1280 + 3 * 1 * 256 + 7 * 2560 + 1));
  EXPECT_EQ(pkm_bwd::explicit_scratch_bytes({0, 4, 512, 64, 32}), 0.0);
}

// The scatter-adds as the kernels do them, on the host: pairs (row, item) from the index
// functions, sorted stably by row, each run's items added into the row the target function
// names; against cpu.plain's straight loops (kernels/cpu/pkm_backward.cpp), which add each
// contribution where the equations put it. A wrong sub-key half, head or row offset moves terms
// to another row: far outside the float tolerance.
TEST(CudaHostPkmBackward, ScatterIndexArithmeticPutsEveryContributionInItsRow) {
  const pkm::Dims d{5, 3, 6, 8, 4};  // 36 product keys, 4 of them per (token, head)
  const std::int64_t din = 3, dv = 7, hdk = d.heads * d.dk, half = d.half();
  const std::int64_t entries = d.tokens * d.heads * d.k, per_token = d.heads * d.k;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f), pos(0.5f, 2.0f);
  auto draw = [&](std::int64_t count, auto& dist) {
    std::vector<float> v(static_cast<std::size_t>(count));
    for (float& x : v) x = dist(rng);
    return v;
  };
  const std::vector<float> x = draw(d.tokens * din, u), w = draw(din * hdk, u), b = draw(hdk, u),
                           mean = draw(hdk, u), var = draw(hdk, pos), gamma = draw(hdk, pos),
                           beta = draw(hdk, u), k1 = draw(d.heads * d.n * half, u),
                           k2 = draw(d.heads * d.n * half, u), values = draw(d.keys() * dv, u),
                           dy = draw(d.tokens * dv, u), p = draw(entries, pos),
                           zhat = draw(d.tokens * hdk, u);
  // Distinct keys per (token, head), shared between tokens so that rows take several terms.
  std::vector<std::int64_t> idx(static_cast<std::size_t>(entries));
  for (std::int64_t e = 0; e < entries; ++e) {
    idx[static_cast<std::size_t>(e)] =
        (e % d.k * 7 + e / per_token % 2 * 5 + e / d.k % d.heads) % d.keys();
  }
  std::vector<float> dx(static_cast<std::size_t>(d.tokens * din)),
      dw(static_cast<std::size_t>(din * hdk)), db(static_cast<std::size_t>(hdk)), dgamma(db.size()),
      dbeta(db.size()), dk1(k1.size(), 0.0f), dk2(k2.size(), 0.0f), dvalues(values.size(), 0.0f);
  const cpu::PkmBackwardInputs in{x.data(),
                                  {w.data(), b.data(), mean.data(), var.data(), gamma.data(),
                                   beta.data(), k1.data(), k2.data(), values.data()},
                                  dy.data(),
                                  idx.data(),
                                  p.data(),
                                  zhat.data()};
  cpu::plain::pkm_layer_backward(in,
                                 {dx.data(), dw.data(), db.data(), dgamma.data(), dbeta.data(),
                                  dk1.data(), dk2.data(), dvalues.data()},
                                 d, din, dv, 1e-5f);

  // ds and q as the first kernel forms them (in double here).
  std::vector<double> ds(static_cast<std::size_t>(entries)), q(zhat.size());
  for (std::int64_t r = 0; r < d.tokens * d.heads; ++r) {
    const std::int64_t t = r / d.heads;
    std::vector<double> dp(static_cast<std::size_t>(d.k));
    double mean_dp = 0;
    for (std::int64_t m = 0; m < d.k; ++m) {
      const std::int64_t e = r * d.k + m;
      for (std::int64_t j = 0; j < dv; ++j) {
        dp[m] += static_cast<double>(dy[t * dv + j]) * values[idx[e] * dv + j];
      }
      mean_dp += p[e] * dp[m];
    }
    for (std::int64_t m = 0; m < d.k; ++m) ds[r * d.k + m] = p[r * d.k + m] * (dp[m] - mean_dp);
  }
  for (std::int64_t at = 0; at < d.tokens * hdk; ++at) {
    q[at] = static_cast<double>(zhat[at]) * gamma[at % hdk] + beta[at % hdk];
  }

  // The kernels' path: pairs, a stable sort by row, runs, row targets.
  auto scatter = [](std::int64_t items, auto row_of, auto add) {
    std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
    for (std::int64_t item = 0; item < items; ++item) pairs.emplace_back(row_of(item), item);
    std::stable_sort(pairs.begin(), pairs.end(),
                     [](const auto& a, const auto& c) { return a.first < c.first; });
    for (const auto& [row, item] : pairs) add(row, item);
  };
  std::vector<double> got_values(values.size(), 0.0), got_k1(k1.size(), 0.0),
      got_k2(k2.size(), 0.0);
  scatter(
      entries, [&](std::int64_t e) { return idx[e]; },
      [&](std::int64_t row, std::int64_t e) {
        const std::int64_t src = pkm_bwd::value_source(e, per_token, dv);
        for (std::int64_t j = 0; j < dv; ++j) got_values[row * dv + j] += p[e] * dy[src + j];
      });
  scatter(
      2 * entries,
      [&](std::int64_t item) {
        return pkm_bwd::sub_key_row(item, entries, idx[item % entries], d.heads, d.k, d.n);
      },
      [&](std::int64_t row, std::int64_t item) {
        bool second = false;
        const std::int64_t at = pkm_bwd::sub_key_target(row, d.heads, d.n, half, second);
        const std::int64_t src = pkm_bwd::sub_key_source(item, entries, d.k, d.heads, d.dk);
        std::vector<double>& dst = second ? got_k2 : got_k1;
        for (std::int64_t c = 0; c < half; ++c) dst[at + c] += ds[item % entries] * q[src + c];
      });
  auto expect_near_all = [](const std::vector<double>& got, const std::vector<float>& want,
                            const char* name) {
    ASSERT_EQ(got.size(), want.size());
    int bad = 0, nonzero = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      nonzero += want[i] != 0.0f ? 1 : 0;
      if (!(std::abs(got[i] - want[i]) <= 1e-5 * (1 + std::abs(got[i]))) && ++bad <= 3) {
        ADD_FAILURE() << name << "[" << i << "] = " << got[i] << ", cpu.plain " << want[i];
      }
    }
    EXPECT_EQ(bad, 0) << name;
    EXPECT_GT(nonzero, 0) << name;
  };
  expect_near_all(got_values, dvalues, "dvalues");
  expect_near_all(got_k1, dk1, "dk1");
  expect_near_all(got_k2, dk2, "dk2");
}

// ---- norm backward (norm_backward_cuda.hpp) ----------------------------------------------------

TEST(CudaHostNormBackward, RowBlocksTakeEveryRowOnceInNearlyEqualRanges) {
  for (const std::int64_t rows : {1, 2, 7, 1000, 16384}) {
    for (const std::int64_t resident : {1, 3, 264, 100000}) {
      const std::int64_t blocks = norm_bwd::row_blocks(rows, resident);
      EXPECT_EQ(blocks, std::min(rows, resident));
      std::vector<int> seen(static_cast<std::size_t>(rows), 0);
      std::int64_t smallest = rows, largest = 0;
      for (std::int64_t b = 0; b < blocks; ++b) {
        const std::int64_t r0 = norm_bwd::row_begin(b, blocks, rows);
        const std::int64_t r1 = norm_bwd::row_begin(b + 1, blocks, rows);
        smallest = std::min(smallest, r1 - r0);
        largest = std::max(largest, r1 - r0);
        for (std::int64_t r = r0; r < r1; ++r) ++seen[static_cast<std::size_t>(r)];
      }
      EXPECT_GE(smallest, 1) << "rows=" << rows << " resident=" << resident;
      EXPECT_LE(largest - smallest, 1) << "rows=" << rows << " resident=" << resident;
      for (std::int64_t r = 0; r < rows; ++r) {
        ASSERT_EQ(seen[static_cast<std::size_t>(r)], 1) << "row " << r << " of " << rows;
      }
    }
  }
}

// The column sums' two stages over integer partials (exact in double): every row block's partial
// counted once, for block counts below, at and past a multiple of the lanes.
TEST(CudaHostNormBackward, ColumnSumsAddEveryPartialOnce) {
  const std::int64_t cols = 5;
  for (const std::int64_t blocks : {1, 7, 8, 9, 264}) {
    std::vector<float> partials(static_cast<std::size_t>(blocks * cols));
    for (std::int64_t b = 0; b < blocks; ++b) {
      for (std::int64_t j = 0; j < cols; ++j) {
        partials[static_cast<std::size_t>(b * cols + j)] = static_cast<float>((b + 1) * (j + 1));
      }
    }
    for (std::int64_t j = 0; j < cols; ++j) {
      double lanes[norm_bwd::kSumLanes];
      for (int l = 0; l < norm_bwd::kSumLanes; ++l) {
        lanes[l] = norm_bwd::lane_partial_sum(partials.data(), blocks, cols, j, l);
      }
      EXPECT_EQ(norm_bwd::combine_lanes(lanes, 1),
                static_cast<double>((j + 1) * blocks * (blocks + 1) / 2))
          << "blocks=" << blocks << " column " << j;
    }
  }
}

// The kernels' structure on the host: row blocks, per-row xhat, sums and dx through the device's
// functions, float partials per block, then the two-stage column sums. The row sums are taken in
// double here (the device: float per thread, double across threads).
void emulate_norm_backward(bool ln, const std::vector<float>& dy, const std::vector<float>& x,
                           const std::vector<float>& gamma, const std::vector<float>& mean,
                           const std::vector<float>& rstd, std::int64_t rows, std::int64_t cols,
                           std::int64_t resident, std::vector<float>& dx,
                           std::vector<float>& dgamma, std::vector<float>& dbeta) {
  const std::int64_t blocks = norm_bwd::row_blocks(rows, resident);
  std::vector<float> pg(static_cast<std::size_t>(blocks * cols), 0.0f), pb(pg.size(), 0.0f);
  dx.assign(static_cast<std::size_t>(rows * cols), 0.0f);
  for (std::int64_t b = 0; b < blocks; ++b) {
    for (std::int64_t r = norm_bwd::row_begin(b, blocks, rows);
         r < norm_bwd::row_begin(b + 1, blocks, rows); ++r) {
      const std::size_t ur = static_cast<std::size_t>(r);
      const float m = ln ? mean[ur] : 0.0f, s = rstd[ur];
      double sg = 0.0, sgx = 0.0;
      for (std::int64_t j = 0; j < cols; ++j) {
        const std::size_t k = static_cast<std::size_t>(r * cols + j);
        const float xh = norm_bwd::xhat(x[k], m, s);
        const float g = gamma[static_cast<std::size_t>(j)];
        if (ln) sg += static_cast<double>(dy[k]) * g;
        sgx += static_cast<double>(dy[k] * g) * xh;
        float& p = pg[static_cast<std::size_t>(b * cols + j)];
        p = std::fma(dy[k], xh, p);
        pb[static_cast<std::size_t>(b * cols + j)] += dy[k];
      }
      const norm_bwd::RowTerms t = norm_bwd::row_terms(sg, sgx, static_cast<double>(cols));
      for (std::int64_t j = 0; j < cols; ++j) {
        const std::size_t k = static_cast<std::size_t>(r * cols + j);
        dx[k] = norm_bwd::dx_element(dy[k], gamma[static_cast<std::size_t>(j)],
                                     norm_bwd::xhat(x[k], m, s), s, t);
      }
    }
  }
  dgamma.assign(static_cast<std::size_t>(cols), 0.0f);
  dbeta.assign(dgamma.size(), 0.0f);
  for (std::int64_t j = 0; j < cols; ++j) {
    double lg[norm_bwd::kSumLanes], lb[norm_bwd::kSumLanes];
    for (int l = 0; l < norm_bwd::kSumLanes; ++l) {
      lg[l] = norm_bwd::lane_partial_sum(pg.data(), blocks, cols, j, l);
      lb[l] = norm_bwd::lane_partial_sum(pb.data(), blocks, cols, j, l);
    }
    dgamma[static_cast<std::size_t>(j)] = static_cast<float>(norm_bwd::combine_lanes(lg, 1));
    dbeta[static_cast<std::size_t>(j)] = static_cast<float>(norm_bwd::combine_lanes(lb, 1));
  }
}

// Counts elements of `got` outside the family's base rule, atol 1e-5 + rtol 1e-4 (unit-scale
// normal inputs: rstd near 1, so no term outgrows its result).
int outside(const std::vector<float>& got, const std::vector<double>& want) {
  int bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (!(std::fabs(got[i] - want[i]) <= 1e-5 + 1e-4 * std::fabs(want[i]))) ++bad;
  }
  return bad;
}

TEST(CudaHostNormBackward, EmulatedKernelsMatchTheFloat64Reference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> scale(0.5f, 1.5f);
  for (const std::int64_t cols : {1, 33, 4097}) {
    for (const std::int64_t resident : {1, 5, 1000}) {
      const std::int64_t rows = 37;
      std::vector<float> x(static_cast<std::size_t>(rows * cols)), dy(x.size()),
          gamma(static_cast<std::size_t>(cols));
      for (float& v : x) v = normal(rng);
      for (float& v : dy) v = normal(rng);
      for (float& v : gamma) v = scale(rng);
      const std::vector<double> x64(x.begin(), x.end()), dy64(dy.begin(), dy.end()),
          g64(gamma.begin(), gamma.end());
      for (const bool ln : {true, false}) {
        // Saved statistics as the forward pass gives them: float64, rounded once to float.
        std::vector<double> mean64(static_cast<std::size_t>(rows), 0.0), rstd64(mean64.size());
        if (ln) {
          ref::layernorm_stats(x64.data(), mean64.data(), rstd64.data(), rows, cols, 1e-5);
        } else {
          ref::rmsnorm_stats(x64.data(), rstd64.data(), rows, cols, 1e-5);
        }
        const std::vector<float> mean(mean64.begin(), mean64.end()),
            rstd(rstd64.begin(), rstd64.end());
        const std::vector<double> mean_r(mean.begin(), mean.end()),
            rstd_r(rstd.begin(), rstd.end());
        std::vector<double> dx_ref(x.size()), dg_ref(gamma.size()), db_ref(gamma.size());
        if (ln) {
          ref::layernorm_backward(dy64.data(), x64.data(), g64.data(), mean_r.data(), rstd_r.data(),
                                  dx_ref.data(), dg_ref.data(), db_ref.data(), rows, cols);
        } else {
          ref::rmsnorm_backward(dy64.data(), x64.data(), g64.data(), rstd_r.data(), dx_ref.data(),
                                dg_ref.data(), rows, cols);
        }
        std::vector<float> dx, dg, db;
        emulate_norm_backward(ln, dy, x, gamma, mean, rstd, rows, cols, resident, dx, dg, db);
        const std::string at = std::string(ln ? "layernorm" : "rmsnorm") +
                               " cols=" + std::to_string(cols) +
                               " resident=" + std::to_string(resident);
        EXPECT_EQ(outside(dx, dx_ref), 0) << "dx, " << at;
        EXPECT_EQ(outside(dg, dg_ref), 0) << "dgamma, " << at;
        if (ln) EXPECT_EQ(outside(db, db_ref), 0) << "dbeta, " << at;
      }
    }
  }
}

// A constant row: xhat = 0 and rstd = 1/sqrt(eps) = 316. Where dy gamma equals its row mean, dx
// is exactly 0: fma(dy, gamma, -hi) - lo cancels without rounding dy gamma first.
TEST(CudaHostNormBackward, ConstantRowWithUniformGradientGivesExactZero) {
  const std::int64_t cols = 7;
  const float dy = 0.3f, gamma = 1.1f, rstd = 316.22775f;
  const double sum_g = cols * (static_cast<double>(dy) * gamma);
  const norm_bwd::RowTerms t = norm_bwd::row_terms(sum_g, 0.0, static_cast<double>(cols));
  const float xh = norm_bwd::xhat(2.5f, 2.5f, rstd);
  EXPECT_EQ(xh, 0.0f);
  EXPECT_EQ(norm_bwd::dx_element(dy, gamma, xh, rstd, t), 0.0f);
}

// ---- backward scans (scan_backward_cuda.hpp) ----------------------------------------------------

namespace bwd_test {

struct LinearOut {
  std::vector<float> da, db, dh0;
};

// scan_backward_cuda.cu's launch on the host: thread (n, d) of batch x D runs the same body with
// K steps' loads at a time. Outputs start poisoned, so an element never written shows.
template <int K>
LinearOut run_linear(const std::vector<float>& a, const std::vector<float>& h0,
                     const std::vector<float>& h, const std::vector<float>& dh, std::int64_t batch,
                     std::int64_t T, std::int64_t D) {
  LinearOut o{std::vector<float>(a.size(), kPoison), std::vector<float>(a.size(), kPoison),
              std::vector<float>(h0.size(), kPoison)};
  for (std::int64_t idx = 0; idx < batch * D; ++idx) {
    const std::int64_t d = idx % D, n = idx / D;
    scan_bwd::linear_backward_sequence<K>(a.data(), h0.data(), h.data(), dh.data(), o.da.data(),
                                          o.db.data(), o.dh0.data(), n * T * D + d, idx, T, D);
  }
  return o;
}

struct LogOut {
  std::vector<float> dla, dlb, dlh0;
};

template <int K>
LogOut run_log(const std::vector<float>& la, const std::vector<float>& lb,
               const std::vector<float>& lh0, const std::vector<float>& lh,
               const std::vector<float>& g, std::int64_t batch, std::int64_t T, std::int64_t D) {
  LogOut o{std::vector<float>(la.size(), kPoison), std::vector<float>(la.size(), kPoison),
           std::vector<float>(lh0.size(), kPoison)};
  for (std::int64_t idx = 0; idx < batch * D; ++idx) {
    const std::int64_t d = idx % D, n = idx / D;
    scan_bwd::log_backward_sequence<K>(la.data(), lb.data(), lh0.data(), lh.data(), g.data(),
                                       o.dla.data(), o.dlb.data(), o.dlh0.data(), n * T * D + d,
                                       idx, T, D);
  }
  return o;
}

std::vector<double> wide(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// Elements of got outside tol (1 + |want|) of want (NaN where want is NaN); the first few are
// reported.
int outside(const std::vector<float>& got, const std::vector<double>& want, double tol,
            const std::string& what) {
  int bad = 0;
  for (std::size_t k = 0; k < got.size(); ++k) {
    const bool ok = std::isnan(want[k])
                        ? std::isnan(got[k])
                        : std::abs(got[k] - want[k]) <= tol * (1 + std::abs(want[k]));
    if (!ok && ++bad <= 5)
      ADD_FAILURE() << what << "[" << k << "] = " << got[k] << ", want " << want[k];
  }
  return bad;
}

}  // namespace bwd_test

// T = 2 by hand: a = (0.5, 0.25), h0 = 2, b = (1, 0.5) give h = (2, 1); dh = (1, 2). delta_1 = 2,
// da_1 = 2 h_0 = 4; delta_0 = 1 + 0.25 * 2 = 1.5, da_0 = 1.5 h0 = 3; dh0 = a_0 delta_0 = 0.75.
// Every value is exact in float; the grouped path (K = 2) and the step-at-a-time tail (K = 8)
// give the same.
TEST(CudaHostScanBackward, LinearTwoStepsByHand) {
  const std::vector<float> a = {0.5f, 0.25f}, h0 = {2.0f}, h = {2.0f, 1.0f}, dh = {1.0f, 2.0f};
  for (const auto& o : {bwd_test::run_linear<1>(a, h0, h, dh, 1, 2, 1),
                        bwd_test::run_linear<2>(a, h0, h, dh, 1, 2, 1),
                        bwd_test::run_linear<8>(a, h0, h, dh, 1, 2, 1)}) {
    EXPECT_EQ(o.db, (std::vector<float>{1.5f, 2.0f}));
    EXPECT_EQ(o.da, (std::vector<float>{3.0f, 4.0f}));
    EXPECT_EQ(o.dh0, (std::vector<float>{0.75f}));
  }
}

// A zero gate stops the reverse scan: delta before it is its own dh exactly, and a_0 = 0 gives
// dh0 = 0.
TEST(CudaHostScanBackward, LinearZeroGatePassesNothingBack) {
  const std::vector<float> a = {0.0f, 0.9f, 0.0f, 0.7f}, h0 = {3.0f}, h = {1.0f, 2.0f, 3.0f, 4.0f},
                           dh = {0.5f, -1.5f, 2.5f, 4.0f};
  const auto o = bwd_test::run_linear<scan_bwd::kBwdSteps>(a, h0, h, dh, 1, 4, 1);
  EXPECT_EQ(o.db[3], 4.0f);
  EXPECT_EQ(o.db[2], std::fma(0.7f, 4.0f, 2.5f));  // one rounding, as the kernel
  EXPECT_EQ(o.db[1], -1.5f);                       // a_2 = 0
  EXPECT_EQ(o.db[0], std::fma(0.9f, -1.5f, 0.5f));
  EXPECT_EQ(o.dh0[0], 0.0f);  // a_0 = 0
  EXPECT_EQ(o.da[0], o.db[0] * 3.0f);
}

// a = 1 (the identity step): delta_t is the suffix sum of dh, T - t for dh = 1, dh0 = T; da_t =
// delta_t h_{t-1}. T = 19 takes two groups of 8 and a tail of 3.
TEST(CudaHostScanBackward, LinearUnitGateSumsTheSuffix) {
  const std::int64_t T = 19, D = 3;
  std::vector<float> a(T * D, 1.0f), h(T * D), dh(T * D, 1.0f), h0 = {0.5f, 1.0f, 2.0f};
  for (std::size_t k = 0; k < h.size(); ++k) h[k] = static_cast<float>(k % 5) - 1.0f;
  const auto o = bwd_test::run_linear<scan_bwd::kBwdSteps>(a, h0, h, dh, 1, T, D);
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t d = 0; d < D; ++d) {
      const std::size_t i = static_cast<std::size_t>(t * D + d);
      const float want = static_cast<float>(T - t);
      EXPECT_EQ(o.db[i], want) << "t=" << t << " d=" << d;
      EXPECT_EQ(o.da[i], want * (t > 0 ? h[i - D] : h0[d])) << "t=" << t << " d=" << d;
    }
  }
  for (std::int64_t d = 0; d < D; ++d) EXPECT_EQ(o.dh0[d], static_cast<float>(T));
}

// Against ref::linear_scan_backward on the h the forward pass gives: group sizes 1, 3 and the
// kernels' 8, T = 0 (dh0 = 0), T below, at and beyond a group, batch 2 so that sequences do not
// cross.
TEST(CudaHostScanBackward, LinearMatchesTheReference) {
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> gate(0.0f, 1.0f), val(-1.0f, 1.0f);
  const std::int64_t batch = 2, D = 5;
  for (const std::int64_t T : {0, 1, 7, 8, 9, 45}) {
    std::vector<float> a(batch * T * D), b(a.size()), h0(batch * D), dh(a.size());
    for (auto& v : a) v = gate(rng);
    for (auto& v : b) v = val(rng);
    for (auto& v : h0) v = val(rng);
    for (auto& v : dh) v = val(rng);
    std::vector<double> h64(a.size());
    const auto a64 = bwd_test::wide(a), b64 = bwd_test::wide(b), h064 = bwd_test::wide(h0);
    ref::linear_scan(a64.data(), b64.data(), h064.data(), h64.data(), batch, T, D);
    const std::vector<float> h(h64.begin(), h64.end());
    std::vector<double> da(a.size()), db(a.size()), dh0(h0.size());
    const auto hr = bwd_test::wide(h), g = bwd_test::wide(dh);
    ref::linear_scan_backward(a64.data(), h064.data(), hr.data(), g.data(), da.data(), db.data(),
                              dh0.data(), batch, T, D);
    const std::string at = " T=" + std::to_string(T);
    for (const auto& o : {bwd_test::run_linear<1>(a, h0, h, dh, batch, T, D),
                          bwd_test::run_linear<3>(a, h0, h, dh, batch, T, D),
                          bwd_test::run_linear<scan_bwd::kBwdSteps>(a, h0, h, dh, batch, T, D)}) {
      EXPECT_EQ(bwd_test::outside(o.da, da, 1e-5, "da" + at), 0);
      EXPECT_EQ(bwd_test::outside(o.db, db, 1e-5, "db" + at), 0);
      EXPECT_EQ(bwd_test::outside(o.dh0, dh0, 1e-5, "dh0" + at), 0);
    }
  }
}

TEST(CudaHostScanBackward, ExpOrZeroIsZeroBelowMinus87) {
  EXPECT_EQ(scan_bwd::exp_or_zero(-kInf), 0.0f);
  EXPECT_EQ(scan_bwd::exp_or_zero(-87.5f), 0.0f);
  EXPECT_GT(scan_bwd::exp_or_zero(-86.5f), 0.0f);
  EXPECT_EQ(scan_bwd::exp_or_zero(0.0f), 1.0f);
  EXPECT_TRUE(std::isnan(scan_bwd::exp_or_zero(kNaN)));
}

// T = 2 by hand, the linear case's a = (0.5, 0.25), b = (1, 0.5), h0 = 2, h = (2, 1) in logs,
// dlog_h = (1, 2): at t = 1, r = 2, dlog_b = 2 b_1 / h_1 = 1, dlog_a = 2 a_1 h_0 / h_1 = 1; at t =
// 0, r = 1 + 1 = 2, dlog_b = 2 b_0 / h_0 = 1, dlog_a = 2 a_0 h0 / h_0 = 1 = dlog_h0. (Exact up to
// the rounding of the logs and expf's.)
TEST(CudaHostScanBackward, LogTwoStepsByHand) {
  const std::vector<float> la = {std::log(0.5f), std::log(0.25f)}, lb = {0.0f, std::log(0.5f)},
                           lh0 = {std::log(2.0f)}, lh = {std::log(2.0f), 0.0f}, g = {1.0f, 2.0f};
  for (const auto& o : {bwd_test::run_log<1>(la, lb, lh0, lh, g, 1, 2, 1),
                        bwd_test::run_log<2>(la, lb, lh0, lh, g, 1, 2, 1),
                        bwd_test::run_log<8>(la, lb, lh0, lh, g, 1, 2, 1)}) {
    for (int t = 0; t < 2; ++t) {
      EXPECT_NEAR(o.dla[t], 1.0f, 1e-6f) << "t=" << t;
      EXPECT_NEAR(o.dlb[t], 1.0f, 1e-6f) << "t=" << t;
    }
    EXPECT_NEAR(o.dlh0[0], 1.0f, 1e-6f);
  }
}

// A zero gate (log a = -inf) gives dlog_a = 0 exactly and passes nothing back; b = 0 (log b =
// -inf) gives dlog_b = 0 exactly.
TEST(CudaHostScanBackward, LogZeroGateAndZeroBGiveExactZeros) {
  const std::vector<float> la = {-0.1f, -kInf, -0.2f}, lb = {-1.0f, 0.0f, -kInf}, lh0 = {0.3f},
                           lh = {0.1f, 0.0f, -0.2f}, g = {0.5f, -1.0f, 2.0f};
  const auto o = bwd_test::run_log<scan_bwd::kBwdSteps>(la, lb, lh0, lh, g, 1, 3, 1);
  EXPECT_EQ(o.dlb[2], 0.0f);                           // b_2 = 0
  EXPECT_EQ(o.dla[1], 0.0f);                           // a_1 = 0
  EXPECT_EQ(o.dlb[1], -1.0f + o.dla[2]);               // r_1, times exp(0 - 0) = 1
  EXPECT_EQ(o.dlb[0], 0.5f * std::exp(-1.0f - 0.1f));  // r_0 = dlog_h_0: nothing carried
  EXPECT_EQ(o.dlh0[0], o.dla[0]);
}

// a = 1 (log a = 0) and b = 0: h stays h0, every coefficient is exp(0) = 1, so dlog_a_t is the
// suffix sum of dlog_h (T - t for ones), dlog_b = 0 and dlog_h0 = T, exactly. T = 19: two groups
// of 8 and a tail of 3.
TEST(CudaHostScanBackward, LogUnitGateSumsTheSuffix) {
  const std::int64_t T = 19, D = 3;
  const std::vector<float> lh0 = {-0.7f, 0.0f, 1.3f};
  std::vector<float> la(T * D, 0.0f), lb(T * D, -kInf), lh(T * D), g(T * D, 1.0f);
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t d = 0; d < D; ++d) lh[t * D + d] = lh0[d];
  const auto o = bwd_test::run_log<scan_bwd::kBwdSteps>(la, lb, lh0, lh, g, 1, T, D);
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t d = 0; d < D; ++d) {
      EXPECT_EQ(o.dla[t * D + d], static_cast<float>(T - t)) << "t=" << t << " d=" << d;
      EXPECT_EQ(o.dlb[t * D + d], 0.0f) << "t=" << t << " d=" << d;
    }
  }
  for (std::int64_t d = 0; d < D; ++d) EXPECT_EQ(o.dlh0[d], static_cast<float>(T));
}

// Against ref::log_scan_backward on the log h the forward reference gives (rounded to float),
// with zero gates and zero b scattered in; group sizes 1, 3, 8; T = 0 (dlog_h0 = 0).
TEST(CudaHostScanBackward, LogMatchesTheReference) {
  std::mt19937 rng(29);
  std::uniform_real_distribution<float> gate(0.05f, 1.0f), val(0.1f, 2.0f), grad(-1.0f, 1.0f);
  const std::int64_t batch = 2, D = 5;
  for (const std::int64_t T : {0, 1, 7, 8, 9, 45}) {
    std::vector<float> la(batch * T * D), lb(la.size()), lh0(batch * D), g(la.size());
    for (std::size_t k = 0; k < la.size(); ++k) {
      la[k] = k % 11 == 4 ? -kInf : std::log(gate(rng));
      lb[k] = k % 13 == 6 ? -kInf : std::log(val(rng));
      g[k] = grad(rng);
    }
    for (auto& v : lh0) v = std::log(val(rng));
    const auto la64 = bwd_test::wide(la), lb64 = bwd_test::wide(lb), lh064 = bwd_test::wide(lh0),
               g64 = bwd_test::wide(g);
    std::vector<double> lh64(la.size());
    ref::log_scan(la64.data(), lb64.data(), lh064.data(), lh64.data(), batch, T, D);
    const std::vector<float> lh(lh64.begin(), lh64.end());
    const auto lhr = bwd_test::wide(lh);
    std::vector<double> dla(la.size()), dlb(la.size()), dlh0(lh0.size());
    ref::log_scan_backward(la64.data(), lb64.data(), lh064.data(), lhr.data(), g64.data(),
                           dla.data(), dlb.data(), dlh0.data(), batch, T, D);
    const std::string at = " T=" + std::to_string(T);
    for (const auto& o :
         {bwd_test::run_log<1>(la, lb, lh0, lh, g, batch, T, D),
          bwd_test::run_log<3>(la, lb, lh0, lh, g, batch, T, D),
          bwd_test::run_log<scan_bwd::kBwdSteps>(la, lb, lh0, lh, g, batch, T, D)}) {
      EXPECT_EQ(bwd_test::outside(o.dla, dla, 1e-5, "dlog_a" + at), 0);
      EXPECT_EQ(bwd_test::outside(o.dlb, dlb, 1e-5, "dlog_b" + at), 0);
      EXPECT_EQ(bwd_test::outside(o.dlh0, dlh0, 1e-5, "dlog_h0" + at), 0);
    }
  }
}

}  // namespace
}  // namespace opbench::cuda
