#pragma once
// Device (CUDA) tensors and binding, without CUDA headers so that suites compile without CUDA.
// Built with CUDA, harness/cuda_device.cpp, cuda_timing.cpp and cuda_sgemm.cpp implement these;
// without it, harness/cuda_none.cpp reports "not built". The scratch arena (cuda_scratch.cpp) is
// plain C++ in both builds.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

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

// Launches a kernel on device_stream() (never the legacy default stream); it must not
// synchronize. Scratch memory comes from device_scratch(), never from cudaMalloc of its own.
using DeviceLaunchFn =
    std::function<void(const DeviceTensorMap& in, DeviceTensorMap& out, const Params& p)>;

// Uploads the inputs once at bind time, allocates the outputs on the device (poisoned with NaN
// bytes), and fetches them back on fetch(). The bound kernel is bound to the stream that
// device_stream() gives at bind time: its copies, runs (launched under a StreamScope of it) and
// syncs all queue there, and its stream() is that stream. The bound kernel owns a scratch arena
// (DeviceScratch) that its launch function reaches through device_scratch(): allocated during the
// first run (the runner's untimed check run, or a timing's warm-up), never grown after it, freed
// with the bound kernel.
//
// `accumulate_into` names the op's accumulate-into outputs (TensorDecl::accumulate): those are not
// poisoned but uploaded from the host tensors (the base the runner put there, which the kernel adds
// to), and reset_accumulators() zeroes them on the kernel's stream before each timed run.
BindFn bind_device(DeviceLaunchFn launch, std::vector<std::string> accumulate_into = {});

// How a DeviceScratch gets and gives back memory: cudaMalloc and cudaFree on a device; anything
// in a test. `alloc` throws on failure; `release` must not throw.
struct ScratchAllocator {
  void* (*alloc)(std::size_t bytes, const char* what) = nullptr;
  void (*release)(void* ptr) = nullptr;
};

// Scratch memory of one bound kernel: one buffer per name, each the same from run to run (names
// are the kernels' own, e.g. "linear_scan A"). While growable, a request larger than its buffer
// replaces the buffer (the old one is freed first); once sealed (after the bound kernel's first
// run), such a request throws std::runtime_error: a timed run never allocates, and a kernel whose
// scratch depends on anything but its case is a bug. Its buffers are real allocations, so the
// device's free memory (cuda_memory_available) counts them.
class DeviceScratch {
 public:
  explicit DeviceScratch(ScratchAllocator allocator);
  ~DeviceScratch();  // frees every buffer (the owner waits for the device first)
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;

  // The buffer named `what`, at least `bytes` long (nullptr for 0 bytes never asked for more).
  void* get(const char* what, std::size_t bytes);
  template <class T>
  T* get(const char* what, std::size_t count) {
    return static_cast<T*>(get(what, count * sizeof(T)));
  }
  void seal() { sealed_ = true; }
  bool sealed() const { return sealed_; }
  std::size_t bytes() const { return bytes_; }  // held now, all buffers together
  std::size_t buffers() const { return slots_.size(); }

 private:
  struct Slot {
    std::string name;
    void* ptr = nullptr;
    std::size_t bytes = 0;
  };
  ScratchAllocator allocator_;
  std::vector<Slot> slots_;
  std::size_t bytes_ = 0;
  bool sealed_ = false;
};

// The scratch arena of the kernel being run on this thread: the bound kernel's while its run()
// launches; outside any bound kernel (a kernel function called directly, as tests do), a
// process-wide arena that grows as needed and is never sealed.
DeviceScratch& device_scratch();
// Makes `scratch` the arena device_scratch() gives on this thread for its lifetime (nests).
class ScratchScope {
 public:
  explicit ScratchScope(DeviceScratch& scratch);
  ~ScratchScope();
  ScratchScope(const ScratchScope&) = delete;
  ScratchScope& operator=(const ScratchScope&) = delete;

 private:
  DeviceScratch* previous_;
};

// A CUDA stream (cudaStream_t) without CUDA headers.
using DeviceStream = void*;

// The stream that device kernels launched on this thread queue on: the one a StreamScope binds,
// else the CUDA backend's own stream (created on first use, never destroyed). That stream is
// non-blocking: work on the legacy default stream (a library or a test that forgot its stream)
// neither waits for our kernels nor slips in between a sample's events. Throws when CUDA is not
// built or the stream cannot be created.
DeviceStream device_stream();
// Makes `stream` the one device_stream() gives on this thread for its lifetime (nests). The
// caller owns the stream; binding nullptr means the legacy default stream.
class StreamScope {
 public:
  explicit StreamScope(DeviceStream stream);
  ~StreamScope();
  StreamScope(const StreamScope&) = delete;
  StreamScope& operator=(const StreamScope&) = delete;

 private:
  DeviceStream previous_;
  bool previous_bound_;
};

// Whether CUDA was built and a device is present, with the reason when not (any error from
// cudaGetDeviceCount, such as "CUDA driver version is insufficient", means no device).
BackendStatus cuda_status();
// One line per device for the report (harness/cuda_plan.hpp: device_line), read once.
std::vector<std::string> cuda_device_names();
std::string cuda_runtime_version();  // "13.0" or "" when not built

// Throws std::runtime_error with the CUDA error string when `err` is not success; used by kernels.
// A sticky error (an illegal address, a kernel fault: the context is lost) is also remembered,
// and cuda_lost() says it from then on; a non-sticky one (a bad launch configuration) is cleared.
void check_cuda(int err, const char* what);
// "" while the CUDA context of this process is usable; else the sticky error that lost it. The
// single truth about the context: no code path clears a sticky error and goes on.
std::string cuda_lost();
// Device memory free on device 0 in bytes (0 when not built, no device, or the context is lost).
std::uint64_t cuda_memory_available();

// The CUDA timing modes (harness/cuda_timing.cpp), both manual time from device events and both
// with the timed launches queued behind a blocking kernel (it spins on a flag in mapped pinned
// host memory until the host has queued every launch of the sample, so the host's launch overhead
// stays outside the events):
//  "hot": a batch of back-to-back runs per sample (sized to last ~50 us), the time per run
//         reported (counter launches_per_sample);
//  "cold": before each sample, outside the events, a device buffer of twice the L2 size is
//         written (cudaMemsetAsync), then one run between the events.
// nullptr for another mode or when CUDA is not built. `block_timeout_s` bounds how long the
// blocking kernel waits for the host; a sample it gave up on is an error (a run() that
// synchronizes, or more launches than the device queues), never a number.
std::unique_ptr<TimingStrategy> make_cuda_timing(const std::string& mode,
                                                 double block_timeout_s = 10.0);

// The compute ceiling: an n x n x n cuBLAS SGEMM in float32 (CUBLAS_DEFAULT_MATH: no TF32) on the
// default stream, column-major C = A B with A[i] = ((i % 7) - 3) / 8 and B[i] = ((i % 5) - 2) / 4
// (so every product and sum is exact in float32 for n <= 8192). nullptr when CUDA is not built
// or no device is present; throws when the matrices cannot be allocated.
std::unique_ptr<BoundKernel> make_device_sgemm(int n);
// C of a kernel made by make_device_sgemm (n x n, column-major), copied to the host; throws
// std::invalid_argument for any other kernel.
std::vector<float> device_sgemm_result(BoundKernel& sgemm);

}  // namespace opbench
