#pragma once
// What a run's summary says under its tables, shared by the console summary and the HTML page:
// failures and errors one by one, and any warning that holds for several cases once, with a count
// and the worst few ("noise over 5% in 136 of 169 cases (worst: ...)"), never a line per case.
#include <string>
#include <vector>

#include "reports/report_model.hpp"

namespace opbench::reports {

struct RunLog {
  std::vector<std::string> lines;
  // "175 cases, 121 passed, 0 failed agreement, 4 known failures (xfail), 0 errors, 6 skipped"
  std::string counts;
  int passed = 0, failed = 0, xfail = 0, errors = 0, skipped = 0, stale = 0, noisy = 0;
};

// A case whose noise (coefficient of variation) is over this fraction gets counted as noisy.
inline constexpr double kNoiseWarnFraction = 0.05;

RunLog summarize_run(const RunData& run);

}  // namespace opbench::reports
