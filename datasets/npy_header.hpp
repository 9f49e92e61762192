#pragma once
// The .npy preamble (magic, version, header length, header dict) as bytes: parsing it strictly
// and writing it. No files here: npy.hpp reads and writes files through these, and the fuzz
// target feeds them bytes directly.
//
// A preamble is accepted only when it is exactly what numpy's format describes: the magic
// "\x93NUMPY", version 1.0, 2.0 or 3.0, a little-endian header length, then that many bytes
// holding one Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...), } with
// each key once, padded with spaces and ended by a newline. A length that misses the newline by
// one byte, or a duplicated key, is an error, never a silently shifted read. Every error is a
// UsageError of one line naming the file.
#include <cstdint>
#include <string>
#include <string_view>

#include "harness/data_provider.hpp"
#include "harness/tensor.hpp"

namespace opbench::datasets {

// What a preamble declares: the array, where its data starts and how many bytes it is.
struct NpyLayout {
  NpyHeader header;
  std::uint64_t data_offset = 0;  // magic + version + length field + header dict
  std::uint64_t data_bytes = 0;   // numel x dtype size
};

// The longest a preamble's fixed part (magic, version, length field) can be: 12 bytes.
inline constexpr std::size_t kNpyFixedPrefix = 12;

// The whole preamble's length (fixed part + header dict), read from the first bytes of a file
// (`first` holds up to kNpyFixedPrefix of them; fewer only when the file is that short).
std::uint64_t npy_preamble_length(std::string_view first, const std::string& name);

// Parses a whole preamble (`preamble` starts at the file's first byte and holds at least
// npy_preamble_length bytes; anything after them is ignored).
NpyLayout parse_npy_preamble(std::string_view preamble, const std::string& name);

// Throws unless a file of `file_size` bytes holds exactly the preamble and the data: a truncated
// file and one with bytes after the data (a header that lies about the shape or its own length)
// are both refused.
void check_npy_file_size(const NpyLayout& layout, std::uint64_t file_size, const std::string& name);

// The preamble write_npy emits: magic, version, length, the header dict padded with spaces and a
// newline so that the data starts at a multiple of 64 bytes (version 2.0 if it needs > 65535).
std::string npy_preamble(DType dtype, const Shape& shape);

}  // namespace opbench::datasets
