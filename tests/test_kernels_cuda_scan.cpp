// The cuda.fast kernels of the scan family against the float64 references, through the runner
// (device buffers poisoned with NaN before each launch). Built only with nvcc; on a machine
// without a device every test skips with the reason cuda_status() gives.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "datasets/provider.hpp"
#include "harness/device.hpp"
#include "harness/runner.hpp"
#include "kernels/cuda/scan_cuda.hpp"
#include "reference/scan.hpp"
#include "suites/suites.hpp"

namespace opbench {
namespace {

RunResult check_cuda_cases(const std::string& op, const std::map<std::string, std::string>& axes) {
  Registry reg;
  register_all_suites(reg);
  Selection sel;
  sel.ops = {op};
  sel.backends = {"cuda"};
  sel.axis_overrides = axes;
  datasets::SeededDataProvider data;
  auto plan = plan_cases(reg, sel, data);
  RunOptions opt;
  opt.time = false;
  return run_cases(reg, plan, data, sel, opt);
}

class CudaScan : public ::testing::Test {
 protected:
  void SetUp() override {
    const BackendStatus st = cuda_status();
    if (!st.available) GTEST_SKIP() << st.detail;
  }
};

// Every cuda.fast case ran and passed, or, where `may_be_known` allows it, failed as a known
// failure of the formulation listed in suites/known_failures.json (xfail, with its reason). No
// case is expected to fail: a more accurate kernel must never turn this red.
template <class Pred>
void expect_cases(const RunResult& r, Pred may_be_known) {
  int checked = 0;
  for (const auto& c : r.cases) {
    if (c.impl != "cuda.fast") continue;
    ++checked;
    ASSERT_TRUE(c.error.empty()) << c.name << ": " << c.error;
    ASSERT_TRUE(c.agreement.checked) << c.name;
    if (may_be_known(c) && c.agreement.status == AgreementStatus::xfail) {
      EXPECT_FALSE(c.agreement.known_failure.empty()) << c.name;
      continue;
    }
    EXPECT_EQ(c.agreement.status, AgreementStatus::pass)
        << c.name << ": " << c.agreement.mismatches << " mismatches, first "
        << c.agreement.first_mismatch;
  }
  EXPECT_GT(checked, 0);
}

TEST_F(CudaScan, LinearScanEveryScenarioAndAwkwardShapes) {
  // T = 1, T not a multiple of the 64-step chunk, T of many chunks; D odd.
  expect_cases(check_cuda_cases("linear_scan", {{"batch", "1,3"},
                                                {"T", "1,65,1000"},
                                                {"D", "7,256"},
                                                {"dist", "uniform,near_one,bernoulli,large_b"}}),
               [](const CaseRecord&) { return false; });
}

TEST_F(CudaScan, LogScanAgreesWhereTheFormulationCan) {
  // Same expectation as on the CPU (tests/test_suites_scan.cpp): near_one and short sequences
  // pass; uniform gates over 2048 steps and exact zero gates may fail with the log-space form's
  // own error, as the known failures listed for every implementation.
  expect_cases(
      check_cuda_cases(
          "log_scan",
          {{"batch", "2"}, {"T", "8,2048"}, {"D", "33"}, {"dist", "uniform,near_one,bernoulli"}}),
      [](const CaseRecord& c) {
        const std::string dist = c.params.str("dist");
        if (dist == "bernoulli") return true;
        return dist != "near_one" && c.params.str("T") != "8";
      });
}

// The backward scans (scan_backward_cuda.hpp) under each op's own rule, every scenario, as on the
// CPU (tests/test_suites_scan.cpp): no known failures. T of one step, of a partial group of 8
// steps' loads and of many; D odd and a multiple of the warp; batch 3 so that sequences sit side
// by side in one block.
TEST_F(CudaScan, LinearScanBackwardEveryScenario) {
  expect_cases(
      check_cuda_cases("linear_scan_backward", {{"batch", "1,3"},
                                                {"T", "1,45,1000"},
                                                {"D", "7,256"},
                                                {"dist", "uniform,near_one,bernoulli,large_b"}}),
      [](const CaseRecord&) { return false; });
}

TEST_F(CudaScan, LogScanBackwardEveryScenario) {
  expect_cases(
      check_cuda_cases("log_scan_backward", {{"batch", "1,3"},
                                             {"T", "1,2,45,1000"},
                                             {"D", "17,32"},
                                             {"dist", "uniform,near_one,bernoulli,large_b"}}),
      [](const CaseRecord&) { return false; });
}

TEST_F(CudaScan, MinimalLayersBothForms) {
  for (const char* op : {"mingru", "minlstm"}) {
    expect_cases(check_cuda_cases(op, {{"batch", "1,2"},
                                       {"T", "1,100"},
                                       {"d_in", "7,64"},
                                       {"D", "9,128"},
                                       {"form", "plain,log"}}),
                 [](const CaseRecord&) { return false; });
  }
}

// ---- direct calls with inputs of our own (no suite scenario has them) ----------------------

// A device copy of a host vector, or `count` floats poisoned with NaN bytes; freed at scope end.
class DeviceFloats {
 public:
  explicit DeviceFloats(const std::vector<float>& host) : count_(host.size()) {
    check_cuda(cudaMalloc(&ptr_, bytes()), "test cudaMalloc");
    check_cuda(cudaMemcpy(ptr_, host.data(), bytes(), cudaMemcpyHostToDevice), "test upload");
    // The kernels queue on the backend's non-blocking stream, which does not wait for the legacy
    // default stream these copies run on.
    check_cuda(cudaDeviceSynchronize(), "test upload");
  }
  explicit DeviceFloats(std::size_t count) : count_(count) {
    check_cuda(cudaMalloc(&ptr_, bytes()), "test cudaMalloc");
    check_cuda(cudaMemset(ptr_, 0xff, bytes()), "test poison");
    check_cuda(cudaDeviceSynchronize(), "test poison");
  }
  DeviceFloats(const DeviceFloats&) = delete;
  DeviceFloats& operator=(const DeviceFloats&) = delete;
  ~DeviceFloats() { cudaFree(ptr_); }
  float* get() const { return ptr_; }
  std::vector<float> fetch() const {
    std::vector<float> host(count_);
    check_cuda(cudaDeviceSynchronize(), "test kernel");
    check_cuda(cudaMemcpy(host.data(), ptr_, bytes(), cudaMemcpyDeviceToHost), "test fetch");
    return host;
  }

