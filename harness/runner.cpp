// run_cases(): the ceilings first, then for every planned case: make its dataset (inputs and the
// float64 reference, once per dataset), bind and run the implementation once on poisoned outputs,
// compare, time it through Google Benchmark, and compare its outputs again after the timed runs.
// A case that throws is recorded and the run goes on. With repetitions, the rest are taken in
// interleaved rounds (harness/interleave.hpp).
#include "harness/runner.hpp"

#include <cblas.h>
#include <malloc.h>
#include <omp.h>

#include <optional>

#include "harness/agreement.hpp"
#include "harness/build_info.hpp"
#include "harness/case_data.hpp"
#include "harness/case_dump.hpp"
#include "harness/ceiling_plan.hpp"
#include "harness/gbench_driver.hpp"
#include "harness/interleave.hpp"
#include "harness/progress.hpp"
#include "harness/timing.hpp"

namespace opbench {

namespace {

CaseRecord record_of(const CasePlan& c) {
  CaseRecord rec;
  rec.name = c.name;
  rec.suite = c.op->suite;
  rec.op = c.op->name;
  rec.impl = c.impl->name;
  rec.backend = c.impl->backend;
  rec.dtype = std::string(dtype_name(c.dtype));
  rec.params = c.params;
  rec.cost = c.op->cost ? c.op->cost(c.params, c.dtype) : Cost{};
  rec.is_reference = c.impl->is_reference;
  rec.dataset = c.dataset_key;
  return rec;
}

// Compares the outputs again after the timed runs: a kernel that races, drifts or writes
// outside its first run is caught. A case that passed before and fails now is a failure.
void recheck_after_timing(const CasePlan& c, BoundKernel& kernel, const TensorMap& outputs,
                          const Dataset& d, Agreement& a) {
  kernel.sync();
  kernel.fetch();
  Agreement again = compare_outputs(c, outputs, d);
  if (again.passed || !a.passed) return;
  again.first_mismatch = "after the timed runs: " + again.first_mismatch;
  again.changed_during_timing = true;
  a = again;
}

}  // namespace

RunResult run_cases(const Registry& reg, const std::vector<CasePlan>& plan,
                    const DataProvider& data, const Selection& sel, const RunOptions& options) {
  RunResult result;
  // Cases allocate and poison outputs and inputs of up to hundreds of MiB one after another.
  // glibc hands such blocks back to the kernel on free and maps them fresh the next time, so
  // every case paid the page faults of first touch again (most of a quick run's wall time);
  // kept in the heap, the next case reuses pages that are already mapped.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  result.threads = options.threads > 0 ? options.threads : hardware_threads();
  omp_set_num_threads(result.threads);
  openblas_set_num_threads(result.threads);
  result.build = build_info();
  result.timed = options.time;
  result.command_line = options.command_line;
  for (const auto& b : reg.backends()) {
    for (const auto& d : b->devices()) result.devices.push_back(d);
  }
  if (options.time) init_gbench(options.benchmark_flags);
  result.context = gbench_context();
  result.aggregates_only = options.time && gbench_aggregates_only();
  const std::string filter = options.time ? gbench_filter() : "";
  if (options.time) result.ceilings = measure_ceilings(plan, filter, options.progress);

  // Interleaved repetitions: the first in this loop, right after the check; the others in rounds.
  const int repetitions = options.time ? gbench_repetitions() : 1;
  const int interleaving_flag = options.time ? gbench_random_interleaving() : -1;
  const bool interleave =
      repetitions > 1 && (interleaving_flag >= 0 ? interleaving_flag == 1 : options.interleave);
  std::vector<InterleavedCase> interleaved;
  result.interleaved = interleave;

  Dumper dumper(options.dump_dir, data);
  std::optional<Dataset> dataset;
  Progress progress(options.progress, plan.size());
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const CasePlan& c = plan[i];
    if (!gbench_filter_matches(filter, c.name)) continue;
    CaseRecord rec = record_of(c);
    if (!c.skip_reason.empty()) {
      rec.error = "skipped: " + c.skip_reason;
      result.cases.push_back(std::move(rec));
      continue;
    }
    progress.show(i, "checking", c.name);
    if (!dataset || dataset->key != c.dataset_key) {
      dataset.reset();  // free the previous dataset before making the next
      dataset = make_dataset(c, data, sel, options);
      result.datasets.push_back(dataset->record);
      if (dumper.enabled()) dumper.dataset(c, *dataset);
    }
    if (!dataset->error.empty()) {
      rec.error = dataset->error;
      rec.agreement.status = AgreementStatus::error;
      result.cases.push_back(std::move(rec));
      continue;
    }
    if (c.impl->is_reference) {
      // The contract itself: computed with the dataset, compared with nothing, and not timed (a
      // float64 loop is no baseline for a kernel; speedups are over cpu.plain).
      result.cases.push_back(std::move(rec));
      continue;
    }
    if (const std::string lost = c.backend->lost(); !lost.empty()) {
      rec.error = lost;
      rec.agreement.status = AgreementStatus::error;
      result.cases.push_back(std::move(rec));
      continue;
    }
    TensorMap outputs = allocate_outputs(c);
    std::unique_ptr<BoundKernel> kernel;
    try {
      kernel = c.impl->bind(dataset->inputs, outputs, c.params);
      kernel->run();
      kernel->sync();
      kernel->fetch();
      rec.agreement = compare_outputs(c, outputs, *dataset);
      settle_status(rec.agreement, reg.known_failures().match(c.name));
      if (dumper.enabled()) dumper.impl(c, outputs, rec.agreement);
    } catch (const std::exception& e) {
      rec.error = e.what();
      rec.agreement.status = AgreementStatus::error;
      result.cases.push_back(std::move(rec));
      continue;
    }
    if (options.time) {
      progress.show(i, "timing", c.name);
      auto timing = c.backend->timing(c.timing_mode);
      if (!timing) {
        rec.error = c.backend->name() + " cannot time in mode '" + c.timing_mode + "'";
        rec.agreement.status = AgreementStatus::error;
        result.cases.push_back(std::move(rec));
        continue;
      }
      rec.timing.clock = timing->manual_time() ? "manual_time" : "real_time";
      rec.timing.mode = c.timing_mode;
      GbenchRun r = time_kernel(c.name, *timing, *kernel, interleave ? 1 : 0);
      if (!r.error.empty()) {
        rec.error = r.error;
        rec.agreement.status = AgreementStatus::error;
      } else {
        rec.timing.repetitions = std::move(r.repetitions);
        try {
          recheck_after_timing(c, *kernel, outputs, *dataset, rec.agreement);
          settle_status(rec.agreement, reg.known_failures().match(c.name));
        } catch (const std::exception& e) {
          rec.error = std::string("after the timed runs: ") + e.what();
          rec.agreement.status = AgreementStatus::error;
        }
        if (interleave && rec.error.empty()) {
          interleaved.push_back(
              {i, result.cases.size(), rec.timing.repetitions.front().iterations});
        }
      }
    }
    result.cases.push_back(std::move(rec));
  }
  if (interleave) {
    dataset.reset();
    time_remaining_rounds(plan, data, sel, options, repetitions, interleaved, result);
  }
  for (CaseRecord& rec : result.cases) rec.rates = case_rates(rec, result.ceilings);
  return result;
}

}  // namespace opbench
