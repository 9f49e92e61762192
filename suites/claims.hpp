#pragma once
// The papers' headline speed claims that `opbench claims` measures (harness/claim.hpp).
#include <vector>

#include "harness/claim.hpp"
#include "harness/runner.hpp"

namespace opbench {

// Every claim, in the order the table prints them.
const std::vector<PaperClaim>& paper_claims();

// The selection that plans exactly one side of a claim: its op, its impl, float32, its axes.
Selection claim_side_selection(const ClaimSide& side);

}  // namespace opbench
