#include "harness/interleave.hpp"

#include <algorithm>
#include <random>
#include <string>

#include "harness/case_data.hpp"
#include "harness/interrupt.hpp"
#include "harness/progress.hpp"

namespace opbench {

// The cases of one dataset stay together in a round (they share the round's inputs and output
// buffers, harness/case_runner.cpp); datasets, and cases within each, come in a seeded random
// order, new every round.
bool time_remaining_rounds(const std::vector<CasePlan>& plan, CaseWorker& worker,
                           const RunOptions& options, int repetitions,
                           const std::vector<InterleavedCase>& timed, RunResult& result,
                           RunSink* sink) {
  std::vector<bool> failed(timed.size(), false);
  std::vector<std::vector<std::size_t>> groups;  // indices into `timed`, one group per dataset
  for (std::size_t t = 0; t < timed.size(); ++t) {
    const std::string& key = plan[timed[t].plan_index].dataset_key;
    if (groups.empty() || plan[timed[groups.back().front()].plan_index].dataset_key != key) {
      groups.emplace_back();
    }
    groups.back().push_back(t);
  }
  Progress progress(options.progress, static_cast<std::size_t>(repetitions));
  for (int round = 1; round < repetitions; ++round) {
    progress.show(static_cast<std::size_t>(round), "timing round", "of every case");
    std::mt19937_64 rng(
        mix64(options.seed ^ (0x726f756e64ULL + static_cast<std::uint64_t>(round))));
    std::shuffle(groups.begin(), groups.end(), rng);
    for (auto& group : groups) {
      std::shuffle(group.begin(), group.end(), rng);
      for (std::size_t t : group) {
        if (failed[t]) continue;
        if (interrupted()) return false;
        const InterleavedCase& tc = timed[t];
        CaseRecord& rec = result.cases[tc.record_index];
        RoundUnit unit = worker.again(plan[tc.plan_index], round, tc.iterations);
        if (unit.interrupted) return false;
        if (unit.repetition && unit.error.empty()) {
          rec.timing.repetitions.push_back(*unit.repetition);
          if (sink) sink->on_repetition(tc.record_index, *unit.repetition);
          continue;
        }
        failed[t] = true;
        rec.error = "repetition " + std::to_string(round + 1) + ": " +
                    (unit.error.empty() ? "no repetition came back" : unit.error);
        rec.timing.repetitions.clear();  // an errored case has no time
        if (sink) sink->on_round_error(tc.record_index, rec.error);
      }
    }
  }
  return true;
}

}  // namespace opbench
