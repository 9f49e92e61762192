// Every implementation of every norm op against the float64 reference, through the same planner
// and runner that `opbench check` uses, over edge shapes and every input distribution. Outputs are
// poisoned by the runner before each kernel runs, so an unwritten element fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "datasets/provider.hpp"
#include "harness/runner.hpp"
#include "kernels/cpu/norm_fast.hpp"
#include "suites/claims.hpp"
#include "suites/suites.hpp"
#include "tests/agreement_expectations.hpp"
#include "tests/check_support.hpp"

namespace opbench {
namespace {

const char* const kAllDists = "normal,uniform,llm_outliers,offset,constant_rows";

struct NormCase {
  std::string op;
  std::map<std::string, std::string> axes;
};

RunResult check(Registry& reg, const Selection& sel) {
  return test_support::check_selection(reg, sel);
}

class NormAgreement : public ::testing::TestWithParam<NormCase> {};

TEST_P(NormAgreement, EveryImplementationMatchesTheReference) {
  Registry reg;
  register_all_suites(reg);
  Selection sel;
  sel.ops = {GetParam().op};
  sel.axis_overrides = GetParam().axes;
  sel.axis_overrides["dist"] = kAllDists;
  sel.dtypes = {"f32", "bf16", "f16"};  // every implementation in every dtype it claims
  RunResult r = check(reg, sel);
  // Peers' listed failures (oneDNN's and PyTorch's float32 statistics under a 1e4 offset, ...)
  // are xfail; our own kernels must pass every distribution.
  const int checked = test_support::expect_all_agree_or_listed(r);
  EXPECT_GT(checked, 0);
}

const char* const kEdgeCols = "1,3,17,4095,4097";

INSTANTIATE_TEST_SUITE_P(
    RowOps, NormAgreement,
    ::testing::Values(NormCase{"layernorm", {{"rows", "1,33"}, {"cols", kEdgeCols}}},
                      NormCase{"layernorm", {{"rows", "2000"}, {"cols", "17"}}},
                      NormCase{"rmsnorm", {{"rows", "1,33"}, {"cols", kEdgeCols}}},
                      NormCase{"crmsnorm", {{"rows", "1,33"}, {"cols", kEdgeCols}}},
                      NormCase{"dyt", {{"rows", "1,33"}, {"cols", kEdgeCols}}},
                      NormCase{"batchnorm_infer", {{"rows", "1,33"}, {"cols", kEdgeCols}}},
                      NormCase{"batchnorm_train", {{"rows", "2,33,300"}, {"cols", "1,3,17,4097"}}},
                      NormCase{"weight_std", {{"rows", "1,33"}, {"cols", kEdgeCols}}},
                      NormCase{"add_layernorm", {{"rows", "1,33"}, {"cols", kEdgeCols}}},
                      NormCase{"add_rmsnorm", {{"rows", "1,33"}, {"cols", kEdgeCols}}}),
    [](const auto& info) { return info.param.op + "_" + std::to_string(info.index); });

INSTANTIATE_TEST_SUITE_P(
    ChannelOps, NormAgreement,
    ::testing::Values(
        NormCase{"groupnorm", {{"n", "1,3"}, {"c", "6,12"}, {"hw", "1,7,67"}, {"groups", "1,3,6"}}},
        NormCase{"evonorm_s0",
                 {{"n", "1,3"}, {"c", "6,12"}, {"hw", "1,7,67"}, {"groups", "1,3,6"}}},
        NormCase{"evonorm_b0", {{"n", "1,3"}, {"c", "6,12"}, {"hw", "1,7,67"}}},
        NormCase{"online_norm", {{"n", "1,5,40"}, {"c", "6,17"}, {"hw", "1,7,67"}}}),
    [](const auto& info) { return info.param.op + "_" + std::to_string(info.index); });

// Planted wrong LayerNorms, in every storage type: loads widened to float, float arithmetic, each
// output rounded once (T's own rounding), as a real kernel does; only the statistics are wrong.
float widen(float v) {
  return v;
}
float widen(bf16_t v) {
  return to_float(v);
}
float widen(f16_t v) {
  return to_float(v);
}
template <class T>
T narrow(float v) {
  if constexpr (std::is_same_v<T, float>) return v;
  if constexpr (std::is_same_v<T, bf16_t>) return bf16_from_float(v);
  if constexpr (std::is_same_v<T, f16_t>) return f16_from_float(v);
}

// `stats` gives (mean, var) of a row of widened values.
template <class T, class Stats>
void planted_layernorm(const TensorMap& in, TensorMap& out, const Params& p, Stats stats) {
  const T* x = in.at("x").data<T>();
  const T* g = in.at("gamma").data<T>();
  const T* b = in.at("beta").data<T>();
  T* y = out.at("y").data<T>();
  const std::int64_t rows = p.i("rows"), cols = p.i("cols");
  std::vector<float> row(static_cast<std::size_t>(cols));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c) row[c] = widen(x[r * cols + c]);
    const auto [mean, var] = stats(row);
    const float rstd = 1.0f / std::sqrt(var + 1e-5f);
    for (std::int64_t c = 0; c < cols; ++c) {
      y[r * cols + c] = narrow<T>((row[c] - mean) * rstd * widen(g[c]) + widen(b[c]));
    }
  }
}

