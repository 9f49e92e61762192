// `opbench compare BASE.json NEW.json`: two runs case by case, with a significance test and an
// exit code for CI. `opbench compare RUN.json --baseline-impl NAME`: the implementations of one
// run side by side.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "harness/errors.hpp"
#include "reports/atomic_file.hpp"
#include "reports/compare.hpp"
#include "reports/compare_format.hpp"
#include "reports/json_report.hpp"
#include "tools/cli.hpp"

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

int cmd_compare(const Args& args) {
  po::options_description desc(
      "opbench compare BASE.json NEW.json [options]\n"
      "opbench compare RUN.json [--baseline-impl NAME]\n\n"
      "Two runs: matches cases by name; per case the median time ratio, a two-sided Mann-Whitney "
      "U test over\nthe repetitions (as Google Benchmark's compare.py), and a verdict: slower or "
      "faster only when the change\nis beyond the threshold and significant at alpha, after the "
      "Benjamini-Hochberg adjustment over all\ncases (so that noise does not flag alpha of them "
      "by chance). Agreement "
      "regressions (passed, now fails; an error\ngrown more than --error-growth times) are "
      "flagged too. Use --repetitions 9 or more in both runs.\n"
      "One run: every implementation side by side with its speedup over --baseline-impl.\n\n"
      "Exit code: 0 done, 1 a regression with --fail-on-regression, 2 bad usage or an unreadable "
      "report.\n\nOptions");
  bool help = false, fail_on_regression = false, no_fdr = false;
  std::string threshold = "5", format = "terminal", baseline_impl, color = "auto", output;
  std::string time_kind = "real";
  double alpha = 0.05, error_growth = 10;
  std::vector<std::string> inputs;
  desc.add_options()("help,h", po::bool_switch(&help), "this help")(
      "threshold", po::value(&threshold),
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
      "baseline-impl", po::value(&baseline_impl),
      "one run: the implementation speedups are taken over (default cpu.plain)")(
      "color", po::value(&color),
      "auto (only on a terminal, and not with NO_COLOR), always, never")(
      "time", po::value(&time_kind),
      "real (default: wall clock, what opbench times) or cpu (Google Benchmark's cpu_time of the "
      "timing thread: steadier on a busy machine, blind to other threads)")(
      "reports", po::value(&inputs)->composing(), "JSON reports");
  po::positional_options_description positional;
  positional.add("reports", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string("compare: ") + e.what());
  }
  if (help) {
    std::cout << desc << "\n";
    return kExitOk;
  }
  if (inputs.empty() || inputs.size() > 2) {
    throw UsageError("compare: give two reports (BASE.json NEW.json) or one with --baseline-impl");
  }
  if (inputs.size() == 2 && vm.count("baseline-impl")) {
    throw UsageError(
        "compare: --baseline-impl compares the implementations of one run; give one report");
  }
  reports::CompareOptions options;
  options.threshold = parse_percent(threshold, "--threshold");
  if (!(alpha > 0 && alpha < 1)) throw UsageError("--alpha must be between 0 and 1 (e.g. 0.05)");
  if (!(error_growth > 1) || !std::isfinite(error_growth)) {
    throw UsageError("--error-growth must be a factor above 1 (e.g. 10)");
  }
  options.alpha = alpha;
  options.fdr = !no_fdr;
  options.error_growth = error_growth;
  if (time_kind != "real" && time_kind != "cpu") {
    throw UsageError("--time '" + time_kind + "': use real or cpu");
  }
  options.cpu_time = time_kind == "cpu";
  reports::CompareFormat fmt = reports::parse_compare_format(format);
  if (color != "auto" && color != "always" && color != "never") {
    throw UsageError("--color '" + color + "': use auto, always or never");
  }
  bool use_color =
      color == "always" || (color == "auto" && output.empty() && isatty(STDOUT_FILENO) &&
                            std::getenv("NO_COLOR") == nullptr);
  if (!output.empty()) reports::check_writable(output);

  std::vector<reports::LoadedReport> loaded;
  for (const std::string& path : inputs) loaded.push_back(reports::load_report(path));
  for (const auto& l : loaded) {
    for (const std::string& w : l.warnings) std::cerr << "opbench: warning: " << w << "\n";
  }
  std::vector<reports::RunData> runs;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    runs.push_back(reports::extract_run(loaded[i].doc, inputs[i]));
  }
  auto formatter = reports::make_compare_formatter(fmt, use_color);
  std::ostringstream text;
  bool regressed = false;
  if (inputs.size() == 1) {
    reports::SideBySide s = reports::side_by_side(
        runs[0], baseline_impl.empty() ? std::string("cpu.plain") : baseline_impl);
    if (!formatter->shows_warnings() || !output.empty()) {
      for (const std::string& w : s.warnings) std::cerr << "opbench: warning: " << w << "\n";
    }
    formatter->write(s, text);
  } else {
    reports::Comparison cmp = reports::compare_runs(runs[0], runs[1], options);
    // Loudly: on stderr too whenever the output itself does not show them on the terminal.
    if (!formatter->shows_warnings() || !output.empty()) {
      for (const std::string& w : cmp.warnings) std::cerr << "opbench: WARNING: " << w << "\n";
    }
    formatter->write(cmp, text);
    regressed = cmp.regressed();
  }
  if (output.empty()) {
    std::cout << text.str() << std::flush;
  } else {
    reports::write_file_atomically(output, text.str());
    std::cout << "wrote " << output << "\n";
  }
  return fail_on_regression && regressed ? kExitFailed : kExitOk;
}

}  // namespace opbench::cli
