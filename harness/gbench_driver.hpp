#pragma once
// Runs one benchmark through Google Benchmark and hands back its JSON exactly as Google Benchmark
// writes it. One case at a time: each case's data lives only while it is timed, and its results
// are kept as soon as it finishes.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace opbench {

// Passes Google Benchmark flags (--benchmark_repetitions=3, ...) to benchmark::Initialize; throws
// UsageError for a flag it does not know or one opbench decides itself (--benchmark_out).
void init_gbench(const std::vector<std::string>& flags);
// The value of --benchmark_filter given to init_gbench ("" when none).
std::string gbench_filter();
// The value of --benchmark_repetitions given to init_gbench (1 when none).
int gbench_repetitions();
// --benchmark_enable_random_interleaving given to init_gbench: 1 true, 0 false, -1 not given.
// opbench interleaves repetitions itself, across its cases (harness/repetitions.hpp).
int gbench_random_interleaving();
// --benchmark_report_aggregates_only=true given to init_gbench.
bool gbench_aggregates_only();
// Whether `name` passes a Google Benchmark filter ("-" in front negates, as in Google Benchmark).
bool gbench_filter_matches(const std::string& filter, const std::string& name);

struct GbenchResult {
  nlohmann::json context;
  nlohmann::json benchmarks = nlohmann::json::array();
};

enum class ClockKind { real_time, manual_time };

// `repetitions` > 0 fixes the repetitions of this benchmark (else Google Benchmark's flag decides);
// `iterations` > 0 fixes its iteration count (else Google Benchmark grows it to the minimum time).
GbenchResult run_gbench(const std::string& name, ClockKind clock,
                        const std::function<void(benchmark::State&)>& body, int repetitions = 0,
                        std::int64_t iterations = 0);

// The representative time of one benchmark in seconds: the median aggregate when repetitions
// produced one, else the mean real time of its iteration entries; 0 when it errored.
double representative_seconds(const nlohmann::json& benchmarks);
// The fastest repetition in seconds (0 when it errored): a ceiling is the best the machine did.
double fastest_seconds(const nlohmann::json& benchmarks);

}  // namespace opbench
