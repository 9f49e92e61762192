// End-to-end: a run stopped half-way. SIGINT or SIGTERM: the report of the finished cases is
// written next to the report (marked incomplete), the earlier report at that path is untouched,
// the exit code is 128 + the signal and no file is left behind. SIGKILL: the journal stays, the
// next run keeps it under a name of its own and says how to use it, and `opbench report
// --from-journal` turns it into a valid report. Also the bad uses of the new options.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "reports/json_report.hpp"
#include "tests/cli_test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace cli_test;

namespace {

// A whole suite at quick sizes: long enough (tens of seconds) to be stopped half-way.
const std::vector<std::string> kLongRun = {"run", "--suite", "norm", "--min-time", "0.01"};

class CliInterrupt : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/opbench_test_cli_interrupt_XXXXXX";
    root_ = ::mkdtemp(tmpl);
    work_ = root_ / "work";
    fs::create_directories(work_);
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  fs::path at(const std::string& name) const { return work_ / name; }

  // Starts opbench in the work folder, its output in files outside it.
  void start(const std::vector<std::string>& args) {
    std::vector<std::string> storage = {OPBENCH_BINARY};
    storage.insert(storage.end(), args.begin(), args.end());
    const std::string out = (root_ / "stdout").string(), err = (root_ / "stderr").string();
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& s : storage) argv.push_back(s.data());
      argv.push_back(nullptr);
      if (::chdir(work_.c_str()) != 0) ::_exit(120);
      if (!std::freopen("/dev/null", "r", stdin) || !std::freopen(out.c_str(), "w", stdout) ||
          !std::freopen(err.c_str(), "w", stderr)) {
        ::_exit(121);
      }
      ::execv(argv[0], argv.data());
      ::_exit(122);
    }
  }

  // Waits until the journal holds `cases` finished cases (at most 120 s).
  bool wait_for_cases(const fs::path& journal, int cases) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < until) {
      const std::string text = read_text(journal);
      int found = 0;
      for (std::size_t at = text.find("{\"case\":"); at != std::string::npos;
           at = text.find("{\"case\":", at + 1)) {
        ++found;
      }
      if (found >= cases) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // Waits for the process (at most 120 s); its wait status.
  int finish() {
    int status = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        ADD_FAILURE() << "opbench did not stop within 120 s";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    return status;
  }

  std::set<std::string> entries() const {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(work_)) names.insert(e.path().filename());
    return names;
  }

  std::string out() const { return read_text(root_ / "stdout"); }
  std::string err() const { return read_text(root_ / "stderr"); }

  // A report that `opbench` wrote, valid by the schema.
  json valid_report(const fs::path& p) {
    json doc = json::parse(read_text(p));
    EXPECT_EQ(opbench::reports::validate_report(doc), "") << p;
    return doc;
  }

  void stops_on(int sig, const std::vector<std::string>& extra) {
    const std::string earlier = "{\"an earlier report\": true}\n";
    write_text(at("a.json"), earlier);
    std::vector<std::string> args = kLongRun;
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--json", "a.json"});
    start(args);
    ASSERT_TRUE(wait_for_cases(at("a.json.journal"), 3)) << err();
    ASSERT_EQ(::kill(pid_, sig), 0);
    const int status = finish();
    ASSERT_TRUE(WIFEXITED(status)) << err();
    EXPECT_EQ(WEXITSTATUS(status), 128 + sig) << out() << err();
    EXPECT_EQ(read_text(at("a.json")), earlier);  // never clobbered by a partial report
    EXPECT_EQ(entries(), (std::set<std::string>{"a.json", "a.incomplete.json"}));
    const json doc = valid_report(at("a.incomplete.json"));
    const json& inc = doc.at("opbench").at("incomplete");
    EXPECT_EQ(inc.at("reason"), sig == SIGINT ? "SIGINT" : "SIGTERM");
    EXPECT_GE(inc.at("finished").get<int>(), 3);
    EXPECT_LT(inc.at("finished").get<int>(), inc.at("planned").get<int>());
    EXPECT_EQ(doc.at("opbench").at("cases").size(), inc.at("recorded").get<std::size_t>());
    EXPECT_FALSE(doc.at("benchmarks").empty());
    EXPECT_NE(out().find("a.incomplete.json (marked incomplete); a.json was not touched"),
              std::string::npos)
        << out();
  }

  pid_t pid_ = -1;
  fs::path root_, work_;
};

TEST_F(CliInterrupt, SigintHalfWayWritesTheFinishedCasesBesideTheEarlierReport) {
  stops_on(SIGINT, {});
}

TEST_F(CliInterrupt, SigtermOfAnIsolatedRunDoesTheSame) {
  stops_on(SIGTERM, {"--isolate"});
  EXPECT_EQ(valid_report(at("a.incomplete.json")).at("opbench").at("workers"), "isolated");
}

TEST_F(CliInterrupt, AKilledRunLeavesAJournalThatBecomesAReport) {
  start({"run", "--suite", "norm", "--min-time", "0.01", "--json", "a.json"});
  ASSERT_TRUE(wait_for_cases(at("a.json.journal"), 3)) << err();
  ASSERT_EQ(::kill(pid_, SIGKILL), 0);
  finish();
  ASSERT_TRUE(fs::exists(at("a.json.journal")));
  EXPECT_FALSE(fs::exists(at("a.json")));

  const Outcome made =
      cli_test::opbench(work_, {"report", "--from-journal", "a.json.journal", "--json", "k.json"});
  ASSERT_EQ(made.code, 0) << made;
  const json doc = valid_report(at("k.json"));
  const std::string reason = doc.at("opbench").at("incomplete").at("reason");
  EXPECT_EQ(reason.rfind("killed: its journal ends after ", 0), 0u) << reason;
  EXPECT_GE(doc.at("opbench").at("cases").size(), 3u);

  // The next run at that path keeps the journal under a name of its own and says how to use it.
  const Outcome next = cli_test::opbench(work_, {"check", "--op", "dyt", "--json", "a.json"});
  EXPECT_EQ(next.code, 0) << next;
  EXPECT_NE(next.err.find("its journal is kept as a.json.journal."), std::string::npos) << next;
  EXPECT_NE(next.err.find("opbench report --from-journal a.json.journal."), std::string::npos)
      << next;
  int kept = 0;
  for (const std::string& name : entries()) kept += name.rfind("a.json.journal.", 0) == 0;
  EXPECT_EQ(kept, 1);
  EXPECT_FALSE(fs::exists(at("a.json.journal")));  // that run finished: its own is gone
}

TEST_F(CliInterrupt, BadUsesOfTheNewOptionsAreOneLineAndExit2) {
  write_text(at("not_a_journal.json"), "{\"benchmarks\": []}\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"check", "--op", "dyt", "--case-timeout", "5"}, "--case-timeout needs --isolate"},
      {{"run", "--op", "dyt", "--isolate", "--case-timeout", "-1"}, "--case-timeout must be"},
      {{"report", "--from-journal", "x.journal"}, "--from-journal needs --json"},
      {{"report", "--from-journal", "missing.journal", "--json", "o.json"}, "cannot open"},
      {{"report", "--from-journal", "not_a_journal.json", "--json", "o.json"}, "line 1"},
      {{"worker", "--anything"}, "opbench worker takes no arguments"},
  };
  for (const auto& [args, needle] : cases) {
    const Outcome r = cli_test::opbench(work_, args);
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r;
    EXPECT_NE(r.err.find(needle), std::string::npos) << needle << "\n" << r;
  }
  EXPECT_FALSE(fs::exists(at("o.json")));
}

}  // namespace
