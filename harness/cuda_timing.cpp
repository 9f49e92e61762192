// Device-event timing (Google Benchmark manual time) and the device-to-device copy ceiling.
// Plain C++ on the CUDA runtime API, compiled with the host compiler.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "harness/ceilings.hpp"
#include "harness/device.hpp"
#include "harness/timing.hpp"

namespace opbench {
namespace detail {
int launch_device_copy(const void* src, void* dst, std::size_t bytes);
}  // namespace detail

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

// Seconds for `batch` back-to-back runs of `kernel`, between two events on the default stream.
double time_batch(EventPair& ev, BoundKernel& kernel, int batch) {
  check_cuda(cudaEventRecord(ev.start(), 0), "cudaEventRecord(start)");
  for (int i = 0; i < batch; ++i) kernel.run();
  check_cuda(cudaEventRecord(ev.stop(), 0), "cudaEventRecord(stop)");
  check_cuda(cudaEventSynchronize(ev.stop()), "cudaEventSynchronize after the kernel");
  float ms = 0.0f;
  check_cuda(cudaEventElapsedTime(&ms, ev.start(), ev.stop()), "cudaEventElapsedTime");
  return static_cast<double>(ms) / 1e3;
}

// Times each iteration between two events on the default stream. A kernel of a few microseconds
// is dominated by launch latency when timed alone, so each iteration runs a batch of back-to-back
// launches (sized from a probe to last ~50 us, at most 1000) and reports the time per launch, as
// nvbench does for small kernels. Errors (a launch error, a kernel fault) are thrown as
// std::runtime_error, as from the host timing; the runner records them as the case's error.
class CudaEventTiming final : public TimingStrategy {
 public:
  bool manual_time() const override { return true; }

  void measure(benchmark::State& state, BoundKernel& kernel) override {
    EventPair ev;
    kernel.run();  // warm-up: module load, first touch, clocks
    kernel.sync();
    const int batch =
        std::clamp(static_cast<int>(50e-6 / std::max(time_batch(ev, kernel, 1), 1e-9)), 1, 1000);
    for (auto _ : state) {
      state.SetIterationTime(time_batch(ev, kernel, batch) / batch);
    }
    state.counters["launches_per_sample"] = batch;
  }
};

// Copies bytes/2 from one device buffer to another on the default stream, by whichever is faster
// here at this size: cudaMemcpyAsync (the copy the driver tunes, best for large sizes) or a plain
// copy kernel (harness/cuda_copy_kernel.cu: less fixed cost, best for small sizes). The ceiling is
// the machine's best same-size copy, so a kernel above it means the ceiling is wrong.
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
    EventPair ev;
    use_kernel_ = false;
    const double memcpy_s = best_of(ev, 5);
    use_kernel_ = true;
    const double kernel_s = best_of(ev, 5);
    use_kernel_ = kernel_s < memcpy_s;
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
    if (use_kernel_) {
      check_cuda(detail::launch_device_copy(src_, dst_, half_), "copy kernel (device copy)");
    } else {
      check_cuda(cudaMemcpyAsync(dst_, src_, half_, cudaMemcpyDeviceToDevice, 0),
                 "cudaMemcpyAsync (device copy)");
    }
  }
  void sync() override { check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize (copy)"); }

 private:
  // The shortest of `n` timed copies (after one warm-up), in seconds.
  double best_of(EventPair& ev, int n) {
    run();
    double best = 1e30;
    for (int i = 0; i < n; ++i) best = std::min(best, time_batch(ev, *this, 1));
    return best;
  }

  std::size_t half_;
  void* src_ = nullptr;
  void* dst_ = nullptr;
  bool use_kernel_ = false;
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
