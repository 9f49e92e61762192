#include "reports/json_report.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string_view>

#include "harness/agreement.hpp"
#include "harness/build_info.hpp"
#include "harness/errors.hpp"
#include "reports/atomic_file.hpp"
#include "reports/report_view.hpp"

namespace opbench::reports {

using nlohmann::json;

namespace {

bool is_gbench_suffix(std::string_view part) {
  if (part == "manual_time" || part == "real_time" || part == "process_time") return true;
  for (std::string_view prefix :
       {"min_time:", "min_warmup_time:", "repeats:", "iterations:", "threads:"}) {
    if (part.size() > prefix.size() && part.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Validation: each check names the JSON path of the field it looked at.

std::string type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "binary";
  }
}

enum class T { object, object_or_null, array, string, boolean, integer, number, number_or_null };

const char* expected_name(T t) {
  switch (t) {
    case T::object:
      return "an object";
    case T::object_or_null:
      return "an object or null";
    case T::array:
      return "an array";
    case T::string:
      return "a string";
    case T::boolean:
      return "a boolean";
    case T::integer:
      return "an integer";
    case T::number:
      return "a number";
    case T::number_or_null:
      return "a number or null";
  }
  return "?";
}

bool has_type(const json& v, T t) {
  switch (t) {
    case T::object:
      return v.is_object();
    case T::object_or_null:
      return v.is_object() || v.is_null();
    case T::array:
      return v.is_array();
    case T::string:
      return v.is_string();
    case T::boolean:
      return v.is_boolean();
    case T::integer:  // as in JSON Schema, 3.0 is an integer
      return v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                       v.get<double>() == std::floor(v.get<double>()));
    case T::number:
      return v.is_number();
    case T::number_or_null:
      return v.is_number() || v.is_null();
  }
  return false;
}

struct Field {
  const char* name;
  T type;
};

class Validator {
 public:
  // The first problem found, or "".
  std::string problem;

  bool ok() const { return problem.empty(); }

  // Checks that `obj[name]` exists with type `t`; returns it or nullptr.
  const json* field(const json& obj, const std::string& path, const std::string& name, T t) {
    if (!ok()) return nullptr;
    std::string p = path.empty() ? name : path + "." + name;
    auto it = obj.find(name);
    if (it == obj.end()) {
      problem = p + ": missing";
      return nullptr;
    }
    return check(*it, p, t) ? &*it : nullptr;
  }

  // Like field(), but a missing field is fine.
  const json* optional(const json& obj, const std::string& path, const std::string& name, T t) {
    if (!ok() || !obj.contains(name)) return nullptr;
    return field(obj, path, name, t);
  }

  bool check(const json& v, const std::string& path, T t) {
    if (!ok()) return false;
    if (!has_type(v, t)) {
      problem = path + ": expected " + expected_name(t) + ", got " + type_name(v);
      return false;
    }
    return true;
  }

  void fields(const json& obj, const std::string& path, std::initializer_list<Field> list) {
    for (const Field& f : list) field(obj, path, f.name, f.type);
  }

  void cost(const json& obj, const std::string& path) {
    if (const json* c = field(obj, path, "cost", T::object)) {
      fields(*c, path + ".cost", {{"flops", T::number_or_null}, {"bytes", T::number_or_null}});
    }
  }

  void agreement(const json& obj, const std::string& path) {
    if (const json* a = field(obj, path, "agreement", T::object)) {
      // Version 2 states the status; version 1 a passed flag.
      if (a->contains("status") || !a->contains("passed")) {
        if (const json* st = field(*a, path + ".agreement", "status", T::string)) {
          AgreementStatus parsed;
          if (!parse_status(st->get<std::string>(), parsed)) {
            problem = path + ".agreement.status: expected one of pass, fail, xfail, error, " +
                      "not_applicable, got " + st->dump();
          }
        }
        field(*a, path + ".agreement", "err_ratio", T::number_or_null);
      } else {
        field(*a, path + ".agreement", "passed", T::boolean);
      }
      fields(*a, path + ".agreement",
             {{"checked", T::boolean},
              {"max_abs_err", T::number_or_null},
              {"max_rel_err", T::number_or_null},
              {"rel_l2_err", T::number_or_null},
              {"mismatches", T::integer},
              {"elements", T::integer},
              {"first_mismatch", T::string}});
    }
  }

