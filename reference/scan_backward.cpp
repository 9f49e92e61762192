// Float64 reference of the log-space scan's backward pass (contract and equations in scan.hpp,
// log_scan_backward): the reverse-mode of Heinsen 2023 eq. 2 (log h_t = log(a_t h_{t-1} + b_t)),
// differentiated by hand. One plain sequential loop per (batch, channel), reverse over t.
#include <cmath>

#include "reference/scan.hpp"

namespace opbench::ref {

void log_scan_backward(const double* log_a, const double* log_b, const double* log_h0,
                       const double* log_h, const double* dlog_h, double* dlog_a, double* dlog_b,
                       double* dlog_h0, std::int64_t batch, std::int64_t T, std::int64_t D) {
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t d = 0; d < D; ++d) {
      // exp(log a_{t+1} + log h_t - log h_{t+1}) r_{t+1} = d log a_{t+1}; none after the last step.
      double carried = 0.0;
      for (std::int64_t t = T - 1; t >= 0; --t) {
        const std::int64_t i = (n * T + t) * D + d;
        const double log_h_prev = t > 0 ? log_h[i - D] : log_h0[n * D + d];
        const double r = dlog_h[i] + carried;  // r_t = dL/d(log h_t)
        dlog_b[i] = r * std::exp(log_b[i] - log_h[i]);
        dlog_a[i] = r * std::exp(log_a[i] + log_h_prev - log_h[i]);
        carried = dlog_a[i];
      }
      dlog_h0[n * D + d] = carried;  // d log a_0: r_0 exp(log a_0 + log h0 - log h_0)
    }
  }
}

}  // namespace opbench::ref