 private:
  std::size_t bytes() const { return count_ * sizeof(float); }
  float* ptr_ = nullptr;
  std::size_t count_;
};

std::vector<double> to_double(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// got[i] against want[i]: the same NaN and infinity positions, finite values within
// tol * (1 + |want|). Returns the number of mismatches (the first few are reported).
int count_mismatches(const std::vector<float>& got, const std::vector<double>& want, double tol,
                     const char* what) {
  int bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    const bool ok = std::isnan(w) ? std::isnan(g)
                    : std::isinf(w)
                        ? g == w
                        : std::isfinite(g) && std::abs(g - w) <= tol * (1 + std::abs(w));
    if (!ok && ++bad <= 5)
      ADD_FAILURE() << what << ": element " << i << " is " << g << ", the reference " << w;
  }
  return bad;
}

TEST_F(CudaScan, LogScanWithZeroBAtChunkStarts) {
  // b = 0 (log b = -inf, which a user's --input may hold) at the first step of chunks of 64, over
  // whole chunks, over a whole sequence, and after h0 = 0: the chunk aggregates must treat those
  // terms as nothing, not as NaN that the carry drops.
  const std::int64_t batch = 2, T = 300, D = 33;
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> gate(-0.02f, 0.0f), term(-3.0f, 0.5f), h0(-1.0f, 1.0f);
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> la(batch * T * D), lb(batch * T * D), lh0(batch * D);
  for (auto& v : la) v = gate(rng);
  for (auto& v : lb) v = term(rng);
  for (auto& v : lh0) v = h0(rng);
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t t = 0; t < T; ++t) {
      for (std::int64_t d = 0; d < D; ++d) {
        float& b = lb[(n * T + t) * D + d];
        if (t % 64 == 0 || (t >= 64 && t < 192 && d % 3 == 1) || (n == 1 && d == 5) ||
            (d == 7 && t < 70)) {
          b = -inf;
        }
      }
    }
  }
  lh0[7] = -inf;          // h0 = 0, then b = 0 until t = 70
  lh0[1 * D + 5] = -inf;  // h0 = 0 and b = 0 throughout: log h = -inf
  DeviceFloats da(la), db(lb), dh0(lh0), out(la.size());
  cuda::log_scan(da.get(), db.get(), dh0.get(), out.get(), batch, T, D);
  std::vector<double> want(la.size());
  const auto a64 = to_double(la), b64 = to_double(lb), h64 = to_double(lh0);
  ref::log_scan(a64.data(), b64.data(), h64.data(), want.data(), batch, T, D);
  EXPECT_EQ(count_mismatches(out.fetch(), want, 1e-4, "log_h"), 0);
}

TEST_F(CudaScan, MinimalLayerWithMoreRowTilesThanGridY) {
  // batch * T = 1,048,656 rows: 65,541 tiles of 16 rows, more than one launch's grid.y (65,535)
  // holds; the projection strides over them. Small d_in and D keep it at ~30 MB.
  const std::int64_t batch = 1, T = 65535 * 16 + 96, d_in = 3, D = 2;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> weight(-0.5f, 0.5f), input(-1.0f, 1.0f), state(0.1f, 1.0f);
  for (const bool lstm : {false, true}) {
    const std::int64_t G = lstm ? 3 : 2;
    std::vector<float> x(batch * T * d_in), w(d_in * G * D), bias(G * D), h0(batch * D);
    for (auto& v : x) v = input(rng);
    for (auto& v : w) v = weight(rng);
    for (auto& v : bias) v = weight(rng);
    for (auto& v : h0) v = state(rng);
    DeviceFloats dx(x), dw(w), db(bias), dh0(h0), out(static_cast<std::size_t>(batch * T * D));
    cuda::min_layer(lstm ? cuda::MinLayer::minlstm : cuda::MinLayer::mingru, dx.get(), dw.get(),
                    db.get(), dh0.get(), out.get(), batch, T, d_in, D, false);
    std::vector<double> want(static_cast<std::size_t>(batch * T * D));
    const auto x64 = to_double(x), w64 = to_double(w), b64 = to_double(bias), h64 = to_double(h0);
    (lstm ? ref::minlstm : ref::mingru)(x64.data(), w64.data(), b64.data(), h64.data(), want.data(),
                                        batch, T, d_in, D);
    EXPECT_EQ(count_mismatches(out.fetch(), want, 1e-4, lstm ? "minlstm h" : "mingru h"), 0);
  }
}

}  // namespace
}  // namespace opbench
