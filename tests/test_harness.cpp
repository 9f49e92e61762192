// The engine on its own: axes, tensors, the agreement rule, the roofline fraction, the registry,
// the planner and the runner, on a toy op declared here (so nothing of a suite is needed).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <regex>
#include <string>

#include "datasets/provider.hpp"
#include "harness/agreement.hpp"
#include "harness/errors.hpp"
#include "harness/gbench_driver.hpp"
#include "harness/registry.hpp"
#include "harness/runner.hpp"

namespace opbench {
namespace {

Axis int_axis(const char* name, std::vector<std::string> quick,
              std::vector<std::string> full = {}) {
  return Axis{name, Axis::Kind::integer, std::move(quick), std::move(full), ""};
}

// --- axes -----------------------------------------------------------------------------------

TEST(Axes, ParsesIntegersAndPowersOfTwo) {
  Axis a = int_axis("cols", {});
  EXPECT_EQ(parse_axis_values(a, "1024, 2^12,3"), (std::vector<std::string>{"1024", "4096", "3"}));
}

TEST(Axes, RejectsBadIntegerValuesNamingAxisAndValue) {
  Axis a = int_axis("rows", {});
  for (const char* bad :
       {"abc", "0", "-4", "99999999999999999999", "3^2", "2^63", "", "1,,2", "12x", "+5"}) {
    try {
      parse_axis_values(a, bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("axis 'rows'"), std::string::npos) << e.what();
    }
  }
}

TEST(Axes, TextValuesAreNamesOnly) {
  Axis d{"dist", Axis::Kind::text, {}, {}, ""};
  EXPECT_EQ(parse_axis_values(d, "normal,offset"), (std::vector<std::string>{"normal", "offset"}));
  EXPECT_THROW(parse_axis_values(d, "normal;rm -rf"), UsageError);
}

TEST(Params, KeepsOrderAndFormatsPath) {
  Params p;
  p.set("rows", "64");
  p.set("cols", "4096");
  p.set("rows", "8");  // overwrite keeps the position
  EXPECT_EQ(p.path(), "rows:8/cols:4096");
  EXPECT_EQ(p.i("cols"), 4096);
  EXPECT_THROW(p.str("missing"), std::out_of_range);
}

// --- tensors ----------------------------------------------------------------------------------

TEST(Tensor, OverflowingShapeIsAUsageError) {
  EXPECT_THROW(Tensor(DType::f32, {std::int64_t{1} << 40, std::int64_t{1} << 40}), UsageError);
  EXPECT_THROW(shape_numel({-1, 4}), UsageError);
}

TEST(Tensor, PoisonMakesNaNAndSentinels) {
  Tensor f(DType::f32, {3, 5});
  f.poison();
  for (std::int64_t i = 0; i < f.numel(); ++i) EXPECT_TRUE(std::isnan(f.data<float>()[i]));
  Tensor k(DType::i64, {4});
  k.poison();
  EXPECT_EQ(k.data<std::int64_t>()[3], std::numeric_limits<std::int64_t>::min());
}

TEST(Tensor, CloneIsDeepAndCopiesShare) {
  Tensor a(DType::f32, {2});
  a.data<float>()[0] = 1.5f;
  Tensor shared = a;
  Tensor deep = a.clone();
  a.data<float>()[0] = 2.5f;
  EXPECT_EQ(shared.data<float>()[0], 2.5f);
  EXPECT_EQ(deep.data<float>()[0], 1.5f);
  EXPECT_THROW(a.data<double>(), std::logic_error);
}

TEST(Tensor, HalfAndBfloatDecode) {
  Tensor h(DType::f16, {2});
  h.data<f16_t>()[0] = f16_t{0x3C00};  // 1.0
  h.data<f16_t>()[1] = f16_t{0xC100};  // -2.5
  EXPECT_EQ(h.value_as_double(0), 1.0);
  EXPECT_EQ(h.value_as_double(1), -2.5);
  Tensor b(DType::bf16, {1});
  b.data<bf16_t>()[0] = bf16_t{0x3F80};  // 1.0
  EXPECT_EQ(b.value_as_double(0), 1.0);
  // The same 16 bits are different numbers in the two formats: neither reads as the other.
  EXPECT_THROW(h.data<bf16_t>(), std::logic_error);
  EXPECT_THROW(b.data<f16_t>(), std::logic_error);
  EXPECT_THROW(b.data<float>(), std::logic_error);
}

// --- agreement --------------------------------------------------------------------------------

Tensor f32(std::vector<float> v) {
  Tensor t(DType::f32, {static_cast<std::int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}
Tensor f64(std::vector<double> v) {
  Tensor t(DType::f64, {static_cast<std::int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.data<double>());
  return t;
}

TEST(Agreement, AppliesAtolPlusRtol) {
  // |1.02 - 1| = 0.02 <= 0.01 + 0.1 * 1; |0.5 - 0.3| = 0.2 > 0.01 + 0.1 * 0.3.
  Agreement a = compare_tensor("y", f32({1.02f, 0.5f}), f64({1.0, 0.3}), {0.01, 0.1}, false);
  EXPECT_TRUE(a.checked);
  EXPECT_FALSE(a.passed);
  EXPECT_EQ(a.mismatches, 1);
  EXPECT_EQ(a.elements, 2);
  EXPECT_NEAR(a.max_abs_err, 0.2, 1e-7);
  EXPECT_NEAR(a.max_rel_err, 0.2 / 0.3, 1e-6);
  EXPECT_NE(a.first_mismatch.find("y[1]"), std::string::npos) << a.first_mismatch;
}

TEST(Agreement, RelativeL2IsHandComputed) {
  // out = ref * 1.5 -> ||out - ref|| / ||ref|| = 0.5 exactly.
  Agreement a = compare_tensor("y", f32({3.0f, 6.0f}), f64({2.0, 4.0}), {10, 0}, false);
  EXPECT_TRUE(a.passed);
  EXPECT_DOUBLE_EQ(a.rel_l2_err, 0.5);
}

TEST(Agreement, NanAndInfPositionsMustMatch) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const double dnan = std::numeric_limits<double>::quiet_NaN();
  const double dinf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(compare_tensor("y", f32({nan, inf}), f64({dnan, dinf}), {1, 1}, false).passed);
  EXPECT_FALSE(compare_tensor("y", f32({nan}), f64({1.0}), {1e9, 1e9}, false).passed);
  EXPECT_FALSE(compare_tensor("y", f32({1.0f}), f64({dnan}), {1e9, 1e9}, false).passed);
  EXPECT_FALSE(compare_tensor("y", f32({-inf}), f64({dinf}), {1e9, 1e9}, false).passed);
}

TEST(Agreement, AReferenceBeyondTheDtypesRangeWantsTheInfinityRoundingGives) {
  // float16's largest value is 65504; 65520 and beyond round to infinity. A kernel that stores
  // inf there is right, one that clamps to 65504 is not (though within any tolerance of 3.4e6).
  Tensor out(DType::f16, {3});
  f16_t* o = out.data<f16_t>();
  o[0] = to_f16(std::numeric_limits<double>::infinity());
  o[1] = to_f16(-std::numeric_limits<double>::infinity());
  o[2] = to_f16(65504.0);
  const Agreement ok = compare_tensor("y", out, f64({3.4e6, -7e4, 65504.0}), {1e-5, 1e-3}, false);
  EXPECT_TRUE(ok.passed) << ok.first_mismatch;
  o[0] = to_f16(65504.0);
  const Agreement clamped = compare_tensor("y", out, f64({3.4e6, -7e4, 65504.0}), {1, 1}, false);
  EXPECT_FALSE(clamped.passed);
  EXPECT_EQ(clamped.mismatches, 1);
  // The same values in float32 are finite and compared by the tolerance as before.
  EXPECT_FALSE(compare_tensor("y", f32({INFINITY}), f64({3.4e6}), {1e-5, 1e-3}, false).passed);
}

TEST(Agreement, IndexOutputsAreExact) {
  Tensor out(DType::i64, {3}), ref(DType::i64, {3});
  for (int i = 0; i < 3; ++i) out.data<std::int64_t>()[i] = ref.data<std::int64_t>()[i] = i * 7;
  EXPECT_TRUE(compare_tensor("leaf", out, ref, {}, true).passed);
  out.data<std::int64_t>()[2] = 15;
  EXPECT_FALSE(compare_tensor("leaf", out, ref, {1e9, 1e9}, true).passed);
}

TEST(Agreement, ShapeMismatchFails) {
  Agreement a = compare_tensor("y", f32({1, 2, 3}), f64({1, 2}), {1, 1}, false);
  EXPECT_FALSE(a.passed);
  EXPECT_NE(a.first_mismatch.find("shape"), std::string::npos);
}

TEST(Agreement, MergeKeepsWorst) {
  Agreement total;
  merge_agreement(total, compare_tensor("y", f32({1}), f64({1}), {0, 0}, false));
  merge_agreement(total, compare_tensor("s", f32({2}), f64({1}), {0, 0}, false));
  EXPECT_FALSE(total.passed);
  EXPECT_EQ(total.mismatches, 1);
  EXPECT_EQ(total.elements, 2);
  EXPECT_DOUBLE_EQ(total.max_abs_err, 1.0);
}

TEST(Roofline, FractionOfTheCeilingTime) {
  // 1 GB at a 10 GB/s copy ceiling takes at least 0.1 s; measured 0.2 s -> 0.5.
  EXPECT_DOUBLE_EQ(ceiling_fraction({0, 1e9}, 0.2, 10, 0), 0.5);
  // Compute-bound: 1e12 flops at 1000 GFLOP/s take 1 s; measured 4 s -> 0.25.
  EXPECT_DOUBLE_EQ(ceiling_fraction({1e12, 1e9}, 4, 10, 1000), 0.25);
  EXPECT_EQ(ceiling_fraction({1e12, 1e9}, 4, 0, 0), 0);
}

// --- registry, planner, runner on a toy op ----------------------------------------------------

// toy_scale: y = 2 x over x[n, m]. Its "cpu.good" doubles, "cpu.bad" adds 1.
Op toy_op() {
  Op op;
  op.suite = "toy";
  op.name = "toy_scale";
  op.axes = {int_axis("n", {"2", "3"}, {"2", "3", "5"}), int_axis("m", {"4"}),
             Axis{"dist", Axis::Kind::text, {"normal"}, {"normal", "uniform"}, ""}};
  op.tensors = {TensorDecl{"x", {"n", "m"}, false, false, "$dist"},
                TensorDecl{"y", {"n", "m"}, true, false, ""}};
  op.cost = [](const Params& p, DType) {
    return Cost{static_cast<double>(p.i("n") * p.i("m")), 8.0 * p.i("n") * p.i("m")};
  };
  op.tolerance = [](DType) { return Tolerance{1e-6, 1e-6}; };
  op.validate = [](const Params& p) { return p.i("m") > 1000 ? "m too large" : ""; };
  op.reference = [](const TensorMap& in, TensorMap& out, const Params&) {
    const Tensor& x = in.at("x");
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      out.at("y").data<double>()[i] = 2.0 * x.value_as_double(i);
    }
  };
  auto impl = [](const char* name, float add) {
    Impl i;
    i.name = name;
    i.backend = "cpu";
    i.bind = bind_host([add](const TensorMap& in, TensorMap& out, const Params&) {
      const Tensor& x = in.at("x");
      for (std::int64_t k = 0; k < x.numel(); ++k) {
        out.at("y").data<float>()[k] = 2.0f * x.data<float>()[k] + add;
      }
    });
    return i;
  };
  op.impls = {impl("cpu.good", 0), impl("cpu.bad", 1)};
  return op;
}

TEST(Registry, AddsTheReferenceFirstAndRefusesDuplicates) {
  Registry reg;
  reg.add_op(toy_op());
  const Op* op = reg.find_op("toy/toy_scale");
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(op->impls.front().name, "ref");
  EXPECT_TRUE(op->impls.front().is_reference);
  EXPECT_THROW(reg.add_op(toy_op()), std::logic_error);
  EXPECT_THROW(reg.add_impl("toy", "nope", Impl{}), UsageError);
}

TEST(Planner, ExpandsTheSweepFirstAxisSlowest) {
  Registry reg;
  reg.add_op(toy_op());
  datasets::SeededDataProvider data;
  Selection sel;
  sel.impls = {"cpu.good"};
  sel.full = true;
  auto plan = plan_cases(reg, sel, data);
  ASSERT_EQ(plan.size(), 6u);  // n: 3 values x dist: 2 values
  EXPECT_EQ(plan[0].name, "toy/toy_scale/cpu.good/f32/n:2/m:4/dist:normal");
  EXPECT_EQ(plan[1].name, "toy/toy_scale/cpu.good/f32/n:2/m:4/dist:uniform");
  EXPECT_EQ(plan[5].name, "toy/toy_scale/cpu.good/f32/n:5/m:4/dist:uniform");
  EXPECT_EQ(plan[0].dataset_key, "toy/toy_scale/f32/n:2/m:4/dist:normal");
}

TEST(Planner, RefusesBadSelectionsWithTheKnownNames) {
  Registry reg;
  reg.add_op(toy_op());
  datasets::SeededDataProvider data;
  auto message = [&](Selection sel) -> std::string {
    try {
      plan_cases(reg, sel, data);
    } catch (const UsageError& e) {
      return e.what();
    }
    return "accepted";
  };
  Selection s;
  s.ops = {"nope"};
  EXPECT_NE(message(s).find("known: toy_scale"), std::string::npos) << message(s);
  s = {};
  s.impls = {"cpu.nope"};
  EXPECT_NE(message(s).find("cpu.good"), std::string::npos) << message(s);
  s = {};
  s.axis_overrides = {{"k", "4"}};
  EXPECT_NE(message(s).find("unknown axis 'k'"), std::string::npos) << message(s);
  s = {};
  s.axis_overrides = {{"m", "2000"}};
  EXPECT_NE(message(s).find("m too large"), std::string::npos) << message(s);
  s = {};
  s.axis_overrides = {{"dist", "cauchy"}};
  EXPECT_NE(message(s).find("unknown distribution 'cauchy'"), std::string::npos) << message(s);
  s = {};
  s.axis_overrides = {{"n", "4000000000"}, {"m", "1000"}};  // 4e12 elements: more than memory
  EXPECT_NE(message(s).find("memory"), std::string::npos) << message(s);
  s = {};
  s.dtypes = {"f8"};
  EXPECT_NE(message(s).find("unknown dtype"), std::string::npos) << message(s);
}

TEST(Runner, ChecksEveryImplementationAgainstTheReference) {
  Registry reg;
  reg.add_op(toy_op());
  datasets::SeededDataProvider data;
  Selection sel;
  auto plan = plan_cases(reg, sel, data);
  RunOptions opt;
  opt.time = false;
  RunResult r = run_cases(reg, plan, data, sel, opt);
  ASSERT_EQ(r.cases.size(), 6u);  // 2 points x (ref, good, bad)
  for (const auto& c : r.cases) {
    if (c.impl == "ref") {
      EXPECT_FALSE(c.agreement.checked);
      EXPECT_EQ(c.agreement.status, AgreementStatus::not_applicable);
    }
    if (c.impl == "cpu.good") {
      EXPECT_EQ(c.agreement.status, AgreementStatus::pass) << c.agreement.first_mismatch;
    }
    if (c.impl == "cpu.bad") {
      EXPECT_EQ(c.agreement.status, AgreementStatus::fail);
      EXPECT_EQ(c.agreement.mismatches, c.agreement.elements);
    }
  }
  ASSERT_EQ(r.datasets.size(), 2u);  // one per parameter point, shared by the implementations
  EXPECT_EQ(r.datasets[0].tensors.at(0).dist, "normal");
  EXPECT_FALSE(r.datasets[0].tensors.at(0).checksum.empty());
}

TEST(Runner, TimesThroughGoogleBenchmarkWithStableNames) {
  Registry reg;
  reg.add_op(toy_op());
  datasets::SeededDataProvider data;
  Selection sel;
  sel.impls = {"cpu.good"};
  sel.axis_overrides = {{"n", "2"}};
  auto plan = plan_cases(reg, sel, data);
  RunOptions opt;
  opt.benchmark_flags = {"--benchmark_min_time=0.001", "--benchmark_repetitions=2"};
  RunResult r = run_cases(reg, plan, data, sel, opt);
  ASSERT_EQ(r.cases.size(), 1u);
  const CaseRecord& c = r.cases[0];
  EXPECT_EQ(c.name, "toy/toy_scale/cpu.good/f32/n:2/m:4/dist:normal");
  EXPECT_EQ(c.timing.clock, "real_time");
  ASSERT_EQ(c.timing.repetitions.size(), 2u) << c.error;
  for (const Repetition& rep : c.timing.repetitions) {
    EXPECT_GT(rep.seconds, 0);
    EXPECT_GT(rep.iterations, 0);
  }
  // The one rule for a case's time: the median of its repetitions (two: their mean).
  EXPECT_DOUBLE_EQ(c.timing.seconds(),
                   0.5 * (c.timing.repetitions[0].seconds + c.timing.repetitions[1].seconds));
  bool copy = false, sgemm = false;
  for (const auto& k : r.ceilings) {
    copy |= k.kind == "copy" && k.bytes == 64 && k.seconds() > 0;
    sgemm |= k.kind == "sgemm" && k.gflops() > 0;
  }
  EXPECT_TRUE(copy);
  EXPECT_TRUE(sgemm);
  EXPECT_TRUE(r.context.contains("num_cpus"));
}

// --- accumulate-into outputs ----------------------------------------------------------------

// g = 2 x summed into an accumulate-into output; the implementations add (right), overwrite, or
// add twice. `entries` and `dirty` count the calls of cpu.adds and those that found a non-zero
// buffer.
struct AccumulateCounts {
  int entries = 0, dirty = 0;
};

Op accumulate_op(AccumulateCounts& counts) {
  Op op;
  op.suite = "toy";
  op.name = "toy_grad";
  op.axes = {int_axis("n", {"64"}), Axis{"dist", Axis::Kind::text, {"normal"}, {"normal"}, ""}};
  TensorDecl g{"g", {"n"}, true, false, ""};
  g.accumulate = true;
  op.tensors = {TensorDecl{"x", {"n"}, false, false, "$dist"}, g};
  op.cost = [](const Params& p, DType) { return Cost{0, 12.0 * p.i("n")}; };
  op.tolerance = [](DType) { return Tolerance{0, 0}; };  // 2x is exact: only the base's rounding
  op.reference = [](const TensorMap& in, TensorMap& out, const Params&) {
    for (std::int64_t i = 0; i < in.at("x").numel(); ++i) {
      out.at("g").data<double>()[i] = 2.0 * in.at("x").value_as_double(i);
    }
  };
  auto impl = [&counts](const char* name, int how) {
    Impl i;
    i.name = name;
    i.backend = "cpu";
    i.bind = bind_host([how, &counts](const TensorMap& in, TensorMap& out, const Params&) {
      const float* x = in.at("x").data<float>();
      float* g = out.at("g").data<float>();
      bool dirty = false;
      for (std::int64_t k = 0; k < in.at("x").numel(); ++k) {
        dirty = dirty || g[k] != 0.0f;
        if (how == 0) g[k] += 2.0f * x[k];  // accumulates
        if (how == 1) g[k] = 2.0f * x[k];   // overwrites
        if (how == 2) g[k] += 4.0f * x[k];  // adds twice
      }
      if (how == 0) {
        ++counts.entries;
        counts.dirty += dirty ? 1 : 0;
      }
    });
    return i;
  };
  op.impls = {impl("cpu.adds", 0), impl("cpu.overwrites", 1), impl("cpu.twice", 2)};
  return op;
}

// The agreement run starts from the base: overwriting or adding twice fails, adding passes.
TEST(AccumulateInto, OverwritingOrAddingTwiceFailsAgreement) {
  AccumulateCounts counts;
  Registry reg;
  reg.add_op(accumulate_op(counts));
  datasets::SeededDataProvider data;
  Selection sel;
  auto plan = plan_cases(reg, sel, data);
  RunOptions opt;
  opt.time = false;
  RunResult r = run_cases(reg, plan, data, sel, opt);
  ASSERT_EQ(r.cases.size(), 4u);
  for (const auto& c : r.cases) {
    if (c.impl == "ref") continue;
    EXPECT_EQ(c.agreement.status,
              c.impl == "cpu.adds" ? AgreementStatus::pass : AgreementStatus::fail)
        << c.impl << ": " << c.agreement.first_mismatch;
  }
  EXPECT_EQ(counts.entries, 1);
  EXPECT_EQ(counts.dirty, 1);  // it found the base
}

// Every timed call starts from a zeroed buffer (reset outside the timed region): of all the
// calls, only the agreement run found a non-zero buffer, and the outputs after the timed runs
// still agree.
TEST(AccumulateInto, TimingZeroesTheBufferBeforeEveryCall) {
  AccumulateCounts counts;
  Registry reg;
  reg.add_op(accumulate_op(counts));
  datasets::SeededDataProvider data;
  Selection sel;
  sel.impls = {"cpu.adds"};
  auto plan = plan_cases(reg, sel, data);
  RunOptions opt;
  opt.benchmark_flags = {"--benchmark_min_time=0.001", "--benchmark_repetitions=2"};
  RunResult r = run_cases(reg, plan, data, sel, opt);
  ASSERT_EQ(r.cases.size(), 1u);
  const CaseRecord& c = r.cases[0];
  EXPECT_TRUE(c.error.empty()) << c.error;
  ASSERT_EQ(c.timing.repetitions.size(), 2u);
  EXPECT_EQ(c.agreement.status, AgreementStatus::pass) << c.agreement.first_mismatch;
  EXPECT_GT(counts.entries, 3);
  EXPECT_EQ(counts.dirty, 1);  // the agreement run's base, and no timed call
}

// The context's date as Google Benchmark writes it, RFC 3339 with the offset's colon
// ("2026-12-04T02:25:02+00:00"; strftime's %z alone gives "+0000").
TEST(GbenchContext, TheDateIsRfc3339) {
  const std::string date = gbench_context().at("date").get<std::string>();
  EXPECT_TRUE(
      std::regex_match(date, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2})")))
      << date;
}

TEST(GbenchFilter, PositiveAndNegative) {
  EXPECT_TRUE(gbench_filter_matches("layernorm", "norm/layernorm/cpu.fast"));
  EXPECT_FALSE(gbench_filter_matches("-layernorm", "norm/layernorm/cpu.fast"));
  EXPECT_TRUE(gbench_filter_matches("-layernorm", "norm/rmsnorm/cpu.fast"));
  EXPECT_TRUE(gbench_filter_matches("", "anything"));
}

}  // namespace
}  // namespace opbench
