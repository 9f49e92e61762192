// Case workers (harness/case_worker.hpp, process_worker.hpp, worker_server.cpp): an isolated run
// hands every case to a worker process (tests/planted_worker.cpp, serving the planted kernels of
// tests/planted_ops.hpp); a case that segfaults, aborts or hangs is an error of that case with
// the signal or the timeout, and every other case has its result. Also: a worker of another
// protocol is refused in one line, a run asked to stop (as by SIGINT) keeps what finished, and
// an A/B run of two "builds" (the planted worker with a slower kernel and one more) flags the
// slower kernel and runs the union of both plans.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "datasets/provider.hpp"
#include "harness/ab_run.hpp"
#include "harness/errors.hpp"
#include "harness/interrupt.hpp"
#include "harness/journal.hpp"
#include "harness/process_worker.hpp"
#include "harness/runner.hpp"
#include "reports/compare.hpp"
#include "reports/json_writer.hpp"
#include "reports/report_model.hpp"
#include "tests/planted_ops.hpp"

#ifndef PLANTED_WORKER
#error "PLANTED_WORKER must name the planted worker program"
#endif

namespace fs = std::filesystem;
using nlohmann::json;

namespace opbench {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/opbench_test_workers_XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

std::map<std::string, const CaseRecord*> by_impl_and_n(const RunResult& r) {
  std::map<std::string, const CaseRecord*> out;
  for (const CaseRecord& c : r.cases) out[c.impl + "/" + c.params.str("n")] = &c;
  return out;
}

RunOptions timed_options(int repetitions) {
  RunOptions o;
  o.benchmark_flags = {"--benchmark_min_time=0.001",
                       "--benchmark_repetitions=" + std::to_string(repetitions)};
  return o;
}

TEST(IsolatedRun, ASegfaultAnAbortAndAHangCostOnlyTheirCases) {
  Registry reg;
  test_support::register_planted(reg);
  datasets::SeededDataProvider data;
  Selection sel;
  RunOptions options = timed_options(3);
  options.worker_command = {PLANTED_WORKER};
  options.case_timeout_s = 3;
  TempDir dir;
  Journal journal((dir / "run.journal").string());
  const RunResult r = run_cases(reg, plan_cases(reg, sel, data), data, sel, options, &journal);

  EXPECT_EQ(r.workers, "isolated");
  EXPECT_EQ(r.incomplete, "");
  ASSERT_EQ(r.cases.size(), 15u);  // 3 points x (ref + 4 implementations)
  const auto c = by_impl_and_n(r);
  const std::string segv = c.at("cpu.segfault/32")->error;
  EXPECT_NE(segv.find("died of signal 11 (SIGSEGV"), std::string::npos) << segv;
  const std::string abrt = c.at("cpu.abort/48")->error;
  EXPECT_NE(abrt.find("(SIGABRT"), std::string::npos) << abrt;
  const std::string hang = c.at("cpu.hang/16")->error;
  EXPECT_NE(hang.find("timed out after 3 s (--case-timeout)"), std::string::npos) << hang;
  for (const char* bad : {"cpu.segfault/32", "cpu.abort/48", "cpu.hang/16"}) {
    EXPECT_EQ(c.at(bad)->agreement.status, AgreementStatus::error) << bad;
    EXPECT_FALSE(c.at(bad)->timing.timed()) << bad;
  }
  int good = 0;
  for (const CaseRecord& rec : r.cases) {
    const std::string key = rec.impl + "/" + rec.params.str("n");
    if (key == "cpu.segfault/32" || key == "cpu.abort/48" || key == "cpu.hang/16") continue;
    if (rec.is_reference) {
      EXPECT_EQ(rec.agreement.status, AgreementStatus::not_applicable) << key;
      continue;
    }
    ++good;
    EXPECT_EQ(rec.error, "") << key;
    EXPECT_EQ(rec.agreement.status, AgreementStatus::pass) << key;
    EXPECT_EQ(rec.timing.repetitions.size(), 3u) << key;  // the rounds went to workers too
  }
  EXPECT_EQ(good, 9);
  EXPECT_EQ(r.datasets.size(), 3u);  // each listed once, though workers restarted

  // The journal holds the same run.
  const RunResult back = read_journal(journal.path());
  EXPECT_EQ(back.incomplete, "");
  ASSERT_EQ(back.cases.size(), r.cases.size());
  for (std::size_t i = 0; i < r.cases.size(); ++i) {
    EXPECT_EQ(back.cases[i].name, r.cases[i].name);
    EXPECT_EQ(back.cases[i].error, r.cases[i].error);
    EXPECT_EQ(back.cases[i].agreement.status, r.cases[i].agreement.status);
    EXPECT_EQ(back.cases[i].timing.samples(), r.cases[i].timing.samples());
  }
  EXPECT_EQ(back.datasets.size(), r.datasets.size());
  EXPECT_EQ(back.ceilings.size(), r.ceilings.size());
}

TEST(IsolatedRun, AWorkerOfAnotherProtocolOrNoWorkerAtAllIsRefusedInOneLine) {
  Registry reg;
  test_support::register_planted(reg);
  datasets::SeededDataProvider data;
  Selection sel;
  sel.impls = {"cpu.good"};
  RunOptions options;
  options.time = false;
  TempDir dir;
  const fs::path script = dir / "other_worker.sh";
  std::ofstream(script) << "#!/bin/sh\necho '{\"opbench_worker\": 99}'\ncat >/dev/null\n";
  fs::permissions(script, fs::perms::owner_all);
  const auto plan = plan_cases(reg, sel, data);
  for (const auto& [command, needle] : std::vector<std::pair<std::string, std::string>>{
           {script.string(), "speaks the opbench worker protocol 99; this opbench speaks 1"},
           {"/bin/true", "is not an opbench worker: it gave no hello"}}) {
    options.worker_command = {command};
    try {
      run_cases(reg, plan, data, sel, options);
      ADD_FAILURE() << command << " was accepted as a worker";
    } catch (const UsageError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(needle), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
}

TEST(InterruptedRun, StopsAfterTheCaseInFlightAndKeepsWhatFinished) {
  Registry reg;
  test_support::register_planted(reg, /*stopping=*/true);
  datasets::SeededDataProvider data;
  Selection sel;
  RunOptions options;
  options.time = false;
  TempDir dir;
  Journal journal((dir / "run.journal").string());
  clear_interrupt();
  const RunResult r = run_cases(reg, plan_cases(reg, sel, data), data, sel, options, &journal);
  clear_interrupt();
  EXPECT_EQ(r.incomplete, "SIGINT");
  EXPECT_EQ(r.planned, 9u);
  // n = 16 (ref, cpu.good, cpu.stop), then n = 32 up to cpu.stop, which asked to stop: that case
  // finished (it passed) and nothing after it ran.
  ASSERT_EQ(r.cases.size(), 6u);
  EXPECT_EQ(r.cases.back().impl, "cpu.stop");
  EXPECT_EQ(r.cases.back().params.str("n"), "32");
  EXPECT_EQ(r.cases.back().agreement.status, AgreementStatus::pass);
  // Its journal has no end: read back, it is a killed run's, with the same cases.
  const RunResult back = read_journal(journal.path());
  EXPECT_EQ(back.cases.size(), 6u);
  EXPECT_EQ(back.incomplete, "killed: its journal ends after 6 of 9 planned cases");
}

// Two "builds" of the planted worker: the new one's cpu.good busy-waits 20 us per run (several
// times its copy) and it plans one more implementation.
TEST(AbRun, TheSlowerBuildsCasesAreFlaggedAndTheUnionOfBothPlansIsRun) {
  Selection sel;
  sel.impls = {"cpu.good", "cpu.extra"};
  RunOptions options;
  options.benchmark_flags = {"--benchmark_min_time=0.002"};
  options.case_timeout_s = 60;
  const WorkerCommand base{{PLANTED_WORKER}, "base"};
  const WorkerCommand next{
      {"/usr/bin/env", "PLANTED_SPIN_NS=20000", "PLANTED_EXTRA=1", PLANTED_WORKER}, "new"};
  RunResult machine;
  machine.threads = 1;
  const AbResult ab = run_ab(base, next, sel, options, 9, machine);

  EXPECT_EQ(ab.only_in_base, std::vector<std::string>{});
  ASSERT_EQ(ab.only_in_next.size(), 3u);  // cpu.extra at n = 16, 32, 48
  for (const std::string& name : ab.only_in_next) {
    EXPECT_NE(name.find("/cpu.extra/"), std::string::npos) << name;
  }
  ASSERT_EQ(ab.base.cases.size(), 3u);  // cpu.good at three points
  ASSERT_EQ(ab.next.cases.size(), 6u);  // and cpu.extra
  for (const RunResult* r : {&ab.base, &ab.next}) {
    EXPECT_EQ(r->incomplete, "");
    for (const CaseRecord& c : r->cases) {
      EXPECT_EQ(c.error, "") << c.name;
      EXPECT_EQ(c.timing.repetitions.size(), 9u) << c.name;
    }
  }
  const json base_doc = reports::build_report(ab.base), next_doc = reports::build_report(ab.next);
  const reports::RunData a = reports::extract_run(base_doc, "base");
  const reports::RunData b = reports::extract_run(next_doc, "new");
  const reports::Comparison cmp = reports::compare_runs(a, b, reports::CompareOptions{});
  int slower = 0;
  for (const reports::CaseComparison& c : cmp.cases) {
    if (c.now->impl != "cpu.good") continue;
    EXPECT_EQ(c.verdict, reports::Verdict::kSlower) << c.now->name << " ratio " << c.ratio;
    EXPECT_GT(c.ratio, 2.0) << c.now->name;
    ++slower;
  }
  EXPECT_EQ(slower, 3);
  EXPECT_EQ(cmp.only_new.size(), 3u);
}

TEST(WorkerExit, SaysTheSignalOrTheCode) {
  EXPECT_EQ(describe_exit(3 << 8), "exited with code 3");
  EXPECT_EQ(describe_exit(SIGSEGV), "died of signal 11 (SIGSEGV: Segmentation fault)");
  const std::string killed = describe_exit(SIGKILL);
  EXPECT_NE(killed.find("SIGKILL"), std::string::npos) << killed;
  EXPECT_NE(killed.find("OOM killer"), std::string::npos) << killed;
}

}  // namespace
}  // namespace opbench
