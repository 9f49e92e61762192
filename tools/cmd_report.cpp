// `opbench report RUN.json... -o page.html`: one self-contained HTML page from saved reports.
// `opbench report --from-journal RUN.json.journal --json OUT.json`: the JSON report of what a
// killed run measured, from its journal (harness/journal.hpp).
#include <algorithm>
#include <iostream>

#include "harness/errors.hpp"
#include "harness/journal.hpp"
#include "reports/atomic_file.hpp"
#include "reports/html_report.hpp"
#include "reports/json_report.hpp"
#include "tools/cli.hpp"

namespace opbench::cli {

namespace {

int report_from_journal(const std::string& journal, const std::string& json) {
  if (json.empty()) {
    throw UsageError("--from-journal needs --json OUT.json: where to write the report");
  }
  reports::check_writable(json);
  const RunResult run = read_journal(journal);
  reports::write_report(json, reports::build_report(run));
  std::size_t finished = 0;
  for (const auto& c : run.cases) finished += c.error.rfind("skipped: ", 0) != 0;
  std::cout << "wrote " << json << ": " << finished << " case(s) that ran"
            << (run.incomplete.empty() ? "" : " (marked incomplete: " + run.incomplete + ")")
            << "\n";
  return kExitOk;
}

}  // namespace

int cmd_report(const Args& args) {
  po::options_description desc(
      "opbench report RUN.json... -o page.html [--baseline BASE.json] [--latest]\n\nRenders one "
      "or more JSON reports as one self-contained HTML page (no network, no external assets):\n"
      "a summary, one sortable table per op, speedup bars, a roofline plot, and a trend line per "
      "case\nwhen several runs of one machine are given.\n\nOptions");
  bool help = false, latest = false;
  std::string output, baseline, journal, json;
  std::vector<std::string> inputs;
  desc.add_options()("help,h", po::bool_switch(&help), "this help")("output,o", po::value(&output),
                                                                    "the HTML file to write")(
      "baseline", po::value(&baseline),
      "a baseline report: the summary lists the worst regressions of the newest run of its "
      "machine against it")("latest", po::bool_switch(&latest),
                            "tables for the newest run of each machine only; the other runs "
                            "feed the trends")("reports", po::value(&inputs)->composing(),
                                               "JSON reports written by opbench run/check")(
      "from-journal", po::value(&journal),
      "instead: make the JSON report (--json) of what a killed run measured, from the journal it "
      "left next to its report (REPORT.json.journal)")(
      "json", po::value(&json), "with --from-journal: the JSON report to write");
  parse_with_positional(args, desc, "reports", -1);
  if (help) {
    std::cout << desc << "\n";
    return kExitOk;
  }
  if (!journal.empty()) {
    if (!inputs.empty() || !output.empty()) {
      throw UsageError("--from-journal makes a JSON report (--json); render it in a second call");
    }
    return report_from_journal(journal, json);
  }
  if (!json.empty()) throw UsageError("--json goes with --from-journal");
  if (inputs.empty()) throw UsageError("report: give at least one JSON report");
  if (output.empty()) throw UsageError("report: give the output page with -o FILE.html");
  reports::check_writable(output);
  reports::HtmlOptions options;
  options.latest_only = latest;
  std::vector<nlohmann::json> docs;
  std::vector<std::string> sources = inputs;
  if (!baseline.empty()) {
    // A baseline that is one of the reports is not read twice.
    auto given = std::find(inputs.begin(), inputs.end(), baseline);
    options.baseline = static_cast<int>(given - inputs.begin());
    if (given == inputs.end()) sources.push_back(baseline);
  }
  std::vector<std::string> warnings;
  for (const auto& path : sources) {
    reports::LoadedReport loaded = reports::load_report(path);
    docs.push_back(std::move(loaded.doc));
    warnings.insert(warnings.end(), loaded.warnings.begin(), loaded.warnings.end());
  }
  for (const std::string& w : warnings) std::cerr << "opbench: warning: " << w << "\n";
  reports::write_file_atomically(output, reports::render_html(docs, sources, options));
  std::cout << "wrote " << output << "\n";
  return kExitOk;
}

}  // namespace opbench::cli