// The one-pass variance E[x^2] - E[x]^2 in float32. It looks fine on zero-mean data and falls
// apart under a large common offset; agreement must reject it there.
std::pair<float, float> onepass_stats(const std::vector<float>& row) {
  float s = 0, s2 = 0;
  for (float v : row) {
    s += v;
    s2 += v * v;
  }
  const float n = static_cast<float>(row.size());
  const float mean = s / n;
  return {mean, s2 / n - mean * mean};
}

// Sound two-pass statistics, then the mean and variance kept in bfloat16 (rounded), as a kernel
// that stores its statistics in the data's dtype would: fine on zero-mean rows, off by up to half
// a bf16 step of the mean (32 at 1e4) under an offset.
std::pair<float, float> bf16_stats(const std::vector<float>& row) {
  double s = 0;
  for (float v : row) s += v;
  const double mean = s / static_cast<double>(row.size());
  double q = 0;
  for (float v : row) q += (v - mean) * (v - mean);
  const double var = q / static_cast<double>(row.size());
  return {to_float(to_bf16(mean)), to_float(to_bf16(var))};
}

template <class Stats>
Impl planted_impl(const char* name, Stats stats) {
  Impl wrong;
  wrong.name = name;
  wrong.backend = "cpu";
  wrong.dtypes = {DType::f32, DType::bf16, DType::f16};
  wrong.bind = bind_host([stats](const TensorMap& in, TensorMap& out, const Params& p) {
    switch (in.at("x").dtype()) {
      case DType::bf16:
        return planted_layernorm<bf16_t>(in, out, p, stats);
      case DType::f16:
        return planted_layernorm<f16_t>(in, out, p, stats);
      default:
        return planted_layernorm<float>(in, out, p, stats);
    }
  });
  return wrong;
}

// A planted kernel fails on the offset distribution, in every dtype, while our own kernels pass
// both distributions; with `passes_normal` it passes on normal data (so the check is not simply
// rejecting it everywhere).
void expect_fails_under_offset(const char* planted, std::vector<std::string> dtypes,
                               bool passes_normal) {
  Registry reg;
  register_all_suites(reg);
  reg.add_impl("norm", "layernorm", planted_impl("cpu.onepass", onepass_stats));
  reg.add_impl("norm", "layernorm", planted_impl("cpu.bf16stats", bf16_stats));
  Selection sel;
  sel.ops = {"layernorm"};
  sel.impls = {"ref", planted, "cpu.fast", "cpu.plain"};
  sel.dtypes = dtypes;
  sel.axis_overrides = {{"rows", "16"}, {"cols", "1024"}, {"dist", "normal,offset"}};
  RunResult r = check(reg, sel);
  int seen = 0;
  for (const auto& c : r.cases) {
    if (c.is_reference) continue;
    const bool offset = c.params.str("dist") == "offset";
    if (c.impl == planted) {
      ++seen;
      if (offset || passes_normal) {
        EXPECT_EQ(c.agreement.passed, !offset) << c.name << " max_abs " << c.agreement.max_abs_err;
      }
      if (offset) EXPECT_GT(c.agreement.mismatches, 1000) << c.name;
    } else {
      EXPECT_TRUE(c.agreement.passed) << c.name << ": " << c.agreement.first_mismatch;
    }
  }
  EXPECT_EQ(seen, 2 * static_cast<int>(dtypes.size()));
}

