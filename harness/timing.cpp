#include "harness/timing.hpp"

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

}  // namespace opbench
