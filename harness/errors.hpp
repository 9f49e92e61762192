#pragma once
// Errors that the command line turns into one line and exit code 2.
#include <stdexcept>
#include <string>

namespace opbench {

// Bad usage or bad input: an unknown name, a malformed axis value, a shape too large, a bad .npy.
// The message is one line that names what was wrong and, where possible, what would be right.
class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace opbench
