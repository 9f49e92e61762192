#pragma once
// The agreement rule of DESIGN.md: |out - ref| <= atol + rtol * |ref| element by element, NaN and
// Inf positions must match, index outputs must match exactly.
#include <cstdint>
#include <string>

#include "harness/op.hpp"
#include "harness/tensor.hpp"

namespace opbench {

// Compares one output against its float64 (or i64) reference.
Agreement compare_tensor(const std::string& name, const Tensor& out, const Tensor& ref,
                         Tolerance tol, bool exact);
// Folds the result for another output of the same case into `total`.
void merge_agreement(Agreement& total, const Agreement& part);

}  // namespace opbench
