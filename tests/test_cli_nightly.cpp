// End-to-end tests of `opbench nightly`: the real binary storing reports in a history folder,
// comparing each with the last good run of the same machine, keeping --keep runs, rebuilding the
// HTML index, exiting 1 on a regression. Most nights are fed with --report (copies of one real
// run with dates and times changed); one test runs the suites itself at a tiny size.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "tests/cli_test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using namespace cli_test;

std::vector<std::string> stored_runs(const fs::path& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.size() > 5 && name.substr(name.size() - 5) == ".json" && name != "history.json")
      out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

class CliNightly : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/opbench_test_cli_nightly_XXXXXX";
    shared_ = mkdtemp(tmpl);
    Outcome r =
        opbench(shared_, {"run", "--op", "layernorm", "--impl", "cpu.plain,cpu.fast", "--dtype",
                          "f32", "--axis", "rows=8", "--axis", "cols=64", "--axis", "dist=normal",
                          "--min-time", "0.01", "--repetitions", "5", "--json", "base.json"});
    ASSERT_EQ(r.code, 0) << r;
    json doc = json::parse(read_text(shared_ / "base.json"));
    tidy_times(doc);
    write_text(shared_ / "base.json", doc.dump(2));
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(shared_, ec);
  }
  void SetUp() override {
    ASSERT_TRUE(fs::exists(shared_ / "base.json")) << "the shared run failed";
    char tmpl[] = "/tmp/opbench_test_cli_nightly_one_XXXXXX";
    work_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(work_, ec);
  }

  // The shared run as night `day` (2026-12-DD 02:30 UTC) with cpu.fast's times scaled by
  // `factor` and the commit `commit`; returns the file name in work().
  std::string night(int day, double factor = 1.0, const std::string& commit = "0123456789abcdef") {
    json doc = json::parse(read_text(shared_ / "base.json"));
    char date[64];
    std::snprintf(date, sizeof date, "2026-12-%02dT02:30:00+00:00", day);
    doc["context"]["date"] = date;
    doc["opbench"]["git"]["commit"] = commit;
    doc["opbench"]["git"]["dirty"] = false;
    scale_times(doc, "cpu.fast", factor);
    std::string name = "night" + std::to_string(day) + ".json";
    write_text(work_ / name, doc.dump());
    return name;
  }

  Outcome nightly(const std::string& report, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"nightly", "--history", "history", "--report", report};
    args.insert(args.end(), extra.begin(), extra.end());
    return opbench(work_, args);
  }

  json manifest() { return json::parse(read_text(work_ / "history" / "history.json")); }

  static fs::path shared_;
  fs::path work_;
};

fs::path CliNightly::shared_;

// Starts opbench in `cwd` without waiting, stdout and stderr to cwd/.bg.out and cwd/.bg.err.
pid_t spawn_opbench(const fs::path& cwd, const std::vector<std::string>& args) {
  const std::string out = (cwd / ".bg.out").string(), err = (cwd / ".bg.err").string();
  std::vector<std::string> storage = {"opbench"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int in = ::open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || in < 0 || ::chdir(cwd.c_str()) != 0) _exit(127);
    ::dup2(o, 1);
    ::dup2(e, 2);
    ::dup2(in, 0);
    ::execv(OPBENCH_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

// The state letter and parent of process `pid` from /proc ('\0' when it is gone).
struct ProcState {
  char state = '\0';
  pid_t ppid = 0;
};
ProcState proc_state(pid_t pid) {
  ProcState s;
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return s;
  std::sscanf(stat.c_str() + paren + 1, " %c %d", &s.state, &s.ppid);
  return s;
}

// The children of `parent` that are alive now.
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = std::stoi(name);
    ProcState s = proc_state(pid);
    if (s.ppid == parent && s.state != 'Z' && s.state != '\0') out.push_back(pid);
  }
  return out;
}

bool alive(pid_t pid) {
  const char state = proc_state(pid).state;
  return state != '\0' && state != 'Z' && state != 'X';
}

// waitpid with a deadline; the exit code, or -1 when it did not end in time.
int wait_for_exit(pid_t pid, int seconds) {
  for (int i = 0; i < seconds * 10; ++i) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    ::usleep(100000);
  }
  return -1;
}

std::vector<std::string> incoming_files(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.rfind(".incoming", 0) == 0) out.push_back(name);
  }
  return out;
}

}  // namespace

