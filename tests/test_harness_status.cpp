// Every case ends with an honest status: pass, fail, xfail (a known failure listed with its
// reason), error or not_applicable (the reference, a case not run). A kernel that passes before
// timing and goes wrong during the timed runs is caught by the check after them; a listed known
// failure that passes is reported; the error reported against the allowed error is hand-checked.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <sstream>
#include <string>

#include "datasets/provider.hpp"
#include "harness/agreement.hpp"
#include "harness/known_failures.hpp"
#include "harness/registry.hpp"
#include "harness/runner.hpp"
#include "reports/console_summary.hpp"
#include "reports/json_writer.hpp"

namespace opbench {
namespace {

// y = 3 x over x[n]; `n` is an axis. Implementations are added by each test.
Op triple_op() {
  Op op;
  op.suite = "toy";
  op.name = "triple";
  op.axes = {Axis{"n", Axis::Kind::integer, {"64"}, {"64"}, ""},
             Axis{"dist", Axis::Kind::text, {"normal"}, {"normal"}, ""}};
  op.tensors = {TensorDecl{"x", {"n"}, false, false, "$dist"},
                TensorDecl{"y", {"n"}, true, false, ""}};
  op.cost = [](const Params& p, DType) {
    return Cost{static_cast<double>(p.i("n")), 8.0 * static_cast<double>(p.i("n"))};
  };
  op.tolerance = [](DType) { return Tolerance{1e-6, 1e-6}; };
  op.reference = [](const TensorMap& in, TensorMap& out, const Params&) {
    for (std::int64_t i = 0; i < in.at("x").numel(); ++i) {
      out.at("y").data<double>()[i] = 3.0 * in.at("x").value_as_double(i);
    }
  };
  return op;
}

Impl host(const std::string& name, HostKernelFn fn) {
  Impl impl;
  impl.name = name;
  impl.backend = "cpu";
  impl.bind = bind_host(std::move(fn));
  return impl;
}

void triple(const TensorMap& in, TensorMap& out, const Params&) {
  for (std::int64_t i = 0; i < in.at("x").numel(); ++i) {
    out.at("y").data<float>()[i] = 3.0f * in.at("x").data<float>()[i];
  }
}

RunResult run(Registry& reg, const std::vector<std::string>& impls, bool time) {
  datasets::SeededDataProvider data;
  Selection sel;
  sel.impls = impls;
  RunOptions opt;
  opt.time = time;
  opt.benchmark_flags = {"--benchmark_min_time=0.001"};
  return run_cases(reg, plan_cases(reg, sel, data), data, sel, opt);
}

const CaseRecord& find(const RunResult& r, const std::string& impl) {
  for (const CaseRecord& c : r.cases) {
    if (c.impl == impl) return c;
  }
  throw std::runtime_error("no case of " + impl);
}

TEST(Status, ReferencePassFailAndError) {
  Registry reg;
  reg.add_op(triple_op());
  reg.add_impl("toy", "triple", host("cpu.good", triple));
  reg.add_impl("toy", "triple",
               host("cpu.wrong", [](const TensorMap& in, TensorMap& out, const Params& p) {
                 triple(in, out, p);
                 out.at("y").data<float>()[5] += 1.0f;
               }));
  reg.add_impl("toy", "triple", host("cpu.throws", [](const TensorMap&, TensorMap&, const Params&) {
                 throw std::runtime_error("kernel exploded");
               }));
  const RunResult r = run(reg, {}, false);
  EXPECT_EQ(find(r, "ref").agreement.status, AgreementStatus::not_applicable);
  EXPECT_EQ(find(r, "cpu.good").agreement.status, AgreementStatus::pass);
  EXPECT_EQ(find(r, "cpu.wrong").agreement.status, AgreementStatus::fail);
  EXPECT_EQ(find(r, "cpu.wrong").agreement.mismatches, 1);
  EXPECT_EQ(find(r, "cpu.throws").agreement.status, AgreementStatus::error);
  EXPECT_EQ(find(r, "cpu.throws").error, "kernel exploded");
}

// Right on its first run (the check), wrong on every later one (the timed runs).
TEST(Status, AKernelThatGoesWrongDuringTimingIsCaughtAfterIt) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  Registry reg;
  reg.add_op(triple_op());
  reg.add_impl("toy", "triple",
               host("cpu.drifts", [calls](const TensorMap& in, TensorMap& out, const Params& p) {
                 triple(in, out, p);
                 if (++*calls > 1) out.at("y").data<float>()[7] *= 1.5f;
               }));
  const RunResult checked = run(reg, {"cpu.drifts"}, false);
  EXPECT_EQ(find(checked, "cpu.drifts").agreement.status, AgreementStatus::pass)
      << "only one run: nothing went wrong yet";

