// The CUDA timing modes (hot and cold, both behind a blocking kernel, manual time from device
// events) and the device-to-device copy ceiling. Plain C++ on the CUDA runtime API, compiled with
// the host compiler; the kernels it launches are in cuda_blocking_kernel.cu and
// cuda_copy_kernel.cu.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/ceilings.hpp"
#include "harness/cuda_internal.hpp"
#include "harness/cuda_plan.hpp"
#include "harness/descriptive_stats.hpp"
#include "harness/device.hpp"
#include "harness/timing.hpp"

namespace opbench {
namespace detail {
int launch_device_copy(void* stream, const void* src, void* dst, std::size_t bytes);
int launch_blocking_kernel(void* stream, const volatile int* release, volatile int* timed_out,
                           unsigned long long timeout_ns);
}  // namespace detail

namespace {

// The release flag of the blocking kernel holding a stream now (nullptr: none).
std::atomic<volatile int*> held_release{nullptr};

// A pair of CUDA events, destroyed on scope exit.
class EventPair {
 public:
  EventPair() {
    check_cuda(cudaEventCreate(&start_), "cudaEventCreate");
    const cudaError_t err = cudaEventCreate(&stop_);
    if (err != cudaSuccess) {
      note_cuda_error(cudaEventDestroy(start_), "cudaEventDestroy");
      check_cuda(err, "cudaEventCreate");
    }
  }
  ~EventPair() {
    note_cuda_error(cudaEventDestroy(start_), "cudaEventDestroy");
    note_cuda_error(cudaEventDestroy(stop_), "cudaEventDestroy");
  }
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;

  cudaEvent_t start() const { return start_; }
  cudaEvent_t stop() const { return stop_; }

 private:
  cudaEvent_t start_ = nullptr;
  cudaEvent_t stop_ = nullptr;
};

// The blocking kernel and its two flags in mapped pinned host memory: [0] the host's release,
// [1] the kernel's "I gave up waiting".
class Blocker {
 public:
  explicit Blocker(double timeout_s)
      : timeout_ns_(static_cast<unsigned long long>(std::max(timeout_s, 1e-3) * 1e9)) {
    void* host = nullptr;
    check_cuda(cudaHostAlloc(&host, 2 * sizeof(int), cudaHostAllocMapped),
               "cudaHostAlloc of the blocking kernel's flags");
    host_ = static_cast<volatile int*>(host);
    host_[0] = 1;
    host_[1] = 0;
    void* device = nullptr;
    const cudaError_t err = cudaHostGetDevicePointer(&device, host, 0);
    if (err != cudaSuccess) {
      note_cuda_error(cudaFreeHost(host), "cudaFreeHost of the blocking kernel's flags");
      check_cuda(err, "cudaHostGetDevicePointer of the blocking kernel's flags");
    }
    device_ = static_cast<volatile int*>(device);
  }
  ~Blocker() {
    release();
    // The blocking kernel is released, so waiting for the device here ends.
    note_cuda_error(cudaFreeHost(const_cast<int*>(host_)),
                    "cudaFreeHost of the blocking kernel's flags");
  }
  Blocker(const Blocker&) = delete;
  Blocker& operator=(const Blocker&) = delete;

  // Queues the blocking kernel on `stream`: it holds the stream until release().
  void block(cudaStream_t stream) {
    host_[0] = 0;
    host_[1] = 0;
    std::atomic_thread_fence(std::memory_order_seq_cst);
    held_release.store(host_);
    check_cuda(detail::launch_blocking_kernel(stream, device_, device_ + 1, timeout_ns_),
               "launch of the blocking kernel");
  }
  void release() noexcept {
    host_[0] = 1;
    std::atomic_thread_fence(std::memory_order_seq_cst);
    volatile int* expected = host_;
    held_release.compare_exchange_strong(expected, nullptr);
  }
  // Read after the sample's stop event completed (the kernel finished before it).
  bool timed_out() const { return host_[1] != 0; }
  double timeout_s() const { return static_cast<double>(timeout_ns_) / 1e9; }

