// Per-element error bounds of the scan family (the reasoning is in scan_agreement.hpp).
#include "suites/scan_agreement.hpp"

#include <cmath>
#include <sstream>

#include "harness/agreement.hpp"
#include "suites/common.hpp"

namespace opbench::suite::scan {

double depth_factor(std::int64_t T) {
  int levels = 0;
  while ((std::int64_t{1} << levels) < T) ++levels;
  return 2.0 * (1 + levels);
}

std::vector<double> forward_error_units(const double* a, const double* b, const double* h0,
                                        std::int64_t batch, std::int64_t T, std::int64_t D) {
  std::vector<double> e(static_cast<std::size_t>(batch * T * D));
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t d = 0; d < D; ++d) {
      double c = std::abs(h0[n * D + d]), err = 0.0;
      for (std::int64_t t = 0; t < T; ++t) {
        const std::int64_t i = (n * T + t) * D + d;
        c = std::abs(a[i]) * c + std::abs(b[i]);
        err = std::abs(a[i]) * err + 2.0 * c;
        e[static_cast<std::size_t>(i)] = err;
      }
    }
  }
  return e;
}

std::vector<double> backward_error_units(const double* a, const double* g, std::int64_t batch,
                                         std::int64_t T, std::int64_t D,
                                         std::vector<double>& magnitude) {
  std::vector<double> e(static_cast<std::size_t>(batch * T * D));
  magnitude.assign(e.size(), 0.0);
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t d = 0; d < D; ++d) {
      double c = 0.0, err = 0.0, a_next = 0.0;
      for (std::int64_t t = T - 1; t >= 0; --t) {
        const std::int64_t i = (n * T + t) * D + d;
        c = std::abs(a_next) * c + std::abs(g[i]);
        err = std::abs(a_next) * err + 2.0 * c;
        e[static_cast<std::size_t>(i)] = err;
        magnitude[static_cast<std::size_t>(i)] = c;
        a_next = a[i];
      }
    }
  }
  return e;
}

Agreement compare_within(const std::string& name, const Tensor& out, const Tensor& ref,
                         const std::vector<double>& bound) {
  ElementChecker c(name, ref.shape());
  const std::int64_t n = ref.numel();
  if (out.shape() != ref.shape() || static_cast<std::int64_t>(bound.size()) != n) {
    c.mismatch(name + ": shape " + shape_string(out.shape()) + ", want " +
               shape_string(ref.shape()));
    Agreement a = c.finish();
    a.mismatches = std::max<std::int64_t>(out.numel(), 1);
    return a;
  }
  // A 16-bit output is the float32 evaluation rounded once more: plus u |ref| of its dtype and
  // half its subnormal spacing; a reference beyond the dtype's range wants the infinity.
  const double rounding = storage_rounding(out.dtype());
  const double floor = storage_rounding_floor(out.dtype());
  for (std::int64_t i = 0; i < n; ++i) {
    const double r = representable_reference(ref.value_as_double(i), out.dtype());
    const double allowed =
        std::isinf(r) ? 0 : bound[static_cast<std::size_t>(i)] + rounding * std::abs(r) + floor;
    // The bound is absolute; the relative error is recorded where it allows at most a tenth of
    // |ref| (elsewhere the output is too near zero for a relative error to mean anything).
    if (!c.element(i, out.value_as_double(i), r, allowed, 10 * allowed) &&
        c.partial().mismatches == 1) {
      std::ostringstream note;
      note.precision(9);
      note << "allowed error " << allowed;
      c.note_first(note.str());
    }
  }
  return c.finish();
}

}  // namespace opbench::suite::scan
