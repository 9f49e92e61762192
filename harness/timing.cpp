#include "harness/timing.hpp"

namespace opbench {

namespace {
// Host wall-clock through Google Benchmark's own loop: it picks the iteration count and times it.
class HostWallTiming final : public TimingStrategy {
 public:
  bool manual_time() const override { return false; }
  void measure(benchmark::State& state, BoundKernel& kernel) override {
    kernel.run();  // warm-up: first-touch pages, caches, lazy initialisation in peers
    for (auto _ : state) kernel.run();
  }
};
}  // namespace

std::unique_ptr<TimingStrategy> make_timing(const std::string& backend) {
  if (backend == "cuda") return make_cuda_event_timing();
  return std::make_unique<HostWallTiming>();
}

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
