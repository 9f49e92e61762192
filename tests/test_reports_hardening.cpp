// Tests of reports/ against hostile reports: numbers beyond a double in the JSON text are one-line
// errors naming the file; the charts of the HTML page draw any numbers a report can hold (Inf,
// NaN, zero, 1e308) in bounded time as valid SVG, leaving out what has no place on a log axis
// with a note, and an empty chart with a note when nothing is left.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include "harness/errors.hpp"
#include "reports/html_charts.hpp"
#include "reports/json_report.hpp"

namespace fs = std::filesystem;
namespace charts = opbench::reports::charts;
namespace rep = opbench::reports;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kMax = std::numeric_limits<double>::max();

// Runs `draw` with a deadline: a chart that loops forever ends the test binary with a failure
// message instead of hanging until CTest's timeout.
std::string within_seconds(int seconds, const std::function<std::string()>& draw) {
  auto result = std::async(std::launch::async, draw);
  if (result.wait_for(std::chrono::seconds(seconds)) != std::future_status::ready) {
    std::fprintf(stderr, "FAILED: drawing a chart did not end within %d s\n", seconds);
    std::fflush(stderr);
    std::_Exit(1);
  }
  return result.get();
}

// Every number in the markup is finite: no nan or inf anywhere in an attribute or label.
void expect_finite_svg(const std::string& svg) {
  EXPECT_FALSE(std::regex_search(svg, std::regex("nan|inf", std::regex::icase))) << svg;
  EXPECT_EQ(svg.rfind("<svg", 0), 0u) << svg;
  EXPECT_EQ(svg.substr(svg.size() - 6), "</svg>") << svg;
}

charts::Roofline roofline_of(std::vector<std::pair<double, double>> points, double bw = 70,
                             double peak = 100) {
  charts::Roofline plot;
  plot.title = "cpu";
  plot.copy_gbps_best = bw;
  plot.copy_gbps_worst = bw / 4;
  plot.peak_gflops = peak;
  plot.legend = {"cpu.fast"};
  for (auto [intensity, gflops] : points) plot.points.push_back({intensity, gflops, 0, "case"});
  return plot;
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("opbench_test_reports_hardening_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  fs::path dir_;
};

template <class F>
std::string usage_error_of(F&& f) {
  try {
    f();
  } catch (const opbench::UsageError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not a UsageError: ") + e.what();
  }
  return "no error";
}

}  // namespace

using ReportLoader = TempDir;

TEST_F(ReportLoader, NumbersBeyondADoubleAreOneLineErrorsNamingTheFile) {
  const std::string plain =
      R"({"context": {}, "benchmarks": [{"name": "a", "real_time": 1, "time_unit": "ns"}]})";
  ASSERT_EQ(usage_error_of([&] { rep::load_report(write("ok.json", plain)); }), "no error");
  for (const std::string number : {"1e999", "-1e999", "123456789e400"}) {
    const std::string text =
        R"({"context": {"x": )" + number +
        R"(}, "benchmarks": [{"name": "a", "real_time": 1, "time_unit": "ns"}]})";
    const std::string p = write("big.json", text);
    for (const std::string& what : {usage_error_of([&] { rep::load_report(p); }),
                                    usage_error_of([&] { rep::read_report(p); })}) {
      EXPECT_NE(what.find(p), std::string::npos) << what;
      EXPECT_NE(what.find("out of the range of a double"), std::string::npos) << what;
      EXPECT_NE(what.find(number), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
}

TEST(Charts, RooflineWithInfiniteValuesEndsAndLeavesThemOut) {
  // The reproducer: cost {"bytes": 1, "flops": 1e308} over a microsecond is Inf GFLOP/s.
  const std::string svg = within_seconds(20, [] {
    return charts::roofline(roofline_of({{1e308, kInf}, {0.25, 12}, {kNaN, 3}, {2, 0}}));
  });
  expect_finite_svg(svg);
  EXPECT_NE(svg.find("3 points without a finite, positive value left out"), std::string::npos)
      << svg;
  EXPECT_EQ(std::regex_search(svg, std::regex("<circle cx=\"[0-9.]+\" cy=\"[0-9.]+\" r=\"4\"")),
            true);
}

TEST(Charts, RooflineSpanningEveryDoubleStaysBounded) {
  // Intensities and rates from the smallest subnormal to the largest double, ceilings at the
  // extremes: every decade exists, few are labelled, nothing overflows.
  const double tiny = std::numeric_limits<double>::denorm_min();
  const std::string svg = within_seconds(20, [&] {
    return charts::roofline(roofline_of({{tiny, kMax}, {kMax, tiny}}, tiny, kMax));
  });
  expect_finite_svg(svg);
  EXPECT_LT(svg.size(), 20000u);
  EXPECT_NE(svg.find(">1e-324<"), std::string::npos) << svg;
}

TEST(Charts, RooflineWithNothingFiniteIsAnEmptyChartWithANote) {
  const std::string svg = within_seconds(20, [] {
    return charts::roofline(roofline_of({{kInf, kInf}, {kNaN, 1}}, kInf, kNaN));
  });
  expect_finite_svg(svg);
  EXPECT_NE(svg.find("2 points without a finite, positive value left out"), std::string::npos)
      << svg;
  EXPECT_EQ(svg.find("<circle"), std::string::npos) << svg;
  EXPECT_EQ(svg.find("class=\"grid\""), std::string::npos) << svg;
}

TEST(Charts, SpeedupBarsWithoutAFiniteSpeedupShowADash) {
  std::vector<charts::BarGroup> groups = {
      {"rows=64", {{"cpu.fast", 8.5, 1}, {"zero_time", kInf, 2}, {"huge_time", 0, 3}}},
      {"rows=1024", {{"cpu.fast", kNaN, 1}, {"far", 1e300, 2}}}};
  const std::string svg =
      within_seconds(20, [&] { return charts::speedup_bars(groups, "cpu.plain"); });
  expect_finite_svg(svg);
  EXPECT_EQ(std::regex_search(svg, std::regex("no finite speedup")), true);
  std::size_t dashes = 0;
  for (std::size_t at = svg.find("no finite speedup"); at != std::string::npos;
       at = svg.find("no finite speedup", at + 1)) {
    ++dashes;
  }
  EXPECT_EQ(dashes, 3u) << svg;
  EXPECT_NE(svg.find("8.50\u00d7"), std::string::npos) << svg;
}

TEST(Charts, SparklineOfNonFiniteTimesAndDates) {
  std::vector<charts::TrendPoint> points = {
      {0, 1e-3, "a"}, {1, kInf, "b"}, {kNaN, 2e-3, "c"}, {3, kMax, "d"}, {4, 0, "e"}};
  std::string svg = within_seconds(20, [&] { return charts::sparkline(points, 0, 4); });
  expect_finite_svg(svg);
  EXPECT_NE(svg.find("3 times without a finite, positive value left out"), std::string::npos)
      << svg;
  // Dates at the ends of the double range: the x scale still spans them.
  svg = within_seconds(20, [&] { return charts::sparkline(points, -kMax, kMax); });
  expect_finite_svg(svg);
  std::vector<charts::TrendPoint> none = {{0, kInf, "a"}, {1, kNaN, "b"}};
  svg = within_seconds(20, [&] { return charts::sparkline(none, 0, 1); });
  expect_finite_svg(svg);
  EXPECT_NE(svg.find("no finite times"), std::string::npos) << svg;
  EXPECT_EQ(svg.find("<circle"), std::string::npos) << svg;
}
