// `opbench report RUN.json... -o page.html`: one self-contained HTML page from saved reports.
#include <iostream>

#include "harness/errors.hpp"
#include "reports/atomic_file.hpp"
#include "reports/html_report.hpp"
#include "reports/json_report.hpp"
#include "tools/cli.hpp"

namespace opbench::cli {

int cmd_report(const Args& args) {
  po::options_description desc(
      "opbench report RUN.json... -o page.html\n\nRenders one or more JSON reports as one "
      "self-contained HTML page (no network, no external assets).\n\nOptions");
  bool help = false;
  std::string output;
  std::vector<std::string> inputs;
  desc.add_options()("help,h", po::bool_switch(&help), "this help")("output,o", po::value(&output),
                                                                    "the HTML file to write")(
      "reports", po::value(&inputs)->composing(), "JSON reports written by opbench run/check");
  po::positional_options_description positional;
  positional.add("reports", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  if (help) {
    std::cout << desc << "\n";
    return kExitOk;
  }
  if (inputs.empty()) throw UsageError("report: give at least one JSON report");
  if (output.empty()) throw UsageError("report: give the output page with -o FILE.html");
  reports::check_writable(output);
  std::vector<nlohmann::json> docs;
  for (const auto& path : inputs) docs.push_back(reports::read_report(path));
  reports::write_file_atomically(output, reports::render_html(docs, inputs));
  std::cout << "wrote " << output << "\n";
  return kExitOk;
}

}  // namespace opbench::cli
