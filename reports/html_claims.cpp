// The papers' claims of a claims run (`opbench claims`, opbench.claims) as one table: the
// paper's figure and conditions beside the speed-up measured here and the one this machine's
// ceilings allow. Nothing when no shown run measured claims.
#include <cmath>

#include "reports/html_markup.hpp"
#include "reports/html_sections.hpp"
#include "reports/report_view.hpp"

namespace opbench::reports::html {

using nlohmann::json;
using namespace view;

namespace {

std::string ratio(double v) {
  return std::isfinite(v) ? significant(v, 3) + "×" : "-";
}

std::string side_html(const json& side) {
  return "<code>" + esc(str(side, "op")) + "</code> " + esc(str(side, "impl")) + "<br>" +
         esc(format_time(number(side, "seconds"), "µs")) + " · " + esc(str(side, "agreement", "-"));
}

}  // namespace

bool has_claims(const Page& page) {
  for (const Run& run : page.runs) {
    const json& claims = member(member(*run.doc, "opbench"), "claims");
    if (run.shown && claims.is_array() && !claims.empty()) return true;
  }
  return false;
}

void render_claims(std::string& out, const Page& page) {
  if (!has_claims(page)) return;
  out += "<section id=\"claims\">\n<h2>papers' claims</h2>\n";
  out +=
      "<p class=\"muted\">Each paper's headline speed-up beside the one measured here "
      "(baseline time over fast time, both sides checked against the float64 reference) and "
      "the one this run's ceilings allow (the ratio of the two sides' roofline floors).</p>\n";
  std::vector<Column> cols;
  if (page.several_runs) cols.push_back({"run", false, ""});
  add_columns(cols, {{"claim", false, ""},
                     {"paper", true, "the paper's speed-up"},
                     {"measured here", true, "baseline median time over fast median time"},
                     {"of paper", true, "measured over the paper's figure"},
                     {"ceilings allow", true, "baseline roofline floor over fast roofline floor"},
                     {"paper's conditions", false, ""},
                     {"conditions here", false, ""},
                     {"fast", false, ""},
                     {"baseline", false, ""}});
  open_table(out, cols);
  for (const Run& run : page.runs) {
    if (!run.shown) continue;
    const json& claims = member(member(*run.doc, "opbench"), "claims");
    if (!claims.is_array()) continue;
    for (const json& c : claims) {
      if (!c.is_object()) continue;
      const double paper = number(c, "paper_figure"), measured = number(c, "measured");
      const double of_paper = number(c, "of_paper"), bound = number(c, "bound");
      std::vector<Cell> cells;
      if (page.several_runs) cells.push_back(text_cell(run.label, "runcol"));
      Cell claim = text_cell(str(c, "id"));
      claim.html = "<b>" + esc(str(c, "id")) + "</b><br>" + esc(str(c, "statement"));
      if (str(c, "status") != "measured") {
        claim.html += "<br><span class=\"bad\">not measured: " + esc(str(c, "status")) + "</span>";
      }
      if (!str(c, "note").empty()) {
        claim.html += "<br><span class=\"warn\">note: " + esc(str(c, "note")) + "</span>";
      }
      cells.push_back(claim);
      Cell paper_cell = num_cell(ratio(paper), paper);
      paper_cell.title = esc(str(c, "paper_figure_source"));
      cells.push_back(paper_cell);
      cells.push_back(num_cell(ratio(measured), measured));
      cells.push_back(num_cell(std::isfinite(of_paper) ? significant(of_paper, 3) : "-", of_paper));
      cells.push_back(num_cell(ratio(bound), bound));
      Cell cond = text_cell(str(c, "paper_conditions"));
      cond.html = esc(str(c, "paper")) + " (" + esc(str(c, "paper_figure_source")) +
                  "): " + esc(str(c, "paper_conditions"));
      cells.push_back(cond);
      cells.push_back(text_cell(str(c, "conditions_here")));
      Cell fast = text_cell("");
      fast.html = side_html(member(c, "fast"));
      Cell base = text_cell("");
      base.html = side_html(member(c, "baseline"));
      cells.push_back(fast);
      cells.push_back(base);
      add_row(out, cells);
    }
  }
  close_table(out);
  out += "</section>\n";
}

}  // namespace opbench::reports::html
