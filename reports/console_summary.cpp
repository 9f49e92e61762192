#include "reports/console_summary.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "reports/json_report.hpp"
#include "reports/report_view.hpp"

namespace opbench::reports {

using nlohmann::json;
using namespace view;

namespace {

// A table whose columns are padded to the widest cell; numbers right-aligned. Colour codes are
// added after padding so they never shift a column.
class Table {
 public:
  struct Cell {
    std::string text;
    const char* color = nullptr;  // ANSI code or nullptr
  };

  Table(std::vector<std::string> header, std::vector<bool> right)
      : header_(std::move(header)), right_(std::move(right)) {}

  void add(std::vector<Cell> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }

  void print(std::ostream& out, bool color) const {
    std::vector<std::size_t> width(header_.size());
    for (std::size_t c = 0; c < header_.size(); ++c) width[c] = header_[c].size();
    for (const auto& row : rows_) {
      for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) {
        width[c] = std::max(width[c], row[c].text.size());
      }
    }
    auto line = [&](const std::vector<Cell>& cells) {
      out << "|";
      for (std::size_t c = 0; c < width.size(); ++c) {
        Cell cell = c < cells.size() ? cells[c] : Cell{};
        std::string pad(width[c] - std::min(width[c], cell.text.size()), ' ');
        std::string text =
            color && cell.color ? std::string(cell.color) + cell.text + "\x1b[0m" : cell.text;
        out << " " << (right_[c] ? pad + text : text + pad) << " |";
      }
      out << "\n";
    };
    std::vector<Cell> head;
    for (const auto& h : header_) head.push_back({h});
    line(head);
    out << "|";
    for (std::size_t c = 0; c < width.size(); ++c) {
      out << (right_[c] ? std::string(width[c] + 1, '-') + ":|"
                        : std::string(width[c] + 2, '-') + "|");
    }
    out << "\n";
    for (const auto& row : rows_) line(row);
  }

 private:
  std::vector<std::string> header_;
  std::vector<bool> right_;
  std::vector<std::vector<Cell>> rows_;
};

constexpr const char* kGreen = "\x1b[32m";
constexpr const char* kRed = "\x1b[31m";

// One case with the timing entries Google Benchmark wrote for it.
struct Row {
  const json* c = nullptr;  // the entry of opbench.cases
  std::vector<const json*> iterations;
  std::map<std::string, const json*> aggregates;
  const json* timing = nullptr;  // the entry whose time is shown
  double seconds = 0;
  double noise_percent = NAN;
};

// " (3 ties, sample 16/1024 tokens)": what an agreement verdict rests on, when it is not every
// element decided by the reference.
std::string agreement_basis(const json& a, const json* sample) {
  std::vector<std::string> parts;
  const double ties = number(a, "ties");
  if (std::isfinite(ties) && ties > 0) {
    parts.push_back(std::to_string(static_cast<long long>(ties)) + (ties == 1 ? " tie" : " ties"));
  }
  if (sample != nullptr && sample->is_object()) {
    parts.push_back("sample " + std::to_string(static_cast<long long>(number(*sample, "count"))) +
                    "/" + std::to_string(static_cast<long long>(number(*sample, "of"))) + " " +
                    str(*sample, "axis"));
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? " (" : ", ") + p;
  return out.empty() ? out : out + ")";
}

Table::Cell agreement_cell(const json& c, const json* sample) {
  if (is_skip(str(c, "error"))) return {"skipped"};
  if (!str(c, "error").empty()) return {"ERROR", kRed};
  if (boolean(c, "is_reference")) return {"ref"};
  const json& a = c.contains("agreement") ? c["agreement"] : json();
  if (!boolean(a, "checked")) return {"-"};
  if (boolean(a, "passed")) return {"ok" + agreement_basis(a, sample), kGreen};
  auto count = [&](const char* key) {
    double v = number(a, key);
    return std::isfinite(v) ? std::to_string(static_cast<long long>(v)) : std::string("?");
  };
  double rel = number(a, "max_rel_err");
  return {"FAIL " + count("mismatches") + "/" + count("elements") +
              " max_rel=" + (std::isfinite(rel) ? printf_string("%.3g", rel) : "nan") +
              agreement_basis(a, sample),
          kRed};
}

void print_ceilings(const json& ob, std::ostream& out) {
  out << "## devices\n\n";
  if (ob.contains("devices") && ob["devices"].is_array() && !ob["devices"].empty()) {
    for (const json& d : ob["devices"])
      out << "- " << (d.is_string() ? d.get<std::string>() : d.dump()) << "\n";
  } else {
    out << "- (none recorded)\n";
  }
  out << "\n";
  if (!ob.contains("ceilings") || !ob["ceilings"].is_array() || ob["ceilings"].empty()) return;
  Table t({"backend", "ceiling", "size", "rate"}, {false, false, true, true});
  for (const json& c : ob["ceilings"]) {
    std::string kind = str(c, "kind");
    double seconds = number(c, "seconds");
    if (kind == "sgemm") {
      double flops = number(c, "flops");
      t.add({{str(c, "backend")},
             {kind},
             {format_scaled(flops, "FLOP", false)},
             {seconds > 0 ? significant(flops / seconds / 1e9) + " GFLOP/s" : "-"}});
    } else {
      double bytes = number(c, "bytes");
      t.add({{str(c, "backend")},
             {kind},
             {format_scaled(bytes, "B", true)},
             {seconds > 0 ? significant(bytes / seconds / 1e9) + " GB/s" : "-"}});
    }
  }
  out << "## ceilings\n\n";
  t.print(out, false);
  out << "\n";
}

}  // namespace

