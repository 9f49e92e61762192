#pragma once
// A std::vector of 64-byte aligned storage, as the harness allocates tensors: the fast kernels'
// streaming stores take their aligned path only there, so kernel tests allocate this way.
#include <cstddef>
#include <new>
#include <vector>

namespace opbench::test_support {

template <class T>
struct Aligned64 {
  using value_type = T;
  Aligned64() = default;
  template <class U>
  Aligned64(const Aligned64<U>&) {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{64}));
  }
  void deallocate(T* p, std::size_t) { ::operator delete (p, std::align_val_t{64}); }
  bool operator==(const Aligned64&) const { return true; }
};

using FVec = std::vector<float, Aligned64<float>>;

}  // namespace opbench::test_support
