// `opbench ab --base A/opbench --new B/opbench [run options] [compare options]`: two builds
// measured in one run, their repetitions interleaved in one seeded random order
// (harness/ab_run.hpp), then compared as `opbench compare` compares two runs.
#include <unistd.h>

#include <iostream>

#include "datasets/provider.hpp"
#include "harness/ab_run.hpp"
#include "harness/build_info.hpp"
#include "harness/case_runner.hpp"
#include "harness/ceiling_plan.hpp"
#include "harness/errors.hpp"
#include "harness/gbench_driver.hpp"
#include "harness/interrupt.hpp"
#include "reports/atomic_file.hpp"
#include "reports/json_report.hpp"
#include "suites/suites.hpp"
#include "tools/cli.hpp"
#include "tools/compare_options.hpp"

namespace opbench::cli {

namespace {

void check_program(const std::string& path, const char* option) {
  if (path.empty()) throw UsageError(std::string(option) + " PATH_TO_OPBENCH is required");
  if (::access(path.c_str(), X_OK) != 0) {
    throw UsageError(std::string(option) + " " + path + ": not an executable file");
  }
}

// The machine's side of both runs, measured by this process: its context, devices, threads and
// ceilings (when this build can plan the selection; else none, and `plan_error` says why).
RunResult machine(const Selection& sel, const RunOptions& options, const std::string& command,
                  std::string& plan_error) {
  RunResult m;
  m.threads = prepare_process(options);
  m.context = gbench_context();
  m.command_line = command;
  Registry reg;
  register_all_suites(reg);
  m.devices = reg.device_lines();
  try {
    datasets::SeededDataProvider data;
    m.ceilings = measure_ceilings(plan_cases(reg, sel, data), "", options.progress);
  } catch (const UsageError& e) {
    plan_error = e.what();
  }
  return m;
}

}  // namespace

int cmd_ab(const Args& args) {
  po::options_description desc(
      "opbench ab --base PATH_TO_OPBENCH_A --new PATH_TO_OPBENCH_B [options]\n\nRuns the union "
      "of the two builds' cases on a worker process of each build, every repetition of\nevery case "
      "on both, in one seeded random interleaved order (the machine's drift falls on both\nbuilds "
      "alike), then compares them as `opbench compare BASE NEW` does: same statistics, formats "
      "and exit\ncodes. tools/ab.sh REV_A REV_B builds two revisions and runs this.\n\nExit code: "
      "0 "
      "done, 1 a regression with --fail-on-regression, 2 bad usage, 130/143 interrupted.\n\n"
      "Options");
  SelectionOptions sel;
  CompareCliOptions cmp;
  bool help = false;
  std::string base, next, save;
  int repetitions = 9, threads = 0;
  double min_time = 0, case_timeout = 600;
  std::uint64_t seed = 1;
  desc.add_options()("help,h", po::bool_switch(&help), "this help")(
      "base", po::value(&base), "the opbench of the base build")("new", po::value(&next),
                                                                 "the opbench of the new build")(
      "repetitions", po::value(&repetitions),
      "repetitions of every case on each build (default 9; at least 4 for a significant change)")(
      "min-time", po::value(&min_time),
      "minimum seconds per repetition (default 0.1 quick, 0.5 full)")(
      "threads", po::value(&threads), "threads for kernels and ceilings (default: all cores)")(
      "seed", po::value(&seed), "seed of the inputs and of the interleaved order (default 1)")(
      "case-timeout", po::value(&case_timeout),
      "seconds one unit of a case may take before its worker is killed (default 600)")(
      "save", po::value(&save),
      "also write the two runs' reports, PREFIX.base.json and PREFIX.new.json");
  sel.add_to(desc, true, true);
  cmp.add_to(desc);
  parse(args, desc);
  if (help) {
    std::cout << desc << "\n";
    return kExitOk;
  }
  check_program(base, "--base");
  check_program(next, "--new");
  if (repetitions < 1) throw UsageError("--repetitions must be at least 1");
  if (!(min_time >= 0)) throw UsageError("--min-time must be positive");
  if (!(case_timeout > 0)) throw UsageError("--case-timeout must be a positive number of seconds");
  if (threads < 0) throw UsageError("--threads must be positive");
  if (sel.shard_given) throw UsageError("ab runs a whole plan; --shard is for run and check");
  cmp.check();
  if (!save.empty()) reports::check_writable(save + ".base.json");

  const Selection selection = sel.to_selection();
  RunOptions options;
  options.threads = threads;
  options.seed = seed;
  options.case_timeout_s = case_timeout;
  options.progress = isatty(STDERR_FILENO);
  const double mt = min_time > 0 ? min_time : (selection.full ? 0.5 : 0.1);
  options.benchmark_flags = {"--benchmark_min_time=" + std::to_string(mt)};
  std::string command = "opbench ab";
  for (const auto& a : args) command += " " + a;
  std::string plan_error;
  const RunResult m = machine(selection, options, command, plan_error);

  AbResult ab;
  {
    InterruptHandlers handlers;
    ab = run_ab(WorkerCommand{{base, "worker"}, "base"}, WorkerCommand{{next, "worker"}, "new"},
                selection, options, repetitions, m);
  }
  if (!plan_error.empty()) {
    std::cerr << "opbench: warning: this opbench cannot plan the selection (" << plan_error
              << "): the runs have no ceilings\n";
  }
  const nlohmann::json base_doc = reports::build_report(ab.base);
  const nlohmann::json next_doc = reports::build_report(ab.next);
  if (!save.empty()) {
    reports::write_report(save + ".base.json", base_doc);
    reports::write_report(save + ".new.json", next_doc);
  }
  const int code = cmp.write(reports::extract_run(base_doc, "base " + base),
                             reports::extract_run(next_doc, "new " + next));
  if (!ab.base.incomplete.empty()) {
    std::cout << "interrupted (" << ab.base.incomplete << "): the comparison holds the cases "
              << "that finished on both builds\n";
    return 128 + interrupt_signal();
  }
  return code;
}

}  // namespace opbench::cli
