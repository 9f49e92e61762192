#include "reports/compare.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include "harness/errors.hpp"
#include "reports/json_report.hpp"
#include "reports/report_view.hpp"

namespace opbench::reports {

using nlohmann::json;
using namespace view;

namespace {

// Agreement errors below this never count as grown: far under float32's resolution (6e-8), so a
// kernel going from an exact 0 to 1e-12 is not a regression.
constexpr double kErrorFloor = 1e-9;

std::string point_of(const CaseData& c) {
  return c.dtype + " " + c.params;
}

}  // namespace

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kUnchanged:
      return "unchanged";
    case Verdict::kFaster:
      return "faster";
    case Verdict::kSlower:
      return "slower";
    case Verdict::kInconclusive:
      return "inconclusive";
    case Verdict::kNotTimed:
      break;
  }
  return "not timed";
}

Verdict judge(double change, const stats::UTest& test, const CompareOptions& options,
              double q_value) {
  if (!std::isfinite(change)) return Verdict::kNotTimed;
  if (std::abs(change) <= options.threshold) return Verdict::kUnchanged;
  // Beyond the threshold: a verdict only when the test says it is not noise. Otherwise the data
  // cannot tell (too few repetitions, or too much noise): inconclusive, never "unchanged".
  if (test.method == stats::UMethod::kNone ||
      stats::smallest_p_value(test.n1, test.n2) > options.alpha) {
    return Verdict::kInconclusive;
  }
  const double p = options.fdr && std::isfinite(q_value) ? q_value : test.p_value;
  if (p >= options.alpha) return Verdict::kInconclusive;
  return change > 0 ? Verdict::kSlower : Verdict::kFaster;
}

namespace {

std::string sci(double v) {
  return printf_string("%.3g", v);
}

// "" or why the agreement of `now` regressed against `base`.
std::string agreement_regression(const CaseData& base, const CaseData& now, double growth) {
  if (!base.errored() && !base.skipped() && now.errored())
    return "ran before, now errors: " + now.error;
  if (!base.has_agreement || !now.has_agreement) return "";
  if (base.status == AgreementStatus::pass && now.status == AgreementStatus::fail) {
    return "passed, now fails";
  }
  if (base.status == AgreementStatus::pass && now.status == AgreementStatus::xfail) {
    return "passed, now fails (listed as a known failure: " + now.known_failure + ")";
  }
  if (!base.checked || !now.checked) return "";
  std::string why;
  auto grew = [&](const char* name, double b, double n) {
    if (!std::isfinite(n)) {
      if (std::isfinite(b))
        why += std::string(why.empty() ? "" : "; ") + name + " is now " + sci(n);
      return;
    }
    double was = std::isfinite(b) ? std::max(b, 0.0) : INFINITY;
    if (n > kErrorFloor && n > growth * std::max(was, kErrorFloor)) {
      why += std::string(why.empty() ? "" : "; ") + name + " grew " +
             (was > 0 ? printf_string("%.0fx", n / was) : std::string("from 0")) + " (" + sci(b) +
             " -> " + sci(n) + ")";
    }
  };
  grew("err_ratio", base.err_ratio, now.err_ratio);
  grew("max_rel_err", base.max_rel_err, now.max_rel_err);
  grew("rel_l2_err", base.rel_l2_err, now.rel_l2_err);
  return why;
}

std::string runs_label(const RunInfo& r) {
  return r.source.empty() ? std::string("a run") : r.source;
}

}  // namespace

