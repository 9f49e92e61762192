// merge_reports() (reports/merge.hpp): shard reports of one plan joined into the report of the
// whole plan, in the plan's order, with every case's own times, rates and agreement; and every
// way reports can fail to make one report refused with one line naming the file.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "harness/errors.hpp"
#include "harness/results.hpp"
#include "reports/json_report.hpp"
#include "reports/merge.hpp"
#include "reports/report_model.hpp"

namespace opbench::reports {
namespace {

using nlohmann::json;

// The plan of these tests: 3 datasets (rows 64, 128, 256) with 2 implementations each.
const std::vector<std::string> kPlan = {
    "norm/layernorm/cpu.plain/f32/rows:64",  "norm/layernorm/cpu.fast/f32/rows:64",
    "norm/layernorm/cpu.plain/f32/rows:128", "norm/layernorm/cpu.fast/f32/rows:128",
    "norm/layernorm/cpu.plain/f32/rows:256", "norm/layernorm/cpu.fast/f32/rows:256"};
const std::string kFingerprint = "fnv1a64:00112233445566aa";

std::string dataset_of(std::size_t position) {
  return "norm/layernorm/f32/rows:" + std::to_string(64 << (position / 2));
}

// The report of one shard holding the plan positions `positions` (in that order), as
// `opbench run --shard` writes it: two repetitions per case, a copy ceiling, a dataset per
// point, the plan block.
json shard_report(const std::string& shard, const std::vector<std::size_t>& positions,
                  const std::string& host = "node1") {
  RunResult run;
  run.context = {{"host_name", host}, {"num_cpus", 2}, {"date", "2025-01-0" + shard.substr(0, 1)}};
  run.build.tool_version = "0.1.0";
  run.build.git_commit = "abc123";
  run.build.compiler = "GNU 12.2.0";
  run.build.cxx_flags = "-O3";
  run.devices = {"cpu: Test CPU, 2 threads, OMP_WAIT_POLICY=active"};
  run.threads = 2;
  run.command_line = "opbench run --shard " + shard;
  Ceiling copy;
  copy.backend = "cpu";
  copy.kind = "copy";
  copy.bytes = 1 << 20;
  copy.timing.repetitions = {{1e-5, 1e-5, 100, {}}};
  run.ceilings.push_back(copy);
  for (std::size_t pos : positions) {
    CaseRecord c;
    c.name = kPlan[pos];
    c.suite = "norm";
    c.op = "layernorm";
    c.impl = pos % 2 ? "cpu.fast" : "cpu.plain";
    c.backend = "cpu";
    c.dtype = "f32";
    c.dataset = dataset_of(pos);
    c.cost = {1e6, 1e6};
    c.agreement.status = AgreementStatus::pass;
    c.agreement.checked = true;
    const double t = 1e-6 * static_cast<double>(pos + 1);
    c.timing.repetitions = {{t, t, 10, {}}, {1.1 * t, t, 10, {}}};
    c.rates.gbps = 1.0 / t;
    c.rates.ceiling_fraction = 0.5;
    run.cases.push_back(c);
    if (run.datasets.empty() || run.datasets.back().key != c.dataset) {
      DatasetRecord d;
      d.key = c.dataset;
      d.tensors = {{"x", "f32", {64, 8}, "generated", "normal", 7, "fnv1a64:" + c.dataset}};
      run.datasets.push_back(d);
    }
  }
  run.plan.fingerprint = kFingerprint;
  run.plan.planned = kPlan.size();
  run.plan.shard = shard;
  run.plan.positions = positions;
  return build_report(run);
}

std::vector<ShardReport> three_shards() {
  // As --shard assigns datasets: by cost, not by plan position.
  return {{"s2.json", shard_report("2/3", {0, 1})},
          {"s1.json", shard_report("1/3", {4, 5})},
          {"s3.json", shard_report("3/3", {2, 3}, "node3")}};
}

std::vector<std::string> case_names(const json& doc) {
  std::vector<std::string> out;
  for (const json& c : doc["opbench"]["cases"]) out.push_back(c["name"]);
  return out;
}

TEST(Merge, JoinsShardsInThePlansOrder) {
  const MergeResult m = merge_reports(three_shards(), "opbench merge s2.json s1.json s3.json");
  EXPECT_TRUE(m.warnings.empty());
  EXPECT_FALSE(m.missing);
  EXPECT_EQ(m.planned, 6u);
  EXPECT_EQ(m.merged, 6u);
  const json& doc = m.report;
  EXPECT_EQ(validate_report(doc), "");
  EXPECT_EQ(case_names(doc), kPlan);
  const json& plan = doc["opbench"]["plan"];
  EXPECT_EQ(plan["fingerprint"], kFingerprint);
  EXPECT_EQ(plan["shard"], "");
  EXPECT_EQ(plan["positions"], json({0, 1, 2, 3, 4, 5}));
  ASSERT_EQ(plan["shards"].size(), 3u);
  EXPECT_EQ(plan["shards"][0]["shard"], "1/3");
  EXPECT_EQ(plan["shards"][0]["source"], "s1.json");
  EXPECT_EQ(plan["shards"][2]["host"], "node3");  // hosts may differ within a machine class
  // The first shard's context.
  EXPECT_EQ(doc["context"]["host_name"], "node1");
  EXPECT_EQ(doc["context"]["date"], "2025-01-01");
  EXPECT_EQ(doc["opbench"]["command_line"], "opbench merge s2.json s1.json s3.json");

  // Google Benchmark's entries: each case's two repetitions and four aggregates, in plan order,
  // numbered as an unsharded run numbers its families.
  const json& benchmarks = doc["benchmarks"];
  ASSERT_EQ(benchmarks.size(), 6u * 6u);
  for (std::size_t i = 0; i < benchmarks.size(); ++i) {
    const std::size_t c = i / 6;
    EXPECT_EQ(benchmarks[i]["run_name"], kPlan[c] + "/real_time") << i;
    EXPECT_EQ(benchmarks[i]["family_index"], c) << i;
  }
  // Every case's own time and rates, as its shard wrote them.
  const RunData run = extract_run(doc, "all.json");
  ASSERT_EQ(run.cases.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_DOUBLE_EQ(run.cases[i].median, 1.05e-6 * static_cast<double>(i + 1)) << i;
    EXPECT_EQ(run.cases[i].status, AgreementStatus::pass);
  }
  // Datasets: one of each; every shard's ceilings, marked with the shard.
  EXPECT_EQ(doc["opbench"]["datasets"].size(), 3u);
  ASSERT_EQ(doc["opbench"]["ceilings"].size(), 3u);
  EXPECT_EQ(doc["opbench"]["ceilings"][1]["shard"], "2/3");
}

TEST(Merge, OneUnshardedReportIsItsOwnMerge) {
  const MergeResult m =
      merge_reports({{"all.json", shard_report("", {0, 1, 2, 3, 4, 5})}}, "opbench merge");
  EXPECT_FALSE(m.missing);
  EXPECT_EQ(case_names(m.report), kPlan);
  EXPECT_FALSE(m.report["opbench"]["ceilings"][0].contains("shard"));
}

TEST(Merge, MissingShardsAndCasesAreWarnings) {
  auto shards = three_shards();
  shards.erase(shards.begin());  // no 2/3
  MergeResult m = merge_reports(shards, "opbench merge");
  EXPECT_TRUE(m.missing);
  ASSERT_EQ(m.warnings.size(), 2u);
  EXPECT_EQ(m.warnings[0], "shard 2/3 missing: no report given");
  EXPECT_EQ(m.warnings[1], "the merged report holds 4 of the 6 planned cases: 2 missing");
  EXPECT_EQ(validate_report(m.report), "");

  // A shard that ran part of its cases (a --benchmark_filter, a killed run): the count says so.
  m = merge_reports(
      {{"s1.json", shard_report("1/2", {0, 1, 2})}, {"s2.json", shard_report("2/2", {4})}},
      "opbench merge");
  EXPECT_TRUE(m.missing);
  ASSERT_EQ(m.warnings.size(), 1u);
  EXPECT_EQ(m.warnings[0], "the merged report holds 4 of the 6 planned cases: 2 missing");
}

// Expects merge_reports to refuse with one line that starts with `source` and holds `words`.
void expect_refused(const std::vector<ShardReport>& shards, const std::string& source,
                    const std::string& words) {
  try {
    merge_reports(shards, "opbench merge");
    ADD_FAILURE() << "merged; expected a refusal naming " << source << ": " << words;
  } catch (const UsageError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(source + ": ", 0), 0u) << what;
    EXPECT_NE(what.find(words), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

// Three shards with one change made to shard 3/3's report.
std::vector<ShardReport> with_third(const std::function<void(json&)>& change) {
  auto shards = three_shards();
  change(shards[2].doc);
  return shards;
}

TEST(Merge, RefusesReportsOfAnotherPlanBuildOrMachine) {
  expect_refused(with_third([](json& d) { d["opbench"].erase("plan"); }), "s3.json",
                 "no opbench.plan");
  expect_refused(with_third([](json& d) { d["opbench"]["plan"]["fingerprint"] = "fnv1a64:ffff"; }),
                 "s3.json", "another plan");
  expect_refused(with_third([](json& d) { d["opbench"]["git"]["commit"] = "def456"; }), "s3.json",
                 "another build (opbench.git");
  expect_refused(with_third([](json& d) { d["opbench"]["build"]["cxx_flags"] = "-O2"; }), "s3.json",
                 "another build (opbench.build");
  expect_refused(with_third([](json& d) { d["opbench"]["tool_version"] = "0.2.0"; }), "s3.json",
                 "another opbench version");
  expect_refused(with_third([](json& d) { d["opbench"]["devices"][0] = "cpu: Other CPU"; }),
                 "s3.json", "another machine class");
  expect_refused(with_third([](json& d) { d["context"]["num_cpus"] = 4; }), "s3.json",
                 "another machine class");
  expect_refused(with_third([](json& d) { d["opbench"]["timed"] = false; }), "s3.json",
                 "check vs run");
  expect_refused(with_third([](json& d) { d["opbench"]["threads"] = 1; }), "s3.json",
                 "another thread count");
}

TEST(Merge, RefusesShardsAndCasesGivenTwice) {
  auto shards = three_shards();
  shards.push_back({"again.json", shard_report("2/3", {0, 1})});
  expect_refused(shards, "again.json", "shard 2/3 given twice (also s2.json)");

  // The same case in two shards (a report of another assignment).
  expect_refused(
      {{"a.json", shard_report("1/2", {0, 1, 2})}, {"b.json", shard_report("2/2", {2, 3, 4, 5})}},
      "b.json", "case norm/layernorm/cpu.plain/f32/rows:128 is also in a.json");
  expect_refused({{"a.json", shard_report("1/2", {0, 1})}, {"b.json", shard_report("2/3", {2})}},
                 "b.json", "another shard count");
  expect_refused({{"a.json", shard_report("1/1", {0, 1})}, {"b.json", shard_report("", {2})}},
                 "b.json", "given twice");
  // A merged report is not a shard.
  json merged = merge_reports(three_shards(), "opbench merge").report;
  expect_refused({{"all.json", merged}}, "all.json", "a merged report");
}

TEST(Merge, ADatasetInTwoShardsMustHoldTheSameTensors) {
  // The same dataset in both reports (its two cases split: not what --shard does, but a dataset
  // is what it is): deduplicated when the checksums agree, refused when they differ.
  auto a = shard_report("1/2", {0, 1, 2});
  auto b = shard_report("2/2", {3, 4, 5});
  MergeResult m = merge_reports({{"a.json", a}, {"b.json", b}}, "opbench merge");
  EXPECT_EQ(m.report["opbench"]["datasets"].size(), 3u);
  b["opbench"]["datasets"]["norm/layernorm/f32/rows:128"]["tensors"][0]["checksum"] =
      "fnv1a64:0000000000000000";
  expect_refused({{"a.json", a}, {"b.json", b}}, "b.json",
                 "dataset norm/layernorm/f32/rows:128 has other checksums than in a.json");
}

TEST(Merge, RefusesPositionsThatDoNotFitTheCases) {
  expect_refused(with_third([](json& d) { d["opbench"]["plan"]["positions"] = json({2}); }),
                 "s3.json", "1 positions for 2 cases");
  expect_refused(with_third([](json& d) {
                   d["opbench"]["plan"]["positions"] = json({2, 9});
                 }),
                 "s3.json", "9 is beyond the plan's 6 cases");
  expect_refused(with_third([](json& d) {
                   d["opbench"]["plan"]["positions"] = json({2, 5});
                 }),
                 "s3.json", "holds plan position 5");
}

}  // namespace
}  // namespace opbench::reports
