#pragma once
// The papers' claims measured in a run (`opbench claims`): per claim, the two cases' times, the
// speed-up measured here, its ratio to the paper's figure, and the speed-up the machine's own
// ceilings allow (each side's roofline floor: its bytes at the copy ceiling or its flops at the
// SGEMM ceiling, whichever takes longer). Written into the report as opbench.claims, printed as
// a table, and shown by the HTML page.
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "harness/claim.hpp"
#include "reports/report_model.hpp"

namespace opbench::reports {

// A claim with the names of the run's cases that stand for its sides.
struct PlannedClaim {
  PaperClaim claim;
  std::string fast_case, baseline_case;
};

// opbench.claims: one object per claim (docs in reports/claims.cpp). A side whose case is
// missing, errored or failed agreement gives no speed-up, and the claim says why.
nlohmann::json evaluate_claims(const std::vector<PlannedClaim>& claims, const RunData& run);

// The table of opbench.claims (paper figure, measured, measured / paper, the ceilings' bound),
// then each claim's conditions, paper and here.
void print_claims(const nlohmann::json& claims, std::ostream& out);

}  // namespace opbench::reports