TEST_F(CliNightly, StoresComparesAndFlagsARegression) {
  // Night 1: the first run of this machine.
  Outcome r = nightly(night(1));
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, "the first run of")) << r;
  std::vector<std::string> runs = stored_runs(work_ / "history");
  ASSERT_EQ(runs.size(), 1u);
  // DATE_MACHINE_COMMIT.json
  EXPECT_TRUE(
      std::regex_match(runs[0], std::regex(R"(2026-12-01_023000_[a-z0-9-]+_0123456789ab\.json)")))
      << runs[0];
  EXPECT_TRUE(fs::exists(work_ / "history" / "index.html"));
  EXPECT_EQ(manifest()["runs"][0]["status"], "good");

  // Night 2: the same times: good, compared with night 1.
  r = nightly(night(2));
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, "0 slower")) << r;
  EXPECT_TRUE(contains(r.out, "nightly: good against " + runs[0])) << r;

  // Night 3: cpu.fast three times slower: a regression, exit 1.
  r = nightly(night(3, 3.0, "fedcba9876543210"));
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_TRUE(contains(r.out, "1 slower")) << r;
  EXPECT_TRUE(contains(r.out, "nightly: regressed")) << r;
  json m = manifest();
  ASSERT_EQ(m["runs"].size(), 3u);
  EXPECT_EQ(m["runs"][2]["status"], "regressed");
  EXPECT_EQ(m["runs"][2]["slower"], 1);
  std::string md = read_text(work_ / "history" / "latest-compare.md");
  EXPECT_TRUE(contains(md, "### Regressions")) << md;
  EXPECT_TRUE(contains(md, "cpu.fast")) << md;

  // Night 4: back to normal, compared with the last good run (night 2), not with night 3.
  r = nightly(night(4));
  EXPECT_EQ(r.code, 0) << r;
  std::string night2 = manifest()["runs"][1]["file"].get<std::string>();
  EXPECT_TRUE(contains(r.out, "good against " + night2)) << r;

  // The index: the newest run in the tables, every run in the trends, the baseline's comparison.
  std::string html = read_text(work_ / "history" / "index.html");
  EXPECT_TRUE(contains(html, ">trend</h3>"));
  EXPECT_TRUE(contains(html, "<svg class=\"spark\""));
  EXPECT_TRUE(contains(html, "3 earlier runs (in the trends only)"));
  EXPECT_TRUE(contains(html, "<section id=\"regressions\">"));
  EXPECT_TRUE(contains(html, "<section id=\"roofline\">"));
}

TEST_F(CliNightly, AcceptMakesTheLatestRunTheBaseline) {
  ASSERT_EQ(nightly(night(1)).code, 0);
  ASSERT_EQ(nightly(night(2, 2.0)).code, 1);
  Outcome r = opbench(work_, {"nightly", "--history", "history", "--accept", "latest"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(manifest()["runs"][1]["status"], "good");
  // Night 3 at the slower speed is now unchanged against night 2.
  r = nightly(night(3, 2.0));
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, "0 slower")) << r;
}

TEST_F(CliNightly, RetentionKeepsTheNewestRunsAndTheBaseline) {
  ASSERT_EQ(nightly(night(1)).code, 0);
  ASSERT_EQ(nightly(night(2, 3.0)).code, 1);  // regressed
  ASSERT_EQ(nightly(night(3, 3.0), {"--keep", "2"}).code, 1);
  Outcome r = nightly(night(4, 3.0), {"--keep", "2"});
  EXPECT_EQ(r.code, 1) << r;
  // Nights 3 and 4 are the newest two; night 1, the last good run, is kept as the baseline.
  std::vector<std::string> runs = stored_runs(work_ / "history");
  ASSERT_EQ(runs.size(), 3u) << r;
  EXPECT_EQ(runs[0].substr(0, 10), "2026-12-01");
  EXPECT_EQ(runs[1].substr(0, 10), "2026-12-03");
  EXPECT_EQ(runs[2].substr(0, 10), "2026-12-04");
  EXPECT_TRUE(contains(r.out, "removed 2026-12-02")) << r;
  EXPECT_EQ(manifest()["runs"].size(), 3u);
}

TEST_F(CliNightly, OtherMachinesKeepTheirOwnBaseline) {
  ASSERT_EQ(nightly(night(1)).code, 0);
  json doc = json::parse(read_text(work_ / night(2, 5.0)));
  doc["opbench"]["devices"] = {"cpu: Intel Xeon, 2 threads"};
  write_text(work_ / "intel.json", doc.dump());
  Outcome r = nightly("intel.json");
  EXPECT_EQ(r.code, 0) << r;  // the first run of that machine
  EXPECT_TRUE(contains(r.out, "the first run of vm (Intel Xeon")) << r;
  std::string html = read_text(work_ / "history" / "index.html");
  EXPECT_TRUE(contains(html, ">machine</th>")) << "two machines: a machine column";
}

