// Training mode: every backward op the suites declare, its reference proven against finite
// differences of the forward reference (harness/gradient_check.hpp), its saved tensors made by the
// forward pass, its implementations checked through `opbench check`'s planner and runner, and
// the `--mode` selection.
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
#include "kernels/cpu/norm_backward_fast.hpp"
#include "reference/norm_backward.hpp"
#include "suites/common.hpp"
#include "suites/suites.hpp"
#include "tests/agreement_expectations.hpp"
#include "tests/check_support.hpp"

namespace opbench {
namespace {

// The ops that differentiate a forward op: backward ops and whole training steps.
std::vector<const Op*> backward_ops(const Registry& reg) {
  std::vector<const Op*> ops;
  for (const Op& op : reg.ops()) {
    if (op.mode != Mode::fwd) ops.push_back(&op);
  }
  return ops;
}

TEST(BackwardOps, EveryOneDeclaresItsForwardOp) {
  Registry reg;
  register_all_suites(reg);
  const auto ops = backward_ops(reg);
  ASSERT_GE(ops.size(), 3u);  // linear_scan_backward, layernorm_backward, rmsnorm_backward
  for (const Op* op : ops) {
    ASSERT_TRUE(op->gradient.has_value()) << op->name;
    EXPECT_NE(reg.find_op(op->suite + "/" + op->gradient->forward), nullptr) << op->name;
    EXPECT_FALSE(op->gradient->gradients.empty()) << op->name;
  }
}

// The proof of every backward reference: central finite differences of the forward reference.
TEST(BackwardOps, EveryReferenceMatchesFiniteDifferencesOfItsForward) {
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  for (const Op* op : backward_ops(reg)) {
    const GradientCheck r = check_gradient(reg, *op, data);
    EXPECT_TRUE(r.error.empty()) << op->name << ": " << r.error;
    EXPECT_GT(r.checked, 0) << op->name;
    EXPECT_TRUE(r.passed()) << op->name << " at " << r.point << ": worst " << r.worst << ", "
                            << (r.mismatches.empty() ? "" : r.mismatches.front());
  }
}

// The check can fail: LayerNorm's backward without the variance's term (the mean(g * xhat) part)
// is what a derivation that forgets rstd depends on x gives.
TEST(BackwardOps, FiniteDifferencesRejectAWrongReference) {
  Registry reg;
  register_all_suites(reg);
  Op wrong = *reg.find_op("norm/layernorm_backward");
  wrong.name = "layernorm_backward_planted";
  wrong.reference = [](const TensorMap& i, TensorMap& o, const Params& p) {
    const std::int64_t rows = p.i("rows"), cols = p.i("cols");
    const suite::F64 dy(i.at("dy")), x(i.at("x")), gamma(i.at("gamma")), mean(i.at("mean")),
        rstd(i.at("rstd"));
    ref::layernorm_backward(dy.p(), x.p(), gamma.p(), mean.p(), rstd.p(), suite::out64(o, "dx"),
                            suite::out64(o, "dgamma"), suite::out64(o, "dbeta"), rows, cols);
    double* dx = suite::out64(o, "dx");
    for (std::int64_t r = 0; r < rows; ++r) {
      double sum_g = 0;
      for (std::int64_t j = 0; j < cols; ++j) sum_g += dy.v[r * cols + j] * gamma.v[j];
      for (std::int64_t j = 0; j < cols; ++j) {
        dx[r * cols + j] = rstd.v[r] * (dy.v[r * cols + j] * gamma.v[j] - sum_g / cols);
      }
    }
  };
  const Op& planted = reg.add_op(std::move(wrong));
  datasets::SeededDataProvider data;
  const GradientCheck r = check_gradient(reg, planted, data);
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_FALSE(r.passed());
  EXPECT_FALSE(r.mismatches.empty());
  EXPECT_NE(r.mismatches.front().find("dx["), std::string::npos) << r.mismatches.front();
}

// The saved statistics of a case are the forward pass's on the case's own x (float64, rounded
// once to float32), not drawn from a distribution.
TEST(BackwardOps, SavedStatisticsComeFromTheForwardPassOnTheCaseInputs) {
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  Selection sel;
  sel.ops = {"layernorm_backward"};
  sel.impls = {"cpu.fast"};
  sel.axis_overrides = {{"rows", "7"}, {"cols", "33"}, {"dist", "offset"}};
  const auto plan = plan_cases(reg, sel, data);
  ASSERT_EQ(plan.size(), 1u);
  RunOptions opt;
  const Dataset d = make_inputs(plan.front(), data, sel, opt);
  const suite::F64 x(d.inputs.at("x"));
  std::vector<double> mean(7), rstd(7);
  ref::layernorm_stats(x.p(), mean.data(), rstd.data(), 7, 33, 1e-5);
  for (int r = 0; r < 7; ++r) {
    EXPECT_EQ(d.inputs.at("mean").data<float>()[r], static_cast<float>(mean[r])) << r;
    EXPECT_EQ(d.inputs.at("rstd").data<float>()[r], static_cast<float>(rstd[r])) << r;
  }
  for (const auto& t : d.record.tensors) {
    if (t.name == "mean" || t.name == "rstd") {
      EXPECT_EQ(t.source, "generated, then the forward pass") << t.name;
    }
  }
}

// Every implementation of the norm backward ops over edge shapes and every scenario, on
// poisoned outputs; 2000 rows of 17 columns make the column sums long.
TEST(BackwardOps, NormImplementationsAgreeOverEveryScenario) {
  Registry reg;
  register_all_suites(reg);
  for (const char* op : {"layernorm_backward", "rmsnorm_backward", "add_layernorm_backward",
                         "add_rmsnorm_backward", "dyt_backward"}) {
    for (const auto& [rows, cols] : std::vector<std::pair<const char*, const char*>>{
             {"1,33", "1,3,17,4095,4097"}, {"2000", "17"}}) {
      Selection sel;
      sel.ops = {op};
      sel.axis_overrides = {{"rows", rows},
                            {"cols", cols},
                            {"dist", "normal,uniform,llm_outliers,offset,constant_rows"}};
      const RunResult r = test_support::check_selection(reg, sel);
      EXPECT_GT(test_support::expect_all_agree_or_listed(r), 0) << op;
    }
  }
  // BatchNorm's sums run down the columns: 2 and 33 samples of edge widths, 2000 of 17.
  for (const auto& [rows, cols] :
       std::vector<std::pair<const char*, const char*>>{{"2,33", "1,3,17,4097"}, {"2000", "17"}}) {
    Selection sel;
    sel.ops = {"batchnorm_train_backward"};
    sel.axis_overrides = {{"rows", rows},
                          {"cols", cols},
                          {"dist", "normal,uniform,llm_outliers,offset,constant_rows"}};
    EXPECT_GT(test_support::expect_all_agree_or_listed(test_support::check_selection(reg, sel)), 0);
  }
  Selection sel;
  sel.ops = {"groupnorm_backward"};
  sel.axis_overrides = {{"n", "1,3"},
                        {"c", "6,12"},
                        {"hw", "1,7,67"},
                        {"groups", "1,3,6"},
                        {"dist", "normal,uniform,llm_outliers,offset,constant_rows"}};
  EXPECT_GT(test_support::expect_all_agree_or_listed(test_support::check_selection(reg, sel)), 0);
}

// Tensors of 16 MiB and more take cpu.fast's large-tensor path (8-row groups down each column
// vector, streaming stores where rows are vector-aligned) in BatchNorm's and DyT's backward: row
// counts whose thread ranges end in a partial group, with and without vector-aligned rows.
TEST(BackwardOps, LargeTensorPathsOfColumnSumsAgree) {
  Registry reg;
  register_all_suites(reg);
  for (const auto& [rows, cols] :
       std::vector<std::pair<const char*, const char*>>{{"1027", "4097"}, {"1029", "4096"}}) {
    Selection sel;
    sel.ops = {"batchnorm_train_backward", "dyt_backward"};
    sel.impls = {"ref", "cpu.fast"};
    sel.axis_overrides = {{"rows", rows}, {"cols", cols}, {"dist", "normal"}};
    EXPECT_EQ(test_support::expect_all_agree_or_listed(test_support::check_selection(reg, sel)), 2)
        << rows << " x " << cols;
  }
}

// A planted dgamma that misses one block of 16 rows (of 1024) fails agreement, and cpu.fast on the
// same dataset passes: the column-sum rule is tight enough to see one row block.
TEST(BackwardOps, DgammaMissingOneRowBlockFails) {
  Registry reg;
  register_all_suites(reg);
  reg.add_impl(
      "norm", "layernorm_backward",
      suite::host_impl("cpu.planted", [](const TensorMap& i, TensorMap& o, const Params& p) {
        const std::int64_t rows = p.i("rows"), cols = p.i("cols"), block = 16;
        auto f = [&](const char* n) { return suite::in32(i, n); };
        cpu::fast::layernorm_backward(f("dy"), f("x"), f("gamma"), f("mean"), f("rstd"),
                                      suite::out32(o, "dx"), suite::out32(o, "dgamma"),
                                      suite::out32(o, "dbeta"), rows, cols);
        std::vector<float> dx(static_cast<std::size_t>(block * cols)), dg(cols), db(cols);
        const std::int64_t first = rows - block;
        cpu::fast::layernorm_backward(f("dy") + first * cols, f("x") + first * cols, f("gamma"),
                                      f("mean") + first, f("rstd") + first, dx.data(), dg.data(),
                                      db.data(), block, cols);
        for (std::int64_t j = 0; j < cols; ++j) suite::out32(o, "dgamma")[j] -= dg[j];
      }));
  Selection sel;
  sel.ops = {"layernorm_backward"};
  sel.impls = {"cpu.fast", "cpu.planted"};
  sel.axis_overrides = {{"rows", "1024"}, {"cols", "256"}, {"dist", "normal"}};
  const RunResult r = test_support::check_selection(reg, sel);
  int seen = 0;
  for (const auto& c : r.cases) {
    if (c.impl == "cpu.fast") {
      EXPECT_EQ(c.agreement.status, AgreementStatus::pass) << c.agreement.first_mismatch;
      ++seen;
    } else if (c.impl == "cpu.planted") {
      EXPECT_EQ(c.agreement.status, AgreementStatus::fail);
      EXPECT_NE(c.agreement.first_mismatch.find("dgamma"), std::string::npos)
          << c.agreement.first_mismatch;
      ++seen;
    }
  }
  EXPECT_EQ(seen, 2);
}

TEST(BackwardOps, ModeSelectsForwardOrBackwardOps) {
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  Selection sel;
  sel.suites = {"norm"};
  sel.impls = {"ref"};
  sel.modes = {"bwd"};
  std::set<std::string> ops;
  for (const auto& c : plan_cases(reg, sel, data)) ops.insert(c.op->name);
  EXPECT_EQ(ops, (std::set<std::string>{
                     "layernorm_backward", "rmsnorm_backward", "add_layernorm_backward",
                     "add_rmsnorm_backward", "dyt_backward", "batchnorm_train_backward",
                     "groupnorm_backward", "srmsnorm_backward", "deepnorm_backward"}));
  sel.modes = {"fwd"};
  ops.clear();
  for (const auto& c : plan_cases(reg, sel, data)) ops.insert(c.op->name);
  EXPECT_TRUE(ops.count("layernorm"));
  EXPECT_FALSE(ops.count("layernorm_backward"));
  sel.modes = {"backward"};
  try {
    plan_cases(reg, sel, data);
    ADD_FAILURE() << "an unknown mode was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown mode 'backward'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace opbench
