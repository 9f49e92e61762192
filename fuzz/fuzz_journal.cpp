// Fuzz target: the journal reader (`opbench report --from-journal`), which reads what a killed
// run left, or any file a user points it at. Any bytes are either read into a run, whose report
// is then built and must be valid by the schema, or refused with a one-line UsageError naming the
// file; nothing else may escape.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.hpp"
#include "fuzz/memory_file.hpp"
#include "harness/errors.hpp"
#include "harness/journal.hpp"
#include "reports/json_report.hpp"

using opbench::UsageError;
namespace rep = opbench::reports;
namespace fz = opbench::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fz::MemoryFile file(data, size);
  try {
    const opbench::RunResult run = opbench::read_journal(file.path());
    const nlohmann::json doc = rep::build_report(run);
    const std::string problem = rep::validate_report(doc);
    OPBENCH_FUZZ_CHECK(problem.empty(), ("a journal gave an invalid report: " + problem).c_str());
  } catch (const UsageError& e) {
    fz::check_one_line(e.what());
    OPBENCH_FUZZ_CHECK(std::string(e.what()).find(file.path()) != std::string::npos, e.what());
  }
  return 0;
}
