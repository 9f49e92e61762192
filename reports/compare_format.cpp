#include "reports/compare_format.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "harness/errors.hpp"
#include "reports/compare_format_json.hpp"
#include "reports/report_view.hpp"
#include "reports/text_table.hpp"

namespace opbench::reports {

using nlohmann::json;
using namespace view;

namespace {

std::string percent(double change) {
  return std::isfinite(change) ? printf_string("%+.1f%%", change * 100) : std::string("-");
}

std::string p_text(const stats::UTest& t) {
  return t.method == stats::UMethod::kNone ? std::string("-") : printf_string("%.4f", t.p_value);
}

std::string q_text(double q) {
  return std::isfinite(q) ? printf_string("%.4f", q) : std::string("-");
}

std::string reps_text(const CaseComparison& c) {
  return std::to_string(c.base->times.size()) + "/" + std::to_string(c.now->times.size());
}

const char* verdict_color(Verdict v) {
  switch (v) {
    case Verdict::kSlower:
      return kRed;
    case Verdict::kFaster:
      return kGreen;
    case Verdict::kInconclusive:
      return kYellow;
    default:
      return nullptr;
  }
}

// The agreement of one case in a word or two.
Cell agreement_cell(const CaseData& c) {
  switch (agreement_tone(c)) {
    case Tone::good:
      return {agreement_text(c), kGreen};
    case Tone::warn:
      return {agreement_text(c), kYellow};
    case Tone::bad:
      return {agreement_text(c), kRed};
    case Tone::plain:
      break;
  }
  return {agreement_text(c)};
}

std::string run_line(const RunInfo& r) {
  std::string s = r.source;
  std::string commit = r.commit.empty() ? "unknown commit" : "commit " + r.commit.substr(0, 12);
  if (r.dirty) commit += " (dirty)";
  s += ": " + commit + ", " + (r.date.empty() ? "no date" : r.date) + ", " + r.machine;
  return s;
}

std::string summary_line(const Comparison& cmp) {
  std::string s = std::to_string(cmp.cases.size()) +
                  " cases compared: " + std::to_string(cmp.slower) + " slower, " +
                  std::to_string(cmp.faster) + " faster, " + std::to_string(cmp.unchanged) +
                  " unchanged";
  if (cmp.inconclusive) {
    s += ", " + std::to_string(cmp.inconclusive) +
         " inconclusive (beyond the threshold, not significant)";
  }
  if (cmp.not_timed) s += ", " + std::to_string(cmp.not_timed) + " not timed";
  s += "; " + std::to_string(cmp.agreement_regressions) + " agreement regression" +
       (cmp.agreement_regressions == 1 ? "" : "s");
  s += "; " + std::to_string(cmp.only_base.size()) + " only in base, " +
       std::to_string(cmp.only_new.size()) + " only in new";
  s += " (threshold " + printf_string("%g", cmp.options.threshold * 100) + "%, alpha " +
       printf_string("%g", cmp.options.alpha) +
       (cmp.options.fdr ? " on q-values adjusted over " + std::to_string(cmp.tested) + " tests"
                        : " on each p-value") +
       (cmp.options.cpu_time ? ", cpu time" : "") + ")";
  return s;
}

// The ops in order of appearance and the comparisons of each.
std::vector<std::pair<std::string, std::vector<const CaseComparison*>>> by_op(
    const Comparison& cmp) {
  std::vector<std::pair<std::string, std::vector<const CaseComparison*>>> out;
  std::map<std::string, std::size_t> index;
  for (const CaseComparison& c : cmp.cases) {
    std::string op = c.now->suite + "/" + c.now->op;
    if (!index.count(op)) {
      index[op] = out.size();
      out.push_back({op, {}});
    }
    out[index[op]].second.push_back(&c);
  }
  return out;
}

// The verdict, and for an inconclusive one the smallest change the data could have detected.
std::string verdict_text(const CaseComparison& c) {
  std::string s = verdict_name(c.verdict);
  if (c.verdict == Verdict::kInconclusive) {
    s += std::isfinite(c.detectable) ? " (detectable: " + std::string(c.change > 0 ? "+" : "-") +
                                           printf_string("%.1f%%", c.detectable * 100) + ")"
                                     : " (too few repetitions to detect any change)";
  }
  return s;
}

std::vector<Cell> comparison_cells(const CaseComparison& c, bool with_op) {
  std::vector<Cell> cells;
  if (with_op) cells.push_back({c.now->suite + "/" + c.now->op});
  cells.push_back({c.now->impl});
  cells.push_back({c.now->dtype + " " + c.now->params});
  cells.push_back({format_time(c.base->median)});
  cells.push_back({format_time(c.now->median)});
  cells.push_back({percent(c.change), verdict_color(c.verdict)});
  cells.push_back({p_text(c.utest)});
  cells.push_back({q_text(c.q_value)});
  cells.push_back({reps_text(c)});
  cells.push_back({verdict_text(c), verdict_color(c.verdict)});
  if (!c.agreement_regression.empty()) {
    cells.push_back({"REGRESSED: " + c.agreement_regression, kRed});
  } else {
    cells.push_back(agreement_cell(*c.now));
  }
  return cells;
}

Table comparison_table(bool with_op) {
  std::vector<std::string> head = {"impl",    "point",   "base", "new",     "change",
                                   "p-value", "q-value", "reps", "verdict", "agreement"};
  std::vector<bool> right = {false, false, true, true, true, true, true, true, false, false};
  if (with_op) {
    head.insert(head.begin(), "op");
    right.insert(right.begin(), false);
  }
  return Table(head, right);
}

Table side_by_side_table(const SideBySide& s) {
  return Table(
      {"impl", "time", "noise", "GB/s", "GFLOP/s", "ceiling", "agreement", "vs " + s.baseline_impl},
      {false, true, true, true, true, true, false, true});
}

std::vector<Cell> side_by_side_cells(const SideBySideRow& r) {
  const CaseData& c = *r.c;
  return {{c.impl + (r.is_baseline ? " (baseline)" : "")},
          {format_time(c.median)},
          {std::isfinite(c.cv) ? printf_string("%.1f%%", c.cv * 100) : std::string("-")},
          {significant(c.gbps)},
          {significant(c.gflops)},
          {std::isfinite(c.ceiling_fraction) ? printf_string("%.1f%%", c.ceiling_fraction * 100)
                                             : std::string("-")},
          agreement_cell(c),
          {std::isfinite(r.speedup) ? printf_string("%.2fx", r.speedup) : std::string("-"),
           r.speedup > 1.05   ? kGreen
           : r.speedup < 0.95 ? kRed
                              : nullptr}};
}

// ---------------------------------------------------------------------------------------------
// The terminal: aligned columns, colour only when asked.

class TerminalFormatter : public CompareFormatter {
 public:
  explicit TerminalFormatter(bool color) : color_(color) {}
  bool shows_warnings() const override { return true; }

