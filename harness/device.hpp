#pragma once
// Device (CUDA) tensors and binding, without CUDA headers so that suites compile without CUDA.
// Built with CUDA, harness/cuda_device.cpp implements these; without it they report "not built".
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "harness/backend_status.hpp"
#include "harness/op.hpp"

namespace opbench {

class TimingStrategy;  // harness/timing.hpp

struct DeviceTensor {
  void* ptr = nullptr;
  DType dtype = DType::f32;
  Shape shape;
  template <class T>
  T* data() const {
    return static_cast<T*>(ptr);
  }
  std::int64_t numel() const { return shape_numel(shape); }
};
using DeviceTensorMap = std::map<std::string, DeviceTensor>;

// Launches a kernel on the default stream; it must not synchronize.
using DeviceLaunchFn =
    std::function<void(const DeviceTensorMap& in, DeviceTensorMap& out, const Params& p)>;

// Uploads the inputs once at bind time, allocates the outputs on the device (poisoned with NaN
// bytes), and fetches them back on fetch().
BindFn bind_device(DeviceLaunchFn launch);

// Whether CUDA was built and a device is present, with the reason when not (any error from
// cudaGetDeviceCount, such as "CUDA driver version is insufficient", means no device).
BackendStatus cuda_status();
std::vector<std::string> cuda_device_names();
std::string cuda_runtime_version();  // "13.0" or "" when not built

// Throws std::runtime_error with the CUDA error string when `err` is not success; used by kernels.
// A sticky error (an illegal address, a kernel fault: the context is lost) is also remembered,
// and cuda_lost() says it from then on.
void check_cuda(int err, const char* what);
// "" while the CUDA context of this process is usable; else the sticky error that lost it.
std::string cuda_lost();
// Device memory free on device 0 in bytes (0 when not built or no device).
std::uint64_t cuda_memory_available();
// Device-event timing (harness/cuda_timing.cpp; nullptr when CUDA is not built).
std::unique_ptr<TimingStrategy> make_cuda_event_timing();

}  // namespace opbench
