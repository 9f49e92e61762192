// Tests of the pkm family's cuda.fast kernels (kernels/cuda/pkm_*cuda.cu), through the planner and
// runner that `opbench check` uses (device upload, poisoned device outputs, fetch, the op's
// tie-aware comparison). Built only with nvcc; on a machine without a device the tests that need
// one skip with the reason cuda_status() gives.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "datasets/provider.hpp"
#include "harness/device.hpp"
#include "harness/runner.hpp"
#include "kernels/cuda/pkm_backward_cuda.hpp"
#include "kernels/cuda/pkm_cuda.hpp"
#include "suites/suites.hpp"

namespace opbench {
namespace {

using Axes = std::map<std::string, std::string>;

// Runs anywhere: shapes the kernels cannot take are named, not crashed on.
TEST(CudaPkm, UnsupportedShapesAreExplained) {
  EXPECT_EQ(cuda::pkm_topk_unsupported({4, 4, 512, 256, 32}), "");
  // No limit on dk: query halves and sub-keys stream through shared memory 32 dims at a time.
  EXPECT_EQ(cuda::pkm_topk_unsupported({4, 4, 512, 2048, 32}), "");
  EXPECT_NE(cuda::pkm_topk_unsupported({4, 4, 512, 256, 300}).find("k <= 256"), std::string::npos);
  EXPECT_NE(cuda::pkm_topk_unsupported({4, 70000, 512, 256, 32}).find("heads <= 65535"),
            std::string::npos);
  EXPECT_EQ(cuda::pkm_topk_unsupported({std::int64_t{1} << 30, 1, 64, 8, 8}), "");
  EXPECT_NE(
      cuda::pkm_topk_unsupported({(std::int64_t{1} << 30) + 1, 1, 64, 8, 8}).find("tokens <= 2^30"),
      std::string::npos);
}

TEST(CudaPkm, BruteforceUnsupportedShapesAreExplained) {
  EXPECT_EQ(cuda::bruteforce_topk_unsupported({4, 4, 1024, 256, 32}), "");
  // No limit on dk: the dims stream through shared memory in chunks.
  EXPECT_EQ(cuda::bruteforce_topk_unsupported({4, 4, 512, 4096, 256}), "");
  EXPECT_NE(cuda::bruteforce_topk_unsupported({4, 4, 512, 256, 257}).find("k <= 256"),
            std::string::npos);
  EXPECT_EQ(cuda::bruteforce_topk_unsupported({1, 1, 32768, 8, 1}), "");  // N = 2^30
  EXPECT_NE(cuda::bruteforce_topk_unsupported({1, 1, 32769, 8, 1}).find("keys <= 2^30"),
            std::string::npos);
  EXPECT_NE(cuda::bruteforce_topk_unsupported({4, 65536, 64, 8, 1}).find("heads <= 65535"),
            std::string::npos);
}

TEST(CudaPkm, LayerUnsupportedShapesAreExplained) {
  EXPECT_EQ(cuda::pkm_layer_unsupported({4, 4, 512, 256, 32}), "");
  // The layer's search is pkm_topk's, with its limits.
  EXPECT_EQ(cuda::pkm_layer_unsupported({4, 4, 512, 2048, 32}), "");
  EXPECT_NE(cuda::pkm_layer_unsupported({4, 4, 512, 256, 300}).find("k <= 256"), std::string::npos);
}

// Host checks that run before any device call: an unsupported shape throws, no tokens is a no-op.
TEST(CudaPkm, BadShapesThrowBeforeTouchingTheDevice) {
  EXPECT_THROW(
      cuda::bruteforce_topk(nullptr, nullptr, nullptr, nullptr, nullptr, {4, 4, 512, 256, 300}),
      std::invalid_argument);
  EXPECT_NO_THROW(
      cuda::bruteforce_topk(nullptr, nullptr, nullptr, nullptr, nullptr, {0, 4, 512, 256, 32}));
  const pkm::LayerWeights w{};
  EXPECT_THROW(cuda::pkm_layer(nullptr, w, nullptr, nullptr, {4, 4, 512, 256, 300}, 8, 8, 1e-5f),
               std::invalid_argument);
  EXPECT_THROW(cuda::pkm_layer(nullptr, w, nullptr, nullptr, {4, 4, 512, 256, 32}, 8, -1, 1e-5f),
               std::invalid_argument);
  EXPECT_NO_THROW(cuda::pkm_layer(nullptr, w, nullptr, nullptr, {0, 4, 512, 256, 32}, 8, 8, 1e-5f));
}

TEST(CudaPkm, LayerBackwardUnsupportedShapesAreExplained) {
  EXPECT_EQ(cuda::pkm_layer_backward_unsupported({4096, 4, 512, 256, 32}), "");
  EXPECT_NE(cuda::pkm_layer_backward_unsupported({4, 4, 512, 256, 257}).find("k <= 256"),
            std::string::npos);
  // 2 * tokens * heads * k sort items: 2^30 of them are fine, 2^31 are not.
  EXPECT_EQ(cuda::pkm_layer_backward_unsupported({1 << 22, 4, 512, 8, 32}), "");
  EXPECT_NE(cuda::pkm_layer_backward_unsupported({1 << 23, 4, 512, 8, 32}).find("< 2^31"),
            std::string::npos);
}

TEST(CudaPkm, LayerBackwardBadShapesThrowBeforeTouchingTheDevice) {
  const cpu::PkmBackwardInputs in{};
  const cpu::PkmBackwardGrads g{};
  EXPECT_THROW(cuda::pkm_layer_backward(in, g, {4, 4, 512, 256, 300}, 8, 8, 1e-5f),
               std::invalid_argument);
  EXPECT_THROW(cuda::pkm_layer_backward(in, g, {4, 4, 512, 256, 32}, 8, -1, 1e-5f),
               std::invalid_argument);
  EXPECT_THROW(cuda::pkm_layer_backward(in, g, {4, 4, 512, 7, 2}, 8, 8, 1e-5f),
               std::invalid_argument);  // dk odd
  EXPECT_NO_THROW(cuda::pkm_layer_backward(in, g, {0, 4, 512, 256, 32}, 8, 8, 1e-5f));
}

RunResult check(const char* op, const Axes& axes) {
  Registry reg;
  register_all_suites(reg);
  Selection sel;
  sel.ops = {op};
  sel.impls = {"ref", "cuda.fast"};
  sel.axis_overrides = axes;
  // The timing modes (hot, cold) are cases of their own with the same check: one is enough.
  sel.timing_modes = {"hot"};
  datasets::SeededDataProvider data;
  auto plan = plan_cases(reg, sel, data);
  RunOptions opt;
  opt.time = false;
  return run_cases(reg, plan, data, sel, opt);
}

// Every shape under every scenario of `dists`: each cuda.fast case ran and agreed.
void expect_agreement(const char* op, const std::vector<Axes>& shapes, const std::string& dists,
                      int scenarios) {
  for (const auto& shape : shapes) {
    auto axes = shape;
    axes["dist"] = dists;
    RunResult r = check(op, axes);
    int checked = 0;
    for (const auto& c : r.cases) {
      if (c.is_reference) continue;
      EXPECT_TRUE(c.error.empty()) << c.name << ": " << c.error;
      EXPECT_TRUE(c.agreement.passed) << c.name << ": " << c.agreement.first_mismatch;
      ++checked;
    }
    EXPECT_EQ(checked, scenarios) << op;
  }
}

TEST(CudaPkm, SearchMatchesTheReference) {
  const BackendStatus st = cuda_status();
  if (!st.available) GTEST_SKIP() << st.detail;
  // Several shapes (tokens not a multiple of the 16-token block, k = 1, k = sqrt(N), more than 32
  // rows in the combination, dk above the former 1024 limit) and every scenario of the dist axis.
  expect_agreement(
      "pkm_topk",
      {{{"keys", "4096"}, {"tokens", "37"}, {"heads", "4"}, {"dk", "64"}, {"k", "32"}},
       {{"keys", "256"}, {"tokens", "5"}, {"heads", "1"}, {"dk", "8"}, {"k", "1"}},
       {{"keys", "256"}, {"tokens", "9"}, {"heads", "2"}, {"dk", "16"}, {"k", "16"}},
       {{"keys", "16384"}, {"tokens", "20"}, {"heads", "2"}, {"dk", "256"}, {"k", "100"}},
       // Halves of 20 dims (one chunk spanning whole rows) and of 1050 (chunks of 32 and a last
       // one of 26), more than 256 sub-keys (several key tiles).
       {{"keys", "90000"}, {"tokens", "17"}, {"heads", "2"}, {"dk", "40"}, {"k", "64"}},
       {{"keys", "1024"}, {"tokens", "3"}, {"heads", "1"}, {"dk", "2100"}, {"k", "8"}}},
      "normal,ties,large_norm", 3);
}

TEST(CudaPkm, BruteforceMatchesTheReference) {
  const BackendStatus st = cuda_status();
  if (!st.available) GTEST_SKIP() << st.detail;
  // Tokens not a multiple of the 32-token block; key counts that end in a partial 128-key tile
  // (400, 256 = two tiles); dk below, across and beyond one 32-dim chunk, with the halves meeting
  // inside a chunk (dk = 40); k = 1, k = sqrt(N) up to the 256 limit; heads 1, 2 and 4; and every
  // scenario of the dist axis.
  expect_agreement(
      "bruteforce_topk",
      {{{"keys", "4096"}, {"tokens", "37"}, {"heads", "4"}, {"dk", "64"}, {"k", "32"}},
       {{"keys", "256"}, {"tokens", "5"}, {"heads", "1"}, {"dk", "8"}, {"k", "1"}},
       {{"keys", "400"}, {"tokens", "33"}, {"heads", "1"}, {"dk", "40"}, {"k", "20"}},
       {{"keys", "16384"}, {"tokens", "20"}, {"heads", "4"}, {"dk", "96"}, {"k", "128"}},
       {{"keys", "65536"}, {"tokens", "3"}, {"heads", "2"}, {"dk", "8"}, {"k", "256"}}},
      "normal,ties,large_norm", 3);
}

TEST(CudaPkm, LayerBackwardMatchesTheReference) {
  const BackendStatus st = cuda_status();
  if (!st.available) GTEST_SKIP() << st.detail;
  // dv across the 128-column scatter chunks (70, 300) and dk halves below and across one chunk
  // (4, 20, 160); k = 1 and k = 256; tokens beyond one 64-token column-sum slice (70, 200); odd
  // GEMM sizes; and both scenarios, shared_rows putting every token on the same rows (runs of
  // `tokens` contributions, split over the scatter block's warps).
  expect_agreement("pkm_layer_backward",
                   {{{"keys", "4096"},
                     {"tokens", "37"},
                     {"heads", "4"},
                     {"dk", "40"},
                     {"k", "32"},
                     {"din", "33"},
                     {"dv", "70"}},
                    {{"keys", "256"},
                     {"tokens", "5"},
                     {"heads", "1"},
                     {"dk", "8"},
                     {"k", "1"},
                     {"din", "16"},
                     {"dv", "300"}},
                    {{"keys", "1024"},
                     {"tokens", "200"},
                     {"heads", "2"},
                     {"dk", "320"},
                     {"k", "8"},
                     {"din", "100"},
                     {"dv", "257"}},
                    {{"keys", "65536"},
                     {"tokens", "70"},
                     {"heads", "2"},
                     {"dk", "16"},
                     {"k", "256"},
                     {"din", "8"},
                     {"dv", "33"}}},
                   "normal,shared_rows", 2);
}

TEST(CudaPkm, LayerMatchesTheReference) {
  const BackendStatus st = cuda_status();
  if (!st.available) GTEST_SKIP() << st.detail;
  // Odd GEMM sizes for the cuBLAS projection (tokens 5, 37, 70; din 33, 100), dv across the
  // 256-column readout chunks; k = 1 and k = sqrt(N) up to 256; heads 1, 2 and 4; and every
  // scenario of the dist axis.
  expect_agreement("pkm_layer",
                   {{{"keys", "4096"},
                     {"tokens", "37"},
                     {"heads", "4"},
                     {"dk", "64"},
                     {"k", "32"},
                     {"din", "33"},
                     {"dv", "70"}},
                    {{"keys", "256"},
                     {"tokens", "5"},
                     {"heads", "1"},
                     {"dk", "8"},
                     {"k", "1"},
                     {"din", "16"},
                     {"dv", "300"}},
                    {{"keys", "1024"},
                     {"tokens", "70"},
                     {"heads", "4"},
                     {"dk", "32"},
                     {"k", "32"},
                     {"din", "100"},
                     {"dv", "257"}},
                    {{"keys", "65536"},
                     {"tokens", "3"},
                     {"heads", "2"},
                     {"dk", "16"},
                     {"k", "256"},
                     {"din", "8"},
                     {"dv", "33"}}},
                   "normal,uniform", 2);
}

// ---- direct calls with inputs of our own (no suite scenario has them) ----------------------

// A device copy of a host vector, or `count` elements poisoned with 0xff bytes (NaN scores, -1
// indices); freed at scope end.
template <class T>
class DeviceVec {
 public:
  explicit DeviceVec(const std::vector<T>& host) : count_(host.size()) {
    check_cuda(cudaMalloc(&ptr_, bytes()), "test cudaMalloc");
    check_cuda(cudaMemcpy(ptr_, host.data(), bytes(), cudaMemcpyHostToDevice), "test upload");
    // The kernels queue on the backend's non-blocking stream, which does not wait for the legacy
    // default stream these copies run on.
    check_cuda(cudaDeviceSynchronize(), "test upload");
  }
  explicit DeviceVec(std::size_t count) : count_(count) {
    check_cuda(cudaMalloc(&ptr_, bytes()), "test cudaMalloc");
    check_cuda(cudaMemset(ptr_, 0xff, bytes()), "test poison");
    check_cuda(cudaDeviceSynchronize(), "test poison");
  }
  DeviceVec(const DeviceVec&) = delete;
  DeviceVec& operator=(const DeviceVec&) = delete;
  ~DeviceVec() { cudaFree(ptr_); }
  T* get() const { return ptr_; }
  std::vector<T> fetch() const {
    std::vector<T> host(count_);
    check_cuda(cudaDeviceSynchronize(), "test kernel");
    check_cuda(cudaMemcpy(host.data(), ptr_, bytes(), cudaMemcpyDeviceToHost), "test fetch");
    return host;
  }