TEST_F(CliNightly, BadInputIsRefusedAndTheHistoryKept) {
  Outcome r = opbench(work_, {"nightly"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(contains(r.err, "--history")) << r;
  r = opbench(work_, {"nightly", "--history", "h", "--keep", "0"});
  EXPECT_EQ(r.code, 2) << r;
  r = nightly("missing.json");
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(contains(r.err, "missing.json")) << r;
  ASSERT_EQ(nightly(night(1)).code, 0);
  write_text(work_ / "history" / "history.json", "{ broken");
  r = nightly(night(2));
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(contains(r.err, "history.json: not valid JSON")) << r;
  EXPECT_EQ(read_text(work_ / "history" / "history.json"), "{ broken");
  EXPECT_EQ(stored_runs(work_ / "history").size(), 1u);
  // A field of the wrong type (found by fuzzing the report reader's kin): one line, not a throw.
  const std::string wrong_type =
      R"({"opbench_nightly": 1, "runs": [{"file": "a.json", "machine_id": 5}]})";
  write_text(work_ / "history" / "history.json", wrong_type);
  r = nightly(night(2));
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_TRUE(contains(r.err, "runs[0].machine_id: expected a string")) << r;
  EXPECT_EQ(read_text(work_ / "history" / "history.json"), wrong_type);
  r = opbench(work_, {"nightly", "--history", "h2", "--accept", "nope.json"});
  EXPECT_EQ(r.code, 2) << r;
}

TEST_F(CliNightly, RunsTheSuitesItself) {
  // Two real nights at a tiny size. The threshold is wide so that a loaded test machine cannot
  // make this flaky; the default one is exercised on constructed reports above.
  std::vector<std::string> args = {"nightly", "--history", "h",          "--threshold",
                                   "300",     "--",        "--op",       "layernorm",
                                   "--impl",  "cpu.fast",  "--axis",     "rows=8",
                                   "--axis",  "cols=64",   "--min-time", "0.01"};
  Outcome r = opbench(work_, args);
  ASSERT_EQ(r.code, 0) << r;
  r = opbench(work_, args);
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, "9/9")) << "9 repetitions by default\n" << r;
  EXPECT_EQ(stored_runs(work_ / "h").size(), 2u);
  // Unattended runs isolate every case unless --in-process.
  for (const std::string& run : stored_runs(work_ / "h")) {
    const json doc = json::parse(read_text(work_ / "h" / run));
    EXPECT_EQ(doc.at("opbench").at("workers"), "isolated") << run;
  }
  EXPECT_FALSE(fs::exists(work_ / "h" / ("h/.incoming-" + std::to_string(getpid()) + ".json")));
  for (const auto& e : fs::directory_iterator(work_ / "h")) {
    EXPECT_EQ(e.path().filename().string().rfind(".incoming", 0), std::string::npos);
  }
}

TEST_F(CliNightly, KilledNightlyTakesItsRunWithIt) {
  // A run long enough (3 cases x 9 repetitions x 5 s) to be under way when the nightly is killed.
  const pid_t nightly = spawn_opbench(
      work_, {"nightly", "--history", "h", "--", "--op", "layernorm", "--impl", "cpu.plain",
              "--axis", "rows=8", "--axis", "cols=64", "--min-time", "5"});
  ASSERT_GT(nightly, 0);
  std::vector<pid_t> run;
  for (int i = 0; i < 600 && run.empty(); ++i) {
    ::usleep(100000);
    run = children_of(nightly);
  }
  ASSERT_EQ(run.size(), 1u) << "the nightly did not start its run within 60 s";
  ASSERT_EQ(::kill(nightly, SIGKILL), 0);
  EXPECT_EQ(wait_for_exit(nightly, 30), 128 + SIGKILL);
  bool gone = false;
  for (int i = 0; i < 150 && !gone; ++i) {
    ::usleep(100000);
    gone = !alive(run[0]);
  }
  EXPECT_TRUE(gone) << "the run went on for 15 s after its nightly was killed";
  if (!gone) ::kill(run[0], SIGKILL);
  ::usleep(200000);
  // Nothing half-stored (the killed run's journal at most), and the next nightly finds the
  // history free and tidies it.
  for (const std::string& left : incoming_files(work_ / "h")) {
    EXPECT_EQ(left, ".incoming-" + std::to_string(nightly) + ".json.journal");
  }
  EXPECT_EQ(stored_runs(work_ / "h").size(), 0u);
  Outcome r = opbench(work_, {"nightly", "--history", "h", "--report", night(1)});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_EQ(incoming_files(work_ / "h"), std::vector<std::string>{});
}

