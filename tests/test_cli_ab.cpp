// End-to-end: `opbench ab` of the real binary against itself (an A/A run): both builds' workers
// run every case, the comparison has the compare command's form and exit code, --save writes two
// valid reports; and the bad uses are one line with exit 2.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/json_report.hpp"
#include "tests/cli_test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace cli_test;

namespace {

class CliAb : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/opbench_test_cli_ab_XXXXXX";
    work_ = ::mkdtemp(tmpl);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(work_, ec);
  }
  fs::path work_;
};

TEST_F(CliAb, ABuildAgainstItselfRunsEveryCaseOnBothAndComparesThem) {
  const Outcome r = cli_test::opbench(work_, {"ab",
                                              "--base",
                                              OPBENCH_BINARY,
                                              "--new",
                                              OPBENCH_BINARY,
                                              "--op",
                                              "layernorm,dyt",
                                              "--impl",
                                              "cpu.plain,cpu.fast",
                                              "--axis",
                                              "rows=8",
                                              "--axis",
                                              "cols=256",
                                              "--repetitions",
                                              "4",
                                              "--min-time",
                                              "0.005",
                                              "--save",
                                              "ab",
                                              "--format",
                                              "json"});
  ASSERT_EQ(r.code, 0) << r;
  const json cmp = json::parse(r.out);
  std::size_t timed = 0;
  for (const json& c : cmp.at("cases")) {
    timed += c.at("verdict") != "not timed";
  }
  // 2 implementations x 3 distributions, of LayerNorm in f32 and bf16 (its quick dtypes) and of
  // DyT in f32.
  EXPECT_EQ(timed, 18u) << r.out;
  for (const char* side : {"ab.base.json", "ab.new.json"}) {
    const json doc = json::parse(read_text(work_ / side));
    EXPECT_EQ(opbench::reports::validate_report(doc), "") << side;
    EXPECT_EQ(doc.at("opbench").at("workers"), "isolated") << side;
    EXPECT_EQ(doc.at("opbench").at("interleaved"), true) << side;
    for (const json& c : doc.at("opbench").at("cases")) {
      EXPECT_EQ(c.at("agreement").at("status"), "pass") << c.at("name");
    }
  }
}

TEST_F(CliAb, BadUsesAreOneLineAndExit2) {
  const std::string self = OPBENCH_BINARY;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"ab", "--new", self}, "--base PATH_TO_OPBENCH is required"},
      {{"ab", "--base", "/nonexistent/opbench", "--new", self}, "not an executable file"},
      {{"ab", "--base", "/bin/true", "--new", self, "--op", "dyt"}, "is not an opbench worker"},
      {{"ab", "--base", self, "--new", self, "--shard", "1/2"}, "--shard is for run and check"},
      {{"ab", "--base", self, "--new", self, "--repetitions", "0"}, "--repetitions"},
      {{"ab", "--base", self, "--new", self, "--op", "nonesuch"}, "neither build plans a case"},
  };
  for (const auto& [args, needle] : cases) {
    const Outcome r = cli_test::opbench(work_, args);
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r;
    EXPECT_NE(r.err.find(needle), std::string::npos) << needle << "\n" << r;
  }
}

}  // namespace