TEST(NormAgreementRule, RejectsOnePassVarianceUnderOffsetInEveryDtype) {
  expect_fails_under_offset("cpu.onepass", {"f32", "bf16", "f16"}, true);
}

TEST(NormAgreementRule, RejectsStatisticsKeptInBf16UnderOffset) {
  // A bf16 variance is off by up to 2^-9 of itself on normal rows too, which float32's tolerance
  // rejects as well: only the offset is the claim here.
  expect_fails_under_offset("cpu.bf16stats", {"bf16", "f16", "f32"}, false);
}

// A bfloat16 case: the data tensors are bf16, the statistics BatchNorm keeps stay float32, and the
// compulsory bytes are each tensor's own.
TEST(NormDtypes, TensorsTakeTheCaseDtypeOrTheirOwnAndTheCostCountsTheirBytes) {
  Registry reg;
  register_all_suites(reg);
  Selection sel;
  sel.ops = {"batchnorm_infer"};
  sel.impls = {"ref", "cpu.plain"};
  sel.dtypes = {"bf16"};
  sel.axis_overrides = {{"rows", "8"}, {"cols", "32"}, {"dist", "normal"}};
  datasets::SeededDataProvider data;
  const auto plan = plan_cases(reg, sel, data);
  ASSERT_EQ(plan.size(), 2u);
  const CasePlan& c = plan[1];
  EXPECT_EQ(c.dtype, DType::bf16);
  for (const TensorDecl& t : c.op->tensors) {
    const bool stat = t.name == "running_mean" || t.name == "running_var";
    EXPECT_EQ(t.dtype_in(DType::bf16), stat ? DType::f32 : DType::bf16) << t.name;
  }
  // x and y 8x32 in bf16, gamma and beta 32 in bf16, running mean and variance 32 in f32.
  EXPECT_EQ(c.op->cost(c.params, DType::bf16).bytes,
            2 * (8 * 32 * 2) + 2 * (32 * 2) + 2 * (32 * 4));
  const RunResult r = check(reg, sel);
  ASSERT_EQ(r.cases.size(), 2u);
  EXPECT_TRUE(r.cases[1].agreement.passed) << r.cases[1].agreement.first_mismatch;
  ASSERT_EQ(r.datasets.size(), 1u);
  for (const auto& t : r.datasets.front().tensors) {
    const bool stat = t.name == "running_mean" || t.name == "running_var";
    EXPECT_EQ(t.dtype, stat ? "f32" : "bf16") << t.name;
  }
}

// The quick sweep (the main job) runs LayerNorm and RMSNorm in f32 and bf16, the other norm ops in
// f32; the full sweep and --dtype reach every dtype an op has.
TEST(NormDtypes, TheQuickSweepAddsBf16ForLayerNormAndRmsNorm) {
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  Selection sel;
  sel.suites = {"norm"};
  sel.impls = {"cpu.plain"};
  std::map<std::string, std::set<std::string>> dtypes;
  for (const CasePlan& c : plan_cases(reg, sel, data)) {
    dtypes[c.op->name].insert(std::string(dtype_name(c.dtype)));
  }
  EXPECT_EQ(dtypes["layernorm"], (std::set<std::string>{"f32", "bf16"}));
  EXPECT_EQ(dtypes["rmsnorm"], (std::set<std::string>{"f32", "bf16"}));
  EXPECT_EQ(dtypes["groupnorm"], (std::set<std::string>{"f32"}));
  sel.dtypes = {"f16"};
  for (const CasePlan& c : plan_cases(reg, sel, data)) EXPECT_EQ(c.dtype, DType::f16) << c.name;
}

