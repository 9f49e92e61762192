#include "reports/console_summary.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "reports/report_model.hpp"
#include "reports/report_view.hpp"
#include "reports/run_log.hpp"
#include "reports/text_table.hpp"

namespace opbench::reports {

using nlohmann::json;
using namespace view;

namespace {

const char* tone_color(Tone t) {
  switch (t) {
    case Tone::good:
      return kGreen;
    case Tone::warn:
      return kYellow;
    case Tone::bad:
      return kRed;
    case Tone::plain:
      break;
  }
  return nullptr;
}

void print_machine(const json& ob, std::ostream& out) {
  out << "## devices\n\n";
  const json& devices = member(ob, "devices");
  if (devices.is_array() && !devices.empty()) {
    for (const json& d : devices) out << "- " << scalar_text(d) << "\n";
  } else {
    out << "- (none recorded)\n";
  }
  out << "\n";
  const json& ceilings = member(ob, "ceilings");
  if (!ceilings.is_array() || ceilings.empty()) return;
  Table t({"backend", "ceiling", "size", "rate"}, {false, false, true, true});
  for (const json& c : ceilings) {
    const std::string kind = str(c, "kind");
    const double seconds = number(c, "seconds");
    const bool sgemm = kind == "sgemm";
    const double size = number(c, sgemm ? "flops" : "bytes");
    t.add({{str(c, "backend")},
           {kind},
           {format_scaled(size, sgemm ? "FLOP" : "B", !sgemm)},
           {seconds > 0 && size > 0
                ? significant(size / seconds / 1e9) + (sgemm ? " GFLOP/s" : " GB/s")
                : "-"}});
  }
  out << "## ceilings (median of repetitions, on the run's threads)\n\n";
  t.print(out, true, false);
  out << "\n";
}

std::string fixed(const char* fmt, double v) {
  return std::isfinite(v) ? printf_string(fmt, v) : std::string("-");
}

}  // namespace

void print_summary(const json& report, std::ostream& out, bool color) {
  const json& ob = member(report, "opbench");
  const RunData run = extract_run(report, "");
  const bool timed = run.info.timed;

  out << "# opbench " << (timed ? "run" : "check");
  if (run.info.threads > 0) out << " (" << run.info.threads << " threads)";
  out << "\n\n";
  print_machine(ob, out);

  // Tables per suite/op in order of appearance; rows grouped by parameter point, the reference
  // first within a point.
  std::vector<std::string> op_order;
  std::map<std::string, std::vector<std::string>> point_order;     // op -> points
  std::map<std::string, std::vector<const CaseData*>> point_rows;  // op + point -> cases
  for (const CaseData& c : run.cases) {
    const std::string op = c.suite + "/" + c.op;
    const std::string point = c.dataset.empty() ? c.dtype + " " + c.params : c.dataset;
    if (!point_order.count(op)) op_order.push_back(op);
    auto& points = point_order[op];
    if (std::find(points.begin(), points.end(), point) == points.end()) points.push_back(point);
    point_rows[op + "\n" + point].push_back(&c);
  }

  for (const std::string& op : op_order) {
    out << "## " << op << "\n\n";
    Table t = timed ? Table({"impl", "dtype", "params", "time", "noise", "GB/s", "GFLOP/s",
                             "ceiling", "vs plain", "err", "agreement"},
                            {false, false, false, true, true, true, true, true, true, true, false})
                    : Table({"impl", "dtype", "params", "elements", "err", "max_abs", "max_rel",
                             "agreement"},
                            {false, false, false, true, true, true, true, false});
    for (const std::string& point : point_order[op]) {
      std::vector<const CaseData*> members = point_rows[op + "\n" + point];
      std::stable_partition(members.begin(), members.end(),
                            [](const CaseData* c) { return c->is_reference; });
      double plain = 0;
      for (const CaseData* c : members) {
        if (c->impl == "cpu.plain" && c->timed) plain = c->median;
      }
      for (const CaseData* c : members) {
        std::vector<Cell> cells = {{c->impl}, {c->dtype}, {c->params}};
        const bool checked = c->checked && !c->errored();
        // The worst error as a fraction of the allowed error: <= 1 passes.
        const std::string err = checked ? fixed("%.3g", c->err_ratio) : "-";
        if (timed) {
          cells.push_back({c->timed ? format_time(c->median) : "-"});
          cells.push_back({fixed("%.2f%%", c->cv * 100)});
          cells.push_back({significant(c->gbps)});
          cells.push_back({significant(c->gflops)});
          cells.push_back({fixed("%.1f%%", c->ceiling_fraction * 100)});
          cells.push_back({plain > 0 && c->timed ? printf_string("%.2fx", plain / c->median)
                                                 : std::string("-")});
          cells.push_back({err});
        } else {
          cells.push_back({checked ? std::to_string(c->elements) : "-"});
          cells.push_back({err});
          cells.push_back({checked ? fixed("%.3g", c->max_abs_err) : "-"});
          cells.push_back({checked ? fixed("%.3g", c->max_rel_err) : "-"});
        }
        std::string agreement = agreement_text(*c);
        if (auto s = run.samples.find(c->dataset);
            s != run.samples.end() && c->checked && !c->errored()) {
          agreement += " (" + s->second + ")";
        }
        cells.push_back({agreement, tone_color(agreement_tone(*c))});
        t.add(std::move(cells));
      }
    }
    t.print(out, true, color);
    out << "\n";
  }

  const RunLog log = summarize_run(run);
  if (!log.lines.empty()) {
    out << "## log\n\n";
    for (const std::string& line : log.lines) out << "- " << line << "\n";
    out << "\n";
  }
  out << log.counts << "\n";
}

}  // namespace opbench::reports
