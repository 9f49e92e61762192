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
#include <string>
#include <vector>

#include "kernels/cuda/log_scan_combine.hpp"
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

}  // namespace
}  // namespace opbench::cuda
