// Per-element error bounds of the scan family (the reasoning is in scan_agreement.hpp).
#include "suites/scan_agreement.hpp"

#include <cmath>
#include <sstream>

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
  Agreement a;
  a.checked = true;
  const std::int64_t n = ref.numel();
  if (out.shape() != ref.shape() || static_cast<std::int64_t>(bound.size()) != n) {
    a.mismatches = std::max<std::int64_t>(out.numel(), 1);
    a.first_mismatch =
        name + ": shape " + shape_string(out.shape()) + ", want " + shape_string(ref.shape());
    return a;
  }
  double diff2 = 0, ref2 = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double o = out.value_as_double(i), r = ref.value_as_double(i);
    bool bad;
    if (!std::isfinite(o) || !std::isfinite(r)) {
      bad = !((std::isnan(r) && std::isnan(o)) || (std::isinf(r) && o == r));
    } else {
      const double d = std::abs(o - r);
      a.max_abs_err = std::max(a.max_abs_err, d);
      if (r != 0) a.max_rel_err = std::max(a.max_rel_err, d / std::abs(r));
      diff2 += d * d;
      ref2 += r * r;
      bad = !(d <= bound[static_cast<std::size_t>(i)]);
    }
    if (bad) {
      if (a.mismatches == 0) {
        std::ostringstream msg;
        msg.precision(9);
        msg << name << "[";
        std::int64_t rest = i;
        std::vector<std::int64_t> idx(ref.shape().size());
        for (std::size_t k = idx.size(); k-- > 0;) {
          idx[k] = rest % ref.shape()[k];
          rest /= ref.shape()[k];
        }
        for (std::size_t k = 0; k < idx.size(); ++k) msg << (k ? ", " : "") << idx[k];
        msg << "]: got " << o << ", want " << r << " (allowed error "
            << bound[static_cast<std::size_t>(i)] << ")";
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

}  // namespace opbench::suite::scan
