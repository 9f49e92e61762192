// Interleaved repetitions (RunOptions::interleave, harness/interleave.hpp): a case's repetitions
// are taken in rounds over all cases instead of back to back, and are reported as Google
// Benchmark writes --benchmark_repetitions (numbered entries, then mean, median, stddev, cv).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "datasets/provider.hpp"
#include "harness/registry.hpp"
#include "harness/runner.hpp"
#include "reports/json_writer.hpp"

namespace opbench {
namespace {

using nlohmann::json;

// A run of one case "op/x" with the given repetitions (real and CPU nanoseconds per execution).
RunResult one_case(const std::vector<std::pair<double, double>>& ns, bool aggregates_only) {
  RunResult r;
  CaseRecord c;
  c.name = "op/x";
  c.suite = "toy";
  c.op = "x";
  c.impl = "cpu.a";
  c.backend = "cpu";
  c.dtype = "f32";
  c.agreement.status = AgreementStatus::pass;
  c.agreement.checked = true;
  for (const auto& [real, cpu] : ns)
    c.timing.repetitions.push_back({real * 1e-9, cpu * 1e-9, 10, {}});
  r.cases.push_back(c);
  r.aggregates_only = aggregates_only;
  return r;
}

const json& aggregate(const json& out, const std::string& name) {
  for (const auto& e : out) {
    if (e.value("aggregate_name", "") == name) return e;
  }
  throw std::runtime_error("no aggregate " + name);
}

TEST(Repetitions, NumbersTheRunsAndAddsHandComputedAggregates) {
  const json out =
      reports::build_report(one_case({{1, 10}, {4, 40}, {2, 20}}, false))["benchmarks"];
  ASSERT_EQ(out.size(), 3u + 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].at("name"), "op/x/real_time");
    EXPECT_EQ(out[i].at("run_name"), "op/x/real_time");
    EXPECT_EQ(out[i].at("run_type"), "iteration");
    EXPECT_EQ(out[i].at("repetition_index"), i);
    EXPECT_EQ(out[i].at("repetitions"), 3);
    EXPECT_EQ(out[i].at("iterations"), 10);
  }
  EXPECT_NEAR(out[1].at("real_time").get<double>(), 4.0, 1e-9);  // in the order taken
  // 1, 4, 2: mean 7/3, median 2, sample stddev sqrt(((1-7/3)^2 + (4-7/3)^2 + (2-7/3)^2) / 2).
  const double sd = std::sqrt((16.0 / 9 + 25.0 / 9 + 1.0 / 9) / 2);
  const json& mean = aggregate(out, "mean");
  EXPECT_EQ(mean.at("name"), "op/x/real_time_mean");
  EXPECT_EQ(mean.at("run_type"), "aggregate");
  EXPECT_EQ(mean.at("aggregate_unit"), "time");
  EXPECT_EQ(mean.at("iterations"), 3);
  EXPECT_FALSE(mean.contains("repetition_index"));
  EXPECT_NEAR(mean.at("real_time").get<double>(), 7.0 / 3, 1e-9);
  EXPECT_NEAR(mean.at("cpu_time").get<double>(), 70.0 / 3, 1e-9);
  EXPECT_NEAR(aggregate(out, "median").at("real_time").get<double>(), 2.0, 1e-9);
  EXPECT_NEAR(aggregate(out, "stddev").at("real_time").get<double>(), sd, 1e-9);
  EXPECT_EQ(aggregate(out, "cv").at("aggregate_unit"), "percentage");
  EXPECT_NEAR(aggregate(out, "cv").at("real_time").get<double>(), sd / (7.0 / 3), 1e-9);
}

TEST(Repetitions, EvenCountMedianAggregatesOnlyAndErrors) {
  const json out =
      reports::build_report(one_case({{1, 1}, {10, 10}, {2, 2}, {4, 4}}, true))["benchmarks"];
  ASSERT_EQ(out.size(), 4u);  // aggregates only
  EXPECT_NEAR(aggregate(out, "median").at("real_time").get<double>(), 3.0, 1e-9);

  const json one = reports::build_report(one_case({{5, 5}}, false))["benchmarks"];
  ASSERT_EQ(one.size(), 1u);  // one repetition: no aggregates, as Google Benchmark
  EXPECT_EQ(one[0].at("name"), "op/x/real_time");

  RunResult errored = one_case({}, false);
  errored.cases[0].error = "kernel threw";
  errored.cases[0].agreement.status = AgreementStatus::error;
  const json failed = reports::build_report(errored)["benchmarks"];
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].at("error_occurred"), true);
  EXPECT_EQ(failed[0].at("error_message"), "kernel threw");
  EXPECT_EQ(failed[0].at("name"), "op/x/real_time");
}

Axis int_axis(const char* name, std::vector<std::string> quick) {
  return Axis{name, Axis::Kind::integer, std::move(quick), {}, ""};
}

