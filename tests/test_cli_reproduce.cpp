// End-to-end: `opbench reproduce` runs exactly the cases of a stored report again with its
// recorded settings (seed, threads, repetitions), finds the same input checksums and agreement,
// and says so; a stored report whose checksum or agreement differs from the new run's is exit 1
// naming what moved; a report without the recorded settings is one line and exit 2.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/cli_test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace cli_test;

namespace {

class CliReproduce : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/opbench_test_cli_reproduce_XXXXXX";
    work_ = ::mkdtemp(tmpl);
    const Outcome r =
        cli_test::opbench(work_, {"run", "--op", "dyt,rmsnorm", "--axis", "rows=8", "--axis",
                                  "cols=64", "--repetitions", "2", "--min-time", "0.005",
                                  "--threads", "1", "--seed", "5", "--json", "stored.json"});
    ASSERT_EQ(r.code, 0) << r;
    stored_ = json::parse(read_text(work_ / "stored.json"));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(work_, ec);
  }
  void store(const json& doc, const std::string& name) { write_text(work_ / name, doc.dump()); }
  static std::set<std::string> names(const json& doc) {
    std::set<std::string> out;
    for (const json& c : doc.at("opbench").at("cases")) out.insert(c.at("name"));
    return out;
  }
  fs::path work_;
  json stored_;
};

TEST_F(CliReproduce, TheSameCasesWithTheSameInputsAndAgreement) {
  const Outcome r = cli_test::opbench(work_, {"reproduce", "stored.json", "--json", "again.json"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, "tensor(s), every checksum identical")) << r;
  const std::size_t cases = stored_.at("opbench").at("cases").size();
  EXPECT_TRUE(contains(r.out, "agreement: " + std::to_string(cases) + " of " +
                                  std::to_string(cases) + " case(s) with the same status"))
      << r;
  const json again = json::parse(read_text(work_ / "again.json"));
  EXPECT_EQ(names(again), names(stored_));
  EXPECT_EQ(again.at("opbench").at("threads"), 1);
  EXPECT_EQ(again.at("opbench").at("datasets"), stored_.at("opbench").at("datasets"));
  EXPECT_EQ(again.at("opbench").at("run").at("options").at("seed"), 5);
  std::size_t timed = 0;  // a CUDA case on a machine without a device is planned, never timed
  for (const json& c : again.at("opbench").at("cases")) {
    if (c.at("is_reference") || c.at("time").is_null()) continue;
    EXPECT_EQ(c.at("time").at("repetitions"), 2) << c.at("name");  // as stored
    ++timed;
  }
  EXPECT_GT(timed, 0u);
}

TEST_F(CliReproduce, AChangedChecksumOrAgreementIsWhatMovedAndExit1) {
  json doc = stored_;
  auto& datasets = doc.at("opbench").at("datasets");
  const std::string key = datasets.begin().key();
  datasets[key]["tensors"][0]["checksum"] = "fnv1a64:0000000000000000";
  for (json& c : doc.at("opbench").at("cases")) {
    if (c.at("impl") == "cpu.fast" && c.at("op") == "dyt") {
      c["agreement"]["status"] = "fail";
      break;
    }
  }
  store(doc, "tampered.json");
  const Outcome r = cli_test::opbench(work_, {"reproduce", "tampered.json"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_TRUE(contains(r.out, key + " / x: fnv1a64:0000000000000000 -> fnv1a64:")) << r;
  EXPECT_TRUE(contains(r.out, "agreement moved: norm/dyt/cpu.fast/")) << r;
  EXPECT_TRUE(contains(r.out, ": fail -> pass")) << r;
}

TEST_F(CliReproduce, AReportWithoutItsSettingsIsOneLineAndExit2) {
  json doc = stored_;
  doc.at("opbench").erase("run");
  store(doc, "old.json");
  const Outcome r = cli_test::opbench(work_, {"reproduce", "old.json"});
  EXPECT_EQ(r.code, 2) << r;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r;
  EXPECT_TRUE(contains(r.err, "no opbench.run")) << r;
  EXPECT_TRUE(contains(r.err, "opbench run --op dyt,rmsnorm")) << r;  // its command line
  const Outcome none = cli_test::opbench(work_, {"reproduce"});
  EXPECT_EQ(none.code, 2) << none;
}

}  // namespace
