// The cuda.fast kernels of the fff family. Built only when nvcc was found. Shape checks run
// anywhere (they throw before touching the device); agreement tests run every fff and
// ultrafast_fff case through the planner and runner on the device, and skip with the reason
// cuda_status() gives where there is none.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "datasets/provider.hpp"
#include "harness/device.hpp"
#include "harness/runner.hpp"
#include "kernels/cuda/fff_cuda.hpp"
#include "suites/suites.hpp"

namespace opbench {
namespace {

TEST(CudaFff, BadShapesThrowBeforeTouchingTheDevice) {
  EXPECT_THROW(cuda::ultrafast_fff(nullptr, nullptr, nullptr, nullptr, nullptr, -1, 8, 8, 3),
               std::invalid_argument);
  EXPECT_THROW(cuda::ultrafast_fff(nullptr, nullptr, nullptr, nullptr, nullptr, 4, 8, 1 << 20, 3),
               std::invalid_argument);  // one output row would not fit in shared memory
  const fff::Weights w{};
  EXPECT_THROW(cuda::fff(nullptr, w, {8, 8, -2, 1, 1}, nullptr, nullptr, 4), std::invalid_argument);
  // An empty batch launches nothing.
  EXPECT_NO_THROW(cuda::fff(nullptr, w, {8, 8, 3, 1, 1}, nullptr, nullptr, 0));
}

TEST(CudaFff, EveryCaseMatchesTheReference) {
  const BackendStatus st = cuda_status();
  if (!st.available) GTEST_SKIP() << st.detail;
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  struct Sweep {
    const char* op;
    std::map<std::string, std::string> axes;
  };
  const Sweep sweeps[] = {{"ultrafast_fff",
                           {{"batch", "1,129,2000"},
                            {"d_in", "17,768"},
                            {"d_out", "9,768"},
                            {"depth", "0,3,11"},
                            {"dist", "normal,near_boundary"}}},
                          {"fff",
                           {{"batch", "1,300"},
                            {"d_in", "33"},
                            {"d_out", "7"},
                            {"depth", "0,1,8"},
                            {"node_width", "1,3"},
                            {"leaf_width", "1,16"},
                            {"dist", "normal,near_boundary"}}}};
  int checked = 0;
  for (const auto& s : sweeps) {
    Selection sel;
    sel.ops = {s.op};
    sel.impls = {"ref", "cuda.fast"};
    sel.axis_overrides = s.axes;
    RunOptions opt;
    opt.time = false;
    RunResult r = run_cases(reg, plan_cases(reg, sel, data), data, sel, opt);
    for (const auto& c : r.cases) {
      if (c.is_reference) continue;
      ++checked;
      EXPECT_TRUE(c.error.empty()) << c.name << ": " << c.error;
      EXPECT_TRUE(c.agreement.passed) << c.name << ": " << c.agreement.first_mismatch;
    }
  }
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace opbench
