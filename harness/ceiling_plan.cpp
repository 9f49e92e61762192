#include "harness/ceiling_plan.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <utility>

#include "harness/ceilings.hpp"
#include "harness/progress.hpp"
#include "harness/timing.hpp"

namespace opbench {

namespace {

void measure(const std::string& backend, const std::string& kind, double bytes, double flops,
             std::unique_ptr<BoundKernel> k, std::vector<Ceiling>& out) {
  if (!k) return;
  auto timing = make_timing(backend);
  if (!timing) return;
  std::ostringstream name;
  name << "ceiling/" << kind << "/" << backend << "/"
       << (kind == "copy" ? "bytes:" + std::to_string(static_cast<long long>(bytes))
                          : "flops:" + std::to_string(static_cast<long long>(flops)));
  GbenchRun r = time_kernel(name.str(), *timing, *k, kCeilingRepetitions);
  if (!r.error.empty() || r.repetitions.empty()) return;
  Ceiling c{backend, kind, bytes, flops, {}};
  c.timing.clock = timing->manual_time() ? "manual_time" : "real_time";
  c.timing.repetitions = std::move(r.repetitions);
  out.push_back(std::move(c));
}

}  // namespace

std::vector<Ceiling> measure_ceilings(const std::vector<CasePlan>& plan, const std::string& filter,
                                      bool progress_on) {
  std::vector<std::pair<std::string, double>> copies;
  bool any_host = false;
  for (const auto& c : plan) {
    if (!c.skip_reason.empty() || c.impl->is_reference || !gbench_filter_matches(filter, c.name)) {
      continue;
    }
    const std::string backend = c.impl->backend == "cuda" ? "cuda" : "cpu";
    any_host = any_host || backend == "cpu";
    const double bytes = c.op->cost ? c.op->cost(c.params, c.dtype).bytes : 0;
    // One copy per size class: sizes within 10% of a copy already planned share it (the rates
    // take the nearest copy size).
    const bool covered = std::any_of(copies.begin(), copies.end(), [&](const auto& k) {
      return k.first == backend && std::abs(std::log(bytes / k.second)) < std::log(1.1);
    });
    if (bytes > 0 && !covered) copies.emplace_back(backend, bytes);
  }
  std::vector<Ceiling> out;
  Progress progress(progress_on, copies.size() + 1);
  std::size_t i = 0;
  if (any_host) {
    progress.show(i++, "ceiling", "sgemm 1024");
    const int n = 1024;
    measure("cpu", "sgemm", 0, 2.0 * n * n * n, make_host_sgemm(n), out);
  }
  for (const auto& [backend, bytes] : copies) {
    progress.show(i++, "ceiling", "copy " + std::to_string(static_cast<long long>(bytes)));
    measure(backend, "copy", bytes, 0,
            backend == "cuda" ? make_device_copy(bytes) : make_host_copy(bytes), out);
  }
  return out;
}

}  // namespace opbench