 private:
  std::size_t bytes() const { return count_ * sizeof(T); }
  T* ptr_ = nullptr;
  std::size_t count_;
};

// `count` floats drawn from `dist`.
template <class Dist>
std::vector<float> random_floats(std::mt19937& rng, std::int64_t count, Dist& dist) {
  std::vector<float> v(static_cast<std::size_t>(count));
  for (float& x : v) x = dist(rng);
  return v;
}

// The order of every top-k list, made total: larger first, NaN as -inf, equal keys by the smaller
// index (the order of kernels/cuda/pkm_select.hpp, written here independently).
bool nan_last_before(double sa, std::int64_t ia, double sb, std::int64_t ib) {
  const double ka = std::isnan(sa) ? -HUGE_VAL : sa, kb = std::isnan(sb) ? -HUGE_VAL : sb;
  return ka > kb || (ka == kb && ia < ib);
}

struct Scored64 {
  double score;
  std::int64_t index;
};

void sort_topk(std::vector<Scored64>& all, std::int64_t k) {
  std::sort(all.begin(), all.end(), [](const Scored64& a, const Scored64& b) {
    return nan_last_before(a.score, a.index, b.score, b.index);
  });
  all.resize(static_cast<std::size_t>(k));
}

double dot(const float* a, const float* b, std::int64_t n) {
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// Small integers, so that every score is exact in float and double alike and only the order
// decides (many exact ties), with NaN and infinities planted: a NaN in a query half (every
// sub-key score of that half NaN), NaN and infinite sub-keys (some scores NaN or infinite, sums of
// +inf and -inf NaN).
struct NanCase {
  pkm::Dims d;
  std::vector<float> q, k1, k2;
};

NanCase nan_case() {
  NanCase c{{9, 2, 40, 8, 24}, {}, {}, {}};
  const pkm::Dims& d = c.d;
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> small(-2, 2);
  c.q.resize(static_cast<std::size_t>(d.tokens * d.heads * d.dk));
  c.k1.resize(static_cast<std::size_t>(d.heads * d.n * d.half()));
  c.k2.resize(c.k1.size());
  for (auto* v : {&c.q, &c.k1, &c.k2}) {
    for (float& x : *v) x = static_cast<float>(small(rng));
  }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  c.q[(1 * d.heads + 0) * d.dk + 0] = nan;             // token 1, head 0: first half NaN
  c.q[(2 * d.heads + 1) * d.dk + d.half() + 1] = nan;  // token 2, head 1: second half NaN
  c.q[(3 * d.heads + 0) * d.dk + 0] = nan;             // token 3, head 0: both halves NaN
  c.q[(3 * d.heads + 0) * d.dk + d.half()] = nan;
  for (std::int64_t j = 0; j < d.n; j += 3) c.k1[(0 * d.n + j) * d.half() + 2] = nan;
  for (std::int64_t j = 1; j < d.n; j += 7) c.k2[(1 * d.n + j) * d.half() + 1] = inf;
  for (std::int64_t j = 2; j < d.n; j += 5) c.k2[(0 * d.n + j) * d.half() + 3] = -inf;
  c.k1[(1 * d.n + 4) * d.half()] = inf;
  return c;
}

// The k best of each half, then of their k x k sums (reference/pkm.cpp's pkm_topk, with the total
// order).
void expected_pkm_topk(const NanCase& c, std::vector<double>& scores,
                       std::vector<std::int64_t>& idx) {
  const pkm::Dims& d = c.d;
  const std::int64_t half = d.half();
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    for (std::int64_t h = 0; h < d.heads; ++h) {
      const float* q1 = c.q.data() + (t * d.heads + h) * d.dk;
      std::vector<Scored64> s1, s2, all;
      for (std::int64_t j = 0; j < d.n; ++j) {
        s1.push_back({dot(q1, c.k1.data() + (h * d.n + j) * half, half), j});
        s2.push_back({dot(q1 + half, c.k2.data() + (h * d.n + j) * half, half), j});
      }
      sort_topk(s1, d.k);
      sort_topk(s2, d.k);
      for (const auto& a : s1) {
        for (const auto& b : s2) all.push_back({a.score + b.score, a.index * d.n + b.index});
      }
      sort_topk(all, d.k);
      for (const auto& e : all) {
        scores.push_back(e.score);
        idx.push_back(e.index);
      }
    }
  }
}

void expect_same_lists(const std::vector<float>& got_s, const std::vector<std::int64_t>& got_i,
                       const std::vector<double>& want_s, const std::vector<std::int64_t>& want_i,
                       const pkm::Dims& d) {
  ASSERT_EQ(got_i.size(), want_i.size());
  int bad = 0;
  for (std::int64_t row = 0; row < d.tokens * d.heads; ++row) {
    std::set<std::int64_t> seen;
    for (std::int64_t m = 0; m < d.k; ++m) {
      const std::size_t e = static_cast<std::size_t>(row * d.k + m);
      const bool same_score =
          std::isnan(want_s[e]) ? std::isnan(got_s[e]) : static_cast<double>(got_s[e]) == want_s[e];
      if ((got_i[e] != want_i[e] || !same_score) && ++bad <= 5) {
        ADD_FAILURE() << "row " << row << " position " << m << ": (" << got_s[e] << ", " << got_i[e]
                      << "), expected (" << want_s[e] << ", " << want_i[e] << ")";
      }
      EXPECT_TRUE(seen.insert(got_i[e]).second) << "row " << row << " repeats " << got_i[e];
    }
  }
  EXPECT_EQ(bad, 0);
}

TEST(CudaPkm, NaNScoresFollowTheTotalOrder) {
  const BackendStatus st = cuda_status();
  if (!st.available) GTEST_SKIP() << st.detail;
  const NanCase c = nan_case();
  const pkm::Dims& d = c.d;
  const std::size_t out = static_cast<std::size_t>(d.tokens * d.heads * d.k);
  DeviceVec<float> q(c.q), k1(c.k1), k2(c.k2), scores(out);
  DeviceVec<std::int64_t> indices(out);
  cuda::pkm_topk(q.get(), k1.get(), k2.get(), scores.get(), indices.get(), d);
  std::vector<double> want_s;
  std::vector<std::int64_t> want_i;
  expected_pkm_topk(c, want_s, want_i);
  expect_same_lists(scores.fetch(), indices.fetch(), want_s, want_i, d);
}

TEST(CudaPkm, BruteforceNaNScoresFollowTheTotalOrder) {
  const BackendStatus st = cuda_status();
  if (!st.available) GTEST_SKIP() << st.detail;
  const NanCase c = nan_case();
  const pkm::Dims& d = c.d;
  const std::size_t out = static_cast<std::size_t>(d.tokens * d.heads * d.k);
  DeviceVec<float> q(c.q), k1(c.k1), k2(c.k2), scores(out);
  DeviceVec<std::int64_t> indices(out);
  cuda::bruteforce_topk(q.get(), k1.get(), k2.get(), scores.get(), indices.get(), d);
  // Every one of the n^2 product keys by its full dot product.
  std::vector<double> want_s;
  std::vector<std::int64_t> want_i;
  const std::int64_t half = d.half();
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    for (std::int64_t h = 0; h < d.heads; ++h) {
      const float* qv = c.q.data() + (t * d.heads + h) * d.dk;
      std::vector<Scored64> all;
      for (std::int64_t i = 0; i < d.n; ++i) {
        const double s1 = dot(qv, c.k1.data() + (h * d.n + i) * half, half);
        for (std::int64_t j = 0; j < d.n; ++j) {
          all.push_back(
              {s1 + dot(qv + half, c.k2.data() + (h * d.n + j) * half, half), i * d.n + j});
        }
      }
      sort_topk(all, d.k);
      for (const auto& e : all) {
        want_s.push_back(e.score);
        want_i.push_back(e.index);
      }
    }
  }
  expect_same_lists(scores.fetch(), indices.fetch(), want_s, want_i, d);
}

TEST(CudaPkm, LayerReadoutWithMoreColumnChunksThanGridY) {
  // dv = 65,536 * 256 + 44 output columns: 65,537 chunks of 256, more than one launch's grid.y
  // (65,535) holds; the readout strides over them. One product key (n = k = 1), so that the
  // values (dv floats) stay at 64 MiB.
  const BackendStatus st = cuda_status();
  if (!st.available) GTEST_SKIP() << st.detail;
  const pkm::Dims d{2, 2, 1, 4, 1};
  const std::int64_t din = 3, dv = 65536LL * 256 + 44, hdk = d.heads * d.dk;
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f), pos(0.5f, 2.0f);
  auto draw = [&rng](std::int64_t count, auto& dist) { return random_floats(rng, count, dist); };
  const std::vector<float> x = draw(d.tokens * din, u), w = draw(din * hdk, u), b = draw(hdk, u),
                           mean = draw(hdk, u), var = draw(hdk, pos), gamma = draw(hdk, u),
                           beta = draw(hdk, u), k1 = draw(d.heads * d.n * d.half(), u),
                           k2 = draw(d.heads * d.n * d.half(), u), values = draw(d.keys() * dv, u);
  DeviceVec<float> dx(x), dw(w), db(b), dmean(mean), dvar(var), dgamma(gamma), dbeta(beta), dk1(k1),
      dk2(k2), dvalues(values), y(static_cast<std::size_t>(d.tokens * dv));
  DeviceVec<std::int64_t> indices(static_cast<std::size_t>(d.tokens * d.heads * d.k));
  const pkm::LayerWeights lw{dw.get(),    db.get(),  dmean.get(), dvar.get(),   dgamma.get(),
                             dbeta.get(), dk1.get(), dk2.get(),   dvalues.get()};
  cuda::pkm_layer(dx.get(), lw, y.get(), indices.get(), d, din, dv, 1e-5f);
  // One key: each head's softmax weight is 1, so y[t] = heads * values[0] for every token.
  const std::vector<float> got = y.fetch();
  int bad = 0;
  for (std::int64_t t = 0; t < d.tokens; ++t) {
    for (std::int64_t c = 0; c < dv; ++c) {
      const double want = static_cast<double>(d.heads) * values[static_cast<std::size_t>(c)];
      const double g = got[static_cast<std::size_t>(t * dv + c)];
      if (!(std::abs(g - want) <= 1e-6 * (1 + std::abs(want))) && ++bad <= 5) {
        ADD_FAILURE() << "y[" << t << ", " << c << "] = " << g << ", expected " << want;
      }
    }
  }
  EXPECT_EQ(bad, 0);
  for (std::int64_t i : indices.fetch()) EXPECT_EQ(i, 0);
}