  void write(const Comparison& cmp, std::ostream& out) const override {
    out << "base  " << run_line(cmp.base) << "\n";
    out << "new   " << run_line(cmp.now) << "\n";
    warnings(cmp.warnings, out);
    for (const auto& [op, rows] : by_op(cmp)) {
      out << "\n" << op << "\n";
      Table t = comparison_table(false);
      for (const CaseComparison* c : rows) t.add(comparison_cells(*c, false));
      t.print(out, false, color_, "  ");
    }
    list("only in base " + cmp.base.source, cmp.only_base, out);
    list("only in new " + cmp.now.source, cmp.only_new, out);
    if (!cmp.notes.empty()) {
      out << "\nnotes:\n";
      for (const std::string& n : cmp.notes) out << "  - " << n << "\n";
    }
    out << "\n" << summary_line(cmp) << "\n";
    if (cmp.regressed()) {
      out << paint("REGRESSION: " + std::to_string(cmp.slower) + " slower, " +
                       std::to_string(cmp.agreement_regressions) + " agreement",
                   kRed)
          << "\n";
    }
  }

  void write(const SideBySide& s, std::ostream& out) const override {
    out << "run   " << run_line(s.run) << "\n";
    out << "speedups over " << s.baseline_impl << " at the same point\n";
    warnings(s.warnings, out);
    std::string last_op;
    for (const SideBySideGroup& g : s.groups) {
      if (g.op != last_op) out << "\n" << g.op << "\n";
      last_op = g.op;
      out << "  " << g.point
          << (g.has_baseline ? "" : "  (no " + s.baseline_impl + " time at this point)") << "\n";
      Table t = side_by_side_table(s);
      for (const SideBySideRow& r : g.rows) t.add(side_by_side_cells(r));
      t.print(out, false, color_, "    ");
    }
  }

