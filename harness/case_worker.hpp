#pragma once
// Who runs a case's units of work (harness/case_runner.hpp) for the run loop: this process (a
// CaseRunner), or a worker process, of this build (--isolate) or of another (opbench ab), that
// speaks the worker protocol (harness/worker_protocol.hpp). The run loop cannot tell them apart.
#include <cstdint>

#include "harness/case_runner.hpp"

namespace opbench {

class CaseWorker {
 public:
  virtual ~CaseWorker() = default;
  // A case's first unit; a failure of the case (a throw, a crash, a timeout) is its record's
  // error, never an exception. Throws UsageError only for what ends the run (a worker that
  // speaks another protocol).
  virtual FirstUnit first(const CasePlan& c) = 0;
  virtual RoundUnit again(const CasePlan& c, int round, std::int64_t iterations) = 0;
};

// The in-process worker: a CaseRunner.
class InProcessWorker final : public CaseWorker {
 public:
  InProcessWorker(const Registry& reg, const DataProvider& data, const Selection& sel,
                  const RunOptions& options, int repetitions_now)
      : runner_(reg, data, sel, options, repetitions_now) {}
  FirstUnit first(const CasePlan& c) override { return runner_.first(c); }
  RoundUnit again(const CasePlan& c, int round, std::int64_t iterations) override {
    return runner_.again(c, round, iterations);
  }

 private:
  CaseRunner runner_;
};

}  // namespace opbench
