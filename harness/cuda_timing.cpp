// Device-event timing (Google Benchmark manual time) and the device-to-device copy ceiling.
// Plain C++ on the CUDA runtime API, compiled with the host compiler.
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "harness/ceilings.hpp"
#include "harness/device.hpp"
#include "harness/timing.hpp"

namespace opbench {
namespace {

// A pair of CUDA events, destroyed on scope exit.
class EventPair {
 public:
  EventPair() {
    check_cuda(cudaEventCreate(&start_), "cudaEventCreate");
    const cudaError_t err = cudaEventCreate(&stop_);
    if (err != cudaSuccess) {
      cudaEventDestroy(start_);
      check_cuda(err, "cudaEventCreate");
    }
  }
  ~EventPair() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;

  cudaEvent_t start() const { return start_; }
  cudaEvent_t stop() const { return stop_; }

 private:
  cudaEvent_t start_ = nullptr;
  cudaEvent_t stop_ = nullptr;
};

// Times each iteration between two events on the default stream, around one kernel.run(). Errors
// (a launch error, a kernel fault) are thrown as std::runtime_error, as from the host timing; the
// runner records them as the case's error and ends the benchmark with SkipWithError.
class CudaEventTiming final : public TimingStrategy {
 public:
  bool manual_time() const override { return true; }

  void measure(benchmark::State& state, BoundKernel& kernel) override {
    EventPair ev;
    kernel.run();  // warm-up: module load, first touch, clocks
    kernel.sync();
    for (auto _ : state) {
      check_cuda(cudaEventRecord(ev.start(), 0), "cudaEventRecord(start)");
      kernel.run();
      check_cuda(cudaEventRecord(ev.stop(), 0), "cudaEventRecord(stop)");
      check_cuda(cudaEventSynchronize(ev.stop()), "cudaEventSynchronize after the kernel");
      float ms = 0.0f;
      check_cuda(cudaEventElapsedTime(&ms, ev.start(), ev.stop()), "cudaEventElapsedTime");
      state.SetIterationTime(static_cast<double>(ms) / 1e3);
    }
  }
};

// Copies bytes/2 from one device buffer to another with cudaMemcpyAsync on the default stream.
class DeviceCopy final : public BoundKernel {
 public:
  explicit DeviceCopy(std::size_t half) : half_(half) {
    const std::size_t alloc = half_ > 0 ? half_ : 1;
    check_cuda(cudaMalloc(&src_, alloc), "cudaMalloc (device copy source)");
    const cudaError_t err = cudaMalloc(&dst_, alloc);
    if (err != cudaSuccess) {
      cudaFree(src_);
      check_cuda(err, "cudaMalloc (device copy destination)");
    }
    check_cuda(cudaMemset(src_, 0, alloc), "cudaMemset (device copy source)");
    check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize (device copy setup)");
  }
  ~DeviceCopy() override {
    cudaDeviceSynchronize();
    cudaFree(src_);
    cudaFree(dst_);
    cudaGetLastError();
  }
  DeviceCopy(const DeviceCopy&) = delete;
  DeviceCopy& operator=(const DeviceCopy&) = delete;

  void run() override {
    if (half_ == 0) return;
    check_cuda(cudaMemcpyAsync(dst_, src_, half_, cudaMemcpyDeviceToDevice, 0),
               "cudaMemcpyAsync (device copy)");
  }
  void sync() override { check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize (copy)"); }

 private:
  std::size_t half_;
  void* src_ = nullptr;
  void* dst_ = nullptr;
};

}  // namespace

std::unique_ptr<TimingStrategy> make_cuda_event_timing() {
  return std::make_unique<CudaEventTiming>();
}

std::unique_ptr<BoundKernel> make_device_copy(double bytes) {
  if (!(bytes >= 0)) throw std::invalid_argument("make_device_copy: bytes must be >= 0");
  // Built, but nothing to run on: no ceiling, as when CUDA is not built.
  if (!cuda_status().available) return nullptr;
  const auto half = static_cast<std::size_t>(bytes / 2.0);
  return std::make_unique<DeviceCopy>(half);
}

}  // namespace opbench
