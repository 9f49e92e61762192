// The runner's hooks for the families beyond norm, on toy ops declared here: sampled agreement
// (a seeded sample of rows when the float64 reference would be too slow, off with full_check),
// an op's own comparison (ties counted, not hidden), scenario distributions (input_dist) and
// input preparation (prepare_inputs).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "datasets/provider.hpp"
#include "harness/agreement.hpp"
#include "harness/errors.hpp"
#include "harness/registry.hpp"
#include "harness/runner.hpp"
#include "harness/sampling.hpp"

namespace opbench {
namespace {

Axis int_axis(const char* name, std::vector<std::string> quick) {
  return Axis{name, Axis::Kind::integer, std::move(quick), {}, ""};
}

// y[tokens, cols] = 2 * x[tokens, cols] + w[cols]; the reference counts the rows it was given.
struct RowCounter {
  std::int64_t rows_seen = 0;
};

Op row_op(RowCounter* counter) {
  Op op;
  op.suite = "toy";
  op.name = "twice";
  op.axes = {int_axis("tokens", {"1000"}), int_axis("cols", {"8"}),
             Axis{"dist", Axis::Kind::text, {"normal"}, {"normal"}, ""}};
  op.tensors = {TensorDecl{"x", {"tokens", "cols"}, false, false, "$dist"},
                TensorDecl{"w", {"cols"}, false, false, "uniform(1,2)"},
                TensorDecl{"y", {"tokens", "cols"}, true, false, ""}};
  op.tolerance = [](DType) { return Tolerance{1e-6, 1e-6}; };
  op.reference = [counter](const TensorMap& in, TensorMap& out, const Params& p) {
    const Tensor& x = in.at("x");
    const Tensor& w = in.at("w");
    double* y = out.at("y").data<double>();
    const std::int64_t rows = p.i("tokens"), cols = p.i("cols");
    EXPECT_EQ(x.shape()[0], rows);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c)
        y[r * cols + c] = 2.0 * x.value_as_double(r * cols + c) + w.value_as_double(c);
    counter->rows_seen += rows;
  };
  op.sample_axis = "tokens";
  op.reference_flops = [](const Params& p) { return 2.0 * p.i("tokens") * p.i("cols"); };
  Impl impl;
  impl.name = "cpu.plain";
  impl.backend = "cpu";
  impl.bind = bind_host([](const TensorMap& in, TensorMap& out, const Params& p) {
    const float* x = in.at("x").data<float>();
    const float* w = in.at("w").data<float>();
    float* y = out.at("y").data<float>();
    const std::int64_t rows = p.i("tokens"), cols = p.i("cols");
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c) y[r * cols + c] = 2 * x[r * cols + c] + w[c];
    y[(rows - 1) * cols] += 1.0f;  // the last row is wrong
  });
  op.impls.push_back(impl);
  return op;
}

RunResult check(Registry& reg, const RunOptions& opt, Selection sel = {}) {
  datasets::SeededDataProvider data;
  return run_cases(reg, plan_cases(reg, sel, data), data, sel, opt);
}

const CaseRecord& find_case(const RunResult& r, const std::string& impl) {
  for (const auto& c : r.cases)
    if (c.impl == impl) return c;
  throw std::runtime_error("no case " + impl);
}

TEST(Sampling, ChoosesAsManyRowsAsTheBudgetBuysSortedAndSeeded) {
  RowCounter counter;
  Op op = row_op(&counter);
  Params p;
  p.set("tokens", "1000");
  p.set("cols", "8");
  // 16000 flops in all: a budget of 1600 buys 100 rows.
  Sample s = choose_sample(op, p, 1600, 42);
  ASSERT_TRUE(s.active());
  EXPECT_EQ(s.rows.size(), 100u);
  EXPECT_EQ(s.of, 1000);
  EXPECT_TRUE(std::is_sorted(s.rows.begin(), s.rows.end()));
  EXPECT_EQ(std::set<std::int64_t>(s.rows.begin(), s.rows.end()).size(), 100u);
  EXPECT_LT(s.rows.back(), 1000);
  EXPECT_EQ(choose_sample(op, p, 1600, 42).rows, s.rows);
  EXPECT_NE(choose_sample(op, p, 1600, 43).rows, s.rows);
  EXPECT_FALSE(choose_sample(op, p, 1e9, 42).active());    // within budget: every row
  EXPECT_EQ(choose_sample(op, p, 1, 42).rows.size(), 4u);  // at least kMinSampleRows
}

