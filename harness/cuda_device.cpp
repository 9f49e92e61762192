// The CUDA backend of the harness: device status, device tensors and bind_device. Plain C++ on the
// CUDA runtime API (no kernels here), so it compiles with the host compiler.
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "harness/device.hpp"

namespace opbench {
namespace {

// What cudaGetDeviceCount and device 0 told us, read once.
struct DeviceInfo {
  BackendStatus status;
  std::vector<std::string> names;
};

std::string arch_name(const cudaDeviceProp& prop) {
  return "sm_" + std::to_string(prop.major) + std::to_string(prop.minor);
}

DeviceInfo probe_devices() {
  DeviceInfo info;
  info.status.name = "cuda";
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the error so that later calls do not report it again
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
        info.names.clear();
        return info;
      }
      info.names.push_back("cuda:" + std::to_string(d) + ": unreadable (" +
                           cudaGetErrorString(err) + ")");
      continue;
    }
    const double gib = static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0);
    info.names.push_back("cuda:" + std::to_string(d) + ": " + prop.name + " (" + arch_name(prop) +
                         ", " + std::to_string(std::llround(gib)) + " GiB)");
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

// Throws on an error. A non-sticky error (a bad launch configuration) is cleared so the next case
// starts clean; a sticky one (an illegal address, a kernel fault) leaves the context unusable,
// which the device itself tells: a synchronize after clearing still fails. It is remembered, and
// every later CUDA case of this process gets it as its error (the isolation of cases in child
// processes is what recovers them).
void check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  const std::string message = std::string(what) + ": " + cudaGetErrorString(err);
  cudaGetLastError();
  if (lost_reason().empty() && cudaDeviceSynchronize() != cudaSuccess) {
    lost_reason() = "the CUDA context was lost earlier in this process (" + message +
                    "); run with case isolation to recover the CUDA cases after it";
  }
  throw std::runtime_error(message);
}

std::size_t tensor_bytes(DType dtype, const Shape& shape) {
  return static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype);
}

// Device copies of one case's tensors; the inputs are uploaded once at bind time, the outputs are
// poisoned (all bytes 0xFF: NaN for floats, -1 for integers) and fetched back into the host
// tensors given at bind time.
class DeviceBoundKernel final : public BoundKernel {
 public:
  DeviceBoundKernel(DeviceLaunchFn launch, const Params& params)
      : launch_(std::move(launch)), params_(params) {}

  ~DeviceBoundKernel() override {
    // Wait for work still in flight on these buffers; errors cannot be thrown from here.
    cudaDeviceSynchronize();
    for (auto& [name, t] : in_) cudaFree(t.ptr);
    for (auto& [name, t] : out_) cudaFree(t.ptr);
    cudaGetLastError();
  }

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
    check(cudaMemcpy(d.ptr, host.raw(), bytes, cudaMemcpyHostToDevice),
          ("cudaMemcpy of input '" + name + "' to the device").c_str());
  }

  void allocate_output(const std::string& name, const Tensor& host) {
    DeviceTensor& d = out_[name];
    d.dtype = host.dtype();
    d.shape = host.shape();
    host_out_.emplace_back(name, host);  // shares the host storage
    const std::size_t bytes = tensor_bytes(d.dtype, d.shape);
    if (bytes == 0) return;
    check(cudaMalloc(&d.ptr, bytes), ("cudaMalloc for output '" + name + "'").c_str());
    check(cudaMemset(d.ptr, 0xFF, bytes), ("poisoning output '" + name + "'").c_str());
  }

  void finish_bind() { check(cudaDeviceSynchronize(), "bind_device: cudaDeviceSynchronize"); }

  void run() override {
    launch_(in_, out_, params_);
    check(cudaGetLastError(), "kernel launch");
  }

  void sync() override { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize after the kernel"); }

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
      check(cudaMemcpy(host.raw(), d.ptr, bytes, cudaMemcpyDeviceToHost),
            ("cudaMemcpy of output '" + name + "' to the host").c_str());
    }
  }

 private:
  DeviceLaunchFn launch_;
  Params params_;
  DeviceTensorMap in_, out_;
  std::vector<std::pair<std::string, Tensor>> host_out_;
};

}  // namespace

BackendStatus cuda_status() {
  return device_info().status;
}

std::vector<std::string> cuda_device_names() {
  return device_info().names;
}

std::string cuda_lost() {
  return lost_reason();
}

std::uint64_t cuda_memory_available() {
  if (!device_info().status.available || !lost_reason().empty()) return 0;
  std::size_t free_bytes = 0, total = 0;
  if (cudaMemGetInfo(&free_bytes, &total) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return free_bytes;
}

std::string cuda_runtime_version() {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess || v <= 0) return "";
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

void check_cuda(int err, const char* what) {
  check(static_cast<cudaError_t>(err), what);
}

BindFn bind_device(DeviceLaunchFn launch) {
  if (!launch) throw std::invalid_argument("bind_device: no launch function");
  return [launch = std::move(launch)](const TensorMap& inputs, TensorMap& outputs,
                                      const Params& p) -> std::unique_ptr<BoundKernel> {
    const BackendStatus& st = device_info().status;
    if (!st.available) throw std::runtime_error("CUDA backend: " + st.detail);
    // Constructed first, so that its destructor frees whatever was allocated if a later step
    // throws.
    auto kernel = std::make_unique<DeviceBoundKernel>(launch, p);
    for (const auto& [name, t] : inputs) kernel->upload(name, t);
    for (const auto& [name, t] : outputs) kernel->allocate_output(name, t);
    kernel->finish_bind();
    return kernel;
  };
}

}  // namespace opbench
