#pragma once
// Shards: a stable, cost-balanced share of a plan, so that N machines (a Slurm array, a Kubernetes
// Indexed Job, a CI matrix) each run one part and `opbench merge` joins their reports into the
// report of the whole plan. The plan's fingerprint says which plan a shard report belongs to.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "harness/results.hpp"
#include "harness/runner.hpp"

namespace opbench {

// Shard `index` of `count` (1-based, 1 <= index <= count); count 0: the whole plan (no shard).
struct ShardSpec {
  int index = 0;
  int count = 0;
  std::string source;  // where it came from: "--shard", "SLURM_ARRAY_TASK_ID", ...
  bool sharded() const { return count > 0; }
  std::string text() const;  // "2/3", or "" for the whole plan
};

// "I/N" as a shard; throws UsageError naming `source` (the option or the variable it came from)
// unless I and N are plain decimal integers with 1 <= I <= N.
ShardSpec parse_shard(const std::string& text, const std::string& source);

// The shard a scheduler gave this process, where --shard was not given:
// - Slurm array job: SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT; ids may start at 0 or 1
//   (or anywhere), so the shard is ID - SLURM_ARRAY_TASK_MIN + 1. The ids must be contiguous
//   (--array=0-2 or 1-3, no step, no list): else the shard index would not be 1..N.
// - Kubernetes Indexed Job: JOB_COMPLETION_INDEX (0-based) with OPBENCH_SHARD_COUNT, which the
//   manifest sets to the Job's completions (Kubernetes gives the index but not the count).
//   JOB_COMPLETION_INDEX without OPBENCH_SHARD_COUNT is refused: every pod would run the whole
//   plan.
// Neither: the whole plan. A variable that is not a number is refused (UsageError naming it).
// `env` looks a variable up (nullptr when unset): std::getenv, or a map in tests.
using EnvLookup = std::function<const char*(const char*)>;
ShardSpec shard_from_environment(const EnvLookup& env);

// The cost in byte-equivalents (bytes moved plus flops) of the dataset groups of `plan`, and
// which shard each group goes to: see shard.cpp for the cost model. Exposed for the tests.
struct ShardAssignment {
  std::vector<int> shard_of_case;  // 0-based shard of every case of the plan, in plan order
  std::vector<std::int64_t> load;  // summed cost of each shard
  std::int64_t largest_group = 0;  // cost of the most expensive dataset group
};
ShardAssignment assign_shards(const std::vector<CasePlan>& plan, int count);

// The cases of `plan` that shard `s` runs, in plan order (the whole plan when not sharded). May
// be empty when the plan has fewer datasets than shards.
std::vector<CasePlan> shard_plan(const std::vector<CasePlan>& plan, const ShardSpec& s);

// "fnv1a64:<16 hex>" of every case name of the whole plan in plan order, and the seed: the same
// for every shard of one plan, different for another selection or seed.
std::string plan_fingerprint(const std::vector<CasePlan>& full_plan, std::uint64_t seed);

// What a report records of its plan: the whole plan's fingerprint and size, the shard, and the
// plan position of each of `cases` (the run's results), so that merge restores the plan's order.
PlanInfo describe_plan(const std::vector<CasePlan>& full_plan, std::uint64_t seed,
                       const ShardSpec& s, const std::vector<CaseRecord>& cases);

}  // namespace opbench
