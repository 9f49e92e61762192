// The scratch arena of a bound device kernel (harness/device.hpp), in plain C++: the memory comes
// from its allocator (cudaMalloc in harness/cuda_device.cpp), so the same logic is built and
// tested without CUDA.
#include <cstring>
#include <stdexcept>
#include <string>

#include "harness/device.hpp"

namespace opbench {

// The process-wide arena for kernels called outside a bound kernel: harness/cuda_device.cpp, or
// harness/cuda_none.cpp (whose allocator throws "not built").
DeviceScratch& loose_device_scratch();

namespace {
thread_local DeviceScratch* current_scratch = nullptr;
}  // namespace

DeviceScratch::DeviceScratch(ScratchAllocator allocator) : allocator_(allocator) {
  if (!allocator_.alloc || !allocator_.release) {
    throw std::invalid_argument("DeviceScratch: an allocator needs both alloc and release");
  }
}

DeviceScratch::~DeviceScratch() {
  for (Slot& s : slots_) {
    if (s.ptr) allocator_.release(s.ptr);
  }
}

void* DeviceScratch::get(const char* what, std::size_t bytes) {
  if (what == nullptr) throw std::invalid_argument("DeviceScratch::get: a buffer needs a name");
  Slot* slot = nullptr;
  for (Slot& s : slots_) {
    if (std::strcmp(s.name.c_str(), what) == 0) {
      slot = &s;
      break;
    }
  }
  if (slot && slot->bytes >= bytes) return slot->ptr;
  if (sealed_) {
    throw std::runtime_error(
        std::string(what) + ": " + std::to_string(bytes) +
        " bytes of scratch asked for after the bound kernel's first run, which " +
        (slot ? "took " + std::to_string(slot->bytes) : std::string("did not ask for it")) +
        " (a kernel's scratch may depend only on its case, and a timed run never allocates)");
  }
  if (!slot) {
    slots_.push_back(Slot{what, nullptr, 0});
    slot = &slots_.back();
  }
  if (slot->ptr) {
    allocator_.release(slot->ptr);  // the device waits for work still using it (cudaFree)
    slot->ptr = nullptr;
    bytes_ -= slot->bytes;
    slot->bytes = 0;
  }
  slot->ptr = bytes > 0 ? allocator_.alloc(bytes, what) : nullptr;  // throws: the slot stays empty
  slot->bytes = bytes;
  bytes_ += bytes;
  return slot->ptr;
}

ScratchScope::ScratchScope(DeviceScratch& scratch) : previous_(current_scratch) {
  current_scratch = &scratch;
}

ScratchScope::~ScratchScope() {
  current_scratch = previous_;
}

DeviceScratch& device_scratch() {
  return current_scratch ? *current_scratch : loose_device_scratch();
}

}  // namespace opbench