TEST_F(CliNightly, WhatAKilledNightlyLeftIsRemovedByTheNext) {
  fs::create_directories(work_ / "h");
  write_text(work_ / "h" / ".incoming-999999.json", "{\"benchmarks\": [");
  write_text(work_ / "h" / ".incoming-999999.json.tmp.1000000", "{");
  Outcome r = opbench(work_, {"nightly", "--history", "h", "--report", night(1)});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, "removed .incoming-999999.json, left by a nightly that was killed"))
      << r;
  EXPECT_EQ(incoming_files(work_ / "h"), std::vector<std::string>{}) << r;
  EXPECT_EQ(stored_runs(work_ / "h").size(), 1u);
}

TEST_F(CliNightly, ABusyHistoryIsRefusedWithHowToRetryOrWaitedFor) {
  // This test holds the history's lock as a running nightly would, with its pid in the file.
  fs::create_directories(work_ / "h");
  const std::string lock_path = (work_ / "h" / ".nightly.lock").string();
  int lock = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);  // not inherited
  ASSERT_GE(lock, 0);
  ASSERT_EQ(::flock(lock, LOCK_EX | LOCK_NB), 0);
  const std::string me = std::to_string(::getpid());
  ASSERT_EQ(::pwrite(lock, (me + "\n").data(), me.size() + 1, 0), ssize_t(me.size() + 1));

  const std::string report = night(1);
  Outcome r = opbench(work_, {"nightly", "--history", "h", "--report", report});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r;
  EXPECT_TRUE(contains(r.err, "another opbench nightly (pid " + me + ")")) << r;
  EXPECT_TRUE(contains(r.err, "run again when it has finished, or add --wait")) << r;
  EXPECT_EQ(stored_runs(work_ / "h").size(), 0u);

  // With --wait it queues behind the holder and stores its run once the lock is free.
  const pid_t waiting =
      spawn_opbench(work_, {"nightly", "--history", "h", "--report", report, "--wait"});
  ASSERT_GT(waiting, 0);
  // Until it says it waits (a loaded machine may take seconds to start it), and it goes on waiting.
  for (int i = 0; i < 600 && !contains(read_text(work_ / ".bg.out"), "waiting for the other");
       ++i) {
    int status = 0;
    ASSERT_EQ(::waitpid(waiting, &status, WNOHANG), 0) << "it did not wait:\n"
                                                       << read_text(work_ / ".bg.err");
    ::usleep(100000);
  }
  ::usleep(300000);
  int status = 0;
  const pid_t ended = ::waitpid(waiting, &status, WNOHANG);
  ASSERT_EQ(ended, 0) << "it did not wait:\n" << read_text(work_ / ".bg.err");
  EXPECT_EQ(stored_runs(work_ / "h").size(), 0u);
  ::close(lock);
  EXPECT_EQ(wait_for_exit(waiting, 120), 0)
      << read_text(work_ / ".bg.out") << read_text(work_ / ".bg.err");
  EXPECT_TRUE(contains(read_text(work_ / ".bg.out"), "waiting for the other nightly (pid " + me))
      << read_text(work_ / ".bg.out");
  EXPECT_EQ(stored_runs(work_ / "h").size(), 1u);
}

namespace {

// Sets an environment variable for one scope (the opbench children inherit it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

const std::vector<std::string> kTinyRun = {
    "--",          "--op",       "layernorm", "--impl",        "cpu.fast",
    "--axis",      "rows=8",     "--axis",    "cols=64",       "--axis",
    "dist=normal", "--min-time", "0.01",      "--repetitions", "3"};

}  // namespace