TEST(Sampling, GathersLeadingRowsAndSharesOtherTensors) {
  RowCounter counter;
  Op op = row_op(&counter);
  Tensor x(DType::f32, {4, 3}), w(DType::f32, {3});
  for (int i = 0; i < 12; ++i) x.data<float>()[i] = static_cast<float>(i + 1);
  for (int i = 0; i < 3; ++i) w.data<float>()[i] = 0.5f + i;
  Sample s;
  s.axis = "tokens";
  s.rows = {1, 3};
  s.of = 4;
  TensorMap g = gather_rows(op, {{"x", x}, {"w", w}}, s);
  ASSERT_EQ(g.at("x").shape(), (Shape{2, 3}));
  const float want[] = {4, 5, 6, 10, 11, 12};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(g.at("x").data<float>()[i], want[i]);
  EXPECT_EQ(g.at("w").data<float>(), w.data<float>());  // shared, not copied
}

TEST(Sampling, RunnerChecksTheSampleRecordsItAndFullCheckChecksEverything) {
  RowCounter counter;
  Registry reg;
  reg.add_op(row_op(&counter));
  RunOptions opt;
  opt.time = false;
  opt.reference_budget_flops = 1600;  // 100 of the 1000 rows
  RunResult sampled = check(reg, opt);
  EXPECT_EQ(counter.rows_seen, 100);
  ASSERT_EQ(sampled.datasets.size(), 1u);
  EXPECT_EQ(sampled.datasets[0].sample_axis, "tokens");
  EXPECT_EQ(sampled.datasets[0].sample_rows.size(), 100u);
  EXPECT_EQ(sampled.datasets[0].sample_of, 1000);
  const CaseRecord& plain = find_case(sampled, "cpu.plain");
  EXPECT_EQ(plain.agreement.elements, 800);
  // The reference is the contract: listed, compared with nothing (its sample is the dataset's).
  EXPECT_EQ(find_case(sampled, "ref").agreement.status, AgreementStatus::not_applicable);
  EXPECT_EQ(find_case(sampled, "ref").error, "");
  const bool last_row_sampled = sampled.datasets[0].sample_rows.back() == 999;
  EXPECT_EQ(plain.agreement.passed, !last_row_sampled);

  counter.rows_seen = 0;
  opt.full_check = true;
  RunResult full = check(reg, opt);
  EXPECT_EQ(counter.rows_seen, 1000);  // the dataset's reference, once: "ref" is not run again
  EXPECT_TRUE(full.datasets[0].sample_axis.empty());
  const CaseRecord& plain_full = find_case(full, "cpu.plain");
  EXPECT_EQ(plain_full.agreement.elements, 8000);
  EXPECT_FALSE(plain_full.agreement.passed);  // the wrong last row is found
  EXPECT_EQ(plain_full.agreement.mismatches, 1);
}

TEST(Sampling, RegistryRefusesAnOutputThatDoesNotLeadWithTheSampleAxis) {
  RowCounter counter;
  Op op = row_op(&counter);
  op.tensors.push_back(TensorDecl{"z", {"cols"}, true, false, ""});
  Registry reg;
  EXPECT_THROW(reg.add_op(op), std::logic_error);
}

