#include "tools/nightly_ab_baseline.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "harness/build_info.hpp"
#include "harness/gbench_driver.hpp"
#include "harness/registry.hpp"
#include "harness/results.hpp"
#include "reports/json_writer.hpp"
#include "reports/report_model.hpp"
#include "suites/suites.hpp"
#include "tools/child_process.hpp"

namespace opbench::cli {

std::string this_machine_id() {
  RunResult probe;
  probe.context = gbench_context();
  Registry reg;
  register_all_suites(reg);
  probe.devices = reg.device_lines();
  return reports::extract_run(reports::build_report(probe), "this machine").info.machine_id;
}

namespace {

// The last non-empty line of `text`, without surrounding blanks.
std::string last_line(const std::string& text) {
  std::string line;
  std::size_t end = text.size();
  while (end > 0) {
    const std::size_t start = text.rfind('\n', end - 1);
    const std::size_t from = start == std::string::npos ? 0 : start + 1;
    line = text.substr(from, end - from);
    const auto blank = [](unsigned char c) { return std::isspace(c); };
    line.erase(line.begin(), std::find_if_not(line.begin(), line.end(), blank));
    line.erase(std::find_if_not(line.rbegin(), line.rend(), blank).base(), line.end());
    if (!line.empty() || start == std::string::npos) return line;
    end = start;
  }
  return line;
}

}  // namespace

AbBaseline build_baseline(const std::string& commit, const std::string& source) {
  AbBaseline b;
  b.commit = commit;
  std::vector<std::string> argv;
  std::string builder;
  if (const char* custom = std::getenv("OPBENCH_BUILD_REV"); custom != nullptr && *custom) {
    builder = std::string("OPBENCH_BUILD_REV (") + custom + ")";
    argv = {"/bin/sh", "-c", std::string(custom) + " \"$1\"", "opbench-build-rev", commit};
  } else {
    builder = (std::filesystem::path(source) / "tools" / "build_rev.sh").string();
    if (::access(builder.c_str(), X_OK) != 0) {
      b.why_not = builder + " not found: give the opbench checkout to build from with --source";
      return b;
    }
    argv = {builder, commit};
  }
  std::string out;
  const int status = run_capture(argv, out);
  if (status != 0) {
    b.why_not = "building " + commit + " with " + builder + " failed (" + describe_status(status) +
                "; its output is above)";
    return b;
  }
  const std::string program = last_line(out);
  if (program.empty() || ::access(program.c_str(), X_OK) != 0) {
    b.why_not = builder + " built " + commit + " but its last line, '" + program +
                "', is not an executable opbench";
    return b;
  }
  b.program = program;
  return b;
}

AbBaseline find_ab_baseline(const nlohmann::json& manifest, const std::string& source) {
  const std::string id = this_machine_id();
  std::string commit;
  bool dirty = false, found = false;
  for (const nlohmann::json& r : manifest.at("runs")) {
    if (r.value("machine_id", "") != id || r.value("status", "") != "good") continue;
    found = true;
    const nlohmann::json c = r.value("commit", nlohmann::json());
    commit = c.is_string() ? c.get<std::string>() : "";
    dirty = r.value("dirty", false);
  }
  AbBaseline b;
  b.commit = commit;
  if (!found) {
    b.why_not = "no good run of this machine (" + id + ") in the history yet";
  } else if (commit.empty()) {
    b.why_not = "the last good run of this machine records no commit";
  } else if (const BuildInfo self = build_info();
             !self.git_commit.empty() && !self.git_dirty && !dirty &&
             (self.git_commit.rfind(commit, 0) == 0 || commit.rfind(self.git_commit, 0) == 0)) {
    b.why_not = "the last good run is of this build's own commit " + commit;
  } else {
    b = build_baseline(commit, source);
  }
  return b;
}

int run_ab_child(const std::string& base, const std::vector<std::string>& run_args,
                 const std::string& prefix) {
  std::error_code ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  std::vector<std::string> args = {"ab", "--base", base, "--new", ec ? "/proc/self/exe" : self};
  for (const std::string& a : run_args) {
    if (a != "--isolate") args.push_back(a);
  }
  args.push_back("--save");
  args.push_back(prefix);
  // Its comparison to a file: the nightly prints and stores its own, with its own options.
  return run_self(args, prefix + ".ab.txt");
}

}  // namespace opbench::cli
