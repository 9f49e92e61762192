#include "harness/agreement.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <utility>
#include <vector>

namespace opbench {

const char* status_name(AgreementStatus s) {
  switch (s) {
    case AgreementStatus::not_applicable:
      return "not_applicable";
    case AgreementStatus::pass:
      return "pass";
    case AgreementStatus::fail:
      return "fail";
    case AgreementStatus::xfail:
      return "xfail";
    case AgreementStatus::error:
      return "error";
  }
  return "error";
}

bool parse_status(const std::string& name, AgreementStatus& out) {
  for (AgreementStatus s :
       {AgreementStatus::not_applicable, AgreementStatus::pass, AgreementStatus::fail,
        AgreementStatus::xfail, AgreementStatus::error}) {
    if (name == status_name(s)) {
      out = s;
      return true;
    }
  }
  return false;
}

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

ElementChecker::ElementChecker(std::string name, Shape shape)
    : name_(std::move(name)), shape_(std::move(shape)) {
  a_.checked = true;
}

void ElementChecker::record_mismatch(std::int64_t flat, double o, double r) {
  if (a_.mismatches == 0) {
    std::ostringstream msg;
    msg.precision(9);
    msg << name_ << index_string(shape_, flat) << ": got " << o << ", want " << r;
    a_.first_mismatch = msg.str();
  }
  ++a_.mismatches;
}

void ElementChecker::note_first(const std::string& note) {
  a_.first_mismatch += " (" + note + ")";
}

void ElementChecker::mismatch(const std::string& what) {
  if (a_.mismatches == 0) a_.first_mismatch = what;
  ++a_.mismatches;
}

Agreement ElementChecker::finish() {
  a_.checked = true;
  a_.rel_l2_err = ref2_ > 0 ? std::sqrt(diff2_ / ref2_) : std::sqrt(diff2_);
  a_.passed = a_.mismatches == 0;
  return a_;
}

namespace {
// The largest finite value of each float dtype: anything of smaller magnitude is representable
// as far as overflow goes, which settles almost every element without a conversion.
double largest_finite(DType t) {
  switch (t) {
    case DType::f32:
      return std::numeric_limits<float>::max();
    case DType::f16:
      return 65504.0;
    case DType::bf16:
      return 0x1.FEp127;
    default:
      return std::numeric_limits<double>::max();
  }
}
}  // namespace

double representable_reference(double r, DType out) {
  if (!std::isfinite(r) || std::abs(r) <= largest_finite(out)) return r;
  bool overflows = false;
  switch (out) {
    case DType::f32:
      overflows = std::isinf(static_cast<float>(r));
      break;
    case DType::f16:
      overflows = std::isinf(to_double(to_f16(r)));
      break;
    case DType::bf16:
      overflows = std::isinf(to_double(to_bf16(r)));
      break;
    default:
      break;
  }
  return overflows ? std::copysign(std::numeric_limits<double>::infinity(), r) : r;
}

Agreement compare_tensor(const std::string& name, const Tensor& out, const Tensor& ref,
                         Tolerance tol, bool exact) {
  if (out.shape() != ref.shape()) {
    ElementChecker c(name, ref.shape());
    c.mismatch(name + ": shape " + shape_string(out.shape()) + ", want " +
               shape_string(ref.shape()));
    Agreement a = c.finish();
    a.mismatches = std::max<std::int64_t>(out.numel(), 1);
    return a;
  }
  ElementChecker c(name, ref.shape());
  // Where rtol * |ref| >= atol the rule is relative; below, atol governs.
  const double rel_floor = tol.rtol > 0 ? tol.atol / tol.rtol : 0;
  const std::int64_t n = ref.numel();
  // Both tensors are widened a block at a time: one dtype switch per block, not per element.
  constexpr std::int64_t kBlock = 2048;
  std::vector<double> outs(kBlock), refs(kBlock);
  for (std::int64_t first = 0; first < n; first += kBlock) {
    const std::int64_t m = std::min(kBlock, n - first);
    out.values_as_double(first, m, outs.data());
    ref.values_as_double(first, m, refs.data());
    for (std::int64_t k = 0; k < m; ++k) {
      const double r = exact ? refs[k] : representable_reference(refs[k], out.dtype());
      const double allowed = exact || std::isinf(r) ? 0 : tol.atol + tol.rtol * std::abs(r);
      c.element(first + k, outs[k], r, allowed, rel_floor);
    }
  }
  return c.finish();
}

void merge_agreement(Agreement& total, const Agreement& part) {
  if (!total.checked) {
    total = part;
    return;
  }
  total.err_ratio = std::max(total.err_ratio, part.err_ratio);
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
