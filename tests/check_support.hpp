#pragma once
// What the suite tests share: `opbench check` in-process, through the real planner and runner
// (agreement only, no timing), on the seeded datasets.
#include "datasets/provider.hpp"
#include "harness/runner.hpp"

namespace opbench::test_support {

inline RunResult check_selection(const Registry& reg, const Selection& sel,
                                 bool full_check = false) {
  datasets::SeededDataProvider data;
  auto plan = plan_cases(reg, sel, data);
  RunOptions opt;
  opt.time = false;
  opt.full_check = full_check;
  return run_cases(reg, plan, data, sel, opt);
}

}  // namespace opbench::test_support
