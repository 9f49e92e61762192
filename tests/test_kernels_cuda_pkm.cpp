// Tests of the pkm family's cuda.fast kernel (kernels/cuda/pkm_cuda.cu), through the planner and
// runner that `opbench check` uses (device upload, poisoned device outputs, fetch, the op's
// tie-aware comparison). Built only with nvcc; on a machine without a device the tests that need
// one skip with the reason cuda_status() gives.
#include <gtest/gtest.h>

#include <string>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "datasets/provider.hpp"
#include "harness/device.hpp"
#include "harness/runner.hpp"
#include "kernels/cuda/pkm_cuda.hpp"
#include "suites/suites.hpp"

namespace opbench {
namespace {

// Runs anywhere: shapes the kernel cannot take are named, not crashed on.
TEST(CudaPkm, UnsupportedShapesAreExplained) {
  EXPECT_EQ(cuda::pkm_topk_unsupported({4, 4, 512, 256, 32}), "");
  EXPECT_NE(cuda::pkm_topk_unsupported({4, 4, 512, 2048, 32}).find("dk <= 1024"),
            std::string::npos);
  EXPECT_NE(cuda::pkm_topk_unsupported({4, 4, 512, 256, 300}).find("k <= 256"), std::string::npos);
}

RunResult check(const std::map<std::string, std::string>& axes) {
  Registry reg;
  register_all_suites(reg);
  Selection sel;
  sel.ops = {"pkm_topk"};
  sel.impls = {"ref", "cuda.fast"};
  sel.axis_overrides = axes;
  datasets::SeededDataProvider data;
  auto plan = plan_cases(reg, sel, data);
  RunOptions opt;
  opt.time = false;
  return run_cases(reg, plan, data, sel, opt);
}

TEST(CudaPkm, SearchMatchesTheReference) {
  const BackendStatus st = cuda_status();
  if (!st.available) GTEST_SKIP() << st.detail;
  // Several shapes (tokens not a multiple of the 16-token block, k = 1, k = sqrt(N), more than 32
  // rows in the combination) and every scenario of the dist axis.
  for (const auto& shape : std::vector<std::map<std::string, std::string>>{
           {{"keys", "4096"}, {"tokens", "37"}, {"heads", "4"}, {"dk", "64"}, {"k", "32"}},
           {{"keys", "256"}, {"tokens", "5"}, {"heads", "1"}, {"dk", "8"}, {"k", "1"}},
           {{"keys", "256"}, {"tokens", "9"}, {"heads", "2"}, {"dk", "16"}, {"k", "16"}},
           {{"keys", "16384"}, {"tokens", "20"}, {"heads", "2"}, {"dk", "256"}, {"k", "100"}}}) {
    auto axes = shape;
    axes["dist"] = "normal,ties,large_norm";
    RunResult r = check(axes);
    int checked = 0;
    for (const auto& c : r.cases) {
      if (c.is_reference) continue;
      EXPECT_TRUE(c.error.empty()) << c.name << ": " << c.error;
      EXPECT_TRUE(c.agreement.passed) << c.name << ": " << c.agreement.first_mismatch;
      ++checked;
    }
    EXPECT_EQ(checked, 3);
  }
}

}  // namespace
}  // namespace opbench
