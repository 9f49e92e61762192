// run_cases(): the ceilings first, then for every planned case its first unit (its dataset when
// it is the first of it, bind, one run on poisoned outputs, compare, time, compare again after
// the timed runs) through a worker (this process, or a worker process with --isolate), then the
// remaining repetitions in interleaved rounds (harness/interleave.hpp). A case that throws, or
// kills its worker process, is recorded and the run goes on; every result goes to the sink (the
// journal) as it finishes.
#include "harness/runner.hpp"

#include <memory>
#include <set>

#include "harness/build_info.hpp"
#include "harness/case_codec.hpp"
#include "harness/case_runner.hpp"
#include "harness/case_worker.hpp"
#include "harness/ceiling_plan.hpp"
#include "harness/gbench_driver.hpp"
#include "harness/interleave.hpp"
#include "harness/interrupt.hpp"
#include "harness/process_worker.hpp"
#include "harness/progress.hpp"
#include "harness/run_sink.hpp"

namespace opbench {

RunResult run_cases(const Registry& reg, const std::vector<CasePlan>& plan,
                    const DataProvider& data, const Selection& sel, const RunOptions& options,
                    RunSink* sink) {
  RunResult result;
  result.threads = prepare_process(options);
  result.build = build_info();
  result.timed = options.time;
  result.command_line = options.command_line;
  result.settings = {{"selection", codec::to_json(sel)}, {"options", codec::to_json(options)}};
  result.workers = options.worker_command.empty() ? "in-process" : "isolated";
  result.devices = reg.device_lines();
  result.context = gbench_context();
  result.aggregates_only = options.time && gbench_aggregates_only();
  const std::string filter = options.time ? gbench_filter() : "";
  for (const CasePlan& c : plan) result.planned += gbench_filter_matches(filter, c.name);

  // Interleaved repetitions: the first in this loop, right after the check; the others in rounds.
  const int repetitions = options.time ? gbench_repetitions() : 1;
  const int interleaving_flag = options.time ? gbench_random_interleaving() : -1;
  const bool interleave =
      repetitions > 1 && (interleaving_flag >= 0 ? interleaving_flag == 1 : options.interleave);
  result.interleaved = interleave;
  if (sink) sink->on_begin(result);
  if (options.time) {
    result.ceilings = measure_ceilings(plan, filter, options.progress);
    if (sink) sink->on_ceilings(result.ceilings);
  }

  const int repetitions_now = interleave ? 1 : 0;
  std::unique_ptr<CaseWorker> worker;
  if (options.worker_command.empty()) {
    worker = std::make_unique<InProcessWorker>(reg, data, sel, options, repetitions_now);
  } else {
    worker = std::make_unique<ProcessWorker>(WorkerCommand{options.worker_command, "this build"},
                                             sel, options, repetitions_now, options.case_timeout_s);
  }
  auto add_case = [&](CaseRecord rec) {
    if (sink) sink->on_case(result.cases.size(), rec);
    result.cases.push_back(std::move(rec));
  };

  std::vector<InterleavedCase> interleaved;
  std::set<std::string> datasets_seen;
  Progress progress(options.progress, plan.size());
  bool stopped = false;
  for (std::size_t i = 0; i < plan.size() && !stopped; ++i) {
    const CasePlan& c = plan[i];
    if (!gbench_filter_matches(filter, c.name)) continue;
    if (interrupted()) {
      stopped = true;
      break;
    }
    if (!c.skip_reason.empty()) {
      CaseRecord rec = record_of(c);
      rec.error = "skipped: " + c.skip_reason;
      add_case(std::move(rec));
      continue;
    }
    progress.show(i, options.time ? "checking and timing" : "checking", c.name);
    FirstUnit unit = worker->first(c);
    if (unit.interrupted) {
      stopped = true;
      break;
    }
    // A worker process started again after a crash makes a dataset again: listed once.
    if (unit.dataset && datasets_seen.insert(unit.dataset->key).second) {
      if (sink) sink->on_dataset(*unit.dataset);
      result.datasets.push_back(std::move(*unit.dataset));
    }
    const bool timed_ok = unit.record.error.empty() && unit.record.timing.timed();
    if (interleave && timed_ok) interleaved.push_back({i, result.cases.size(), unit.iterations});
    add_case(std::move(unit.record));
  }
  if (!stopped && interleave) {
    stopped =
        !time_remaining_rounds(plan, *worker, options, repetitions, interleaved, result, sink);
  }
  worker.reset();
  for (CaseRecord& rec : result.cases) rec.rates = case_rates(rec, result.ceilings);
  if (stopped) {
    result.incomplete = interrupt_name();
  } else if (sink) {
    sink->on_end();
  }
  return result;
}

}  // namespace opbench
