#include "tools/compare_options.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "harness/errors.hpp"
#include "reports/atomic_file.hpp"
#include "reports/compare_format.hpp"

namespace opbench::cli {

namespace {

// "5" or "5%" -> 0.05.
double parse_percent(const std::string& text, const char* option) {
  std::string s = text;
  if (!s.empty() && s.back() == '%') s.pop_back();
  char* end = nullptr;
  double v = s.empty() ? NAN : std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v < 0 || v >= 1000) {
    throw UsageError(std::string(option) + " '" + text +
                     "' is not a percentage (a number from 0 to 1000, e.g. 5 or 5%)");
  }
  return v / 100;
}

}  // namespace

void CompareCliOptions::add_to(po::options_description& desc) {
  desc.add_options()("threshold", po::value(&threshold),
                     "smallest time change that counts, in percent (default 5)")(
      "alpha", po::value(&alpha),
      "significance level of the U test (default 0.05), as a false discovery rate over all cases")(
      "no-fdr", po::bool_switch(&no_fdr),
      "judge each case's own p-value against alpha, as compare.py does (about alpha of the "
      "unchanged cases are then flagged by chance)")(
      "error-growth", po::value(&error_growth),
      "an agreement error growing by more than this factor is a regression (default 10)")(
      "format", po::value(&format), "terminal (default), markdown, csv or json")(
      "output,o", po::value(&output), "write to this file (atomically) instead of stdout")(
      "fail-on-regression", po::bool_switch(&fail_on_regression),
      "exit 1 when a case got slower or its agreement regressed")(
      "color", po::value(&color),
      "auto (only on a terminal, and not with NO_COLOR), always, never")(
      "time", po::value(&time_kind),
      "real (default: wall clock, what opbench times) or cpu (Google Benchmark's cpu_time of the "
      "timing thread: steadier on a busy machine, blind to other threads)");
}

void CompareCliOptions::check() const {
  options();
  reports::parse_compare_format(format);
  if (color != "auto" && color != "always" && color != "never") {
    throw UsageError("--color '" + color + "': use auto, always or never");
  }
  if (!output.empty()) reports::check_writable(output);
}

reports::CompareOptions CompareCliOptions::options() const {
  reports::CompareOptions o;
  o.threshold = parse_percent(threshold, "--threshold");
  if (!(alpha > 0 && alpha < 1)) throw UsageError("--alpha must be between 0 and 1 (e.g. 0.05)");
  if (!(error_growth > 1) || !std::isfinite(error_growth)) {
    throw UsageError("--error-growth must be a factor above 1 (e.g. 10)");
  }
  o.alpha = alpha;
  o.fdr = !no_fdr;
  o.error_growth = error_growth;
  if (time_kind != "real" && time_kind != "cpu") {
    throw UsageError("--time '" + time_kind + "': use real or cpu");
  }
  o.cpu_time = time_kind == "cpu";
  return o;
}

bool CompareCliOptions::colored() const {
  return color == "always" || (color == "auto" && output.empty() && isatty(STDOUT_FILENO) &&
                               std::getenv("NO_COLOR") == nullptr);
}

void CompareCliOptions::put(const std::string& text) const {
  if (output.empty()) {
    std::cout << text << std::flush;
  } else {
    reports::write_file_atomically(output, text);
    std::cout << "wrote " << output << "\n";
  }
}

int CompareCliOptions::write(const reports::RunData& base, const reports::RunData& next) const {
  auto formatter =
      reports::make_compare_formatter(reports::parse_compare_format(format), colored());
  const reports::Comparison cmp = reports::compare_runs(base, next, options());
  // Loudly: on stderr too whenever the output itself does not show them on the terminal.
  if (!formatter->shows_warnings() || !output.empty()) {
    for (const std::string& w : cmp.warnings) std::cerr << "opbench: WARNING: " << w << "\n";
  }
  std::ostringstream text;
  formatter->write(cmp, text);
  put(text.str());
  return fail_on_regression && cmp.regressed() ? kExitFailed : kExitOk;
}

}  // namespace opbench::cli
