#pragma once
// A worker process speaking the worker protocol (harness/worker_protocol.hpp): of this build for
// --isolate, of another build's opbench for `opbench ab`. It is started on first use and again
// after it died; a case that kills it (a signal, the OOM killer) or outlives the case timeout is
// an error of that case only, with the reason, and the run goes on.
#include <sys/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/case_worker.hpp"
#include "harness/line_pipe.hpp"

namespace opbench {

// A case of the worker's own plan: its record before it ran, and why it is skipped ("" if not).
struct WorkerCase {
  CaseRecord record;
  std::string skip;
};

struct WorkerCommand {
  std::vector<std::string> argv;  // the program and its arguments, e.g. {"/x/opbench", "worker"}
  std::string label;              // how messages name it: "this build", "base (/x/opbench)"
};

class ProcessWorker final : public CaseWorker {
 public:
  // `case_timeout_s`: the most a unit may take (the case's dataset, check and timing); <= 0: no
  // limit.
  // `known_only`: the worker plans only the names of `sel` its build knows (ab), instead of
  // refusing the others.
  ProcessWorker(WorkerCommand command, const Selection& sel, const RunOptions& options,
                int repetitions_now, double case_timeout_s, bool known_only = false);
  ~ProcessWorker() override;  // asks the worker to quit, kills it if it does not
  ProcessWorker(const ProcessWorker&) = delete;
  ProcessWorker& operator=(const ProcessWorker&) = delete;

  FirstUnit first(const CasePlan& c) override;
  RoundUnit again(const CasePlan& c, int round, std::int64_t iterations) override;

  // The same by case name, for a planner whose own registry may not hold the case (ab): the
  // record of a case its worker cannot answer for starts from `before` (the worker's plan's).
  FirstUnit first_named(const CaseRecord& before);
  RoundUnit again_named(const std::string& name, int round, std::int64_t iterations);

  // Starts the worker now (else on first use); throws UsageError as first() would.
  void start_now();
  // Stops the worker (SIGSTOP) between units and lets it go on (SIGCONT) for the next: with two
  // workers taking turns (ab), the idle one's threads still spinning after its unit (OpenBLAS's
  // pthreads busy-wait about 0.1 s, OpenMP's briefly) would take the cores from the other's
  // timed unit. An A/A run over all suites gave cvs of 30-80% without it.
  void pause_when_idle(bool on) { pause_when_idle_ = on; }
  // The worker's plan and build, as it said them when it started.
  const std::vector<WorkerCase>& cases() const { return cases_; }
  const BuildInfo& build() const { return build_; }

  // Worker processes started so far (1 + restarts after deaths).
  int starts() const { return starts_; }

 private:
  void start();
  void stop(bool kill_now);
  // Sends `request` and returns the answer; throws CaseLost (a private type) when the worker died
  // or timed out in it, with the reason.
  nlohmann::json ask(const nlohmann::json& request, double timeout_s);

  WorkerCommand command_;
  nlohmann::json setup_;
  double timeout_s_;
  pid_t pid_ = -1;
  int to_worker_ = -1, from_worker_ = -1;
  std::unique_ptr<LinePipe> pipe_;
  int starts_ = 0;
  bool pause_when_idle_ = false;
  bool paused_ = false;
  std::vector<WorkerCase> cases_;
  BuildInfo build_;
};

// How a worker process ended, in words: "died of signal 11 (SIGSEGV: Segmentation fault)",
// "was killed by signal 9 (SIGKILL: ...; the kernel's OOM killer sends it when memory runs
// out)", "exited with code 3". `status` is waitpid's.
std::string describe_exit(int status);

}  // namespace opbench
