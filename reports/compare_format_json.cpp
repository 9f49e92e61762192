// The JSON format of `opbench compare`: the comparison of two runs, or one run's implementations
// side by side, as documents for scripts (numbers that are not finite are null).
#include "reports/compare_format_json.hpp"

#include <cmath>
#include <ostream>

#include "reports/report_model.hpp"

namespace opbench::reports {

using nlohmann::json;

namespace {

json num(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

json run_json(const RunInfo& r) {
  return {{"file", r.source},
          {"commit", r.commit},
          {"dirty", r.dirty},
          {"date", r.date},
          {"machine", r.machine},
          {"machine_id", r.machine_id},
          {"tool_version", r.tool_version},
          {"build", r.build},
          {"threads", r.threads},
          {"timed", r.timed}};
}

json case_json(const CaseData& c) {
  return {{"name", c.name},
          {"suite", c.suite},
          {"op", c.op},
          {"impl", c.impl},
          {"dtype", c.dtype},
          {"params", c.params},
          {"median_seconds", c.median > 0 ? json(c.median) : json(nullptr)},
          {"repetitions", c.times.size()},
          {"cv", num(c.cv)},
          {"agreement", agreement_text(c)}};
}

class JsonFormatter : public CompareFormatter {
 public:
  bool shows_warnings() const override { return false; }
  void write(const Comparison& cmp, std::ostream& out) const override {
    out << comparison_json(cmp).dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  }
  void write(const SideBySide& s, std::ostream& out) const override {
    json groups = json::array();
    for (const SideBySideGroup& g : s.groups) {
      json rows = json::array();
      for (const SideBySideRow& r : g.rows) {
        json row = case_json(*r.c);
        row["gbps"] = num(r.c->gbps);
        row["gflops"] = num(r.c->gflops);
        row["ceiling_fraction"] = num(r.c->ceiling_fraction);
        row["speedup"] = num(r.speedup);
        row["is_baseline"] = r.is_baseline;
        rows.push_back(std::move(row));
      }
      groups.push_back({{"op", g.op},
                        {"point", g.point},
                        {"has_baseline", g.has_baseline},
                        {"implementations", std::move(rows)}});
    }
    json doc = {{"run", run_json(s.run)},
                {"baseline_impl", s.baseline_impl},
                {"warnings", s.warnings},
                {"groups", std::move(groups)}};
    out << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  }
};

}  // namespace

std::unique_ptr<CompareFormatter> make_json_compare_formatter() {
  return std::make_unique<JsonFormatter>();
}

json comparison_json(const Comparison& cmp) {
  json cases = json::array();
  for (const CaseComparison& c : cmp.cases) {
    json j = case_json(*c.now);
    j.erase("median_seconds");
    j.erase("repetitions");
    j.erase("cv");
    j.erase("agreement");
    j["base"] = case_json(*c.base);
    j["new"] = case_json(*c.now);
    j["ratio"] = num(c.ratio);
    j["change"] = num(c.change);
    j["cpu_ratio"] = num(c.cpu_ratio);
    j["u_test"] = {
        {"method", stats::method_name(c.utest.method)},
        {"u", c.utest.method == stats::UMethod::kNone ? json(nullptr) : json(c.utest.u)},
        {"p_value", c.utest.method == stats::UMethod::kNone ? json(nullptr) : num(c.utest.p_value)},
        {"q_value", num(c.q_value)}};
    j["verdict"] = verdict_name(c.verdict);
    j["detectable_change"] = num(c.detectable);
    j["agreement_regression"] =
        c.agreement_regression.empty() ? json(nullptr) : json(c.agreement_regression);
    cases.push_back(std::move(j));
  }
  json only_base = json::array(), only_new = json::array();
  for (const CaseData* c : cmp.only_base) only_base.push_back(c->name);
  for (const CaseData* c : cmp.only_new) only_new.push_back(c->name);
  return {{"base", run_json(cmp.base)},
          {"new", run_json(cmp.now)},
          {"settings",
           {{"threshold", cmp.options.threshold},
            {"alpha", cmp.options.alpha},
            {"fdr", cmp.options.fdr},
            {"error_growth", cmp.options.error_growth},
            {"time", cmp.options.cpu_time ? "cpu" : "real"}}},
          {"warnings", cmp.warnings},
          {"notes", cmp.notes},
          {"summary",
           {{"cases", cmp.cases.size()},
            {"slower", cmp.slower},
            {"faster", cmp.faster},
            {"unchanged", cmp.unchanged},
            {"inconclusive", cmp.inconclusive},
            {"not_timed", cmp.not_timed},
            {"agreement_regressions", cmp.agreement_regressions},
            {"only_in_base", cmp.only_base.size()},
            {"only_in_new", cmp.only_new.size()}}},
          {"regressed", cmp.regressed()},
          {"cases", std::move(cases)},
          {"only_in_base", std::move(only_base)},
          {"only_in_new", std::move(only_new)}};
}

}  // namespace opbench::reports
