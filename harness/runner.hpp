#pragma once
// Plans the cases of a selection, checks each implementation against the float64 reference, and
// times them through Google Benchmark. Cases are independent: each one's results are kept as it
// finishes, and a kernel that throws costs only its own case.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "harness/data_provider.hpp"
#include "harness/registry.hpp"
#include "harness/results.hpp"

namespace opbench {

struct Selection {
  std::vector<std::string> suites, ops, impls, backends, dtypes;  // empty: all
  bool full = false;                                  // the full sweep instead of the quick one
  std::map<std::string, std::string> axis_overrides;  // axis name -> "1024,4096"
  std::map<std::string, std::string> inputs;          // tensor name -> path of a .npy
  std::vector<std::string> timing_modes;              // empty: every mode of each backend
  std::vector<std::string> modes;  // training passes (fwd, bwd, fwd_bwd); empty: all
};

struct RunOptions {
  bool time = true;        // false: agreement only (`opbench check`)
  std::string dump_dir;    // write every case as .npy files here
  int threads = 0;         // 0: all cores
  std::uint64_t seed = 1;  // base seed of the generated inputs
  bool progress = false;   // a progress line on stderr
  // Google Benchmark flags passed through (--benchmark_repetitions=3, ...).
  std::vector<std::string> benchmark_flags;
  std::string command_line;  // recorded in the report
  // Sampled agreement: a reference costing more than this runs on a seeded sample of rows along
  // the op's sample axis (about one second of float64 reference per dataset).
  double reference_budget_flops = 1e9;
  bool full_check = false;  // --full-check: never sample
  // With repetitions > 1, take one repetition of every case per round, rounds in a seeded random
  // order, instead of a case's repetitions back to back: the spread of a case's repetitions then
  // holds the machine's drift over the whole run, which two separate runs also differ by, so
  // `opbench compare` does not call drift a change (Google Benchmark's random interleaving).
  // --benchmark_enable_random_interleaving=false|true overrides it.
  bool interleave = true;
  // --isolate: every case runs in a worker process started with this command (this build's
  // `opbench worker`, harness/worker_protocol.hpp), restarted after a case kills it; empty: in
  // this process.
  std::vector<std::string> worker_command;
  // With a worker process: the most one unit of a case (its check and first timing, or one later
  // repetition) may take before its worker is killed and the case is an error; 0: no limit.
  double case_timeout_s = 0;
};

// One (op, impl, dtype, parameter point).
struct CasePlan {
  const Op* op = nullptr;
  const Impl* impl = nullptr;
  DType dtype = DType::f32;
  Params params;
  std::string name;         // "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal"
  std::string dataset_key;  // the name without the impl
  std::string skip_reason;  // non-empty: the impl does not support this point (listed, not run)
  const Backend* backend = nullptr;  // where the implementation runs
  // How it is timed: one of the backend's timing modes ("wall", "hot", "cold"); "" for a backend
  // whose kernels are not timed (the reference). A backend with several modes gets one case per
  // mode, named with a "/mode:<m>" suffix.
  std::string timing_mode;
};

// Validates the selection (unknown names, bad axis values, bad .npy inputs, shapes too large for
// this machine's memory) and expands it; throws UsageError with one line on any problem.
std::vector<CasePlan> plan_cases(const Registry& reg, const Selection& sel,
                                 const DataProvider& data);

class RunSink;  // harness/run_sink.hpp

// Checks (and unless options.time is false, times) every planned case, handing each result to
// `sink` (when given) as it finishes. Stops between two units when interrupted
// (harness/interrupt.hpp): the result then holds what finished and says why it is incomplete.
RunResult run_cases(const Registry& reg, const std::vector<CasePlan>& plan,
                    const DataProvider& data, const Selection& sel, const RunOptions& options,
                    RunSink* sink = nullptr);

}  // namespace opbench
