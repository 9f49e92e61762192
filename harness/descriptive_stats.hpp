#pragma once
// Median, mean and spread of a sample, as Google Benchmark's aggregates compute them: one
// definition for the runner, the report writer and every reader of reports.
#include <algorithm>
#include <cmath>
#include <vector>

namespace opbench::stats {

// The middle value, or the mean of the two middle values of an even count; NaN when empty.
inline double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

inline double mean(const std::vector<double>& v) {
  if (v.empty()) return NAN;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// The sample standard deviation (n - 1); 0 for fewer than two values.
inline double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

// The coefficient of variation (stddev / mean) as a fraction; NaN for fewer than two values.
inline double cv(const std::vector<double>& v) {
  if (v.size() < 2) return NAN;
  const double m = mean(v);
  return m > 0 ? stddev(v) / m : NAN;
}

}  // namespace opbench::stats
