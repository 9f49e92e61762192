// End-to-end tests of the real opbench binary against the hostile inputs of issue 15: every one
// ends (each command runs under a deadline) with exit 2 and one line naming what was wrong, or
// with a correct result. Reports holding numbers beyond a double, a report whose cost makes the
// roofline infinite, .npy inputs whose header lies, and a FIFO given as an input.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "datasets/npy.hpp"
#include "tests/cli_test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace cli_test;

namespace {

// Exit code of `timeout`: the command was still running at the deadline.
constexpr int kTimedOut = 124;

// opbench with a deadline: a hang is a failure (exit 124), never a hung test.
Outcome opbench_within(const fs::path& cwd, int seconds, const std::vector<std::string>& args) {
  std::vector<std::string> all = args;
  Outcome r;
  r.command = "opbench";
  std::string cmd = "cd " + quote(cwd.string()) + " && timeout -s KILL " + std::to_string(seconds) +
                    " " + quote(OPBENCH_BINARY);
  for (const auto& a : all) {
    cmd += " " + quote(a);
    r.command += " " + a;
  }
  cmd += " >" + quote((cwd / ".out").string()) + " 2>" + quote((cwd / ".err").string()) +
         " </dev/null";
  int status = std::system(cmd.c_str());
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (r.code == 137) r.code = kTimedOut;  // timeout -s KILL reports 128 + 9
  r.out = read_text(cwd / ".out");
  r.err = read_text(cwd / ".err");
  return r;
}

// Exit 2 and exactly one line on stderr that holds every needle.
void expect_one_line_error(const Outcome& r, const std::vector<std::string>& needles) {
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r;
  EXPECT_EQ(r.err.rfind("opbench: error: ", 0), 0u) << r;
  for (const std::string& n : needles) EXPECT_TRUE(contains(r.err, n)) << n << "\n" << r;
}

class CliHardening : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/opbench_test_cli_hardening_XXXXXX";
    shared_ = mkdtemp(tmpl);
    Outcome r = opbench_within(
        shared_, 300,
        {"run", "--op", "layernorm", "--impl", "cpu.plain", "--axis", "rows=8", "--axis", "cols=64",
         "--min-time", "0.01", "--repetitions", "3", "--json", "base.json"});
    ASSERT_EQ(r.code, 0) << r;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(shared_, ec);
  }
  void SetUp() override {
    ASSERT_TRUE(fs::exists(shared_ / "base.json")) << "the shared run failed";
    char tmpl[] = "/tmp/opbench_test_cli_hardening_one_XXXXXX";
    work_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(work_, ec);
  }
  json base() const { return json::parse(read_text(shared_ / "base.json")); }

  static fs::path shared_;
  fs::path work_;
};

fs::path CliHardening::shared_;

}  // namespace

TEST_F(CliHardening, ReportNumbersBeyondADoubleAreOneLineErrors) {
  // nlohmann::json cannot hold 1e999 in a document: it goes in as text.
  json doc = base();
  doc["context"]["overflow"] = "@NUMBER@";
  const std::string text = doc.dump(1);
  for (const std::string number : {"1e999", "-1e999"}) {
    std::string t = text;
    t.replace(t.find("\"@NUMBER@\""), 10, number);
    write_text(work_ / "big.json", t);
    write_text(work_ / "base.json", read_text(shared_ / "base.json"));
    const std::vector<std::string> needles = {"big.json", "out of the range of a double", number};
    expect_one_line_error(opbench_within(work_, 60, {"compare", "base.json", "big.json"}), needles);
    expect_one_line_error(opbench_within(work_, 60, {"compare", "big.json"}), needles);
    expect_one_line_error(opbench_within(work_, 60, {"report", "big.json", "-o", "page.html"}),
                          needles);
    expect_one_line_error(
        opbench_within(work_, 60, {"nightly", "--history", "h", "--report", "big.json"}), needles);
    EXPECT_FALSE(fs::exists(work_ / "page.html"));
  }
}

