#include "reports/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "harness/errors.hpp"

namespace opbench::reports {

namespace fs = std::filesystem;

namespace {

UsageError cannot_write(const std::string& path, const std::string& reason) {
  return UsageError("cannot write report to " + path + ": " + reason);
}

std::string folder_of(const std::string& path) {
  std::string folder = fs::path(path).parent_path().string();
  return folder.empty() ? "." : folder;
}

// Writes all of `data` to `fd`; false with errno set on failure.
bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Makes the rename itself durable; a failure here does not undo the write, so it is ignored.
void sync_folder(const std::string& folder) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

void check_writable(const std::string& path) {
  if (path.empty()) throw cannot_write("''", "the path is empty");
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw cannot_write(path, "it is a folder, not a file");
  const std::string folder = folder_of(path);
  fs::file_status st = fs::status(folder, ec);
  if (!fs::exists(st)) throw cannot_write(path, "folder " + folder + " does not exist");
  if (!fs::is_directory(st)) throw cannot_write(path, folder + " is not a folder");
  // Permissions alone do not tell (root, read-only mounts, ACLs): try it.
  std::string probe =
      (fs::path(folder) / (".opbench-probe." + std::to_string(::getpid()))).string();
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw cannot_write(path,
                       "folder " + folder + " is not writable (" + std::strerror(errno) + ")");
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

void write_file_atomically(const std::string& path, const std::string& contents) {
  if (path.empty()) throw cannot_write("''", "the path is empty");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw cannot_write(path, std::string(std::strerror(errno)));
  auto fail = [&](const char* step) {
    std::string reason = std::string(step) + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return cannot_write(path, reason);
  };
  if (!write_all(fd, contents.data(), contents.size())) throw fail("write failed");
  if (::fsync(fd) != 0) throw fail("fsync failed");
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0) throw fail("close failed");
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw fail("rename failed");
  sync_folder(folder_of(path));
}

}  // namespace opbench::reports
