#pragma once
// Writes a run as the JSON report: Google Benchmark's document (context and benchmarks, in the
// form its JSON reporter writes them, so its tools/compare.py reads ours) with opbench's fields
// added to every benchmark entry of a case, and an "opbench" block with the build, the ceilings,
// the datasets and every case (its agreement status, its time and rates). The schema is
// reports/opbench-report.schema.json.
#include <nlohmann/json.hpp>

#include "harness/results.hpp"

namespace opbench::reports {

inline constexpr int kSchemaVersion = 2;

// Builds the report document of a run.
nlohmann::json build_report(const RunResult& run);

}  // namespace opbench::reports
