#pragma once
// Tensor checksums, recorded in reports so that a run's inputs can be recognised later.
//
// checksum(t) = "fnv1a64:" + 16 lower-case hex digits of the 64-bit FNV-1a hash of the byte
// string  dtype_name + shape_string + '\0' + the elements' little-endian bytes in row-major order,
// e.g. "f32[3, 4]\0" followed by 48 bytes. Equal tensors (dtype, shape and bytes) hash equal;
// the hash is reproducible with any FNV-1a implementation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "harness/tensor.hpp"

namespace opbench::datasets {

inline constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ull;
inline constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;

// Continues an FNV-1a 64 hash over `n` bytes.
std::uint64_t fnv1a64(const void* data, std::size_t n, std::uint64_t h = kFnvOffset);

std::string tensor_checksum(const Tensor& t);

}  // namespace opbench::datasets
