#include "harness/case_codec.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace opbench::codec {

namespace {

// JSON has no NaN or infinity: they travel as strings, so nothing is lost on the way.
json num(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

const json& field(const json& j, const char* name) {
  if (!j.is_object())
    throw std::runtime_error(std::string("expected an object holding '") + name + "'");
  const auto it = j.find(name);
  if (it == j.end()) throw std::runtime_error(std::string("missing field '") + name + "'");
  return *it;
}

double get_num(const json& j, const char* name) {
  const json& v = field(j, name);
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  throw std::runtime_error(std::string("field '") + name + "' is not a number");
}

template <class T>
T get(const json& j, const char* name) {
  const json& v = field(j, name);
  try {
    return v.get<T>();
  } catch (const json::exception&) {
    throw std::runtime_error(std::string("field '") + name + "' has the wrong type");
  }
}

json params_json(const Params& p) {
  json out = json::array();
  for (const auto& [k, v] : p.items()) out.push_back({k, v});
  return out;
}

Params params_from(const json& j) {
  Params p;
  if (!j.is_array()) throw std::runtime_error("field 'params' is not an array");
  for (const json& kv : j) {
    if (!kv.is_array() || kv.size() != 2 || !kv[0].is_string() || !kv[1].is_string()) {
      throw std::runtime_error("a parameter is not a [name, value] pair of strings");
    }
    p.set(kv[0].get<std::string>(), kv[1].get<std::string>());
  }
  return p;
}

json agreement_json(const Agreement& a) {
  return {{"status", status_name(a.status)},
          {"checked", a.checked},
          {"passed", a.passed},
          {"err_ratio", num(a.err_ratio)},
          {"max_abs_err", num(a.max_abs_err)},
          {"max_rel_err", num(a.max_rel_err)},
          {"rel_l2_err", num(a.rel_l2_err)},
          {"mismatches", a.mismatches},
          {"elements", a.elements},
          {"first_mismatch", a.first_mismatch},
          {"ties", a.ties},
          {"known_failure", a.known_failure},
          {"changed_during_timing", a.changed_during_timing},
          {"plain_max_abs_err", num(a.plain_max_abs_err)}};
}

Agreement agreement_from(const json& j) {
  Agreement a;
  if (!parse_status(get<std::string>(j, "status"), a.status)) {
    throw std::runtime_error("unknown agreement status '" + get<std::string>(j, "status") + "'");
  }
  a.checked = get<bool>(j, "checked");
  a.passed = get<bool>(j, "passed");
  a.err_ratio = get_num(j, "err_ratio");
  a.max_abs_err = get_num(j, "max_abs_err");
  a.max_rel_err = get_num(j, "max_rel_err");
  a.rel_l2_err = get_num(j, "rel_l2_err");
  a.mismatches = get<std::int64_t>(j, "mismatches");
  a.elements = get<std::int64_t>(j, "elements");
  a.first_mismatch = get<std::string>(j, "first_mismatch");
  a.ties = get<std::int64_t>(j, "ties");
  a.known_failure = get<std::string>(j, "known_failure");
  a.changed_during_timing = get<bool>(j, "changed_during_timing");
  // Absent from the journals of versions before the second opinion.
  if (j.contains("plain_max_abs_err")) a.plain_max_abs_err = get_num(j, "plain_max_abs_err");
  return a;
}

json timing_json(const Timing& t) {
  json reps = json::array();
  for (const Repetition& r : t.repetitions) reps.push_back(to_json(r));
  return {{"clock", t.clock}, {"mode", t.mode}, {"repetitions", reps}};
}

Timing timing_from(const json& j) {
  Timing t;
  t.clock = get<std::string>(j, "clock");
  t.mode = get<std::string>(j, "mode");
  for (const json& r : field(j, "repetitions")) t.repetitions.push_back(repetition_from(r));
  return t;
}

json rates_json(const Rates& r) {
  return {{"gbps", num(r.gbps)},
          {"gflops", num(r.gflops)},
          {"ceiling_fraction", num(r.ceiling_fraction)}};
}

Rates rates_from(const json& j) {
  return Rates{get_num(j, "gbps"), get_num(j, "gflops"), get_num(j, "ceiling_fraction")};
}

}  // namespace

json to_json(const Repetition& r) {
  json counters = json::object();
  for (const auto& [k, v] : r.counters) counters[k] = num(v);
  return {{"seconds", num(r.seconds)},
          {"cpu_seconds", num(r.cpu_seconds)},
          {"iterations", r.iterations},
          {"counters", counters}};
}

Repetition repetition_from(const json& j) {
  Repetition r;
  r.seconds = get_num(j, "seconds");
  r.cpu_seconds = get_num(j, "cpu_seconds");
  r.iterations = get<std::int64_t>(j, "iterations");
  const json& counters = field(j, "counters");
  if (!counters.is_object()) throw std::runtime_error("field 'counters' is not an object");
  for (auto it = counters.begin(); it != counters.end(); ++it) {
    r.counters[it.key()] = get_num(counters, it.key().c_str());
  }
  return r;
}

json to_json(const CaseRecord& c) {
  return {{"name", c.name},
          {"suite", c.suite},
          {"op", c.op},
          {"impl", c.impl},
          {"backend", c.backend},
          {"dtype", c.dtype},
          {"params", params_json(c.params)},
          {"cost", {{"flops", num(c.cost.flops)}, {"bytes", num(c.cost.bytes)}}},
          {"agreement", agreement_json(c.agreement)},
          {"is_reference", c.is_reference},
          {"dataset", c.dataset},
          {"error", c.error},
          {"timing", timing_json(c.timing)},
          {"rates", rates_json(c.rates)}};
}

CaseRecord case_from(const json& j) {
  CaseRecord c;
  c.name = get<std::string>(j, "name");
  c.suite = get<std::string>(j, "suite");
  c.op = get<std::string>(j, "op");
  c.impl = get<std::string>(j, "impl");
  c.backend = get<std::string>(j, "backend");
  c.dtype = get<std::string>(j, "dtype");
  c.params = params_from(field(j, "params"));
  const json& cost = field(j, "cost");
  c.cost = Cost{get_num(cost, "flops"), get_num(cost, "bytes")};
  c.agreement = agreement_from(field(j, "agreement"));
  c.is_reference = get<bool>(j, "is_reference");
  c.dataset = get<std::string>(j, "dataset");
  c.error = get<std::string>(j, "error");
  c.timing = timing_from(field(j, "timing"));
  c.rates = rates_from(field(j, "rates"));
  return c;
}

json to_json(const TensorRecord& t) {
  json j = {{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape},      {"source", t.source},
            {"dist", t.dist}, {"seed", t.seed},   {"checksum", t.checksum}};
  if (!t.converted_from.empty()) j["converted_from"] = t.converted_from;
  return j;
}

json to_json(const DatasetRecord& d) {
  json tensors = json::array();
  for (const TensorRecord& t : d.tensors) tensors.push_back(to_json(t));
  return {{"key", d.key},
          {"tensors", tensors},
          {"sample_axis", d.sample_axis},
          {"sample_rows", d.sample_rows},
          {"sample_of", d.sample_of},
          {"sample_seed", d.sample_seed}};
}

DatasetRecord dataset_from(const json& j) {
  DatasetRecord d;
  d.key = get<std::string>(j, "key");
  for (const json& t : field(j, "tensors")) {
    TensorRecord r;
    r.name = get<std::string>(t, "name");
    r.dtype = get<std::string>(t, "dtype");
    r.shape = get<Shape>(t, "shape");
    r.source = get<std::string>(t, "source");
    r.dist = get<std::string>(t, "dist");
    r.seed = get<std::uint64_t>(t, "seed");
    r.checksum = get<std::string>(t, "checksum");
    r.converted_from = t.value("converted_from", "");
    d.tensors.push_back(std::move(r));
  }
  d.sample_axis = get<std::string>(j, "sample_axis");
  d.sample_rows = get<std::vector<std::int64_t>>(j, "sample_rows");
  d.sample_of = get<std::int64_t>(j, "sample_of");
  d.sample_seed = get<std::uint64_t>(j, "sample_seed");
  return d;
}

json to_json(const Ceiling& c) {
  return {{"backend", c.backend},
          {"kind", c.kind},
          {"bytes", num(c.bytes)},
          {"flops", num(c.flops)},
          {"timing", timing_json(c.timing)}};
}

Ceiling ceiling_from(const json& j) {
  Ceiling c;
  c.backend = get<std::string>(j, "backend");
  c.kind = get<std::string>(j, "kind");
  c.bytes = get_num(j, "bytes");
  c.flops = get_num(j, "flops");
  c.timing = timing_from(field(j, "timing"));
  return c;
}

json to_json(const BuildInfo& b) {
  return {{"tool_version", b.tool_version},
          {"git_commit", b.git_commit},
          {"compiler", b.compiler},
          {"cxx_flags", b.cxx_flags},
          {"build_type", b.build_type},
          {"blas", b.blas},
          {"cuda", b.cuda},
          {"onednn", b.onednn},
          {"faiss", b.faiss},
          {"torch", b.torch},
          {"git_dirty", b.git_dirty},
          {"native", b.native}};
}

BuildInfo build_from(const json& j) {
  BuildInfo b;
  b.tool_version = get<std::string>(j, "tool_version");
  b.git_commit = get<std::string>(j, "git_commit");
  b.compiler = get<std::string>(j, "compiler");
  b.cxx_flags = get<std::string>(j, "cxx_flags");
  b.build_type = get<std::string>(j, "build_type");
  b.blas = get<std::string>(j, "blas");
  b.cuda = get<std::string>(j, "cuda");
  b.onednn = get<std::string>(j, "onednn");
  b.faiss = get<std::string>(j, "faiss");
  // Absent from the journals of versions before the torch peer; a journal may be resumed by a newer
  // one.
  b.torch = j.contains("torch") ? get<std::string>(j, "torch") : std::string();
  b.git_dirty = get<bool>(j, "git_dirty");
  b.native = get<bool>(j, "native");
  return b;
}

json to_json(const Selection& s) {
  return {{"suites", s.suites},
          {"ops", s.ops},
          {"impls", s.impls},
          {"backends", s.backends},
          {"dtypes", s.dtypes},
          {"full", s.full},
          {"axis_overrides", s.axis_overrides},
          {"inputs", s.inputs},
          {"timing_modes", s.timing_modes}};
}

Selection selection_from(const json& j) {
  using Strings = std::vector<std::string>;
  using Map = std::map<std::string, std::string>;
  Selection s;
  s.suites = get<Strings>(j, "suites");
  s.ops = get<Strings>(j, "ops");
  s.impls = get<Strings>(j, "impls");
  s.backends = get<Strings>(j, "backends");
  s.dtypes = get<Strings>(j, "dtypes");
  s.full = get<bool>(j, "full");
  s.axis_overrides = get<Map>(j, "axis_overrides");
  s.inputs = get<Map>(j, "inputs");
  s.timing_modes = get<Strings>(j, "timing_modes");
  return s;
}

json to_json(const RunOptions& o) {
  return {{"time", o.time},
          {"dump_dir", o.dump_dir},
          {"threads", o.threads},
          {"seed", o.seed},
          {"benchmark_flags", o.benchmark_flags},
          {"reference_budget_flops", num(o.reference_budget_flops)},
          {"full_check", o.full_check}};
}

RunOptions options_from(const json& j) {
  RunOptions o;
  o.time = get<bool>(j, "time");
  o.dump_dir = get<std::string>(j, "dump_dir");
  o.threads = get<int>(j, "threads");
  o.seed = get<std::uint64_t>(j, "seed");
  o.benchmark_flags = get<std::vector<std::string>>(j, "benchmark_flags");
  o.reference_budget_flops = get_num(j, "reference_budget_flops");
  o.full_check = get<bool>(j, "full_check");
  return o;
}

}  // namespace opbench::codec
