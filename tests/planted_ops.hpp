#pragma once
// Planted implementations for the worker tests: a copy op whose implementations crash, hang or
// ask the run to stop on one chosen case and copy correctly on the others. Registered the same
// way by the test (the planner) and by tests/planted_worker.cpp (the worker process), so both
// plan the same cases.
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>

#include "harness/interrupt.hpp"
#include "harness/registry.hpp"
#include "tests/toy_ops.hpp"

namespace opbench::test_support {

inline void copy_x_to_y(const TensorMap& in, TensorMap& out) {
  std::memcpy(out.at("y").raw(), in.at("x").raw(), in.at("x").bytes());
}

// An implementation that copies, except on n == `bad_n`, where it does `misbehave`.
inline Impl planted_impl(const char* name, std::int64_t bad_n, void (*misbehave)()) {
  Impl impl;
  impl.name = name;
  impl.backend = "cpu";
  impl.bind = bind_host([bad_n, misbehave](const TensorMap& in, TensorMap& out, const Params& p) {
    if (p.i("n") == bad_n) misbehave();
    copy_x_to_y(in, out);
  });
  return impl;
}

inline void segfault() {
  std::raise(SIGSEGV);
}
inline void hang() {
  for (;;) ::pause();
}
inline void abort_now() {
  std::abort();
}
inline void ask_to_stop() {
  request_interrupt(SIGINT);
}

// toy/copy over n = 16, 32, 48 with: ref, cpu.good, cpu.segfault (crashes at n = 32), cpu.hang
// (never returns at n = 16), cpu.abort (aborts at n = 48); with `stopping`, only ref, cpu.good and
// cpu.stop (asks the run to stop, as SIGINT would, at n = 32).
// `good_delay(good_delay_ns)`, when given, runs in cpu.good before its copy (a slower build).
inline void register_planted(Registry& reg, bool stopping = false,
                             void (*good_delay)(long) = nullptr, long good_delay_ns = 0) {
  Op op = copy_op();
  op.axes[0].quick = {"16", "32", "48"};
  op.axes[0].full = op.axes[0].quick;
  reg.add_op(op);  // with its float64 reference, "ref"
  Impl good;
  good.name = "cpu.good";
  good.backend = "cpu";
  good.bind =
      bind_host([good_delay, good_delay_ns](const TensorMap& in, TensorMap& out, const Params&) {
        if (good_delay) good_delay(good_delay_ns);
        copy_x_to_y(in, out);
      });
  reg.add_impl("toy", "copy", good);
  if (stopping) {
    reg.add_impl("toy", "copy", planted_impl("cpu.stop", 32, ask_to_stop));
    return;
  }
  reg.add_impl("toy", "copy", planted_impl("cpu.segfault", 32, segfault));
  reg.add_impl("toy", "copy", planted_impl("cpu.hang", 16, hang));
  reg.add_impl("toy", "copy", planted_impl("cpu.abort", 48, abort_now));
}

}  // namespace opbench::test_support
