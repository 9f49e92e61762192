// A plain vectorized copy kernel for the device copy ceiling. cudaMemcpyAsync between device
// buffers carries more fixed cost than a kernel launch, which understates the ceiling for the
// small (cache-resident) sizes where norm kernels run in a few microseconds.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace opbench::detail {

namespace {
__global__ void copy_vec4(const float4* __restrict__ src, float4* __restrict__ dst,
                          std::size_t n4) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n4;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    dst[i] = src[i];
  }
}
__global__ void copy_bytes(const unsigned char* src, unsigned char* dst, std::size_t n) {
  for (std::size_t i = threadIdx.x; i < n; i += blockDim.x) dst[i] = src[i];
}
}  // namespace

// Copies `bytes` from src to dst (both 256-byte aligned from cudaMalloc) on `stream` (a
// cudaStream_t).
int launch_device_copy(void* stream, const void* src, void* dst, std::size_t bytes) {
  const auto on = static_cast<cudaStream_t>(stream);
  const std::size_t n4 = bytes / 16;
  if (n4 > 0) {
    int device = 0, sms = 1;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
    const std::size_t blocks_needed = (n4 + 255) / 256;
    const unsigned blocks = static_cast<unsigned>(
        blocks_needed < static_cast<std::size_t>(sms) * 8 ? blocks_needed : sms * 8);
    copy_vec4<<<blocks, 256, 0, on>>>(static_cast<const float4*>(src), static_cast<float4*>(dst),
                                      n4);
  }
  if (const std::size_t tail = bytes - n4 * 16; tail > 0) {
    copy_bytes<<<1, 32, 0, on>>>(static_cast<const unsigned char*>(src) + n4 * 16,
                                 static_cast<unsigned char*>(dst) + n4 * 16, tail);
  }
  return static_cast<int>(cudaGetLastError());
}

}  // namespace opbench::detail
