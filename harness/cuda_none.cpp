// The CUDA backend in a build without CUDA: everything reports "not built", nothing can be bound.
#include <stdexcept>
#include <string>

#include "harness/build_info.hpp"
#include "harness/ceilings.hpp"
#include "harness/cuda_internal.hpp"
#include "harness/device.hpp"
#include "harness/timing.hpp"

namespace opbench {

namespace {

void* no_alloc(std::size_t /*bytes*/, const char* what) {
  throw std::runtime_error(std::string(what) + ": CUDA backend not built");
}
void no_release(void* /*ptr*/) {}

}  // namespace

DeviceScratch& loose_device_scratch() {
  static DeviceScratch scratch(ScratchAllocator{no_alloc, no_release});
  return scratch;
}

void* cuda_backend_stream() {
  throw std::runtime_error("device_stream: CUDA backend " + cuda_status().detail);
}

BackendStatus cuda_status() {
  // The configure step's own words: "skipped: nvcc not found ..." or "disabled (...)".
  return BackendStatus{"cuda", false, "not built: " + build_info().cuda};
}

std::vector<std::string> cuda_device_names() {
  return {};
}

std::string cuda_runtime_version() {
  return "";
}

std::string cuda_lost() {
  return "";
}

std::uint64_t cuda_memory_available() {
  return 0;
}

void check_cuda(int err, const char* what) {
  if (err != 0) {
    throw std::runtime_error(std::string(what) + ": CUDA error " + std::to_string(err) +
                             " (CUDA backend not built)");
  }
}

BindFn bind_device(DeviceLaunchFn /*launch*/, std::vector<std::string> /*accumulate_into*/) {
  return [](const TensorMap&, TensorMap&, const Params&) -> std::unique_ptr<BoundKernel> {
    throw std::runtime_error("CUDA backend not built");
  };
}

std::unique_ptr<TimingStrategy> make_cuda_timing(const std::string& /*mode*/,
                                                 double /*block_timeout_s*/) {
  return nullptr;
}

std::unique_ptr<BoundKernel> make_device_copy(double /*bytes*/) {
  return nullptr;
}

std::unique_ptr<BoundKernel> make_device_sgemm(int /*n*/) {
  return nullptr;
}

std::vector<float> device_sgemm_result(BoundKernel& /*sgemm*/) {
  throw std::invalid_argument("device_sgemm_result: CUDA backend not built");
}

}  // namespace opbench
