#pragma once
// The HTML page of one or more reports: one self-contained file (the style sheet and script of
// reports/html/ inline, inline SVG charts; no network, no external assets), a sink over the same
// model as the console summary and compare (reports/report_model.hpp): the same time for every
// case, agreement said the same way, the same log (reports/run_log.hpp). Its first screen answers
// "did anything regress, and against what?" (when a baseline is given: compare_runs's verdicts)
// and "did everything agree?" (the status counts and each run's log); then a card per run, the
// machine's ceilings, the roofline, and one table per suite/op with each implementation's time,
// noise, rates, ceiling fraction, speedup over cpu.plain, err and agreement.
//
// Built from report documents (as read_report returns them), so any saved report can be rendered
// again. Every string taken from a report is HTML-escaped. The parts: html_model (the view
// model), html_sections (headline, summary, runs, tables, figures), html_markup (building
// blocks), html_charts (the SVG charts), html_assets (the embedded CSS and JS).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace opbench::reports {

// `sources[i]` names `reports[i]` (its file path; the page shows the file name). When several
// reports are given, every table gains a "run" column so their rows can be told apart; speedups
// are only ever taken within one run (ratios across machines mean nothing).
std::string render_html(const std::vector<nlohmann::json>& reports,
                        const std::vector<std::string>& sources);

struct HtmlOptions {
  // The index into `reports` of a baseline run: the page then opens with the newest other run of
  // the baseline's machine compared against it (opbench compare's verdicts: the counts, the worst
  // regressions, or "no regression against" the baseline). -1: none.
  int baseline = -1;
  // Tables, charts and run cards for the newest run of each machine only; the trends still use
  // every run (the nightly index over a long history).
  bool latest_only = false;
};

// As above, with charts that need several runs: a trend line per case over the runs of each
// machine (when it has two or more timed runs), a machine column when the runs come from several
// machines, speedup bars and a roofline plot per run.
std::string render_html(const std::vector<nlohmann::json>& reports,
                        const std::vector<std::string>& sources, const HtmlOptions& options);

// `text` with &, <, >, " and ' replaced by entities, invalid UTF-8 and control characters (other
// than tab and newline) replaced by U+FFFD: safe inside element content and quoted attributes.
std::string html_escape(const std::string& text);

}  // namespace opbench::reports
