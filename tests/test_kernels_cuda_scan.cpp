// The cuda.fast kernels of the scan family against the float64 references, through the runner
// (device buffers poisoned with NaN before each launch). Built only with nvcc; on a machine
// without a device every test skips with the reason cuda_status() gives.
#include <gtest/gtest.h>

#include <string>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "datasets/provider.hpp"
#include "harness/device.hpp"
#include "harness/runner.hpp"
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

// Every cuda.fast case ran and passed (or failed where `expect_pass` says the formulation does).
template <class Pred>
void expect_cases(const RunResult& r, Pred expect_pass) {
  int checked = 0;
  for (const auto& c : r.cases) {
    if (c.impl != "cuda.fast") continue;
    ++checked;
    ASSERT_TRUE(c.error.empty()) << c.name << ": " << c.error;
    ASSERT_TRUE(c.agreement.checked) << c.name;
    EXPECT_EQ(c.agreement.passed, expect_pass(c))
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
               [](const CaseRecord&) { return true; });
}

TEST_F(CudaScan, LogScanAgreesWhereTheFormulationCan) {
  // Same expectation as on the CPU (tests/test_suites_scan.cpp): near_one passes; uniform gates
  // over 2048 steps and exact zero gates fail with the log-space form's own error.
  expect_cases(
      check_cuda_cases(
          "log_scan",
          {{"batch", "2"}, {"T", "8,2048"}, {"D", "33"}, {"dist", "uniform,near_one,bernoulli"}}),
      [](const CaseRecord& c) {
        const std::string dist = c.params.str("dist");
        if (dist == "bernoulli") return false;
        return dist == "near_one" || c.params.str("T") == "8";
      });
}

TEST_F(CudaScan, MinimalLayersBothForms) {
  for (const char* op : {"mingru", "minlstm"}) {
    expect_cases(check_cuda_cases(op, {{"batch", "1,2"},
                                       {"T", "1,100"},
                                       {"d_in", "7,64"},
                                       {"D", "9,128"},
                                       {"form", "plain,log"}}),
                 [](const CaseRecord&) { return true; });
  }
}

}  // namespace
}  // namespace opbench
