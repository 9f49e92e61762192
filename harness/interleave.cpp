#include "harness/interleave.hpp"

#include <malloc.h>

#include <algorithm>
#include <optional>
#include <random>
#include <stdexcept>

#include "harness/backend.hpp"
#include "harness/case_data.hpp"
#include "harness/progress.hpp"
#include "harness/timing.hpp"

namespace opbench {

// Each round makes the inputs again, in fresh buffers: where a buffer lands (huge pages or not,
// its alignment to the caches) moved single cases by up to 50% between two runs, so the
// repetitions must sample it too. (Keeping the first round's inputs made runs faster, but two
// runs then differed beyond their spread.)
void time_remaining_rounds(const std::vector<CasePlan>& plan, const DataProvider& data,
                           const Selection& sel, const RunOptions& options, int repetitions,
                           const std::vector<InterleavedCase>& timed, RunResult& result) {
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
      const TensorMap* inputs = nullptr;
      std::optional<Dataset> made;
      // The implementations of a dataset share output buffers within a round: fresh buffers
      // cost page faults, most of a round.
      std::optional<TensorMap> outputs;
      for (std::size_t t : group) {
        if (failed[t]) continue;
        const InterleavedCase& tc = timed[t];
        const CasePlan& c = plan[tc.plan_index];
        CaseRecord& rec = result.cases[tc.record_index];
        std::string error;
        try {
          if (!inputs) {
            made = make_inputs(c, data, sel, options);
            inputs = &made->inputs;
          }
          if (!outputs) outputs = allocate_outputs(c, false);
          auto kernel = c.impl->bind(*inputs, *outputs, c.params);
          auto timing = c.backend->timing(c.timing_mode);
          if (!timing) throw std::runtime_error(c.backend->name() + " cannot time this case");
          GbenchRun r = time_kernel(c.name, *timing, *kernel, 1, tc.iterations);
          if (r.error.empty() && r.repetitions.size() == 1) {
            rec.timing.repetitions.push_back(std::move(r.repetitions[0]));
            continue;
          }
          error = r.error.empty() ? "Google Benchmark returned no single repetition" : r.error;
        } catch (const std::exception& e) {
          error = e.what();
        }
        failed[t] = true;
        rec.error = "repetition " + std::to_string(round + 1) + ": " + error;
        rec.timing.repetitions.clear();  // an errored case has no time
      }
      // Datasets come in random order, so freed blocks of one size rarely fit the next request:
      // without handing them back, the heap grew by every round (14 GB after 9 rounds of the
      // norm suite, 2 GB for one).
      malloc_trim(0);
    }
  }
}

}  // namespace opbench
