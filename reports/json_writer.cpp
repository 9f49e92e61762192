#include "reports/json_writer.hpp"

#include <charconv>
#include <cmath>
#include <string_view>

#include "harness/case_codec.hpp"
#include "harness/descriptive_stats.hpp"

namespace opbench::reports {

using nlohmann::json;

namespace {

// A finite double, or null: NaN and Inf have no JSON spelling.
json num(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

// "4096" -> 4096, "-3" -> -3; anything else (including "007", "1e3", "2^12") stays text.
json param_value(const std::string& s) {
  std::string_view digits = s;
  if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
  bool canonical = !digits.empty() && (digits.size() == 1 || digits.front() != '0');
  for (char c : digits) canonical = canonical && c >= '0' && c <= '9';
  if (canonical) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size() && s != "-0") return v;
  }
  return s;
}

json params_json(const Params& p) {
  json out = json::object();
  for (const auto& [k, v] : p.items()) out[k] = param_value(v);
  return out;
}

json agreement_json(const Agreement& a) {
  json j = {{"status", status_name(a.status)},
            {"checked", a.checked},
            {"err_ratio", a.checked ? num(a.err_ratio) : json(nullptr)},
            {"max_abs_err", num(a.max_abs_err)},
            {"max_rel_err", num(a.max_rel_err)},
            {"rel_l2_err", num(a.rel_l2_err)},
            {"mismatches", a.mismatches},
            {"elements", a.elements},
            {"first_mismatch", a.first_mismatch},
            {"ties", a.ties}};
  if (!a.known_failure.empty()) j["known_failure"] = a.known_failure;
  if (a.changed_during_timing) j["changed_during_timing"] = true;
  if (a.plain_max_abs_err >= 0) {
    j["plain_max_abs_err"] = num(a.plain_max_abs_err);
    if (a.plain_max_abs_err > 0) j["err_vs_plain"] = num(a.max_abs_err / a.plain_max_abs_err);
  }
  return j;
}

// The rows a sampled agreement checked (null: all of them).
json sample_json(const DatasetRecord& d) {
  if (d.sample_axis.empty()) return nullptr;
  return {{"axis", d.sample_axis},
          {"count", d.sample_rows.size()},
          {"of", d.sample_of},
          {"seed", d.sample_seed},
          {"rows", d.sample_rows}};
}

json rates_json(const Rates& r) {
  return {{"gbps", num(r.gbps)},
          {"gflops", num(r.gflops)},
          {"ceiling_fraction", num(r.ceiling_fraction)}};
}

// The fields a case adds to each of its benchmark entries and to opbench.cases.
void add_case_fields(json& out, const CaseRecord& c) {
  out["suite"] = c.suite;
  out["op"] = c.op;
  out["impl"] = c.impl;
  out["backend"] = c.backend;
  out["dtype"] = c.dtype;
  out["params"] = params_json(c.params);
  out["dataset"] = c.dataset;
  out["cost"] = {{"flops", num(c.cost.flops)}, {"bytes", num(c.cost.bytes)}};
  out["agreement"] = agreement_json(c.agreement);
  out["is_reference"] = c.is_reference;
  if (!c.error.empty()) out["error"] = c.error;
}

// The time of a case: the representative seconds (the median of its repetitions) and the
// repetitions themselves, so every reader takes the same time by the same rule.
json time_json(const Timing& t) {
  if (!t.timed()) return nullptr;
  return {{"seconds", num(t.seconds())},
          {"statistic", "median"},
          {"clock", t.clock},
          {"mode", t.mode},
          {"repetitions", t.repetitions.size()},
          {"samples", t.samples()},
          {"cpu_samples", t.cpu_samples()},
          {"cv", num(t.cv())}};
}

json ceiling_json(const Ceiling& c) {
  return {{"backend", c.backend},
          {"kind", c.kind},
          {"bytes", num(c.bytes)},
          {"flops", num(c.flops)},
          {"seconds", c.seconds() > 0 ? num(c.seconds()) : json(nullptr)},
          {"statistic", "median"},
          {"samples", c.timing.samples()},
          {"gbps", c.gbps() > 0 ? num(c.gbps()) : json(nullptr)},
          {"gflops", c.gflops() > 0 ? num(c.gflops()) : json(nullptr)}};
}

json tensor_json(const TensorRecord& t) {
  return codec::to_json(t);  // the worker protocol's form (harness/case_codec.hpp)
}

// A Google Benchmark entry of case `index`: the fields its JSON reporter writes, then ours.
json entry(const CaseRecord& c, std::size_t index, const std::string& run_name) {
  json e = {{"name", run_name},
            {"family_index", index},
            {"per_family_instance_index", 0},
            {"run_name", run_name},
            {"run_type", "iteration"},
            {"repetitions", c.timing.repetitions.size()},
            {"threads", 1}};
  return e;
}

// Rates of one entry's time (a repetition, or the mean or median of the repetitions); null for
// an entry without a time (an error, a spread).
void add_entry_rates(json& e, const CaseRecord& c, double seconds) {
  const bool timed = seconds > 0;
  e["gbps"] = timed && c.cost.bytes > 0 ? num(c.cost.bytes / seconds / 1e9) : json(nullptr);
  e["gflops"] = timed && c.cost.flops > 0 ? num(c.cost.flops / seconds / 1e9) : json(nullptr);
  // The roofline time is fixed by the ceilings, so the fraction scales inversely with the time.
  const double base = c.timing.seconds();
  e["ceiling_fraction"] =
      timed && base > 0 ? num(c.rates.ceiling_fraction * base / seconds) : json(nullptr);
}

// The entries of a timed case: each repetition (unless aggregates only), then for two or more
// the mean, median, stddev and cv aggregates, as Google Benchmark writes them.
void add_entries(json& benchmarks, const CaseRecord& c, std::size_t index, bool aggregates_only) {
  const std::string run_name = c.name + "/" + c.timing.clock;
  if (!c.timing.timed()) {
    if (c.error.empty() || c.error.rfind("skipped: ", 0) == 0) return;
    json e = entry(c, index, run_name);
    e["repetitions"] = 1;
    e["repetition_index"] = 0;
    e["iterations"] = 0;
    e["real_time"] = 0.0;
    e["cpu_time"] = 0.0;
    e["time_unit"] = "ns";
    e["error_occurred"] = true;
    e["error_message"] = c.error;
    add_case_fields(e, c);
    add_entry_rates(e, c, 0);
    benchmarks.push_back(std::move(e));
    return;
  }
  const std::size_t n = c.timing.repetitions.size();
  if (!aggregates_only || n < 2) {
    for (std::size_t i = 0; i < n; ++i) {
      const Repetition& r = c.timing.repetitions[i];
      json e = entry(c, index, run_name);
      e["repetition_index"] = i;
      e["iterations"] = r.iterations;
      e["real_time"] = r.seconds * 1e9;
      e["cpu_time"] = r.cpu_seconds * 1e9;
      e["time_unit"] = "ns";
      for (const auto& [k, v] : r.counters) e[k] = num(v);
      add_case_fields(e, c);
      add_entry_rates(e, c, r.seconds);
      benchmarks.push_back(std::move(e));
    }
  }
  if (n < 2) return;
  const std::vector<double> real = c.timing.samples(), cpu = c.timing.cpu_samples();
  struct Aggregate {
    const char* name;
    const char* unit;  // "time" (written in ns) or "percentage" (a fraction)
    double real, cpu;  // seconds, or the fraction
    bool rates;        // a time of one execution, with rates (mean, median)
  };
  const double mean_real = stats::mean(real), mean_cpu = stats::mean(cpu);
  const double sd_real = stats::stddev(real), sd_cpu = stats::stddev(cpu);
  // cv is a fraction (Google Benchmark's "percentage" unit holds 0.05 for 5%).
  const Aggregate aggregates[] = {{"mean", "time", mean_real, mean_cpu, true},
                                  {"median", "time", stats::median(real), stats::median(cpu), true},
                                  {"stddev", "time", sd_real, sd_cpu, false},
                                  {"cv", "percentage", mean_real > 0 ? sd_real / mean_real : 0,
                                   mean_cpu > 0 ? sd_cpu / mean_cpu : 0, false}};
  for (const Aggregate& a : aggregates) {
    json e = entry(c, index, run_name);
    e["name"] = run_name + "_" + a.name;
    e["run_type"] = "aggregate";
    e["aggregate_name"] = a.name;
    e["aggregate_unit"] = a.unit;
    e["iterations"] = n;  // Google Benchmark puts the repetition count here
    const double scale = std::string_view(a.unit) == "time" ? 1e9 : 1;
    e["real_time"] = a.real * scale;
    e["cpu_time"] = a.cpu * scale;
    e["time_unit"] = "ns";
    add_case_fields(e, c);
    add_entry_rates(e, c, a.rates ? a.real : 0);
    benchmarks.push_back(std::move(e));
  }
}

}  // namespace

