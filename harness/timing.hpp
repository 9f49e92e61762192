#pragma once
// How one case is timed inside Google Benchmark's loop. Each backend gives its strategies (host
// wall-clock, device events with manual time); ops never time themselves.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

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

// The seconds of a `--benchmark_min_time=<seconds>[s]` among Google Benchmark's `flags` (the last
// one wins, as in Google Benchmark); 0 when there is none or it gives an iteration count ("100x").
double min_time_seconds(const std::vector<std::string>& flags);

// Iterations of a call that takes `call_seconds` filling `min_time` seconds (at least 1). Google
// Benchmark finds the count by running 1, 10, 100, ... iterations until one batch lasts long
// enough, about as long again as the measurement; a case whose untimed call was just timed
// gives the count straight away.
std::int64_t iterations_filling(double min_time, double call_seconds);

}  // namespace opbench
