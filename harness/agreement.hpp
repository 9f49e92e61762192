#pragma once
// The agreement rule of DESIGN.md: |out - ref| <= atol + rtol * |ref| element by element, NaN and
// Inf positions must match, index outputs must match exactly.
#include <cstdint>
#include <string>

#include "harness/op.hpp"
#include "harness/tensor.hpp"

namespace opbench {

struct Agreement {
  bool checked = false;  // false for the reference itself and for cases that were not run
  bool passed = false;
  double max_abs_err = 0;
  double max_rel_err = 0;
  double rel_l2_err = 0;        // ||out - ref|| / ||ref|| over the finite elements
  std::int64_t mismatches = 0;  // elements out of tolerance (NaN/Inf position mismatches included)
  std::int64_t elements = 0;    // elements compared
  std::string first_mismatch;   // "y[3, 17]: got 1.5, want 1.25" (empty when none)
};

// Compares one output against its float64 (or i64) reference.
Agreement compare_tensor(const std::string& name, const Tensor& out, const Tensor& ref,
                         Tolerance tol, bool exact);
// Folds the result for another output of the same case into `total`.
void merge_agreement(Agreement& total, const Agreement& part);

}  // namespace opbench
