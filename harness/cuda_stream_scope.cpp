// Which device stream the kernels launched on this thread queue on (harness/device.hpp), in plain
// C++ so that the binding is built and tested without CUDA. The backend's own stream comes from
// harness/cuda_device.cpp, or harness/cuda_none.cpp (which throws "not built").
#include "harness/cuda_internal.hpp"
#include "harness/device.hpp"

namespace opbench {
namespace {
// A binding to nullptr (the legacy default stream) is a binding, so "bound" is its own flag.
thread_local DeviceStream bound_stream = nullptr;
thread_local bool stream_bound = false;
}  // namespace

StreamScope::StreamScope(DeviceStream stream)
    : previous_(bound_stream), previous_bound_(stream_bound) {
  bound_stream = stream;
  stream_bound = true;
}

StreamScope::~StreamScope() {
  bound_stream = previous_;
  stream_bound = previous_bound_;
}

DeviceStream device_stream() {
  return stream_bound ? bound_stream : cuda_backend_stream();
}

}  // namespace opbench
