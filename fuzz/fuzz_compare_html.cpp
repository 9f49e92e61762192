// Fuzz target: what compare and report do with a report once it is loaded. The input is read
// leniently (as `opbench compare` and `opbench report` do); a document that loads is compared
// with itself and with the seed-like report below, shown side by side, written in every compare
// format, and rendered as an HTML page alone and with a baseline. Only a one-line UsageError may
// escape, every step must end (libFuzzer's -timeout catches a loop), and the sanitizers watch
// every number the charts and tables compute.
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "fuzz/memory_file.hpp"
#include "harness/errors.hpp"
#include "reports/compare.hpp"
#include "reports/compare_format.hpp"
#include "reports/html_report.hpp"
#include "reports/json_report.hpp"

using opbench::UsageError;
namespace rep = opbench::reports;
namespace fz = opbench::fuzz;

namespace {

void write_all_formats(const rep::Comparison* cmp, const rep::SideBySide* sbs) {
  for (auto format : {rep::CompareFormat::kTerminal, rep::CompareFormat::kMarkdown,
                      rep::CompareFormat::kCsv, rep::CompareFormat::kJson}) {
    for (bool color : {false, true}) {
      if (color && format != rep::CompareFormat::kTerminal) continue;
      std::ostringstream out;
      auto formatter = rep::make_compare_formatter(format, color);
      if (cmp) formatter->write(*cmp, out);
      if (sbs) formatter->write(*sbs, out);
    }
  }
  if (cmp) (void)rep::dump_report(rep::comparison_json(*cmp));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fz::MemoryFile file(data, size);
  rep::LoadedReport loaded;
  try {
    loaded = rep::load_report(file.path());
  } catch (const UsageError& e) {
    fz::check_one_line(e.what());
    return 0;
  }
  try {
    const rep::RunData run = rep::extract_run(loaded.doc, "fuzz.json");
    for (bool fdr : {true, false}) {
      for (bool cpu : {false, true}) {
        rep::CompareOptions options;
        options.fdr = fdr;
        options.cpu_time = cpu;
        const rep::Comparison cmp = rep::compare_runs(run, run, options);
        write_all_formats(&cmp, nullptr);
      }
    }
    for (const char* impl : {"cpu.plain", "ref"}) {
      try {
        const rep::SideBySide sbs = rep::side_by_side(run, impl);
        write_all_formats(nullptr, &sbs);
      } catch (const UsageError& e) {
        fz::check_one_line(e.what());
      }
    }
    (void)rep::render_html({loaded.doc}, {"fuzz.json"});
    rep::HtmlOptions options;
    options.baseline = 0;
    options.latest_only = true;
    (void)rep::render_html({loaded.doc, loaded.doc}, {"a.json", "b.json"}, options);
  } catch (const UsageError& e) {
    fz::check_one_line(e.what());
  }
  return 0;
}
