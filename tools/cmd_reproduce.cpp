// `opbench reproduce REPORT.json`: runs exactly the cases of a stored report again (its selection,
// seed, threads, repetitions and Google Benchmark flags, recorded in opbench.run), checks that the
// generated inputs are bit-identical (their checksums), says every way this machine and build
// differ from the report's, and prints what moved: agreement (identical or not) and times (the
// verdicts of `opbench compare`).
#include <unistd.h>

#include <cmath>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "datasets/provider.hpp"
#include "harness/case_codec.hpp"
#include "harness/errors.hpp"
#include "harness/interrupt.hpp"
#include "reports/atomic_file.hpp"
#include "reports/json_report.hpp"
#include "suites/suites.hpp"
#include "tools/cli.hpp"
#include "tools/compare_options.hpp"

namespace opbench::cli {

namespace {

using nlohmann::json;

std::string text_of(const json& j) {
  return j.is_string() ? j.get<std::string>() : j.dump();
}

// "key: old -> new" for every field of two objects that differs (one level deep).
void object_differences(const json& a, const json& b, const std::string& prefix,
                        std::vector<std::string>& out) {
  std::set<std::string> keys;
  for (const json* o : {&a, &b}) {
    if (!o->is_object()) continue;
    for (auto it = o->begin(); it != o->end(); ++it) keys.insert(it.key());
  }
  for (const std::string& k : keys) {
    const json x = a.is_object() ? a.value(k, json()) : json();
    const json y = b.is_object() ? b.value(k, json()) : json();
    if (x != y) out.push_back(prefix + k + ": " + text_of(x) + " -> " + text_of(y));
  }
}

// Every way the new run's machine and build differ from the stored one's.
std::vector<std::string> environment_differences(const json& old_doc, const json& new_doc) {
  std::vector<std::string> out;
  const json& a = old_doc.at("opbench");
  const json& b = new_doc.at("opbench");
  object_differences(a.value("build", json()), b.value("build", json()), "build.", out);
  object_differences(a.value("git", json()), b.value("git", json()), "git.", out);
  for (const char* k : {"tool_version", "threads", "devices"}) {
    if (a.value(k, json()) != b.value(k, json())) {
      out.push_back(std::string(k) + ": " + text_of(a.value(k, json())) + " -> " +
                    text_of(b.value(k, json())));
    }
  }
  const json& ca = old_doc.value("context", json::object());
  const json& cb = new_doc.value("context", json::object());
  for (const char* k : {"host_name", "num_cpus", "mhz_per_cpu", "cpu_scaling_enabled", "caches"}) {
    if (ca.value(k, json()) != cb.value(k, json())) {
      out.push_back(std::string("context.") + k + ": " + text_of(ca.value(k, json())) + " -> " +
                    text_of(cb.value(k, json())));
    }
  }
  return out;
}

// Tensors whose checksum differs between the two runs' datasets ("dataset / tensor: old -> new"),
// and how many tensors were compared.
std::vector<std::string> checksum_differences(const json& old_doc, const json& new_doc,
                                              std::size_t& compared) {
  std::vector<std::string> out;
  const json& a = old_doc.at("opbench").value("datasets", json::object());
  const json& b = new_doc.at("opbench").value("datasets", json::object());
  compared = 0;
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (!b.contains(it.key())) continue;
    std::map<std::string, std::string> sums;
    for (const json& t : it.value().value("tensors", json::array())) {
      sums[t.value("name", "")] = t.value("checksum", "");
    }
    for (const json& t : b.at(it.key()).value("tensors", json::array())) {
      const std::string name = t.value("name", "");
      const auto old_sum = sums.find(name);
      if (old_sum == sums.end()) continue;
      ++compared;
      if (old_sum->second != t.value("checksum", "")) {
        out.push_back(it.key() + " / " + name + ": " + old_sum->second + " -> " +
                      t.value("checksum", ""));
      }
    }
  }
  return out;
}

}  // namespace

