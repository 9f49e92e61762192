// The host's backends: "cpu" (wall-clock timing through Google Benchmark's loop, the copy and
// OpenBLAS SGEMM ceilings, the host's available memory) and "ref", the float64 reference, which
// runs on the host but is not timed.
#include <omp.h>

#include <cstdlib>
#include <string>

#include "harness/backend.hpp"
#include "harness/build_info.hpp"
#include "harness/ceilings.hpp"
#include "harness/timing.hpp"

namespace opbench {

namespace {

// Host wall-clock through Google Benchmark's own loop: it picks the iteration count and times it.
// A kernel with accumulate-into outputs has them zeroed before every run, with the clock paused
// (PauseTiming costs a few clock reads, far below such a kernel's time).
class HostWallTiming final : public TimingStrategy {
 public:
  bool manual_time() const override { return false; }
  void measure(benchmark::State& state, BoundKernel& kernel) override {
    if (kernel.accumulates()) {
      kernel.reset_accumulators();
      kernel.run();  // warm-up, as below
      for (auto _ : state) {
        state.PauseTiming();
        kernel.reset_accumulators();
        state.ResumeTiming();
        kernel.run();
      }
      return;
    }
    kernel.run();  // warm-up: first-touch pages, caches, lazy initialisation in peers
    for (auto _ : state) kernel.run();
  }
};

// The size of the host SGEMM ceiling: large enough that OpenBLAS runs at its best on every core.
constexpr int kSgemmSize = 1024;

class HostBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  BackendStatus status() const override {
    return {"cpu", true, cpu_model_name() + ", " + std::to_string(hardware_threads()) + " threads"};
  }
  std::vector<std::string> timing_modes() const override { return {"wall"}; }
  std::unique_ptr<TimingStrategy> timing(const std::string& mode) const override {
    return mode == "wall" ? std::make_unique<HostWallTiming>() : nullptr;
  }
  std::unique_ptr<BoundKernel> copy_ceiling(double bytes) const override {
    return make_host_copy(bytes);
  }
  CeilingKernel compute_ceiling() const override {
    const double n = kSgemmSize;
    return {make_host_sgemm(kSgemmSize), 2.0 * n * n * n, "sgemm"};
  }
  std::uint64_t memory_available() const override { return available_memory_bytes(); }
  std::vector<std::string> devices() const override {
    // The OpenMP wait policy moves small kernels by 2x on these VMs: a report must say which.
    const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
    const char* spin_count = std::getenv("GOMP_SPINCOUNT");
    return {"cpu: " + cpu_model_name() + ", " + std::to_string(omp_get_max_threads()) +
            " threads, OMP_WAIT_POLICY=" + (wait_policy ? wait_policy : "default") +
            (spin_count ? std::string(", GOMP_SPINCOUNT=") + spin_count : "")};
  }
};

// The float64 reference: the contract every implementation is compared with, computed once per
// dataset on the host and never timed (a float64 loop is no baseline for a kernel).
class ReferenceBackend final : public Backend {
 public:
  std::string name() const override { return "ref"; }
  BackendStatus status() const override {
    return {"ref", true, "float64 reference, one thread, not timed"};
  }
  std::vector<std::string> timing_modes() const override { return {}; }
  std::unique_ptr<TimingStrategy> timing(const std::string&) const override { return nullptr; }
  std::unique_ptr<BoundKernel> copy_ceiling(double) const override { return nullptr; }
  CeilingKernel compute_ceiling() const override { return {}; }
  std::uint64_t memory_available() const override { return available_memory_bytes(); }
  std::vector<std::string> devices() const override { return {}; }
};

}  // namespace

std::unique_ptr<Backend> make_host_backend() {
  return std::make_unique<HostBackend>();
}

std::unique_ptr<Backend> make_reference_backend() {
  return std::make_unique<ReferenceBackend>();
}

}  // namespace opbench
