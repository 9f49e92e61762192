#pragma once
// What every fuzz target checks beyond "no crash, no sanitizer report": the invariants of the
// project's error handling. A broken invariant aborts, which libFuzzer reports as a finding and
// keeps the input.
#include <cstdio>
#include <cstdlib>
#include <string>

namespace opbench::fuzz {

#define OPBENCH_FUZZ_CHECK(cond, what)                                                       \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "fuzz check failed: %s: %s\n", #cond, std::string(what).c_str()); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

// A UsageError's message is the one line the command line prints: not empty, no newline.
inline void check_one_line(const std::string& message) {
  OPBENCH_FUZZ_CHECK(!message.empty() && message.find('\n') == std::string::npos, message);
}

}  // namespace opbench::fuzz
