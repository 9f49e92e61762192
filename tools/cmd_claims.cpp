// `opbench claims`: the papers' headline speed claims (suites/claims.cpp) measured on this
// machine. Each claim's two sides are planned as exactly one case each, checked against the
// float64 reference and timed like `opbench run`; the report (opbench.claims added) is written
// atomically, and the table printed: the paper's figure, the speed-up measured here, their
// ratio, and the speed-up this machine's ceilings allow.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <set>

#include "datasets/provider.hpp"
#include "harness/errors.hpp"
#include "harness/interrupt.hpp"
#include "reports/atomic_file.hpp"
#include "reports/claims.hpp"
#include "reports/json_report.hpp"
#include "suites/claims.hpp"
#include "suites/suites.hpp"
#include "tools/cli.hpp"

namespace opbench::cli {

namespace {

std::vector<PaperClaim> chosen_claims(const std::vector<std::string>& ids) {
  const auto& all = paper_claims();
  if (ids.empty()) return all;
  std::vector<PaperClaim> out;
  for (const std::string& id : ids) {
    auto it = std::find_if(all.begin(), all.end(), [&](const PaperClaim& c) { return c.id == id; });
    if (it == all.end()) {
      std::string known;
      for (const auto& c : all) known += (known.empty() ? "" : ", ") + c.id;
      throw UsageError("--claim: unknown claim '" + id + "' (known: " + known + ")");
    }
    out.push_back(*it);
  }
  return out;
}

std::string axes_text(const ClaimSide& s) {
  std::string t;
  for (const auto& [k, v] : s.axes) t += (t.empty() ? "" : " ") + k + "=" + v;
  return t;
}

// The one case of a side; a side that plans none or several is a fault of the claim list.
CasePlan plan_side(const Registry& reg, const DataProvider& data, const PaperClaim& claim,
                   const ClaimSide& side) {
  std::vector<CasePlan> plan;
  try {
    plan = plan_cases(reg, claim_side_selection(side), data);
  } catch (const UsageError& e) {
    throw UsageError("claim " + claim.id + ": " + side.op + " " + side.impl + ": " + e.what());
  }
  if (plan.size() != 1) {
    throw std::logic_error("claim " + claim.id + ": " + side.op + " " + side.impl + " (" +
                           axes_text(side) + ") plans " + std::to_string(plan.size()) +
                           " cases, not one");
  }
  return plan.front();
}

void list_claims(const std::vector<PaperClaim>& claims) {
  for (const PaperClaim& c : claims) {
    std::cout << c.id << ": " << c.statement << "\n"
              << "  paper:    " << c.paper_figure << "x (" << c.paper_figure_source << "), "
              << c.paper << "; " << c.paper_conditions << "\n"
              << "  here:     " << c.conditions_here << "\n"
              << "  fast:     " << c.fast.op << " " << c.fast.impl << " " << axes_text(c.fast)
              << "\n"
              << "  baseline: " << c.baseline.op << " " << c.baseline.impl << " "
              << axes_text(c.baseline) << "\n";
  }
}

// The claims of a stored report: its cases planned again by name, the table computed anew.
int claims_from_report(const std::string& path, const std::vector<PaperClaim>& claims) {
  const reports::LoadedReport stored = reports::load_report(path);
  for (const std::string& w : stored.warnings) std::cerr << "opbench: warning: " << w << "\n";
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  std::vector<reports::PlannedClaim> planned;
  for (const PaperClaim& c : claims) {
    planned.push_back(
        {c, plan_side(reg, data, c, c.fast).name, plan_side(reg, data, c, c.baseline).name});
  }
  const nlohmann::json table =
      reports::evaluate_claims(planned, reports::extract_run(stored.doc, path));
  bool measured = false;
  for (const auto& c : table) measured |= c.value("status", std::string()) == "measured";
  if (!measured) throw UsageError(path + ": holds none of the claims' cases (not a claims run?)");
  reports::print_claims(table, std::cout);
  return kExitOk;
}

}  // namespace

int cmd_claims(const Args& args) {
  po::options_description desc(
      "opbench claims [options]\n\n"
      "Measures the papers' headline speed-ups on this machine: per claim the paper's figure and\n"
      "conditions, the speed-up measured here (each side checked against the float64 reference\n"
      "first), their ratio, and the speed-up this machine's measured ceilings allow. Writes a\n"
      "JSON report with an opbench.claims section; `opbench report` shows it as a table.\n"
      "Exit code: 0 every side agrees, 1 a side failed agreement or errored, 2 bad usage.\n\n"
      "Options");
  bool help = false, list = false;
  std::vector<std::string> ids;
  std::string json_path = "opbench-claims.json", from;
  int repetitions = 3, threads = 0;
  std::uint64_t seed = 1;
  desc.add_options()("help,h", po::bool_switch(&help), "this help")(
      "list", po::bool_switch(&list), "print the claims, their conditions and cases; run nothing")(
      "claim", po::value(&ids)->multitoken(), "claims to measure, by id (default: all)")(
      "json", po::value(&json_path), "write the report here (default: opbench-claims.json)")(
      "repetitions", po::value(&repetitions), "repetitions of each case (default 3)")(
      "threads", po::value(&threads), "threads for kernels and ceilings (default: all cores)")(
      "seed", po::value(&seed), "base seed of the generated inputs (default 1)")(
      "from", po::value(&from),
      "measure nothing: the claims from the cases of a stored claims report (REPORT.json), "
      "with this build's claim list and rules");
  parse(args, desc);
  if (help) {
    std::cout << desc << "\n";
    return kExitOk;
  }
  const std::vector<PaperClaim> claims = chosen_claims(split_commas(ids));
  if (list) {
    list_claims(claims);
    return kExitOk;
  }
  if (!from.empty()) return claims_from_report(from, claims);
  if (repetitions < 1) throw UsageError("--repetitions must be at least 1");
  if (threads < 0) throw UsageError("--threads must be positive");
  reports::check_writable(json_path);  // before any work is done

  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  std::vector<reports::PlannedClaim> planned;
  std::vector<CasePlan> plan;
  std::set<std::string> names;
  Selection recorded;  // what the report records as its selection: the ops and impls involved
  recorded.dtypes = {"f32"};
  for (const PaperClaim& c : claims) {
    reports::PlannedClaim p{c, "", ""};
    for (const ClaimSide* side : {&c.fast, &c.baseline}) {
      CasePlan cp = plan_side(reg, data, c, *side);
      (side == &c.fast ? p.fast_case : p.baseline_case) = cp.name;
      if (names.insert(cp.name).second) plan.push_back(std::move(cp));
      if (std::find(recorded.ops.begin(), recorded.ops.end(), side->op) == recorded.ops.end()) {
        recorded.ops.push_back(side->op);
      }
      if (std::find(recorded.impls.begin(), recorded.impls.end(), side->impl) ==
          recorded.impls.end()) {
        recorded.impls.push_back(side->impl);
      }
    }
    planned.push_back(std::move(p));
  }

  RunOptions options;
  options.time = true;
  options.threads = threads;
  options.seed = seed;
  options.progress = isatty(STDERR_FILENO);
  std::string command_line = "opbench claims";
  for (const auto& a : args) command_line += " " + a;
  options.command_line = command_line;
  // Several seconds a case at the paper's sizes: one timed call per repetition is plenty.
  options.benchmark_flags = {"--benchmark_repetitions=" + std::to_string(repetitions),
                             "--benchmark_min_time=0.1"};
  RunResult result;
  {
    InterruptHandlers handlers;
    result = run_cases(reg, plan, data, recorded, options);
  }
  if (!result.incomplete.empty()) {
    std::cout << "interrupted (" << result.incomplete << "): no report written; " << json_path
              << " was not touched\n";
    return 128 + interrupt_signal();
  }
  nlohmann::json report = reports::build_report(result);
  const reports::RunData run = reports::extract_run(report, json_path);
  report["opbench"]["claims"] = reports::evaluate_claims(planned, run);
  reports::write_report(json_path, report);
  reports::print_claims(report["opbench"]["claims"], std::cout);
  std::cout << "report: " << json_path << "\n";

  bool failed = false;
  for (const auto& c : report["opbench"]["claims"]) {
    failed |= c.value("status", std::string()) != "measured";
  }
  return failed ? kExitFailed : kExitOk;
}

}  // namespace opbench::cli
