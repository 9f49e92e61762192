#pragma once
// The options of a two-run comparison, shared by `opbench compare` and `opbench ab` (same
// statistics, same output formats, same exit codes): threshold, alpha, FDR, error growth, format,
// output file, colour, time kind, --fail-on-regression.
#include <string>

#include "reports/compare.hpp"
#include "reports/report_model.hpp"
#include "tools/cli.hpp"

namespace opbench::cli {

struct CompareCliOptions {
  std::string threshold = "5", format = "terminal", color = "auto", output, time_kind = "real";
  double alpha = 0.05, error_growth = 10;
  bool fail_on_regression = false, no_fdr = false;

  void add_to(po::options_description& desc);
  // Checks the values (UsageError with one line) and the output path; call before any work.
  void check() const;
  reports::CompareOptions options() const;
  bool colored() const;  // --color, the terminal and NO_COLOR
  // Writes `text` to --output (atomically) or stdout.
  void put(const std::string& text) const;
  // Compares `base` with `next`, writes the result where the options say (warnings on stderr when
  // the output does not show them), and returns the exit code compare gives.
  int write(const reports::RunData& base, const reports::RunData& next) const;
};

}  // namespace opbench::cli
