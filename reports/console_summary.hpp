#pragma once
// The summary printed after a run: per op and parameter point, each implementation's time, noise,
// GB/s, GFLOP/s, fraction of the machine's ceiling, speedup over the reference and agreement, in
// the spirit of nvbench's markdown tables. Works on the report document, so it can be printed
// again from a saved report.
#include <nlohmann/json.hpp>
#include <ostream>

namespace opbench::reports {

// `color`: ANSI colours for pass/fail (only when the stream is a terminal).
void print_summary(const nlohmann::json& report, std::ostream& out, bool color);

}  // namespace opbench::reports
