#pragma once
// NumPy .npy files (format versions 1.0, 2.0 and 3.0), little-endian, C order:
// '<f4', '<f8', '<f2', '<i4', '<i8' (bf16 has no numpy dtype).
//
// Every problem — a missing file, bad magic, a truncated header or data, an unsupported dtype,
// Fortran order — is a UsageError of one line naming the file. A Fortran-order header is accepted
// only where the layout equals C order (at most one dimension larger than 1).
#include <string>

#include "harness/data_provider.hpp"
#include "harness/tensor.hpp"

namespace opbench::datasets {

// Reads only the header (to plan shapes before allocating).
NpyHeader read_npy_header(const std::string& path);
Tensor read_npy(const std::string& path);
// Writes atomically: a temporary file in the same folder, then rename; a failure leaves no file
// and keeps an existing one.
void write_npy(const Tensor& t, const std::string& path);

// The preamble write_npy emits: magic, version, length, the header dict padded with spaces and a
// newline so that the data starts at a multiple of 64 bytes (version 2.0 if it needs > 65535).
std::string npy_preamble(DType dtype, const Shape& shape);

}  // namespace opbench::datasets
