#pragma once
// Device scratch of the pkm family's CUDA kernels (included by .cu files only): one buffer per use,
// grown when a case needs more and never shrunk, so that only the first run of a shape allocates
// (cudaMalloc synchronizes; the runner checks a case before timing it, so timing never sees that).
#include <cuda_runtime.h>

#include <cstddef>

// clang-format off
#include "harness/registry.hpp"  // first: harness/device.hpp uses BackendStatus
// clang-format on
#include "harness/device.hpp"

namespace opbench::cuda {

class ScratchBuffer {
 public:
  template <class T>
  T* get(std::size_t count, const char* what) {
    const std::size_t bytes = count * sizeof(T);
    if (bytes > bytes_) {
      if (ptr_) check_cuda(cudaFree(ptr_), what);
      ptr_ = nullptr;
      bytes_ = 0;
      check_cuda(cudaMalloc(&ptr_, bytes), what);
      bytes_ = bytes;
    }
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace opbench::cuda
