#include "reports/html_report.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "reports/compare.hpp"
#include "reports/html_assets.hpp"
#include "reports/html_charts.hpp"
#include "reports/json_report.hpp"
#include "reports/report_view.hpp"

namespace opbench::reports {

using nlohmann::json;
using namespace view;

namespace {

// ---------------------------------------------------------------------------------------------
// Formatting numbers (more in report_view.hpp).

// An integer count as digits ("?" when unknown; beyond 64 bits in exponent form).
std::string format_count(double v) {
  if (!std::isfinite(v)) return "?";
  if (std::abs(v) >= 9e18) return printf_string("%.3g", v);
  return std::to_string(static_cast<long long>(v));
}

// The value of a data-v attribute: the number to 10 significant digits, "" when unknown (sorts
// last).
std::string sort_value(double v) {
  return std::isfinite(v) ? printf_string("%.10g", v) : "";
}

// ---------------------------------------------------------------------------------------------
// HTML building blocks.

std::string esc(const std::string& s) {
  return html_escape(s);
}

// A table cell: `html` is already escaped. Numeric cells carry their value in data-v so that the
// sort is numeric and unknown values sort last.
struct Cell {
  std::string html;
  std::string cls;
  bool numeric = false;
  double value = NAN;
  std::string title;  // escaped
};

Cell text_cell(const std::string& text, std::string cls = "") {
  return {esc(text), std::move(cls), false, NAN, ""};
}

Cell num_cell(const std::string& text, double value, std::string cls = "") {
  return {esc(text), cls.empty() ? "num" : "num " + cls, true, value, ""};
}

struct Column {
  const char* name;
  bool numeric;       // sorted by data-v, aligned right
  const char* title;  // the header's tooltip
  bool left = false;  // numeric sort, but aligned left (the agreement columns)
};

void open_table(std::string& out, const std::vector<Column>& columns, const char* cls = "") {
  out += "<table class=\"sortable";
  if (*cls) out += std::string(" ") + cls;
  out += "\">\n<thead><tr>";
  for (const Column& c : columns) {
    out += "<th";
    if (c.numeric) out += c.left ? " data-type=\"num\"" : " class=\"num\" data-type=\"num\"";
    if (c.title && *c.title) out += std::string(" title=\"") + c.title + "\"";
    out += ">" + esc(c.name) + "</th>";
  }
  out += "</tr></thead>\n<tbody>\n";
}

void close_table(std::string& out) {
  out += "</tbody>\n</table>\n";
}

void add_row(std::string& out, const std::vector<Cell>& cells, const std::string& cls = "") {
  out += cls.empty() ? "<tr>" : "<tr class=\"" + cls + "\">";
  for (const Cell& c : cells) {
    out += "<td";
    if (!c.cls.empty()) out += " class=\"" + c.cls + "\"";
    if (c.numeric) out += " data-v=\"" + sort_value(c.value) + "\"";
    if (!c.title.empty()) out += " title=\"" + c.title + "\"";
    out += ">" + c.html + "</td>";
  }
  out += "</tr>\n";
}

// An anchor id from arbitrary text: letters, digits and '-' only, made unique by `index`.
std::string anchor(const std::string& prefix, std::size_t index, const std::string& text) {
  std::string id = prefix + "-" + std::to_string(index) + "-";
  for (unsigned char ch : text) id += std::isalnum(ch) ? static_cast<char>(ch) : '-';
  return id;
}

// ---------------------------------------------------------------------------------------------
// The model: runs, and one row per case with its timing matched from Google Benchmark's entries.

struct Run {
  const json* doc = nullptr;
  const json* ob = nullptr;  // the opbench block (an empty object when absent)
  std::string label;         // the file name, shown in the run column
  std::string source;        // the path as given
  bool timed = true;
  RunData data;        // its cases read for compare, trends and charts
  double epoch = NAN;  // context.date as seconds since 1970 (NaN when unreadable)
  bool shown = true;   // in the tables (false: an older run of its machine, trends only)
};

// "2026-11-23T01:05:43+00:00" (Google Benchmark's date) as seconds since 1970 in UTC.
double parse_date(const std::string& date) {
  std::tm tm{};
  int off_h = 0, off_m = 0;
  char sign = '+';
  int n = std::sscanf(date.c_str(), "%d-%d-%dT%d:%d:%d%c%d:%d", &tm.tm_year, &tm.tm_mon,
                      &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &sign, &off_h, &off_m);
  if (n < 6) return NAN;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  double t = static_cast<double>(timegm(&tm));
  if (n == 9) t -= (sign == '-' ? -1 : 1) * (off_h * 3600.0 + off_m * 60.0);
  return t;
}

// More than one run in the tables: they gain a run column.
bool several_runs(const std::vector<Run>& runs) {
  return std::count_if(runs.begin(), runs.end(), [](const Run& r) { return r.shown; }) > 1;
}

// Runs of more than one machine in the tables: they gain a machine column.
bool several_machines(const std::vector<Run>& runs) {
  std::set<std::string> ids;
  for (const Run& r : runs) {
    if (r.shown) ids.insert(r.data.info.machine_id);
  }
  return ids.size() > 1;
}

enum class Status { kReference, kPassed, kXfail, kFailed, kError, kSkipped, kUnchecked };

struct Row {
  std::size_t run = 0;
  const json* c = nullptr;         // the entry of opbench.cases
  const CaseData* data = nullptr;  // the case in the shared model: its time, rates and status
  double seconds = 0;
  double noise_percent = NAN;
  double gbps = NAN, gflops = NAN, ceiling_fraction = NAN;
  double plain_seconds = 0;  // cpu.plain of the same run, op and point
  Status status = Status::kUnchecked;
  std::string op;     // "suite/op"
  std::string point;  // dtype and parameters
  std::string impl;
  bool is_reference = false;
};

// The labels of the run column: file names; the full path where two share a file name; a number
// where nothing tells them apart.
std::vector<std::string> run_labels(const std::vector<std::string>& sources, std::size_t n) {
  std::vector<std::string> labels(n);
  std::map<std::string, int> count;
  for (std::size_t i = 0; i < n; ++i) {
    std::string src = i < sources.size() ? sources[i] : "";
    std::string name = std::filesystem::path(src).filename().string();
    labels[i] = !name.empty() ? name : !src.empty() ? src : "run " + std::to_string(i + 1);
    ++count[labels[i]];
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (count[labels[i]] > 1 && i < sources.size() && !sources[i].empty()) labels[i] = sources[i];
  }
  std::map<std::string, int> seen;
  for (std::size_t i = 0; i < n; ++i) {
    if (++seen[labels[i]] > 1) labels[i] += " (" + std::to_string(i + 1) + ")";
  }
  return labels;
}

std::vector<Run> make_runs(const std::vector<json>& reports,
                           const std::vector<std::string>& sources) {
  std::vector<std::string> labels = run_labels(sources, reports.size());
  std::vector<Run> runs;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    Run r;
    r.doc = &reports[i];
    const json& ob = member(reports[i], "opbench");
    r.ob = ob.is_object() ? &ob : &empty_object();
    r.label = labels[i];
    r.source = i < sources.size() ? sources[i] : "";
    r.timed = !r.ob->contains("timed") || boolean(*r.ob, "timed");
    r.data = extract_run(reports[i], r.source);
    r.epoch = parse_date(r.data.info.date);
    runs.push_back(std::move(r));
  }
  return runs;
}

Status status_of(const CaseData& c) {
  if (c.skipped()) return Status::kSkipped;
  if (c.errored() || c.status == AgreementStatus::error) return Status::kError;
  if (c.is_reference) return Status::kReference;
  switch (c.status) {
    case AgreementStatus::pass:
      return Status::kPassed;
    case AgreementStatus::xfail:
      return Status::kXfail;
    case AgreementStatus::fail:
      return Status::kFailed;
    default:
      return Status::kUnchecked;
  }
}

// The rows of one run: every case of opbench.cases with its time, rates and status from the
// shared model (reports/report_model.hpp): one rule for the time everywhere.
void collect_rows(const Run& run, std::size_t index, std::vector<Row>& rows) {
  const std::size_t first = rows.size();
  const json& cases = member(*run.ob, "cases");
  if (cases.is_array()) {
    for (const json& c : cases) {
      if (!c.is_object()) continue;
      const CaseData* data = run.data.find(str(c, "name"));
      if (data == nullptr) continue;
      Row row;
      row.run = index;
      row.c = &c;
      row.data = data;
      row.status = status_of(*data);
      row.op = data->suite + "/" + data->op;
      row.impl = data->impl;
      row.is_reference = data->is_reference;
      row.point = data->dtype + " " + data->params;
      if (data->timed) {
        row.seconds = data->median;
        row.noise_percent = data->cv * 100;
        row.gbps = data->gbps;
        row.gflops = data->gflops;
        row.ceiling_fraction = data->ceiling_fraction;
      }
      rows.push_back(std::move(row));
    }
  }
  // Speedups: cpu.plain of the same run, op and point.
  std::map<std::string, double> plain_s;
  for (std::size_t i = first; i < rows.size(); ++i) {
    const Row& r = rows[i];
    if (r.impl == "cpu.plain" && r.seconds > 0) plain_s[r.op + "\n" + r.point] = r.seconds;
  }
  for (std::size_t i = first; i < rows.size(); ++i) {
    Row& r = rows[i];
    if (auto it = plain_s.find(r.op + "\n" + r.point); it != plain_s.end()) {
      r.plain_seconds = it->second;
    }
  }
}

double ceiling_fraction_of(const Row& r) {
  return r.ceiling_fraction;
}

struct Counts {
  int cases = 0, passed = 0, xfail = 0, failed = 0, errors = 0, skipped = 0, references = 0,
      unchecked = 0;
  void add(Status s) {
    ++cases;
    switch (s) {
      case Status::kPassed:
        ++passed;
        break;
      case Status::kXfail:
        ++xfail;
        break;
      case Status::kFailed:
        ++failed;
        break;
      case Status::kError:
        ++errors;
        break;
      case Status::kSkipped:
        ++skipped;
        break;
      case Status::kReference:
        ++references;
        break;
      case Status::kUnchecked:
        ++unchecked;
        break;
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Cells shared by the tables.

const char* row_class(Status s) {
  switch (s) {
    case Status::kFailed:
      return "fail";
    case Status::kError:
      return "error";
    case Status::kSkipped:
      return "skipped";
    case Status::kReference:
      return "ref";
    default:
      return "";
  }
}

Cell agreement_cell(const Row& r) {
  const json& c = *r.c;
  const json& a = member(c, "agreement");
  Cell cell;
  cell.numeric = true;  // sorts by severity
  switch (r.status) {
    case Status::kError:
      cell.html = "<span class=\"badge bad\">ERROR</span> " + esc(str(c, "error"));
      cell.cls = "agree";
      cell.value = 4;
      break;
    case Status::kFailed: {
      double rel = number(a, "max_rel_err");
      cell.html =
          "<span class=\"badge bad\">FAIL</span> " + esc(format_count(number(a, "mismatches"))) +
          "/" + esc(format_count(number(a, "elements"))) +
          " max_rel=" + esc(std::isfinite(rel) ? printf_string("%.3g", rel) : std::string("nan"));
      std::string first = str(a, "first_mismatch");
      if (!first.empty()) {
        cell.html += "<div class=\"sub\">first mismatch: " + esc(first) + "</div>";
      }
      cell.cls = "agree";
      cell.value = 3;
      break;
    }
    case Status::kUnchecked:
      cell.html = "<span class=\"muted\">not checked</span>";
      cell.cls = "agree";
      cell.value = 2;
      break;
    case Status::kSkipped:
      cell.html = "<span class=\"badge skip\">skipped</span> " +
                  esc(str(c, "error").substr(std::string("skipped: ").size()));
      cell.cls = "agree";
      cell.value = 1;
      break;
    case Status::kXfail:
      cell.html = "<span class=\"badge skip\">xfail</span> " + esc(r.data->known_failure);
      cell.cls = "agree";
      cell.value = 2.5;
      break;
    case Status::kPassed: {
      cell.html = "<span class=\"badge good\">ok</span>";
      double rel = number(a, "max_rel_err");
      if (std::isfinite(rel)) {
        cell.title = esc("max_rel_err " + printf_string("%.3g", rel) + ", max_abs_err " +
                         printf_string("%.3g", number(a, "max_abs_err")));
      }
      cell.cls = "agree";
      cell.value = 0;
      break;
    }
    case Status::kReference:
      cell.html = "<span class=\"muted\">reference</span>";
      cell.cls = "agree";
      cell.value = -1;
      break;
  }
  return cell;
}

// A horizontal bar of the ceiling fraction: the track is 100% of the ceiling; a fraction above 1
// (the ceiling is understated) fills the track in the warning colour with a mark at the end.
std::string ceiling_bar(double fraction) {
  constexpr int kWidth = 100, kHeight = 10;
  std::string out = "<svg class=\"bar\" width=\"" + std::to_string(kWidth) + "\" height=\"" +
                    std::to_string(kHeight) + "\" viewBox=\"0 0 " + std::to_string(kWidth) + " " +
                    std::to_string(kHeight) + "\" role=\"img\">";
  out += "<rect class=\"track\" x=\"0\" y=\"0\" width=\"" + std::to_string(kWidth) +
         "\" height=\"" + std::to_string(kHeight) + "\"/>";
  if (std::isfinite(fraction) && fraction > 0) {
    double w = std::min(fraction, 1.0) * kWidth;
    out += std::string("<rect class=\"") + (fraction > 1.0 ? "over" : "fill") +
           "\" x=\"0\" y=\"0\" width=\"" + printf_string("%.2f", w) + "\" height=\"" +
           std::to_string(kHeight) + "\"/>";
    if (fraction > 1.0) {
      out += "<rect class=\"mark\" x=\"" + std::to_string(kWidth - 3) +
             "\" y=\"0\" width=\"3\" height=\"" + std::to_string(kHeight) + "\"/>";
    }
  }
  out +=
      "<title>" +
      esc(std::isfinite(fraction) ? printf_string("%.1f%% of the measured ceiling", fraction * 100)
                                  : std::string("no ceiling known")) +
      "</title></svg>";
  return out;
}

Cell speedup_cell(double base, double seconds) {
  double v = base > 0 && seconds > 0 ? base / seconds : NAN;
  return num_cell(std::isfinite(v) ? printf_string("%.2fx", v) : "-", v);
}

// ---------------------------------------------------------------------------------------------
// Page sections, one function each.

// The style sheet and the script are real files (reports/html/), embedded at build time.
void render_style(std::string& out) {
  out += std::string("<style>\n") + html::kStyleCss + "</style>\n";
}

void render_script(std::string& out) {
  out += std::string("<script>\n") + html::kScriptJs + "</script>\n";
}

void render_run_header(std::string& out, const Run& run) {
  const json& ob = *run.ob;
  const json& context = member(*run.doc, "context");
  const json& git = member(ob, "git");
  const json& build = member(ob, "build");
  auto item = [&](const char* name, const std::string& html) {
    out += std::string("<dt>") + name + "</dt><dd>" + html + "</dd>\n";
  };
  auto or_none = [](const std::string& s) {
    return s.empty() ? std::string("<span class=\"muted\">none</span>") : esc(s);
  };

  out += "<div class=\"runcard\">\n<h3>" + esc(run.label) + "</h3>\n<dl>\n";
  std::string tool = str(ob, "tool", "opbench");
  std::string version = str(ob, "tool_version");
  item("tool", esc(tool + (version.empty() ? "" : " " + version)));
  item("mode", run.timed ? "run (checked and timed)" : "check (agreement only)");
  std::string commit = str(git, "commit");
  std::string commit_html = commit.empty() ? "<span class=\"muted\">unknown</span>"
                                           : "<code title=\"" + esc(commit) + "\">" +
                                                 esc(commit.substr(0, 12)) + "</code>";
  if (git.is_object() && git.contains("dirty")) {
    commit_html += boolean(git, "dirty") ? " <span class=\"badge dirty\">dirty</span>"
                                         : " <span class=\"badge clean\">clean</span>";
  }
  item("commit", commit_html);
  item("date", or_none(str(context, "date")));
  std::string machine = str(context, "host_name");
  double cpus = number(context, "num_cpus"), mhz = number(context, "mhz_per_cpu");
  if (std::isfinite(cpus)) machine += (machine.empty() ? "" : ", ") + format_count(cpus) + " CPUs";
  if (std::isfinite(mhz)) machine += " @ " + format_count(mhz) + " MHz";
  item("machine", or_none(machine));
  std::string devices;
  const json& dev = member(ob, "devices");
  if (dev.is_array()) {
    for (const json& d : dev) devices += (devices.empty() ? "" : "<br>") + esc(scalar_text(d));
  }
  item("devices", devices.empty() ? "<span class=\"muted\">none recorded</span>" : devices);
  double threads = number(ob, "threads");
  item("threads", std::isfinite(threads) ? esc(format_count(threads)) : "-");
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
                        " · FAISS " + or_none(str(build, "faiss")));
  std::string command = str(ob, "command_line");
  if (!command.empty()) item("command", "<code>" + esc(command) + "</code>");
  if (!run.source.empty()) item("report", "<code>" + esc(run.source) + "</code>");
  out += "</dl>\n</div>\n";
}

void render_header(std::string& out, const std::vector<Run>& runs,
                   const std::vector<std::pair<std::string, std::string>>& op_anchors) {
  std::string version = runs.empty() ? "" : str(*runs.front().ob, "tool_version");
  out += "<header>\n<h1>opbench";
  if (!version.empty()) out += " <span class=\"version\">" + esc(version) + "</span>";
  out += "</h1>\n<nav><a href=\"#summary\">summary</a><a href=\"#ceilings\">ceilings</a>";
  for (const auto& [id, name] : op_anchors) out += "<a href=\"#" + id + "\">" + esc(name) + "</a>";
  out += "</nav>\n";
  out += "<h2 id=\"runs\">" + std::string(runs.size() > 1 ? "runs" : "run") + "</h2>\n";
  out += "<div class=\"runs\">\n";
  for (const Run& run : runs) {
    if (run.shown) render_run_header(out, run);
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
  out += "</header>\n";
}

void render_tile(std::string& out, int n, const char* label, const char* cls) {
  out += std::string("<div class=\"tile ") + cls + "\"><div class=\"n\">" + std::to_string(n) +
         "</div><div class=\"l\">" + label + "</div></div>";
}

void render_summary(std::string& out, const std::vector<Run>& runs, const std::vector<Row>& rows) {
  const bool several = several_runs(runs);
  const bool machines = several_machines(runs);
  Counts total;
  std::vector<Counts> per_run(runs.size());
  for (const Row& r : rows) {
    total.add(r.status);
    per_run[r.run].add(r.status);
  }
  out += "<section id=\"summary\">\n<h2>summary</h2>\n<div class=\"tiles\">";
  render_tile(out, total.cases, "cases", "");
  render_tile(out, total.passed, "passed", total.passed > 0 ? "good" : "");
  render_tile(out, total.failed, "failed agreement", total.failed > 0 ? "bad" : "");
  render_tile(out, total.errors, "errors", total.errors > 0 ? "bad" : "");
  render_tile(out, total.skipped, "skipped", "");
  out += "</div>\n";
  if (total.references > 0 || total.unchecked > 0) {
    out += "<p class=\"muted\">" + std::to_string(total.references) + " reference case" +
           (total.references == 1 ? "" : "s") +
           " (the float64 baseline, not checked against itself)";
    if (total.unchecked > 0) out += ", " + std::to_string(total.unchecked) + " not checked";
    out += ".</p>\n";
  }

  if (several) {
    open_table(out, {{"run", false, ""},
                     {"mode", false, ""},
                     {"cases", true, ""},
                     {"passed", true, ""},
                     {"failed", true, "failed agreement"},
                     {"errors", true, ""},
                     {"skipped", true, ""}});
    for (std::size_t i = 0; i < runs.size(); ++i) {
      if (!runs[i].shown) continue;
      const Counts& c = per_run[i];
      add_row(
          out,
          {text_cell(runs[i].label, "runcol"), text_cell(runs[i].timed ? "run" : "check"),
           num_cell(std::to_string(c.cases), c.cases), num_cell(std::to_string(c.passed), c.passed),
           num_cell(std::to_string(c.failed), c.failed, c.failed > 0 ? "warn" : ""),
           num_cell(std::to_string(c.errors), c.errors, c.errors > 0 ? "warn" : ""),
           num_cell(std::to_string(c.skipped), c.skipped)},
          c.failed + c.errors > 0 ? "fail" : "");
    }
    close_table(out);
  }

  // The failing cases: agreement failures with their first mismatch, and errors.
  std::vector<const Row*> problems, skipped;
  for (const Row& r : rows) {
    if (r.status == Status::kFailed || r.status == Status::kError) problems.push_back(&r);
    if (r.status == Status::kSkipped) skipped.push_back(&r);
  }
  if (!problems.empty()) {
    out += "<h3>failing cases</h3>\n";
    std::vector<Column> cols;
    if (several) cols.push_back({"run", false, ""});
    if (machines) cols.push_back({"machine", false, "where the run ran"});
    cols.insert(cols.end(), {{"case", false, ""},
                             {"agreement", true, "", true},
                             {"max_rel", true, "largest relative error"},
                             {"first mismatch / error", false, ""}});
    open_table(out, cols);
    for (const Row* r : problems) {
      const json& c = *r->c;
      const json& a = member(c, "agreement");
      std::vector<Cell> cells;
      if (several) cells.push_back(text_cell(runs[r->run].label, "runcol"));
      if (machines) cells.push_back(text_cell(runs[r->run].data.info.machine, "runcol"));
      cells.push_back(text_cell(str(c, "name"), "mono"));
      if (r->status == Status::kError) {
        cells.push_back({"<span class=\"badge bad\">ERROR</span>", "agree", true, 4, ""});
        cells.push_back(num_cell("-", NAN));
        cells.push_back(text_cell(str(c, "error"), "agree"));
      } else {
        double rel = number(a, "max_rel_err");
        cells.push_back({"<span class=\"badge bad\">FAIL</span> " +
                             esc(format_count(number(a, "mismatches")) + "/" +
                                 format_count(number(a, "elements"))),
                         "", true, number(a, "mismatches"), ""});
        cells.push_back(num_cell(std::isfinite(rel) ? printf_string("%.3g", rel) : "nan", rel));
        std::string first = str(a, "first_mismatch");
        cells.push_back(text_cell(first.empty() ? "-" : first, "mono"));
      }
      add_row(out, cells, row_class(r->status));
    }
    close_table(out);
  } else if (!rows.empty()) {
    out +=
        "<p><span class=\"badge good\">ok</span> every checked implementation agrees with the "
        "reference.</p>\n";
  }
  if (!skipped.empty()) {
    out += "<details><summary>" + std::to_string(skipped.size()) + " skipped case" +
           (skipped.size() == 1 ? "" : "s") + "</summary>\n<ul class=\"log\">\n";
    for (const Row* r : skipped) {
      out += "<li>" + (several ? esc(runs[r->run].label) + ": " : std::string()) + "<code>" +
             esc(str(*r->c, "name")) +
             "</code>: " + esc(str(*r->c, "error").substr(std::string("skipped: ").size())) +
             "</li>\n";
    }
    out += "</ul>\n</details>\n";
  }

  // Notes in the spirit of nvbench's log: noisy timings and ceilings that are understated.
  std::vector<std::string> notes;
  for (const Row& r : rows) {
    std::string who = (several ? runs[r.run].label + ": " : std::string()) + str(*r.c, "name");
    if (r.noise_percent > kNoiseWarnPercent) {
      notes.push_back(esc(who + ": noise " + printf_string("%.1f", r.noise_percent) + "% is over " +
                          printf_string("%.0f", kNoiseWarnPercent) + "%"));
    }
    double fraction = ceiling_fraction_of(r);
    if (fraction > 1.0) {
      notes.push_back(esc(who + ": " + printf_string("%.2f", fraction) +
                          " of the measured ceiling; the ceiling is understated, not the kernel "
                          "magic"));
    }
  }
  if (!notes.empty()) {
    out += "<h3>notes</h3>\n<ul class=\"log\">\n";
    for (const std::string& n : notes) out += "<li>" + n + "</li>\n";
    out += "</ul>\n";
  }
  out += "</section>\n";
}

void render_ceilings(std::string& out, const std::vector<Run>& runs) {
  const bool several = several_runs(runs);
  const bool machines = several_machines(runs);
  out += "<section id=\"ceilings\">\n<h2>ceilings</h2>\n";
  std::vector<Column> cols;
  if (several) cols.push_back({"run", false, ""});
  if (machines) cols.push_back({"machine", false, "where the run ran"});
  cols.insert(cols.end(), {{"backend", false, ""},
                           {"kind", false, "copy: bytes read + written; sgemm: a large SGEMM"},
                           {"size", true, ""},
                           {"time", true, "median time of one execution"},
                           {"GB/s", true, ""},
                           {"GFLOP/s", true, ""}});
  bool any = false;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (!runs[i].shown) continue;
    const json& ceilings = member(*runs[i].ob, "ceilings");
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
      if (several) cells.push_back(text_cell(runs[i].label, "runcol"));
      if (machines) cells.push_back(text_cell(runs[i].data.info.machine, "runcol"));
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

// The rows of one op in display order: parameter points in order of appearance; within a point
// the reference first, then implementations in order of appearance, each run after the other.
std::vector<const Row*> op_rows_in_order(const std::vector<const Row*>& members) {
  std::vector<std::string> points, impls;
  for (const Row* r : members) {
    if (std::find(points.begin(), points.end(), r->point) == points.end())
      points.push_back(r->point);
    if (std::find(impls.begin(), impls.end(), r->impl) == impls.end()) impls.push_back(r->impl);
  }
  auto index = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) - v.begin();
  };
  std::vector<const Row*> sorted = members;
  std::stable_sort(sorted.begin(), sorted.end(), [&](const Row* a, const Row* b) {
    auto pa = index(points, a->point), pb = index(points, b->point);
    if (pa != pb) return pa < pb;
    if (a->is_reference != b->is_reference) return a->is_reference;
    auto ia = index(impls, a->impl), ib = index(impls, b->impl);
    if (ia != ib) return ia < ib;
    return a->run < b->run;
  });
  return sorted;
}

void render_timed_table(std::string& out, const std::vector<Run>& runs,
                        const std::vector<const Row*>& rows) {
  const bool several = several_runs(runs);
  const bool machines = several_machines(runs);
  std::vector<Column> cols;
  if (several) cols.push_back({"run", false, "the report file"});
  if (machines) cols.push_back({"machine", false, "where the run ran"});
  cols.insert(cols.end(),
              {{"impl", false, ""},
               {"dtype", false, ""},
               {"params", false, ""},
               {"time", true, "median over repetitions where there are several"},
               {"noise", true, "coefficient of variation over repetitions"},
               {"GB/s", true, "compulsory bytes over time"},
               {"GFLOP/s", true, ""},
               {"ceiling", true, "fraction of the machine's ceiling measured in the same run"},
               {"vs cpu.plain", true, "speedup over cpu.plain (same run and point)"},
               {"max_rel", true, "largest relative error against the float64 reference"},
               {"agreement", true, "against the float64 reference", true}});
  open_table(out, cols);
  const std::string* last_point = nullptr;
  for (const Row* r : rows) {
    const json& c = *r->c;
    std::vector<Cell> cells;
    if (several) cells.push_back(text_cell(runs[r->run].label, "runcol"));
    if (machines) cells.push_back(text_cell(runs[r->run].data.info.machine, "runcol"));
    cells.push_back(text_cell(r->impl, "impl"));
    cells.push_back(text_cell(str(c, "dtype")));
    cells.push_back(text_cell(compact_params(c), "params"));
    cells.push_back(num_cell(format_time(r->seconds, "µs"), r->seconds > 0 ? r->seconds : NAN));
    cells.push_back(num_cell(std::isfinite(r->noise_percent)
                                 ? printf_string("%.2f%%", r->noise_percent)
                                 : std::string("-"),
                             r->noise_percent, r->noise_percent > kNoiseWarnPercent ? "warn" : ""));
    const double gbps = r->gbps, gflops = r->gflops;
    cells.push_back(num_cell(significant(gbps), gbps));
    cells.push_back(num_cell(significant(gflops), gflops));
    const double fraction = r->ceiling_fraction;
    Cell ceil = num_cell("", fraction, fraction > 1.0 ? "ceil warn" : "ceil");
    ceil.html = ceiling_bar(fraction) +
                esc(std::isfinite(fraction) ? printf_string("%.1f%%", fraction * 100) : "-");
    cells.push_back(std::move(ceil));
    cells.push_back(speedup_cell(r->plain_seconds, r->seconds));
    double max_rel = boolean(member(c, "agreement"), "checked") && r->status != Status::kError
                         ? number(member(c, "agreement"), "max_rel_err")
                         : NAN;
    cells.push_back(num_cell(
        std::isfinite(max_rel) ? printf_string("%.2g", max_rel) : std::string("-"), max_rel));
    cells.push_back(agreement_cell(*r));
    std::string cls = row_class(r->status);
    if (last_point != nullptr && *last_point != r->point) cls += cls.empty() ? "group" : " group";
    last_point = &r->point;
    add_row(out, cells, cls);
  }
  close_table(out);
}

void render_check_table(std::string& out, const std::vector<Run>& runs,
                        const std::vector<const Row*>& rows) {
  const bool several = several_runs(runs);
  const bool machines = several_machines(runs);
  std::vector<Column> cols;
  if (several) cols.push_back({"run", false, "the report file"});
  if (machines) cols.push_back({"machine", false, "where the run ran"});
  cols.insert(cols.end(), {{"impl", false, ""},
                           {"dtype", false, ""},
                           {"params", false, ""},
                           {"elements", true, "elements compared"},
                           {"max_abs", true, "largest absolute error"},
                           {"max_rel", true, "largest relative error"},
                           {"rel_l2", true, "||out - ref|| / ||ref||"},
                           {"agreement", true, "against the float64 reference", true}});
  open_table(out, cols, "check");
  const std::string* last_point = nullptr;
  for (const Row* r : rows) {
    const json& c = *r->c;
    const json& a = member(c, "agreement");
    bool checked = boolean(a, "checked") && r->status != Status::kError;
    auto err = [&](const char* key) {
      double v = checked ? number(a, key) : NAN;
      return num_cell(std::isfinite(v) ? printf_string("%.3g", v) : std::string("-"), v);
    };
    std::vector<Cell> cells;
    if (several) cells.push_back(text_cell(runs[r->run].label, "runcol"));
    if (machines) cells.push_back(text_cell(runs[r->run].data.info.machine, "runcol"));
    cells.push_back(text_cell(r->impl, "impl"));
    cells.push_back(text_cell(str(c, "dtype")));
    cells.push_back(text_cell(compact_params(c), "params"));
    double elements = checked ? number(a, "elements") : NAN;
    cells.push_back(num_cell(std::isfinite(elements) ? format_count(elements) : "-", elements));
    cells.push_back(err("max_abs_err"));
    cells.push_back(err("max_rel_err"));
    cells.push_back(err("rel_l2_err"));
    cells.push_back(agreement_cell(*r));
    std::string cls = row_class(r->status);
    if (last_point != nullptr && *last_point != r->point) cls += cls.empty() ? "group" : " group";
    last_point = &r->point;
    add_row(out, cells, cls);
  }
  close_table(out);
}

// The ops in order of first appearance, each with its anchor id.
std::vector<std::pair<std::string, std::string>> op_anchors(const std::vector<Row>& rows) {
  std::vector<std::pair<std::string, std::string>> out;
  std::set<std::string> seen;
  for (const Row& r : rows) {
    if (seen.insert(r.op).second) out.emplace_back(anchor("op", out.size(), r.op), r.op);
  }
  return out;
}

// One section per suite/op: the timed rows in one table, rows of check-only runs in an agreement
// table (both when runs of either kind are given together).

// ---------------------------------------------------------------------------------------------
// Charts and the comparison with a baseline.

// Every implementation of the page in order of appearance: its index is its colour on every chart.
std::vector<std::string> impl_series(const std::vector<Run>& runs) {
  std::vector<std::string> out;
  for (const Run& r : runs) {
    for (const CaseData& c : r.data.cases) {
      if (std::find(out.begin(), out.end(), c.impl) == out.end()) out.push_back(c.impl);
    }
  }
  return out;
}

std::size_t series_of(const std::vector<std::string>& series, const std::string& impl) {
  return std::find(series.begin(), series.end(), impl) - series.begin();
}

// Speedup bars over cpu.plain, one chart per shown timed run of the op, a group per point.
void render_speedup_charts(std::string& out, const std::vector<Run>& runs,
                           const std::vector<const Row*>& rows,
                           const std::vector<std::string>& series) {
  const bool several = several_runs(runs);
  for (std::size_t i = 0; i < runs.size(); ++i) {
    std::vector<charts::BarGroup> groups;
    for (const Row* r : op_rows_in_order(rows)) {
      if (r->run != i || r->impl == "cpu.plain" || !(r->seconds > 0) || !(r->plain_seconds > 0))
        continue;
      if (groups.empty() || groups.back().label != r->point) groups.push_back({r->point, {}});
      groups.back().bars.push_back(
          {r->impl, r->plain_seconds / r->seconds, series_of(series, r->impl)});
    }
    if (groups.empty()) continue;
    out += "<figure class=\"chart\"><figcaption>speedup over cpu.plain" +
           (several ? " · " + esc(runs[i].label) : std::string()) + "</figcaption>" +
           charts::speedup_bars(groups, "cpu.plain") + "</figure>\n";
  }
}

// A trend line per case over the timed runs of each machine that has two or more.
void render_trends(std::string& out, const std::vector<Run>& runs, const std::string& op) {
  std::map<std::string, std::vector<const Run*>> by_machine;
  std::vector<std::string> machine_order;
  for (const Run& r : runs) {
    if (!r.timed) continue;
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
        if (c.suite + "/" + c.op != op || !(c.median > 0)) continue;
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
  cols.insert(cols.end(), {{"impl", false, ""},
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
    add_row(out, cells);
  }
  close_table(out);
}

// The roofline of each shown timed run and backend: every case's arithmetic intensity against
// its achieved GFLOP/s, under the copy and SGEMM ceilings measured in the same run.
void render_roofline(std::string& out, const std::vector<Run>& runs,
                     const std::vector<std::string>& series) {
  const bool several = several_runs(runs);
  std::string body;
  for (const Run& r : runs) {
    if (!r.shown || !r.timed) continue;
    std::vector<std::string> backends;
    for (const CaseData& c : r.data.cases) {
      std::string b = c.backend == "ref" || c.backend.empty() ? "cpu" : c.backend;
      if (std::find(backends.begin(), backends.end(), b) == backends.end()) backends.push_back(b);
    }
    for (const std::string& backend : backends) {
      charts::Roofline plot;
      plot.title = (several ? r.label + " · " : std::string()) + backend;
      plot.legend = series;
      const json& ceilings = member(*r.ob, "ceilings");
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
        std::string b = c.backend == "ref" || c.backend.empty() ? "cpu" : c.backend;
        if (b != backend || !(c.median > 0) || !(c.flops > 0) || !(c.bytes > 0)) continue;
        double gflops = c.flops / c.median / 1e9;
        plot.points.push_back({c.flops / c.bytes, gflops, series_of(series, c.impl),
                               c.name + ": " + significant(gflops) + " GFLOP/s, " +
                                   significant(c.bytes / c.median / 1e9) + " GB/s"});
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

// The worst regressions of the newest run of the baseline's machine against the baseline.
void render_regressions(std::string& out, const std::vector<Run>& runs, int baseline) {
  if (baseline < 0 || static_cast<std::size_t>(baseline) >= runs.size()) return;
  const Run& base = runs[baseline];
  const Run* newest = nullptr;
  for (const Run& r : runs) {
    if (&r == &base || r.data.info.machine_id != base.data.info.machine_id) continue;
    if (newest == nullptr || !(r.epoch < newest->epoch)) newest = &r;
  }
  if (newest == nullptr) {
    for (const Run& r : runs) {
      if (&r != &base) newest = &r;
    }
  }
  out += "<section id=\"regressions\">\n<h2>against the baseline</h2>\n";
  if (newest == nullptr) {
    out += "<p class=\"muted\">Only the baseline was given: nothing to compare.</p>\n</section>\n";
    return;
  }
  Comparison cmp = compare_runs(base.data, newest->data, CompareOptions{});
  out += "<p><b>" + esc(newest->label) + "</b> against the baseline <b>" + esc(base.label) +
         "</b> (" + esc(base.data.info.commit.substr(0, 12)) +
         "): a change counts when it is beyond 5% and significant (Mann-Whitney U, alpha "
         "0.05).</p>\n";
  for (const std::string& w : cmp.warnings) {
    out += "<p class=\"warnline\">warning: " + esc(w) + "</p>\n";
  }
  out += "<div class=\"tiles\">";
  render_tile(out, cmp.slower, "slower", cmp.slower > 0 ? "bad" : "");
  render_tile(out, cmp.agreement_regressions, "agreement regressions",
              cmp.agreement_regressions > 0 ? "bad" : "");
  render_tile(out, cmp.faster, "faster", cmp.faster > 0 ? "good" : "");
  render_tile(out, cmp.unchanged, "unchanged", "");
  if (cmp.inconclusive > 0) render_tile(out, cmp.inconclusive, "inconclusive", "");
  out += "</div>\n";
  std::vector<const CaseComparison*> worst;
  for (const CaseComparison& c : cmp.cases) {
    if (c.verdict == Verdict::kSlower || !c.agreement_regression.empty()) worst.push_back(&c);
  }
  std::stable_sort(worst.begin(), worst.end(),
                   [](const CaseComparison* a, const CaseComparison* b) {
                     double x = std::isfinite(a->change) ? a->change : 0,
                            y = std::isfinite(b->change) ? b->change : 0;
                     return x > y;
                   });
  if (worst.size() > 10) worst.resize(10);
  if (worst.empty()) {
    out += "<p><span class=\"badge good\">ok</span> no case got slower or less accurate.</p>\n";
  } else {
    out += "<h3>worst regressions</h3>\n";
    open_table(out, {{"case", false, ""},
                     {"baseline", true, "median time in the baseline"},
                     {"now", true, "median time now"},
                     {"change", true, ""},
                     {"p-value", true, "two-sided Mann-Whitney U over the repetitions"},
                     {"q-value", true,
                      "the p-value adjusted over all compared cases (Benjamini-Hochberg)"},
                     {"verdict", false, ""},
                     {"agreement", false, ""}});
    for (const CaseComparison* c : worst) {
      add_row(out,
              {text_cell(c->now->name, "mono"),
               num_cell(format_time(c->base->median, "µs"), c->base->median),
               num_cell(format_time(c->now->median, "µs"), c->now->median),
               num_cell(std::isfinite(c->change) ? printf_string("%+.1f%%", c->change * 100) : "-",
                        c->change, c->verdict == Verdict::kSlower ? "slow" : ""),
               num_cell(c->utest.method == stats::UMethod::kNone
                            ? std::string("-")
                            : printf_string("%.4f", c->utest.p_value),
                        c->utest.p_value),
               num_cell(std::isfinite(c->q_value) ? printf_string("%.4f", c->q_value) : "-",
                        c->q_value),
               text_cell(verdict_name(c->verdict)),
               text_cell(c->agreement_regression.empty() ? "-" : c->agreement_regression)},
              "fail");
    }
    close_table(out);
  }
  out += "</section>\n";
}

void render_op_tables(std::string& out, const std::vector<Run>& runs, const std::vector<Row>& rows,
                      const std::vector<std::pair<std::string, std::string>>& anchors,
                      const std::vector<std::string>& series) {
  for (const auto& [id, op] : anchors) {
    std::vector<const Row*> timed, checked;
    for (const Row& r : rows) {
      if (r.op != op) continue;
      (runs[r.run].timed ? timed : checked).push_back(&r);
    }
    std::string suite = op.substr(0, op.find('/'));
    std::string name = op.substr(op.find('/') + 1);
    out += "<section class=\"op\">\n<h2 id=\"" + id + "\"><span class=\"muted\">" + esc(suite) +
           " /</span> " + esc(name) + "</h2>\n";
    if (!timed.empty()) {
      if (!checked.empty()) out += "<h3>timings</h3>\n";
      render_timed_table(out, runs, op_rows_in_order(timed));
      std::string figures;
      render_speedup_charts(figures, runs, timed, series);
      if (!figures.empty()) out += "<div class=\"charts\">\n" + figures + "</div>\n";
    }
    render_trends(out, runs, op);
    if (!checked.empty()) {
      if (!timed.empty()) out += "<h3>agreement check</h3>\n";
      render_check_table(out, runs, op_rows_in_order(checked));
    }
    out += "</section>\n";
  }
  if (anchors.empty()) out += "<p class=\"muted\">The reports hold no cases.</p>\n";
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  const std::string replacement = "\xEF\xBF\xBD";  // U+FFFD
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    unsigned char ch = s[i];
    if (ch < 0x80) {
      switch (ch) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&#39;";
          break;
        case '\t':
        case '\n':
          out += static_cast<char>(ch);
          break;
        default:
          if (ch < 0x20 || ch == 0x7f) {
            out += replacement;
          } else {
            out += static_cast<char>(ch);
          }
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: copied when well formed (no overlongs, no surrogates, <= U+10FFFF).
    std::size_t len = ch >= 0xC2 && ch <= 0xDF   ? 2
                      : ch >= 0xE0 && ch <= 0xEF ? 3
                      : ch >= 0xF0 && ch <= 0xF4 ? 4
                                                 : 0;
    bool ok = len > 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) ok = (s[i + k] & 0xC0) == 0x80;
    if (ok && len == 3) {
      ok = !(ch == 0xE0 && s[i + 1] < 0xA0) && !(ch == 0xED && s[i + 1] >= 0xA0);
    }
    if (ok && len == 4) {
      ok = !(ch == 0xF0 && s[i + 1] < 0x90) && !(ch == 0xF4 && s[i + 1] >= 0x90);
    }
    if (ok) {
      out.append(text, i, len);
      i += len;
    } else {
      out += replacement;
      ++i;
    }
  }
  return out;
}

std::string render_html(const std::vector<json>& reports, const std::vector<std::string>& sources) {
  return render_html(reports, sources, HtmlOptions{});
}

std::string render_html(const std::vector<json>& reports, const std::vector<std::string>& sources,
                        const HtmlOptions& options) {
  std::vector<Run> runs = make_runs(reports, sources);
  if (options.latest_only) {
    // The newest run of each machine (the later one given when dates tie or are unknown).
    std::map<std::string, std::size_t> newest;
    for (std::size_t i = 0; i < runs.size(); ++i) {
      auto [it, fresh] = newest.emplace(runs[i].data.info.machine_id, i);
      if (!fresh && !(runs[i].epoch < runs[it->second].epoch)) it->second = i;
    }
    for (std::size_t i = 0; i < runs.size(); ++i) {
      runs[i].shown = newest[runs[i].data.info.machine_id] == i;
    }
  }
  std::vector<Row> rows;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].shown) collect_rows(runs[i], i, rows);
  }
  const std::vector<std::string> series = impl_series(runs);
  std::vector<std::pair<std::string, std::string>> anchors = op_anchors(rows);

  std::string title = "opbench report";
  for (std::size_t i = 0; i < runs.size() && i < 3; ++i) title += (i ? ", " : ": ") + runs[i].label;
  if (runs.size() > 3) title += ", ...";

  std::string out;
  out.reserve(64 * 1024);
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>" + esc(title) + "</title>\n";
  render_style(out);
  out += "</head>\n<body>\n";
  render_header(out, runs, anchors);
  out += "<main>\n";
  render_summary(out, runs, rows);
  render_regressions(out, runs, options.baseline);
  render_ceilings(out, runs);
  render_roofline(out, runs, series);
  render_op_tables(out, runs, rows, anchors, series);
  out += "</main>\n<footer>Generated by opbench from " + std::to_string(runs.size()) + " report" +
         (runs.size() == 1 ? "" : "s") +
         ". Self-contained: no network access, no external assets. Click a column header to "
         "sort.</footer>\n";
  render_script(out);
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace opbench::reports
