#pragma once
// `opbench nightly --ab-baseline`: the commit of this machine's last good run is built beside
// this build, and tonight's run is an `opbench ab` of the two, their repetitions interleaved in
// one seeded random order, so that the verdict compares two builds under the same drift of the
// machine instead of tonight against another night (harness/ab_run.hpp says why that finds
// smaller changes). Tonight's report is stored in the history as any other night's; the baseline
// build's report is only compared with, never stored.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace opbench::cli {

// This machine's id, as the reports this process writes name it (reports::RunInfo::machine_id),
// so the last good run of this machine can be found before anything runs.
std::string this_machine_id();

struct AbBaseline {
  std::string commit;   // the last good run's commit
  std::string program;  // the opbench built from it; "" when none could be had
  std::string why_not;  // set when program is "": why tonight compares with the stored run
};

// Builds `commit` with $OPBENCH_BUILD_REV (a shell command; the commit is its argument) when set,
// else with SOURCE/tools/build_rev.sh; either prints the path of the built opbench as the last
// line of its stdout (its build output goes to stderr). Never throws for a failed build: that is
// `why_not`.
AbBaseline build_baseline(const std::string& commit, const std::string& source);

// The baseline of tonight's A/B: the commit of this machine's last good run in the history's
// `manifest`, built from `source` (build_baseline). No good run yet, a run without a commit, or
// one of this very build's commit: `why_not` says so and nothing is built.
AbBaseline find_ab_baseline(const nlohmann::json& manifest, const std::string& source);

// Runs `opbench ab --base BASE --new THIS RUN_ARGS --save PREFIX` as a child, its stdout (the
// comparison table; the nightly prints its own) to PREFIX.ab.txt. Returns its exit status, or
// -signal. `run_args` are the nightly's run options (--isolate dropped: ab always isolates).
int run_ab_child(const std::string& base, const std::vector<std::string>& run_args,
                 const std::string& prefix);

}  // namespace opbench::cli
