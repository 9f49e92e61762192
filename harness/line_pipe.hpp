#pragma once
// Lines over a pair of file descriptors (a worker's pipes): whole lines written, lines read with a
// deadline. Used by both ends of the worker protocol.
#include <optional>
#include <string>

namespace opbench {

class LinePipe {
 public:
  LinePipe(int in_fd, int out_fd) : in_(in_fd), out_(out_fd) {}

  // Writes `line` and a newline; false when the other end is gone.
  bool write_line(const std::string& line);

  enum class Read { line, closed, timeout, interrupted };
  // Waits for the next line up to `timeout_s` seconds (negative: no limit). `stop` is asked about
  // every 100 ms while waiting; when it says true the wait ends with Read::interrupted.
  Read read_line(std::string& line, double timeout_s, bool (*stop)() = nullptr);

 private:
  int in_, out_;
  std::string buffer_;
};

}  // namespace opbench