Comparison compare_runs(const RunData& base, const RunData& now, const CompareOptions& options) {
  Comparison cmp;
  cmp.base = base.info;
  cmp.now = now.info;
  cmp.options = options;

  if (base.info.machine_id != now.info.machine_id) {
    cmp.warnings.push_back("the runs come from different machines (" + base.info.machine + " vs " +
                           now.info.machine +
                           "): their times are not comparable; compare implementations within "
                           "one run instead (opbench compare RUN.json --baseline-impl cpu.plain)");
  }
  if (base.info.build != now.info.build) {
    cmp.warnings.push_back("the runs come from different builds (" + base.info.build + " vs " +
                           now.info.build + ")");
  }
  if (base.info.threads != now.info.threads) {
    cmp.warnings.push_back("the runs used different thread counts (" +
                           std::to_string(base.info.threads) + " vs " +
                           std::to_string(now.info.threads) + ")");
  }
  if (base.info.tool_version != now.info.tool_version) {
    cmp.warnings.push_back("the reports come from different opbench versions (" +
                           (base.info.tool_version.empty() ? "?" : base.info.tool_version) +
                           " vs " + (now.info.tool_version.empty() ? "?" : now.info.tool_version) +
                           ")");
  }
  // The machine itself: its ceilings (same copies, same SGEMM) timed in both runs. When they
  // moved beyond the threshold, the machine was busier or quieter, and time verdicts measure that.
  std::vector<double> moved;
  for (const auto& [key, seconds] : now.ceilings) {
    auto it = base.ceilings.find(key);
    if (it != base.ceilings.end()) moved.push_back(seconds / it->second);
  }
  if (!moved.empty()) {
    double m = stats::median(moved);
    auto [lo, hi] = std::minmax_element(moved.begin(), moved.end());
    if (std::abs(m - 1) > options.threshold) {
      cmp.warnings.push_back(
          "the machine itself was " + std::string(m > 1 ? "slower" : "faster") +
          " in the new run: its ceilings (copy, SGEMM) measured in both runs took " +
          printf_string("%.2f", m) + "x as long (median of " + std::to_string(moved.size()) + ", " +
          printf_string("%.2f", *lo) + "x to " + printf_string("%.2f", *hi) +
          "x): time verdicts measure the machine's load as much as the code; rerun on a quiet "
          "machine");
    }
  }
  for (const RunInfo* r : {&base.info, &now.info}) {
    if (!r->timed && (r == &base.info || base.info.source != now.info.source)) {
      cmp.notes.push_back(runs_label(*r) +
                          " is an agreement check without timings: only "
                          "agreement is compared");
    }
  }

  std::set<std::string> in_now;
  std::size_t fewest = SIZE_MAX;
  for (const CaseData& n : now.cases) {
    in_now.insert(n.name);
    const CaseData* b = base.find(n.name);
    if (b == nullptr) {
      cmp.only_new.push_back(&n);
      continue;
    }
    CaseComparison cc;
    cc.base = b;
    cc.now = &n;
    if (b->timed && n.timed) {
      double bc = stats::median(b->cpu), nc = stats::median(n.cpu);
      if (bc > 0 && nc > 0) cc.cpu_ratio = nc / bc;
      if (options.cpu_time) {
        cc.ratio = cc.cpu_ratio;
        cc.utest = stats::mann_whitney_u(b->cpu, n.cpu);
      } else {
        cc.ratio = n.median / b->median;
        cc.utest = stats::mann_whitney_u(b->times, n.times);
      }
      cc.change = cc.ratio - 1;
      fewest = std::min({fewest, b->times.size(), n.times.size()});
    }
    cc.agreement_regression = agreement_regression(*b, n, options.error_growth);
    if (!b->skipped() && n.skipped()) cmp.notes.push_back(n.name + ": now " + n.error);
    if (b->skipped() && !n.skipped())
      cmp.notes.push_back(n.name + ": was " + b->error + ", now runs");
    if (b->errored() && !n.errored()) cmp.notes.push_back(n.name + ": errored before, now runs");
    cmp.cases.push_back(cc);
  }
  // Verdicts once every case's test is known: the adjustment is over all of them.
  std::vector<double> p_values;
  std::vector<CaseComparison*> tested;
  for (CaseComparison& cc : cmp.cases) {
    if (!std::isfinite(cc.change) || cc.utest.method == stats::UMethod::kNone) continue;
    p_values.push_back(cc.utest.p_value);
    tested.push_back(&cc);
  }
  const std::vector<double> q_values = stats::benjamini_hochberg(p_values);
  double reachable = 1;  // the smallest q-value a single clear change could get
  for (std::size_t i = 0; i < tested.size(); ++i) {
    tested[i]->q_value = q_values[i];
    reachable =
        std::min(reachable, stats::smallest_p_value(tested[i]->utest.n1, tested[i]->utest.n2) *
                                static_cast<double>(tested.size()));
  }
  cmp.tested = static_cast<int>(tested.size());
  if (options.fdr && !tested.empty() && reachable >= options.alpha &&
      fewest >= stats::repetitions_needed(options.alpha)) {
    cmp.warnings.push_back(
        "too few repetitions for " + std::to_string(tested.size()) +
        " cases: adjusted over all of them, even a clear change alone reaches only q = " +
        printf_string("%.2g", reachable) + ", above alpha " + printf_string("%g", options.alpha) +
        "; use more repetitions, compare fewer cases, or --no-fdr");
  }
  // The level a single change must reach: alpha, or alpha over the cases the adjustment covers.
  const double level = options.fdr && !tested.empty()
                           ? options.alpha / static_cast<double>(tested.size())
                           : options.alpha;
  for (CaseComparison& cc : cmp.cases) {
    cc.verdict = judge(cc.change, cc.utest, options, cc.q_value);
    if (std::isfinite(cc.change) && cc.utest.method != stats::UMethod::kNone) {
      const CaseData& b = *cc.base;
      const CaseData& n = *cc.now;
      cc.detectable = options.cpu_time
                          ? stats::detectable_change(b.cpu, n.cpu, cc.change > 0, level)
                          : stats::detectable_change(b.times, n.times, cc.change > 0, level);
    }
    switch (cc.verdict) {
      case Verdict::kSlower:
        ++cmp.slower;
        break;
      case Verdict::kFaster:
        ++cmp.faster;
        break;
      case Verdict::kUnchanged:
        ++cmp.unchanged;
        break;
      case Verdict::kInconclusive:
        ++cmp.inconclusive;
        break;
      case Verdict::kNotTimed:
        ++cmp.not_timed;
        break;
    }
    if (!cc.agreement_regression.empty()) ++cmp.agreement_regressions;
  }
  for (const CaseData& b : base.cases) {
    if (!in_now.count(b.name)) cmp.only_base.push_back(&b);
  }
  if (fewest != SIZE_MAX) {
    std::size_t needed = stats::repetitions_needed(options.alpha);
    if (fewest < needed) {
      cmp.warnings.push_back("too few repetitions: with " + std::to_string(fewest) +
                             " the U test cannot reach alpha " +
                             printf_string("%g", options.alpha) +
                             ", so no change can be called significant; run with --repetitions " +
                             std::to_string(std::max<std::size_t>(needed, 9)) + " (at least " +
                             std::to_string(needed) + ")");
    } else if (fewest < 9) {
      cmp.notes.push_back("fewer than 9 repetitions (" + std::to_string(fewest) +
                          "): results may be unreliable; 9 or more recommended, as Google "
                          "Benchmark's compare.py says");
    }
  }
  return cmp;
}