// An op whose own comparison accepts either answer where the reference cannot decide.
TEST(OpCompare, CustomComparisonCountsTiesAndStillRejects) {
  RowCounter counter;
  Op op = row_op(&counter);
  op.sample_axis.clear();
  op.compare = [](const TensorMap&, const TensorMap& out, const TensorMap& ref, const Params& p,
                  Tolerance tol) {
    // Rows whose first reference value is below 0 count as "ties": any answer is accepted there.
    Agreement a = compare_tensor("y", out.at("y"), ref.at("y"), tol, false);
    const std::int64_t cols = p.i("cols");
    const float* y = out.at("y").data<float>();
    const double* r = ref.at("y").data<double>();
    a.mismatches = 0;
    for (std::int64_t i = 0; i < out.at("y").numel(); ++i) {
      const bool tie = r[(i / cols) * cols] < 0;
      if (std::abs(y[i] - r[i]) > tol.atol + tol.rtol * std::abs(r[i])) {
        if (tie) {
          if (i % cols == 0) ++a.ties;
        } else {
          ++a.mismatches;
        }
      }
    }
    a.passed = a.mismatches == 0;
    return a;
  };
  Registry reg;
  reg.add_op(op);
  RunOptions opt;
  opt.time = false;
  RunResult r = check(reg, opt);
  const CaseRecord& plain = find_case(r, "cpu.plain");
  // The wrong last row: a tie when its first reference value is negative, else a mismatch.
  EXPECT_EQ(plain.agreement.ties + plain.agreement.mismatches, 1);
  EXPECT_EQ(plain.agreement.passed, plain.agreement.ties == 1);
}

TEST(Scenarios, InputDistAndPrepareInputsShapeTheGeneratedData) {
  RowCounter counter;
  Op op = row_op(&counter);
  op.sample_axis.clear();
  op.axes.back() = Axis{"dist", Axis::Kind::text, {"normal"}, {"normal", "all_ones"}, ""};
  op.input_dist = [](const TensorDecl& t, const std::string& dist, DType) -> std::string {
    if (dist == "all_ones" && t.name == "x") return "constant(1)";
    return "";
  };
  op.prepare_inputs = [](TensorMap& in, const Params&) { in.at("w").data<float>()[0] = 7.0f; };
  Registry reg;
  reg.add_op(op);
  RunOptions opt;
  opt.time = false;
  Selection sel;
  sel.axis_overrides["dist"] = "all_ones";  // the op's own scenario is a valid dist value
  sel.axis_overrides["tokens"] = "3";
  datasets::SeededDataProvider data;
  auto plan = plan_cases(reg, sel, data);
  RunResult r = run_cases(reg, plan, data, sel, opt);
  ASSERT_EQ(r.datasets.size(), 1u);
  EXPECT_EQ(r.datasets[0].tensors[0].dist, "constant(1)");
  EXPECT_EQ(r.datasets[0].tensors[1].dist, "uniform(1,2)");
  sel.axis_overrides["dist"] = "no_such_scenario";
  EXPECT_THROW(plan_cases(reg, sel, data), UsageError);
}

}  // namespace
}  // namespace opbench

namespace opbench {
namespace {

TEST(Scenarios, ADistOnlySomeOpsKnowSkipsTheOthersAndOneNoOpKnowsIsRefused) {
  RowCounter counter;
  Op generic = row_op(&counter);
  generic.sample_axis.clear();
  Op scenario = generic;
  scenario.name = "scenario";
  scenario.axes.back() = Axis{"dist", Axis::Kind::text, {"all_ones"}, {"all_ones"}, ""};
  scenario.input_dist = [](const TensorDecl& t, const std::string&, DType) -> std::string {
    return t.name == "x" ? "constant(1)" : "";
  };
  Registry reg;
  reg.add_op(generic);
  reg.add_op(scenario);
  datasets::SeededDataProvider data;
  Selection sel;
  sel.axis_overrides["tokens"] = "3";
  sel.axis_overrides["dist"] = "all_ones";
  auto plan = plan_cases(reg, sel, data);
  int skipped = 0, planned = 0;
  for (const auto& c : plan) {
    if (c.op->name == "twice") {
      EXPECT_NE(c.skip_reason.find("dist 'all_ones' is not a scenario of toy/twice"),
                std::string::npos)
          << c.skip_reason;
      ++skipped;
    } else {
      EXPECT_EQ(c.skip_reason, "") << c.name;
      ++planned;
    }
  }
  EXPECT_GT(skipped, 0);
  EXPECT_GT(planned, 0);

  sel.ops = {"twice"};  // the only selected op has no such scenario: an error, not a silent skip
  EXPECT_THROW(plan_cases(reg, sel, data), UsageError);
  sel.ops.clear();
  sel.axis_overrides["dist"] = "bogus";
  EXPECT_THROW(plan_cases(reg, sel, data), UsageError);
}

}  // namespace
}  // namespace opbench
