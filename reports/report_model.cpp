// extract_run(): a report document as the model every reader shares (reports/report_model.hpp).
#include "reports/report_model.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include "harness/agreement.hpp"
#include "harness/descriptive_stats.hpp"
#include "reports/json_report.hpp"
#include "reports/report_view.hpp"

namespace opbench::reports {

using nlohmann::json;
using namespace view;

namespace {

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
  c.dataset = str(j, "dataset");
  c.is_reference = boolean(j, "is_reference") || c.impl == "ref";
  c.error = str(j, "error");
  const json& cost = member(j, "cost");
  c.flops = number(cost, "flops");
  c.bytes = number(cost, "bytes");
  const json& a = member(j, "agreement");
  c.has_agreement = a.is_object() && !a.empty();
  c.checked = boolean(a, "checked");
  c.err_ratio = number(a, "err_ratio");
  c.max_abs_err = number(a, "max_abs_err");
  c.max_rel_err = number(a, "max_rel_err");
  c.rel_l2_err = number(a, "rel_l2_err");
  const auto count = [&](const char* key) {
    const double v = number(a, key);
    return std::isfinite(v) && v >= 0 && v < 9e18 ? static_cast<std::int64_t>(v) : 0;
  };
  c.mismatches = count("mismatches");
  c.elements = count("elements");
  c.ties = count("ties");
  c.first_mismatch = str(a, "first_mismatch");
  c.known_failure = str(a, "known_failure");
  c.changed_during_timing = boolean(a, "changed_during_timing");
  c.err_vs_plain = number(a, "err_vs_plain");
  // Schema 2 states the status; schema 1 a passed flag (and the reference said passed: false).
  if (!parse_status(str(a, "status"), c.status)) {
    if (!c.error.empty()) {
      c.status = is_skip(c.error) ? AgreementStatus::not_applicable : AgreementStatus::error;
    } else if (c.checked && !c.is_reference) {
      c.status = boolean(a, "passed") ? AgreementStatus::pass : AgreementStatus::fail;
    } else {
      c.status = AgreementStatus::not_applicable;
    }
  }
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

// Schema 2: the time block of a case (its repetitions, the median as its time) and its rates.
// False when there is none or it holds no usable time.
bool read_time_block(CaseData& c, const json& j) {
  const json& t = member(j, "time");
  const json& samples = member(t, "samples");
  if (!samples.is_array()) return false;
  const json& cpu = member(t, "cpu_samples");
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const double s = samples[i].is_number() ? samples[i].get<double>() : NAN;
    if (!(s > 0) || !std::isfinite(s)) continue;
    c.times.push_back(s);
    const double cs =
        cpu.is_array() && i < cpu.size() && cpu[i].is_number() ? cpu[i].get<double>() : NAN;
    c.cpu.push_back(std::isfinite(cs) ? cs : 0);
  }
  if (c.times.empty()) return false;
  c.timed = true;
  c.median = opbench::stats::median(c.times);
  c.cv = opbench::stats::cv(c.times);
  const json& rates = member(j, "rates");
  c.gbps = number(rates, "gbps");
  c.gflops = number(rates, "gflops");
  c.ceiling_fraction = number(rates, "ceiling_fraction");
  return true;
}

}  // namespace

bool CaseData::skipped() const {
  return is_skip(error);
}

bool CaseData::errored() const {
  return !error.empty() && !skipped();
}

std::string agreement_text(const CaseData& c) {
  if (c.skipped()) return "skipped";
  if (c.errored() || c.status == AgreementStatus::error) return "ERROR";
  if (c.is_reference) return "ref";
  if (!c.has_agreement || !c.checked) return "-";
  std::string notes =
      c.ties > 0 ? ", " + std::to_string(c.ties) + (c.ties == 1 ? " tie" : " ties") : "";
  // FlashAttention's second opinion, said only where it disagrees with a pass or adds to a fail.
  if (std::isfinite(c.err_vs_plain) && c.err_vs_plain > kSecondOpinionFactor) {
    notes += ", error " + printf_string("%.3g", c.err_vs_plain) + "x cpu.plain's";
  }
  switch (c.status) {
    case AgreementStatus::pass:
      return std::string(c.stale_known_failure() ? "ok (listed as a known failure)" : "ok") + notes;
    case AgreementStatus::xfail:
      return "xfail" + notes;
    case AgreementStatus::fail: {
      std::string s = "FAIL " + std::to_string(c.mismatches) + "/" + std::to_string(c.elements);
      if (std::isfinite(c.err_ratio) && c.err_ratio > 1) {
        s += ", worst " + printf_string("%.3g", c.err_ratio) + "x allowed";
      }
      if (c.changed_during_timing) s += ", after timing";
      return s + notes;
    }
    default:
      return "-";
  }
}

Tone agreement_tone(const CaseData& c) {
  if (c.errored() || c.status == AgreementStatus::error) return Tone::bad;
  if (c.skipped() || c.is_reference || !c.checked) return Tone::plain;
  switch (c.status) {
    case AgreementStatus::pass:
      return c.stale_known_failure() ? Tone::warn : Tone::good;
    case AgreementStatus::xfail:
      return Tone::warn;
    case AgreementStatus::fail:
      return Tone::bad;
    default:
      return Tone::plain;
  }
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
  const json& datasets = member(member(doc, "opbench"), "datasets");
  if (datasets.is_object()) {
    for (const auto& [key, d] : datasets.items()) {
      const json& sample = member(d, "sample");
      const double count = number(sample, "count"), of = number(sample, "of");
      if (!std::isfinite(count) || !std::isfinite(of)) continue;
      run.samples[key] = "sample " + printf_string("%.0f", count) + "/" +
                         printf_string("%.0f", of) + " " + str(sample, "axis");
    }
  }
  std::map<std::string, std::size_t> by_name;
  std::set<std::size_t> timed_by_block;  // cases whose time came from opbench.cases[].time
  const json& cases = member(member(doc, "opbench"), "cases");
  if (cases.is_array()) {
    for (const json& j : cases) {
      std::string name = str(j, "name");
      if (!j.is_object() || name.empty() || by_name.count(name)) continue;
      CaseData c;
      c.name = name;
      fill_case_fields(c, j);
      if (read_time_block(c, j)) timed_by_block.insert(run.cases.size());
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
  // Reports without a time block (schema 1, plain Google Benchmark): the same rule over the
  // entries, the median of the repetitions.
  for (auto& [index, t] : timing) {
    if (timed_by_block.count(index)) continue;
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
    c.median = opbench::stats::median(c.times);
    c.cv = opbench::stats::cv(c.times);
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

}  // namespace opbench::reports
