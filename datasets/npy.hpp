#pragma once
// NumPy .npy files (format versions 1.0, 2.0 and 3.0), little-endian, C order:
// '<f4', '<f8', '<f2', '<i4', '<i8' (bf16 has no numpy dtype).
//
// Every problem — a missing file, a FIFO or device instead of a file, bad magic, a header that
// disagrees with itself or with the file's size, an unsupported dtype, Fortran order — is a
// UsageError of one line naming the file (npy_header.hpp has the rules). A Fortran-order header
// is accepted only where the layout equals C order (at most one dimension larger than 1).
#include <string>
#include <string_view>

#include "datasets/npy_header.hpp"
#include "harness/data_provider.hpp"
#include "harness/tensor.hpp"

namespace opbench::datasets {

// Reads only the header (to plan shapes before allocating).
NpyHeader read_npy_header(const std::string& path);
// Reads the array; the file must hold exactly the preamble and the data its header declares.
Tensor read_npy(const std::string& path);
// The same from the bytes of a whole file held in memory; `name` names it in errors.
Tensor decode_npy(std::string_view bytes, const std::string& name);
// Writes atomically: a temporary file in the same folder, then rename; a failure leaves no file
// and keeps an existing one.
void write_npy(const Tensor& t, const std::string& path);

}  // namespace opbench::datasets