SideBySide side_by_side(const RunData& run, const std::string& baseline_impl) {
  SideBySide out;
  out.run = run.info;
  out.baseline_impl = baseline_impl;
  std::vector<std::string> impls;
  for (const CaseData& c : run.cases) {
    if (std::find(impls.begin(), impls.end(), c.impl) == impls.end()) impls.push_back(c.impl);
  }
  if (std::find(impls.begin(), impls.end(), baseline_impl) == impls.end()) {
    std::string known;
    for (const std::string& i : impls) known += (known.empty() ? "" : ", ") + i;
    throw UsageError(runs_label(run.info) + ": no implementation '" + baseline_impl +
                     "' in this run; its implementations: " + (known.empty() ? "none" : known));
  }
  if (!run.info.timed) {
    out.warnings.push_back(runs_label(run.info) +
                           " is an agreement check without timings: no times or speedups");
  }
  std::map<std::string, std::size_t> group_of;
  std::map<std::string, const CaseData*> baseline;  // op + point -> the baseline's case
  for (const CaseData& c : run.cases) {
    std::string op = c.suite + "/" + c.op;
    std::string key = op + "\n" + point_of(c);
    if (c.impl == baseline_impl) baseline[key] = &c;
    if (!group_of.count(key)) {
      group_of[key] = out.groups.size();
      out.groups.push_back({op, point_of(c), {}, false});
    }
    out.groups[group_of[key]].rows.push_back({&c, NAN, c.impl == baseline_impl});
  }
  for (SideBySideGroup& g : out.groups) {
    const CaseData* b = nullptr;
    if (auto it = baseline.find(g.op + "\n" + g.point); it != baseline.end()) {
      b = it->second;
    } else if (!g.rows.empty()) {
      // The baseline in float32 at the same parameters.
      auto f32 = baseline.find(g.op + "\nf32 " + g.rows.front().c->params);
      if (f32 != baseline.end()) b = f32->second;
    }
    g.has_baseline = b != nullptr && b->timed;
    std::stable_partition(g.rows.begin(), g.rows.end(),
                          [](const SideBySideRow& r) { return r.c->is_reference; });
    for (SideBySideRow& r : g.rows) {
      if (g.has_baseline && r.c->timed) r.speedup = b->median / r.c->median;
    }
  }
  return out;
}

}  // namespace opbench::reports
