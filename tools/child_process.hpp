#pragma once
// The nightly's child processes: this program again (`opbench run`, `opbench ab`) and the build
// of its A/B baseline. Each is killed (SIGKILL) when the nightly dies, however it dies: a run must
// not go on writing into a history that no nightly holds.
#include <string>
#include <vector>

namespace opbench::cli {

// Runs this program (/proc/self/exe) with `args` (the command first: "run", ...) and waits, its
// stdout to the file `stdout_to` when given. Returns its exit status, or -signal when a signal
// ended it. Throws UsageError when it cannot start.
int run_self(const std::vector<std::string>& args, const std::string& stdout_to = "");

// Runs `argv` (argv[0] a path) with stdin from /dev/null and its stdout collected in `out`
// (stderr passes through); returns its exit status, -signal when a signal ended it, or 127 when
// it could not be started.
int run_capture(const std::vector<std::string>& argv, std::string& out);

// "exit 3", "killed by signal 9": what a status from the two above means.
std::string describe_status(int status);

}  // namespace opbench::cli
