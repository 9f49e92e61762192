#pragma once
// `opbench compare`: two runs case by case (median time ratio, a two-sided Mann-Whitney U test
// over the repetitions, a verdict, agreement regressions), or the implementations of one run side
// by side. Works on report documents, so any saved report can be compared; the formats live in
// compare_format.hpp.
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/report_model.hpp"
#include "reports/statistics.hpp"

namespace opbench::reports {

struct CompareOptions {
  double threshold = 0.05;  // a time change counts only beyond this fraction...
  double alpha = 0.05;      // ...and when the U test's p-value is below this
  // ...after the Benjamini-Hochberg adjustment over all the cases the comparison tests (false
  // discovery rate alpha); false: each case's own p-value, as compare.py.
  bool fdr = true;
  double error_growth = 10;  // an agreement error growing by more than this factor regresses
  // Judge Google Benchmark's cpu_time (the timing thread's CPU time: not inflated by waiting for
  // a busy machine, but blind to other threads) instead of the real time, as compare.py's "CPU"
  // column.
  bool cpu_time = false;
};

enum class Verdict {
  kUnchanged,     // within the threshold
  kFaster,        // beyond the threshold and significant
  kSlower,        // beyond the threshold and significant
  kInconclusive,  // beyond the threshold, but not significant: the data cannot tell
  kNotTimed,      // no time in one of the runs (check-only, skipped, errored)
};

const char* verdict_name(Verdict v);  // "unchanged", "faster", "slower", "inconclusive", ...

struct CaseComparison {
  const CaseData* base = nullptr;
  const CaseData* now = nullptr;
  double ratio = NAN;   // new median / base median: above 1 is slower
  double change = NAN;  // ratio - 1
  double cpu_ratio = NAN;
  stats::UTest utest;
  double q_value = NAN;  // the p-value adjusted over all tested cases (Benjamini-Hochberg)
  Verdict verdict = Verdict::kNotTimed;
  // The smallest change in the observed direction this case's data could have called significant
  // (alone among the compared cases): the new repetitions, scaled to the base's median, shifted
  // until the test reaches alpha. NaN where no shift could (too few repetitions) or not timed.
  double detectable = NAN;
  std::string agreement_regression;  // "" or why ("passed, now fails", "max_rel_err grew 37x")
};

struct Comparison {
  RunInfo base, now;
  CompareOptions options;
  std::vector<CaseComparison> cases;       // cases in both runs, in the new run's order
  std::vector<const CaseData*> only_base;  // cases the new run lacks
  std::vector<const CaseData*> only_new;   // cases the base run lacks
  std::vector<std::string> warnings;       // different machines or builds, few repetitions
  std::vector<std::string> notes;          // status changes that are not regressions
  int slower = 0, faster = 0, unchanged = 0, inconclusive = 0, not_timed = 0,
      agreement_regressions = 0;
  int tested = 0;  // cases with a p-value: the family the adjustment is over
  bool regressed() const { return slower > 0 || agreement_regressions > 0; }
};

// Compares `now` against `base`. Keeps pointers into both: they must outlive the result.
Comparison compare_runs(const RunData& base, const RunData& now, const CompareOptions& options);

// The verdict of a time comparison (exposed for tests). `q_value` is the adjusted p-value when
// options.fdr is set (NaN: the test's own p-value).
Verdict judge(double change, const stats::UTest& test, const CompareOptions& options,
              double q_value = NAN);

// The kernels of one run side by side: per op and parameter point, every implementation with
// its speedup over `baseline_impl` (at the same point; in float32 when the baseline lacks the
// point's dtype).
struct SideBySideRow {
  const CaseData* c = nullptr;
  double speedup = NAN;  // baseline median / this median
  bool is_baseline = false;
};

struct SideBySideGroup {
  std::string op;     // "norm/layernorm"
  std::string point;  // "f32 rows=64 cols=4096 dist=normal"
  std::vector<SideBySideRow> rows;
  bool has_baseline = false;
};

struct SideBySide {
  RunInfo run;
  std::string baseline_impl;
  std::vector<SideBySideGroup> groups;
  std::vector<std::string> warnings;
};

// Throws UsageError naming the implementations of the run when `baseline_impl` is not one.
SideBySide side_by_side(const RunData& run, const std::string& baseline_impl);

}  // namespace opbench::reports
