// The CUDA compute ceiling: an n x n x n SGEMM through cuBLAS (part of the CUDA Toolkit) in plain
// float32 (CUBLAS_DEFAULT_MATH: no TF32 tensor cores), on the stream device_stream() gives when it
// is made, on a handle of its own. The harness does not include kernels/
// (kernels/cuda/cublas_gemm.cu serves the kernels); the few calls it needs are here.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/cuda_internal.hpp"
#include "harness/device.hpp"

namespace opbench {
namespace {

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string(what) + ": cuBLAS error " + cublasGetStatusString(status));
  }
}

// The inputs' patterns (device.hpp): periods 7 and 5, so a host block whose length is a multiple
// of 35 holds the pattern of every block of the matrix.
float a_value(std::int64_t i) {
  return static_cast<float>(i % 7 - 3) / 8.0f;
}
float b_value(std::int64_t i) {
  return static_cast<float>(i % 5 - 2) / 4.0f;
}

// An n x n float32 matrix on the device, freed with it (also when a later member's setup throws).
struct DeviceMatrix {
  explicit DeviceMatrix(int n) : count(static_cast<std::size_t>(n) * static_cast<std::size_t>(n)) {
    check_cuda(cudaMalloc(reinterpret_cast<void**>(&p), count * sizeof(float)),
               "cudaMalloc of the SGEMM ceiling's matrices");
  }
  ~DeviceMatrix() { note_cuda_error(cudaFree(p), "cudaFree (SGEMM ceiling)"); }
  DeviceMatrix(const DeviceMatrix&) = delete;
  DeviceMatrix& operator=(const DeviceMatrix&) = delete;
  std::size_t count;
  float* p = nullptr;
};

// A cuBLAS handle on `stream` with plain float32 math.
struct BlasHandle {
  explicit BlasHandle(cudaStream_t stream) {
    check_cublas(cublasCreate(&h), "cublasCreate");
    try {
      check_cublas(cublasSetStream(h, stream), "cublasSetStream");
      check_cublas(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
      check_cublas(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
    } catch (...) {
      cublasDestroy(h);
      throw;
    }
  }
  ~BlasHandle() { cublasDestroy(h); }
  BlasHandle(const BlasHandle&) = delete;
  BlasHandle& operator=(const BlasHandle&) = delete;
  cublasHandle_t h = nullptr;
};

int checked_size(int n) {
  if (n <= 0) throw std::invalid_argument("make_device_sgemm: n must be positive");
  return n;
}

class DeviceSgemm final : public BoundKernel {
 public:
  explicit DeviceSgemm(int n)
      : n_(checked_size(n)),
        stream_(static_cast<cudaStream_t>(device_stream())),
        a_(n),
        b_(n),
        c_(n),
        handle_(stream_) {
    fill(a_, a_value);
    fill(b_, b_value);
    check_cuda(cudaMemsetAsync(c_.p, 0xFF, c_.count * sizeof(float), stream_),
               "poisoning the SGEMM ceiling's C");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (SGEMM ceiling setup)");
  }
  ~DeviceSgemm() override {
    // The matrices and the handle are freed after this, once the stream is idle.
    note_cuda_error(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (SGEMM ceiling)");
  }
  DeviceSgemm(const DeviceSgemm&) = delete;
  DeviceSgemm& operator=(const DeviceSgemm&) = delete;

  void run() override {
    const float one = 1.0f, zero = 0.0f;
    check_cublas(cublasSgemm(handle_.h, CUBLAS_OP_N, CUBLAS_OP_N, n_, n_, n_, &one, a_.p, n_, b_.p,
                             n_, &zero, c_.p, n_),
                 "cublasSgemm (SGEMM ceiling)");
    check_cuda(cudaGetLastError(), "cublasSgemm (SGEMM ceiling)");
  }
  void sync() override {
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (SGEMM)");
  }
  void* stream() const override { return stream_; }

  std::vector<float> result() {
    std::vector<float> c(static_cast<std::size_t>(n_) * static_cast<std::size_t>(n_));
    check_cuda(
        cudaMemcpyAsync(c.data(), c_.p, c.size() * sizeof(float), cudaMemcpyDeviceToHost, stream_),
        "cudaMemcpyAsync of the SGEMM ceiling's C");
    sync();
    return c;
  }

 private:
  // Synchronous per block: the host block is reused.
  void fill(DeviceMatrix& m, float (*value)(std::int64_t)) {
    constexpr std::size_t kBlock = 35 * 8192;  // a multiple of both periods
    std::vector<float> host(std::min(m.count, kBlock));
    for (std::size_t i = 0; i < host.size(); ++i) host[i] = value(static_cast<std::int64_t>(i));
    for (std::size_t at = 0; at < m.count; at += host.size()) {
      const std::size_t n = std::min(host.size(), m.count - at);
      check_cuda(cudaMemcpyAsync(m.p + at, host.data(), n * sizeof(float), cudaMemcpyHostToDevice,
                                 stream_),
                 "cudaMemcpyAsync of the SGEMM ceiling's inputs");
      sync();
    }
  }

  int n_;
  cudaStream_t stream_;
  DeviceMatrix a_, b_, c_;
  BlasHandle handle_;
};

}  // namespace

std::unique_ptr<BoundKernel> make_device_sgemm(int n) {
  if (!cuda_status().available) return nullptr;
  return std::make_unique<DeviceSgemm>(n);
}

std::vector<float> device_sgemm_result(BoundKernel& sgemm) {
  auto* k = dynamic_cast<DeviceSgemm*>(&sgemm);
  if (!k) throw std::invalid_argument("device_sgemm_result: not a kernel of make_device_sgemm");
  return k->result();
}

}  // namespace opbench