 private:
  volatile int* host_ = nullptr;
  volatile int* device_ = nullptr;
  unsigned long long timeout_ns_;
};

// The stream `kernel` is bound to (BoundKernel::stream), on which its samples are taken.
cudaStream_t stream_of(const BoundKernel& kernel) {
  return static_cast<cudaStream_t>(kernel.stream());
}

// Seconds of `runs` back-to-back runs of `kernel` between two events on its stream, all queued
// behind the blocking kernel before it is released: the events see the device's time only.
double blocked_sample(EventPair& ev, Blocker& blocker, BoundKernel& kernel, int runs) {
  const cudaStream_t stream = stream_of(kernel);
  blocker.block(stream);
  try {
    check_cuda(cudaEventRecord(ev.start(), stream), "cudaEventRecord(start)");
    for (int i = 0; i < runs; ++i) kernel.run();
    check_cuda(cudaEventRecord(ev.stop(), stream), "cudaEventRecord(stop)");
  } catch (...) {
    blocker.release();
    throw;
  }
  blocker.release();
  check_cuda(cudaEventSynchronize(ev.stop()), "cudaEventSynchronize after the kernel");
  if (blocker.timed_out()) {
    throw std::runtime_error(
        "the blocking kernel gave up after " + std::to_string(blocker.timeout_s()) +
        " s before the host had queued the sample's " + std::to_string(runs) +
        " run(s): a kernel that synchronizes in its run (or queues more launches than the device "
        "holds) cannot be timed with the host's overhead outside the events");
  }
  float ms = 0.0f;
  check_cuda(cudaEventElapsedTime(&ms, ev.start(), ev.stop()), "cudaEventElapsedTime");
  return static_cast<double>(ms) / 1e3;
}

// Warm-up before any sample: module loading (lazy loading would otherwise load a kernel while the
// blocking kernel holds the device), first touch, the bound kernel's scratch, clocks.
void warm_up(BoundKernel& kernel) {
  kernel.run();
  kernel.sync();
}

// "hot": each sample is a batch of back-to-back runs (sized from two probes to last ~50 us, at
// most 100 runs), reported per run through Google Benchmark's batch loop, as nvbench's hot
// measurement; the data the kernel touches stays in L2 between runs if it fits.
class CudaHotTiming final : public TimingStrategy {
 public:
  explicit CudaHotTiming(double timeout_s) : timeout_s_(timeout_s) {}
  bool manual_time() const override { return true; }

  void measure(benchmark::State& state, BoundKernel& kernel) override {
    EventPair ev;
    Blocker blocker(timeout_s_);
    if (kernel.accumulates()) {
      // Accumulate-into outputs are zeroed before every run, outside the events (queued on the
      // kernel's stream before the blocking kernel): one run per sample.
      kernel.reset_accumulators();
      warm_up(kernel);
      for (auto _ : state) {
        kernel.reset_accumulators();
        state.SetIterationTime(blocked_sample(ev, blocker, kernel, 1));
      }
      state.counters["launches_per_sample"] = 1;
      return;
    }
    warm_up(kernel);
    // The batch is sized once, in the first call, and kept for every later call: a batch loop
    // counts whole batches, so its iterations are the requested count rounded up to the batch.
    // Google Benchmark requires every repetition of a case to report the same iterations (it
    // aborts the process otherwise), and probes sized anew per repetition differ by a launch or
    // two on a kernel of a few microseconds.
    if (batch_ == 0) {
      int batch = cuda_plan::hot_batch(blocked_sample(ev, blocker, kernel, 1));
      if (batch > 1) {
        batch = cuda_plan::hot_batch(blocked_sample(ev, blocker, kernel, batch) / batch);
      }
      batch_ = batch;
    }
    while (state.KeepRunningBatch(batch_)) {
      state.SetIterationTime(blocked_sample(ev, blocker, kernel, batch_));
    }
    state.counters["launches_per_sample"] = batch_;
  }

 private:
  double timeout_s_;
  int batch_ = 0;
};

// A device buffer of twice the L2 size, written before each cold sample (cuda_plan.hpp).
class L2Flush {
 public:
  L2Flush() {
    int device = 0, l2 = 0;
    check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    check_cuda(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device), "L2 cache size");
    bytes_ = cuda_plan::l2_flush_bytes(l2);
    check_cuda(
        cudaMalloc(&buffer_, bytes_),
        ("cudaMalloc of the L2 flush buffer (" + std::to_string(bytes_ >> 20) + " MiB)").c_str());
  }
  ~L2Flush() { note_cuda_error(cudaFree(buffer_), "cudaFree of the L2 flush buffer"); }
  L2Flush(const L2Flush&) = delete;
  L2Flush& operator=(const L2Flush&) = delete;

  // Queued on `stream` (the timed kernel's); a different byte each time, so no write is a no-op.
  void write(cudaStream_t stream) {
    check_cuda(cudaMemsetAsync(buffer_, ++value_ & 0xFF, bytes_, stream),
               "L2 flush (cudaMemsetAsync)");
  }

