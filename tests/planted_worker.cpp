// A worker process (harness/worker_protocol.hpp) serving the planted implementations of
// tests/planted_ops.hpp, for tests/test_harness_workers.cpp: the crashes and hangs happen here,
// never in the test process.
#include <unistd.h>

#include "datasets/provider.hpp"
#include "harness/worker_protocol.hpp"
#include "tests/planted_ops.hpp"

int main() {
  opbench::Registry reg;
  opbench::test_support::register_planted(reg);
  opbench::datasets::SeededDataProvider data;
  const int protocol_out = ::dup(STDOUT_FILENO);
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  return opbench::serve_worker(reg, data, STDIN_FILENO, protocol_out);
}
