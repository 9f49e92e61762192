// Tests of the pkm family's cuda.fast kernels (kernels/cuda/pkm_*cuda.cu), through the planner and
// runner that `opbench check` uses (device upload, poisoned device outputs, fetch, the op's
// tie-aware comparison). Built only with nvcc; on a machine without a device the tests that need
// one skip with the reason cuda_status() gives.
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

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

using Axes = std::map<std::string, std::string>;

// Runs anywhere: shapes the kernels cannot take are named, not crashed on.
TEST(CudaPkm, UnsupportedShapesAreExplained) {
  EXPECT_EQ(cuda::pkm_topk_unsupported({4, 4, 512, 256, 32}), "");
  EXPECT_NE(cuda::pkm_topk_unsupported({4, 4, 512, 2048, 32}).find("dk <= 1024"),
            std::string::npos);
  EXPECT_NE(cuda::pkm_topk_unsupported({4, 4, 512, 256, 300}).find("k <= 256"), std::string::npos);
  EXPECT_NE(cuda::pkm_topk_unsupported({4, 70000, 512, 256, 32}).find("heads <= 65535"),
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
  EXPECT_NE(cuda::pkm_layer_unsupported({4, 4, 512, 2048, 32}).find("dk <= 1024"),
            std::string::npos);
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
  EXPECT_THROW(cuda::pkm_layer(nullptr, w, nullptr, nullptr, {4, 4, 512, 2048, 32}, 8, 8, 1e-5f),
               std::invalid_argument);
  EXPECT_THROW(cuda::pkm_layer(nullptr, w, nullptr, nullptr, {4, 4, 512, 256, 32}, 8, -1, 1e-5f),
               std::invalid_argument);
  EXPECT_NO_THROW(cuda::pkm_layer(nullptr, w, nullptr, nullptr, {0, 4, 512, 256, 32}, 8, 8, 1e-5f));
}

RunResult check(const char* op, const Axes& axes) {
  Registry reg;
  register_all_suites(reg);
  Selection sel;
  sel.ops = {op};
  sel.impls = {"ref", "cuda.fast"};
  sel.axis_overrides = axes;
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
  // rows in the combination) and every scenario of the dist axis.
  expect_agreement(
      "pkm_topk",
      {{{"keys", "4096"}, {"tokens", "37"}, {"heads", "4"}, {"dk", "64"}, {"k", "32"}},
       {{"keys", "256"}, {"tokens", "5"}, {"heads", "1"}, {"dk", "8"}, {"k", "1"}},
       {{"keys", "256"}, {"tokens", "9"}, {"heads", "2"}, {"dk", "16"}, {"k", "16"}},
       {{"keys", "16384"}, {"tokens", "20"}, {"heads", "2"}, {"dk", "256"}, {"k", "100"}}},
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

TEST(CudaPkm, LayerMatchesTheReference) {
  const BackendStatus st = cuda_status();
  if (!st.available) GTEST_SKIP() << st.detail;
  // Tokens across the 64-row projection tiles (5, 37, 70), heads * dk across the 64-column tiles,
  // din not a multiple of the 16-dim step, dv across the 256-column readout chunks; k = 1 and
  // k = sqrt(N) up to 256; heads 1, 2 and 4; and every scenario of the dist axis.
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

}  // namespace
}  // namespace opbench