// The scatter-adds sort before they add: two runs on the same inputs give the same bits, and a
// run into buffers that hold a first run's gradients adds to them (2x exactly, since the second
// run's sums are the first run's) while the written gradients are written again.
TEST(CudaPkm, LayerBackwardIsDeterministicAndAccumulates) {
  const BackendStatus st = cuda_status();
  if (!st.available) GTEST_SKIP() << st.detail;
  const pkm::Dims d{300, 2, 16, 8, 8};
  const std::int64_t din = 5, dv = 300, hdk = d.heads * d.dk, entries = d.tokens * d.heads * d.k;
  std::mt19937 rng(18);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f), pos(0.5f, 2.0f), prob(0.01f, 0.2f);
  auto draw = [&rng](std::int64_t count, auto& dist) { return random_floats(rng, count, dist); };
  // Three token groups, each on its own k rows per head: runs of 100 contributions.
  std::vector<std::int64_t> idx(static_cast<std::size_t>(entries));
  for (std::int64_t e = 0; e < entries; ++e) {
    const std::int64_t t = e / (d.heads * d.k), h = (e / d.k) % d.heads, m = e % d.k;
    idx[static_cast<std::size_t>(e)] = (m * 37 + h * 5 + (t % 3) * 11) % d.keys();
  }
  DeviceVec<float> x(draw(d.tokens * din, u)), w(draw(din * hdk, u)), b(draw(hdk, u)),
      mean(draw(hdk, u)), var(draw(hdk, pos)), gamma(draw(hdk, u)), beta(draw(hdk, u)),
      k1(draw(d.heads * d.n * d.half(), u)), k2(draw(d.heads * d.n * d.half(), u)),
      values(draw(d.keys() * dv, u)), dy(draw(d.tokens * dv, u)), p(draw(entries, prob)),
      zhat(draw(d.tokens * hdk, u));
  DeviceVec<std::int64_t> indices(idx);
  const cpu::PkmBackwardInputs in{x.get(),
                                  {w.get(), b.get(), mean.get(), var.get(), gamma.get(), beta.get(),
                                   k1.get(), k2.get(), values.get()},
                                  dy.get(),
                                  indices.get(),
                                  p.get(),
                                  zhat.get()};
  const std::vector<std::size_t> sizes = {static_cast<std::size_t>(d.tokens * din),
                                          static_cast<std::size_t>(din * hdk),
                                          static_cast<std::size_t>(hdk),
                                          static_cast<std::size_t>(hdk),
                                          static_cast<std::size_t>(hdk),
                                          static_cast<std::size_t>(d.heads * d.n * d.half()),
                                          static_cast<std::size_t>(d.heads * d.n * d.half()),
                                          static_cast<std::size_t>(d.keys() * dv)};
  // Written gradients poisoned, accumulate-into ones (the last three) zeroed.
  struct Grads {
    std::vector<std::unique_ptr<DeviceVec<float>>> v;
    explicit Grads(const std::vector<std::size_t>& sizes) {
      for (std::size_t i = 0; i < sizes.size(); ++i) {
        v.push_back(i < 5 ? std::make_unique<DeviceVec<float>>(sizes[i])
                          : std::make_unique<DeviceVec<float>>(std::vector<float>(sizes[i], 0.0f)));
      }
    }
    cpu::PkmBackwardGrads view() const {
      return {v[0]->get(), v[1]->get(), v[2]->get(), v[3]->get(),
              v[4]->get(), v[5]->get(), v[6]->get(), v[7]->get()};
    }
  };
  Grads first(sizes), second(sizes);
  cuda::pkm_layer_backward(in, first.view(), d, din, dv, 1e-5f);
  cuda::pkm_layer_backward(in, second.view(), d, din, dv, 1e-5f);
  std::vector<std::vector<float>> once;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    once.push_back(first.v[i]->fetch());
    const std::vector<float> again = second.v[i]->fetch();
    int nan = 0, differ = 0;
    for (std::size_t j = 0; j < again.size(); ++j) {
      nan += std::isnan(once[i][j]) ? 1 : 0;
      differ += std::memcmp(&once[i][j], &again[j], sizeof(float)) != 0 ? 1 : 0;
    }
    EXPECT_EQ(nan, 0) << "gradient " << i << " has unwritten (NaN) elements";
    EXPECT_EQ(differ, 0) << "gradient " << i << " differs between two runs";
  }
  cuda::pkm_layer_backward(in, first.view(), d, din, dv, 1e-5f);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::vector<float> twice = first.v[i]->fetch();
    const float scale = i < 5 ? 1.0f : 2.0f;
    int bad = 0;
    for (std::size_t j = 0; j < twice.size(); ++j) bad += twice[j] != scale * once[i][j] ? 1 : 0;
    EXPECT_EQ(bad, 0) << "gradient " << i << " after a second run: expected " << scale
                      << " x the first";
  }
}

}  // namespace
}  // namespace opbench
