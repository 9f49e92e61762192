// End-to-end tests of `opbench compare` and `opbench report`'s new options: the real binary
// (OPBENCH_BINARY) on reports written by a real `opbench run` (tiny sizes, --min-time 0.01), and
// on copies of them with one kernel's times scaled by a known factor.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/cli_test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using namespace cli_test;

// One real run shared by the tests: layernorm at a tiny size, cpu.plain and cpu.fast, 5
// repetitions.
class CliCompare : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/opbench_test_cli_compare_XXXXXX";
    root_ = mkdtemp(tmpl);
    Outcome r =
        opbench(root_, {"run", "--op", "layernorm", "--impl", "cpu.plain,cpu.fast", "--dtype",
                        "f32", "--axis", "rows=8", "--axis", "cols=64", "--axis", "dist=normal",
                        "--min-time", "0.01", "--repetitions", "5", "--json", "base.json"});
    ASSERT_EQ(r.code, 0) << r;
    json doc = json::parse(read_text(root_ / "base.json"));
    tidy_times(doc);
    write_text(root_ / "base.json", doc.dump(2));
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void SetUp() override { ASSERT_TRUE(fs::exists(root_ / "base.json")) << "the shared run failed"; }

  static json base() { return json::parse(read_text(root_ / "base.json")); }

  // A copy of the base report with every time of `impl` multiplied by `factor`.
  static std::string slowed(const std::string& impl, double factor, const std::string& name) {
    json doc = base();
    scale_times(doc, impl, factor);
    write_text(root_ / name, doc.dump(2));
    return name;
  }

  // Expects exit 2 and one line on stderr naming every needle.
  static void expect_usage_error(const Outcome& r, std::initializer_list<std::string> needles) {
    EXPECT_EQ(r.code, 2) << r;
    EXPECT_EQ(r.out, "") << r;
    EXPECT_EQ(r.err.rfind("opbench: error:", 0), 0u) << r;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r;
    for (const auto& n : needles) EXPECT_TRUE(contains(r.err, n)) << n << "\n" << r;
  }

  static fs::path root_;
};

fs::path CliCompare::root_;

}  // namespace

TEST_F(CliCompare, ARunComparedWithItselfShowsNoChange) {
  Outcome r = opbench(root_, {"compare", "base.json", "base.json", "--fail-on-regression"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, "2 cases compared: 0 slower, 0 faster, 2 unchanged")) << r;
  EXPECT_TRUE(contains(r.out, "+0.0%")) << r;
  Outcome cpu = opbench(root_, {"compare", "base.json", "base.json", "--time", "cpu"});
  EXPECT_EQ(cpu.code, 0) << cpu;
  EXPECT_TRUE(contains(cpu.out, "2 unchanged; 0 agreement regressions")) << cpu;
  EXPECT_TRUE(contains(cpu.out, "cpu time)")) << cpu;
  EXPECT_FALSE(contains(r.out, "WARNING")) << r;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "colour on a file\n" << r;
}

TEST_F(CliCompare, AKernelMadeThreeTimesSlowerIsTheOneCaseFlagged) {
  std::string slow = slowed("cpu.fast", 3.0, "slow.json");
  Outcome r = opbench(root_, {"compare", "base.json", slow, "--fail-on-regression"});
  EXPECT_EQ(r.code, 1) << r;
  EXPECT_TRUE(contains(r.out, "1 slower, 0 faster, 1 unchanged")) << r;
  EXPECT_TRUE(contains(r.out, "+200.0%")) << r;
  EXPECT_TRUE(contains(r.out, "REGRESSION")) << r;
  // Without --fail-on-regression the verdict is reported and the exit code stays 0.
  EXPECT_EQ(opbench(root_, {"compare", "base.json", slow}).code, 0);
  // JSON: exactly that case is slower.
  Outcome j = opbench(root_, {"compare", "base.json", slow, "--format", "json"});
  ASSERT_EQ(j.code, 0) << j;
  json doc = json::parse(j.out);
  for (const json& c : doc["cases"]) {
    EXPECT_EQ(c["verdict"], c["impl"] == "cpu.fast" ? "slower" : "unchanged") << c.dump();
  }
  // A larger threshold than the change: nothing counts.
  EXPECT_EQ(
      opbench(root_, {"compare", "base.json", slow, "--threshold", "250%", "--fail-on-regression"})
          .code,
      0);
}

TEST_F(CliCompare, FormatsMarkdownCsvAndAnOutputFile) {
  std::string slow = slowed("cpu.plain", 2.0, "slow_plain.json");
  Outcome md = opbench(root_, {"compare", "base.json", slow, "--format", "markdown"});
  ASSERT_EQ(md.code, 0) << md;
  EXPECT_EQ(md.out.rfind("## opbench compare", 0), 0u) << md;
  EXPECT_TRUE(contains(md.out, "### Regressions")) << md;
  EXPECT_TRUE(contains(md.out, "| norm/layernorm | cpu.plain |")) << md;
  Outcome csv = opbench(root_, {"compare", "base.json", slow, "--format", "csv"});
  ASSERT_EQ(csv.code, 0) << csv;
  EXPECT_EQ(csv.out.rfind("name,suite,op,impl,", 0), 0u) << csv;
  EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 3) << csv;  // header + 2 cases
  Outcome file =
      opbench(root_, {"compare", "base.json", slow, "--format", "markdown", "-o", "cmp.md"});
  ASSERT_EQ(file.code, 0) << file;
  EXPECT_EQ(read_text(root_ / "cmp.md"), md.out);
  Outcome colored = opbench(root_, {"compare", "base.json", slow, "--color", "always"});
  EXPECT_NE(colored.out.find("\x1b[31m"), std::string::npos) << colored;
}

