#include "reports/compare.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include "harness/errors.hpp"
#include "reports/json_report.hpp"
#include "reports/report_view.hpp"

namespace opbench::reports {

using nlohmann::json;
using namespace view;

namespace {

// Agreement errors below this never count as grown: far under float32's resolution (6e-8), so a
// kernel going from an exact 0 to 1e-12 is not a regression.
constexpr double kErrorFloor = 1e-9;

// Google Benchmark's cpu_time of an entry in seconds; 0 when unknown.
double entry_cpu_seconds(const json& e) {
  double t = number(e, "cpu_time") * unit_seconds(str(e, "time_unit", "ns"));
  return std::isfinite(t) && t > 0 && !boolean(e, "error_occurred") ? t : 0;
}

// The CPU model from a device line "cpu: AMD EPYC, 2 threads, ...".
std::string cpu_model(const std::vector<std::string>& devices) {
  for (const std::string& d : devices) {
    if (d.rfind("cpu: ", 0) != 0) continue;
    std::string rest = d.substr(5);
    return rest.substr(0, rest.find(", "));
  }
  return "";
}

std::string slug(const std::string& text) {
  std::string out;
  for (unsigned char ch : text) {
    if (std::isalnum(ch)) {
      out += static_cast<char>(std::tolower(ch));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

RunInfo run_info(const json& doc, const std::string& source) {
  RunInfo info;
  info.source = source;
  const json& context = member(doc, "context");
  const json& ob = member(doc, "opbench");
  info.date = str(context, "date");
  info.host = str(context, "host_name");
  const json& devices = member(ob, "devices");
  if (devices.is_array()) {
    for (const json& d : devices) {
      if (d.is_string()) info.devices.push_back(d.get<std::string>());
    }
  }
  info.cpu = cpu_model(info.devices);
  double cpus = number(context, "num_cpus");
  std::string detail = info.cpu;
  if (std::isfinite(cpus)) {
    detail += (detail.empty() ? "" : ", ") + std::to_string(static_cast<long long>(cpus)) + " CPUs";
  }
  std::string slug_text = info.host + " " + info.cpu;
  if (std::isfinite(cpus)) slug_text += " " + std::to_string(static_cast<long long>(cpus)) + "cpu";
  for (const std::string& d : info.devices) {
    if (d.rfind("cuda", 0) != 0) continue;
    std::string gpu = d.substr(d.find(": ") == std::string::npos ? 0 : d.find(": ") + 2);
    detail += (detail.empty() ? "" : ", ") + gpu;
    slug_text += " " + gpu;
  }
  info.machine = (info.host.empty() ? std::string("unknown host") : info.host) +
                 (detail.empty() ? "" : " (" + detail + ")");
  info.machine_id = slug(slug_text);
  if (info.machine_id.empty()) info.machine_id = "unknown";
  const json& git = member(ob, "git");
  info.commit = str(git, "commit");
  info.dirty = boolean(git, "dirty");
  info.tool_version = str(ob, "tool_version");
  const json& build = member(ob, "build");
  info.build = str(build, "build_type") + ", " + str(build, "compiler") + ", flags '" +
               str(build, "cxx_flags") + "', native " + (boolean(build, "native") ? "on" : "off") +
               ", BLAS " + str(build, "blas");
  double threads = number(ob, "threads");
  info.threads = std::isfinite(threads) ? static_cast<int>(threads) : 0;
  info.timed = !ob.is_object() || !ob.contains("timed") || boolean(ob, "timed");
  return info;
}

void fill_case_fields(CaseData& c, const json& j) {
  c.suite = str(j, "suite");
  c.op = str(j, "op");
  c.impl = str(j, "impl");
  c.backend = str(j, "backend");
  c.dtype = str(j, "dtype");
  c.params = compact_params(j);
  c.is_reference = boolean(j, "is_reference") || c.impl == "ref";
  c.error = str(j, "error");
  const json& cost = member(j, "cost");
  c.flops = number(cost, "flops");
  c.bytes = number(cost, "bytes");
  const json& a = member(j, "agreement");
  c.has_agreement = a.is_object() && !a.empty();
  c.checked = boolean(a, "checked");
  c.passed = boolean(a, "passed");
  c.max_abs_err = number(a, "max_abs_err");
  c.max_rel_err = number(a, "max_rel_err");
  c.rel_l2_err = number(a, "rel_l2_err");
}

// "norm/layernorm/cpu.fast/f32/..." split into its parts when a plain Google Benchmark entry is
// the only source of a case.
void fill_from_name(CaseData& c) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= c.name.size()) {
    std::size_t slash = std::min(c.name.find('/', start), c.name.size());
    parts.push_back(c.name.substr(start, slash - start));
    start = slash + 1;
  }
  if (parts.size() >= 4) {
    c.suite = parts[0];
    c.op = parts[1];
    c.impl = parts[2];
    c.dtype = parts[3];
    for (std::size_t i = 4; i < parts.size(); ++i) {
      std::string p = parts[i];
      if (auto colon = p.find(':'); colon != std::string::npos) p[colon] = '=';
      c.params += (c.params.empty() ? "" : " ") + p;
    }
  } else {
    c.suite = "benchmarks";
    c.op = c.name;
    c.impl = c.name;
  }
}

std::string point_of(const CaseData& c) {
  return c.dtype + " " + c.params;
}

}  // namespace

bool CaseData::skipped() const {
  return is_skip(error);
}

bool CaseData::errored() const {
  return !error.empty() && !skipped();
}

const CaseData* RunData::find(const std::string& name) const {
  for (const CaseData& c : cases) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

RunData extract_run(const json& doc, const std::string& source) {
  RunData run;
  run.info = run_info(doc, source);
  const json& ceilings = member(member(doc, "opbench"), "ceilings");
  if (ceilings.is_array()) {
    for (const json& c : ceilings) {
      double seconds = number(c, "seconds");
      if (!(seconds > 0)) continue;
      run.ceilings[str(c, "backend") + "/" + str(c, "kind") + "/" +
                   printf_string("%.0f", str(c, "kind") == "sgemm" ? number(c, "flops")
                                                                   : number(c, "bytes"))] = seconds;
    }
  }
  std::map<std::string, std::size_t> by_name;
  const json& cases = member(member(doc, "opbench"), "cases");
  if (cases.is_array()) {
    for (const json& j : cases) {
      std::string name = str(j, "name");
      if (!j.is_object() || name.empty() || by_name.count(name)) continue;
      CaseData c;
      c.name = name;
      fill_case_fields(c, j);
      by_name.emplace(name, run.cases.size());
      run.cases.push_back(std::move(c));
    }
  }
  // Timing entries, matched to their case by run_name (as build_report matched them).
  struct Timing {
    std::vector<const json*> iterations;
    std::map<std::string, const json*> aggregates;
  };
  std::map<std::size_t, Timing> timing;
  const json& benchmarks = member(doc, "benchmarks");
  if (run.info.timed && benchmarks.is_array()) {
    for (const json& e : benchmarks) {
      if (!e.is_object()) continue;
      std::string run_name = str(e, "run_name", str(e, "name"));
      if (run_name.empty()) continue;
      std::size_t index = run.cases.size();
      for (const std::string& candidate : case_name_candidates(run_name)) {
        if (auto it = by_name.find(candidate); it != by_name.end()) {
          index = it->second;
          break;
        }
      }
      if (index == run.cases.size()) {
        // An entry of no opbench case (a plain Google Benchmark report): a case of its own.
        CaseData c;
        c.name = run_name;
        if (e.contains("op")) {
          fill_case_fields(c, e);
        } else {
          fill_from_name(c);
        }
        by_name.emplace(run_name, index);
        run.cases.push_back(std::move(c));
      }
      Timing& t = timing[index];
      if (str(e, "run_type") == "aggregate") {
        t.aggregates[str(e, "aggregate_name")] = &e;
      } else {
        t.iterations.push_back(&e);
      }
    }
  }
  for (auto& [index, t] : timing) {
    CaseData& c = run.cases[index];
    const json* rates = nullptr;  // an entry whose rates are scaled to the median
    for (const json* e : t.iterations) {
      double s = entry_seconds(*e);
      if (s <= 0) continue;
      c.times.push_back(s);
      c.cpu.push_back(entry_cpu_seconds(*e));
      if (rates == nullptr) rates = e;
    }
    if (c.times.empty()) {
      // Only aggregates (--benchmark_report_aggregates_only): the median is one sample.
      for (const char* name : {"median", "mean"}) {
        auto it = t.aggregates.find(name);
        if (it == t.aggregates.end() || entry_seconds(*it->second) <= 0) continue;
        c.times.push_back(entry_seconds(*it->second));
        c.cpu.push_back(entry_cpu_seconds(*it->second));
        rates = it->second;
        break;
      }
    }
    if (c.times.empty()) continue;
    c.timed = true;
    c.median = stats::median(c.times);
    c.cv = stats::coefficient_of_variation(c.times);
    if (!std::isfinite(c.cv)) {
      if (auto cv = t.aggregates.find("cv"); cv != t.aggregates.end()) {
        c.cv = number(*cv->second, "real_time");
      }
    }
    if (c.bytes > 0) c.gbps = c.bytes / c.median / 1e9;
    if (c.flops > 0) c.gflops = c.flops / c.median / 1e9;
    if (rates != nullptr) {
      // The fraction of the ceiling is inversely proportional to the time.
      double f = number(*rates, "ceiling_fraction");
      if (std::isfinite(f)) c.ceiling_fraction = f * entry_seconds(*rates) / c.median;
      if (!(c.bytes > 0) && std::isfinite(number(*rates, "gbps"))) {
        c.gbps = number(*rates, "gbps") * entry_seconds(*rates) / c.median;
      }
    }
  }
  return run;
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kUnchanged:
      return "unchanged";
    case Verdict::kFaster:
      return "faster";
    case Verdict::kSlower:
      return "slower";
    case Verdict::kTooFewRepetitions:
      return "too few repetitions";
    case Verdict::kNotTimed:
      break;
  }
  return "not timed";
}

Verdict judge(double change, const stats::UTest& test, const CompareOptions& options,
              double q_value) {
  if (!std::isfinite(change)) return Verdict::kNotTimed;
  if (std::abs(change) <= options.threshold) return Verdict::kUnchanged;
  if (test.method == stats::UMethod::kNone ||
      stats::smallest_p_value(test.n1, test.n2) > options.alpha) {
    return Verdict::kTooFewRepetitions;
  }
  const double p = options.fdr && std::isfinite(q_value) ? q_value : test.p_value;
  if (p >= options.alpha) return Verdict::kUnchanged;  // within the noise
  return change > 0 ? Verdict::kSlower : Verdict::kFaster;
}

namespace {

std::string sci(double v) {
  return printf_string("%.3g", v);
}

// "" or why the agreement of `now` regressed against `base`.
std::string agreement_regression(const CaseData& base, const CaseData& now, double growth) {
  if (!base.errored() && !base.skipped() && now.errored())
    return "ran before, now errors: " + now.error;
  if (!base.has_agreement || !now.has_agreement) return "";
  if (base.checked && base.passed && now.checked && !now.passed) return "passed, now fails";
  if (!base.checked || !now.checked) return "";
  std::string why;
  auto grew = [&](const char* name, double b, double n) {
    if (!std::isfinite(n)) {
      if (std::isfinite(b))
        why += std::string(why.empty() ? "" : "; ") + name + " is now " + sci(n);
      return;
    }
    double was = std::isfinite(b) ? std::max(b, 0.0) : INFINITY;
    if (n > kErrorFloor && n > growth * std::max(was, kErrorFloor)) {
      why += std::string(why.empty() ? "" : "; ") + name + " grew " +
             (was > 0 ? printf_string("%.0fx", n / was) : std::string("from 0")) + " (" + sci(b) +
             " -> " + sci(n) + ")";
    }
  };
  grew("max_rel_err", base.max_rel_err, now.max_rel_err);
  grew("rel_l2_err", base.rel_l2_err, now.rel_l2_err);
  return why;
}

std::string runs_label(const RunInfo& r) {
  return r.source.empty() ? std::string("a run") : r.source;
}

}  // namespace

Comparison compare_runs(const RunData& base, const RunData& now, const CompareOptions& options) {
  Comparison cmp;
  cmp.base = base.info;
  cmp.now = now.info;
  cmp.options = options;

  if (base.info.machine_id != now.info.machine_id) {
    cmp.warnings.push_back("the runs come from different machines (" + base.info.machine + " vs " +
                           now.info.machine +
                           "): their times are not comparable; compare implementations within "
                           "one run instead (opbench compare RUN.json --baseline-impl cpu.plain)");
  }
  if (base.info.build != now.info.build) {
    cmp.warnings.push_back("the runs come from different builds (" + base.info.build + " vs " +
                           now.info.build + ")");
  }
  if (base.info.threads != now.info.threads) {
    cmp.warnings.push_back("the runs used different thread counts (" +
                           std::to_string(base.info.threads) + " vs " +
                           std::to_string(now.info.threads) + ")");
  }
  if (base.info.tool_version != now.info.tool_version) {
    cmp.warnings.push_back("the reports come from different opbench versions (" +
                           (base.info.tool_version.empty() ? "?" : base.info.tool_version) +
                           " vs " + (now.info.tool_version.empty() ? "?" : now.info.tool_version) +
                           ")");
  }
  // The machine itself: its ceilings (same copies, same SGEMM) timed in both runs. When they
  // moved beyond the threshold, the machine was busier or quieter, and time verdicts measure that.
  std::vector<double> moved;
  for (const auto& [key, seconds] : now.ceilings) {
    auto it = base.ceilings.find(key);
    if (it != base.ceilings.end()) moved.push_back(seconds / it->second);
  }
  if (!moved.empty()) {
    double m = stats::median(moved);
    auto [lo, hi] = std::minmax_element(moved.begin(), moved.end());
    if (std::abs(m - 1) > options.threshold) {
      cmp.warnings.push_back(
          "the machine itself was " + std::string(m > 1 ? "slower" : "faster") +
          " in the new run: its ceilings (copy, SGEMM) measured in both runs took " +
          printf_string("%.2f", m) + "x as long (median of " + std::to_string(moved.size()) + ", " +
          printf_string("%.2f", *lo) + "x to " + printf_string("%.2f", *hi) +
          "x): time verdicts measure the machine's load as much as the code; rerun on a quiet "
          "machine");
    }
  }
  for (const RunInfo* r : {&base.info, &now.info}) {
    if (!r->timed && (r == &base.info || base.info.source != now.info.source)) {
      cmp.notes.push_back(runs_label(*r) +
                          " is an agreement check without timings: only "
                          "agreement is compared");
    }
  }

  std::set<std::string> in_now;
  std::size_t fewest = SIZE_MAX;
  for (const CaseData& n : now.cases) {
    in_now.insert(n.name);
    const CaseData* b = base.find(n.name);
    if (b == nullptr) {
      cmp.only_new.push_back(&n);
      continue;
    }
    CaseComparison cc;
    cc.base = b;
    cc.now = &n;
    if (b->timed && n.timed) {
      double bc = stats::median(b->cpu), nc = stats::median(n.cpu);
      if (bc > 0 && nc > 0) cc.cpu_ratio = nc / bc;
      if (options.cpu_time) {
        cc.ratio = cc.cpu_ratio;
        cc.utest = stats::mann_whitney_u(b->cpu, n.cpu);
      } else {
        cc.ratio = n.median / b->median;
        cc.utest = stats::mann_whitney_u(b->times, n.times);
      }
      cc.change = cc.ratio - 1;
      fewest = std::min({fewest, b->times.size(), n.times.size()});
    }
    cc.agreement_regression = agreement_regression(*b, n, options.error_growth);
    if (!b->skipped() && n.skipped()) cmp.notes.push_back(n.name + ": now " + n.error);
    if (b->skipped() && !n.skipped())
      cmp.notes.push_back(n.name + ": was " + b->error + ", now runs");
    if (b->errored() && !n.errored()) cmp.notes.push_back(n.name + ": errored before, now runs");
    cmp.cases.push_back(cc);
  }
  // Verdicts once every case's test is known: the adjustment is over all of them.
  std::vector<double> p_values;
  std::vector<CaseComparison*> tested;
  for (CaseComparison& cc : cmp.cases) {
    if (!std::isfinite(cc.change) || cc.utest.method == stats::UMethod::kNone) continue;
    p_values.push_back(cc.utest.p_value);
    tested.push_back(&cc);
  }
  const std::vector<double> q_values = stats::benjamini_hochberg(p_values);
  double reachable = 1;  // the smallest q-value a single clear change could get
  for (std::size_t i = 0; i < tested.size(); ++i) {
    tested[i]->q_value = q_values[i];
    reachable =
        std::min(reachable, stats::smallest_p_value(tested[i]->utest.n1, tested[i]->utest.n2) *
                                static_cast<double>(tested.size()));
  }
  cmp.tested = static_cast<int>(tested.size());
  if (options.fdr && !tested.empty() && reachable >= options.alpha &&
      fewest >= stats::repetitions_needed(options.alpha)) {
    cmp.warnings.push_back(
        "too few repetitions for " + std::to_string(tested.size()) +
        " cases: adjusted over all of them, even a clear change alone reaches only q = " +
        printf_string("%.2g", reachable) + ", above alpha " + printf_string("%g", options.alpha) +
        "; use more repetitions, compare fewer cases, or --no-fdr");
  }
  for (CaseComparison& cc : cmp.cases) {
    cc.verdict = judge(cc.change, cc.utest, options, cc.q_value);
    switch (cc.verdict) {
      case Verdict::kSlower:
        ++cmp.slower;
        break;
      case Verdict::kFaster:
        ++cmp.faster;
        break;
      case Verdict::kUnchanged:
        ++cmp.unchanged;
        break;
      case Verdict::kTooFewRepetitions:
        ++cmp.too_few;
        break;
      case Verdict::kNotTimed:
        ++cmp.not_timed;
        break;
    }
    if (!cc.agreement_regression.empty()) ++cmp.agreement_regressions;
  }
  for (const CaseData& b : base.cases) {
    if (!in_now.count(b.name)) cmp.only_base.push_back(&b);
  }
  if (fewest != SIZE_MAX) {
    std::size_t needed = stats::repetitions_needed(options.alpha);
    if (fewest < needed) {
      cmp.warnings.push_back("too few repetitions: with " + std::to_string(fewest) +
                             " the U test cannot reach alpha " +
                             printf_string("%g", options.alpha) +
                             ", so no change can be called significant; run with --repetitions " +
                             std::to_string(std::max<std::size_t>(needed, 9)) + " (at least " +
                             std::to_string(needed) + ")");
    } else if (fewest < 9) {
      cmp.notes.push_back("fewer than 9 repetitions (" + std::to_string(fewest) +
                          "): results may be unreliable; 9 or more recommended, as Google "
                          "Benchmark's compare.py says");
    }
  }
  return cmp;
}

SideBySide side_by_side(const RunData& run, const std::string& baseline_impl) {
  SideBySide out;
  out.run = run.info;
  out.baseline_impl = baseline_impl;
  std::vector<std::string> impls;
  for (const CaseData& c : run.cases) {
    if (std::find(impls.begin(), impls.end(), c.impl) == impls.end()) impls.push_back(c.impl);
  }
  if (std::find(impls.begin(), impls.end(), baseline_impl) == impls.end()) {
    std::string known;
    for (const std::string& i : impls) known += (known.empty() ? "" : ", ") + i;
    throw UsageError(runs_label(run.info) + ": no implementation '" + baseline_impl +
                     "' in this run; its implementations: " + (known.empty() ? "none" : known));
  }
  if (!run.info.timed) {
    out.warnings.push_back(runs_label(run.info) +
                           " is an agreement check without timings: no times or speedups");
  }
  std::map<std::string, std::size_t> group_of;
  std::map<std::string, const CaseData*> baseline;  // op + point -> the baseline's case
  for (const CaseData& c : run.cases) {
    std::string op = c.suite + "/" + c.op;
    std::string key = op + "\n" + point_of(c);
    if (c.impl == baseline_impl) baseline[key] = &c;
    if (!group_of.count(key)) {
      group_of[key] = out.groups.size();
      out.groups.push_back({op, point_of(c), {}, false});
    }
    out.groups[group_of[key]].rows.push_back({&c, NAN, c.impl == baseline_impl});
  }
  for (SideBySideGroup& g : out.groups) {
    const CaseData* b = nullptr;
    if (auto it = baseline.find(g.op + "\n" + g.point); it != baseline.end()) {
      b = it->second;
    } else if (!g.rows.empty()) {
      // The baseline in float32 at the same parameters.
      auto f32 = baseline.find(g.op + "\nf32 " + g.rows.front().c->params);
      if (f32 != baseline.end()) b = f32->second;
    }
    g.has_baseline = b != nullptr && b->timed;
    std::stable_partition(g.rows.begin(), g.rows.end(),
                          [](const SideBySideRow& r) { return r.c->is_reference; });
    for (SideBySideRow& r : g.rows) {
      if (g.has_baseline && r.c->timed) r.speedup = b->median / r.c->median;
    }
  }
  return out;
}

}  // namespace opbench::reports
