// A worker process (harness/worker_protocol.hpp) serving the planted implementations of
// tests/planted_ops.hpp, for tests/test_harness_workers.cpp: the crashes and hangs happen here,
// never in the test process. For the A/B tests it plays a second build when its environment says
// so: PLANTED_SPIN_NS=N makes cpu.good busy-wait N ns per run (a slower build), PLANTED_EXTRA=1
// adds an implementation cpu.extra (a case only that build plans).
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "datasets/provider.hpp"
#include "harness/worker_protocol.hpp"
#include "tests/planted_ops.hpp"

namespace {

void spin_for(long ns) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  while (std::chrono::steady_clock::now() < until) {
  }
}

}  // namespace

// Under AddressSanitizer (tools/sanitize.sh) its SEGV handler would turn the planted segfault into
// a report and exit code 1; the isolation under test must see the signal itself, as a normal
// build's worker dies of it. Read by the sanitizer runtime at start-up; unused otherwise.
extern "C" __attribute__((visibility("default"), used)) const char* __asan_default_options() {
  return "handle_segv=0";
}

int main() {
  using namespace opbench;
  const char* spin = std::getenv("PLANTED_SPIN_NS");
  const long spin_ns = spin ? std::atol(spin) : 0;
  const char* extra = std::getenv("PLANTED_EXTRA");
  Registry reg;
  test_support::register_planted(reg, false, spin_ns > 0 ? spin_for : nullptr, spin_ns);
  if (extra && std::string(extra) == "1") {
    Impl impl;
    impl.name = "cpu.extra";
    impl.backend = "cpu";
    impl.bind = bind_host([](const TensorMap& in, TensorMap& out, const Params&) {
      test_support::copy_x_to_y(in, out);
    });
    reg.add_impl("toy", "copy", impl);
  }
  datasets::SeededDataProvider data;
  const int protocol_out = ::dup(STDOUT_FILENO);
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  return serve_worker(reg, data, STDIN_FILENO, protocol_out);
}
