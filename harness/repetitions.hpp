#pragma once
// Interleaved repetitions (Google Benchmark's "random interleaving", done across opbench's cases):
// each repetition of a case is its own one-repetition Google Benchmark run, taken in a different
// round of the whole selection. This file turns those separate runs back into what Google
// Benchmark writes for `--benchmark_repetitions=N`: the N iteration entries, numbered, then the
// mean, median, stddev and cv aggregates, so compare.py and `opbench compare` read them as usual.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace opbench {

// `runs` holds one entry per repetition, in the order taken, each as Google Benchmark reported a
// one-repetition run of the same benchmark. Appends the numbered entries and, for two or more,
// the aggregates to `out`, all under `run_name` (the name Google Benchmark gives the benchmark
// without the "/iterations:N/repeats:1" that fixing them per run adds). An entry with
// error_occurred is appended alone: the case failed.
void append_repetitions(const std::vector<nlohmann::json>& runs, const std::string& run_name,
                        bool aggregates_only, nlohmann::json& out);

}  // namespace opbench
