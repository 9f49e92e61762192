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
#include "tools/compare_options.hpp"

namespace opbench::cli {

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
  bool help = false;
  std::string baseline_impl;
  std::vector<std::string> inputs;
  CompareCliOptions cmp_options;
  desc.add_options()("help,h", po::bool_switch(&help), "this help");
  cmp_options.add_to(desc);
  desc.add_options()("baseline-impl", po::value(&baseline_impl),
                     "one run: the implementation speedups are taken over (default cpu.plain)")(
      "reports", po::value(&inputs)->composing(), "JSON reports");
  const po::variables_map vm = parse_with_positional(args, desc, "reports", -1, "compare: ");
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
  cmp_options.check();

  std::vector<reports::LoadedReport> loaded;
  for (const std::string& path : inputs) loaded.push_back(reports::load_report(path));
  for (const auto& l : loaded) {
    for (const std::string& w : l.warnings) std::cerr << "opbench: warning: " << w << "\n";
  }
  std::vector<reports::RunData> runs;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    runs.push_back(reports::extract_run(loaded[i].doc, inputs[i]));
  }
  if (inputs.size() == 2) return cmp_options.write(runs[0], runs[1]);

  // One run: its implementations side by side.
  auto formatter = reports::make_compare_formatter(
      reports::parse_compare_format(cmp_options.format), cmp_options.colored());
  reports::SideBySide s = reports::side_by_side(
      runs[0], baseline_impl.empty() ? std::string("cpu.plain") : baseline_impl);
  if (!formatter->shows_warnings() || !cmp_options.output.empty()) {
    for (const std::string& w : s.warnings) std::cerr << "opbench: warning: " << w << "\n";
  }
  std::ostringstream text;
  formatter->write(s, text);
  cmp_options.put(text.str());
  return kExitOk;
}

}  // namespace opbench::cli
