#include "datasets/npy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string_view>

#include "datasets/npy_header.hpp"
#include "harness/errors.hpp"

namespace opbench::datasets {

static_assert(std::endian::native == std::endian::little,
              ".npy reading and writing assume a little-endian host");

namespace {

[[noreturn]] void fail_npy_file(const std::string& path, const std::string& problem) {
  throw UsageError("npy file '" + path + "': " + problem);
}

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// An open regular file and its size. A FIFO, socket or device is refused before anything is
// read from it (opening a FIFO for reading would block until a writer comes, and its bytes
// could not be read twice: once for the plan, once for the data).
struct OpenFile {
  File file;
  std::uint64_t size = 0;
};

OpenFile open_for_reading(const std::string& path) {
  // O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) fail_npy_file(path, "no such file");
    if (err == EISDIR) fail_npy_file(path, "is a directory, not a file");
    fail_npy_file(path, std::string("cannot open: ") + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    const bool dir = S_ISDIR(st.st_mode), fifo = S_ISFIFO(st.st_mode);
    ::close(fd);
    if (dir) fail_npy_file(path, "is a directory, not a file");
    if (fifo)
      fail_npy_file(path, "is a FIFO (a named pipe), not a file; save the array as a .npy file");
    fail_npy_file(path, st.st_mode ? "is not a regular file (a device or socket); give a .npy file"
                                   : std::string("cannot read: ") + std::strerror(err));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  OpenFile out;
  out.file.reset(::fdopen(fd, "rb"));
  if (!out.file) {
    const int err = errno;
    ::close(fd);
    fail_npy_file(path, std::string("cannot open: ") + std::strerror(err));
  }
  out.size = static_cast<std::uint64_t>(st.st_size);
  return out;
}

// Reads the preamble (magic, version, length, header dict) from the start of `f`.
NpyLayout read_layout(const std::string& path, std::FILE* f) {
  std::string bytes(kNpyFixedPrefix, '\0');
  bytes.resize(std::fread(bytes.data(), 1, bytes.size(), f));
  const std::uint64_t total = npy_preamble_length(bytes, path);
  if (total > bytes.size()) {
    const std::size_t had = bytes.size();
    bytes.resize(total);
    bytes.resize(had + std::fread(bytes.data() + had, 1, total - had, f));
  }
  return parse_npy_preamble(bytes, path);
}

std::atomic<unsigned> g_temp_counter{0};

}  // namespace

NpyHeader read_npy_header(const std::string& path) {
  OpenFile f = open_for_reading(path);
  return read_layout(path, f.file.get()).header;
}

Tensor read_npy(const std::string& path) {
  OpenFile f = open_for_reading(path);
  const NpyLayout layout = read_layout(path, f.file.get());
  check_npy_file_size(layout, f.size, path);
  Tensor t(layout.header.dtype, layout.header.shape);
  const std::uint64_t need = layout.data_bytes;
  if (need > 0 && std::fread(t.raw(), 1, need, f.file.get()) != need) {
    fail_npy_file(path, std::ferror(f.file.get())
                            ? std::string("read error: ") + std::strerror(errno)
                            : std::string("read error: the file got shorter while it was read"));
  }
  return t;
}

Tensor decode_npy(std::string_view bytes, const std::string& name) {
  const NpyLayout layout = parse_npy_preamble(bytes, name);
  check_npy_file_size(layout, bytes.size(), name);
  Tensor t(layout.header.dtype, layout.header.shape);
  if (layout.data_bytes > 0) {
    std::memcpy(t.raw(), bytes.data() + layout.data_offset, layout.data_bytes);
  }
  return t;
}

void write_npy(const Tensor& t, const std::string& path) {
  const std::string preamble = npy_preamble(t.dtype(), t.shape());
  const std::filesystem::path target(path);
  if (target.filename().empty()) fail_npy_file(path, "cannot write: the path names no file");
  std::filesystem::path temp = target;
  temp.replace_filename("." + target.filename().string() + ".tmp." + std::to_string(::getpid()) +
                        "." + std::to_string(g_temp_counter++));

  std::FILE* f = std::fopen(temp.c_str(), "wb");
  if (!f) fail_npy_file(path, std::string("cannot write: ") + std::strerror(errno));
  bool ok = std::fwrite(preamble.data(), 1, preamble.size(), f) == preamble.size();
  const std::size_t n = t.bytes();
  if (ok && n > 0) ok = std::fwrite(t.raw(), 1, n, f) == n;
  int err = ok ? 0 : errno;
  if (ok && std::fflush(f) != 0) ok = false, err = errno;
  if (ok && ::fsync(::fileno(f)) != 0) ok = false, err = errno;
  if (std::fclose(f) != 0 && ok) ok = false, err = errno;
  if (!ok) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    fail_npy_file(path, std::string("cannot write: ") + std::strerror(err));
  }
  std::error_code ec;
  std::filesystem::rename(temp, target, ec);
  if (ec) {
    const std::string why = ec.message();
    std::filesystem::remove(temp, ec);
    fail_npy_file(path, "cannot write: " + why);
  }
}

}  // namespace opbench::datasets
