#pragma once
// The agreement rule of DESIGN.md: |out - ref| <= atol + rtol * |ref| element by element, NaN and
// Inf positions must match, index outputs must match exactly. Ops with rules of their own (a
// bound that grows with a scan's length, routing with ties) fold their elements through the same
// ElementChecker, so every rule reports the same numbers.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "harness/agreement_result.hpp"
#include "harness/tensor.hpp"

namespace opbench {

// Folds the element comparisons of one output into an Agreement.
class ElementChecker {
 public:
  ElementChecker(std::string name, Shape shape);

  // One numeric element: within when |out - ref| <= allowed (allowed 0: exactly equal). NaN and
  // Inf positions (and an Inf's sign) must match. The relative error is recorded where
  // |ref| >= rel_floor, where the rule is relative.
  // Inline: it runs once per output element of every case.
  bool element(std::int64_t flat, double out, double ref, double allowed, double rel_floor) {
    ++a_.elements;
    bool ok;
    if (!std::isfinite(ref) || !std::isfinite(out)) {
      // NaN and Inf positions (and the sign of an Inf) must match exactly.
      ok = (std::isnan(ref) && std::isnan(out)) || (std::isinf(ref) && out == ref);
    } else {
      const double d = std::abs(out - ref);
      a_.max_abs_err = std::max(a_.max_abs_err, d);
      if (std::abs(ref) >= rel_floor && ref != 0) {
        a_.max_rel_err = std::max(a_.max_rel_err, d / std::abs(ref));
      }
      if (allowed > 0) a_.err_ratio = std::max(a_.err_ratio, d / allowed);
      diff2_ += d * d;
      ref2_ += ref * ref;
      ok = allowed > 0 ? d <= allowed : out == ref;
    }
    if (!ok) record_mismatch(flat, out, ref);
    return ok;
  }
  // Appends " (note)" to the first mismatch, right after element() reported it.
  void note_first(const std::string& note);
  // An element that is wrong for a reason of its own (an index out of range, a wrong route).
  void mismatch(const std::string& what);
  // Elements compared that element() did not see (a route checked as a whole).
  void count(std::int64_t n) { a_.elements += n; }

  const Agreement& partial() const { return a_; }
  Agreement finish();  // sets checked, passed and rel_l2_err

 private:
  void record_mismatch(std::int64_t flat, double out, double ref);

  std::string name_;
  Shape shape_;
  Agreement a_;
  double diff2_ = 0, ref2_ = 0;
};

// "[3, 17]": the index of flat position `flat` in `shape`.
std::string index_string(const Shape& shape, std::int64_t flat);

// The reference value as an output of dtype `out` can hold it where that matters: a finite value
// beyond the dtype's range rounds to an infinity of its sign (EvoNorm under a 1e4 offset gives
// 3.4e6, which float16 cannot store), and that infinity is the one right answer. Otherwise `r`.
double representable_reference(double r, DType out);

// Compares one output against its float64 (or i64) reference with the atol + rtol rule.
Agreement compare_tensor(const std::string& name, const Tensor& out, const Tensor& ref,
                         Tolerance tol, bool exact);
// Folds the result for another output of the same case into `total`.
void merge_agreement(Agreement& total, const Agreement& part);

}  // namespace opbench
