// `opbench merge SHARD.json... -o all.json`: the reports of one plan's shards joined into the
// report of the whole plan (reports/merge.hpp), written atomically, with its summary.
#include <unistd.h>

#include <iostream>

#include "harness/errors.hpp"
#include "reports/atomic_file.hpp"
#include "reports/console_summary.hpp"
#include "reports/json_report.hpp"
#include "reports/merge.hpp"
#include "tools/cli.hpp"

namespace opbench::cli {

int cmd_merge(const Args& args) {
  po::options_description desc(
      "opbench merge SHARD.json... -o all.json [--allow-missing]\n\nJoins the reports of one "
      "plan's shards (opbench run/check --shard I/N, one per machine) into one report,\nread by "
      "opbench report, opbench compare and Google Benchmark's compare.py as an unsharded run's:\n"
      "the cases in the plan's order, each with its own times, rates and agreement; every shard's "
      "ceilings,\nmarked with the shard; the first shard's context (opbench.plan.shards names "
      "each shard's host and date).\n\nRefused (exit 2, nothing written): a report without plan "
      "information, reports of different\nplans (selection, seed), builds (commit, flags, "
      "version), machine classes (device lines, CPU count:\nonly the host may differ) or run "
      "settings (check vs run, threads), and a shard, case or dataset\ngiven twice with "
      "different contents.\nMissing shards or cases (fewer cases than the plan holds): a warning "
      "each; the merged report is\nwritten all the same and the exit code is 1, unless "
      "--allow-missing (then 0).\n\nOptions");
  bool help = false, allow_missing = false;
  std::string output;
  std::vector<std::string> inputs;
  desc.add_options()("help,h", po::bool_switch(&help), "this help")(
      "output,o", po::value(&output), "the merged JSON report to write")(
      "allow-missing", po::bool_switch(&allow_missing),
      "exit 0 although shards or cases are missing (still warned about)")(
      "reports", po::value(&inputs)->composing(), "the shard reports");
  parse_with_positional(args, desc, "reports", -1);
  if (help) {
    std::cout << desc << "\n";
    return kExitOk;
  }
  if (inputs.empty()) throw UsageError("merge: give the shard reports to merge");
  if (output.empty()) throw UsageError("merge: give the merged report to write with -o FILE.json");
  reports::check_writable(output);

  std::vector<reports::ShardReport> shards;
  for (const std::string& path : inputs) shards.push_back({path, reports::read_report(path)});
  std::string command_line = "opbench merge";
  for (const auto& a : args) command_line += " " + a;
  reports::MergeResult merged = reports::merge_reports(shards, command_line);
  reports::write_report(output, merged.report);

  reports::print_summary(merged.report, std::cout, isatty(STDOUT_FILENO));
  for (const std::string& w : merged.warnings) std::cerr << "opbench: warning: " << w << "\n";
  std::cout << "merged " << merged.merged << " of " << merged.planned << " planned cases from "
            << shards.size() << " report" << (shards.size() == 1 ? "" : "s") << ": " << output
            << "\n";
  return merged.missing && !allow_missing ? kExitFailed : kExitOk;
}

}  // namespace opbench::cli
