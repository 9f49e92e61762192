#pragma once
// The ceilings a run needs, measured before its cases: a large SGEMM on the host when any host
// case is timed, and a copy of each distinct size (within 10%) per backend. Timed like the
// kernels: through Google Benchmark, on the same threads, their time the median of repetitions.
#include <string>
#include <vector>

#include "harness/results.hpp"
#include "harness/runner.hpp"

namespace opbench {

// Repetitions of each ceiling (their median is its time, as for the kernels).
inline constexpr int kCeilingRepetitions = 5;

// Ceilings for the timed cases of `plan` that pass `filter` (a Google Benchmark filter). A
// ceiling that cannot be measured is left out: fractions against it stay unknown.
std::vector<Ceiling> measure_ceilings(const std::vector<CasePlan>& plan, const std::string& filter,
                                      bool progress);

}  // namespace opbench
