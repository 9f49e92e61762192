#pragma once
// The HTML page's view of its reports: each run read once through the shared model
// (reports/report_model.hpp: times, rates, status) and summarized once (reports/run_log.hpp), which
// runs the tables show, and one row per shown case. No number of a case is read here from the
// JSON: the page is a sink over the same model as the console summary and compare.
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "reports/html_report.hpp"
#include "reports/report_model.hpp"
#include "reports/run_log.hpp"

namespace opbench::reports::html {

struct Run {
  const nlohmann::json* doc = nullptr;  // the report: its run card's build details, its ceilings
  std::string label;                    // the file name, shown in the run column
  std::string source;                   // the path as given
  RunData data;                         // its cases
  RunLog log;                           // summarize_run(data): counts and warnings
  double epoch = NAN;                   // context.date as seconds since 1970 (NaN when unreadable)
  bool shown = true;  // in the tables (false: an older run of its machine, trends only)
  bool timed() const { return data.info.timed; }
};

struct Row {
  std::size_t run = 0;
  const CaseData* c = nullptr;
  std::string op;            // "suite/op"
  std::string point;         // "f32 rows=64 cols=4096 dist=normal"
  double plain_seconds = 0;  // cpu.plain's time at the same run, op and point; 0 when none
  // plain_seconds over this time; NaN for the reference (never a speedup subject nor baseline),
  // an untimed case or a point without cpu.plain.
  double speedup() const;
};

struct Page {
  std::vector<Run> runs;  // as given
  std::vector<Row> rows;  // the cases of the shown runs, in report order (pointers into runs)
  std::vector<std::pair<std::string, std::string>> ops;  // anchor id and "suite/op", in order
  std::vector<std::string> series;  // every implementation: its index is its colour on a chart
  bool several_runs = false;        // more than one run in the tables: a run column
  bool several_machines = false;    // runs of several machines in the tables: a machine column
  int baseline = -1;                // index into runs, or -1

  Page() = default;
  Page(const Page&) = delete;  // rows point into runs
  Page& operator=(const Page&) = delete;
  Page(Page&&) = default;
};

Page build_page(const std::vector<nlohmann::json>& reports, const std::vector<std::string>& sources,
                const HtmlOptions& options);

// The rows of one op in display order: parameter points in order of appearance; within a point
// the reference first, then implementations in order of appearance, each run after the other.
std::vector<const Row*> rows_in_order(const std::vector<const Row*>& members);

// The colour index of an implementation.
std::size_t series_of(const std::vector<std::string>& series, const std::string& impl);

}  // namespace opbench::reports::html
