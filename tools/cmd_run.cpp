// `opbench run` and `opbench check`: plan the selection, check every implementation against the
// float64 reference, time it (run only), write the JSON report atomically, print the summary.
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "datasets/provider.hpp"
#include "harness/errors.hpp"
#include "reports/atomic_file.hpp"
#include "reports/console_summary.hpp"
#include "reports/json_report.hpp"
#include "suites/suites.hpp"
#include "tools/cli.hpp"

namespace opbench::cli {

namespace {
std::string quote_args(const Args& args, bool time) {
  std::string s = time ? "opbench run" : "opbench check";
  for (const auto& a : args) s += " " + a;
  return s;
}
}  // namespace

int cmd_run(const Args& args, bool time) {
  const char* name = time ? "run" : "check";
  po::options_description desc(
      std::string("opbench ") + name +
      (time ? " [options] [--benchmark_* flags]\n\n" : " [options]\n\n") +
      (time ? "Checks every selected implementation against the float64 reference, then times it "
              "through Google Benchmark\n(whose --benchmark_* flags pass through), and writes a "
              "JSON report.\n"
            : "Checks every selected implementation against the float64 reference; no timing. "
              "A fast correctness gate.\n") +
      "Exit code: 0 all agree, 1 an implementation failed agreement or errored, 2 bad usage or "
      "input.\n\nOptions");
  SelectionOptions sel;
  bool help = false;
  std::string json, dump;
  int repetitions = 0, threads = 0;
  double min_time = 0;
  std::uint64_t seed = 1;
  bool full_check = false, no_interleave = false;
  desc.add_options()("help,h", po::bool_switch(&help), "this help");
  sel.add_to(desc, true, true);
  desc.add_options()("json", po::value(&json),
                     time ? "write the report here (default: opbench-report.json)"
                          : "write a report of the check here")(
      "dump", po::value(&dump), "write every case as .npy files and case.json under DIR")(
      "threads", po::value(&threads), "threads for kernels and ceilings (default: all cores)")(
      "seed", po::value(&seed), "base seed of the generated inputs (default 1)")(
      "full-check", po::bool_switch(&full_check),
      "check every row against the float64 reference, even where it is slow enough that a "
      "seeded sample of rows is checked by default (the report records the sample)");
  if (time) {
    desc.add_options()("repetitions", po::value(&repetitions),
                       "repetitions of each case (median and noise); they are taken in rounds "
                       "over all cases, in a seeded random order, so each case's spread holds "
                       "the machine's drift during the run")(
        "no-interleave", po::bool_switch(&no_interleave),
        "take each case's repetitions back to back instead (the spread then misses drift)")(
        "min-time", po::value(&min_time), "minimum seconds per case (default 0.1 quick, 0.5 full)");
  }
  std::vector<std::string> gbench_flags;
  parse(args, desc, time ? &gbench_flags : nullptr);
  if (help) {
    std::cout << desc << "\n";
    return kExitOk;
  }
  if (threads < 0) throw UsageError("--threads must be positive");
  if (time && repetitions < 0) throw UsageError("--repetitions must be positive");
  if (time && min_time < 0) throw UsageError("--min-time must be positive");
  if (time && json.empty()) json = "opbench-report.json";
  if (!json.empty()) reports::check_writable(json);  // before any work is done

  Selection selection = sel.to_selection();
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  const auto full_plan = plan_cases(reg, selection, data);
  const ShardSpec shard = sel.shard_spec();
  const auto plan = shard_plan(full_plan, shard);
  if (shard.sharded()) {
    std::cerr << "opbench: shard " << shard.text() << " (" << shard.source << "): " << plan.size()
              << " of " << full_plan.size() << " cases\n";
  }

  RunOptions options;
  options.time = time;
  options.dump_dir = dump;
  options.threads = threads;
  options.seed = seed;
  options.full_check = full_check;
  options.interleave = !no_interleave;
  options.progress = isatty(STDERR_FILENO);
  options.command_line = quote_args(args, time);
  if (time) {
    if (repetitions > 0) {
      gbench_flags.push_back("--benchmark_repetitions=" + std::to_string(repetitions));
    }
    double mt = min_time > 0 ? min_time : (selection.full ? 0.5 : 0.1);
    bool user_min_time = false;
    for (const auto& f : gbench_flags) user_min_time |= f.rfind("--benchmark_min_time", 0) == 0;
    if (!user_min_time) gbench_flags.push_back("--benchmark_min_time=" + std::to_string(mt));
    options.benchmark_flags = gbench_flags;
  }
  if (!dump.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dump, ec);
    if (ec) throw UsageError("--dump " + dump + ": cannot create the folder: " + ec.message());
  }

  RunResult result = run_cases(reg, plan, data, selection, options);
  result.plan = describe_plan(full_plan, seed, shard, result.cases);
  nlohmann::json report = reports::build_report(result);
  if (!json.empty()) reports::write_file_atomically(json, report.dump(2) + "\n");
  reports::print_summary(report, std::cout, isatty(STDOUT_FILENO));
  if (!json.empty()) std::cout << "report: " << json << "\n";

  // A failure or an error fails the run; a known failure (xfail) and a skip do not.
  bool failed = false;
  for (const auto& c : result.cases) {
    const bool skipped = c.error.rfind("skipped: ", 0) == 0;
    if ((!c.error.empty() && !skipped) || c.agreement.status == AgreementStatus::fail ||
        c.agreement.status == AgreementStatus::error) {
      failed = true;
    }
  }
  return failed ? kExitFailed : kExitOk;
}

}  // namespace opbench::cli
