#include "harness/gbench_driver.hpp"

#include <regex>
#include <sstream>

#include "harness/errors.hpp"

namespace opbench {

namespace {
std::string g_filter;
int g_repetitions = 1;
int g_interleaving = -1;
bool g_aggregates_only = false;

// A Google Benchmark boolean flag's value: "--flag" alone or =true/1/yes is true.
bool flag_true(const std::string& flag) {
  const auto eq = flag.find('=');
  if (eq == std::string::npos) return true;
  const std::string v = flag.substr(eq + 1);
  return v == "true" || v == "1" || v == "yes" || v == "on";
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

double to_seconds(double value, const std::string& unit) {
  if (unit == "ns") return value * 1e-9;
  if (unit == "us") return value * 1e-6;
  if (unit == "ms") return value * 1e-3;
  return value;
}
}  // namespace

void init_gbench(const std::vector<std::string>& flags) {
  // Google Benchmark keeps argv[0] for the report's context: the strings must outlive this call.
  static std::vector<std::string> args;
  args = {"opbench"};
  g_filter.clear();
  g_repetitions = 1;
  g_interleaving = -1;
  g_aggregates_only = false;
  for (const auto& f : flags) {
    if (starts_with(f, "--benchmark_repetitions=")) {
      try {
        g_repetitions = std::stoi(f.substr(std::string("--benchmark_repetitions=").size()));
      } catch (const std::exception&) {
        g_repetitions = 0;
      }
      if (g_repetitions < 1) throw UsageError(f + ": repetitions must be a positive integer");
    }
    if (starts_with(f, "--benchmark_enable_random_interleaving")) {
      g_interleaving = flag_true(f) ? 1 : 0;
      continue;  // opbench interleaves across its own cases (one benchmark per Google run)
    }
    if (starts_with(f, "--benchmark_report_aggregates_only")) g_aggregates_only = flag_true(f);
    if (f.rfind("--benchmark_out", 0) == 0) {
      throw UsageError(f + ": opbench writes the report itself; use --json FILE");
    }
    if (f.rfind("--benchmark_filter=", 0) == 0) {
      g_filter = f.substr(std::string("--benchmark_filter=").size());
      try {
        std::regex check(g_filter[0] == '-' ? g_filter.substr(1) : g_filter);
      } catch (const std::regex_error& e) {
        throw UsageError(f + ": not a valid regular expression (" + e.what() + ")");
      }
      continue;  // applied by opbench to case names, before any data is made
    }
    args.push_back(f);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int argc = static_cast<int>(args.size());
  benchmark::Initialize(&argc, argv.data());
  if (argc > 1) throw UsageError(std::string("unknown Google Benchmark flag: ") + argv[1]);
}

std::string gbench_filter() {
  return g_filter;
}

int gbench_repetitions() {
  return g_repetitions;
}

int gbench_random_interleaving() {
  return g_interleaving;
}

bool gbench_aggregates_only() {
  return g_aggregates_only;
}

bool gbench_filter_matches(const std::string& filter, const std::string& name) {
  if (filter.empty() || filter == "all") return true;
  bool negate = filter[0] == '-';
  std::regex re(negate ? filter.substr(1) : filter);
  return std::regex_search(name, re) != negate;
}

GbenchResult run_gbench(const std::string& name, ClockKind clock,
                        const std::function<void(benchmark::State&)>& body, int repetitions,
                        std::int64_t iterations) {
  benchmark::ClearRegisteredBenchmarks();
  auto* b = benchmark::RegisterBenchmark(name.c_str(), body);
  if (repetitions > 0) b->Repetitions(repetitions);
  if (iterations > 0) b->Iterations(iterations);
  if (clock == ClockKind::manual_time) {
    b->UseManualTime();
  } else {
    b->UseRealTime();  // the kernels run on OpenMP threads: the main thread's CPU time is not it
  }
  std::ostringstream out, err;
  benchmark::JSONReporter reporter;
  reporter.SetOutputStream(&out);
  reporter.SetErrorStream(&err);
  benchmark::RunSpecifiedBenchmarks(&reporter, "all");
  benchmark::ClearRegisteredBenchmarks();
  auto doc = nlohmann::json::parse(out.str());
  GbenchResult r;
  r.context = doc.value("context", nlohmann::json::object());
  r.benchmarks = doc.value("benchmarks", nlohmann::json::array());
  return r;
}

double representative_seconds(const nlohmann::json& benchmarks) {
  double sum = 0;
  int n = 0;
  for (const auto& b : benchmarks) {
    if (b.value("error_occurred", false)) return 0;
    const std::string unit = b.value("time_unit", "ns");
    if (b.value("run_type", "") == "aggregate" && b.value("aggregate_name", "") == "median") {
      return to_seconds(b.value("real_time", 0.0), unit);
    }
    if (b.value("run_type", "") == "iteration") {
      sum += to_seconds(b.value("real_time", 0.0), unit);
      ++n;
    }
  }
  return n ? sum / n : 0;
}

double fastest_seconds(const nlohmann::json& benchmarks) {
  double best = 0;
  for (const auto& b : benchmarks) {
    if (b.value("error_occurred", false)) return 0;
    if (b.value("run_type", "") != "iteration") continue;
    const double t = to_seconds(b.value("real_time", 0.0), b.value("time_unit", "ns"));
    if (t > 0 && (best == 0 || t < best)) best = t;
  }
  return best;
}

}  // namespace opbench
