// The op sections of the HTML page: per suite/op, a table of the timed runs' cases (time, noise,
// rates, ceiling fraction, speedup over cpu.plain, err, agreement) and one of check-only runs'
// cases (elements, err and the raw errors, agreement). Every number comes from the shared model;
// agreement reads as in the console (agreement_text, agreement_tone).
#include <algorithm>
#include <cmath>
#include <functional>

#include "reports/html_markup.hpp"
#include "reports/html_sections.hpp"
#include "reports/report_view.hpp"

namespace opbench::reports::html {

using namespace view;

namespace {

bool is_error(const CaseData& c) {
  return c.errored() || c.status == AgreementStatus::error;
}

// Checked, with errors to show.
bool has_errors(const CaseData& c) {
  return c.checked && !is_error(c) && !c.skipped();
}

const char* row_class(const CaseData& c) {
  if (c.skipped()) return "skipped";
  if (is_error(c)) return "error";
  if (c.is_reference) return "ref";
  if (c.status == AgreementStatus::fail) return "fail";
  if (c.status == AgreementStatus::xfail) return "xfail";
  if (c.stale_known_failure()) return "stale";
  return "";
}

// The order of a sort by the agreement column: the worst last when ascending.
double severity(const CaseData& c) {
  if (c.skipped()) return 1;
  if (is_error(c)) return 5;
  if (c.is_reference) return -1;
  if (!c.checked) return 2;
  switch (c.status) {
    case AgreementStatus::fail:
      return 4;
    case AgreementStatus::xfail:
      return 3;
    case AgreementStatus::pass:
      return c.stale_known_failure() ? 2.5 : 0;
    default:
      return 2;
  }
}

// The agreement as every output says it (agreement_text, in its tone), then what explains it:
// the first mismatch, the error, the skip's reason, the known failure's reason, a stale entry.
Cell agreement_cell(const Run& run, const CaseData& c) {
  std::string text = agreement_text(c);
  if (auto s = run.data.samples.find(c.dataset); s != run.data.samples.end() && has_errors(c)) {
    text += " (" + s->second + ")";
  }
  Cell cell;
  cell.numeric = true;
  cell.value = severity(c);
  cell.cls = "agree";
  cell.html = std::string("<span class=\"badge ") + tone_class(agreement_tone(c)) + "\">" +
              esc(text) + "</span>";
  auto sub = [&](const std::string& cls, const std::string& line) {
    cell.html += "<div class=\"sub" + (cls.empty() ? "" : " " + cls) + "\">" + esc(line) + "</div>";
  };
  if (c.skipped()) {
    cell.html += " <span class=\"muted\">" + esc(c.error.substr(std::string("skipped: ").size())) +
                 "</span>";
  } else if (is_error(c)) {
    cell.html += " " + esc(c.error);
  } else if (c.status == AgreementStatus::fail && !c.first_mismatch.empty()) {
    sub("", "first mismatch: " + c.first_mismatch);
  } else if (c.status == AgreementStatus::xfail) {
    sub("warn", "known failure: " + c.known_failure);
  } else if (c.stale_known_failure()) {
    sub("warn", "passes, yet listed as a known failure (" + c.known_failure +
                    "): the manifest entry may be stale");
  }
  if (has_errors(c) && std::isfinite(c.max_rel_err)) {
    cell.title = esc("max_abs_err " + printf_string("%.3g", c.max_abs_err) + ", max_rel_err " +
                     printf_string("%.3g", c.max_rel_err));
  }
  return cell;
}

// The worst error as a fraction of the allowed error: <= 1 passes.
Cell err_cell(const CaseData& c) {
  const double v = has_errors(c) ? c.err_ratio : NAN;
  return num_cell(std::isfinite(v) ? printf_string("%.3g", v) : std::string("-"), v,
                  v > 1 ? "warn" : "");
}

// A horizontal bar of the ceiling fraction: the track is 100% of the ceiling; a fraction above 1
// (the ceiling is understated) fills the track in the warning colour with a mark at the end.
std::string ceiling_bar(double fraction) {
  constexpr int kWidth = 100, kHeight = 10;
  const std::string w = std::to_string(kWidth), h = std::to_string(kHeight);
  std::string out = "<svg class=\"bar\" width=\"" + w + "\" height=\"" + h + "\" viewBox=\"0 0 " +
                    w + " " + h + "\" role=\"img\">";
  out += "<rect class=\"track\" x=\"0\" y=\"0\" width=\"" + w + "\" height=\"" + h + "\"/>";
  if (std::isfinite(fraction) && fraction > 0) {
    out += std::string("<rect class=\"") + (fraction > 1.0 ? "over" : "fill") +
           "\" x=\"0\" y=\"0\" width=\"" + printf_string("%.2f", std::min(fraction, 1.0) * kWidth) +
           "\" height=\"" + h + "\"/>";
    if (fraction > 1.0) {
      out += "<rect class=\"mark\" x=\"" + std::to_string(kWidth - 3) +
             "\" y=\"0\" width=\"3\" height=\"" + h + "\"/>";
    }
  }
  out +=
      "<title>" +
      esc(std::isfinite(fraction) ? printf_string("%.1f%% of the measured ceiling", fraction * 100)
                                  : std::string("no ceiling known")) +
      "</title></svg>";
  return out;
}

// The columns every table starts with: run and machine where several, then the case.
std::vector<Column> lead_columns(const Page& page) {
  std::vector<Column> cols;
  if (page.several_runs) cols.push_back({"run", false, "the report file"});
  if (page.several_machines) cols.push_back({"machine", false, "where the run ran"});
  add_columns(cols, {{"impl", false, ""}, {"dtype", false, ""}, {"params", false, ""}});
  return cols;
}

std::vector<Cell> lead_cells(const Page& page, const Row& r) {
  const Run& run = page.runs[r.run];
  std::vector<Cell> cells;
  if (page.several_runs) cells.push_back(text_cell(run.label, "runcol"));
  if (page.several_machines) cells.push_back(text_cell(run.data.info.machine, "runcol"));
  cells.push_back(text_cell(r.c->impl, "impl"));
  cells.push_back(text_cell(r.c->dtype));
  cells.push_back(text_cell(r.c->params, "params"));
  return cells;
}

// Rows of a table, a line between parameter points.
void add_rows(std::string& out, const std::vector<const Row*>& rows,
              const std::function<std::vector<Cell>(const Row&)>& cells_of) {
  const std::string* last_point = nullptr;
  for (const Row* r : rows) {
    std::string cls = row_class(*r->c);
    if (last_point != nullptr && *last_point != r->point) cls += cls.empty() ? "group" : " group";
    last_point = &r->point;
    add_row(out, cells_of(*r), cls, r->c->name);
  }
}

void render_timed_table(std::string& out, const Page& page, const std::vector<const Row*>& rows) {
  std::vector<Column> cols = lead_columns(page);
  add_columns(
      cols,
      {{"time", true, "the median of the repetitions"},
       {"noise", true, "coefficient of variation over repetitions"},
       {"GB/s", true, "compulsory bytes over time"},
       {"GFLOP/s", true, ""},
       {"ceiling", true, "fraction of the machine's ceiling measured in the same run"},
       {"vs cpu.plain", true, "speedup over cpu.plain (same run and point)"},
       {"err", true, "worst |out - ref| over the allowed error (atol + rtol |ref|): <= 1 passes"},
       {"agreement", true, "against the float64 reference", true}});
  open_table(out, cols);
  add_rows(out, rows, [&](const Row& r) {
    const CaseData& c = *r.c;
    std::vector<Cell> cells = lead_cells(page, r);
    const double seconds = c.timed ? c.median : NAN;
    cells.push_back(num_cell(format_time(seconds, "µs"), seconds));
    const double noise = c.timed ? c.cv * 100 : NAN;
    cells.push_back(
        num_cell(std::isfinite(noise) ? printf_string("%.2f%%", noise) : std::string("-"), noise,
                 c.timed && c.cv > kNoiseWarnFraction ? "warn" : ""));
    cells.push_back(num_cell(significant(c.gbps), c.gbps));
    cells.push_back(num_cell(significant(c.gflops), c.gflops));
    const double fraction = c.ceiling_fraction;
    Cell ceil = num_cell("", fraction, fraction > 1.0 ? "ceil warn" : "ceil");
    ceil.html = ceiling_bar(fraction) +
                esc(std::isfinite(fraction) ? printf_string("%.1f%%", fraction * 100) : "-");
    cells.push_back(std::move(ceil));
    const double speedup = r.speedup();
    cells.push_back(
        num_cell(std::isfinite(speedup) ? printf_string("%.2fx", speedup) : "-", speedup));
    cells.push_back(err_cell(c));
    cells.push_back(agreement_cell(page.runs[r.run], c));
    return cells;
  });
  close_table(out);
}

void render_check_table(std::string& out, const Page& page, const std::vector<const Row*>& rows) {
  std::vector<Column> cols = lead_columns(page);
  add_columns(cols, {{"elements", true, "elements compared"},
                     {"err", true,
                      "worst |out - ref| over the allowed error (atol + rtol |ref|): <= 1 passes"},
                     {"max_abs", true, "largest absolute error"},
                     {"max_rel", true, "largest relative error"},
                     {"rel_l2", true, "||out - ref|| / ||ref||"},
                     {"agreement", true, "against the float64 reference", true}});
  open_table(out, cols, "check");
  add_rows(out, rows, [&](const Row& r) {
    const CaseData& c = *r.c;
    const bool shown = has_errors(c);
    auto error = [&](double v) {
      v = shown ? v : NAN;
      return num_cell(std::isfinite(v) ? printf_string("%.3g", v) : std::string("-"), v);
    };
    std::vector<Cell> cells = lead_cells(page, r);
    const double elements = shown ? static_cast<double>(c.elements) : NAN;
    cells.push_back(num_cell(shown ? format_count(elements) : "-", elements));
    cells.push_back(err_cell(c));
    cells.push_back(error(c.max_abs_err));
    cells.push_back(error(c.max_rel_err));
    cells.push_back(error(c.rel_l2_err));
    cells.push_back(agreement_cell(page.runs[r.run], c));
    return cells;
  });
  close_table(out);
}

}  // namespace

void render_op_sections(std::string& out, const Page& page) {
  for (const auto& [id, op] : page.ops) {
    std::vector<const Row*> timed, checked;
    for (const Row& r : page.rows) {
      if (r.op != op) continue;
      (page.runs[r.run].timed() ? timed : checked).push_back(&r);
    }
    const std::string suite = op.substr(0, op.find('/'));
    const std::string name = op.substr(op.find('/') + 1);
    out += "<section class=\"op\">\n<h2 id=\"" + id + "\"><span class=\"muted\">" + esc(suite) +
           " /</span> " + esc(name) + "</h2>\n";
    if (!timed.empty()) {
      if (!checked.empty()) out += "<h3>timings</h3>\n";
      const std::vector<const Row*> ordered = rows_in_order(timed);
      render_timed_table(out, page, ordered);
      const std::string figures = speedup_figures(page, ordered);
      if (!figures.empty()) out += "<div class=\"charts\">\n" + figures + "</div>\n";
    }
    render_trends(out, page, op);
    if (!checked.empty()) {
      if (!timed.empty()) out += "<h3>agreement check</h3>\n";
      render_check_table(out, page, rows_in_order(checked));
    }
    out += "</section>\n";
  }
  if (page.ops.empty()) out += "<p class=\"muted\">The reports hold no cases.</p>\n";
}

}  // namespace opbench::reports::html
