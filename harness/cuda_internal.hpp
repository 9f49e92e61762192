#pragma once
// Shared by the CUDA backend's own files (harness/cuda_device.cpp, cuda_timing.cpp,
// cuda_sgemm.cpp, cuda_stream_scope.cpp, cuda_none.cpp), not by kernels or suites. No CUDA headers.
namespace opbench {

// For paths that cannot throw (destructors): an error is looked at as check_cuda looks at it, so a
// sticky one is remembered in cuda_lost() and a non-sticky one is cleared, and nothing is thrown.
void note_cuda_error(int err, const char* what) noexcept;

// The CUDA backend's own stream (device_stream() when no StreamScope binds one): created on first
// use with cudaStreamNonBlocking on the current device, never destroyed (the context may be gone
// by the time static destructors run). Throws when it cannot be created, or CUDA is not built.
void* cuda_backend_stream();

// Lets a blocking kernel that is holding its stream go (harness/cuda_timing.cpp), so that
// an error path which waits for the device does not wait for the blocking kernel's timeout.
void release_blocking_kernel() noexcept;

}  // namespace opbench