int cmd_reproduce(const Args& args) {
  po::options_description desc(
      "opbench reproduce REPORT.json [options]\n\nRuns exactly the cases of a stored report again: "
      "its selection, seed, threads, repetitions and\nGoogle Benchmark flags (recorded in the "
      "report's opbench.run). Checks that the generated inputs are\nbit-identical (their "
      "checksums), warns on every difference of machine, build, compiler and\nlibraries, and "
      "prints what moved: agreement (identical or not) and times (compare's verdicts).\n\nExit "
      "code: 0 reproduced, 1 an input checksum or an agreement status differs (or a regression\n"
      "with --fail-on-regression), 2 bad usage or an unreadable report.\n\nOptions");
  bool help = false, isolate = false;
  std::string report_path, json_out;
  CompareCliOptions cmp;
  desc.add_options()("help,h", po::bool_switch(&help), "this help")(
      "json", po::value(&json_out), "write the new run's report here")(
      "isolate", po::bool_switch(&isolate),
      "run every case in a worker process (as run --isolate)")("report", po::value(&report_path),
                                                               "the stored report");
  cmp.add_to(desc);
  parse_with_positional(args, desc, "report", 1, "reproduce: ");
  if (help) {
    std::cout << desc << "\n";
    return kExitOk;
  }
  if (report_path.empty()) throw UsageError("reproduce: give the stored report (REPORT.json)");
  cmp.check();
  if (!json_out.empty()) reports::check_writable(json_out);

  reports::LoadedReport stored = reports::load_report(report_path);
  for (const std::string& w : stored.warnings) std::cerr << "opbench: warning: " << w << "\n";
  const json& ob = stored.doc.value("opbench", json::object());
  if (!ob.contains("run") || !ob.at("run").is_object()) {
    throw UsageError(report_path +
                     ": no opbench.run (written before opbench recorded what reproduces a run); "
                     "run its command line again: " +
                     ob.value("command_line", std::string("(not recorded)")));
  }
  Selection sel;
  RunOptions options;
  try {
    sel = codec::selection_from(ob.at("run").at("selection"));
    options = codec::options_from(ob.at("run").at("options"));
  } catch (const std::exception& e) {
    throw UsageError(report_path + ": opbench.run: " + e.what());
  }
  options.progress = isatty(STDERR_FILENO);
  options.command_line = "opbench reproduce " + report_path;
  if (isolate) options.worker_command = {"/proc/self/exe", "worker"};
  if (isolate) options.case_timeout_s = 600;

  std::set<std::string> wanted;
  for (const json& c : ob.value("cases", json::array())) wanted.insert(c.value("name", ""));
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  std::vector<CasePlan> plan;
  for (CasePlan& c : plan_cases(reg, sel, data)) {
    if (wanted.erase(c.name)) plan.push_back(std::move(c));
  }
  if (!wanted.empty()) {
    std::cerr << "opbench: warning: " << wanted.size()
              << " case(s) of the report are not in this build's plan, e.g. " << *wanted.begin()
              << "\n";
  }
  if (plan.empty()) throw UsageError(report_path + ": this build plans none of its cases");

  RunResult result;
  {
    InterruptHandlers handlers;
    result = run_cases(reg, plan, data, sel, options);
  }
  const json fresh = reports::build_report(result);
  if (!json_out.empty()) reports::write_report(json_out, fresh);

  // Said on stdout with a table, on stderr when stdout carries csv or json.
  std::ostream& say =
      (cmp.format == "terminal" || cmp.format == "markdown") ? std::cout : std::cerr;
  bool moved = false;
  for (const std::string& d : environment_differences(stored.doc, fresh)) {
    say << "differs from the report: " << d << "\n";
  }
  std::size_t tensors = 0;
  const std::vector<std::string> sums = checksum_differences(stored.doc, fresh, tensors);
  if (sums.empty()) {
    say << "inputs: " << tensors << " tensor(s), every checksum identical\n";
  } else {
    moved = true;
    say << "inputs: " << sums.size() << " of " << tensors << " tensor(s) differ:\n";
    for (const std::string& s : sums) say << "  " << s << "\n";
  }
  const reports::RunData a = reports::extract_run(stored.doc, report_path);
  const reports::RunData b = reports::extract_run(fresh, "reproduced");
  std::size_t same_status = 0, same_errors = 0, both = 0;
  for (const reports::CaseData& c : b.cases) {
    const reports::CaseData* o = a.find(c.name);
    if (!o) continue;
    ++both;
    if (o->status != c.status) {
      moved = true;
      say << "agreement moved: " << c.name << ": " << status_name(o->status) << " -> "
          << status_name(c.status) << "\n";
      continue;
    }
    ++same_status;
    same_errors += (o->max_abs_err == c.max_abs_err ||
                    (std::isnan(o->max_abs_err) && std::isnan(c.max_abs_err))) &&
                   o->mismatches == c.mismatches;
  }
  say << "agreement: " << same_status << " of " << both << " case(s) with the same status ("
      << same_errors << " with bit-identical errors)\n";
  if (!result.incomplete.empty()) {
    say << "interrupted (" << result.incomplete << ")\n";
    return 128 + interrupt_signal();
  }
  const int code = cmp.write(a, b);
  return moved ? kExitFailed : code;
}

}  // namespace opbench::cli
