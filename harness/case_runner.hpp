#pragma once
// The units of work of a run, as a worker executes them (harness/case_worker.hpp): a case's first
// unit (its dataset when it is the first case of it, bind, one run on poisoned outputs, the
// comparison with the float64 reference, the first timing, the comparison again after it) and,
// with interleaved repetitions, one more repetition of it in a later round. The run loop
// (harness/runner.cpp) decides the order; a CaseRunner only keeps the current dataset so that
// the implementations of one dataset share its inputs and reference.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "harness/case_data.hpp"
#include "harness/case_dump.hpp"
#include "harness/results.hpp"
#include "harness/runner.hpp"

namespace opbench {

// What a case's first unit gives: its record and, when it made one, its dataset's record.
struct FirstUnit {
  CaseRecord record;
  std::optional<DatasetRecord> dataset;
  // Iterations per repetition Google Benchmark settled on (0: not timed); later rounds use it.
  std::int64_t iterations = 0;
  // The run was asked to stop (harness/interrupt.hpp) while the unit ran: it did not finish and
  // has no result.
  bool interrupted = false;
};

// One more repetition of a timed case, or why it failed.
struct RoundUnit {
  std::optional<Repetition> repetition;
  std::string error;
  bool interrupted = false;  // as FirstUnit::interrupted
};

class CaseRunner {
 public:
  // `repetitions_now`: repetitions taken in the first unit (1 when the rest come in rounds, 0 to
  // let Google Benchmark's flag decide). Google Benchmark must be initialised (init_gbench) when
  // options.time is set.
  CaseRunner(const Registry& reg, const DataProvider& data, const Selection& sel,
             const RunOptions& options, int repetitions_now);

  // The first unit of a case that is not a skip. Never throws for a kernel's failure: that is
  // the record's error.
  FirstUnit first(const CasePlan& c);
  // Repetition `round` (1-based, > 0) of a case whose first unit timed it in `iterations`.
  RoundUnit again(const CasePlan& c, int round, std::int64_t iterations);

 private:
  const Registry& reg_;
  const DataProvider& data_;
  const Selection& sel_;
  const RunOptions& options_;
  int repetitions_now_;
  double min_time_;  // of the run's Google Benchmark flags; 0: Google Benchmark finds iterations
  Dumper dumper_;
  std::optional<Dataset> dataset_;  // of the last first unit
  // The inputs and output buffers of the round being taken, shared by a dataset's cases.
  std::string round_key_;
  std::optional<Dataset> round_inputs_;
  std::optional<TensorMap> round_outputs_;
};

// Sets up this process for running cases as `options` say: the threads of OpenMP and OpenBLAS
// (returned), the heap's behaviour, and Google Benchmark's flags when timing.
int prepare_process(const RunOptions& options);

// The record of a planned case before anything ran: names, parameters, cost.
CaseRecord record_of(const CasePlan& c);

}  // namespace opbench