TEST_F(CliNightly, AbBaselineBuildsTheLastGoodCommitAndRunsBothInOneRun) {
  ASSERT_EQ(nightly(night(1)).code, 0);  // the last good run, of commit 0123456789abcdef
  // The builder: records what it was asked to build and "builds" this very opbench (an A/A).
  const fs::path builder = work_ / "build_rev.sh";
  write_text(builder, "#!/bin/sh\necho \"$1\" >>" + quote((work_ / "built.txt").string()) +
                          "\necho 'a build log line' >&2\necho " + quote(OPBENCH_BINARY) + "\n");
  fs::permissions(builder, fs::perms::owner_all);
  ScopedEnv env("OPBENCH_BUILD_REV", builder.string());
  std::vector<std::string> args = {"nightly",       "--history",   "history",
                                   "--ab-baseline", "--threshold", "300"};
  args.insert(args.end(), kTinyRun.begin(), kTinyRun.end());
  Outcome r = opbench(work_, args);
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_EQ(read_text(work_ / "built.txt"), "0123456789abcdef\n");
  EXPECT_TRUE(contains(r.out, "nightly: A/B against 0123456789abcdef")) << r;
  EXPECT_TRUE(contains(r.out, "good against commit 0123456789abcdef (A/B in this run)")) << r;
  EXPECT_TRUE(contains(r.err, "a build log line")) << r;
  // Tonight is stored as any night (the baseline build's report is not), from the A/B's new side.
  const std::vector<std::string> runs = stored_runs(work_ / "history");
  ASSERT_EQ(runs.size(), 2u);
  const json m = manifest();
  ASSERT_EQ(m["runs"].size(), 2u);
  EXPECT_EQ(m["runs"][1]["ab_baseline"]["commit"], "0123456789abcdef") << m.dump(2);
  EXPECT_EQ(m["runs"][1]["baseline"], m["runs"][0]["file"]);  // the trends' baseline is kept
  const json tonight =
      json::parse(read_text(work_ / "history" / m["runs"][1]["file"].get<std::string>()));
  EXPECT_EQ(tonight.at("opbench").at("workers"), "isolated");
  EXPECT_TRUE(contains(tonight.at("opbench").at("command_line").get<std::string>(), "opbench ab"));
  EXPECT_TRUE(contains(read_text(work_ / "history" / "latest-compare.md"), "0123456789abcdef"));
  for (const auto& e : fs::directory_iterator(work_ / "history")) {
    EXPECT_NE(e.path().filename().string().rfind(".incoming", 0), 0u) << e.path();
  }
}

TEST_F(CliNightly, AbBaselineWithoutABuildComparesWithTheStoredRunAndSaysWhy) {
  // No good run yet: nothing to build; a plain first run.
  std::vector<std::string> args = {"nightly",       "--history",   "history",
                                   "--ab-baseline", "--threshold", "300"};
  args.insert(args.end(), kTinyRun.begin(), kTinyRun.end());
  {
    ScopedEnv env("OPBENCH_BUILD_REV", "echo never >" + quote((work_ / "built.txt").string()));
    Outcome r = opbench(work_, args);
    ASSERT_EQ(r.code, 0) << r;
    EXPECT_TRUE(contains(r.out, "--ab-baseline: no good run of this machine")) << r;
    EXPECT_TRUE(contains(r.out, "the first run of")) << r;
    EXPECT_FALSE(fs::exists(work_ / "built.txt"));
  }
  // A build that fails: said in one line, and tonight is compared with the stored run. (Night 1
  // is compared with the run above, another size of noise: the threshold keeps that out.)
  ASSERT_EQ(nightly(night(1), {"--threshold", "300"}).code, 0);
  {
    ScopedEnv env("OPBENCH_BUILD_REV", "exit 3;");
    Outcome r = opbench(work_, args);
    ASSERT_EQ(r.code, 0) << r;
    EXPECT_TRUE(contains(r.out, "failed (exit 3")) << r;
    EXPECT_TRUE(contains(r.out, "tonight is compared with the stored run")) << r;
    const json m = manifest();
    EXPECT_TRUE(contains(m["runs"].back()["ab_baseline"].value("skipped", ""), "failed (exit 3"))
        << m.dump(2);
    EXPECT_TRUE(contains(r.out, "good against " + m["runs"][1]["file"].get<std::string>())) << r;
  }
  // Refused before anything runs: with a finished report, or in-process.
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"nightly", "--history", "h2", "--ab-baseline", "--report", "x"},
        std::vector<std::string>{"nightly", "--history", "h2", "--ab-baseline", "--in-process"}}) {
    Outcome r = opbench(work_, bad);
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r;
    EXPECT_TRUE(contains(r.err, "--ab-baseline")) << r;
    EXPECT_FALSE(fs::exists(work_ / "h2"));
  }
}
