#pragma once
// Device (CUDA) tensors and binding, without CUDA headers so that suites compile without CUDA.
// Built with CUDA, harness/cuda_device.cpp implements these; without it they report "not built".
#include <functional>
#include <map>
#include <string>

#include "harness/op.hpp"
#include "harness/registry.hpp"

namespace opbench {

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
void check_cuda(int err, const char* what);

}  // namespace opbench
