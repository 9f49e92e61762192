// The CUDA backend as a part of the harness: its status and devices, device-event timing, the
// device copy ceiling, device memory, and the sticky-error state of the process. Plain C++ over
// the functions of harness/device.hpp, which harness/cuda_device.cpp and cuda_timing.cpp
// implement with CUDA, or harness/cuda_none.cpp without it ("not built" everywhere).
#include "harness/backend.hpp"
#include "harness/ceilings.hpp"
#include "harness/device.hpp"
#include "harness/timing.hpp"

namespace opbench {

namespace {

class CudaBackend final : public Backend {
 public:
  std::string name() const override { return "cuda"; }
  BackendStatus status() const override { return cuda_status(); }
  // "hot": back-to-back launches of a kernel between two events (batched for small kernels).
  std::vector<std::string> timing_modes() const override { return {"hot"}; }
  std::unique_ptr<TimingStrategy> timing(const std::string& mode) const override {
    return mode == "hot" ? make_cuda_event_timing() : nullptr;
  }
  std::unique_ptr<BoundKernel> copy_ceiling(double bytes) const override {
    return make_device_copy(bytes);
  }
  CeilingKernel compute_ceiling() const override { return {}; }
  std::uint64_t memory_available() const override { return cuda_memory_available(); }
  std::vector<std::string> devices() const override { return cuda_device_names(); }
  std::string lost() const override { return cuda_lost(); }
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend() {
  return std::make_unique<CudaBackend>();
}

}  // namespace opbench
