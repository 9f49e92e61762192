// opbench: check and time the core operations of recent neural-network papers.
// Usage: opbench <list|run|check> [options]; every subcommand has --help.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <new>
#include <string>

#include "harness/build_info.hpp"
#include "harness/errors.hpp"
#include "tools/cli.hpp"

namespace {

const char* const kUsage =
    "usage: opbench <command> [options]\n"
    "\n"
    "commands:\n"
    "  list    suites, ops, implementations, axes, and the backends available here\n"
    "  run     check every implementation against the float64 reference, time it, write a "
    "JSON report\n"
    "  check   agreement only, no timing (a fast correctness gate)\n"
    "  report  render JSON reports as one self-contained HTML page\n"
    "  compare compare two runs (or the implementations of one run) with a significance test\n"
    "  nightly run the suites, keep a history, compare with the last good run, rebuild the HTML\n"
    "          index\n"
    "  merge   join the reports of one plan's shards (run --shard I/N) into one report\n"
    "  ab      two builds in one run, their repetitions interleaved, then compared\n"
    "  reproduce  run the cases of a stored report again; say what moved\n"
    "  claims  the papers' headline speed-ups measured here, beside the papers' figures\n"
    "\n"
    "  opbench <command> --help   options of a command\n"
    "  opbench --version          version, commit and build\n"
    "\n"
    "exit codes: 0 all good, 1 an implementation failed agreement (compare, nightly: a\n"
    "regression), 2 bad usage or bad input\n";

int dispatch(int argc, char** argv) {
  using namespace opbench::cli;
  if (argc < 2) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  const std::string command = argv[1];
  Args args(argv + 2, argv + argc);
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return kExitOk;
  }
  if (command == "--version") {
    auto b = opbench::build_info();
    std::cout << "opbench " << b.tool_version << " (commit " << b.git_commit.substr(0, 12)
              << (b.git_dirty ? ", dirty" : "") << "; " << b.compiler << "; " << b.build_type
              << "; native " << (b.native ? "on" : "off") << "; CUDA " << b.cuda << ")\n";
    return kExitOk;
  }
  if (command == "list") return cmd_list(args);
  if (command == "run") return cmd_run(args, true);
  if (command == "check") return cmd_run(args, false);
  if (command == "report") return cmd_report(args);
  if (command == "compare") return cmd_compare(args);
  if (command == "nightly") return cmd_nightly(args);
  if (command == "worker") return cmd_worker(args);
  if (command == "merge") return cmd_merge(args);
  if (command == "ab") return cmd_ab(args);
  if (command == "reproduce") return cmd_reproduce(args);
  if (command == "claims") return cmd_claims(args);
  throw opbench::UsageError(
      "unknown command '" + command +
      "'; commands: list, run, check, report, compare, nightly, merge, ab, reproduce");
}

}  // namespace

// libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, when it loads, before main. Neither of
// its usual choices suits a benchmark on a small VM:
// - its default (spin 300000 times, about a millisecond, between parallel regions) lets spinning
//   vCPUs be descheduled by the host and starves OpenBLAS's own threads: a 2 MiB copy took 6 ms
//   instead of 25 us, and SGEMM ran at half speed;
// - passive (sleep at once) makes every parallel region wake its threads, about 17 us here: a
//   64x4096 LayerNorm took 46 us instead of 23, its cost mostly the wake-up.
// So unless the user chose, opbench spins briefly: OMP_WAIT_POLICY=active GOMP_SPINCOUNT=1000
// (10-20 us, enough for back-to-back regions: an empty region costs 2.6 us against 17 passive).
// Over all suites at quick sizes this was 15% faster than passive (geometric mean) with no kernel
// slower beyond noise; a longer spin (20000) made kernels that call OpenBLAS between OpenMP
// regions up to 2x slower (minGRU, the pkm layer). The variables are set by re-executing once.
void ensure_omp_wait_policy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "active", 1);
  setenv("GOMP_SPINCOUNT", "1000", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then run with the default policy
}

namespace {

// An error message as the one line it must be: messages quote what the user typed (an axis value,
// a spec, a key from a file), which may hold a newline or other control characters.
std::string one_line(const std::string& message) {
  std::string out;
  for (unsigned char c : message) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 && c != '\t') {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  ensure_omp_wait_policy(argv);
  try {
    return dispatch(argc, argv);
  } catch (const opbench::UsageError& e) {
    std::cerr << "opbench: error: " << one_line(e.what()) << "\n";
    return opbench::cli::kExitUsage;
  } catch (const std::bad_alloc&) {
    std::cerr << "opbench: error: out of memory\n";
    return opbench::cli::kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "opbench: internal error: " << one_line(e.what()) << "\n";
    return 3;
  }
}
