// The first screen of the HTML page: the headline against a baseline (compare_runs, the verdicts
// of `opbench compare`) and the summary of agreement with each run's log (summarize_run).
#include <algorithm>
#include <cmath>

#include "reports/compare.hpp"
#include "reports/html_markup.hpp"
#include "reports/html_sections.hpp"
#include "reports/report_view.hpp"

namespace opbench::reports::html {

using view::format_time;
using view::printf_string;

namespace {

// Regressions, and inconclusive cases, listed at most.
constexpr std::size_t kWorst = 10;

// The run compared with the baseline: the newest other run of the baseline's machine, else the
// last other run given.
const Run* compared_run(const Page& page, const Run& base) {
  const Run* newest = nullptr;
  for (const Run& r : page.runs) {
    if (&r == &base || r.data.info.machine_id != base.data.info.machine_id) continue;
    if (newest == nullptr || !(r.epoch < newest->epoch)) newest = &r;
  }
  if (newest == nullptr) {
    for (const Run& r : page.runs) {
      if (&r != &base) newest = &r;
    }
  }
  return newest;
}

// "FILE · commit 0123456789ab (dirty) · DATE · MACHINE"
std::string identity(const Run& r) {
  const RunInfo& info = r.data.info;
  std::string html = "<b>" + esc(r.label) + "</b>";
  html += " · commit <code>" + esc(info.commit.empty() ? "unknown" : info.commit.substr(0, 12)) +
          "</code>" + (info.dirty ? " (dirty)" : "");
  html += " · " + esc(info.date.empty() ? "date unknown" : info.date);
  html += " · " + esc(info.machine);
  return html;
}

std::string percent(double fraction) {
  return std::isfinite(fraction) ? printf_string("%+.1f%%", fraction * 100) : "-";
}

std::string seconds_cell_text(const CaseData* c) {
  return c != nullptr && c->timed ? format_time(c->median, "µs") : "-";
}

void render_worst(std::string& out, const Comparison& cmp) {
  std::vector<const CaseComparison*> worst;
  for (const CaseComparison& c : cmp.cases) {
    if (c.verdict == Verdict::kSlower || !c.agreement_regression.empty()) worst.push_back(&c);
  }
  if (worst.empty()) return;
  std::stable_sort(worst.begin(), worst.end(),
                   [](const CaseComparison* a, const CaseComparison* b) {
                     double x = std::isfinite(a->change) ? a->change : 0,
                            y = std::isfinite(b->change) ? b->change : 0;
                     return x > y;
                   });
  out += "<h3>worst regressions</h3>\n";
  open_table(
      out, {{"case", false, ""},
            {"baseline", true, "median time in the baseline"},
            {"now", true, "median time now"},
            {"change", true, ""},
            {"p-value", true, "two-sided Mann-Whitney U over the repetitions"},
            {"q-value", true, "the p-value adjusted over all compared cases (Benjamini-Hochberg)"},
            {"verdict", false, ""},
            {"agreement", false, ""}});
  for (std::size_t i = 0; i < worst.size() && i < kWorst; ++i) {
    const CaseComparison* c = worst[i];
    add_row(
        out,
        {text_cell(c->now->name, "mono"),
         num_cell(seconds_cell_text(c->base), c->base->timed ? c->base->median : NAN),
         num_cell(seconds_cell_text(c->now), c->now->timed ? c->now->median : NAN),
         num_cell(percent(c->change), c->change, c->verdict == Verdict::kSlower ? "slow" : ""),
         num_cell(c->utest.method == stats::UMethod::kNone
                      ? std::string("-")
                      : printf_string("%.4f", c->utest.p_value),
                  c->utest.p_value),
         num_cell(std::isfinite(c->q_value) ? printf_string("%.4f", c->q_value) : "-", c->q_value),
         text_cell(verdict_name(c->verdict)),
         text_cell(c->agreement_regression.empty() ? "-" : c->agreement_regression)},
        "fail", c->now->name);
  }
  close_table(out);
  if (worst.size() > kWorst) {
    out += "<p class=\"note\">... and " + std::to_string(worst.size() - kWorst) +
           " more: opbench compare lists them all.</p>\n";
  }
}

// Changes beyond the threshold the data cannot call: with the smallest change they could have.
void render_inconclusive(std::string& out, const Comparison& cmp) {
  std::vector<const CaseComparison*> cases;
  for (const CaseComparison& c : cmp.cases) {
    if (c.verdict == Verdict::kInconclusive) cases.push_back(&c);
  }
  if (cases.empty()) return;
  std::stable_sort(cases.begin(), cases.end(),
                   [](const CaseComparison* a, const CaseComparison* b) {
                     return std::abs(a->change) > std::abs(b->change);
                   });
  out += "<details><summary>" + std::to_string(cases.size()) +
         (cases.size() == 1 ? " case" : " cases") +
         " inconclusive: changed beyond the threshold, but not significantly (too few "
         "repetitions or too much noise)</summary>\n";
  open_table(out, {{"case", false, ""},
                   {"baseline", true, "median time in the baseline"},
                   {"now", true, "median time now"},
                   {"change", true, ""},
                   {"detectable", true,
                    "the smallest change in this direction the data could have called "
                    "significant"}});
  for (std::size_t i = 0; i < cases.size() && i < kWorst; ++i) {
    const CaseComparison* c = cases[i];
    add_row(out,
            {text_cell(c->now->name, "mono"),
             num_cell(seconds_cell_text(c->base), c->base->timed ? c->base->median : NAN),
             num_cell(seconds_cell_text(c->now), c->now->timed ? c->now->median : NAN),
             num_cell(percent(c->change), c->change),
             num_cell(std::isfinite(c->detectable) ? percent(c->detectable)
                                                   : std::string("none (too few repetitions)"),
                      c->detectable)},
            "", c->now->name);
  }
  close_table(out);
  out += "</details>\n";
}

}  // namespace

void render_headline(std::string& out, const Page& page) {
  if (page.baseline < 0) return;
  const Run& base = page.runs[page.baseline];
  const Run* now = compared_run(page, base);
  if (now == nullptr) {
    out +=
        "<section id=\"regressions\">\n<div class=\"headline\">\n<h2>against the baseline</h2>\n";
    out += "<p class=\"verdict\">Only the baseline " + esc(base.label) +
           " was given: nothing to compare.</p>\n</div>\n</section>\n";
    return;
  }
  const Comparison cmp = compare_runs(base.data, now->data, CompareOptions{});
  const CompareOptions& o = cmp.options;
  // Three answers: regressed; inconclusive (changes the data cannot call, nothing proven worse);
  // no regression.
  const bool regressed = cmp.regressed();
  const bool unsure = !regressed && cmp.inconclusive > 0;
  const std::string threshold = printf_string("%g%%", o.threshold * 100);
  out += std::string("<section id=\"regressions\">\n<div class=\"headline ") +
         (regressed ? "bad"
          : unsure  ? "warn"
                    : "good") +
         "\">\n<h2>against the baseline</h2>\n";
  out += "<p class=\"verdict\">";
  if (regressed) {
    out += "Regressed against the baseline " + esc(base.label) + ": " + std::to_string(cmp.slower) +
           " slower, " + std::to_string(cmp.agreement_regressions) +
           (cmp.agreement_regressions == 1 ? " agreement regression" : " agreement regressions") +
           ".";
  } else if (unsure) {
    out += "Inconclusive against the baseline " + esc(base.label) + ": " +
           std::to_string(cmp.inconclusive) + (cmp.inconclusive == 1 ? " case" : " cases") +
           " changed beyond " + threshold +
           " but not significantly; none is significantly slower or less accurate.";
  } else {
    out += "No regression against the baseline " + esc(base.label) +
           ": no case got slower or less accurate.";
  }
  out += "</p>\n";
  out += "<dl><dt>now</dt><dd>" + identity(*now) + "</dd><dt>baseline</dt><dd>" + identity(base) +
         "</dd></dl>\n";
  out += "<p class=\"note\">A case is slower or faster when its median time changed beyond " +
         threshold +
         " and the change is significant (two-sided Mann-Whitney U over the repetitions, " +
         (o.fdr ? "q" : "p") + " &lt; " + printf_string("%g", o.alpha) +
         (o.fdr ? " after the Benjamini-Hochberg adjustment over " + std::to_string(cmp.tested) +
                      " cases"
                : std::string()) +
         "); beyond it but not significant is inconclusive. An agreement regression: a case that "
         "passed and now fails, ran and now errors, or whose error grew more than " +
         printf_string("%g", o.error_growth) + "x.</p>\n";
  for (const std::string& w : cmp.warnings) {
    out += "<p class=\"warnline\">warning: " + esc(w) + "</p>\n";
  }
  out += "<div class=\"tiles\">";
  add_tile(out, cmp.slower, "slower", cmp.slower > 0 ? "bad" : "");
  add_tile(out, cmp.agreement_regressions, "agreement regressions",
           cmp.agreement_regressions > 0 ? "bad" : "");
  add_tile(out, cmp.faster, "faster", cmp.faster > 0 ? "good" : "");
  add_tile(out, cmp.inconclusive, "inconclusive", cmp.inconclusive > 0 ? "warn" : "");
  add_tile(out, cmp.unchanged, "unchanged");
  if (cmp.not_timed > 0) add_tile(out, cmp.not_timed, "not timed in both");
  out += "</div>\n";
  render_worst(out, cmp);
  render_inconclusive(out, cmp);
  if (!cmp.only_base.empty() || !cmp.only_new.empty()) {
    out += "<p class=\"note\">" + std::to_string(cmp.only_new.size()) +
           " cases only in the new run, " + std::to_string(cmp.only_base.size()) +
           " only in the baseline: not compared.</p>\n";
  }
  for (const std::string& n : cmp.notes) out += "<p class=\"note\">" + esc(n) + "</p>\n";
  out += "</div>\n</section>\n";
}

void render_summary(std::string& out, const Page& page) {
  int cases = 0, passed = 0, failed = 0, xfail = 0, errors = 0, skipped = 0, stale = 0,
      references = 0;
  for (const Run& r : page.runs) {
    if (!r.shown) continue;
    cases += static_cast<int>(r.data.cases.size());
    passed += r.log.passed;
    failed += r.log.failed;
    xfail += r.log.xfail;
    errors += r.log.errors;
    skipped += r.log.skipped;
    stale += r.log.stale;
    for (const CaseData& c : r.data.cases) {
      if (c.is_reference && !c.skipped() && !c.errored() && c.status != AgreementStatus::error) {
        ++references;
      }
    }
  }
  const int unchecked = cases - passed - failed - xfail - errors - skipped - references;
  out += "<section id=\"summary\">\n<h2>summary</h2>\n<div class=\"tiles\">";
  add_tile(out, cases, "cases");
  add_tile(out, passed, "passed", passed > 0 ? "good" : "");
  add_tile(out, failed, "failed agreement", failed > 0 ? "bad" : "");
  add_tile(out, xfail, "known failures (xfail)", xfail > 0 ? "warn" : "");
  add_tile(out, errors, "errors", errors > 0 ? "bad" : "");
  add_tile(out, skipped, "skipped");
  if (stale > 0) add_tile(out, stale, "stale known failures", "warn");
  out += "</div>\n";
  if (references > 0 || unchecked > 0) {
    out += "<p class=\"muted\">" + std::to_string(references) + " reference case" +
           (references == 1 ? "" : "s") + " (the float64 reference, not checked against itself)";
    if (unchecked > 0) out += ", " + std::to_string(unchecked) + " not checked";
    out += ".</p>\n";
  }
  if (page.several_runs) {
    open_table(out, {{"run", false, ""},
                     {"mode", false, ""},
                     {"cases", true, ""},
                     {"passed", true, ""},
                     {"failed", true, "failed agreement"},
                     {"xfail", true, "known failures, listed with their reason"},
                     {"errors", true, ""},
                     {"skipped", true, ""}});
    for (const Run& r : page.runs) {
      if (!r.shown) continue;
      const RunLog& l = r.log;
      const double n = static_cast<double>(r.data.cases.size());
      add_row(out,
              {text_cell(r.label, "runcol"), text_cell(r.timed() ? "run" : "check"),
               num_cell(format_count(n), n), num_cell(std::to_string(l.passed), l.passed),
               num_cell(std::to_string(l.failed), l.failed, l.failed > 0 ? "warn" : ""),
               num_cell(std::to_string(l.xfail), l.xfail),
               num_cell(std::to_string(l.errors), l.errors, l.errors > 0 ? "warn" : ""),
               num_cell(std::to_string(l.skipped), l.skipped)},
              l.failed + l.errors > 0 ? "fail" : "");
    }
    close_table(out);
  }
  if (failed + errors == 0 && !page.rows.empty()) {
    out += "<p><span class=\"badge good\">ok</span> no agreement failure and no error";
    if (xfail > 0) {
      out += " (" + std::to_string(xfail) + " known failure" + (xfail == 1 ? "" : "s") +
             ", listed with " + (xfail == 1 ? "its reason" : "their reasons") + ")";
    }
    out += ".</p>\n";
  }
  // Each run's log, as the console summary prints it: a warning that holds for many cases once.
  for (const Run& r : page.runs) {
    if (!r.shown || r.log.lines.empty()) continue;
    out += "<h3>log" + (page.several_runs ? " · " + esc(r.label) : std::string()) + "</h3>\n";
    out += "<ul class=\"log\">\n";
    for (const std::string& line : r.log.lines) out += "<li>" + esc(line) + "</li>\n";
    out += "</ul>\n";
  }
  out += "</section>\n";
}

}  // namespace opbench::reports::html