 private:
  std::string paint(const std::string& s, const char* c) const {
    return color_ ? std::string(c) + s + "\x1b[0m" : s;
  }
  void warnings(const std::vector<std::string>& w, std::ostream& out) const {
    for (const std::string& line : w) out << paint("WARNING: " + line, kBoldYellow) << "\n";
  }
  void list(const std::string& title, const std::vector<const CaseData*>& cases,
            std::ostream& out) const {
    if (cases.empty()) return;
    out << "\n" << title << " (" << cases.size() << "):\n";
    for (const CaseData* c : cases) out << "  - " << c->name << "\n";
  }
  bool color_;
};

// ---------------------------------------------------------------------------------------------
// Markdown, for pull-request comments: the regressions first, everything in a <details> block.

class MarkdownFormatter : public CompareFormatter {
 public:
  bool shows_warnings() const override { return true; }

  void write(const Comparison& cmp, std::ostream& out) const override {
    out << "## opbench compare\n\n";
    out << "- **base** " << code(cmp.base.source) << ": " << run_details(cmp.base) << "\n";
    out << "- **new** " << code(cmp.now.source) << ": " << run_details(cmp.now) << "\n\n";
    for (const std::string& w : cmp.warnings) out << "> **Warning:** " << w << "\n\n";
    out << (cmp.regressed() ? "**Regression.** " : "") << summary_line(cmp) << "\n\n";
    std::vector<const CaseComparison*> worse, better;
    for (const CaseComparison& c : cmp.cases) {
      if (c.verdict == Verdict::kSlower || !c.agreement_regression.empty()) worse.push_back(&c);
      if (c.verdict == Verdict::kFaster) better.push_back(&c);
    }
    std::stable_sort(worse.begin(), worse.end(), [](auto* a, auto* b) {
      return (std::isfinite(a->change) ? a->change : 0) >
             (std::isfinite(b->change) ? b->change : 0);
    });
    section("Regressions", worse, out);
    section("Improvements", better, out);
    out << "<details><summary>All " << cmp.cases.size() << " cases</summary>\n\n";
    Table t = comparison_table(true);
    for (const CaseComparison& c : cmp.cases) t.add(comparison_cells(c, true));
    t.print(out, true, false);
    out << "\n</details>\n";
    for (auto [title, list] :
         {std::pair{"Only in base", &cmp.only_base}, std::pair{"Only in new", &cmp.only_new}}) {
      if (list->empty()) continue;
      out << "\n### " << title << "\n\n";
      for (const CaseData* c : *list) out << "- " << code(c->name) << "\n";
    }
    if (!cmp.notes.empty()) {
      out << "\n### Notes\n\n";
      for (const std::string& n : cmp.notes) out << "- " << n << "\n";
    }
  }

  void write(const SideBySide& s, std::ostream& out) const override {
    out << "## opbench: implementations side by side\n\n";
    out << "- **run** " << code(s.run.source) << ": " << run_details(s.run) << "\n";
    out << "- speedups over " << code(s.baseline_impl) << " at the same point\n\n";
    for (const std::string& w : s.warnings) out << "> **Warning:** " << w << "\n\n";
    std::string last_op;
    for (const SideBySideGroup& g : s.groups) {
      if (g.op != last_op) out << "### " << g.op << "\n\n";
      last_op = g.op;
      out << "**" << g.point << "**\n\n";
      Table t = side_by_side_table(s);
      for (const SideBySideRow& r : g.rows) t.add(side_by_side_cells(r));
      t.print(out, true, false);
      out << "\n";
    }
  }