void print_summary(const json& report, std::ostream& out, bool color) {
  static const json kEmpty = json::object();
  const json& ob =
      report.contains("opbench") && report["opbench"].is_object() ? report["opbench"] : kEmpty;
  const bool timed = !ob.contains("timed") || boolean(ob, "timed");

  out << "# opbench " << (timed ? "run" : "check");
  if (ob.contains("threads") && ob["threads"].is_number()) {
    out << " (" << ob["threads"].dump() << " threads)";
  }
  out << "\n\n";
  print_ceilings(ob, out);

  // The cases, and the timing entries of each (matched by run_name, as build_report did).
  std::vector<Row> rows;
  std::map<std::string, std::size_t> by_name;
  if (ob.contains("cases") && ob["cases"].is_array()) {
    for (const json& c : ob["cases"]) {
      if (!c.is_object()) continue;
      by_name.emplace(str(c, "name"), rows.size());
      Row row;
      row.c = &c;
      rows.push_back(std::move(row));
    }
  }
  if (report.contains("benchmarks") && report["benchmarks"].is_array()) {
    for (const json& e : report["benchmarks"]) {
      std::string run_name = str(e, "run_name", str(e, "name"));
      for (const std::string& candidate : case_name_candidates(run_name)) {
        auto it = by_name.find(candidate);
        if (it == by_name.end()) continue;
        Row& r = rows[it->second];
        if (str(e, "run_type") == "aggregate") {
          r.aggregates[str(e, "aggregate_name")] = &e;
        } else {
          r.iterations.push_back(&e);
        }
        break;
      }
    }
  }
  for (Row& r : rows) {
    if (auto it = r.aggregates.find("median"); it != r.aggregates.end()) {
      r.timing = it->second;
    } else if (!r.iterations.empty()) {
      // The median repetition (the lower one of an even count), so its rates match its time.
      std::vector<const json*> sorted = r.iterations;
      std::sort(sorted.begin(), sorted.end(),
                [](const json* a, const json* b) { return entry_seconds(*a) < entry_seconds(*b); });
      r.timing = sorted[(sorted.size() - 1) / 2];
    } else if (auto mean = r.aggregates.find("mean"); mean != r.aggregates.end()) {
      r.timing = mean->second;
    }
    if (r.timing != nullptr) r.seconds = entry_seconds(*r.timing);
    if (auto cv = r.aggregates.find("cv"); cv != r.aggregates.end()) {
      r.noise_percent = number(*cv->second, "real_time") * 100;  // GB writes cv as a fraction
    }
  }

  // Tables per suite/op in order of appearance; rows grouped by parameter point, the reference
  // first within a point.
  std::vector<std::string> op_order;
  std::map<std::string, std::vector<std::string>> point_order;  // op -> points
  std::map<std::string, std::vector<std::size_t>> point_rows;   // op + point -> rows
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const json& c = *rows[i].c;
    std::string op = str(c, "suite") + "/" + str(c, "op");
    std::string point = str(c, "dataset");
    if (point.empty()) point = str(c, "dtype") + " " + compact_params(c);
    if (!point_order.count(op)) op_order.push_back(op);
    auto& points = point_order[op];
    if (std::find(points.begin(), points.end(), point) == points.end()) points.push_back(point);
    point_rows[op + "\n" + point].push_back(i);
  }

  std::vector<std::string> log;
  int passed = 0, failed = 0, errors = 0, skipped = 0;
  for (const Row& r : rows) {
    const json& c = *r.c;
    const json& a = c.contains("agreement") ? c["agreement"] : kEmpty;
    std::string name = str(c, "name");
    if (is_skip(str(c, "error"))) {
      ++skipped;
      log.push_back(name + ": " + str(c, "error"));
    } else if (!str(c, "error").empty()) {
      ++errors;
      log.push_back(name + ": error: " + str(c, "error"));
    } else if (boolean(a, "checked")) {
      if (boolean(a, "passed")) {
        ++passed;
      } else {
        ++failed;
        std::string first = str(a, "first_mismatch");
        log.push_back(name + ": agreement FAIL" +
                      (first.empty() ? "" : ": first mismatch " + first));
      }
    }
    if (timed && r.noise_percent > kNoiseWarnPercent) {
      log.push_back(name + ": noise " + printf_string("%.1f", r.noise_percent) + "% is over " +
                    printf_string("%.0f", kNoiseWarnPercent) + "%");
    }
    double fraction = r.timing ? number(*r.timing, "ceiling_fraction") : NAN;
    if (timed && fraction > 1.0) {
      log.push_back(name + ": " + printf_string("%.2f", fraction) +
                    " of the measured ceiling; the ceiling is understated, not the kernel magic");
    }
  }

  for (const std::string& op : op_order) {
    out << "## " << op << "\n\n";
    Table t = timed ? Table({"impl", "dtype", "params", "time", "noise", "GB/s", "GFLOP/s",
                             "ceiling", "vs ref", "vs plain", "agreement"},
                            {false, false, false, true, true, true, true, true, true, true, false})
                    : Table({"impl", "dtype", "params", "elements", "max_abs", "max_rel", "rel_l2",
                             "agreement"},
                            {false, false, false, true, true, true, true, false});
    for (const std::string& point : point_order[op]) {
      std::vector<std::size_t> members = point_rows[op + "\n" + point];
      std::stable_partition(members.begin(), members.end(), [&](std::size_t i) {
        return str(*rows[i].c, "impl") == "ref" || boolean(*rows[i].c, "is_reference");
      });
      auto seconds_of = [&](const char* impl) {
        for (std::size_t i : members) {
          if (str(*rows[i].c, "impl") == impl) return rows[i].seconds;
        }
        return 0.0;
      };
      double ref_s = seconds_of("ref"), plain_s = seconds_of("cpu.plain");
      for (std::size_t i : members) {
        const Row& r = rows[i];
        const json& c = *r.c;
        std::vector<Table::Cell> cells = {{str(c, "impl")}, {str(c, "dtype")}, {compact_params(c)}};
        if (timed) {
          const json& e = r.timing ? *r.timing : kEmpty;
          auto speedup = [&](double base) {
            return base > 0 && r.seconds > 0 ? printf_string("%.2fx", base / r.seconds)
                                             : std::string("-");
          };
          double fraction = number(e, "ceiling_fraction");
          cells.push_back({format_time(r.seconds)});
          cells.push_back({std::isfinite(r.noise_percent) ? printf_string("%.2f%%", r.noise_percent)
                                                          : std::string("-")});
          cells.push_back({significant(number(e, "gbps"))});
          cells.push_back({significant(number(e, "gflops"))});
          cells.push_back({std::isfinite(fraction) ? printf_string("%.1f%%", fraction * 100)
                                                   : std::string("-")});
          cells.push_back({speedup(ref_s)});
          cells.push_back({speedup(plain_s)});
        } else {
          const json& a = c.contains("agreement") ? c["agreement"] : kEmpty;
          bool checked = boolean(a, "checked");
          auto err = [&](const char* key) {
            double v = number(a, key);
            return checked && std::isfinite(v) ? printf_string("%.3g", v) : std::string("-");
          };
          double elements = number(a, "elements");
          cells.push_back({checked && std::isfinite(elements)
                               ? std::to_string(static_cast<long long>(elements))
                               : std::string("-")});
          cells.push_back({err("max_abs_err")});
          cells.push_back({err("max_rel_err")});
          cells.push_back({err("rel_l2_err")});
        }
        const json* sample = nullptr;
        if (ob.contains("datasets") && ob["datasets"].is_object()) {
          auto d = ob["datasets"].find(str(c, "dataset"));
          if (d != ob["datasets"].end() && d->is_object() && d->contains("sample")) {
            sample = &(*d)["sample"];
          }
        }
        cells.push_back(agreement_cell(c, sample));
        t.add(std::move(cells));
      }
    }
    t.print(out, color);
    out << "\n";
  }

  if (!log.empty()) {
    out << "## log\n\n";
    for (const std::string& line : log) out << "- " << line << "\n";
    out << "\n";
  }
  out << rows.size() << " cases, " << passed << " passed, " << failed << " failed agreement, "
      << errors << " errors";
  if (skipped > 0) out << ", " << skipped << " skipped (listed in the log)";
  out << "\n";
}

}  // namespace opbench::reports
