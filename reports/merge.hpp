#pragma once
// `opbench merge`: the reports of one plan's shards (`opbench run --shard I/N` on N machines)
// joined into one report that `opbench report`, `opbench compare` and Google Benchmark's
// compare.py read as they read an unsharded run's: the cases in the plan's order, each with its
// own time, rates and agreement.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace opbench::reports {

struct ShardReport {
  std::string source;  // the file, for messages
  nlohmann::json doc;  // a valid report (read_report)
};

struct MergeResult {
  nlohmann::json report;
  // Shards or cases missing, one line each: the merged report is written all the same, and the
  // command exits 1 unless --allow-missing.
  std::vector<std::string> warnings;
  bool missing = false;
  std::size_t planned = 0, merged = 0;  // cases in the plan, cases in the merged report
};

// Joins `shards`. Throws UsageError with one line naming the file when the reports cannot make one
// report: no plan recorded (opbench.plan), another plan (fingerprint), another build (commit,
// build flags, tool version), another machine class (the device lines and the CPU count: only
// the host name may differ), other run settings (check vs run, threads, interleaving), shard
// counts that differ, a shard or a case given twice, or one dataset with different checksums.
MergeResult merge_reports(const std::vector<ShardReport>& shards, const std::string& command_line);

}  // namespace opbench::reports
