#include "harness/interrupt.hpp"

#include <csignal>

namespace opbench {

namespace {

volatile std::sig_atomic_t requested = 0;
struct sigaction previous_int, previous_term;

void on_signal(int sig) {
  if (requested != 0) {
    // The second time: the user means it. Default action, at once.
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  requested = sig;
}

}  // namespace

InterruptHandlers::InterruptHandlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, &previous_int);
  sigaction(SIGTERM, &sa, &previous_term);
}

InterruptHandlers::~InterruptHandlers() {
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
}

int interrupt_signal() {
  return requested;
}

bool interrupted() {
  return requested != 0;
}

std::string interrupt_name() {
  switch (requested) {
    case 0:
      return "";
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "signal " + std::to_string(requested);
  }
}

void request_interrupt(int signal_number) {
  requested = signal_number;
}

void clear_interrupt() {
  requested = 0;
}

}  // namespace opbench
