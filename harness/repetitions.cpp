#include "harness/repetitions.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace opbench {

namespace {

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// Google Benchmark's median: the middle value, or the mean of the two middle values.
double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The sample standard deviation (n - 1), as Google Benchmark's stddev aggregate.
double stddev_of(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

nlohmann::json aggregate(const nlohmann::json& first, const std::string& name, const char* unit,
                         double real_time, double cpu_time, std::size_t repetitions) {
  nlohmann::json a = first;
  a.erase("repetition_index");
  a["name"] = first.value("run_name", "") + "_" + name;
  a["run_type"] = "aggregate";
  a["aggregate_name"] = name;
  a["aggregate_unit"] = unit;
  a["iterations"] = repetitions;  // Google Benchmark puts the repetition count here
  a["repetitions"] = repetitions;
  a["real_time"] = real_time;
  a["cpu_time"] = cpu_time;
  return a;
}

}  // namespace

void append_repetitions(const std::vector<nlohmann::json>& runs, const std::string& run_name,
                        bool aggregates_only, nlohmann::json& out) {
  for (const auto& r : runs) {
    if (r.value("error_occurred", false)) {
      nlohmann::json e = r;
      e["name"] = e["run_name"] = run_name;
      out.push_back(std::move(e));
      return;
    }
  }
  const std::size_t n = runs.size();
  std::vector<double> real, cpu;
  for (std::size_t i = 0; i < n; ++i) {
    real.push_back(runs[i].value("real_time", 0.0));
    cpu.push_back(runs[i].value("cpu_time", 0.0));
    if (aggregates_only && n > 1) continue;
    nlohmann::json e = runs[i];
    e["name"] = e["run_name"] = run_name;
    e["repetitions"] = n;
    e["repetition_index"] = i;
    out.push_back(std::move(e));
  }
  if (n < 2) return;
  nlohmann::json first = runs.front();
  first["run_name"] = run_name;
  const double mean_real = mean_of(real), mean_cpu = mean_of(cpu);
  const double sd_real = stddev_of(real), sd_cpu = stddev_of(cpu);
  out.push_back(aggregate(first, "mean", "time", mean_real, mean_cpu, n));
  out.push_back(aggregate(first, "median", "time", median_of(real), median_of(cpu), n));
  out.push_back(aggregate(first, "stddev", "time", sd_real, sd_cpu, n));
  // cv is a fraction (Google Benchmark's "percentage" unit holds 0.05 for 5%).
  out.push_back(aggregate(first, "cv", "percentage", mean_real > 0 ? sd_real / mean_real : 0,
                          mean_cpu > 0 ? sd_cpu / mean_cpu : 0, n));
}

}  // namespace opbench
