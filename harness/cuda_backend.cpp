// The CUDA backend as a part of the harness: its status and devices, the two timing modes (hot and
// cold, behind a blocking kernel), the device copy and cuBLAS SGEMM ceilings, device memory, and
// the sticky-error state of the process. Plain C++ over the functions of harness/device.hpp, which
// harness/cuda_device.cpp, cuda_timing.cpp and cuda_sgemm.cpp implement with CUDA, or
// harness/cuda_none.cpp without it ("not built" everywhere).
#include "harness/backend.hpp"
#include "harness/ceilings.hpp"
#include "harness/cuda_plan.hpp"
#include "harness/device.hpp"
#include "harness/timing.hpp"

namespace opbench {

namespace {

class CudaBackend final : public Backend {
 public:
  std::string name() const override { return "cuda"; }
  BackendStatus status() const override { return cuda_status(); }
  // "hot": batches of back-to-back runs; "cold": one run after flushing L2 (device.hpp).
  std::vector<std::string> timing_modes() const override { return {"hot", "cold"}; }
  std::unique_ptr<TimingStrategy> timing(const std::string& mode) const override {
    return make_cuda_timing(mode);
  }
  std::unique_ptr<BoundKernel> copy_ceiling(double bytes) const override {
    return make_device_copy(bytes);
  }
  // An n^3 cuBLAS SGEMM, n = 8192 where it fits (cuda_plan.hpp); none when no device is usable
  // or the matrices cannot be had (a ceiling is never worth failing the run for).
  CeilingKernel compute_ceiling() const override {
    if (!cuda_status().available || !cuda_lost().empty()) return {};
    const int n = cuda_plan::sgemm_ceiling_size(cuda_memory_available());
    if (n == 0) return {};
    try {
      const double size = n;
      return {make_device_sgemm(n), 2.0 * size * size * size, "sgemm"};
    } catch (const std::exception&) {
      return {};
    }
  }
  std::uint64_t memory_available() const override { return cuda_memory_available(); }
  std::vector<std::string> devices() const override { return cuda_device_names(); }
  std::string lost() const override { return cuda_lost(); }
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend() {
  return std::make_unique<CudaBackend>();
}

}  // namespace opbench
