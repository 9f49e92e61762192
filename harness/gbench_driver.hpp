#pragma once
// Runs one benchmark through Google Benchmark and hands back its repetitions as typed data,
// received through a BenchmarkReporter as Google Benchmark's own reporters receive runs. One case
// at a time: each case's data lives only while it is timed, and its results are kept as soon as
// it finishes.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/results.hpp"

namespace opbench {

// Passes Google Benchmark flags (--benchmark_repetitions=3, ...) to benchmark::Initialize; throws
// UsageError for a flag it does not know or one opbench decides itself (--benchmark_out).
void init_gbench(const std::vector<std::string>& flags);
// The value of --benchmark_filter given to init_gbench ("" when none).
std::string gbench_filter();
// The value of --benchmark_repetitions given to init_gbench (1 when none).
int gbench_repetitions();
// --benchmark_enable_random_interleaving given to init_gbench: 1 true, 0 false, -1 not given.
// opbench interleaves repetitions itself, across its cases (harness/interleave.hpp).
int gbench_random_interleaving();
// --benchmark_report_aggregates_only=true given to init_gbench (opbench's JSON then lists only a
// case's aggregates; the repetitions are still received and kept).
bool gbench_aggregates_only();
// Whether `name` passes a Google Benchmark filter ("-" in front negates, as in Google Benchmark).
bool gbench_filter_matches(const std::string& filter, const std::string& name);

enum class ClockKind { real_time, manual_time };

struct GbenchRun {
  std::vector<Repetition> repetitions;
  std::string error;  // Google Benchmark's error message (SkipWithError); "" when none
};

// `repetitions` > 0 fixes the repetitions of this benchmark (else Google Benchmark's flag decides);
// `iterations` > 0 fixes its iteration count (else Google Benchmark grows it to the minimum time).
GbenchRun run_gbench(const std::string& name, ClockKind clock,
                     const std::function<void(benchmark::State&)>& body, int repetitions = 0,
                     std::int64_t iterations = 0);

// Google Benchmark's context of this process (date, host, CPUs, caches, load average), in the
// form its JSON reporter writes it.
nlohmann::json gbench_context();

}  // namespace opbench
