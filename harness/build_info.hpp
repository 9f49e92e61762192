#pragma once
// Facts about this build (version, git commit, compiler and flags), filled in at build time.
#include "harness/results.hpp"

namespace opbench {

BuildInfo build_info();
int hardware_threads();
std::string cpu_model_name();
// Bytes of memory this process can still allocate (MemAvailable), 0 when unknown.
std::uint64_t available_memory_bytes();

}  // namespace opbench
