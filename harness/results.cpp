#include "harness/results.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "harness/descriptive_stats.hpp"

namespace opbench {

std::vector<double> Timing::samples() const {
  std::vector<double> v;
  for (const Repetition& r : repetitions) v.push_back(r.seconds);
  return v;
}

std::vector<double> Timing::cpu_samples() const {
  std::vector<double> v;
  for (const Repetition& r : repetitions) v.push_back(r.cpu_seconds);
  return v;
}

double Timing::seconds() const {
  return timed() ? stats::median(samples()) : 0;
}

double Timing::cv() const {
  return stats::cv(samples());
}

double Ceiling::gbps() const {
  const double s = seconds();
  return s > 0 && bytes > 0 ? bytes / s / 1e9 : 0;
}

double Ceiling::gflops() const {
  const double s = seconds();
  return s > 0 && flops > 0 ? flops / s / 1e9 : 0;
}

double ceiling_fraction(const Cost& cost, double seconds, double copy_gbps, double gemm_gflops) {
  if (seconds <= 0) return 0;
  double floor_seconds = 0;  // the least time the measured ceilings allow
  if (copy_gbps > 0) floor_seconds = std::max(floor_seconds, cost.bytes / (copy_gbps * 1e9));
  if (gemm_gflops > 0) floor_seconds = std::max(floor_seconds, cost.flops / (gemm_gflops * 1e9));
  return floor_seconds / seconds;
}

Rates case_rates(const CaseRecord& c, const std::vector<Ceiling>& ceilings) {
  Rates r;
  const double s = c.timing.seconds();
  if (!(s > 0)) return r;
  if (c.cost.bytes > 0) r.gbps = c.cost.bytes / s / 1e9;
  if (c.cost.flops > 0) r.gflops = c.cost.flops / s / 1e9;
  // The copy of the same size, else the nearest on a log scale (1 MiB is nearer to 2 MiB than to
  // 0.1 MiB); the SGEMM of the same backend.
  double copy_gbps = 0, gemm_gflops = 0;
  double best_distance = std::numeric_limits<double>::infinity();
  for (const Ceiling& k : ceilings) {
    if (k.backend != c.backend || !(k.seconds() > 0)) continue;
    if (k.kind == "copy" && k.bytes > 0 && c.cost.bytes > 0) {
      const double distance = std::abs(std::log(k.bytes / c.cost.bytes));
      if (distance < best_distance) {
        best_distance = distance;
        copy_gbps = k.gbps();
      }
    } else if (k.kind == "sgemm" && k.flops > 0) {
      gemm_gflops = std::max(gemm_gflops, k.gflops());
    }
  }
  if (copy_gbps > 0 || gemm_gflops > 0) {
    const double f = ceiling_fraction(c.cost, s, copy_gbps, gemm_gflops);
    if (std::isfinite(f) && f > 0) r.ceiling_fraction = f;
  }
  return r;
}

}  // namespace opbench
