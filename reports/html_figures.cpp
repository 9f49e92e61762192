// The charts of the HTML page, drawn by reports/html_charts from the shared model: speedup bars
// over cpu.plain, the roofline under each run's measured ceilings, a trend line per case.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "reports/html_charts.hpp"
#include "reports/html_markup.hpp"
#include "reports/html_sections.hpp"
#include "reports/report_view.hpp"

namespace opbench::reports::html {

using nlohmann::json;
using namespace view;

namespace {

// The backend a case is plotted with: the reference runs on the host.
std::string plot_backend(const CaseData& c) {
  return c.backend == "ref" || c.backend.empty() ? "cpu" : c.backend;
}

}  // namespace

std::string speedup_figures(const Page& page, const std::vector<const Row*>& rows) {
  std::string out;
  for (std::size_t i = 0; i < page.runs.size(); ++i) {
    std::vector<charts::BarGroup> groups;
    for (const Row* r : rows) {
      const double speedup = r->speedup();
      if (r->run != i || r->c->impl == "cpu.plain" || !std::isfinite(speedup)) continue;
      if (groups.empty() || groups.back().label != r->point) groups.push_back({r->point, {}});
      groups.back().bars.push_back({r->c->impl, speedup, series_of(page.series, r->c->impl)});
    }
    if (groups.empty()) continue;
    out += "<figure class=\"chart\"><figcaption>speedup over cpu.plain" +
           (page.several_runs ? " · " + esc(page.runs[i].label) : std::string()) + "</figcaption>" +
           charts::speedup_bars(groups, "cpu.plain") + "</figure>\n";
  }
  return out;
}

void render_trends(std::string& out, const Page& page, const std::string& op) {
  std::map<std::string, std::vector<const Run*>> by_machine;
  std::vector<std::string> machine_order;
  for (const Run& r : page.runs) {
    if (!r.timed()) continue;
    const std::string& id = r.data.info.machine_id;
    if (!by_machine.count(id)) machine_order.push_back(id);
    by_machine[id].push_back(&r);
  }
  struct Line {
    const Run* machine_run = nullptr;
    const CaseData* latest = nullptr;
    std::vector<charts::TrendPoint> points;
    double x_min = 0, x_max = 0;
  };
  std::vector<Line> lines;
  for (const std::string& id : machine_order) {
    std::vector<const Run*> series = by_machine[id];
    if (series.size() < 2) continue;
    std::stable_sort(series.begin(), series.end(), [](const Run* a, const Run* b) {
      return std::isfinite(a->epoch) && std::isfinite(b->epoch) && a->epoch < b->epoch;
    });
    bool dated = std::all_of(series.begin(), series.end(),
                             [](const Run* r) { return std::isfinite(r->epoch); });
    auto x_of = [&](std::size_t k) { return dated ? series[k]->epoch : static_cast<double>(k); };
    std::vector<std::string> names;
    std::map<std::string, Line> of_case;
    for (std::size_t k = 0; k < series.size(); ++k) {
      for (const CaseData& c : series[k]->data.cases) {
        if (c.suite + "/" + c.op != op || !c.timed || !(c.median > 0)) continue;
        if (!of_case.count(c.name)) names.push_back(c.name);
        Line& line = of_case[c.name];
        line.machine_run = series[k];
        line.latest = &c;
        line.x_min = x_of(0);
        line.x_max = x_of(series.size() - 1);
        const RunInfo& info = series[k]->data.info;
        line.points.push_back({x_of(k), c.median,
                               (info.date.empty() ? series[k]->label : info.date) + " · " +
                                   info.commit.substr(0, 12) + " · " + format_time(c.median)});
      }
    }
    for (const std::string& name : names) {
      if (of_case[name].points.size() >= 2) lines.push_back(of_case[name]);
    }
  }
  if (lines.empty()) return;
  std::set<std::string> machine_ids;
  for (const Line& l : lines) machine_ids.insert(l.machine_run->data.info.machine_id);
  const bool machines = machine_ids.size() > 1;
  out += "<h3>trend</h3>\n";
  std::vector<Column> cols;
  if (machines) cols.push_back({"machine", false, "where the runs ran"});
  add_columns(cols, {{"impl", false, ""},
                     {"dtype", false, ""},
                     {"params", false, ""},
                     {"runs", true, "runs of this machine with a time for the case"},
                     {"median time over the runs", false, "oldest left, newest right"},
                     {"first", true, "the oldest run's median time"},
                     {"latest", true, "the newest run's median time"},
                     {"change", true, "latest over first"}});
  open_table(out, cols, "trend");
  for (const Line& l : lines) {
    const CaseData& c = *l.latest;
    double first = l.points.front().seconds, latest = l.points.back().seconds;
    double change = latest / first - 1;
    std::vector<Cell> cells;
    if (machines) cells.push_back(text_cell(l.machine_run->data.info.machine, "runcol"));
    cells.push_back(text_cell(c.impl, "impl"));
    cells.push_back(text_cell(c.dtype));
    cells.push_back(text_cell(c.params, "params"));
    cells.push_back(
        num_cell(std::to_string(l.points.size()), static_cast<double>(l.points.size())));
    Cell spark = text_cell("");
    spark.html = charts::sparkline(l.points, l.x_min, l.x_max);
    cells.push_back(spark);
    cells.push_back(num_cell(format_time(first, "µs"), first));
    cells.push_back(num_cell(format_time(latest, "µs"), latest));
    cells.push_back(num_cell(printf_string("%+.1f%%", change * 100), change,
                             change > 0.05    ? "slow"
                             : change < -0.05 ? "fast"
                                              : ""));
    add_row(out, cells, "", c.name);
  }
  close_table(out);
}

void render_roofline(std::string& out, const Page& page) {
  std::string body;
  for (const Run& r : page.runs) {
    if (!r.shown || !r.timed()) continue;
    std::vector<std::string> backends;
    for (const CaseData& c : r.data.cases) {
      std::string b = plot_backend(c);
      if (std::find(backends.begin(), backends.end(), b) == backends.end()) backends.push_back(b);
    }
    const json& ceilings = member(member(*r.doc, "opbench"), "ceilings");
    for (const std::string& backend : backends) {
      charts::Roofline plot;
      plot.title = (page.several_runs ? r.label + " · " : std::string()) + backend;
      plot.legend = page.series;
      if (ceilings.is_array()) {
        for (const json& c : ceilings) {
          if (str(c, "backend") != backend) continue;
          double seconds = number(c, "seconds");
          if (!(seconds > 0)) continue;
          if (str(c, "kind") == "copy") {
            double gbps = number(c, "bytes") / seconds / 1e9;
            if (!(gbps > 0)) continue;
            plot.copy_gbps_best = std::max(plot.copy_gbps_best, gbps);
            plot.copy_gbps_worst =
                plot.copy_gbps_worst > 0 ? std::min(plot.copy_gbps_worst, gbps) : gbps;
          } else if (str(c, "kind") == "sgemm") {
            plot.peak_gflops = std::max(plot.peak_gflops, number(c, "flops") / seconds / 1e9);
          }
        }
      }
      for (const CaseData& c : r.data.cases) {
        // The case's cost over its time (the model's median), at its arithmetic intensity; a rate
        // with no place on the log axes (Inf, NaN) is left out by the chart, with a note.
        if (plot_backend(c) != backend || !c.timed || !(c.median > 0) || !(c.flops > 0) ||
            !(c.bytes > 0)) {
          continue;
        }
        const double gflops = c.flops / c.median / 1e9, gbps = c.bytes / c.median / 1e9;
        plot.points.push_back(
            {c.flops / c.bytes, gflops, series_of(page.series, c.impl),
             c.name + ": " + significant(gflops) + " GFLOP/s, " + significant(gbps) + " GB/s"});
      }
      std::string svg = charts::roofline(plot);
      if (!svg.empty()) body += "<figure class=\"chart\">" + svg + "</figure>\n";
    }
  }
  if (body.empty()) return;
  out +=
      "<section id=\"roofline\">\n<h2>roofline</h2>\n<p class=\"muted\">Arithmetic intensity "
      "(flops over compulsory bytes) against achieved GFLOP/s; the roof is the fastest copy "
      "and the SGEMM measured in the same run (dashed: the slowest copy size).</p>\n<div "
      "class=\"charts\">\n" +
      body + "</div>\n</section>\n";
}

}  // namespace opbench::reports::html