json build_report(const RunResult& run) {
  json doc = json::object();
  doc["context"] = run.context.is_object() ? run.context : json::object();
  json benchmarks = json::array();
  for (std::size_t i = 0; i < run.cases.size(); ++i) {
    add_entries(benchmarks, run.cases[i], i, run.aggregates_only);
  }
  doc["benchmarks"] = std::move(benchmarks);

  json ob = json::object();
  ob["schema_version"] = kSchemaVersion;
  ob["tool"] = "opbench";
  ob["tool_version"] = run.build.tool_version;
  ob["git"] = {{"commit", run.build.git_commit}, {"dirty", run.build.git_dirty}};
  ob["build"] = {{"compiler", run.build.compiler},
                 {"cxx_flags", run.build.cxx_flags},
                 {"build_type", run.build.build_type},
                 {"native", run.build.native},
                 {"blas", run.build.blas},
                 {"cuda", run.build.cuda},
                 {"onednn", run.build.onednn},
                 {"faiss", run.build.faiss},
                 {"torch", run.build.torch}};
  ob["devices"] = run.devices;
  ob["threads"] = run.threads;
  ob["timed"] = run.timed;
  ob["interleaved"] = run.interleaved;
  ob["command_line"] = run.command_line;
  if (run.settings.is_object()) ob["run"] = run.settings;
  ob["workers"] = run.workers;
  if (!run.incomplete.empty()) {
    std::size_t finished = 0;
    for (const CaseRecord& c : run.cases) finished += c.error.rfind("skipped: ", 0) != 0;
    ob["incomplete"] = {{"reason", run.incomplete},
                        {"planned", run.planned},
                        {"recorded", run.cases.size()},
                        {"finished", finished}};
  }
  json ceilings = json::array();
  for (const Ceiling& c : run.ceilings) ceilings.push_back(ceiling_json(c));
  ob["ceilings"] = std::move(ceilings);
  json datasets = json::object();
  for (const DatasetRecord& d : run.datasets) {
    json tensors = json::array();
    for (const TensorRecord& t : d.tensors) tensors.push_back(tensor_json(t));
    datasets[d.key] = {{"tensors", std::move(tensors)}, {"sample", sample_json(d)}};
  }
  ob["datasets"] = std::move(datasets);
  json cases = json::array();
  for (const CaseRecord& c : run.cases) {
    json cj = {{"name", c.name}};
    add_case_fields(cj, c);
    cj["time"] = time_json(c.timing);
    cj["rates"] = rates_json(c.rates);
    cases.push_back(std::move(cj));
  }
  ob["cases"] = std::move(cases);
  if (!run.plan.fingerprint.empty()) {  // which plan, and which shard of it (opbench merge)
    ob["plan"] = {{"fingerprint", run.plan.fingerprint},
                  {"planned", run.plan.planned},
                  {"shard", run.plan.shard},
                  {"positions", run.plan.positions}};
  }
  doc["opbench"] = std::move(ob);
  return doc;
}

}  // namespace opbench::reports
