#pragma once
// The sections of the HTML page, each appending its markup to `out`; html_report.cpp assembles
// them in order. The first screen answers "did anything regress, and against what?" (the
// headline, when a baseline is given), then "did everything agree?" (the summary).
#include <string>

#include "reports/html_model.hpp"

namespace opbench::reports::html {

// html_headline.cpp: the newest run of the baseline's machine against the baseline, through
// compare_runs (the verdicts of `opbench compare`): which runs, the counts, the worst
// regressions, or a clear "no regression" line. Nothing without a baseline.
void render_headline(std::string& out, const Page& page);

// html_headline.cpp: the status counts of the shown runs (as the console's counts line) and
// each run's log (reports/run_log.hpp: failures one by one, warnings once with a count).
void render_summary(std::string& out, const Page& page);

// html_runs.cpp: a card per shown run (tool, commit, date, machine, devices, threads, build), the
// earlier runs behind the trends, and the ceilings measured in each run.
void render_run_cards(std::string& out, const Page& page);
void render_ceilings(std::string& out, const Page& page);

// html_claims.cpp: the papers' claims measured by `opbench claims` (opbench.claims), when a
// shown run has them: the paper's figure and conditions beside the measured speed-up and the
// one the run's ceilings allow.
bool has_claims(const Page& page);
void render_claims(std::string& out, const Page& page);

// html_figures.cpp: the roofline per shown timed run and backend.
void render_roofline(std::string& out, const Page& page);

// html_tables.cpp: one section per suite/op: the timed rows in one table (with speedup bars and
// trends), rows of check-only runs in an agreement table.
void render_op_sections(std::string& out, const Page& page);

// html_figures.cpp, for the op sections: the speedup bars over cpu.plain of each shown timed run
// of an op, and a trend line per case over the timed runs of each machine with two or more.
std::string speedup_figures(const Page& page, const std::vector<const Row*>& rows);
void render_trends(std::string& out, const Page& page, const std::string& op);

}  // namespace opbench::reports::html
