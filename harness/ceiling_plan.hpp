#pragma once
// The ceilings a run needs, measured before its cases: each timed backend's compute ceiling (a
// large SGEMM) and a copy of each distinct size (within 10%) per backend. Timed like the kernels:
// through Google Benchmark in the backend's default timing mode, on the same threads, their time
// the median of repetitions.
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
