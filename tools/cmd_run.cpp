// `opbench run` and `opbench check`: plan the selection, check every implementation against the
// float64 reference, time it (run only), write the JSON report atomically, print the summary.
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>

#include "datasets/provider.hpp"
#include "harness/errors.hpp"
#include "harness/interrupt.hpp"
#include "harness/journal.hpp"
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

// Where a run that was stopped writes the report of what finished: next to the report, never
// over it (an earlier complete report at that path stays).
std::string incomplete_path(const std::string& json) {
  const std::string ext = ".json";
  if (json.size() > ext.size() && json.compare(json.size() - ext.size(), ext.size(), ext) == 0) {
    return json.substr(0, json.size() - ext.size()) + ".incomplete.json";
  }
  return json + ".incomplete.json";
}

// This program, for starting worker processes of the same build.
std::string own_executable() {
  std::error_code ec;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw UsageError("--isolate: cannot find this program (/proc/self/exe): " + ec.message());
  return path.string();
}

// A journal left by an earlier run at this path was never turned into a report (the run was
// killed): keep it under a name of its own and say how to use it.
void keep_earlier_journal(const std::string& journal, const std::string& json) {
  std::error_code ec;
  if (!std::filesystem::exists(journal, ec)) return;
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  const std::string kept = journal + "." + stamp;
  std::filesystem::rename(journal, kept, ec);
  if (ec) {
    throw UsageError("the journal of an earlier run is at " + journal + " and cannot be moved (" +
                     ec.message() + "): `opbench report --from-journal " + journal +
                     " --json OUT.json` makes a report of it; then delete it");
  }
  std::cerr << "opbench: an earlier run writing " << json << " did not finish; its journal is "
            << "kept as " << kept << " (`opbench report --from-journal " << kept
            << " --json OUT.json` makes a report of what it measured)\n";
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
  bool full_check = false, no_interleave = false, isolate = false;
  double case_timeout = 0;
  desc.add_options()("help,h", po::bool_switch(&help), "this help");
  sel.add_to(desc, true, true);
  desc.add_options()("json", po::value(&json),
                     time ? "write the report here (default: opbench-report.json)"
                          : "write a report of the check here")(
      "dump", po::value(&dump), "write every case as .npy files and case.json under DIR")(
      "threads", po::value(&threads), "threads for kernels and ceilings (default: all cores)")(
      "seed", po::value(&seed), "base seed of the generated inputs (default 1)")(
      "isolate", po::bool_switch(&isolate),
      "run every case in a worker process of this build: a crash (a segfault, an abort, the OOM "
      "killer, a lost CUDA context) or a timeout costs only that case, which is recorded as an "
      "error with the signal or the reason")(
      "case-timeout", po::value(&case_timeout),
      "with --isolate: seconds one case (its check and first timing, or one later repetition) "
      "may take before its worker is killed (default 600)")(
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
  if (case_timeout < 0 || !std::isfinite(case_timeout)) {
    throw UsageError("--case-timeout must be a positive number of seconds");
  }
  if (case_timeout > 0 && !isolate) {
    throw UsageError("--case-timeout needs --isolate (a case in this process cannot be stopped)");
  }
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
  if (isolate) {
    options.worker_command = {own_executable(), "worker"};
    options.case_timeout_s = case_timeout > 0 ? case_timeout : 600;
  }
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

  // Every finished case goes to a journal next to the report as it ends, so a killed run loses
  // nothing measured; the report is written from memory at the end and the journal removed.
  std::unique_ptr<Journal> journal;
  if (!json.empty()) {
    keep_earlier_journal(json + ".journal", json);
    journal = std::make_unique<Journal>(json + ".journal");
  }
  RunResult result;
  {
    InterruptHandlers handlers;  // SIGINT, SIGTERM: stop between cases, report what finished
    try {
      result = run_cases(reg, plan, data, selection, options, journal.get());
    } catch (...) {
      if (journal && journal->cases() == 0) journal->remove();  // nothing measured to keep
      throw;
    }
  }
  result.plan = describe_plan(full_plan, seed, shard, result.cases);
  nlohmann::json report = reports::build_report(result);
  const std::string written = result.incomplete.empty() ? json : incomplete_path(json);
  if (!json.empty()) reports::write_file_atomically(written, report.dump(2) + "\n");
  if (journal) journal->remove();
  reports::print_summary(report, std::cout, isatty(STDOUT_FILENO));
  if (!result.incomplete.empty()) {
    std::size_t finished = 0;
    for (const auto& c : result.cases) finished += c.error.rfind("skipped: ", 0) != 0;
    std::cout << "interrupted (" << result.incomplete << "): " << finished
              << " case(s) finished of " << result.planned << " planned";
    if (!json.empty()) {
      std::cout << "; their report: " << written << " (marked incomplete); " << json
                << " was not touched";
    }
    std::cout << "\n";
    return 128 + interrupt_signal();
  }
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
