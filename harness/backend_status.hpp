#pragma once
// Whether a backend or a peer library can run here, with the reason when not.
#include <string>

namespace opbench {

struct BackendStatus {
  std::string name;  // "cpu", "cuda", "onednn"
  bool available = false;
  std::string detail;  // "AMD EPYC, 2 threads" or "not built: skipped: nvcc not found ..."
};

}  // namespace opbench
