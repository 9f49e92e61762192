#pragma once
// The summary printed after a run: per op and parameter point, each implementation's time, noise,
// GB/s, GFLOP/s, fraction of the machine's ceiling, speedup over cpu.plain, worst error against
// the allowed error and agreement, in the spirit of nvbench's markdown tables; then a log where a
// warning that holds for many cases is said once. Works on the report document through the
// shared model (reports/report_model.hpp), so a saved report prints the same.
#include <nlohmann/json.hpp>
#include <ostream>

namespace opbench::reports {

// `color`: ANSI colours for pass/fail (only when the stream is a terminal).
void print_summary(const nlohmann::json& report, std::ostream& out, bool color);

}  // namespace opbench::reports
