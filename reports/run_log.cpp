#include "reports/run_log.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "reports/report_view.hpp"

namespace opbench::reports {

using namespace view;

namespace {

// Cases listed one by one before "and N more".
constexpr std::size_t kListed = 10;
// Examples named in a line that counts cases.
constexpr std::size_t kExamples = 3;

// "a, b, c (+4 more)"
std::string examples(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < kExamples; ++i) {
    out += (i ? ", " : "") + names[i];
  }
  if (names.size() > kExamples) out += " (+" + std::to_string(names.size() - kExamples) + " more)";
  return out;
}

std::string cases_word(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " case" : " cases");
}

// Lines of one kind, one per case up to kListed, then a count of the rest.
void add_listed(RunLog& log, const std::vector<std::string>& lines) {
  for (std::size_t i = 0; i < lines.size() && i < kListed; ++i) log.lines.push_back(lines[i]);
  if (lines.size() > kListed) {
    log.lines.push_back("... and " + std::to_string(lines.size() - kListed) + " more like these");
  }
}

// Cases grouped by a reason, each group said once with its count and examples.
using Groups = std::vector<std::pair<std::string, std::vector<std::string>>>;
void add_to_group(Groups& groups, const std::string& reason, const std::string& name) {
  for (auto& [r, names] : groups) {
    if (r == reason) {
      names.push_back(name);
      return;
    }
  }
  groups.push_back({reason, {name}});
}

}  // namespace

RunLog summarize_run(const RunData& run) {
  RunLog log;
  std::vector<std::string> failures, errors, stale;
  Groups xfails, skips;
  // A manifest entry (its reason) is stale in this run when none of the cases it lists failed:
  // an entry written for long sequences may well match short ones that pass.
  std::set<std::string> failing_entries;
  for (const CaseData& c : run.cases) {
    if (c.status == AgreementStatus::xfail) failing_entries.insert(c.known_failure);
  }
  std::vector<std::pair<double, std::string>> noisy, above;
  int timed = 0;
  for (const CaseData& c : run.cases) {
    if (c.skipped()) {
      ++log.skipped;
      add_to_group(skips, c.error.substr(std::string("skipped: ").size()), c.name);
      continue;
    }
    if (c.errored() || c.status == AgreementStatus::error) {
      ++log.errors;
      errors.push_back(c.name + ": error: " + c.error);
      continue;
    }
    switch (c.status) {
      case AgreementStatus::pass:
        ++log.passed;
        if (c.stale_known_failure() && !failing_entries.count(c.known_failure)) {
          ++log.stale;
          stale.push_back(c.name +
                          ": listed as a known failure but passes now, as does every case of its "
                          "entry in this run: if it passes everywhere the entry covers, remove the "
                          "entry from the known-failure manifest (it said: " +
                          c.known_failure + ")");
        }
        break;
      case AgreementStatus::fail:
        ++log.failed;
        failures.push_back(
            c.name + ": agreement FAIL" +
            (c.first_mismatch.empty() ? "" : ": first mismatch " + c.first_mismatch));
        break;
      case AgreementStatus::xfail:
        ++log.xfail;
        add_to_group(xfails, c.known_failure, c.name);
        break;
      default:
        break;
    }
    if (!c.timed) continue;
    ++timed;
    if (c.cv > kNoiseWarnFraction) noisy.push_back({c.cv, c.name});
    if (c.ceiling_fraction > 1.0) above.push_back({c.ceiling_fraction, c.name});
  }
  log.noisy = static_cast<int>(noisy.size());

  add_listed(log, failures);
  add_listed(log, errors);
  add_listed(log, stale);
  for (const auto& [reason, names] : xfails) {
    log.lines.push_back(cases_word(names.size()) + " failed as known (xfail): " + reason + ": " +
                        examples(names));
  }
  for (const auto& [reason, names] : skips) {
    log.lines.push_back(cases_word(names.size()) + " skipped: " + reason + ": " + examples(names));
  }
  auto worst_first = [](std::vector<std::pair<double, std::string>>& v) {
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<std::string> names;
    for (const auto& [value, name] : v) names.push_back(name);
    return names;
  };
  if (!noisy.empty()) {
    std::vector<std::string> named;
    const auto names = worst_first(noisy);
    for (std::size_t i = 0; i < names.size(); ++i) {
      named.push_back(names[i] + " " + printf_string("%.1f%%", noisy[i].first * 100));
    }
    log.lines.push_back("noise over " + printf_string("%.0f%%", kNoiseWarnFraction * 100) + " in " +
                        std::to_string(noisy.size()) + " of " + std::to_string(timed) +
                        " timed cases (worst: " + examples(named) +
                        "): rerun with more repetitions or on a quieter machine");
  }
  if (!above.empty()) {
    std::vector<std::string> named;
    const auto names = worst_first(above);
    for (std::size_t i = 0; i < names.size(); ++i) {
      named.push_back(names[i] + " " + printf_string("%.2f", above[i].first));
    }
    log.lines.push_back(cases_word(above.size()) +
                        " measured above the ceiling: the ceiling is understated, not the kernel "
                        "magic (worst: " +
                        examples(named) + ")");
  }

  log.counts = std::to_string(run.cases.size()) + " cases, " + std::to_string(log.passed) +
               " passed, " + std::to_string(log.failed) + " failed agreement, ";
  if (log.xfail > 0) log.counts += std::to_string(log.xfail) + " known failures (xfail), ";
  log.counts += std::to_string(log.errors) + " errors";
  if (log.skipped > 0) log.counts += ", " + std::to_string(log.skipped) + " skipped";
  if (log.stale > 0) log.counts += ", " + std::to_string(log.stale) + " stale known failures";
  return log;
}

}  // namespace opbench::reports