 private:
  void* buffer_ = nullptr;
  std::size_t bytes_ = 0;
  int value_ = 0;
};

// "cold": before each sample L2 is flushed (outside the events), then one run between them.
class CudaColdTiming final : public TimingStrategy {
 public:
  explicit CudaColdTiming(double timeout_s) : timeout_s_(timeout_s) {}
  bool manual_time() const override { return true; }

  void measure(benchmark::State& state, BoundKernel& kernel) override {
    EventPair ev;
    Blocker blocker(timeout_s_);
    L2Flush flush;
    warm_up(kernel);
    for (auto _ : state) {
      if (kernel.accumulates()) kernel.reset_accumulators();  // outside the events, as the flush
      flush.write(stream_of(kernel));
      state.SetIterationTime(blocked_sample(ev, blocker, kernel, 1));
    }
  }

 private:
  double timeout_s_;
};

// Copies bytes/2 from one device buffer to another on the stream device_stream() gave when it was
// made, by whichever is faster
// here at this size (the median of 5 samples behind the blocking kernel): cudaMemcpyAsync (the
// copy the driver tunes, best for large sizes) or a plain copy kernel
// (harness/cuda_copy_kernel.cu: less fixed cost, best for small sizes). The ceiling is the
// machine's best same-size copy, so a kernel above it means the ceiling is wrong.
class DeviceCopy final : public BoundKernel {
 public:
  explicit DeviceCopy(std::size_t half)
      : half_(half), stream_(static_cast<cudaStream_t>(device_stream())) {
    const std::size_t alloc = half_ > 0 ? half_ : 1;
    check_cuda(cudaMalloc(&src_, alloc), "cudaMalloc (device copy source)");
    const cudaError_t err = cudaMalloc(&dst_, alloc);
    if (err != cudaSuccess) {
      note_cuda_error(cudaFree(src_), "cudaFree (device copy source)");
      src_ = nullptr;
      check_cuda(err, "cudaMalloc (device copy destination)");
    }
    check_cuda(cudaMemsetAsync(src_, 0, alloc, stream_), "cudaMemsetAsync (device copy source)");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (device copy setup)");
    EventPair ev;
    Blocker blocker(10.0);
    use_kernel_ = false;
    const double memcpy_s = median_of(ev, blocker, 5);
    use_kernel_ = true;
    const double kernel_s = median_of(ev, blocker, 5);
    use_kernel_ = kernel_s < memcpy_s;
  }
  ~DeviceCopy() override {
    note_cuda_error(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (device copy)");
    note_cuda_error(cudaFree(src_), "cudaFree (device copy source)");
    note_cuda_error(cudaFree(dst_), "cudaFree (device copy destination)");
  }
  DeviceCopy(const DeviceCopy&) = delete;
  DeviceCopy& operator=(const DeviceCopy&) = delete;

  void run() override {
    if (half_ == 0) return;
    if (use_kernel_) {
      check_cuda(detail::launch_device_copy(stream_, src_, dst_, half_),
                 "copy kernel (device copy)");
    } else {
      check_cuda(cudaMemcpyAsync(dst_, src_, half_, cudaMemcpyDeviceToDevice, stream_),
                 "cudaMemcpyAsync (device copy)");
    }
  }
  void sync() override {
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (copy)");
  }
  void* stream() const override { return stream_; }

 private:
  // The median of `n` samples of one copy (after a warm-up), in seconds.
  double median_of(EventPair& ev, Blocker& blocker, int n) {
    warm_up(*this);
    std::vector<double> times;
    for (int i = 0; i < n; ++i) times.push_back(blocked_sample(ev, blocker, *this, 1));
    return stats::median(times);
  }

  std::size_t half_;
  cudaStream_t stream_;
  void* src_ = nullptr;
  void* dst_ = nullptr;
  bool use_kernel_ = false;
};

}  // namespace

void release_blocking_kernel() noexcept {
  if (volatile int* release = held_release.exchange(nullptr)) {
    *release = 1;
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}

std::unique_ptr<TimingStrategy> make_cuda_timing(const std::string& mode, double block_timeout_s) {
  if (mode == "hot") return std::make_unique<CudaHotTiming>(block_timeout_s);
  if (mode == "cold") return std::make_unique<CudaColdTiming>(block_timeout_s);
  return nullptr;
}

std::unique_ptr<BoundKernel> make_device_copy(double bytes) {
  if (!(bytes >= 0)) throw std::invalid_argument("make_device_copy: bytes must be >= 0");
  // Built, but nothing to run on: no ceiling, as when CUDA is not built.
  if (!cuda_status().available) return nullptr;
  const auto half = static_cast<std::size_t>(bytes / 2.0);
  return std::make_unique<DeviceCopy>(half);
}

}  // namespace opbench
