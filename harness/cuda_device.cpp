// The CUDA backend of the harness: device status and properties, the sticky-error state, its
// stream, device tensors, scratch memory and bind_device. Plain C++ on the CUDA runtime API (no
// kernels here), so it compiles with the host compiler.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "harness/cuda_internal.hpp"
#include "harness/cuda_plan.hpp"
#include "harness/device.hpp"

namespace opbench {
namespace {

// What cudaGetDeviceCount and the devices told us, read once.
struct DeviceInfo {
  BackendStatus status;
  std::vector<std::string> lines;
};

std::string arch_name(const cudaDeviceProp& prop) {
  return "sm_" + std::to_string(prop.major) + std::to_string(prop.minor);
}

// An attribute of device `d`, or 0 when it cannot be read (the error is cleared: it is not sticky).
int attribute(cudaDeviceAttr attr, int d) {
  int value = 0;
  if (cudaDeviceGetAttribute(&value, attr, d) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return value;
}

cuda_plan::DeviceFacts facts_of(int d, const cudaDeviceProp& prop) {
  cuda_plan::DeviceFacts f;
  f.index = d;
  f.name = prop.name;
  f.major = prop.major;
  f.minor = prop.minor;
  f.multiprocessors = prop.multiProcessorCount;
  f.total_memory = prop.totalGlobalMem;
  f.l2_bytes = prop.l2CacheSize;
  f.sm_clock_khz = attribute(cudaDevAttrClockRate, d);
  f.memory_clock_khz = attribute(cudaDevAttrMemoryClockRate, d);
  f.memory_bus_bits = attribute(cudaDevAttrGlobalMemoryBusWidth, d);
  f.ecc = prop.ECCEnabled ? 1 : 0;
  if (cudaDriverGetVersion(&f.driver_version) != cudaSuccess) {
    cudaGetLastError();
    f.driver_version = 0;
  }
  if (cudaRuntimeGetVersion(&f.runtime_version) != cudaSuccess) {
    cudaGetLastError();
    f.runtime_version = 0;
  }
  return f;
}

DeviceInfo probe_devices() {
  DeviceInfo info;
  info.status.name = "cuda";
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // no device: not sticky, and nothing is run on it
    info.status.detail = std::string("built, but no usable device: ") + cudaGetErrorString(err);
    return info;
  }
  if (count <= 0) {
    info.status.detail = "built, but no usable device: cudaGetDeviceCount found 0 devices";
    return info;
  }
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp prop{};
    err = cudaGetDeviceProperties(&prop, d);
    if (err != cudaSuccess) {
      cudaGetLastError();
      if (d == 0) {
        info.status.detail =
            std::string("built, but no usable device: cudaGetDeviceProperties(0): ") +
            cudaGetErrorString(err);
        info.lines.clear();
        return info;
      }
      info.lines.push_back("cuda:" + std::to_string(d) + ": unreadable (" +
                           cudaGetErrorString(err) + ")");
      continue;
    }
    info.lines.push_back(cuda_plan::device_line(facts_of(d, prop)));
    if (d == 0) {
      info.status.detail = std::string(prop.name) + " (" + arch_name(prop) + "), " +
                           std::to_string(count) + " device(s)";
    }
  }
  info.status.available = true;
  return info;
}

const DeviceInfo& device_info() {
  static const DeviceInfo info = probe_devices();  // thread-safe, once per process
  return info;
}

// Set once a sticky error lost this process's CUDA context; "" while it is usable.
std::string& lost_reason() {
  static std::string reason;
  return reason;
}

// Asks the device whether the context survived what `message` says went wrong: after a sticky
// error (an illegal address, a kernel fault) a synchronize fails however often the last error is
// cleared. That is remembered, and every later CUDA case of this process gets it as its error (the
// isolation of cases in child processes is what recovers them). Never throws.
void probe_context(const std::string& message) noexcept {
  if (!device_info().status.available || !lost_reason().empty()) return;
  release_blocking_kernel();  // or the synchronize would wait for the blocking kernel's timeout
  const cudaError_t sync = cudaDeviceSynchronize();
  if (sync == cudaSuccess) return;
  try {
    const std::string said = cudaGetErrorString(sync);
    lost_reason() = "the CUDA context was lost earlier in this process (" + message +
                    (message.find(said) == std::string::npos ? "; then: " + said : "") +
                    "); run with case isolation to recover the CUDA cases after it";
  } catch (...) {
  }
}

// Looks at an error: a non-sticky one (a bad launch configuration, out of memory) is cleared so
// the next case starts clean; a sticky one is remembered (probe_context). Returns its line.
std::string classify(cudaError_t err, const char* what) noexcept {
  std::string message;
  try {
    message = std::string(what) + ": " + cudaGetErrorString(err);
  } catch (...) {
  }
  cudaGetLastError();  // clears a non-sticky error; a sticky one stays, whatever this says
  probe_context(message);
  return message;
}

void check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  throw std::runtime_error(classify(err, what));
}

