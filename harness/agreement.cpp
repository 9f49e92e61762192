#include "harness/agreement.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace opbench {

namespace {
std::string index_string(const Shape& shape, std::int64_t flat) {
  std::vector<std::int64_t> idx(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  std::string s = "[";
  for (std::size_t d = 0; d < idx.size(); ++d) s += (d ? ", " : "") + std::to_string(idx[d]);
  return s + "]";
}
}  // namespace

Agreement compare_tensor(const std::string& name, const Tensor& out, const Tensor& ref,
                         Tolerance tol, bool exact) {
  Agreement a;
  a.checked = true;
  if (out.shape() != ref.shape()) {
    a.mismatches = std::max<std::int64_t>(out.numel(), 1);
    a.first_mismatch =
        name + ": shape " + shape_string(out.shape()) + ", want " + shape_string(ref.shape());
    a.passed = false;
    return a;
  }
  const std::int64_t n = ref.numel();
  double diff2 = 0, ref2 = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double o = out.value_as_double(i);
    const double r = ref.value_as_double(i);
    bool bad;
    if (std::isnan(r) || std::isnan(o) || std::isinf(r) || std::isinf(o)) {
      // NaN and Inf positions (and the sign of an Inf) must match exactly.
      bad = !((std::isnan(r) && std::isnan(o)) || (std::isinf(r) && o == r));
    } else {
      const double d = std::abs(o - r);
      a.max_abs_err = std::max(a.max_abs_err, d);
      if (r != 0) a.max_rel_err = std::max(a.max_rel_err, d / std::abs(r));
      diff2 += d * d;
      ref2 += r * r;
      bad = exact ? (o != r) : !(d <= tol.atol + tol.rtol * std::abs(r));
    }
    if (bad) {
      if (a.mismatches == 0) {
        std::ostringstream msg;
        msg.precision(9);
        msg << name << index_string(ref.shape(), i) << ": got " << o << ", want " << r;
        a.first_mismatch = msg.str();
      }
      ++a.mismatches;
    }
  }
  a.elements = n;
  a.rel_l2_err = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
  a.passed = a.mismatches == 0;
  return a;
}

void merge_agreement(Agreement& total, const Agreement& part) {
  if (!total.checked) {
    total = part;
    return;
  }
  total.max_abs_err = std::max(total.max_abs_err, part.max_abs_err);
  total.max_rel_err = std::max(total.max_rel_err, part.max_rel_err);
  total.rel_l2_err = std::max(total.rel_l2_err, part.rel_l2_err);
  if (total.first_mismatch.empty()) total.first_mismatch = part.first_mismatch;
  total.mismatches += part.mismatches;
  total.elements += part.elements;
  total.ties += part.ties;
  total.passed = total.passed && part.passed;
}

}  // namespace opbench
