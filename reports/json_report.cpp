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
#include "reports/json_schema.hpp"
#include "reports/report_view.hpp"

namespace opbench::reports {

// The report schema, compiled in (reports/CMakeLists.txt): the one definition of a valid report;
// and schema 1's, for reports written before schema 2.
extern const char* const kReportSchemaJson;
extern const char* const kReportSchemaV1Json;

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

const JsonSchema& report_schema(int version) {
  static const JsonSchema current(json::parse(kReportSchemaJson));
  static const JsonSchema v1(json::parse(kReportSchemaV1Json));
  return version == 1 ? v1 : current;
}

std::string type_name(const json& v) {
  return json_type_name(v);
}

bool is_integer(const json& v) {  // as in JSON Schema, 3.0 is an integer
  return v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                   v.get<double>() == std::floor(v.get<double>()));
}

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
  if (!doc.is_object()) return "(top level): expected an object, got " + type_name(doc);
  // The version first: a newer report may have changed any other field.
  const json* ob = doc.contains("opbench") ? &doc.at("opbench") : nullptr;
  if (ob == nullptr) return "opbench: missing";
  if (!ob->is_object()) return "opbench: expected an object, got " + type_name(*ob);
  if (!ob->contains("schema_version")) return "opbench.schema_version: missing";
  const json& version = ob->at("schema_version");
  if (!is_integer(version)) {
    return "opbench.schema_version: expected an integer, got " + type_name(version);
  }
  const double value = version.get<double>();  // exact for any version that could be meant
  if (value > kSchemaVersion) {
    return "schema_version " + version.dump() + " is newer than this opbench understands (" +
           std::to_string(kSchemaVersion) + "); upgrade opbench";
  }
  if (value < 1) {
    return "opbench.schema_version: expected a positive integer, got " + version.dump();
  }
  return report_schema(static_cast<int>(value)).validate(doc);
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
    } else if (!is_integer(*version)) {
      refuse("opbench.schema_version: expected an integer, got " + type_name(*version));
    } else if (version->get<double>() > kSchemaVersion) {
      refuse("schema_version " + version->dump() + " is newer than this opbench understands (" +
             std::to_string(kSchemaVersion) + "); upgrade opbench");
    }
    // Read before the schema check: a wrong type here is the schema's to report, never a throw.
    auto tool = ob.find("tool");
    if (tool != ob.end() && tool->is_string() && tool->get<std::string>() != "opbench") {
      out.warnings.push_back(path + ": written by '" + tool->get<std::string>() +
                             "', not opbench: read where possible");
    }
    // A run that stopped early holds only part of its plan: say so wherever it is read.
    auto incomplete = ob.find("incomplete");
    if (incomplete != ob.end() && incomplete->is_object()) {
      const json& inc = *incomplete;
      const json reason = inc.value("reason", json("unknown"));
      out.warnings.push_back(
          path + ": an incomplete run (" + (reason.is_string() ? reason.get<std::string>() : "?") +
          "): " + inc.value("finished", json("?")).dump() + " of " +
          inc.value("planned", json("?")).dump() + " planned cases were measured");
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