std::size_t tensor_bytes(DType dtype, const Shape& shape) {
  return static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype);
}

void* scratch_alloc(std::size_t bytes, const char* what) {
  void* p = nullptr;
  check(cudaMalloc(&p, bytes), (std::string("cudaMalloc of scratch '") + what + "'").c_str());
  return p;
}

void scratch_release(void* p) {
  note_cuda_error(cudaFree(p), "cudaFree of scratch");
}

constexpr ScratchAllocator kCudaScratch{scratch_alloc, scratch_release};

// Device copies of one case's tensors; the inputs are uploaded once at bind time, the outputs are
// poisoned (all bytes 0xFF: NaN for floats, -1 for integers) and fetched back into the host
// tensors given at bind time; accumulate-into outputs are uploaded instead (their base), and
// zeroed on the stream by reset_accumulators(). Scratch lives in its arena, sealed after the first
// run.
class DeviceBoundKernel final : public BoundKernel {
 public:
  DeviceBoundKernel(DeviceLaunchFn launch, const Params& params, cudaStream_t stream,
                    const std::vector<std::string>& accumulate_into)
      : launch_(std::move(launch)),
        params_(params),
        stream_(stream),
        accumulate_into_(accumulate_into),
        scratch_(kCudaScratch) {}

  ~DeviceBoundKernel() override {
    // Wait for work still in flight on these buffers; errors cannot be thrown from here, and a
    // sticky one is remembered (note_cuda_error), never cleared and forgotten. The scratch arena
    // is freed after this body, once the stream is idle.
    note_cuda_error(cudaStreamSynchronize(stream_), "cudaStreamSynchronize before freeing a case");
    for (auto& [name, t] : in_) note_cuda_error(cudaFree(t.ptr), "cudaFree of an input");
    for (auto& [name, t] : out_) note_cuda_error(cudaFree(t.ptr), "cudaFree of an output");
  }

  // Queued on the kernel's stream; the host tensor outlives finish_bind(), which waits for it.
  void upload(const std::string& name, const Tensor& host) {
    DeviceTensor& d = in_[name];
    d.dtype = host.dtype();
    d.shape = host.shape();
    const std::size_t bytes = host.bytes();
    if (bytes == 0) return;
    if (host.raw() == nullptr) {
      throw std::runtime_error("bind_device: input '" + name + "' has no storage");
    }
    check(cudaMalloc(&d.ptr, bytes), ("cudaMalloc for input '" + name + "'").c_str());
    check(cudaMemcpyAsync(d.ptr, host.raw(), bytes, cudaMemcpyHostToDevice, stream_),
          ("cudaMemcpyAsync of input '" + name + "' to the device").c_str());
  }

  void allocate_output(const std::string& name, const Tensor& host) {
    DeviceTensor& d = out_[name];
    d.dtype = host.dtype();
    d.shape = host.shape();
    host_out_.emplace_back(name, host);  // shares the host storage
    const std::size_t bytes = tensor_bytes(d.dtype, d.shape);
    if (bytes == 0) return;
    check(cudaMalloc(&d.ptr, bytes), ("cudaMalloc for output '" + name + "'").c_str());
    if (!accumulated(name)) {
      check(cudaMemsetAsync(d.ptr, 0xFF, bytes, stream_),
            ("poisoning output '" + name + "'").c_str());
      return;
    }
    if (host.raw() == nullptr || host.bytes() != bytes) {
      throw std::runtime_error("bind_device: accumulate-into output '" + name +
                               "' has no host storage of its size to start from");
    }
    check(cudaMemcpyAsync(d.ptr, host.raw(), bytes, cudaMemcpyHostToDevice, stream_),
          ("cudaMemcpyAsync of accumulate-into output '" + name + "' to the device").c_str());
  }

  // Each accumulate-into output must be one of the case's outputs: a misspelt name would leave a
  // buffer accumulating over the timed runs.
  void check_accumulated_names() const {
    for (const auto& name : accumulate_into_) {
      if (out_.find(name) == out_.end()) {
        throw std::logic_error("bind_device: accumulate-into output '" + name +
                               "' is not an output of the case");
      }
    }
  }

  bool accumulates() const override { return !accumulate_into_.empty(); }

