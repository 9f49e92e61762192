#pragma once
// The inline SVG charts of the HTML page: speedup bars, the roofline plot and trend sparklines.
// Every label is HTML-escaped here; the output is markup to paste into the page.
#include <string>
#include <vector>

namespace opbench::reports::charts {

// The colour of the i-th series (implementation) on every chart of a page.
const char* series_color(std::size_t i);

struct Bar {
  std::string label;  // the implementation
  double value = 0;   // the speedup (finite, > 0)
  std::size_t series = 0;
};

struct BarGroup {
  std::string label;  // the parameter point
  std::vector<Bar> bars;
};

// Horizontal bars on a log scale around a line at 1x (the baseline), one group per point.
std::string speedup_bars(const std::vector<BarGroup>& groups, const std::string& baseline);

struct RoofPoint {
  double intensity = 0;  // flops per byte
  double gflops = 0;     // achieved
  std::size_t series = 0;
  std::string title;  // tooltip
};

struct Roofline {
  std::string title;           // "cpu" or the run and backend
  double copy_gbps_best = 0;   // the fastest measured copy (the roof's slope)
  double copy_gbps_worst = 0;  // the slowest (largest) copy, drawn dashed when it differs
  double peak_gflops = 0;      // the SGEMM ceiling (the flat roof)
  std::vector<RoofPoint> points;
  std::vector<std::string> legend;  // series names, by series index
};

// Arithmetic intensity against achieved GFLOP/s on log-log axes under the measured ceilings.
std::string roofline(const Roofline& plot);

struct TrendPoint {
  double x = 0;        // the run's time (seconds since the epoch) or its index
  double seconds = 0;  // the case's median time then
  std::string title;   // tooltip: date, commit, time
};

// A small line of one case's time over the runs, `x_min`..`x_max` spanning all runs of its
// machine so that sparklines of one table line up.
std::string sparkline(const std::vector<TrendPoint>& points, double x_min, double x_max);

}  // namespace opbench::reports::charts
