// Fuzz target: the report readers, strict (read_report: validated against the schema's rules)
// and lenient (load_report: read where possible, with warnings). Any bytes are either read or
// refused with a one-line UsageError naming the file; nothing else may escape, and extract_run
// reads any loaded document. (The strict reader is not a subset of the lenient one: the schema
// says nothing of time_unit, which the lenient reader checks because compare needs the times.)
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.hpp"
#include "fuzz/memory_file.hpp"
#include "harness/errors.hpp"
#include "reports/compare.hpp"
#include "reports/json_report.hpp"

using opbench::UsageError;
namespace rep = opbench::reports;
namespace fz = opbench::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fz::MemoryFile file(data, size);
  try {
    const nlohmann::json doc = rep::read_report(file.path());
    OPBENCH_FUZZ_CHECK(rep::validate_report(doc).empty(), "read_report returned an invalid doc");
    (void)rep::dump_report(doc);
  } catch (const UsageError& e) {
    fz::check_one_line(e.what());
    OPBENCH_FUZZ_CHECK(std::string(e.what()).find(file.path()) != std::string::npos, e.what());
  }
  try {
    rep::LoadedReport loaded = rep::load_report(file.path());
    for (const std::string& w : loaded.warnings) fz::check_one_line(w);
    const rep::RunData run = rep::extract_run(loaded.doc, file.path());
    (void)run;
  } catch (const UsageError& e) {
    fz::check_one_line(e.what());
    OPBENCH_FUZZ_CHECK(std::string(e.what()).find(file.path()) != std::string::npos, e.what());
  }
  return 0;
}