// y = 2 x over two sizes, with two implementations whose binds are logged: a bind happens once
// per repetition round, so the log shows the order in which the cases were timed.
Op logged_op(std::vector<std::string>* binds) {
  Op op;
  op.suite = "toy";
  op.name = "logged";
  op.axes = {int_axis("n", {"64", "128"}),
             Axis{"dist", Axis::Kind::text, {"normal"}, {"normal"}, ""}};
  op.tensors = {TensorDecl{"x", {"n"}, false, false, "$dist"},
                TensorDecl{"y", {"n"}, true, false, ""}};
  op.cost = [](const Params& p, DType) {
    return Cost{static_cast<double>(p.i("n")), 8.0 * p.i("n")};
  };
  op.tolerance = [](DType) { return Tolerance{1e-6, 1e-6}; };
  op.reference = [](const TensorMap& in, TensorMap& out, const Params&) {
    for (std::int64_t i = 0; i < in.at("x").numel(); ++i) {
      out.at("y").data<double>()[i] = 2.0 * in.at("x").value_as_double(i);
    }
  };
  for (const char* name : {"cpu.a", "cpu.b"}) {
    Impl impl;
    impl.name = name;
    impl.backend = "cpu";
    BindFn inner = bind_host([](const TensorMap& in, TensorMap& out, const Params&) {
      for (std::int64_t i = 0; i < in.at("x").numel(); ++i) {
        out.at("y").data<float>()[i] = 2.0f * in.at("x").data<float>()[i];
      }
    });
    impl.bind = [binds, inner, name](const TensorMap& in, TensorMap& out, const Params& p) {
      binds->push_back(std::string(name) + "/n:" + std::to_string(p.i("n")));
      return inner(in, out, p);
    };
    op.impls.push_back(std::move(impl));
  }
  return op;
}

RunResult timed_run(std::vector<std::string>* binds, bool interleave,
                    std::vector<std::string> flags) {
  Registry reg;
  reg.add_op(logged_op(binds));
  datasets::SeededDataProvider data;
  Selection sel;
  sel.impls = {"cpu.a", "cpu.b"};
  RunOptions opt;
  opt.interleave = interleave;
  opt.benchmark_flags = std::move(flags);
  opt.benchmark_flags.push_back("--benchmark_min_time=0.001");
  return run_cases(reg, plan_cases(reg, sel, data), data, sel, opt);
}

// The iteration entries of each case, by run name.
std::map<std::string, std::vector<json>> iterations_by_case(const RunResult& r) {
  std::map<std::string, std::vector<json>> out;
  const json report = reports::build_report(r);
  for (const auto& b : report.at("benchmarks")) {
    if (b.at("run_type") == "iteration") out[b.at("run_name")].push_back(b);
  }
  return out;
}

TEST(Interleave, RepetitionsAreTakenInRoundsAndReportedAsGoogleBenchmarkDoes) {
  std::vector<std::string> binds;
  RunResult r = timed_run(&binds, true, {"--benchmark_repetitions=3"});
  EXPECT_TRUE(r.interleaved);
  // 4 cases, each bound once for its check and first repetition, then once per later round.
  ASSERT_EQ(binds.size(), 12u);
  // Round one is the plan order; every later round holds each case exactly once.
  EXPECT_EQ(std::vector<std::string>(binds.begin(), binds.begin() + 4),
            (std::vector<std::string>{"cpu.a/n:64", "cpu.b/n:64", "cpu.a/n:128", "cpu.b/n:128"}));
  for (int round = 1; round < 3; ++round) {
    std::vector<std::string> in_round(binds.begin() + 4 * round, binds.begin() + 4 * round + 4);
    std::sort(in_round.begin(), in_round.end());
    EXPECT_EQ(in_round,
              (std::vector<std::string>{"cpu.a/n:128", "cpu.a/n:64", "cpu.b/n:128", "cpu.b/n:64"}))
        << "round " << round;
  }
  const auto cases = iterations_by_case(r);
  ASSERT_EQ(cases.size(), 4u);
  for (const auto& [name, entries] : cases) {
    EXPECT_EQ(name.find("repeats"), std::string::npos) << name;
    EXPECT_EQ(name.substr(name.size() - 10), "/real_time");
    ASSERT_EQ(entries.size(), 3u) << name;
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(entries[i].at("repetition_index"), i);
      EXPECT_EQ(entries[i].at("repetitions"), 3);
      // The iteration count Google Benchmark chose in round one is kept for the others.
      EXPECT_EQ(entries[i].at("iterations"), entries[0].at("iterations"));
    }
  }
  int medians = 0;
  const json report = reports::build_report(r);
  for (const auto& b : report.at("benchmarks"))
    medians += b.value("aggregate_name", "") == "median";
  EXPECT_EQ(medians, 4);
}

TEST(Interleave, TheRoundOrderIsSeededSoARunCanBeRepeated) {
  std::vector<std::string> first, second;
  timed_run(&first, true, {"--benchmark_repetitions=4"});
  timed_run(&second, true, {"--benchmark_repetitions=4"});
  EXPECT_EQ(first, second);
}

TEST(Interleave, OffOrOneRepetitionKeepsRepetitionsBackToBack) {
  std::vector<std::string> binds;
  RunResult off = timed_run(&binds, false, {"--benchmark_repetitions=3"});
  EXPECT_FALSE(off.interleaved);
  EXPECT_EQ(binds.size(), 4u);  // bound once: Google Benchmark repeats the case itself
  for (const auto& [name, entries] : iterations_by_case(off)) EXPECT_EQ(entries.size(), 3u);

  binds.clear();
  RunResult flag = timed_run(
      &binds, true, {"--benchmark_repetitions=3", "--benchmark_enable_random_interleaving=false"});
  EXPECT_FALSE(flag.interleaved);  // Google Benchmark's own flag decides when given
  EXPECT_EQ(binds.size(), 4u);

  binds.clear();
  RunResult single = timed_run(&binds, true, {});
  EXPECT_FALSE(single.interleaved);
  EXPECT_EQ(binds.size(), 4u);
}

}  // namespace
}  // namespace opbench