TEST_F(CliHardening, ReportWithAnInfiniteRooflineEnds) {
  // The reproducer: cost {"bytes": 1, "flops": 1e308} on every case: Inf GFLOP/s.
  json doc = base();
  for (json& c : doc["opbench"]["cases"]) c["cost"] = {{"bytes", 1}, {"flops", 1e308}};
  for (json& e : doc["benchmarks"]) {
    if (e.contains("cost")) e["cost"] = {{"bytes", 1}, {"flops", 1e308}};
  }
  write_text(work_ / "huge.json", doc.dump(1));
  Outcome r = opbench_within(work_, 120, {"report", "huge.json", "-o", "page.html"});
  ASSERT_EQ(r.code, 0) << r;
  const std::string html = read_text(work_ / "page.html");
  EXPECT_TRUE(contains(html, "<section id=\"roofline\">")) << "the roofline is still drawn";
  EXPECT_TRUE(contains(html, "without a finite, positive value left out"));
  EXPECT_FALSE(std::regex_search(html, std::regex("(x|y|cx|cy|width|height)=\"-?(nan|inf)")));
}

TEST_F(CliHardening, NpyInputWhoseHeaderLiesIsRefused) {
  // A valid 8x64 f32 input, then its v1 header length one byte short: the data would be read
  // one byte late.
  const std::string preamble = opbench::datasets::npy_preamble(opbench::DType::f32, {8, 64});
  const std::string data(8 * 64 * 4, '\0');
  write_text(work_ / "good.npy", preamble + data);
  Outcome r = opbench_within(work_, 120,
                             {"check", "--op", "layernorm", "--impl", "cpu.plain", "--input",
                              "x=good.npy", "--json", "ok.json"});
  ASSERT_EQ(r.code, 0) << r;
  std::string lie = preamble + data;
  lie[8] = static_cast<char>(static_cast<unsigned char>(lie[8]) - 1);
  write_text(work_ / "lie.npy", lie);
  expect_one_line_error(opbench_within(work_, 120,
                                       {"check", "--op", "layernorm", "--impl", "cpu.plain",
                                        "--input", "x=lie.npy", "--json", "lie.json"}),
                        {"lie.npy", "newline"});
  write_text(work_ / "trailing.npy", preamble + data + "!");
  expect_one_line_error(opbench_within(work_, 120,
                                       {"check", "--op", "layernorm", "--impl", "cpu.plain",
                                        "--input", "x=trailing.npy", "--json", "t.json"}),
                        {"trailing.npy", "1 bytes after the data"});
  EXPECT_FALSE(fs::exists(work_ / "lie.json"));
  EXPECT_FALSE(fs::exists(work_ / "t.json"));
}

TEST_F(CliHardening, FifoInputIsRefusedAtOnce) {
  ASSERT_EQ(::mkfifo((work_ / "pipe.npy").c_str(), 0600), 0);
  Outcome r = opbench_within(work_, 60,
                             {"check", "--op", "layernorm", "--impl", "cpu.plain", "--input",
                              "x=pipe.npy", "--json", "p.json"});
  ASSERT_NE(r.code, kTimedOut) << "opbench blocked on the FIFO\n" << r;
  expect_one_line_error(r, {"pipe.npy", "FIFO"});
}

TEST_F(CliHardening, ErrorsQuotingControlCharactersStayOneLine) {
  // Messages quote what the user typed; a newline in it is printed escaped.
  Outcome r = opbench_within(work_, 60, {"check", "--op", "layernorm", "--axis", "rows=8,\n,9"});
  expect_one_line_error(r, {"axis 'rows'", "value '\\n'"});
  r = opbench_within(work_, 60, {"check", "--op", "layernorm", "--axis", "dist=normal\x01\r"});
  expect_one_line_error(r, {"\\x01\\r"});
}
