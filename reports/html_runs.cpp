// The runs of the HTML page: a card per shown run, the earlier runs behind the trends, and the
// machine's ceilings measured in each run.
#include <algorithm>
#include <cmath>

#include "reports/html_markup.hpp"
#include "reports/html_sections.hpp"
#include "reports/report_view.hpp"

namespace opbench::reports::html {

using nlohmann::json;
using namespace view;

namespace {

void render_run_card(std::string& out, const Run& run) {
  // The build details the model does not carry are read from the report as they are.
  const json& ob = member(*run.doc, "opbench");
  const json& context = member(*run.doc, "context");
  const json& build = member(ob, "build");
  const RunInfo& info = run.data.info;
  auto item = [&](const char* name, const std::string& html) {
    out += std::string("<dt>") + name + "</dt><dd>" + html + "</dd>\n";
  };
  auto or_none = [](const std::string& s) {
    return s.empty() ? std::string("<span class=\"muted\">none</span>") : esc(s);
  };

  out += "<div class=\"runcard\">\n<h3>" + esc(run.label) + "</h3>\n<dl>\n";
  std::string tool = str(ob, "tool", "opbench");
  item("tool", esc(tool + (info.tool_version.empty() ? "" : " " + info.tool_version)));
  item("mode", run.timed() ? "run (checked and timed)" : "check (agreement only)");
  std::string commit_html = info.commit.empty() ? "<span class=\"muted\">unknown</span>"
                                                : "<code title=\"" + esc(info.commit) + "\">" +
                                                      esc(info.commit.substr(0, 12)) + "</code>";
  if (member(ob, "git").contains("dirty")) {
    commit_html += info.dirty ? " <span class=\"badge dirty\">dirty</span>"
                              : " <span class=\"badge clean\">clean</span>";
  }
  item("commit", commit_html);
  item("date", or_none(info.date));
  std::string machine = info.host;
  double cpus = number(context, "num_cpus"), mhz = number(context, "mhz_per_cpu");
  if (std::isfinite(cpus)) machine += (machine.empty() ? "" : ", ") + format_count(cpus) + " CPUs";
  if (std::isfinite(mhz)) machine += " @ " + format_count(mhz) + " MHz";
  item("machine", or_none(machine));
  std::string devices;
  for (const std::string& d : info.devices) devices += (devices.empty() ? "" : "<br>") + esc(d);
  item("devices", devices.empty() ? "<span class=\"muted\">none recorded</span>" : devices);
  item("threads", info.threads > 0 ? std::to_string(info.threads) : "-");
  std::string b = str(build, "build_type");
  std::string compiler = str(build, "compiler");
  if (!compiler.empty()) b += (b.empty() ? "" : ", ") + compiler;
  if (boolean(build, "native")) b += (b.empty() ? "" : ", ") + std::string("native");
  std::string build_html = or_none(b);
  std::string flags = str(build, "cxx_flags");
  if (!flags.empty()) build_html += "<br><code>" + esc(flags) + "</code>";
  item("build", build_html);
  item("libraries", "BLAS " + or_none(str(build, "blas")) + " · CUDA " +
                        or_none(str(build, "cuda")) + " · oneDNN " + or_none(str(build, "onednn")) +
                        " · FAISS " + or_none(str(build, "faiss")) + " · PyTorch " +
                        or_none(str(build, "torch")));
  std::string command = str(ob, "command_line");
  if (!command.empty()) item("command", "<code>" + esc(command) + "</code>");
  if (!run.source.empty()) item("report", "<code>" + esc(run.source) + "</code>");
  out += "</dl>\n</div>\n";
}

}  // namespace

void render_run_cards(std::string& out, const Page& page) {
  const std::vector<Run>& runs = page.runs;
  out += "<section id=\"runs\">\n<h2>" + std::string(page.several_runs ? "runs" : "run") +
         "</h2>\n<div class=\"runs\">\n";
  for (const Run& run : runs) {
    if (run.shown) render_run_card(out, run);
  }
  if (runs.empty()) out += "<p class=\"muted\">No reports given.</p>\n";
  out += "</div>\n";
  std::size_t hidden =
      std::count_if(runs.begin(), runs.end(), [](const Run& r) { return !r.shown; });
  if (hidden > 0) {
    // The older runs behind the trends, one line each.
    out += "<details><summary>" + std::to_string(hidden) + " earlier run" +
           (hidden == 1 ? "" : "s") + " (in the trends only)</summary>\n";
    open_table(out, {{"run", false, ""},
                     {"date", false, ""},
                     {"commit", false, ""},
                     {"machine", false, ""},
                     {"cases", true, ""}});
    for (const Run& r : runs) {
      if (r.shown) continue;
      const RunInfo& info = r.data.info;
      add_row(out, {text_cell(r.label, "runcol"), text_cell(info.date),
                    text_cell(info.commit.substr(0, 12) + (info.dirty ? " (dirty)" : ""), "mono"),
                    text_cell(info.machine),
                    num_cell(std::to_string(r.data.cases.size()),
                             static_cast<double>(r.data.cases.size()))});
    }
    close_table(out);
    out += "</details>\n";
  }
  out += "</section>\n";
}

void render_ceilings(std::string& out, const Page& page) {
  out += "<section id=\"ceilings\">\n<h2>ceilings</h2>\n";
  std::vector<Column> cols;
  if (page.several_runs) cols.push_back({"run", false, ""});
  if (page.several_machines) cols.push_back({"machine", false, "where the run ran"});
  add_columns(cols, {{"backend", false, ""},
                     {"kind", false, "copy: bytes read + written; sgemm: a large SGEMM"},
                     {"size", true, ""},
                     {"time", true, "median time of one execution"},
                     {"GB/s", true, ""},
                     {"GFLOP/s", true, ""}});
  bool any = false;
  for (const Run& run : page.runs) {
    if (!run.shown) continue;
    const json& ceilings = member(member(*run.doc, "opbench"), "ceilings");
    if (!ceilings.is_array()) continue;
    for (const json& c : ceilings) {
      if (!c.is_object()) continue;
      if (!any) open_table(out, cols);
      any = true;
      std::string kind = str(c, "kind");
      double seconds = number(c, "seconds");
      double bytes = number(c, "bytes"), flops = number(c, "flops");
      double gbps = number(c, "gbps"), gflops = number(c, "gflops");
      bool gemm = kind == "sgemm";
      if (!std::isfinite(gbps) && !gemm && seconds > 0) gbps = bytes / seconds / 1e9;
      if (!std::isfinite(gflops) && gemm && seconds > 0) gflops = flops / seconds / 1e9;
      if (gemm) gbps = NAN;
      if (!gemm) gflops = NAN;
      std::vector<Cell> cells;
      if (page.several_runs) cells.push_back(text_cell(run.label, "runcol"));
      if (page.several_machines) cells.push_back(text_cell(run.data.info.machine, "runcol"));
      cells.push_back(text_cell(str(c, "backend")));
      cells.push_back(text_cell(kind));
      cells.push_back(gemm ? num_cell(format_scaled(flops, "FLOP", false), flops)
                           : num_cell(format_scaled(bytes, "B", true), bytes));
      cells.push_back(num_cell(format_time(seconds, "µs"), seconds));
      cells.push_back(num_cell(significant(gbps), gbps));
      cells.push_back(num_cell(significant(gflops), gflops));
      add_row(out, cells);
    }
  }
  if (any) {
    close_table(out);
  } else {
    out += "<p class=\"muted\">No ceilings were measured (an agreement check measures none).</p>\n";
  }
  out += "</section>\n";
}

}  // namespace opbench::reports::html
