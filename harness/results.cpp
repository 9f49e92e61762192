#include "harness/results.hpp"

#include <algorithm>

namespace opbench {

double ceiling_fraction(const Cost& cost, double seconds, double copy_gbps, double gemm_gflops) {
  if (seconds <= 0) return 0;
  double floor_seconds = 0;  // the least time the measured ceilings allow
  if (copy_gbps > 0) floor_seconds = std::max(floor_seconds, cost.bytes / (copy_gbps * 1e9));
  if (gemm_gflops > 0) floor_seconds = std::max(floor_seconds, cost.flops / (gemm_gflops * 1e9));
  return floor_seconds / seconds;
}

}  // namespace opbench
