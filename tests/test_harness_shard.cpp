// Shards (harness/shard.hpp): every case of a plan in exactly one shard, a dataset's cases never
// split, shards balanced by cost on the real quick plan, the same assignment from the same plan,
// the fingerprint of the whole plan, and every malformed --shard or scheduler variable refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "datasets/provider.hpp"
#include "harness/errors.hpp"
#include "harness/registry.hpp"
#include "harness/runner.hpp"
#include "harness/shard.hpp"
#include "suites/suites.hpp"

namespace opbench {
namespace {

// The quick sweep of every suite: the plan a fleet runs by default.
std::vector<CasePlan> quick_plan(Registry& reg) {
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  return plan_cases(reg, Selection{}, data);
}

// A toy plan: datasets "d<i>" with `impls` cases each, the names "toy/op/<impl>/d<i>".
std::vector<CasePlan> toy_plan(int datasets, int impls) {
  std::vector<CasePlan> plan;
  for (int d = 0; d < datasets; ++d) {
    for (int i = 0; i < impls; ++i) {
      CasePlan c;
      c.dataset_key = "toy/op/d" + std::to_string(d);
      c.name = "toy/op/impl" + std::to_string(i) + "/d" + std::to_string(d);
      plan.push_back(c);
    }
  }
  return plan;
}

std::map<std::string, const char*> no_env;

EnvLookup lookup(const std::map<std::string, const char*>& vars) {
  return [&vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second;
  };
}

TEST(Shard, EveryCaseInExactlyOneShardAndDatasetsStayTogether) {
  Registry reg;
  const auto plan = quick_plan(reg);
  ASSERT_GT(plan.size(), 100u);
  for (int n : {1, 2, 3, 5, 8}) {
    std::multiset<std::string> seen;
    std::map<std::string, int> shard_of_dataset;
    for (int i = 1; i <= n; ++i) {
      const auto part = shard_plan(plan, ShardSpec{i, n});
      for (const CasePlan& c : part) {
        seen.insert(c.name);
        auto [it, fresh] = shard_of_dataset.emplace(c.dataset_key, i);
        EXPECT_EQ(it->second, i) << c.dataset_key << " split over shards " << it->second << " and "
                                 << i << " of " << n;
      }
      // A shard keeps the plan's order (a dataset's cases adjacent, as the runner needs them).
      std::vector<std::size_t> where;
      for (const CasePlan& c : part) {
        where.push_back(static_cast<std::size_t>(
            std::find_if(plan.begin(), plan.end(),
                         [&](const CasePlan& p) { return p.name == c.name; }) -
            plan.begin()));
      }
      EXPECT_TRUE(std::is_sorted(where.begin(), where.end())) << "shard " << i << "/" << n;
    }
    ASSERT_EQ(seen.size(), plan.size()) << n << " shards";
    for (const CasePlan& c : plan) EXPECT_EQ(seen.count(c.name), 1u) << c.name;
  }
}

TEST(Shard, ShardsAreBalancedByCostOnTheQuickPlan) {
  Registry reg;
  const auto plan = quick_plan(reg);
  for (int n : {2, 3, 4, 6}) {
    const ShardAssignment a = assign_shards(plan, n);
    const std::int64_t total = std::accumulate(a.load.begin(), a.load.end(), std::int64_t{0});
    const std::int64_t most = *std::max_element(a.load.begin(), a.load.end());
    const std::int64_t least = *std::min_element(a.load.begin(), a.load.end());
    const double mean = static_cast<double>(total) / n;
    // The guarantee of longest-processing-time-first: the largest shard exceeds the mean by at
    // most the most expensive dataset group.
    EXPECT_LE(static_cast<double>(most), mean + static_cast<double>(a.largest_group))
        << n << " shards";
    // On the real plan (hundreds of groups, none dominant) the shards are within 5% of the mean.
    EXPECT_LE(static_cast<double>(most), 1.05 * mean) << n << " shards";
    EXPECT_GE(static_cast<double>(least), 0.95 * mean) << n << " shards";
    // Case counts are not balanced: a shard holding the largest datasets runs fewer cases.
    for (int k = 0; k < n; ++k) EXPECT_GT(a.load[static_cast<std::size_t>(k)], 0) << k;
  }
}

TEST(Shard, LargerDatasetsCostMore) {
  // The cost follows the op's cost model: with two shards, the one dataset 100 times larger than
  // each of the others takes a shard of its own.
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  Selection sel;
  sel.ops = {"layernorm"};
  sel.impls = {"cpu.plain"};
  sel.dtypes = {"f32"};
  sel.axis_overrides = {{"rows", "64,65536"}, {"cols", "1024"}, {"dist", "normal"}};
  const auto plan = plan_cases(reg, sel, data);
  ASSERT_EQ(plan.size(), 2u);
  const ShardAssignment a = assign_shards(plan, 2);
  EXPECT_NE(a.shard_of_case[0], a.shard_of_case[1]);
  EXPECT_GT(a.load[static_cast<std::size_t>(a.shard_of_case[1])],
            a.load[static_cast<std::size_t>(a.shard_of_case[0])]);
}

TEST(Shard, TheSamePlanGivesTheSameAssignment) {
  // Two registries (other addresses for every op and impl), the same plan: the same shards.
  Registry reg_a, reg_b;
  const auto a = quick_plan(reg_a);
  const auto b = quick_plan(reg_b);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(assign_shards(a, 3).shard_of_case, assign_shards(b, 3).shard_of_case);
  // A literal, as another machine computes it: equal costs are ordered by dataset key, each to
  // the least loaded, lowest shard. Datasets d0..d4 (equal cost) over 2 shards: d0, d2, d4 to the
  // first, d1, d3 to the second.
  const auto toy = toy_plan(5, 2);
  const std::vector<int> expected = {0, 0, 1, 1, 0, 0, 1, 1, 0, 0};
  EXPECT_EQ(assign_shards(toy, 2).shard_of_case, expected);
}

TEST(Shard, MoreShardsThanDatasetsLeavesSomeEmpty) {
  const auto toy = toy_plan(2, 3);
  std::size_t total = 0, empty = 0;
  for (int i = 1; i <= 4; ++i) {
    const auto part = shard_plan(toy, ShardSpec{i, 4});
    total += part.size();
    empty += part.empty() ? 1 : 0;
  }
  EXPECT_EQ(total, toy.size());
  EXPECT_EQ(empty, 2u);
}

TEST(Shard, FingerprintIsThePlansNotTheShards) {
  const auto toy = toy_plan(3, 2);
  const std::string f = plan_fingerprint(toy, 1);
  // A literal: shard reports written by another build of the same plan must match it.
  EXPECT_EQ(f, "fnv1a64:6d6ce0d447ffbee6");
  EXPECT_NE(plan_fingerprint(toy, 2), f);             // another seed
  EXPECT_NE(plan_fingerprint(toy_plan(3, 3), 1), f);  // another selection
  auto reordered = toy;
  std::swap(reordered[0], reordered[1]);
  EXPECT_NE(plan_fingerprint(reordered, 1), f);

  std::vector<CaseRecord> cases;
  for (const CasePlan& c : shard_plan(toy, ShardSpec{2, 2})) cases.push_back(CaseRecord{c.name});
  const PlanInfo info = describe_plan(toy, 1, ShardSpec{2, 2}, cases);
  EXPECT_EQ(info.fingerprint, f);
  EXPECT_EQ(info.planned, toy.size());
  EXPECT_EQ(info.shard, "2/2");
  ASSERT_EQ(info.positions.size(), cases.size());
  for (std::size_t k = 0; k < cases.size(); ++k) {
    EXPECT_EQ(toy[info.positions[k]].name, cases[k].name);
  }
  EXPECT_EQ(describe_plan(toy, 1, ShardSpec{}, {}).shard, "");
}

TEST(Shard, ParsesIOverN) {
  const ShardSpec s = parse_shard("2/3", "--shard");
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 3);
  EXPECT_EQ(s.text(), "2/3");
  EXPECT_EQ(parse_shard("1/1", "--shard").text(), "1/1");
  EXPECT_FALSE(ShardSpec{}.sharded());
}

TEST(Shard, RefusesBadSpecs) {
  for (const char* bad : {"0/3",      "4/3",   "x",    "1/0",  "0/0",
                          "",         "/",     "1/",   "/3",   "1/3/4",
                          "-1/3",     "1/-3",  "+1/3", " 1/3", "1 /3",
                          "1.0/3",    "1/3.5", "a/b",  "2/1",  "99999999999999999999/3",
                          "1/2000000"}) {
    try {
      parse_shard(bad, "--shard");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.find("--shard '" + std::string(bad) + "'"), 0u) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
}

TEST(Shard, SlurmArrayTaskIdsFromZeroOrOne) {
  std::map<std::string, const char*> from_zero = {{"SLURM_ARRAY_TASK_ID", "0"},
                                                  {"SLURM_ARRAY_TASK_COUNT", "3"},
                                                  {"SLURM_ARRAY_TASK_MIN", "0"},
                                                  {"SLURM_ARRAY_TASK_MAX", "2"}};
  ShardSpec s = shard_from_environment(lookup(from_zero));
  EXPECT_EQ(s.text(), "1/3");
  EXPECT_EQ(s.source, "SLURM_ARRAY_TASK_ID");
  from_zero["SLURM_ARRAY_TASK_ID"] = "2";
  EXPECT_EQ(shard_from_environment(lookup(from_zero)).text(), "3/3");

  std::map<std::string, const char*> from_one = {{"SLURM_ARRAY_TASK_ID", "3"},
                                                 {"SLURM_ARRAY_TASK_COUNT", "3"},
                                                 {"SLURM_ARRAY_TASK_MIN", "1"},
                                                 {"SLURM_ARRAY_TASK_MAX", "3"}};
  EXPECT_EQ(shard_from_environment(lookup(from_one)).text(), "3/3");
  from_one["SLURM_ARRAY_TASK_ID"] = "1";
  EXPECT_EQ(shard_from_environment(lookup(from_one)).text(), "1/3");
}

TEST(Shard, KubernetesCompletionIndexWithTheCount) {
  std::map<std::string, const char*> vars = {{"JOB_COMPLETION_INDEX", "0"},
                                             {"OPBENCH_SHARD_COUNT", "4"}};
  EXPECT_EQ(shard_from_environment(lookup(vars)).text(), "1/4");
  vars["JOB_COMPLETION_INDEX"] = "3";
  EXPECT_EQ(shard_from_environment(lookup(vars)).text(), "4/4");
  EXPECT_EQ(shard_from_environment(lookup(vars)).source, "JOB_COMPLETION_INDEX");
  EXPECT_FALSE(shard_from_environment(lookup(no_env)).sharded());
}

TEST(Shard, RefusesBadSchedulerVariables) {
  const std::vector<std::map<std::string, const char*>> bad = {
      {{"SLURM_ARRAY_TASK_ID", "x"},
       {"SLURM_ARRAY_TASK_COUNT", "3"},
       {"SLURM_ARRAY_TASK_MIN", "0"}},
      {{"SLURM_ARRAY_TASK_ID", "1"},
       {"SLURM_ARRAY_TASK_COUNT", "three"},
       {"SLURM_ARRAY_TASK_MIN", "0"}},
      {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_MIN", "0"}},    // no count
      {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "3"}},  // no minimum
      {{"SLURM_ARRAY_TASK_ID", "4"},  // a step (--array=0-8:4): ids 0, 4, 8
       {"SLURM_ARRAY_TASK_COUNT", "3"},
       {"SLURM_ARRAY_TASK_MIN", "0"},
       {"SLURM_ARRAY_TASK_MAX", "8"}},
      {{"SLURM_ARRAY_TASK_ID", "5"},  // beyond the count, with no maximum to tell
       {"SLURM_ARRAY_TASK_COUNT", "3"},
       {"SLURM_ARRAY_TASK_MIN", "0"}},
      {{"JOB_COMPLETION_INDEX", "-1"}, {"OPBENCH_SHARD_COUNT", "3"}},
      {{"JOB_COMPLETION_INDEX", "1"}},  // no count: every pod would run the whole plan
      {{"JOB_COMPLETION_INDEX", "3"}, {"OPBENCH_SHARD_COUNT", "3"}},
      {{"JOB_COMPLETION_INDEX", "1"}, {"OPBENCH_SHARD_COUNT", ""}},
      {{"JOB_COMPLETION_INDEX", "1"}, {"OPBENCH_SHARD_COUNT", "0"}},
  };
  for (const auto& vars : bad) {
    std::string shown;
    for (const auto& [k, v] : vars) shown += k + "=" + v + " ";
    try {
      const ShardSpec s = shard_from_environment(lookup(vars));
      ADD_FAILURE() << "accepted " << shown << "as " << s.text();
    } catch (const UsageError& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace opbench
