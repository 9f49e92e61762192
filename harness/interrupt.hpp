#pragma once
// A run stops between two units of work when asked (SIGINT, SIGTERM): the cases that finished are
// kept and reported, marked incomplete. A second signal of the same kind ends the process at once
// (the journal then holds what finished).
#include <string>

namespace opbench {

// Installs handlers for SIGINT and SIGTERM that record the first signal, for its lifetime; the
// previous handlers come back with its end.
class InterruptHandlers {
 public:
  InterruptHandlers();
  ~InterruptHandlers();
  InterruptHandlers(const InterruptHandlers&) = delete;
  InterruptHandlers& operator=(const InterruptHandlers&) = delete;
};

// The signal that asked the run to stop (0: none). Async-signal-safe to set, cheap to read.
int interrupt_signal();
bool interrupted();
// "SIGINT", "SIGTERM" (or "signal N"); "" when none.
std::string interrupt_name();
// Asks as a signal would (tests; a worker's planner that lost its terminal).
void request_interrupt(int signal_number);
void clear_interrupt();

}  // namespace opbench
