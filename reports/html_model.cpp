// The HTML page's view model (html_model.hpp).
#include "reports/html_model.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "reports/html_markup.hpp"

namespace opbench::reports::html {

using nlohmann::json;

namespace {

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

// The rows of one run, with cpu.plain's time at the same op and point for the speedups.
void collect_rows(const Run& run, std::size_t index, std::vector<Row>& rows) {
  const std::size_t first = rows.size();
  std::map<std::string, double> plain;
  for (const CaseData& c : run.data.cases) {
    Row row;
    row.run = index;
    row.c = &c;
    row.op = c.suite + "/" + c.op;
    row.point = c.dtype + " " + c.params;
    if (c.impl == "cpu.plain" && c.timed) plain[row.op + "\n" + row.point] = c.median;
    rows.push_back(std::move(row));
  }
  for (std::size_t i = first; i < rows.size(); ++i) {
    if (auto it = plain.find(rows[i].op + "\n" + rows[i].point); it != plain.end()) {
      rows[i].plain_seconds = it->second;
    }
  }
}

}  // namespace

double Row::speedup() const {
  if (c == nullptr || c->is_reference || !c->timed || !(c->median > 0) || !(plain_seconds > 0)) {
    return NAN;
  }
  return plain_seconds / c->median;
}

Page build_page(const std::vector<json>& reports, const std::vector<std::string>& sources,
                const HtmlOptions& options) {
  Page page;
  const std::vector<std::string> labels = run_labels(sources, reports.size());
  page.runs.reserve(reports.size());
  for (std::size_t i = 0; i < reports.size(); ++i) {
    Run r;
    r.doc = &reports[i];
    r.label = labels[i];
    r.source = i < sources.size() ? sources[i] : "";
    r.data = extract_run(reports[i], r.source);
    r.log = summarize_run(r.data);
    r.epoch = parse_date(r.data.info.date);
    page.runs.push_back(std::move(r));
  }
  std::vector<Run>& runs = page.runs;
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
  std::set<std::string> machines;
  int shown = 0;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (!runs[i].shown) continue;
    ++shown;
    machines.insert(runs[i].data.info.machine_id);
    collect_rows(runs[i], i, page.rows);
  }
  page.several_runs = shown > 1;
  page.several_machines = machines.size() > 1;
  page.baseline = options.baseline >= 0 && static_cast<std::size_t>(options.baseline) < runs.size()
                      ? options.baseline
                      : -1;
  std::set<std::string> seen;
  for (const Row& r : page.rows) {
    if (seen.insert(r.op).second) page.ops.emplace_back(anchor("op", page.ops.size(), r.op), r.op);
  }
  for (const Run& r : runs) {
    for (const CaseData& c : r.data.cases) {
      if (std::find(page.series.begin(), page.series.end(), c.impl) == page.series.end()) {
        page.series.push_back(c.impl);
      }
    }
  }
  return page;
}

std::vector<const Row*> rows_in_order(const std::vector<const Row*>& members) {
  std::vector<std::string> points, impls;
  for (const Row* r : members) {
    if (std::find(points.begin(), points.end(), r->point) == points.end()) {
      points.push_back(r->point);
    }
    if (std::find(impls.begin(), impls.end(), r->c->impl) == impls.end()) {
      impls.push_back(r->c->impl);
    }
  }
  auto index = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) - v.begin();
  };
  std::vector<const Row*> sorted = members;
  std::stable_sort(sorted.begin(), sorted.end(), [&](const Row* a, const Row* b) {
    auto pa = index(points, a->point), pb = index(points, b->point);
    if (pa != pb) return pa < pb;
    if (a->c->is_reference != b->c->is_reference) return a->c->is_reference;
    auto ia = index(impls, a->c->impl), ib = index(impls, b->c->impl);
    if (ia != ib) return ia < ib;
    return a->run < b->run;
  });
  return sorted;
}

std::size_t series_of(const std::vector<std::string>& series, const std::string& impl) {
  return std::find(series.begin(), series.end(), impl) - series.begin();
}

}  // namespace opbench::reports::html
