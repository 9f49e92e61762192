#include "reports/html_charts.hpp"

#include <algorithm>
#include <cmath>

#include "reports/html_report.hpp"
#include "reports/report_view.hpp"

namespace opbench::reports::charts {

using view::printf_string;

namespace {

std::string f(double v) {
  return printf_string("%.1f", v);
}

std::string esc(const std::string& s) {
  return html_escape(s);
}

// "0.01", "1", "100", "10k": a power of ten as a tick label.
std::string tick_label(double v) {
  if (v >= 1e6) return printf_string("%gM", v / 1e6);
  if (v >= 1e3) return printf_string("%gk", v / 1e3);
  return printf_string("%g", v);
}

std::string text(double x, double y, const std::string& s, const char* anchor = "start",
                 const char* cls = "") {
  return "<text x=\"" + f(x) + "\" y=\"" + f(y) + "\" text-anchor=\"" + anchor + "\"" +
         (*cls ? std::string(" class=\"") + cls + "\"" : "") + ">" + esc(s) + "</text>";
}

}  // namespace

const char* series_color(std::size_t i) {
  static const char* kColors[] = {"#4a86e8", "#e69138", "#6aa84f", "#a64d79", "#cc0000",
                                  "#45818e", "#b45f06", "#674ea7", "#999999", "#f1c232"};
  return kColors[i % (sizeof kColors / sizeof kColors[0])];
}

std::string speedup_bars(const std::vector<BarGroup>& groups, const std::string& baseline) {
  double lo = 1, hi = 1;
  std::size_t rows = 0;
  for (const BarGroup& g : groups) {
    rows += g.bars.size() + 1;
    for (const Bar& b : g.bars) {
      lo = std::min(lo, b.value);
      hi = std::max(hi, b.value);
    }
  }
  if (rows == 0) return "";
  lo /= 1.5;
  hi *= 1.5;
  constexpr double kLabel = 150, kPlot = 420, kRow = 16, kTop = 22;
  const double width = kLabel + kPlot + 60, height = kTop + rows * kRow + 8;
  auto x_of = [&](double v) {
    return kLabel + (std::log(v) - std::log(lo)) / (std::log(hi) - std::log(lo)) * kPlot;
  };
  std::string out = "<svg class=\"chart speedups\" width=\"" + f(width) + "\" height=\"" +
                    f(height) + "\" viewBox=\"0 0 " + f(width) + " " + f(height) +
                    "\" role=\"img\"><title>" + esc("speedup over " + baseline + " (log scale)") +
                    "</title>";
  // Ticks at powers of ten and the 1x line of the baseline.
  for (double t = std::pow(10, std::floor(std::log10(lo))); t <= hi; t *= 10) {
    if (t < lo) continue;
    out += "<line class=\"grid\" x1=\"" + f(x_of(t)) + "\" y1=\"" + f(kTop - 4) + "\" x2=\"" +
           f(x_of(t)) + "\" y2=\"" + f(height - 4) + "\"/>";
    out += text(x_of(t), kTop - 8, tick_label(t) + "\u00d7", "middle", "tick");
  }
  double y = kTop;
  for (const BarGroup& g : groups) {
    out += text(4, y + 12, g.label, "start", "group");
    y += kRow;
    for (const Bar& b : g.bars) {
      double x0 = x_of(1), x1 = x_of(b.value);
      out += text(kLabel - 6, y + 11, b.label, "end");
      out += "<rect x=\"" + f(std::min(x0, x1)) + "\" y=\"" + f(y + 2) + "\" width=\"" +
             f(std::max(1.0, std::abs(x1 - x0))) + "\" height=\"" + f(kRow - 5) + "\" fill=\"" +
             series_color(b.series) + "\"><title>" +
             esc(b.label + ": " + printf_string("%.2f\u00d7", b.value) + " " + baseline) +
             "</title></rect>";
      out +=
          text(std::max(x0, x1) + 4, y + 11, printf_string("%.2f\u00d7", b.value), "start", "val");
      y += kRow;
    }
  }
  out += "<line class=\"one\" x1=\"" + f(x_of(1)) + "\" y1=\"" + f(kTop - 4) + "\" x2=\"" +
         f(x_of(1)) + "\" y2=\"" + f(height - 4) + "\"/>";
  out += "</svg>";
  return out;
}

std::string roofline(const Roofline& plot) {
  if (plot.points.empty()) return "";
  constexpr double kLeft = 58, kTop = 26, kPlotW = 460, kPlotH = 260, kBottom = 40;
  const double width = kLeft + kPlotW + 160, height = kTop + kPlotH + kBottom;
  double x_lo = INFINITY, x_hi = 0, y_lo = INFINITY, y_hi = 0;
  for (const RoofPoint& p : plot.points) {
    x_lo = std::min(x_lo, p.intensity);
    x_hi = std::max(x_hi, p.intensity);
    y_lo = std::min(y_lo, p.gflops);
    y_hi = std::max(y_hi, p.gflops);
  }
  const double bw = plot.copy_gbps_best, peak = plot.peak_gflops;
  if (bw > 0 && peak > 0) {
    x_hi = std::max(x_hi, peak / bw * 4);  // the ridge point and beyond
    y_hi = std::max(y_hi, peak);
  }
  x_lo = std::pow(10, std::floor(std::log10(x_lo)));
  x_hi = std::pow(10, std::ceil(std::log10(x_hi)));
  y_lo = std::pow(10, std::floor(std::log10(y_lo)));
  y_hi = std::pow(10, std::ceil(std::log10(y_hi * 1.2)));
  if (x_hi <= x_lo) x_hi = x_lo * 10;
  if (y_hi <= y_lo) y_hi = y_lo * 10;
  auto X = [&](double v) {
    return kLeft +
           (std::log10(v) - std::log10(x_lo)) / (std::log10(x_hi) - std::log10(x_lo)) * kPlotW;
  };
  auto Y = [&](double v) {
    return kTop + kPlotH -
           (std::log10(v) - std::log10(y_lo)) / (std::log10(y_hi) - std::log10(y_lo)) * kPlotH;
  };
  std::string out = "<svg class=\"chart roofline\" width=\"" + f(width) + "\" height=\"" +
                    f(height) + "\" viewBox=\"0 0 " + f(width) + " " + f(height) +
                    "\" role=\"img\"><title>" + esc("roofline: " + plot.title) + "</title>";
  out += "<rect class=\"frame\" x=\"" + f(kLeft) + "\" y=\"" + f(kTop) + "\" width=\"" + f(kPlotW) +
         "\" height=\"" + f(kPlotH) + "\"/>";
  for (double t = x_lo; t <= x_hi * 1.001; t *= 10) {
    out += "<line class=\"grid\" x1=\"" + f(X(t)) + "\" y1=\"" + f(kTop) + "\" x2=\"" + f(X(t)) +
           "\" y2=\"" + f(kTop + kPlotH) + "\"/>";
    out += text(X(t), kTop + kPlotH + 14, tick_label(t), "middle", "tick");
  }
  for (double t = y_lo; t <= y_hi * 1.001; t *= 10) {
    out += "<line class=\"grid\" x1=\"" + f(kLeft) + "\" y1=\"" + f(Y(t)) + "\" x2=\"" +
           f(kLeft + kPlotW) + "\" y2=\"" + f(Y(t)) + "\"/>";
    out += text(kLeft - 5, Y(t) + 4, tick_label(t), "end", "tick");
  }
  out += text(kLeft + kPlotW / 2, height - 6, "arithmetic intensity (FLOP/byte)", "middle", "axis");
  out += "<text class=\"axis\" transform=\"translate(13," + f(kTop + kPlotH / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">GFLOP/s</text>";
  out += text(kLeft, 16, plot.title, "start", "group");
  // The roofs: min(intensity x copy bandwidth, SGEMM peak), sampled on the log axis.
  auto roof = [&](double gbps, const char* cls, const std::string& label) {
    if (!(gbps > 0)) return;
    std::string pts;
    for (int i = 0; i <= 64; ++i) {
      double ai = x_lo * std::pow(x_hi / x_lo, i / 64.0);
      double g = gbps * ai;
      if (peak > 0) g = std::min(g, peak);
      g = std::clamp(g, y_lo, y_hi);
      pts += f(X(ai)) + "," + f(Y(g)) + " ";
    }
    out += "<polyline class=\"" + std::string(cls) + "\" points=\"" + pts + "\"><title>" +
           esc(label) + "</title></polyline>";
  };
  roof(plot.copy_gbps_best, "roof",
       "fastest copy " + view::significant(plot.copy_gbps_best) + " GB/s" +
           (peak > 0 ? ", SGEMM " + view::significant(peak) + " GFLOP/s" : ""));
  if (plot.copy_gbps_worst > 0 && plot.copy_gbps_worst < plot.copy_gbps_best * 0.9) {
    roof(plot.copy_gbps_worst, "roof2",
         "slowest copy " + view::significant(plot.copy_gbps_worst) + " GB/s");
  }
  if (bw > 0) {
    double ai = x_lo * 2;
    double g = std::clamp(bw * ai, y_lo, y_hi);
    out += text(X(ai) + 4, Y(g) - 6, view::significant(bw, 3) + " GB/s", "start", "rooflabel");
  }
  if (peak > 0) {
    out += text(kLeft + kPlotW - 4, Y(peak) - 5, "SGEMM " + view::significant(peak, 3) + " GFLOP/s",
                "end", "rooflabel");
  }
  for (const RoofPoint& p : plot.points) {
    out += "<circle cx=\"" + f(X(p.intensity)) + "\" cy=\"" + f(Y(p.gflops)) +
           "\" r=\"4\" fill=\"" + series_color(p.series) + "\"><title>" + esc(p.title) +
           "</title></circle>";
  }
  double ly = kTop + 6;
  for (std::size_t i = 0; i < plot.legend.size(); ++i) {
    out += "<circle cx=\"" + f(kLeft + kPlotW + 18) + "\" cy=\"" + f(ly) + "\" r=\"4\" fill=\"" +
           series_color(i) + "\"/>";
    out += text(kLeft + kPlotW + 28, ly + 4, plot.legend[i]);
    ly += 16;
  }
  out += "</svg>";
  return out;
}

std::string sparkline(const std::vector<TrendPoint>& points, double x_min, double x_max) {
  constexpr double kW = 180, kH = 30, kPad = 4;
  if (points.empty()) return "";
  double lo = INFINITY, hi = 0;
  for (const TrendPoint& p : points) {
    lo = std::min(lo, p.seconds);
    hi = std::max(hi, p.seconds);
  }
  // Times on a scale that starts at zero would flatten small changes; a 10% band at least.
  double mid = (lo + hi) / 2, span = std::max(hi - lo, mid * 0.1);
  lo = mid - span / 2 * 1.15;
  hi = mid + span / 2 * 1.15;
  auto X = [&](double x) {
    return x_max > x_min ? kPad + (x - x_min) / (x_max - x_min) * (kW - 2 * kPad) : kW / 2;
  };
  auto Y = [&](double s) { return kPad + (hi - s) / (hi - lo) * (kH - 2 * kPad); };
  std::string out = "<svg class=\"spark\" width=\"" + f(kW) + "\" height=\"" + f(kH) +
                    "\" viewBox=\"0 0 " + f(kW) + " " + f(kH) + "\" role=\"img\">";
  std::string pts;
  for (const TrendPoint& p : points) pts += f(X(p.x)) + "," + f(Y(p.seconds)) + " ";
  out += "<polyline points=\"" + pts + "\"/>";
  for (std::size_t i = 0; i < points.size(); ++i) {
    const TrendPoint& p = points[i];
    out += "<circle cx=\"" + f(X(p.x)) + "\" cy=\"" + f(Y(p.seconds)) + "\" r=\"" +
           (i + 1 == points.size() ? "3" : "2") + "\"><title>" + esc(p.title) + "</title></circle>";
  }
  out += "</svg>";
  return out;
}

}  // namespace opbench::reports::charts
