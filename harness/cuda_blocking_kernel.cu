// The blocking kernel of the CUDA timing modes (harness/cuda_timing.cpp), after nvbench's: one
// thread spins on a flag in mapped pinned host memory until the host sets it, once every launch of
// a sample is queued behind it, so the host's launch overhead stays outside the sample's events.
// It gives up after a timeout measured on the device's global timer and says so in a second flag:
// a host that never releases it (a run() that synchronizes, a full launch queue) costs a bounded
// wait and an error, never a hang.
#include <cuda_runtime.h>

namespace opbench::detail {

namespace {

__device__ __forceinline__ unsigned long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void block_stream(const volatile int* release, volatile int* timed_out,
                             unsigned long long timeout_ns) {
  const unsigned long long start = global_ns();
  while (*release == 0) {
    if (global_ns() - start > timeout_ns) {
      *timed_out = 1;
      break;
    }
  }
  __threadfence_system();
}

}  // namespace

// Launches the blocking kernel on `stream` (a cudaStream_t); `release` and `timed_out` are device
// pointers of mapped pinned host memory. Returns the launch's cudaError_t.
int launch_blocking_kernel(void* stream, const volatile int* release, volatile int* timed_out,
                           unsigned long long timeout_ns) {
  block_stream<<<1, 1, 0, static_cast<cudaStream_t>(stream)>>>(release, timed_out, timeout_ns);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace opbench::detail
