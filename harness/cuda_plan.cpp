#include "harness/cuda_plan.hpp"

#include <cmath>
#include <sstream>

namespace opbench::cuda_plan {

int hot_batch(double seconds_per_run, double target_s, int max_batch) {
  if (max_batch < 1) max_batch = 1;
  if (std::isnan(seconds_per_run) || !(target_s > 0)) return 1;
  if (seconds_per_run <= 0) return max_batch;
  const double runs = std::floor(target_s / seconds_per_run);
  if (runs < 1) return 1;
  if (runs >= max_batch) return max_batch;
  return static_cast<int>(runs);
}

std::size_t l2_flush_bytes(std::int64_t l2_bytes) {
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  if (l2_bytes <= 0) return 64 * kMiB;
  const std::size_t twice = 2 * static_cast<std::size_t>(l2_bytes);
  return (twice + kMiB - 1) / kMiB * kMiB;
}

int sgemm_ceiling_size(std::uint64_t free_bytes) {
  for (int n : {8192, 4096, 2048, 1024}) {
    const std::uint64_t matrices = 3ull * static_cast<std::uint64_t>(n) * n * sizeof(float);
    if (matrices <= free_bytes / 4) return n;
  }
  return 0;
}

std::string version_text(int version) {
  if (version <= 0) return "";
  return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

std::string device_line(const DeviceFacts& f) {
  std::ostringstream os;
  os << "cuda:" << f.index << ": " << (f.name.empty() ? "unnamed device" : f.name) << " (sm_"
     << f.major << f.minor;
  if (f.multiprocessors > 0) os << ", " << f.multiprocessors << " SMs";
  if (f.total_memory > 0) {
    os << ", " << std::llround(static_cast<double>(f.total_memory) / (1024.0 * 1024 * 1024))
       << " GiB";
  }
  if (f.l2_bytes > 0) {
    if (f.l2_bytes >= (1 << 20)) {
      os << ", L2 " << std::llround(static_cast<double>(f.l2_bytes) / (1 << 20)) << " MiB";
    } else {
      os << ", L2 " << std::llround(static_cast<double>(f.l2_bytes) / 1024) << " KiB";
    }
  }
  if (f.sm_clock_khz > 0) os << ", SM up to " << std::llround(f.sm_clock_khz / 1000.0) << " MHz";
  if (f.memory_clock_khz > 0 || f.memory_bus_bits > 0) {
    os << ", " << (f.memory_bus_bits >= 1024 ? "HBM" : "memory");
    if (f.memory_clock_khz > 0) os << " " << std::llround(f.memory_clock_khz / 1000.0) << " MHz";
    if (f.memory_clock_khz > 0 && f.memory_bus_bits > 0) os << " x";
    if (f.memory_bus_bits > 0) os << " " << f.memory_bus_bits << " bit";
  }
  if (f.ecc >= 0) os << ", ECC " << (f.ecc ? "on" : "off");
  if (f.driver_version > 0) os << ", driver " << version_text(f.driver_version);
  if (f.runtime_version > 0) os << ", runtime " << version_text(f.runtime_version);
  os << ")";
  return os.str();
}

}  // namespace opbench::cuda_plan
