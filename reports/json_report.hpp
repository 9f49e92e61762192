#pragma once
// The JSON report: Google Benchmark's document (context and benchmarks, names unchanged, so its
// tools/compare.py reads it) with opbench's fields added to every benchmark entry and an "opbench"
// block. The schema is reports/opbench-report.schema.json.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/results.hpp"
#include "reports/json_writer.hpp"

namespace opbench::reports {

// Reads and validates a report; throws UsageError with one line naming the file and the field
// (missing, wrong type, or a schema_version newer than this tool understands).
nlohmann::json read_report(const std::string& path);

// A report read where possible, for compare, report and nightly: `doc` is the document and
// `warnings` says what was missing, odd or from another tool (one line each, naming the field).
struct LoadedReport {
  nlohmann::json doc;
  std::vector<std::string> warnings;
};

// Reads a report leniently: a missing or mistyped field, a plain Google Benchmark report, or a
// report of another opbench version is read (with a warning); refused with a UsageError naming
// the file and the field only where nothing sensible can be read: not JSON, not an object, no
// benchmarks array, a schema_version newer than this tool understands, or a benchmark entry whose
// time cannot be read.
LoadedReport load_report(const std::string& path);

// Checks a parsed document against the rules of the schema; returns "" or the first problem.
std::string validate_report(const nlohmann::json& doc);

// The report as text (indented, a final newline); invalid UTF-8 in strings is replaced, never
// thrown on, and NaN/Inf numbers come out as null.
std::string dump_report(const nlohmann::json& report);

// dump_report(report) written atomically to `path`; throws UsageError on failure.
void write_report(const std::string& path, const nlohmann::json& report);

// The case names a Google Benchmark run_name may belong to, longest first: the run_name itself,
// then the run_name with each trailing suffix Google Benchmark appends ("/manual_time",
// "/real_time", "/process_time", "/min_time:...", "/min_warmup_time:...", "/repeats:...",
// "/iterations:...", "/threads:...") removed one at a time.
std::vector<std::string> case_name_candidates(const std::string& run_name);

}  // namespace opbench::reports
