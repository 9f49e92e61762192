#include "harness/build_info.hpp"

#include <fstream>
#include <string>
#include <thread>

#include "harness/build_config.hpp"
#include "harness/device.hpp"

namespace opbench {

extern const char* const kGitCommit;
extern const bool kGitDirty;

BuildInfo build_info() {
  BuildInfo b;
  b.tool_version = OPBENCH_VERSION;
  b.git_commit = kGitCommit;
  b.git_dirty = kGitDirty;
  b.compiler = OPBENCH_COMPILER;
  b.cxx_flags = OPBENCH_CXX_FLAGS;
  b.build_type = OPBENCH_BUILD_TYPE;
  b.native = OPBENCH_NATIVE_TUNING;
  b.blas = OPBENCH_BLAS;
  b.cuda = OPBENCH_CUDA_STATUS;
  const std::string runtime = cuda_runtime_version();
  if (!runtime.empty()) b.cuda += ", runtime " + runtime;
  b.onednn = OPBENCH_ONEDNN_STATUS;
  b.faiss = OPBENCH_FAISS_STATUS;
  b.torch = OPBENCH_TORCH_STATUS;
  return b;
}

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "unknown CPU";
}

std::uint64_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

}  // namespace opbench
