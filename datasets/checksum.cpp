#include "datasets/checksum.hpp"

#include <cstdio>

namespace opbench::datasets {

std::uint64_t fnv1a64(const void* data, std::size_t n, std::uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= kFnvPrime;
  }
  return h;
}

std::string tensor_checksum(const Tensor& t) {
  const std::string prefix =
      std::string(dtype_name(t.dtype())) + shape_string(t.shape()) + std::string(1, '\0');
  std::uint64_t h = fnv1a64(prefix.data(), prefix.size());
  if (t.bytes() > 0 && t.raw() != nullptr) h = fnv1a64(t.raw(), t.bytes(), h);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::string("fnv1a64:") + hex;
}

}  // namespace opbench::datasets
