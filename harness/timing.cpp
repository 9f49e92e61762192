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

}  // namespace opbench
