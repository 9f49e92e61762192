// Shards of a plan: parsing I/N and the schedulers' variables, the cost-balanced assignment of
// dataset groups to shards, and the plan's fingerprint.
#include "harness/shard.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <stdexcept>

#include "harness/case_data.hpp"
#include "harness/errors.hpp"

namespace opbench {

namespace {

// Far more shards than any fleet, far below int overflow in index arithmetic.
constexpr long long kMaxShards = 1000000;

// A plain decimal integer ("007" is fine, "+3", " 3", "3.0", "0x3" are not); false otherwise.
bool parse_integer(const std::string& text, long long& out) {
  if (text.empty() || text.size() > 18) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// The value of variable `name` as an integer >= 0; throws UsageError naming it and what it is.
long long env_integer(const EnvLookup& env, const char* name, const std::string& what) {
  const char* value = env(name);
  if (value == nullptr) {
    throw UsageError(std::string(name) + " is not set (" + what + "); pass --shard I/N instead");
  }
  long long v = 0;
  if (!parse_integer(value, v)) {
    throw UsageError(std::string(name) + "='" + value + "' is not a number (" + what +
                     "); pass --shard I/N instead");
  }
  return v;
}

ShardSpec checked_spec(long long index, long long count, const std::string& source,
                       const std::string& shown) {
  if (count < 1 || count > kMaxShards) {
    throw UsageError(source + " '" + shown + "': the shard count must be 1 to " +
                     std::to_string(kMaxShards));
  }
  if (index < 1 || index > count) {
    throw UsageError(source + " '" + shown + "': the shard must be 1 to " + std::to_string(count) +
                     " (shards are numbered from 1)");
  }
  return ShardSpec{static_cast<int>(index), static_cast<int>(count), source};
}

// The cost model, in byte-equivalents (integers, so that sums do not depend on their order or on
// floating-point contraction: every machine computes the same assignment).
// - A timed case costs mostly Google Benchmark's minimum time (0.1 s per case in the quick sweep)
//   plus its own work, so every case that runs gets a fixed part: 0.1 s at a nominal 10 GB/s.
//   Without it a plan of many small cases (the quick sweeps) would be balanced by size alone,
//   while its wall time follows the number of cases.
// - Its work: the bytes it must move plus its flops at one byte each (between the vectorized
//   kernels, a fraction of a byte per flop, and the scalar float64 reference, several), from the
//   op's cost model: what makes a large case slow, in `check` as in `run`.
// - The reference case is not timed (no fixed part) but computes the float64 reference.
// - A skipped case does not run: no cost.
// The element count of the dataset alone would miss the flops of compute-bound ops (fff, the
// scan layers' GEMMs) and the number of implementations sharing a dataset.
constexpr double kFixedCaseCost = 1e9;
constexpr double kBytesPerFlop = 1;

std::int64_t case_cost(const CasePlan& c) {
  if (!c.skip_reason.empty()) return 0;
  const Cost cost = c.op != nullptr && c.op->cost ? c.op->cost(c.params, c.dtype) : Cost{};
  double work = 0;
  if (std::isfinite(cost.bytes) && cost.bytes > 0) work += cost.bytes;
  if (std::isfinite(cost.flops) && cost.flops > 0) work += kBytesPerFlop * cost.flops;
  const bool reference = c.impl != nullptr && c.impl->is_reference;
  const double total = std::min(work + (reference ? 0 : kFixedCaseCost), 1e15);
  return static_cast<std::int64_t>(std::llround(total / 1024)) + 1;  // KiB; a running case > 0
}

}  // namespace

std::string ShardSpec::text() const {
  return sharded() ? std::to_string(index) + "/" + std::to_string(count) : std::string();
}

ShardSpec parse_shard(const std::string& text, const std::string& source) {
  const auto slash = text.find('/');
  long long index = 0, count = 0;
  if (slash == std::string::npos || !parse_integer(text.substr(0, slash), index) ||
      !parse_integer(text.substr(slash + 1), count)) {
    throw UsageError(source + " '" + text +
                     "': expected I/N, shard I of N (1 <= I <= N), e.g. 2/3");
  }
  return checked_spec(index, count, source, text);
}

ShardSpec shard_from_environment(const EnvLookup& env) {
  if (env("SLURM_ARRAY_TASK_ID") != nullptr) {
    const std::string what = "a Slurm array job's task";
    const long long id = env_integer(env, "SLURM_ARRAY_TASK_ID", what + " id");
    const long long count = env_integer(env, "SLURM_ARRAY_TASK_COUNT", what + " count");
    const long long min = env_integer(env, "SLURM_ARRAY_TASK_MIN", what + " id's minimum");
    if (env("SLURM_ARRAY_TASK_MAX") != nullptr) {
      const long long max = env_integer(env, "SLURM_ARRAY_TASK_MAX", what + " id's maximum");
      if (max < min || max - min + 1 != count) {
        throw UsageError("the Slurm array's task ids are not contiguous (" + std::to_string(count) +
                         " tasks, ids " + std::to_string(min) + " to " + std::to_string(max) +
                         "): submit with --array=1-N (no step, no list), or pass --shard I/N");
      }
    }
    if (id < min) {
      throw UsageError("SLURM_ARRAY_TASK_ID " + std::to_string(id) +
                       " is below SLURM_ARRAY_TASK_MIN " + std::to_string(min));
    }
    const std::string shown = std::to_string(id - min + 1) + "/" + std::to_string(count);
    return checked_spec(id - min + 1, count, "SLURM_ARRAY_TASK_ID", shown);
  }
  if (env("JOB_COMPLETION_INDEX") != nullptr) {
    const long long index =
        env_integer(env, "JOB_COMPLETION_INDEX", "a Kubernetes Indexed Job's completion index");
    if (env("OPBENCH_SHARD_COUNT") == nullptr) {
      throw UsageError(
          "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but OPBENCH_SHARD_COUNT is not: "
          "set it to the Job's completions, or pass --shard I/N");
    }
    const long long count =
        env_integer(env, "OPBENCH_SHARD_COUNT", "the shard count of an Indexed Job");
    const std::string shown = std::to_string(index + 1) + "/" + std::to_string(count);
    return checked_spec(index + 1, count, "JOB_COMPLETION_INDEX", shown);
  }
  return ShardSpec{};
}

ShardAssignment assign_shards(const std::vector<CasePlan>& plan, int count) {
  if (count < 1) throw std::invalid_argument("assign_shards: count must be >= 1");
  // The cases of one dataset stay together: they share the generated inputs and the float64
  // reference, which a second shard would compute again.
  struct Group {
    std::string key;
    std::int64_t cost = 0;
    int shard = 0;
  };
  std::vector<Group> groups;
  std::map<std::string, std::size_t> index_of;
  std::vector<std::size_t> group_of_case(plan.size());
  for (std::size_t i = 0; i < plan.size(); ++i) {
    auto [it, fresh] = index_of.emplace(plan[i].dataset_key, groups.size());
    if (fresh) groups.push_back(Group{plan[i].dataset_key});
    group_of_case[i] = it->second;
    groups[it->second].cost += case_cost(plan[i]);
  }
  // Longest processing time first: the most expensive group to the least loaded shard. Ties are
  // broken by the dataset key and the lowest shard, never by anything a machine could order
  // differently. The largest shard then exceeds the mean by at most the largest group.
  std::vector<std::size_t> order(groups.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (groups[a].cost != groups[b].cost) return groups[a].cost > groups[b].cost;
    return groups[a].key < groups[b].key;
  });
  ShardAssignment out;
  out.load.assign(static_cast<std::size_t>(count), 0);
  for (std::size_t g : order) {
    const auto least = std::min_element(out.load.begin(), out.load.end()) - out.load.begin();
    groups[g].shard = static_cast<int>(least);
    out.load[static_cast<std::size_t>(least)] += groups[g].cost;
    out.largest_group = std::max(out.largest_group, groups[g].cost);
  }
  out.shard_of_case.resize(plan.size());
  for (std::size_t i = 0; i < plan.size(); ++i) {
    out.shard_of_case[i] = groups[group_of_case[i]].shard;
  }
  return out;
}

std::vector<CasePlan> shard_plan(const std::vector<CasePlan>& plan, const ShardSpec& s) {
  if (!s.sharded()) return plan;
  const ShardAssignment a = assign_shards(plan, s.count);
  std::vector<CasePlan> out;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    if (a.shard_of_case[i] == s.index - 1) out.push_back(plan[i]);
  }
  return out;
}

std::string plan_fingerprint(const std::vector<CasePlan>& full_plan, std::uint64_t seed) {
  std::string text = "seed:" + std::to_string(seed) + "\n";
  for (const CasePlan& c : full_plan) text += c.name + "\n";
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(text)));
  return std::string("fnv1a64:") + hex;
}

PlanInfo describe_plan(const std::vector<CasePlan>& full_plan, std::uint64_t seed,
                       const ShardSpec& s, const std::vector<CaseRecord>& cases) {
  PlanInfo info;
  info.fingerprint = plan_fingerprint(full_plan, seed);
  info.planned = full_plan.size();
  info.shard = s.text();
  std::map<std::string, std::size_t> position;
  for (std::size_t i = 0; i < full_plan.size(); ++i) position.emplace(full_plan[i].name, i);
  for (const CaseRecord& c : cases) {
    auto it = position.find(c.name);
    // A result always comes from the plan; should one not, it goes after every planned case.
    info.positions.push_back(it != position.end() ? it->second : full_plan.size());
  }
  return info;
}

}  // namespace opbench
