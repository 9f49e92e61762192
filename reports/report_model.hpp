#pragma once
// The one model every reader of reports works on (console summary, compare, HTML, nightly): the
// cases of a run with their agreement status, their time by one rule, and their rates, read
// from a report document. Reports of schema 1 and plain Google Benchmark reports are read where
// possible.
#include <cmath>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/agreement_result.hpp"

namespace opbench::reports {

// One case of one run, as compare and the HTML page read it.
struct CaseData {
  std::string name;  // the case name (opbench.cases), else Google Benchmark's run_name
  std::string suite, op, impl, backend, dtype;
  std::string params;         // "rows=64 cols=4096 dist=normal"
  std::vector<double> times;  // seconds, one per repetition (real time)
  std::vector<double> cpu;    // seconds, one per repetition (Google Benchmark's cpu_time)
  // The time of the case, seconds; 0 when it has none. The one rule everywhere: the median of
  // the repetitions (harness/results.hpp, Timing::seconds), read from opbench.cases[].time.
  double median = 0;
  double cv = NAN;  // noise over the repetitions (fraction)
  double gbps = NAN, gflops = NAN, ceiling_fraction = NAN;
  double flops = NAN, bytes = NAN;  // its cost model
  bool timed = false;               // has at least one time
  bool has_agreement = false;
  AgreementStatus status = AgreementStatus::not_applicable;  // v1 reports: from `passed`
  bool checked = false;
  double err_ratio = NAN;  // worst |out - ref| / allowed error (pass when <= 1)
  double max_abs_err = NAN, max_rel_err = NAN, rel_l2_err = NAN;
  std::int64_t mismatches = 0, elements = 0, ties = 0;
  std::string first_mismatch;
  std::string known_failure;  // the manifest's reason for a listed known failure
  bool changed_during_timing = false;
  // The kernel's max_abs_err over cpu.plain's on the same data (bf16/f16 cases; NaN when unknown).
  double err_vs_plain = NAN;
  std::string dataset;  // a key of opbench.datasets
  std::string error;    // "" or why it did not run ("skipped: ..." for a skip)
  bool is_reference = false;
  bool skipped() const;
  bool errored() const;  // an error that is not a skip
  bool failed() const { return status == AgreementStatus::fail; }
  // A listed known failure that passed: the manifest entry is stale.
  bool stale_known_failure() const {
    return status == AgreementStatus::pass && !known_failure.empty();
  }
};

// What identifies a run: where it ran and what built it.
struct RunInfo {
  std::string source;      // the file
  std::string date;        // context.date
  std::string host;        // context.host_name
  std::string cpu;         // the CPU model from opbench.devices ("AMD EPYC"), "" when unknown
  std::string machine;     // "vm (AMD EPYC, 2 CPUs)": host, CPU model, CPU count, GPUs
  std::string machine_id;  // the same as a file-name slug: "vm-amd-epyc-2cpu"
  std::string commit;
  bool dirty = false;
  std::string tool_version;
  std::string build;  // build type, compiler, flags, native, BLAS: differs = another build
  int threads = 0;
  bool timed = true;  // false for an agreement-only report
  std::vector<std::string> devices;
};

struct RunData {
  RunInfo info;
  std::vector<CaseData> cases;  // in report order
  // The machine's ceilings measured in the run ("cpu/copy/2129920" -> seconds): the state of the
  // machine itself, so that a machine that was busier in one run is told from slower code.
  std::map<std::string, double> ceilings;
  // Sampled agreement per dataset key: "sample 8/1024 tokens" (datasets checked whole: absent).
  std::map<std::string, std::string> samples;
  const CaseData* find(const std::string& name) const;
};

// How a case's agreement reads in a table, the same in every output: "ok", "ok, 3 ties", "xfail",
// "FAIL 12/4096, worst 3.2x allowed", "ERROR", "skipped", "ref", "-" (not checked).
std::string agreement_text(const CaseData& c);
enum class Tone { plain, good, warn, bad };
Tone agreement_tone(const CaseData& c);  // good: pass; warn: xfail or a stale entry; bad: fail

// Reads the cases of a report document (a partial one gives what it has; never throws).
RunData extract_run(const nlohmann::json& doc, const std::string& source);

}  // namespace opbench::reports
