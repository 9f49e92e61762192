#pragma once
// How one case is timed inside Google Benchmark's loop. Each backend gives its strategies (host
// wall-clock, device events with manual time); ops never time themselves.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "harness/gbench_driver.hpp"
#include "harness/op.hpp"

namespace opbench {

class TimingStrategy {
 public:
  virtual ~TimingStrategy() = default;
  virtual bool manual_time() const = 0;
  virtual void measure(benchmark::State& state, BoundKernel& kernel) = 0;
};

// Times `kernel` as one Google Benchmark run named `name` with `timing`. A kernel that throws
// ends its benchmark with SkipWithError; its message comes back in GbenchRun::error, never as an
// exception through Google Benchmark.
GbenchRun time_kernel(const std::string& name, TimingStrategy& timing, BoundKernel& kernel,
                      int repetitions = 0, std::int64_t iterations = 0);

}  // namespace opbench
