// Fuzz target: the strict .npy reader. Any bytes are either refused with a one-line UsageError
// or read as an array that (a) the file reader reads the same from a file, (b) agrees with the
// header-only reader, and (c) survives a write/read round trip unchanged.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "datasets/npy.hpp"
#include "fuzz/fuzz_check.hpp"
#include "fuzz/memory_file.hpp"
#include "harness/errors.hpp"

using opbench::Tensor;
using opbench::UsageError;
namespace ds = opbench::datasets;
namespace fz = opbench::fuzz;

namespace {

bool same(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         (a.bytes() == 0 || std::memcmp(a.raw(), b.raw(), a.bytes()) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  bool decoded = false;
  Tensor t;
  try {
    t = ds::decode_npy(bytes, "input.npy");
    decoded = true;
  } catch (const UsageError& e) {
    fz::check_one_line(e.what());
  }

  // The file reader gives the same answer as the bytes reader.
  const fz::MemoryFile file(data, size);
  try {
    const Tensor from_file = ds::read_npy(file.path());
    OPBENCH_FUZZ_CHECK(decoded, "read_npy accepted what decode_npy refused");
    OPBENCH_FUZZ_CHECK(same(t, from_file), "read_npy and decode_npy disagree");
    const opbench::NpyHeader h = ds::read_npy_header(file.path());
    OPBENCH_FUZZ_CHECK(h.dtype == t.dtype() && h.shape == t.shape(), "header-only read differs");
  } catch (const UsageError& e) {
    fz::check_one_line(e.what());
    OPBENCH_FUZZ_CHECK(!decoded, std::string("read_npy refused what decode_npy read: ") + e.what());
  }
  if (!decoded) return 0;

  // What is accepted is written back as the same array.
  std::string again = ds::npy_preamble(t.dtype(), t.shape());
  again.append(static_cast<const char*>(t.raw()), t.bytes());
  OPBENCH_FUZZ_CHECK(same(ds::decode_npy(again, "again.npy"), t), "round trip changed the array");
  return 0;
}