  void params(const json& obj, const std::string& path) {
    if (const json* p = field(obj, path, "params", T::object)) {
      for (const auto& [k, v] : p->items()) {
        if (!ok()) return;
        if (!v.is_number_integer() && !v.is_string()) {
          problem =
              path + ".params." + k + ": expected an integer or a string, got " + type_name(v);
        }
      }
    }
  }

  // The fields a case adds to its benchmark entries and to opbench.cases.
  void case_fields(const json& obj, const std::string& path) {
    fields(obj, path,
           {{"suite", T::string},
            {"op", T::string},
            {"impl", T::string},
            {"backend", T::string},
            {"dtype", T::string}});
    params(obj, path);
    field(obj, path, "dataset", T::string);
    cost(obj, path);
    agreement(obj, path);
    field(obj, path, "is_reference", T::boolean);
    optional(obj, path, "error", T::string);
  }
};

std::string idx(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

}  // namespace

std::vector<std::string> case_name_candidates(const std::string& run_name) {
  std::vector<std::string> out{run_name};
  std::string name = run_name;
  while (true) {
    auto slash = name.rfind('/');
    if (slash == std::string::npos || !is_gbench_suffix(std::string_view(name).substr(slash + 1)))
      break;
    name.resize(slash);
    out.push_back(name);
  }
  return out;
}

std::string validate_report(const json& doc) {
  Validator v;
  if (!doc.is_object()) return "(top level): expected an object, got " + type_name(doc);
  const json* ob = v.field(doc, "", "opbench", T::object);
  if (!v.ok()) return v.problem;
  // The version first: a newer report may have changed any other field.
  const json* version = v.field(*ob, "opbench", "schema_version", T::integer);
  if (!v.ok()) return v.problem;
  double value = version->get<double>();  // exact for any version that could be meant
  if (value > kSchemaVersion) {
    return "schema_version " + version->dump() + " is newer than this opbench understands (" +
           std::to_string(kSchemaVersion) + "); upgrade opbench";
  }
  if (value < 1) {
    return "opbench.schema_version: expected a positive integer, got " + version->dump();
  }

  v.field(doc, "", "context", T::object);
  const json* benchmarks = v.field(doc, "", "benchmarks", T::array);

  v.fields(*ob, "opbench",
           {{"tool", T::string},
            {"tool_version", T::string},
            {"threads", T::integer},
            {"timed", T::boolean},
            {"command_line", T::string}});
  if (const json* git = v.field(*ob, "opbench", "git", T::object)) {
    v.fields(*git, "opbench.git", {{"commit", T::string}, {"dirty", T::boolean}});
  }
  if (const json* build = v.field(*ob, "opbench", "build", T::object)) {
    v.fields(*build, "opbench.build",
             {{"compiler", T::string},
              {"cxx_flags", T::string},
              {"build_type", T::string},
              {"native", T::boolean},
              {"blas", T::string},
              {"cuda", T::string},
              {"onednn", T::string}});
  }
  if (const json* devices = v.field(*ob, "opbench", "devices", T::array)) {
    for (std::size_t i = 0; i < devices->size(); ++i) {
      v.check((*devices)[i], idx("opbench.devices", i), T::string);
    }
  }
  if (const json* ceilings = v.field(*ob, "opbench", "ceilings", T::array)) {
    for (std::size_t i = 0; i < ceilings->size(); ++i) {
      std::string p = idx("opbench.ceilings", i);
      if (v.check((*ceilings)[i], p, T::object)) {
        v.fields((*ceilings)[i], p,
                 {{"backend", T::string},
                  {"kind", T::string},
                  {"bytes", T::number_or_null},
                  {"flops", T::number_or_null},
                  {"seconds", T::number_or_null},
                  {"gbps", T::number_or_null},
                  {"gflops", T::number_or_null}});
      }
    }
  }
  if (const json* datasets = v.field(*ob, "opbench", "datasets", T::object)) {
    for (const auto& [key, d] : datasets->items()) {
      std::string p = "opbench.datasets[\"" + key + "\"]";
      if (!v.check(d, p, T::object)) break;
      const json* tensors = v.field(d, p, "tensors", T::array);
      if (tensors == nullptr) break;
      for (std::size_t i = 0; i < tensors->size(); ++i) {
        std::string tp = idx(p + ".tensors", i);
        const json& t = (*tensors)[i];
        if (!v.check(t, tp, T::object)) break;
        v.fields(t, tp,
                 {{"name", T::string},
                  {"dtype", T::string},
                  {"source", T::string},
                  {"dist", T::string},
                  {"seed", T::integer},
                  {"checksum", T::string}});
        if (const json* shape = v.field(t, tp, "shape", T::array)) {
          for (std::size_t j = 0; j < shape->size(); ++j) {
            v.check((*shape)[j], idx(tp + ".shape", j), T::integer);
          }
        }
      }
    }
  }
  if (const json* cases = v.field(*ob, "opbench", "cases", T::array)) {
    for (std::size_t i = 0; i < cases->size(); ++i) {
      std::string p = idx("opbench.cases", i);
      if (!v.check((*cases)[i], p, T::object)) break;
      v.field((*cases)[i], p, "name", T::string);
      v.case_fields((*cases)[i], p);
      if (value < 2) continue;  // schema 2 added each case's time and rates
      if (const json* t = v.field((*cases)[i], p, "time", T::object_or_null); t && t->is_object()) {
        v.fields(*t, p + ".time",
                 {{"seconds", T::number_or_null},
                  {"statistic", T::string},
                  {"clock", T::string},
                  {"repetitions", T::integer},
                  {"samples", T::array},
                  {"cv", T::number_or_null}});
      }
      if (const json* r = v.field((*cases)[i], p, "rates", T::object)) {
        v.fields(*r, p + ".rates",
                 {{"gbps", T::number_or_null},
                  {"gflops", T::number_or_null},
                  {"ceiling_fraction", T::number_or_null}});
      }
    }
  }
  if (benchmarks != nullptr) {
    for (std::size_t i = 0; i < benchmarks->size(); ++i) {
      std::string p = idx("benchmarks", i);
      const json& e = (*benchmarks)[i];
      if (!v.check(e, p, T::object)) break;
      v.field(e, p, "name", T::string);
      if (!e.contains("op")) continue;  // an entry opbench did not add to: Google Benchmark's own
      v.case_fields(e, p);
      v.fields(e, p,
               {{"gbps", T::number_or_null},
                {"gflops", T::number_or_null},
                {"ceiling_fraction", T::number_or_null}});
    }
  }
  return v.problem;
}

json read_report(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw UsageError(path + ": cannot read the report (it is a folder)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot read the report (" + std::strerror(errno) + ")");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw UsageError(path + ": cannot read the report (read error)");
  json doc;
  try {
    doc = json::parse(text.str());
  } catch (const json::parse_error& e) {
    throw UsageError(path + ": not valid JSON at byte " + std::to_string(e.byte));
  } catch (const json::out_of_range& e) {  // a number beyond a double: 1e999
    const std::string what = e.what();     // "[json.exception...] number overflow parsing ..."
    throw UsageError(path + ": a number out of the range of a double (" +
                     what.substr(what.find(']') + 2) + ")");
  }
  if (std::string problem = validate_report(doc); !problem.empty()) {
    throw UsageError(path + ": " + problem);
  }
  return doc;
}

namespace {

// The parsed document of `path`; throws UsageError when it cannot be read or is not JSON.
json parse_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw UsageError(path + ": cannot read the report (it is a folder)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot read the report (" + std::strerror(errno) + ")");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw UsageError(path + ": cannot read the report (read error)");
  try {
    return json::parse(text.str());
  } catch (const json::parse_error& e) {
    throw UsageError(path + ": not valid JSON at byte " + std::to_string(e.byte));
  } catch (const json::out_of_range& e) {  // a number beyond a double: 1e999
    const std::string what = e.what();     // "[json.exception...] number overflow parsing ..."
    throw UsageError(path + ": a number out of the range of a double (" +
                     what.substr(what.find(']') + 2) + ")");
  }
}

}  // namespace

LoadedReport load_report(const std::string& path) {
  LoadedReport out;
  out.doc = parse_file(path);
  json& doc = out.doc;
  auto refuse = [&](const std::string& what) { throw UsageError(path + ": " + what); };
  if (!doc.is_object()) refuse("(top level): expected an object, got " + type_name(doc));
  const bool has_opbench = doc.contains("opbench");
  if (!doc.contains("benchmarks")) {
    if (!has_opbench) {
      refuse("benchmarks: missing, and no opbench block: not a benchmark report");
    }
    out.warnings.push_back(path + ": benchmarks: missing; read as a report without timings");
    doc["benchmarks"] = json::array();
  }
  if (!doc["benchmarks"].is_array()) {
    refuse("benchmarks: expected an array, got " + type_name(doc["benchmarks"]));
  }
  if (!has_opbench) {
    out.warnings.push_back(path +
                           ": no opbench block (a plain Google Benchmark report): cases are "
                           "matched by benchmark name, without agreement");
  } else if (!doc["opbench"].is_object()) {
    refuse("opbench: expected an object, got " + type_name(doc["opbench"]));
  } else {
    const json& ob = doc["opbench"];
    auto version = ob.find("schema_version");
    if (version == ob.end()) {
      out.warnings.push_back(path + ": opbench.schema_version: missing; read as version " +
                             std::to_string(kSchemaVersion));
    } else if (!has_type(*version, T::integer)) {
      refuse("opbench.schema_version: expected an integer, got " + type_name(*version));
    } else if (version->get<double>() > kSchemaVersion) {
      refuse("schema_version " + version->dump() + " is newer than this opbench understands (" +
             std::to_string(kSchemaVersion) + "); upgrade opbench");
    }
    std::string tool = ob.value("tool", std::string("opbench"));
    if (ob.contains("tool") && ob["tool"].is_string() && tool != "opbench") {
      out.warnings.push_back(path + ": written by '" + tool +
                             "', not opbench: read where possible");
    }
    std::string ours = build_info().tool_version;
    if (ob.contains("tool_version") && ob["tool_version"].is_string() &&
        ob["tool_version"].get<std::string>() != ours) {
      out.warnings.push_back(path + ": written by opbench " +
                             ob["tool_version"].get<std::string>() + " (this is " + ours +
                             "): read where possible");
    }
  }
  // Entries whose time cannot be read are refused: comparing without them would mislead.
  const json& benchmarks = doc["benchmarks"];
  for (std::size_t i = 0; i < benchmarks.size(); ++i) {
    const json& e = benchmarks[i];
    std::string p = idx("benchmarks", i);
    if (!e.is_object()) refuse(p + ": expected an object, got " + type_name(e));
    if (!e.contains("name") && !e.contains("run_name")) refuse(p + ".name: missing");
    for (const char* key : {"name", "run_name", "run_type", "aggregate_name"}) {
      if (e.contains(key) && !e[key].is_string()) {
        refuse(p + "." + key + ": expected a string, got " + type_name(e[key]));
      }
    }
    for (const char* key : {"real_time", "cpu_time"}) {
      if (e.contains(key) && !e[key].is_number() && !e[key].is_null()) {
        refuse(p + "." + key + ": expected a number, got " + type_name(e[key]));
      }
    }
    if (e.contains("time_unit")) {
      if (!e["time_unit"].is_string() ||
          view::unit_seconds(e["time_unit"].get<std::string>()) == 0) {
        refuse(p + ".time_unit: expected one of ns, us, ms, s, got " + e["time_unit"].dump());
      }
    }
  }
  if (has_opbench) {
    if (std::string problem = validate_report(doc);
        !problem.empty() && problem.rfind("opbench.schema_version", 0) != 0) {
      out.warnings.push_back(path + ": " + problem + " (read where possible)");
    }
  }
  return out;
}

std::string dump_report(const json& report) {
  return report.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

void write_report(const std::string& path, const json& report) {
  write_file_atomically(path, dump_report(report));
}

}  // namespace opbench::reports
