#pragma once
// Shared by the CUDA backend's own files (harness/cuda_device.cpp, cuda_timing.cpp,
// cuda_sgemm.cpp), not by kernels or suites. No CUDA headers.
namespace opbench {

// For paths that cannot throw (destructors): an error is looked at as check_cuda looks at it, so a
// sticky one is remembered in cuda_lost() and a non-sticky one is cleared, and nothing is thrown.
void note_cuda_error(int err, const char* what) noexcept;

// Lets a blocking kernel that is holding the default stream go (harness/cuda_timing.cpp), so that
// an error path which waits for the device does not wait for the blocking kernel's timeout.
void release_blocking_kernel() noexcept;

}  // namespace opbench
