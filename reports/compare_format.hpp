#pragma once
// The output formats of `opbench compare`, one formatter each behind one interface (as Google
// Benchmark's reporters): a terminal table (colour only when asked, i.e. on a terminal), markdown
// for pull-request comments, CSV, and JSON.
#include <memory>
#include <ostream>
#include <string>

#include "reports/compare.hpp"

namespace opbench::reports {

enum class CompareFormat { kTerminal, kMarkdown, kCsv, kJson };

// "terminal" (or "console"), "markdown" (or "md"), "csv", "json"; throws UsageError otherwise.
CompareFormat parse_compare_format(const std::string& name);

class CompareFormatter {
 public:
  virtual ~CompareFormatter() = default;
  // Two runs case by case.
  virtual void write(const Comparison& cmp, std::ostream& out) const = 0;
  // The implementations of one run side by side.
  virtual void write(const SideBySide& sbs, std::ostream& out) const = 0;
  // Whether the warnings are part of the output (else the caller prints them on stderr).
  virtual bool shows_warnings() const = 0;
};

// `color`: ANSI colours (the terminal format only).
std::unique_ptr<CompareFormatter> make_compare_formatter(CompareFormat format, bool color);

// The comparison as a JSON document (what the json format writes).
nlohmann::json comparison_json(const Comparison& cmp);

}  // namespace opbench::reports
