#include "harness/gbench_driver.hpp"

#include <ctime>
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
    // Aggregates-only is applied by opbench's JSON writer: Google Benchmark would then hand its
    // reporter no repetitions, and every statistic here starts from them. The console summary
    // shows one time per case anyway, so the display flag has nothing left to change.
    if (starts_with(f, "--benchmark_report_aggregates_only")) {
      g_aggregates_only = flag_true(f);
      continue;
    }
    if (starts_with(f, "--benchmark_display_aggregates_only")) continue;
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

namespace {

// Receives Google Benchmark's runs as typed data. Aggregates (mean, median, ...) are skipped:
// opbench computes them from the repetitions, the same way, wherever they are needed.
class CaptureReporter final : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration) continue;
      if (r.error_occurred) {
        result.error =
            r.error_message.empty() ? "Google Benchmark reported an error" : r.error_message;
        continue;
      }
      Repetition rep;
      rep.iterations = static_cast<std::int64_t>(r.iterations);
      const double n = r.iterations > 0 ? static_cast<double>(r.iterations) : 1.0;
      rep.seconds = r.real_accumulated_time / n;  // seconds, manual time included
      rep.cpu_seconds = r.cpu_accumulated_time / n;
      for (const auto& [name, counter] : r.counters) rep.counters[name] = counter.value;
      result.repetitions.push_back(std::move(rep));
    }
  }
  GbenchRun result;
};

// The local time as Google Benchmark's context writes it (RFC 3339: "2026-12-04T02:25:02+00:00");
// strftime's %z gives "+0000", so the offset's colon is put in by hand.
std::string local_date() {
  std::time_t now = std::time(nullptr);
  char date[64];
  const std::size_t n =
      std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S%z", std::localtime(&now));
  std::string text(date, n);
  if (text.size() >= 5 && (text[text.size() - 5] == '+' || text[text.size() - 5] == '-')) {
    text.insert(text.size() - 2, ":");
  }
  return text;
}

}  // namespace

GbenchRun run_gbench(const std::string& name, ClockKind clock,
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
  CaptureReporter reporter;
  std::ostringstream quiet;  // Google Benchmark writes nothing opbench needs to its streams
  reporter.SetOutputStream(&quiet);
  reporter.SetErrorStream(&quiet);
  benchmark::RunSpecifiedBenchmarks(&reporter, "all");
  benchmark::ClearRegisteredBenchmarks();
  if (reporter.result.repetitions.empty() && reporter.result.error.empty()) {
    reporter.result.error = "Google Benchmark ran no repetition";
  }
  return std::move(reporter.result);
}

nlohmann::json gbench_context() {
  const benchmark::CPUInfo& cpu = benchmark::CPUInfo::Get();
  const benchmark::SystemInfo& sys = benchmark::SystemInfo::Get();
  nlohmann::json caches = nlohmann::json::array();
  for (const auto& c : cpu.caches) {
    caches.push_back(
        {{"type", c.type}, {"level", c.level}, {"size", c.size}, {"num_sharing", c.num_sharing}});
  }
  nlohmann::json context = {{"date", local_date()},
                            {"host_name", sys.name},
                            {"executable", "opbench"},
                            {"num_cpus", cpu.num_cpus},
                            {"mhz_per_cpu", static_cast<long>(cpu.cycles_per_second / 1e6)},
                            {"caches", caches},
                            {"load_avg", cpu.load_avg}};
  if (cpu.scaling != benchmark::CPUInfo::UNKNOWN) {
    context["cpu_scaling_enabled"] = cpu.scaling == benchmark::CPUInfo::ENABLED;
  }
  return context;
}

}  // namespace opbench
