#pragma once
// Two builds measured in one run (`opbench ab`): every case of the union of their plans is run on
// a worker process of each build, and every repetition of every case on both, in one seeded
// random interleaved order, so that the machine's drift during the run falls on both builds alike
// (randomized multiple interleaved trials, Abedi & Brecht, ICPE 2017; duet benchmarking, Bulej
// et al., ICPE 2020). Comparing the two results then finds changes of a few percent that two
// separate runs, which differ by the drift between them, cannot.
#include <string>
#include <vector>

#include "harness/process_worker.hpp"
#include "harness/results.hpp"
#include "harness/runner.hpp"

namespace opbench {

struct AbResult {
  RunResult base, next;  // as two runs of the same plan would give them
  std::vector<std::string> only_in_base, only_in_next;  // case names one build does not plan
};

// Runs the union of the two builds' plans of `sel`: each case's first unit on both builds (in a
// random order per case), then `repetitions` - 1 rounds over every timed case of both builds,
// datasets, cases and the two builds in a seeded random order (options.seed). Both results get
// `ceilings` (measured by the caller: the machine's, not a build's), this process's `context`
// and `devices`, and each worker's build. Stops between two units when interrupted; the results
// then say why they are incomplete. Throws UsageError when a worker cannot start or plan.
AbResult run_ab(const WorkerCommand& base, const WorkerCommand& next, const Selection& sel,
                const RunOptions& options, int repetitions, const RunResult& machine);

}  // namespace opbench
