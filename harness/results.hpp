#pragma once
// What one run produced, as typed data: every case with its agreement, its timing repetitions and
// the rates derived from them, the datasets, the machine's ceilings and the build. reports/ turns
// it into JSON (a superset of Google Benchmark's), the console summary, HTML and comparisons.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/agreement_result.hpp"
#include "harness/op.hpp"

namespace opbench {

struct TensorRecord {
  std::string name;
  std::string dtype;
  Shape shape;
  // "generated", the path of the user's .npy, or "generated, then the forward pass" for a backward
  // op's saved tensor (drawn from dist and seed, then recomputed by GradientOf::save)
  std::string source;
  std::string dist;  // distribution spec when generated
  std::uint64_t seed = 0;
  std::string checksum;
  // A user's file in another dtype, rounded to this tensor's: the file's dtype ("f32" for a
  // float32 .npy given to a bf16 case, numpy having no bfloat16); empty when read as it is.
  std::string converted_from;
};

// The inputs of one (op, dtype, parameter point): shared by all implementations of that point.
struct DatasetRecord {
  std::string key;  // "norm/layernorm/f32/rows:64/cols:4096/dist:normal"
  std::vector<TensorRecord> tensors;
  // Sampled agreement: the rows along `sample_axis` that were checked (empty axis: all of them).
  std::string sample_axis;
  std::vector<std::int64_t> sample_rows;
  std::int64_t sample_of = 0;
  std::uint64_t sample_seed = 0;
};

// One repetition of a timed case: Google Benchmark's run of `iterations` executions.
struct Repetition {
  double seconds = 0;      // per execution: wall clock, or device events for manual time
  double cpu_seconds = 0;  // the timing thread's CPU time per execution (Google Benchmark's)
  std::int64_t iterations = 0;
  std::map<std::string, double> counters;  // "launches_per_sample" of batched device timing
};

// The repetitions of a timed case. The time of a case, wherever it is shown (console, JSON,
// HTML, compare), is seconds(): the median of its repetitions, as Google Benchmark's median
// aggregate (the mean of the middle two of an even count).
struct Timing {
  std::string clock = "real_time";  // Google Benchmark's suffix: "real_time" or "manual_time"
  std::string mode;                 // the backend's timing mode: "wall", "hot", "cold"
  std::vector<Repetition> repetitions;
  bool timed() const { return !repetitions.empty(); }
  std::vector<double> samples() const;      // seconds per execution, one per repetition
  std::vector<double> cpu_samples() const;  // the same in CPU time
  double seconds() const;                   // the median; 0 when not timed
  double cv() const;                        // stddev / mean as a fraction; NaN below 2 repetitions
};

// Rates of a time under a cost model, and the fraction of the roofline the ceilings allow.
struct Rates {
  double gbps = NAN;
  double gflops = NAN;
  double ceiling_fraction = NAN;  // NaN when no ceiling applies
};

struct CaseRecord {
  std::string name;  // "norm/layernorm/cpu.fast/f32/rows:64/cols:4096/dist:normal"
  std::string suite, op, impl, backend;
  std::string dtype;
  Params params;
  Cost cost;
  Agreement agreement;
  bool is_reference = false;
  std::string dataset;  // DatasetRecord::key
  std::string error;    // why the case did not run or time ("skipped: ..." when it was not run)
  Timing timing;
  Rates rates;  // of timing.seconds()
};

// A ceiling of the machine measured in this run: a copy moving `bytes` (read + write) or a large
// SGEMM, timed like the kernels (same threads, same statistic).
struct Ceiling {
  std::string backend;  // "cpu" or "cuda"
  std::string kind;     // "copy" or "sgemm"
  double bytes = 0;     // copy: bytes read + written per execution
  double flops = 0;     // sgemm: flops per execution
  Timing timing;
  double seconds() const { return timing.seconds(); }
  double gbps() const;
  double gflops() const;
};

struct BuildInfo {
  std::string tool_version, git_commit, compiler, cxx_flags, build_type, blas, cuda, onednn, faiss,
      torch;
  bool git_dirty = false;
  bool native = false;
};

// Which plan a report belongs to: the shards of one plan share its fingerprint, and `opbench
// merge` joins their reports by it (harness/shard.hpp).
struct PlanInfo {
  std::string fingerprint;             // of the whole, unsharded plan and the seed; "": unknown
  std::size_t planned = 0;             // cases in the whole plan
  std::string shard;                   // "2/3", or "" for the whole plan
  std::vector<std::size_t> positions;  // the plan position of each of RunResult::cases
};

struct RunResult {
  // Google Benchmark's context (date, host, CPUs, caches, load), as its JSON reporter writes it.
  nlohmann::json context = nlohmann::json::object();
  std::vector<CaseRecord> cases;
  std::vector<DatasetRecord> datasets;
  std::vector<Ceiling> ceilings;
  BuildInfo build;
  std::vector<std::string> devices;  // "cpu: AMD EPYC ...", "cuda:0: NVIDIA H100 ..."
  int threads = 1;
  bool timed = true;  // false for `opbench check`
  // Repetitions taken in rounds across the cases (RunOptions::interleave), not back to back.
  bool interleaved = false;
  // --benchmark_report_aggregates_only: the JSON lists a case's aggregates, not each repetition.
  bool aggregates_only = false;
  std::string command_line;
  // Cases the plan holds for this run (after --benchmark_filter), so a partial run says how much
  // of it finished.
  std::size_t planned = 0;
  // "" when every planned case finished; else why the run stopped early ("SIGINT", "SIGTERM",
  // or what a journal of a killed run says). The report marks such a run incomplete.
  std::string incomplete;
  // What reproduces the run (`opbench reproduce`): its selection and run options in the worker
  // protocol's form (harness/case_codec.hpp: {"selection": ..., "options": ...}); null when
  // unknown (a run read back from an old report).
  nlohmann::json settings;
  // How the cases ran: "in-process", or "isolated" (each in a worker process; --isolate).
  std::string workers = "in-process";
  PlanInfo plan;
};

// Fraction of the roofline: the time the ceilings allow for `cost` over the measured time.
// Memory-bound work gives achieved GB/s over the copy ceiling. 0 when no ceiling is known.
double ceiling_fraction(const Cost& cost, double seconds, double copy_gbps, double gemm_gflops);

// The rates of `c` at its time against the ceilings of its backend measured in the run (the copy
// of the nearest size, the SGEMM): the one place rates and the roofline are computed.
Rates case_rates(const CaseRecord& c, const std::vector<Ceiling>& ceilings);

}  // namespace opbench
