// `opbench worker`: a worker process of this build, speaking the worker protocol
// (harness/worker_protocol.hpp) on its stdin and stdout. Started by `run --isolate` (and by
// `opbench ab` for each build); not for people to type.
#include <unistd.h>

#include <iostream>

#include "datasets/provider.hpp"
#include "harness/errors.hpp"
#include "harness/worker_protocol.hpp"
#include "suites/suites.hpp"
#include "tools/cli.hpp"

namespace opbench::cli {

int cmd_worker(const Args& args) {
  if (!args.empty()) {
    if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
      std::cout << "opbench worker\n\nServes the opbench worker protocol " << kWorkerProtocol
                << " on stdin/stdout: a planner (`opbench run --isolate`, `opbench ab`) hands it "
                   "cases and gets typed results back.\nNot meant to be run by hand.\n";
      return kExitOk;
    }
    throw UsageError("opbench worker takes no arguments (it is started by run --isolate and ab)");
  }
  Registry reg;
  register_all_suites(reg);
  datasets::SeededDataProvider data;
  // The protocol keeps stdout to itself: anything else printed (a library's message) goes to
  // stderr instead of into the middle of an answer.
  const int protocol_out = ::dup(STDOUT_FILENO);
  if (protocol_out < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    std::cerr << "opbench worker: cannot set up its output\n";
    return kExitUsage;
  }
  return serve_worker(reg, data, STDIN_FILENO, protocol_out);
}

}  // namespace opbench::cli