  *calls = 0;
  const RunResult timed = run(reg, {"cpu.drifts"}, true);
  const Agreement& a = find(timed, "cpu.drifts").agreement;
  EXPECT_GT(calls->load(), 2);
  EXPECT_EQ(a.status, AgreementStatus::fail);
  EXPECT_TRUE(a.changed_during_timing);
  EXPECT_EQ(a.mismatches, 1);
  EXPECT_EQ(a.first_mismatch.rfind("after the timed runs: y[7]", 0), 0u) << a.first_mismatch;
  EXPECT_TRUE(find(timed, "cpu.drifts").timing.timed());  // timed all the same
}

TEST(Status, AListedKnownFailureIsXfailAndOneThatPassesIsReported) {
  Registry reg;
  reg.add_op(triple_op());
  reg.add_impl("toy", "triple", host("cpu.good", triple));
  reg.add_impl("toy", "triple",
               host("cpu.sloppy", [](const TensorMap& in, TensorMap& out, const Params& p) {
                 triple(in, out, p);
                 out.at("y").data<float>()[0] += 0.5f;
               }));
  reg.known_failures().add(
      {"toy/triple/cpu.sloppy/*", "rounds the first element its own way", "test"});
  // Planted: listed as failing, but the kernel is right.
  reg.known_failures().add({"toy/triple/cpu.good/*", "was wrong once", "test"});
  const RunResult r = run(reg, {"cpu.good", "cpu.sloppy"}, false);
  const Agreement& sloppy = find(r, "cpu.sloppy").agreement;
  EXPECT_EQ(sloppy.status, AgreementStatus::xfail);
  EXPECT_EQ(sloppy.known_failure, "rounds the first element its own way");
  const Agreement& good = find(r, "cpu.good").agreement;
  EXPECT_EQ(good.status, AgreementStatus::pass);
  EXPECT_EQ(good.known_failure, "was wrong once");

  std::ostringstream out;
  reports::print_summary(reports::build_report(r), out, false);
  const std::string s = out.str();
  EXPECT_NE(s.find("toy/triple/cpu.good/f32/n:64/dist:normal: listed as a known failure but passes "
                   "now, as does every case of its entry in this run"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("1 case failed as known (xfail): rounds the first element its own way"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("0 failed agreement, 1 known failures (xfail)"), std::string::npos) << s;
  EXPECT_NE(s.find("1 stale known failures"), std::string::npos) << s;
}

TEST(KnownFailures, GlobMatchesAnyRunIncludingSlashes) {
  EXPECT_TRUE(glob_match("norm/layernorm/onednn/*/dist:offset",
                         "norm/layernorm/onednn/f32/rows:64/cols:4096/dist:offset"));
  EXPECT_FALSE(glob_match("norm/layernorm/onednn/*/dist:offset",
                          "norm/layernorm/onednn/f32/rows:64/cols:4096/dist:offset2"));
  EXPECT_FALSE(glob_match("norm/layernorm/onednn/*/dist:offset",
                          "norm/rmsnorm/onednn/f32/rows:64/dist:offset"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("a*b*c", "axxbyyc"));
  EXPECT_FALSE(glob_match("a*b*c", "axxbyy"));
  EXPECT_TRUE(glob_match("exact", "exact"));
  EXPECT_FALSE(glob_match("exact", "exact/"));
}

// A pattern names a case and its variants below it: the CUDA timing modes of a case (found on
// an H200: the log_scan entries missed ".../dist:uniform/mode:hot" and its cases read FAIL).
TEST(KnownFailures, APatternCoversTheVariantsOfTheCaseItNames) {
  KnownFailures k;
  k.add({"scan/log_scan/*/dist:uniform", "why", "m.json"});
  const std::string hot = "scan/log_scan/cuda.fast/f32/batch:2/T:1024/D:256/dist:uniform/mode:hot";
  ASSERT_NE(k.match(hot), nullptr);
  EXPECT_EQ(k.match(hot)->reason, "why");
  EXPECT_NE(k.match("scan/log_scan/cpu.fast/f32/batch:2/T:1024/D:256/dist:uniform"), nullptr);
  EXPECT_EQ(k.match("scan/log_scan/cuda.fast/f32/batch:2/T:1024/D:256/dist:uniform2/mode:hot"),
            nullptr);
  EXPECT_EQ(k.match("scan/log_scan/cuda.fast/f32/batch:2/T:1024/D:256/dist:near_one/mode:hot"),
            nullptr);
  EXPECT_EQ(k.match("scan/linear_scan/cuda.fast/f32/dist:uniform/mode:hot"), nullptr);
}

TEST(KnownFailures, ManifestEntriesNeedACaseAndAReason) {
  KnownFailures k;
  k.load_json(R"({"known_failures": [{"case": "a/*", "reason": "why"}]})", "m.json");
  ASSERT_EQ(k.entries().size(), 1u);
  EXPECT_EQ(k.match("a/b")->reason, "why");
  EXPECT_EQ(k.match("b/a"), nullptr);
  for (const char* bad : {R"({"known_failures": [{"case": "a/*"}]})",
                          R"({"known_failures": [{"case": "", "reason": "x"}]})",
                          R"({"known_failures": {}})", R"([)"}) {
    try {
      KnownFailures again;
      again.load_json(bad, "m.json");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("m.json", 0), 0u) << e.what();
    }
  }
}

TEST(Agreement, ErrorRatioIsTheWorstErrorOverTheAllowedError) {
  Tensor out(DType::f32, {3}), ref(DType::f64, {3});
  const float o[] = {1.01f, 2.0f, 100.5f};
  const double r[] = {1.0, 2.0, 100.0};
  for (int i = 0; i < 3; ++i) {
    out.data<float>()[i] = o[i];
    ref.data<double>()[i] = r[i];
  }
  // atol 0.01, rtol 0.01: allowed 0.02, 0.03, 1.01. Errors 0.01 (as float32 rounds 1.01), 0,
  // 0.5: ratios 0.5, 0, 0.495; the worst is 0.5.
  const Agreement a = compare_tensor("y", out, ref, {0.01, 0.01}, false);
  EXPECT_TRUE(a.passed);
  EXPECT_NEAR(a.err_ratio, 0.5, 1e-5);
  // Relative errors 0.01 and 0.005, both where |ref| >= atol / rtol = 1: the largest is 0.01.
  EXPECT_NEAR(a.max_rel_err, 0.01, 1e-6);
  Tensor near_zero(DType::f32, {1}), zero_ref(DType::f64, {1});
  near_zero.data<float>()[0] = 0.004f;
  zero_ref.data<double>()[0] = 0.001;  // within atol; a relative error of 3 means nothing here
  const Agreement z = compare_tensor("y", near_zero, zero_ref, {0.01, 0.01}, false);
  EXPECT_TRUE(z.passed);
  EXPECT_EQ(z.max_rel_err, 0);
  EXPECT_NEAR(z.err_ratio, 0.003 / (0.01 + 0.01 * 0.001), 1e-6);
}

}  // namespace
}  // namespace opbench
