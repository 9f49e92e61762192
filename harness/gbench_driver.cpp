#include "harness/gbench_driver.hpp"

#include <regex>
#include <sstream>

#include "harness/errors.hpp"

namespace opbench {

namespace {
std::string g_filter;

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
  for (const auto& f : flags) {
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

bool gbench_filter_matches(const std::string& filter, const std::string& name) {
  if (filter.empty() || filter == "all") return true;
  bool negate = filter[0] == '-';
  std::regex re(negate ? filter.substr(1) : filter);
  return std::regex_search(name, re) != negate;
}

GbenchResult run_gbench(const std::string& name, ClockKind clock,
                        const std::function<void(benchmark::State&)>& body, int repetitions) {
  benchmark::ClearRegisteredBenchmarks();
  auto* b = benchmark::RegisterBenchmark(name.c_str(), body);
  if (repetitions > 0) b->Repetitions(repetitions);
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