TEST_F(CliCompare, BaselineImplShowsTheKernelsOfOneRunSideBySide) {
  Outcome r = opbench(root_, {"compare", "base.json"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, "speedups over cpu.plain")) << r;
  EXPECT_TRUE(contains(r.out, "cpu.plain (baseline)")) << r;
  EXPECT_TRUE(contains(r.out, "1.00x")) << r;
  for (const char* col : {"time", "noise", "GB/s", "ceiling", "agreement", "vs cpu.plain"}) {
    EXPECT_TRUE(contains(r.out, col)) << col << "\n" << r;
  }
  Outcome fast =
      opbench(root_, {"compare", "base.json", "--baseline-impl", "cpu.fast", "--format", "json"});
  ASSERT_EQ(fast.code, 0) << fast;
  json doc = json::parse(fast.out);
  EXPECT_EQ(doc["baseline_impl"], "cpu.fast");
  for (const json& row : doc["groups"][0]["implementations"]) {
    if (row["impl"] == "cpu.fast") EXPECT_DOUBLE_EQ(row["speedup"].get<double>(), 1.0);
  }
  expect_usage_error(opbench(root_, {"compare", "base.json", "--baseline-impl", "cpu.nope"}),
                     {"cpu.nope", "cpu.plain", "cpu.fast", "base.json"});
}

TEST_F(CliCompare, DifferentMachinesWarnLoudly) {
  json doc = base();
  doc["opbench"]["devices"] = {"cpu: Some Other CPU, 2 threads"};
  write_text(root_ / "other.json", doc.dump());
  Outcome r = opbench(root_, {"compare", "base.json", "other.json"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.out, "WARNING: the runs come from different machines")) << r;
  Outcome j = opbench(root_, {"compare", "base.json", "other.json", "--format", "json"});
  EXPECT_TRUE(contains(j.err, "opbench: WARNING: the runs come from different machines")) << j;
  EXPECT_NO_THROW(json::parse(j.out)) << j;
}

TEST_F(CliCompare, BadInputGetsOneClearLine) {
  expect_usage_error(opbench(root_, {"compare"}), {"give two reports"});
  expect_usage_error(opbench(root_, {"compare", "a", "b", "c"}), {"give two reports"});
  expect_usage_error(opbench(root_, {"compare", "base.json", "base.json", "--baseline-impl", "x"}),
                     {"--baseline-impl", "one report"});
  expect_usage_error(opbench(root_, {"compare", "base.json", "base.json", "--threshold", "abc"}),
                     {"--threshold", "abc"});
  expect_usage_error(opbench(root_, {"compare", "base.json", "base.json", "--alpha", "2"}),
                     {"--alpha"});
  expect_usage_error(opbench(root_, {"compare", "base.json", "base.json", "--format", "xml"}),
                     {"xml", "markdown"});
  expect_usage_error(opbench(root_, {"compare", "base.json", "base.json", "--time", "wall"}),
                     {"--time", "real or cpu"});
  expect_usage_error(opbench(root_, {"compare", "base.json", "missing.json"}),
                     {"missing.json", "cannot read"});
  write_text(root_ / "half.json", "{\"benchmarks\": [");
  expect_usage_error(opbench(root_, {"compare", "base.json", "half.json"}),
                     {"half.json", "not valid JSON"});
  json doc = base();
  doc["opbench"]["schema_version"] = 7;
  write_text(root_ / "future.json", doc.dump());
  expect_usage_error(opbench(root_, {"compare", "future.json", "base.json"}),
                     {"future.json", "schema_version 7 is newer"});
  doc = base();
  doc["benchmarks"][1]["real_time"] = "slow";
  write_text(root_ / "mistyped.json", doc.dump());
  expect_usage_error(opbench(root_, {"compare", "base.json", "mistyped.json"}),
                     {"mistyped.json", "benchmarks[1].real_time"});
}

TEST_F(CliCompare, ReportsWithMissingFieldsAreComparedWithAWarning) {
  json doc = base();
  doc["opbench"].erase("ceilings");
  doc["opbench"]["tool_version"] = "0.0.1";
  write_text(root_ / "partial.json", doc.dump());
  Outcome r = opbench(root_, {"compare", "base.json", "partial.json"});
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.err, "partial.json: opbench.ceilings: missing")) << r;
  EXPECT_TRUE(contains(r.err, "written by opbench 0.0.1")) << r;
  EXPECT_TRUE(contains(r.out, "different opbench versions")) << r;
  EXPECT_TRUE(contains(r.out, "2 unchanged")) << r;
}

TEST_F(CliCompare, ReportWithABaselineListsTheWorstRegressions) {
  std::string slow = slowed("cpu.fast", 3.0, "slow_for_html.json");
  Outcome r = opbench(root_, {"report", slow, "--baseline", "base.json", "-o", "page.html"});
  ASSERT_EQ(r.code, 0) << r;
  std::string html = read_text(root_ / "page.html");
  EXPECT_TRUE(contains(html, "<section id=\"regressions\">")) << html.substr(0, 2000);
  EXPECT_TRUE(contains(html, "worst regressions"));
  EXPECT_TRUE(contains(html, "norm/layernorm/cpu.fast/f32/rows:8/cols:64"));
  EXPECT_TRUE(contains(html, "<div class=\"n\">1</div><div class=\"l\">slower</div>"));
  EXPECT_TRUE(contains(html, "+200.0%"));
}
