#pragma once
// Interleaved repetitions (Google Benchmark's random interleaving, done across opbench's cases):
// with --repetitions N, the first repetition of every case is taken right after its check, and
// repetitions 2..N in rounds, every timed case once per round, datasets and cases in a seeded
// random order. A case's spread then holds the machine's drift over the whole run, which two
// separate runs also differ by, so `opbench compare` does not call drift a change.
#include <cstdint>
#include <vector>

#include "harness/case_worker.hpp"
#include "harness/results.hpp"
#include "harness/run_sink.hpp"
#include "harness/runner.hpp"

namespace opbench {

// A timed case whose remaining repetitions are taken in rounds.
struct InterleavedCase {
  std::size_t plan_index = 0;    // in the plan
  std::size_t record_index = 0;  // in RunResult::cases
  std::int64_t iterations = 0;   // found by Google Benchmark in the first round, then fixed
};

// Takes rounds 2..`repetitions` through `worker`, appending one repetition per round to each
// case's RunResult::cases[record_index].timing (and telling `sink`). A case that fails in a
// round gets the round's error and loses its time; it takes no more rounds. Returns false when
// interrupted (harness/interrupt.hpp) before the last round ended.
bool time_remaining_rounds(const std::vector<CasePlan>& plan, CaseWorker& worker,
                           const RunOptions& options, int repetitions,
                           const std::vector<InterleavedCase>& timed, RunResult& result,
                           RunSink* sink);

}  // namespace opbench
