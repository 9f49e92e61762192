#include "harness/timing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace opbench {

GbenchRun time_kernel(const std::string& name, TimingStrategy& timing, BoundKernel& kernel,
                      int repetitions, std::int64_t iterations) {
  std::string thrown;
  GbenchRun r = run_gbench(
      name, timing.manual_time() ? ClockKind::manual_time : ClockKind::real_time,
      [&](benchmark::State& st) {
        try {
          timing.measure(st, kernel);
        } catch (const std::exception& e) {
          thrown = e.what();
          st.SkipWithError(thrown.c_str());
        }
      },
      repetitions, iterations);
  if (!thrown.empty()) r.error = thrown;
  return r;
}

double min_time_seconds(const std::vector<std::string>& flags) {
  const std::string key = "--benchmark_min_time=";
  double seconds = 0;
  for (const std::string& f : flags) {
    if (f.rfind(key, 0) != 0) continue;
    std::string value = f.substr(key.size());
    if (!value.empty() && value.back() == 's') value.pop_back();
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    seconds = !value.empty() && end && *end == '\0' && v > 0 && std::isfinite(v) ? v : 0;
  }
  return seconds;
}

std::int64_t iterations_filling(double min_time, double call_seconds) {
  constexpr double kMost = 1e9;  // Google Benchmark's own cap on iterations
  const double n = std::ceil(min_time / std::max(call_seconds, 1e-9));
  return static_cast<std::int64_t>(std::clamp(n, 1.0, kMost));
}

}  // namespace opbench
