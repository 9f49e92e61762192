#include "harness/ceiling_plan.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <utility>

#include "harness/backend.hpp"
#include "harness/progress.hpp"
#include "harness/timing.hpp"

namespace opbench {

namespace {

void measure(const Backend& backend, const std::string& kind, double bytes, double flops,
             std::unique_ptr<BoundKernel> k, std::vector<Ceiling>& out) {
  if (!k) return;
  const std::vector<std::string> modes = backend.timing_modes();
  if (modes.empty()) return;
  auto timing = backend.timing(modes.front());
  if (!timing) return;
  std::ostringstream name;
  name << "ceiling/" << kind << "/" << backend.name() << "/"
       << (kind == "copy" ? "bytes:" + std::to_string(static_cast<long long>(bytes))
                          : "flops:" + std::to_string(static_cast<long long>(flops)));
  GbenchRun r = time_kernel(name.str(), *timing, *k, kCeilingRepetitions);
  if (!r.error.empty() || r.repetitions.empty()) return;
  Ceiling c{backend.name(), kind, bytes, flops, {}};
  c.timing.clock = timing->manual_time() ? "manual_time" : "real_time";
  c.timing.repetitions = std::move(r.repetitions);
  out.push_back(std::move(c));
}

}  // namespace

std::vector<Ceiling> measure_ceilings(const std::vector<CasePlan>& plan, const std::string& filter,
                                      bool progress_on) {
  std::vector<const Backend*> backends;  // those of the timed cases, in plan order
  std::vector<std::pair<const Backend*, double>> copies;
  for (const auto& c : plan) {
    if (!c.skip_reason.empty() || c.timing_mode.empty() || !gbench_filter_matches(filter, c.name)) {
      continue;
    }
    if (std::find(backends.begin(), backends.end(), c.backend) == backends.end()) {
      backends.push_back(c.backend);
    }
    const double bytes = c.op->cost ? c.op->cost(c.params, c.dtype).bytes : 0;
    // One copy per size class: sizes within 10% of a copy already planned share it (the rates
    // take the nearest copy size).
    const bool covered = std::any_of(copies.begin(), copies.end(), [&](const auto& k) {
      return k.first == c.backend && std::abs(std::log(bytes / k.second)) < std::log(1.1);
    });
    if (bytes > 0 && !covered) copies.emplace_back(c.backend, bytes);
  }
  std::vector<Ceiling> out;
  Progress progress(progress_on, copies.size() + backends.size());
  std::size_t i = 0;
  for (const Backend* b : backends) {
    CeilingKernel compute = b->compute_ceiling();
    progress.show(i++, "ceiling", b->name() + " " + compute.kind);
    measure(*b, compute.kind, 0, compute.flops, std::move(compute.kernel), out);
  }
  for (const auto& [backend, bytes] : copies) {
    progress.show(i++, "ceiling", "copy " + std::to_string(static_cast<long long>(bytes)));
    measure(*backend, "copy", bytes, 0, backend->copy_ceiling(bytes), out);
  }
  return out;
}

}  // namespace opbench
