#pragma once
// The HTML page of one or more reports: one self-contained file (inline CSS, a little inline JS for
// sortable tables, inline SVG bars; no network, no external assets) that reads like the console
// summary: a header per run (tool, commit, date, machine, devices, threads, build), a summary of
// agreement with the failing cases, the machine's ceilings, then one table per suite/op with each
// implementation's time, noise, rates, ceiling fraction, speedups and agreement.
//
// Built from report documents (as read_report returns them), so any saved report can be rendered
// again. Every string taken from a report is HTML-escaped.
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
  // The index into `reports` of a baseline run: the summary then shows the worst regressions of
  // the newest run of the baseline's machine against it (opbench compare's verdicts). -1: none.
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
