// Measuring a paper's claim in a run: the speed-up is the baseline's median time over the fast
// side's; the bound is the same ratio of the two roofline floors under the ceilings measured in
// the same run, so "measured / bound" says how much of what this machine allows the kernels get,
// and "measured / paper" how the paper's figure carries over to this machine and these
// implementations.
#include "reports/claims.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "reports/report_view.hpp"
#include "reports/text_table.hpp"

namespace opbench::reports {

using nlohmann::json;

namespace {

json num(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

// The least time the run's ceilings allow for a case's cost, and which ceiling sets it: the copy
// of the nearest size (on a log scale) for its bytes, the SGEMM for its flops.
struct Floor {
  double seconds = NAN;
  std::string bound_by;
};

Floor roofline_floor(const CaseData& c, const RunData& run) {
  const std::string prefix = c.backend + "/";
  double copy_gbps = 0, gemm_gflops = 0;
  double best = std::numeric_limits<double>::infinity();
  for (const auto& [key, seconds] : run.ceilings) {
    if (key.rfind(prefix, 0) != 0 || !(seconds > 0)) continue;
    const std::string rest = key.substr(prefix.size());
    const auto slash = rest.find('/');
    if (slash == std::string::npos) continue;
    const std::string kind = rest.substr(0, slash);
    const double size = std::strtod(rest.c_str() + slash + 1, nullptr);
    if (!(size > 0)) continue;
    if (kind == "copy" && c.bytes > 0) {
      const double distance = std::abs(std::log(size / c.bytes));
      if (distance < best) {
        best = distance;
        copy_gbps = size / seconds / 1e9;
      }
    } else if (kind == "sgemm") {
      gemm_gflops = std::max(gemm_gflops, size / seconds / 1e9);
    }
  }
  Floor f;
  const double memory = copy_gbps > 0 && c.bytes > 0 ? c.bytes / (copy_gbps * 1e9) : 0;
  const double compute = gemm_gflops > 0 && c.flops > 0 ? c.flops / (gemm_gflops * 1e9) : 0;
  if (!(memory > 0) && !(compute > 0)) return f;
  f.seconds = std::max(memory, compute);
  f.bound_by = memory >= compute
                   ? "memory: " + view::format_scaled(c.bytes, "B", true) + " at the copy's " +
                         view::significant(copy_gbps, 3) + " GB/s"
                   : "compute: " + view::format_scaled(c.flops, "FLOP", false) +
                         " at the SGEMM's " + view::significant(gemm_gflops, 3) + " GFLOP/s";
  return f;
}

// A side: its case, time, floor and agreement; `problem` is set when it gives no usable time.
json side_json(const ClaimSide& side, const std::string& name, const RunData& run,
               std::string& problem) {
  json j = {{"op", side.op}, {"impl", side.impl}, {"axes", side.axes}, {"case", name}};
  const CaseData* c = run.find(name);
  if (c == nullptr) {
    problem = side.op + " " + side.impl + ": not in this run";
    j["seconds"] = nullptr;
    return j;
  }
  j["agreement"] = agreement_text(*c);
  j["seconds"] = c->timed ? num(c->median) : json(nullptr);
  const Floor f = roofline_floor(*c, run);
  j["floor_seconds"] = num(f.seconds);
  j["bound_by"] = f.bound_by;
  if (c->errored()) {
    problem = side.op + " " + side.impl + ": " + c->error;
  } else if (c->skipped()) {
    problem = side.op + " " + side.impl + ": " + c->error;
  } else if (c->failed() || c->status == AgreementStatus::error) {
    problem = side.op + " " + side.impl + " failed agreement (" + agreement_text(*c) +
              "): its time does not count";
  } else if (!c->timed) {
    problem = side.op + " " + side.impl + ": not timed";
  }
  return j;
}

std::string ratio_text(const json& v) {
  return v.is_number() ? view::significant(v.get<double>(), 3) + "x" : "-";
}

}  // namespace

// Each claim: the PaperClaim's fields, then "fast" and "baseline" (op, impl, axes, case,
// seconds, floor_seconds, bound_by, agreement), "measured" (baseline seconds over fast seconds),
// "of_paper" (measured over the paper's figure), "bound" (baseline floor over fast floor: the
// speed-up the ceilings allow), "note" ("" or why the bound does not hold) and "status":
// "measured", or why there is no figure.
json evaluate_claims(const std::vector<PlannedClaim>& claims, const RunData& run) {
  json out = json::array();
  for (const PlannedClaim& p : claims) {
    const PaperClaim& c = p.claim;
    json j = {{"id", c.id},
              {"paper", c.paper},
              {"statement", c.statement},
              {"paper_figure", c.paper_figure},
              {"paper_figure_source", c.paper_figure_source},
              {"paper_conditions", c.paper_conditions},
              {"conditions_here", c.conditions_here}};
    std::string fast_problem, baseline_problem;
    j["fast"] = side_json(c.fast, p.fast_case, run, fast_problem);
    j["baseline"] = side_json(c.baseline, p.baseline_case, run, baseline_problem);
    const double fast = view::number(j["fast"], "seconds");
    const double base = view::number(j["baseline"], "seconds");
    const bool usable = fast_problem.empty() && baseline_problem.empty() && fast > 0 && base > 0;
    const double measured = usable ? base / fast : NAN;
    j["measured"] = num(measured);
    j["of_paper"] = num(measured / c.paper_figure);
    const double ff = view::number(j["fast"], "floor_seconds");
    const double bf = view::number(j["baseline"], "floor_seconds");
    j["bound"] = num(ff > 0 && bf > 0 ? bf / ff : NAN);
    // A side faster than its own floor: its cost model counts work or bytes the run did not need
    // (fff counts every leaf's weights, of which a batch's routing reads only some), or it beats
    // the measured ceiling (oneDNN's GEMMs outrun OpenBLAS's SGEMM, the ceiling's), so the bound
    // does not bound this claim; said, not hidden.
    std::string note;
    for (const char* name : {"fast", "baseline"}) {
      const double seconds = view::number(j[name], "seconds");
      const double floor = view::number(j[name], "floor_seconds");
      if (!(seconds > 0) || !(floor > seconds)) continue;
      note += std::string(note.empty() ? "" : "; ") + view::str(j[name], "op") + " " +
              view::str(j[name], "impl") + " ran in " + view::significant(seconds / floor, 2) +
              " of its roofline floor (its cost model counts more than it had to do, or it "
              "beats the run's measured ceiling: the SGEMM ceiling is OpenBLAS's), so the "
              "ceilings' bound does not hold for this claim";
    }
    j["note"] = note;
    j["status"] =
        usable ? "measured"
               : (!fast_problem.empty()
                      ? fast_problem
                      : (!baseline_problem.empty() ? baseline_problem : std::string("no time")));
    out.push_back(std::move(j));
  }
  return out;
}

void print_claims(const json& claims, std::ostream& out) {
  Table table({"claim", "paper", "measured here", "of paper", "ceilings allow", "fast", "baseline"},
              {false, true, true, true, true, true, true});
  for (const json& c : claims) {
    const double of_paper = view::number(c, "of_paper");
    table.add({{view::str(c, "id")},
               {ratio_text(c.value("paper_figure", json(nullptr)))},
               {ratio_text(c.value("measured", json(nullptr)))},
               {std::isfinite(of_paper) ? view::significant(of_paper, 3) : "-"},
               {ratio_text(c.value("bound", json(nullptr))) +
                (view::str(c, "note").empty() ? "" : " (note)")},
               {view::format_time(view::number(view::member(c, "fast"), "seconds"))},
               {view::format_time(view::number(view::member(c, "baseline"), "seconds"))}});
  }
  table.print(out, false, false);
  out << "\n";
  for (const json& c : claims) {
    const json& fast = view::member(c, "fast");
    const json& base = view::member(c, "baseline");
    out << view::str(c, "id") << ": " << view::str(c, "statement") << "\n"
        << "  paper:  " << ratio_text(c.value("paper_figure", json(nullptr))) << " ("
        << view::str(c, "paper_figure_source") << "), " << view::str(c, "paper") << "; "
        << view::str(c, "paper_conditions") << "\n"
        << "  here:   " << view::str(c, "conditions_here") << "\n"
        << "  fast:     " << view::str(fast, "op") << " " << view::str(fast, "impl") << ", "
        << view::str(fast, "agreement", "-") << ", floor "
        << view::format_time(view::number(fast, "floor_seconds")) << " ("
        << view::str(fast, "bound_by", "no ceiling") << ")\n"
        << "  baseline: " << view::str(base, "op") << " " << view::str(base, "impl") << ", "
        << view::str(base, "agreement", "-") << ", floor "
        << view::format_time(view::number(base, "floor_seconds")) << " ("
        << view::str(base, "bound_by", "no ceiling") << ")\n";
    if (!view::str(c, "note").empty()) out << "  note: " << view::str(c, "note") << "\n";
    if (view::str(c, "status") != "measured")
      out << "  NOT MEASURED: " << view::str(c, "status") << "\n";
  }
}

}  // namespace opbench::reports
