// The scan family through the same planner and runner that `opbench check` uses: every
// implementation against the float64 reference over edge shapes and every gate scenario, the
// log-space form's limits as known failures with their reason, the scenarios' distributions,
// and bad parameter points refused with one line.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "datasets/provider.hpp"
#include "harness/case_data.hpp"
#include "harness/errors.hpp"
#include "harness/gradient_check.hpp"
#include "harness/runner.hpp"
#include "kernels/cpu/log_scan_backward.hpp"
#include "reference/scan.hpp"
#include "suites/common.hpp"
#include "suites/suites.hpp"
#include "tests/agreement_expectations.hpp"
#include "tests/check_support.hpp"

namespace opbench {
namespace {

const char* const kScenarios = "uniform,near_one,bernoulli,large_b";

RunResult check(const std::string& op, const std::map<std::string, std::string>& axes,
                const std::string& impls = "") {
  Registry reg;
  register_all_suites(reg);
  Selection sel;
  sel.ops = {op};
  sel.axis_overrides = axes;
  sel.dtypes = {"f32", "bf16", "f16"};  // every implementation in every dtype it claims
  if (!impls.empty()) sel.impls = {impls};
  return test_support::check_selection(reg, sel);
}

// Every non-reference case agreed, or failed as a known failure listed with its reason in
// suites/known_failures.json (xfail) where it is a peer's or `may_be_known(case)` allows one.
template <class Pred>
int expect_cases(const RunResult& r, Pred may_be_known) {
  return test_support::expect_all_agree_or_listed(r, may_be_known);
}

TEST(ScanSuite, LinearScanEveryImplementationEveryScenario) {
  const RunResult r = check(
      "linear_scan", {{"batch", "1,3"}, {"T", "1,37,300"}, {"D", "5,33"}, {"dist", kScenarios}});
  EXPECT_GE(expect_cases(r, [](const CaseRecord&) { return false; }), 4 * 2 * 3 * 2 * 4);
}

TEST(ScanSuite, LinearScanBackwardEveryScenario) {
  const RunResult r = check("linear_scan_backward",
                            {{"batch", "2"}, {"T", "1,45"}, {"D", "17"}, {"dist", kScenarios}});
  EXPECT_GE(expect_cases(r, [](const CaseRecord&) { return false; }), 2 * 2 * 4);
}

// cpu.plain and cpu.fast of the log-space backward against the reference in every scenario
// (bernoulli: zero gates, log a = -inf), one step and two, partial vectors (D = 17) and whole
// ones (32, streamed), and 1000 steps of near_one's accumulating reverse scan.
TEST(ScanSuite, LogScanBackwardEveryScenario) {
  const RunResult r =
      check("log_scan_backward",
            {{"batch", "1,3"}, {"T", "1,2,45,1000"}, {"D", "17,32"}, {"dist", kScenarios}});
  EXPECT_GE(expect_cases(r, [](const CaseRecord&) { return false; }), 2 * 2 * 4 * 2 * 4);
}

// The automatic proof (tests/test_suites_backward.cpp) runs at `uniform`; the scenarios with
// finite logs are proven too: near_one (a* near 0, long memory) and large_b (log b up to 11.5).
// bernoulli's log a = -inf cannot be perturbed (its step would be infinite): its zero gates are
// checked by hand in tests/test_reference_scan.cpp.
TEST(ScanSuite, LogScanBackwardMatchesFiniteDifferencesInTheFiniteScenarios) {
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  for (const char* dist : {"near_one", "large_b"}) {
    Op op = *reg.find_op("scan/log_scan_backward");
    op.gradient->check_point["dist"] = dist;
    const GradientCheck g = check_gradient(reg, op, data);
    EXPECT_TRUE(g.passed()) << dist << ": " << g.error << " worst " << g.worst << " "
                            << (g.mismatches.empty() ? "" : g.mismatches.front());
    EXPECT_GT(g.checked, 0) << dist;
  }
}

// The saved log h is the forward pass's on the case's own (logged) inputs, rounded once to
// float32; dlog_h is N(0, 1), not logged.
TEST(ScanSuite, LogScanBackwardSavesTheForwardPassesLogH) {
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  Selection sel;
  sel.ops = {"log_scan_backward"};
  sel.impls = {"ref"};
  sel.axis_overrides = {{"batch", "2"}, {"T", "50"}, {"D", "5"}, {"dist", "uniform"}};
  const std::vector<CasePlan> plan = plan_cases(reg, sel, data);
  ASSERT_EQ(plan.size(), 1u);
  const Dataset d = make_inputs(plan.front(), data, sel, RunOptions{});
  const suite::F64 la(d.inputs.at("log_a")), lb(d.inputs.at("log_b")), lh0(d.inputs.at("log_h0")),
      g(d.inputs.at("dlog_h"));
  std::vector<double> lh(la.v.size());
  ref::log_scan(la.p(), lb.p(), lh0.p(), lh.data(), 2, 50, 5);
  int negative_g = 0;
  for (std::size_t k = 0; k < lh.size(); ++k) {
    EXPECT_EQ(d.inputs.at("log_h").data<float>()[k], static_cast<float>(lh[k])) << k;
    EXPECT_LT(la.v[k], 0.0) << k;  // log of a gate in (0, 1)
    negative_g += g.v[k] < 0;
  }
  EXPECT_GT(negative_g, 100);
}

// Both kernels pass exactly no gradient through a zero gate (log a = -inf), as the reference
// (tests/test_reference_scan.cpp, the same case by hand): cpu.fast's exp must not stop at its
// clamp's e^-87 there.
TEST(ScanSuite, LogScanBackwardKernelsStopAtAZeroGate) {
  const std::vector<float> la = {std::log(0.5f), -INFINITY, std::log(0.5f)};
  // g_1 = 30: r_1 = 32.5, whose product with e^-87 (5e-37) is a normal float, not flushed.
  const std::vector<float> lb = {0, std::log(2.0f), 0}, lh0 = {0}, g = {1, 30, 5};
  const std::vector<float> lh = {std::log(1.5f), std::log(2.0f), std::log(2.0f)};
  for (auto fn : {cpu::plain::log_scan_backward, cpu::fast::log_scan_backward}) {
    std::vector<float> da(3, NAN), db(3, NAN), dh0(1, NAN);
    fn(la.data(), lb.data(), lh0.data(), lh.data(), g.data(), da.data(), db.data(), dh0.data(), 1,
       3, 1);
    EXPECT_EQ(da[1], 0.0f);
    EXPECT_NEAR(db[1], 32.5f, 1e-5);
    EXPECT_NEAR(db[0], 1 / 1.5f, 1e-6);  // r_0 = g_0: nothing carried across the zero gate
    EXPECT_NEAR(dh0[0], 0.5f / 1.5f, 1e-6);
  }
}

// The rule sees a wrong kernel: one whose d log h0 forgets the gradient carried back to step 0
// (g_0 instead of r_0: only the 2 x 32 elements of dlog_h0 are wrong), and one whose dlog_b is
// 1e-4 too large; cpu.fast passes on the same datasets.
TEST(ScanSuite, LogScanBackwardRuleRejectsPlantedKernels) {
  Registry reg;
  register_all_suites(reg);
  auto fast = [](const TensorMap& i, TensorMap& o, const Params& p) {
    cpu::fast::log_scan_backward(
        suite::in32(i, "log_a"), suite::in32(i, "log_b"), suite::in32(i, "log_h0"),
        suite::in32(i, "log_h"), suite::in32(i, "dlog_h"), suite::out32(o, "dlog_a"),
        suite::out32(o, "dlog_b"), suite::out32(o, "dlog_h0"), p.i("batch"), p.i("T"), p.i("D"));
  };
  reg.add_impl(
      "scan", "log_scan_backward",
      suite::host_impl("cpu.no_carry", [fast](const TensorMap& i, TensorMap& o, const Params& p) {
        fast(i, o, p);
        const std::int64_t T = p.i("T"), D = p.i("D");
        for (std::int64_t n = 0; n < p.i("batch"); ++n) {
          for (std::int64_t d = 0; d < D; ++d) {
            const std::int64_t k = n * T * D + d;
            suite::out32(o, "dlog_h0")[n * D + d] =
                suite::in32(i, "dlog_h")[k] *
                std::exp(suite::in32(i, "log_a")[k] + suite::in32(i, "log_h0")[n * D + d] -
                         suite::in32(i, "log_h")[k]);
          }
        }
      }));
  reg.add_impl(
      "scan", "log_scan_backward",
      suite::host_impl("cpu.off_1e-4", [fast](const TensorMap& i, TensorMap& o, const Params& p) {
        fast(i, o, p);
        Tensor& db = o.at("dlog_b");
        for (std::int64_t k = 0; k < db.numel(); ++k) db.data<float>()[k] *= 1 + 1e-4f;
      }));
  Selection sel;
  sel.ops = {"log_scan_backward"};
  sel.impls = {"cpu.fast", "cpu.no_carry", "cpu.off_1e-4"};
  sel.axis_overrides = {{"batch", "2"}, {"T", "64"}, {"D", "32"}, {"dist", kScenarios}};
  const RunResult r = test_support::check_selection(reg, sel);
  int seen = 0;
  for (const auto& c : r.cases) {
    if (c.impl == "ref") continue;
    ++seen;
    if (c.impl == "cpu.fast") {
      EXPECT_EQ(c.agreement.status, AgreementStatus::pass) << c.name;
      continue;
    }
    EXPECT_EQ(c.agreement.status, AgreementStatus::fail) << c.name;
    const char* where = c.impl == "cpu.no_carry" ? "dlog_h0" : "dlog_b";
    EXPECT_NE(c.agreement.first_mismatch.find(where), std::string::npos)
        << c.name << ": " << c.agreement.first_mismatch;
  }
  EXPECT_EQ(seen, 3 * 4);
}

TEST(ScanSuite, LogScanPassesOrFailsOnlyAsItsKnownFormulationLimits) {
  // Heinsen's form: near_one gates and short sequences must pass. Uniform and large-b gates over
  // long sequences (~u |a*| absolute error in log h) and gates of exactly 0 (NaN) are the
  // formulation's limits: listed as known failures with their reason, reported as xfail.
  const RunResult r =
      check("log_scan", {{"batch", "1"}, {"T", "8,2048"}, {"D", "16"}, {"dist", kScenarios}});
  const int n = expect_cases(r, [](const CaseRecord& c) {
    const std::string dist = c.params.str("dist");
    if (dist == "bernoulli") return true;
    if (dist == "near_one") return false;
    return c.params.str("T") != "8";
  });
  EXPECT_GE(n, 2 * 2 * 4);
}

// The repository's manifest covers the CUDA variants of the cases it lists.
TEST(KnownFailures, TheManifestCoversTheCudaModesOfItsCases) {
  Registry reg;
  register_all_suites(reg);
  for (const char* mode : {"hot", "cold"}) {
    const std::string name =
        std::string("scan/log_scan/cuda.fast/f32/batch:2/T:1024/D:256/dist:bernoulli/mode:") + mode;
    EXPECT_NE(reg.known_failures().match(name), nullptr) << name;
  }
}

TEST(ScanSuite, MinimalLayersBothFormsAgree) {
  for (const char* op : {"mingru", "minlstm"}) {
    const RunResult r = check(op, {{"batch", "1,2"},
                                   {"T", "1,33"},
                                   {"d_in", "7"},
                                   {"D", "9,32"},
                                   {"form", "plain,log"},
                                   {"dist", "normal"}});
    EXPECT_GE(expect_cases(r, [](const CaseRecord&) { return false; }), 2 * 2 * 2 * 2 * 2) << op;
  }
}

TEST(ScanSuite, SequentialBaselinesAgreeIncludingThePeer) {
  // oneDNN's vanilla_gru runs with the z columns negated (its u is our 1 - z) and must agree:
  // that checks the gate order and the reset-before-product semantics on every case.
  for (const char* op : {"gru", "lstm"}) {
    const RunResult r = check(op, {{"batch", "1,3"},
                                   {"T", "1,20"},
                                   {"d_in", "6"},
                                   {"D", "5,16"},
                                   {"dist", "normal,large_x"}});
    EXPECT_GE(expect_cases(r, [](const CaseRecord&) { return false; }), 2 * 2 * 2 * 2 * 2) << op;
  }
}

TEST(ScanSuite, ScenariosDrawWhatTheyPromise) {
  Registry reg;
  register_all_suites(reg);
  const Op* op = reg.find_op("linear_scan");
  ASSERT_NE(op, nullptr);
  ASSERT_TRUE(op->input_dist);
  datasets::SeededDataProvider data;
  auto a_for = [&](const std::string& dist) {
    Tensor a(DType::f32, {4096});
    data.fill(a, op->input_dist(*op->find_tensor("a"), dist, DType::f32), 7);
    return a;
  };
  const Tensor near = a_for("near_one");
  int zeros = 0, ones = 0;
  for (std::int64_t i = 0; i < near.numel(); ++i) {
    EXPECT_GE(near.data<float>()[i], 0.9999f);
    EXPECT_LT(near.data<float>()[i], 1.0f);
  }
  const Tensor bern = a_for("bernoulli");
  for (std::int64_t i = 0; i < bern.numel(); ++i) {
    const float v = bern.data<float>()[i];
    ASSERT_TRUE(v == 0.0f || v == 1.0f) << v;
    (v == 0.0f ? zeros : ones)++;
  }
  EXPECT_GT(zeros, 1000);
  EXPECT_GT(ones, 1000);
  const Tensor uni = a_for("uniform");
  for (std::int64_t i = 0; i < uni.numel(); ++i) {
    EXPECT_GT(uni.data<float>()[i], 0.0f);
    EXPECT_LT(uni.data<float>()[i], 1.0f);
  }
}

// bfloat16 and float16 have no value in near_one's float32 range: there the gates are the four
// largest values below 1 (long memory, never exactly 1), each of them drawn.
TEST(ScanSuite, NearOneGatesInSixteenBitsAreTheFourValuesBelowOne) {
  Registry reg;
  register_all_suites(reg);
  const Op* op = reg.find_op("linear_scan");
  ASSERT_NE(op, nullptr);
  datasets::SeededDataProvider data;
  for (DType dt : {DType::bf16, DType::f16}) {
    Tensor a(dt, {4096});
    data.fill(a, op->input_dist(*op->find_tensor("a"), "near_one", dt), 7);
    const double u = unit_roundoff(dt);
    std::set<double> seen;
    for (std::int64_t i = 0; i < a.numel(); ++i) seen.insert(a.value_as_double(i));
    EXPECT_EQ(seen, (std::set<double>{1 - 4 * u, 1 - 3 * u, 1 - 2 * u, 1 - u})) << dtype_name(dt);
  }
}

// linear_scan_backward's saved h is its forward pass's output: the b it implies,
// b_t = h_t - a_t h_{t-1}, lies in the scenario's range of b (U(-1, 1) under `uniform`) up to the
// rounding of h. An h drawn on its own from U(-1, 1) implies b up to 2 in magnitude.
TEST(ScanSuite, BackwardSavesTheForwardPassesH) {
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  Selection sel;
  sel.ops = {"linear_scan_backward"};
  sel.axis_overrides = {{"batch", "2"}, {"T", "300"}, {"D", "17"}, {"dist", "uniform"}};
  sel.dtypes = {"f32", "bf16"};
  const std::vector<CasePlan> plan = plan_cases(reg, sel, data);
  int checked = 0;
  for (const CasePlan& c : plan) {
    if (!c.impl->is_reference) continue;
    const Dataset d = make_inputs(c, data, sel, RunOptions{});
    const suite::F64 a(d.inputs.at("a")), h0(d.inputs.at("h0")), h(d.inputs.at("h"));
    const std::int64_t T = 300, D = 17;
    double largest_h = 0, worst = 0;
    for (std::int64_t n = 0; n < 2; ++n) {
      for (std::int64_t t = 0; t < T; ++t) {
        for (std::int64_t j = 0; j < D; ++j) {
          const std::size_t k = static_cast<std::size_t>((n * T + t) * D + j);
          const double prev = t > 0 ? h.v[k - D] : h0.v[static_cast<std::size_t>(n * D + j)];
          // |b| beyond 1, in units of the rounding of the two h values it is made of.
          const double slack = 2 * unit_roundoff(c.dtype) * (std::abs(h.v[k]) + std::abs(prev));
          worst = std::max(worst, (std::abs(h.v[k] - a.v[k] * prev) - 1) / slack);
          largest_h = std::max(largest_h, std::abs(h.v[k]));
        }
      }
    }
    EXPECT_LE(worst, 1.0) << dtype_name(c.dtype);
    EXPECT_GT(largest_h, 1.0) << dtype_name(c.dtype);  // memory: h sums several b's
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

TEST(ScanSuite, BadPointsAreRefusedWithOneLine) {
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  Selection sel;
  sel.ops = {"mingru"};
  sel.axis_overrides = {{"form", "cubic"}};
  try {
    plan_cases(reg, sel, data);
    FAIL() << "form=cubic was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("form 'cubic' is not plain or log"), std::string::npos)
        << e.what();
  }
  sel.ops = {"linear_scan"};
  sel.axis_overrides = {{"dist", "normal"}};
  try {
    plan_cases(reg, sel, data);
    FAIL() << "dist=normal was accepted for linear_scan";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown distribution 'normal'"), std::string::npos)
        << e.what();
  }
}

TEST(ScanSuite, LayersDeclareSampledAgreementAlongBatch) {
  Registry reg;
  register_all_suites(reg);
  for (const char* name : {"mingru", "minlstm", "gru", "lstm"}) {
    const Op* op = reg.find_op(name);
    ASSERT_NE(op, nullptr) << name;
    EXPECT_EQ(op->sample_axis, "batch") << name;
    ASSERT_TRUE(op->reference_flops) << name;
    Params p;
    for (const auto& a : op->axes) p.set(a.name, a.quick.front());
    p.set("batch", "8");
    p.set("T", "4096");
    p.set("d_in", "512");
    p.set("D", "512");
    EXPECT_GT(op->reference_flops(p), 1e10) << name;  // would dominate: sampled by the runner
  }
}

}  // namespace
}  // namespace opbench
