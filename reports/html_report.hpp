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

// `text` with &, <, >, " and ' replaced by entities, invalid UTF-8 and control characters (other
// than tab and newline) replaced by U+FFFD: safe inside element content and quoted attributes.
std::string html_escape(const std::string& text);

}  // namespace opbench::reports
