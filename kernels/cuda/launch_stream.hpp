#pragma once
// The stream every cuda.fast launch, copy and cuBLAS call queues on: the one the harness bound for
// the kernel being run (harness/device.hpp: device_stream), never the legacy default stream, so
// that the harness's events, blocking kernel and L2 flush order against exactly this kernel's work.
#include <cuda_runtime.h>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "harness/device.hpp"

namespace opbench::cuda {

inline cudaStream_t launch_stream() {
  return static_cast<cudaStream_t>(device_stream());
}

}  // namespace opbench::cuda
