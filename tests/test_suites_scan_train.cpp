// The scan family's training steps (mingru_train, gru_train, minlstm_train, lstm_train) through the
// planner and runner that `opbench check` uses: every implementation against the float64 reference
// over edge shapes (one step, channels that are not a multiple of the vector width) and both
// scenarios, on poisoned outputs; the gradient rules see a planted weight gradient that misses one
// batch entry;
// `--mode fwd_bwd` selects the training steps.
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "datasets/provider.hpp"
#include "harness/gradient_check.hpp"
#include "harness/runner.hpp"
#include "kernels/cpu/scan_train.hpp"
#include "suites/common.hpp"
#include "suites/suites.hpp"
#include "tests/agreement_expectations.hpp"
#include "tests/check_support.hpp"

namespace opbench {
namespace {

RunResult check(Registry& reg, const std::string& op,
                const std::map<std::string, std::string>& axes,
                std::vector<std::string> impls = {}) {
  Selection sel;
  sel.ops = {op};
  sel.axis_overrides = axes;
  sel.impls = std::move(impls);
  return test_support::check_selection(reg, sel);
}

RunResult check(const std::string& op, const std::map<std::string, std::string>& axes) {
  Registry reg;
  register_all_suites(reg);
  return check(reg, op, axes);
}

std::set<std::string> impls_of(const RunResult& r) {
  std::set<std::string> s;
  for (const auto& c : r.cases) {
    if (!c.is_reference) s.insert(c.impl);
  }
  return s;
}

// The minimal layers' implementations: ours, and PyTorch's autograd through the paper's log-space
// code where libtorch was found (its cases pass, or are its listed known failures).
std::set<std::string> min_train_impls() {
  std::set<std::string> impls = {"cpu.plain", "cpu.fast"};
#ifdef OPBENCH_HAVE_TORCH
  impls.insert("torch");
#endif
  return impls;
}

TEST(ScanTrainSuite, MinGruTrainEveryImplementationEveryScenario) {
  const RunResult r = check(
      "mingru_train",
      {{"batch", "1,3"}, {"T", "1,33"}, {"d_in", "7"}, {"D", "5,32"}, {"dist", "normal,large_x"}});
  EXPECT_GE(test_support::expect_all_agree_or_listed(r), 2 * 2 * 2 * 2 * 2);
  EXPECT_EQ(impls_of(r), min_train_impls());
}

TEST(ScanTrainSuite, GruTrainEveryImplementationEveryScenarioIncludingThePeer) {
  // oneDNN's vanilla_gru runs with the z columns negated (its u is our 1 - z); its gradients of
  // those columns come back negated: every case checks that mapping in the backward pass too.
  const RunResult r = check(
      "gru_train",
      {{"batch", "1,3"}, {"T", "1,20"}, {"d_in", "6"}, {"D", "5,16"}, {"dist", "normal,large_x"}});
  EXPECT_GE(test_support::expect_all_agree_or_listed(r), 2 * 2 * 2 * 2 * 2);
  EXPECT_TRUE(impls_of(r).count("cpu.plain"));
  EXPECT_TRUE(impls_of(r).count("cpu.fast"));
#ifdef OPBENCH_HAVE_ONEDNN
  EXPECT_TRUE(impls_of(r).count("onednn"));
#endif
}

TEST(ScanTrainSuite, MinLstmTrainEveryImplementationEveryScenario) {
  const RunResult r = check(
      "minlstm_train",
      {{"batch", "1,3"}, {"T", "1,33"}, {"d_in", "7"}, {"D", "5,32"}, {"dist", "normal,large_x"}});
  EXPECT_GE(test_support::expect_all_agree_or_listed(r), 2 * 2 * 2 * 2 * 2);
  EXPECT_EQ(impls_of(r), min_train_impls());
}

TEST(ScanTrainSuite, LstmTrainEveryImplementationEveryScenarioIncludingThePeer) {
  // oneDNN's vanilla_lstm has our gate order (i, f, c~, o) and takes c0 as src_iter_c: its dc0
  // (diff_src_iter_c) and dU are checked on every case.
  const RunResult r = check(
      "lstm_train",
      {{"batch", "1,3"}, {"T", "1,20"}, {"d_in", "6"}, {"D", "5,16"}, {"dist", "normal,large_x"}});
  EXPECT_GE(test_support::expect_all_agree_or_listed(r), 2 * 2 * 2 * 2 * 2);
  EXPECT_TRUE(impls_of(r).count("cpu.plain"));
  EXPECT_TRUE(impls_of(r).count("cpu.fast"));
#ifdef OPBENCH_HAVE_ONEDNN
  EXPECT_TRUE(impls_of(r).count("onednn"));
#endif
#ifdef OPBENCH_HAVE_TORCH
  EXPECT_TRUE(impls_of(r).count("torch"));  // nn.LSTM's training step through autograd
#endif
}

TEST(ScanTrainSuite, LongerSequencesAgree) {
  // The error of the reverse scan and of the sums over batch * T rows grows with T.
  EXPECT_GE(test_support::expect_all_agree_or_listed(check(
                "mingru_train",
                {{"batch", "2"}, {"T", "300"}, {"d_in", "9"}, {"D", "33"}, {"dist", "large_x"}})),
            2);
  EXPECT_GE(test_support::expect_all_agree_or_listed(check(
                "gru_train",
                {{"batch", "2"}, {"T", "150"}, {"d_in", "9"}, {"D", "17"}, {"dist", "normal"}})),
            2);
}

// A training step whose weight gradient misses the last batch entry's contribution (1 of 8
// sequences): cpu.fast's step, minus cpu.fast's step on that entry alone.
Impl planted_missing_entry(const std::string& op) {
  return suite::host_impl("cpu.planted", [op](const TensorMap& i, TensorMap& o, const Params& p) {
    const std::int64_t B = p.i("batch"), T = p.i("T"), d_in = p.i("d_in"), D = p.i("D");
    auto f = [&](const char* n) { return suite::in32(i, n); };
    auto g = [&](const char* n) { return suite::out32(o, n); };
    const std::int64_t gates = op == "mingru_train" ? 2
                               : op == "lstm_train" ? 4
                                                    : 3;  // gru_train, minlstm_train
    const std::int64_t G = gates * D, last = B - 1;
    std::vector<float> h(T * D), dx(T * d_in), dw(d_in * G), du(D * G), db(G), dh0(D), dc0(D);
    const float* x1 = f("x") + last * T * d_in;
    const float* h01 = f("h0") + last * D;
    const float* dh1 = f("dh") + last * T * D;
    if (op == "gru_train") {
      cpu::fast::gru_train(f("x"), f("w"), f("u"), f("bias"), f("h0"), f("dh"), g("h"), g("dx"),
                           g("dw"), g("du"), g("dbias"), g("dh0"), B, T, d_in, D);
      cpu::fast::gru_train(x1, f("w"), f("u"), f("bias"), h01, dh1, h.data(), dx.data(), dw.data(),
                           du.data(), db.data(), dh0.data(), 1, T, d_in, D);
    } else if (op == "lstm_train") {
      cpu::fast::lstm_train(f("x"), f("w"), f("u"), f("bias"), f("h0"), f("c0"), f("dh"), g("h"),
                            g("dx"), g("dw"), g("du"), g("dbias"), g("dh0"), g("dc0"), B, T, d_in,
                            D);
      cpu::fast::lstm_train(x1, f("w"), f("u"), f("bias"), h01, f("c0") + last * D, dh1, h.data(),
                            dx.data(), dw.data(), du.data(), db.data(), dh0.data(), dc0.data(), 1,
                            T, d_in, D);
    } else {
      auto step = op == "mingru_train" ? cpu::fast::mingru_train : cpu::fast::minlstm_train;
      step(f("x"), f("w"), f("bias"), f("h0"), f("dh"), g("h"), g("dx"), g("dw"), g("dbias"),
           g("dh0"), B, T, d_in, D);
      step(x1, f("w"), f("bias"), h01, dh1, h.data(), dx.data(), dw.data(), db.data(), dh0.data(),
           1, T, d_in, D);
    }
    for (std::int64_t k = 0; k < d_in * G; ++k) g("dw")[k] -= dw[k];
  });
}

TEST(ScanTrainSuite, WeightGradientMissingOneBatchEntryFails) {
  for (const char* op : {"mingru_train", "gru_train", "minlstm_train", "lstm_train"}) {
    Registry reg;
    register_all_suites(reg);
    reg.add_impl("scan", op, planted_missing_entry(op));
    const RunResult r = check(
        reg, op, {{"batch", "8"}, {"T", "64"}, {"d_in", "32"}, {"D", "32"}, {"dist", "normal"}},
        {"cpu.fast", "cpu.planted"});
    int seen = 0;
    for (const auto& c : r.cases) {
      if (c.impl == "cpu.fast") {
        EXPECT_EQ(c.agreement.status, AgreementStatus::pass) << op << c.agreement.first_mismatch;
        ++seen;
      } else if (c.impl == "cpu.planted") {
        EXPECT_EQ(c.agreement.status, AgreementStatus::fail) << op;
        EXPECT_NE(c.agreement.first_mismatch.find("dw"), std::string::npos)
            << op << ": " << c.agreement.first_mismatch;
        ++seen;
      }
    }
    EXPECT_EQ(seen, 2) << op;
  }
}

// The references against central finite differences of the forward references, every element
// of every gradient at the declared point (tests/test_suites_backward.cpp runs the same check over
// the whole registry; here each training step says how close it came).
TEST(ScanTrainSuite, ReferencesMatchFiniteDifferencesOfTheForwardOps) {
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  // x, w, bias, h0 (and u, c0) whole at batch 2, T 9, d_in 5, D 4: x 2*9*5, w 5*GD, bias GD,
  // h0 2*4, u 4*GD, c0 2*4.
  const std::map<std::string, int> elements = {{"mingru_train", 90 + 40 + 8 + 8},
                                               {"gru_train", 90 + 60 + 12 + 8 + 48},
                                               {"minlstm_train", 90 + 60 + 12 + 8},
                                               {"lstm_train", 90 + 80 + 16 + 8 + 64 + 8}};
  for (const auto& [name, count] : elements) {
    const GradientCheck r = check_gradient(reg, *reg.find_op(name), data);
    EXPECT_TRUE(r.passed()) << name << " at " << r.point << ": " << r.error << " worst " << r.worst
                            << (r.mismatches.empty() ? "" : ", " + r.mismatches.front());
    EXPECT_EQ(r.checked, count) << name;
    std::cout << name << " at " << r.point << ": " << r.checked << " elements, worst " << r.worst
              << " of the allowed difference\n";
  }
}

TEST(ScanTrainSuite, ModeFwdBwdSelectsTheTrainingSteps) {
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  Selection sel;
  sel.suites = {"scan"};
  sel.impls = {"ref"};
  sel.modes = {"fwd_bwd"};
  std::set<std::string> ops;
  for (const auto& c : plan_cases(reg, sel, data)) ops.insert(c.op->name);
  EXPECT_EQ(ops,
            (std::set<std::string>{"mingru_train", "gru_train", "minlstm_train", "lstm_train"}));
}

TEST(ScanTrainSuite, TrainingStepsDeclareTheirForwardOpAndGradients) {
  Registry reg;
  register_all_suites(reg);
  const std::map<std::string, std::string> forward = {{"mingru_train", "mingru"},
                                                      {"gru_train", "gru"},
                                                      {"minlstm_train", "minlstm"},
                                                      {"lstm_train", "lstm"}};
  for (const auto& [name, fwd_name] : forward) {
    const Op* op = reg.find_op(name);
    ASSERT_NE(op, nullptr) << name;
    EXPECT_EQ(op->mode, Mode::fwd_bwd);
    ASSERT_TRUE(op->gradient.has_value());
    EXPECT_EQ(op->gradient->forward, fwd_name);
    EXPECT_EQ(op->gradient->incoming.at("dh"), "h");
    EXPECT_EQ(op->gradient->gradients.at("dw"), "w");
    EXPECT_TRUE(op->gradient->saved.empty());
    // The forward op's inputs under the same distributions (large_x reaches x through input_dist).
    const Op* fwd = reg.find_op(op->gradient->forward);
    for (const auto& t : fwd->tensors) {
      if (t.output) continue;
      const TensorDecl* mine = op->find_tensor(t.name);
      ASSERT_NE(mine, nullptr) << name << " " << t.name;
      EXPECT_EQ(mine->dist, t.dist) << name << " " << t.name;
    }
    ASSERT_TRUE(op->input_dist);
    EXPECT_EQ(op->input_dist(*op->find_tensor("x"), "large_x", DType::f32), "normal(0,10)");
  }
}

}  // namespace
}  // namespace opbench
