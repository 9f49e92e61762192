#pragma once
// The subcommands of the opbench command line. Each returns the process exit code:
// 0 all good, 1 an implementation failed agreement (or errored), 2 bad usage or bad input.
#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "harness/runner.hpp"
#include "harness/shard.hpp"

namespace opbench::cli {

namespace po = boost::program_options;

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

using Args = std::vector<std::string>;

// Options shared by run, check and list: the selection of suites, ops, impls, axes, inputs.
struct SelectionOptions {
  std::vector<std::string> suites, ops, impls, backends, dtypes, axes, inputs, timing_modes, modes;
  bool quick = false, full = false;
  std::string shard;  // --shard I/N (run and check)
  bool shard_given = false;
  // `sweep`: --quick, --full, --axis and --shard (run and check); `inputs`: --input.
  void add_to(po::options_description& desc, bool sweep, bool inputs);
  Selection to_selection() const;  // throws UsageError on malformed NAME=VALUE
  // --shard, else the shard a Slurm array or a Kubernetes Indexed Job gives (harness/shard.hpp);
  // throws UsageError on a malformed spec or variable.
  ShardSpec shard_spec() const;
};

// "a,b" given once or several times -> {"a", "b"} (empty items dropped).
std::vector<std::string> split_commas(const std::vector<std::string>& values);

int cmd_list(const Args& args);
int cmd_run(const Args& args, bool time);
int cmd_report(const Args& args);
int cmd_compare(const Args& args);
int cmd_nightly(const Args& args);
int cmd_worker(const Args& args);
int cmd_merge(const Args& args);
int cmd_ab(const Args& args);
int cmd_reproduce(const Args& args);
int cmd_claims(const Args& args);

// Parses `args` against `desc`; unregistered options are an error unless `passthrough` collects
// them (the --benchmark_* flags of run). Throws UsageError with one line.
po::variables_map parse(const Args& args, const po::options_description& desc,
                        std::vector<std::string>* passthrough = nullptr);
// Parses `args` where bare arguments fill option `positional` (at most `max_count` of them, -1:
// any number); throws UsageError with one line starting with `prefix`.
po::variables_map parse_with_positional(const Args& args, const po::options_description& desc,
                                        const char* positional, int max_count,
                                        const std::string& prefix = "");

}  // namespace opbench::cli