  void reset_accumulators() override {
    for (const auto& name : accumulate_into_) {
      const DeviceTensor& d = out_.at(name);
      const std::size_t bytes = tensor_bytes(d.dtype, d.shape);
      if (bytes == 0) continue;
      check(cudaMemsetAsync(d.ptr, 0, bytes, stream_),
            ("zeroing accumulate-into output '" + name + "'").c_str());
    }
  }

  void finish_bind() {
    check(cudaStreamSynchronize(stream_), "bind_device: cudaStreamSynchronize");
  }

  void run() override {
    try {
      ScratchScope scratch(scratch_);
      StreamScope stream(stream_);
      launch_(in_, out_, params_);
    } catch (const std::exception& e) {
      scratch_.seal();
      // A kernel function may throw an error of its own (a cuBLAS status) for a fault: ask the
      // device whether the context survived.
      cudaGetLastError();
      probe_context(e.what());
      throw;
    }
    scratch_.seal();
    check(cudaGetLastError(), "kernel launch");
  }

  void sync() override {
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize after the kernel");
  }

  void* stream() const override { return stream_; }

  void fetch() override {
    sync();
    for (auto& [name, host] : host_out_) {
      const DeviceTensor& d = out_.at(name);
      const std::size_t bytes = tensor_bytes(d.dtype, d.shape);
      if (bytes == 0) continue;
      if (host.raw() == nullptr || host.bytes() != bytes) {
        throw std::runtime_error("bind_device: host output '" + name +
                                 "' changed size or lost its storage since bind");
      }
      check(cudaMemcpyAsync(host.raw(), d.ptr, bytes, cudaMemcpyDeviceToHost, stream_),
            ("cudaMemcpyAsync of output '" + name + "' to the host").c_str());
    }
    sync();
  }

 private:
  DeviceLaunchFn launch_;
  Params params_;
  bool accumulated(const std::string& name) const {
    return std::find(accumulate_into_.begin(), accumulate_into_.end(), name) !=
           accumulate_into_.end();
  }

  cudaStream_t stream_;
  std::vector<std::string> accumulate_into_;
  DeviceTensorMap in_, out_;
  std::vector<std::pair<std::string, Tensor>> host_out_;
  DeviceScratch scratch_;
};

}  // namespace

DeviceScratch& loose_device_scratch() {
  // Never destroyed: the CUDA context may be gone by the time static destructors run.
  static DeviceScratch* const scratch = new DeviceScratch(kCudaScratch);
  return *scratch;
}

void note_cuda_error(int err, const char* what) noexcept {
  if (err != cudaSuccess) classify(static_cast<cudaError_t>(err), what);
}

BackendStatus cuda_status() {
  return device_info().status;
}

std::vector<std::string> cuda_device_names() {
  return device_info().lines;
}

void* cuda_backend_stream() {
  static const cudaStream_t stream = [] {
    if (!device_info().status.available) {
      throw std::runtime_error("device_stream: CUDA backend: " + device_info().status.detail);
    }
    cudaStream_t created = nullptr;
    check(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking),
          "cudaStreamCreateWithFlags (the CUDA backend's stream)");
    return created;
  }();
  return stream;
}

std::string cuda_lost() {
  return lost_reason();
}

std::uint64_t cuda_memory_available() {
  if (!device_info().status.available || !lost_reason().empty()) return 0;
  std::size_t free_bytes = 0, total = 0;
  if (const cudaError_t err = cudaMemGetInfo(&free_bytes, &total); err != cudaSuccess) {
    note_cuda_error(err, "cudaMemGetInfo");
    return 0;
  }
  return free_bytes;
}

std::string cuda_runtime_version() {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess) return "";
  return cuda_plan::version_text(v);
}

void check_cuda(int err, const char* what) {
  check(static_cast<cudaError_t>(err), what);
}

BindFn bind_device(DeviceLaunchFn launch, std::vector<std::string> accumulate_into) {
  if (!launch) throw std::invalid_argument("bind_device: no launch function");
  return [launch = std::move(launch), accumulate_into = std::move(accumulate_into)](
             const TensorMap& inputs, TensorMap& outputs,
             const Params& p) -> std::unique_ptr<BoundKernel> {
    const BackendStatus& st = device_info().status;
    if (!st.available) throw std::runtime_error("CUDA backend: " + st.detail);
    // Constructed first, so that its destructor frees whatever was allocated if a later step
    // throws.
    auto kernel = std::make_unique<DeviceBoundKernel>(
        launch, p, static_cast<cudaStream_t>(device_stream()), accumulate_into);
    for (const auto& [name, t] : inputs) kernel->upload(name, t);
    for (const auto& [name, t] : outputs) kernel->allocate_output(name, t);
    kernel->check_accumulated_names();
    kernel->finish_bind();
    return kernel;
  };
}

}  // namespace opbench