 private:
  static std::string code(const std::string& s) { return "`" + s + "`"; }
  static std::string run_details(const RunInfo& r) {
    return (r.commit.empty() ? std::string("unknown commit")
                             : "commit " + code(r.commit.substr(0, 12))) +
           (r.dirty ? " (dirty)" : "") + ", " + (r.date.empty() ? "no date" : r.date) + ", " +
           r.machine;
  }
  static void section(const char* title, const std::vector<const CaseComparison*>& rows,
                      std::ostream& out) {
    if (rows.empty()) return;
    out << "### " << title << "\n\n";
    Table t = comparison_table(true);
    for (const CaseComparison* c : rows) t.add(comparison_cells(*c, true));
    t.print(out, true, false);
    out << "\n";
  }
};

// ---------------------------------------------------------------------------------------------
// CSV: one row per case (RFC 4180 quoting).

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

std::string csv_num(double v) {
  return std::isfinite(v) ? printf_string("%.9g", v) : std::string();
}

class CsvFormatter : public CompareFormatter {
 public:
  bool shows_warnings() const override { return false; }

  void write(const Comparison& cmp, std::ostream& out) const override {
    out << "name,suite,op,impl,dtype,params,base_seconds,new_seconds,ratio,change,p_value,q_value,"
           "test,"
           "base_repetitions,new_repetitions,verdict,detectable_change,agreement_regression\n";
    for (const CaseComparison& c : cmp.cases) {
      out << fields(*c.now) << "," << csv_num(c.base->median > 0 ? c.base->median : NAN) << ","
          << csv_num(c.now->median > 0 ? c.now->median : NAN) << "," << csv_num(c.ratio) << ","
          << csv_num(c.change) << ","
          << (c.utest.method == stats::UMethod::kNone ? "" : csv_num(c.utest.p_value)) << ","
          << csv_num(c.q_value) << "," << stats::method_name(c.utest.method) << ","
          << c.base->times.size() << "," << c.now->times.size() << ","
          << csv_field(verdict_name(c.verdict)) << "," << csv_num(c.detectable) << ","
          << csv_field(c.agreement_regression) << "\n";
    }
    for (const CaseData* c : cmp.only_base) {
      out << fields(*c) << "," << csv_num(c->median > 0 ? c->median : NAN) << ",,,,,,none,"
          << c->times.size() << ",0,only in base,,\n";
    }
    for (const CaseData* c : cmp.only_new) {
      out << fields(*c) << ",," << csv_num(c->median > 0 ? c->median : NAN) << ",,,,,none,0,"
          << c->times.size() << ",only in new,,\n";
    }
  }

  void write(const SideBySide& s, std::ostream& out) const override {
    out << "name,suite,op,impl,dtype,params,seconds,cv,gbps,gflops,ceiling_fraction,agreement,"
           "baseline,speedup\n";
    for (const SideBySideGroup& g : s.groups) {
      for (const SideBySideRow& r : g.rows) {
        const CaseData& c = *r.c;
        out << fields(c) << "," << csv_num(c.median > 0 ? c.median : NAN) << "," << csv_num(c.cv)
            << "," << csv_num(c.gbps) << "," << csv_num(c.gflops) << ","
            << csv_num(c.ceiling_fraction) << "," << csv_field(agreement_cell(c).text) << ","
            << csv_field(s.baseline_impl) << "," << csv_num(r.speedup) << "\n";
      }
    }
  }

 private:
  static std::string fields(const CaseData& c) {
    return csv_field(c.name) + "," + csv_field(c.suite) + "," + csv_field(c.op) + "," +
           csv_field(c.impl) + "," + csv_field(c.dtype) + "," + csv_field(c.params);
  }
};

}  // namespace

CompareFormat parse_compare_format(const std::string& name) {
  if (name == "terminal" || name == "console" || name == "text") return CompareFormat::kTerminal;
  if (name == "markdown" || name == "md") return CompareFormat::kMarkdown;
  if (name == "csv") return CompareFormat::kCsv;
  if (name == "json") return CompareFormat::kJson;
  throw UsageError("--format '" + name +
                   "' is not a format; formats: terminal, markdown, csv, json");
}

std::unique_ptr<CompareFormatter> make_compare_formatter(CompareFormat format, bool color) {
  switch (format) {
    case CompareFormat::kMarkdown:
      return std::make_unique<MarkdownFormatter>();
    case CompareFormat::kCsv:
      return std::make_unique<CsvFormatter>();
    case CompareFormat::kJson:
      return make_json_compare_formatter();
    case CompareFormat::kTerminal:
      break;
  }
  return std::make_unique<TerminalFormatter>(color);
}

}  // namespace opbench::reports
