#pragma once
// Scalar float64 helpers shared by the references: plain loops in the order written, so every
// reference sums the same way (left to right, no pairing, no FMA contraction asked for).
#include <cmath>
#include <cstdint>

namespace opbench::ref {

inline double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

// sum_d a[d] * b[d], left to right.
inline double dot(const double* a, const double* b, std::int64_t n) {
  double s = 0.0;
  for (std::int64_t d = 0; d < n; ++d) s += a[d] * b[d];
  return s;
}

}  // namespace opbench::ref