// An implementation that leaves the last element unwritten fails, because outputs are poisoned.
TEST(NormAgreementRule, UnwrittenElementFails) {
  Registry reg;
  register_all_suites(reg);
  Impl lazy;
  lazy.name = "cpu.lazy";
  lazy.backend = "cpu";
  lazy.bind = bind_host([](const TensorMap& in, TensorMap& out, const Params& p) {
    // The right answer for every element but the last, which stays as the runner left it.
    const std::int64_t rows = p.i("rows"), cols = p.i("cols");
    std::vector<float> full(static_cast<std::size_t>(rows * cols));
    cpu::fast::weight_std(in.at("w").data<float>(), full.data(), rows, cols, 1e-5f);
    std::copy(full.begin(), full.end() - 1, out.at("y").data<float>());
  });
  reg.add_impl("norm", "weight_std", lazy);
  Selection sel;
  sel.ops = {"weight_std"};
  sel.impls = {"ref", "cpu.lazy"};
  sel.axis_overrides = {{"rows", "4"}, {"cols", "8"}, {"dist", "normal"}};
  RunResult r = check(reg, sel);
  ASSERT_EQ(r.cases.size(), 2u);
  EXPECT_FALSE(r.cases[1].agreement.passed);
  EXPECT_EQ(r.cases[1].agreement.mismatches, 1);
  EXPECT_NE(r.cases[1].agreement.first_mismatch.find("y[3, 7]"), std::string::npos)
      << r.cases[1].agreement.first_mismatch;
}

// A kernel that throws costs only its own case: the run goes on and records the error.
TEST(NormRunner, ThrowingKernelCostsOnlyItsCase) {
  Registry reg;
  register_all_suites(reg);
  Impl broken;
  broken.name = "cpu.broken";
  broken.backend = "cpu";
  broken.bind = bind_host([](const TensorMap&, TensorMap&, const Params&) {
    throw std::runtime_error("kernel exploded");
  });
  reg.add_impl("norm", "rmsnorm", broken);
  Selection sel;
  sel.ops = {"rmsnorm", "crmsnorm"};  // crmsnorm is registered after rmsnorm
  sel.impls = {"ref", "cpu.broken", "cpu.fast"};
  sel.dtypes = {"f32"};
  sel.axis_overrides = {{"rows", "4"}, {"cols", "8"}, {"dist", "normal"}};
  RunResult r = check(reg, sel);
  ASSERT_EQ(r.cases.size(), 5u);
  int seen = 0;
  for (const auto& c : r.cases) {
    if (c.impl == "cpu.broken") {
      EXPECT_EQ(c.error, "kernel exploded");
      ++seen;
    }
    if (c.op == "crmsnorm" && c.impl == "cpu.fast") {
      EXPECT_TRUE(c.agreement.passed);  // a case after the broken one still ran
      ++seen;
    }
  }
  EXPECT_EQ(seen, 2);
}

// `opbench claims` measures each claim as two cases: each side must plan exactly one case of its
// own implementation, at a point the implementation supports, or the table would compare
// something other than what it says.
TEST(PaperClaims, EverySidePlansExactlyOneSupportedCaseOfItsImplementation) {
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  std::set<std::string> ids;
  int planned = 0;
  for (const PaperClaim& c : paper_claims()) {
    EXPECT_TRUE(ids.insert(c.id).second) << "duplicate claim id " << c.id;
    EXPECT_GT(c.paper_figure, 1) << c.id;
    EXPECT_FALSE(c.paper.empty() || c.paper_conditions.empty() || c.conditions_here.empty())
        << c.id;
    EXPECT_FALSE(c.fast.op == c.baseline.op && c.fast.impl == c.baseline.impl) << c.id;
    for (const ClaimSide* side : {&c.fast, &c.baseline}) {
      const Op* op = reg.find_op(side->op);
      ASSERT_NE(op, nullptr) << c.id << ": no op " << side->op;
      const bool built = std::any_of(op->impls.begin(), op->impls.end(),
                                     [&](const Impl& i) { return i.name == side->impl; });
      if (!built) continue;  // a peer this build lacks (oneDNN): the claim then says so
      const auto plan = plan_cases(reg, claim_side_selection(*side), data);
      ASSERT_EQ(plan.size(), 1u) << c.id << ": " << side->op << " " << side->impl;
      EXPECT_EQ(plan[0].impl->name, side->impl) << c.id;
      EXPECT_TRUE(plan[0].skip_reason.empty()) << c.id << ": " << plan[0].skip_reason;
      ++planned;
    }
  }
  EXPECT_GE(planned, static_cast<int>(paper_claims().size()));  // at least the fast sides
}

}  // namespace
}  // namespace opbench
