#include "reports/html_charts.hpp"

#include <algorithm>
#include <cmath>

#include "reports/html_report.hpp"
#include "reports/report_view.hpp"

namespace opbench::reports::charts {

using view::printf_string;

namespace {

// Every coordinate that reaches the markup is finite: a NaN or Inf would make the SVG invalid.
std::string f(double v) {
  return printf_string("%.1f", std::isfinite(v) ? v : 0.0);
}

std::string esc(const std::string& s) {
  return html_escape(s);
}

// A value a log axis can show: finite and above zero. Numbers come from reports, which anyone can
// write: 1e308 flops over a microsecond is Inf GFLOP/s, a zero time an Inf speedup.
bool plottable(double v) {
  return std::isfinite(v) && v > 0;
}

// "0.01", "1", "100", "10k": a power of ten as a tick label ("1e-320" far out).
std::string tick_label(int exponent) {
  if (exponent < -300 || exponent > 300) return "1e" + std::to_string(exponent);
  const double v = std::pow(10.0, exponent);
  if (v >= 1e6) return printf_string("%gM", v / 1e6);
  if (v >= 1e3) return printf_string("%gk", v / 1e3);
  return printf_string("%g", v);
}

// A log10 axis over whole decades, 10^lo .. 10^hi (at least one decade), mapped to [0, 1].
// Exponents of finite positive doubles lie in [-324, 309], so every step below is bounded.
struct Decades {
  int lo = 0, hi = 1;
  Decades(double log_lo, double log_hi)
      : lo(static_cast<int>(std::floor(log_lo))), hi(static_cast<int>(std::ceil(log_hi))) {
    if (hi <= lo) hi = lo + 1;
  }
  double at(double log_v) const { return (log_v - lo) / (hi - lo); }
  // Decades between ticks: every one up to 12, fewer on a very wide axis.
  int step() const { return std::max(1, (hi - lo + 11) / 12); }
};

std::string text(double x, double y, const std::string& s, const char* anchor = "start",
                 const char* cls = "") {
  return "<text x=\"" + f(x) + "\" y=\"" + f(y) + "\" text-anchor=\"" + anchor + "\"" +
         (*cls ? std::string(" class=\"") + cls + "\"" : "") + ">" + esc(s) + "</text>";
}

// A rate or speedup as a label: `digits` significant digits, in exponent form beyond the range
// where plain digits stay short (view::significant prints every digit of 1e300).
std::string number_label(double v, int digits = 4) {
  if (std::abs(v) >= 0.01 && std::abs(v) < 1e12) return view::significant(v, digits);
  return printf_string(digits >= 4 ? "%.4g" : "%.3g", v);
}

std::string speedup_label(double v) {
  return (v >= 0.01 && v < 1e6 ? printf_string("%.2f", v) : printf_string("%.3g", v)) + "\u00d7";
}

std::string left_out_note(std::size_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s") +
         " without a finite, positive value left out";
}

}  // namespace

const char* series_color(std::size_t i) {
  static const char* kColors[] = {"#4a86e8", "#e69138", "#6aa84f", "#a64d79", "#cc0000",
                                  "#45818e", "#b45f06", "#674ea7", "#999999", "#f1c232"};
  return kColors[i % (sizeof kColors / sizeof kColors[0])];
}

std::string speedup_bars(const std::vector<BarGroup>& groups, const std::string& baseline) {
  // The axis in log10, around the 1x line, half a step (1.5x) beyond the extreme bars.
  double log_lo = 0, log_hi = 0;
  std::size_t rows = 0;
  for (const BarGroup& g : groups) {
    rows += g.bars.size() + 1;
    for (const Bar& b : g.bars) {
      if (!plottable(b.value)) continue;
      log_lo = std::min(log_lo, std::log10(b.value));
      log_hi = std::max(log_hi, std::log10(b.value));
    }
  }
  if (rows == 0) return "";
  log_lo -= std::log10(1.5);
  log_hi += std::log10(1.5);
  constexpr double kLabel = 150, kPlot = 420, kRow = 16, kTop = 22;
  const double width = kLabel + kPlot + 60, height = kTop + rows * kRow + 8;
  auto x_of = [&](double log_v) { return kLabel + (log_v - log_lo) / (log_hi - log_lo) * kPlot; };
  std::string out = "<svg class=\"chart speedups\" width=\"" + f(width) + "\" height=\"" +
                    f(height) + "\" viewBox=\"0 0 " + f(width) + " " + f(height) +
                    "\" role=\"img\"><title>" + esc("speedup over " + baseline + " (log scale)") +
                    "</title>";
  // Ticks at powers of ten and the 1x line of the baseline.
  const Decades axis(log_lo, log_hi);
  for (int e = axis.lo; e <= axis.hi; e += axis.step()) {
    if (e < log_lo || e > log_hi) continue;
    out += "<line class=\"grid\" x1=\"" + f(x_of(e)) + "\" y1=\"" + f(kTop - 4) + "\" x2=\"" +
           f(x_of(e)) + "\" y2=\"" + f(height - 4) + "\"/>";
    out += text(x_of(e), kTop - 8, tick_label(e) + "\u00d7", "middle", "tick");
  }
  double y = kTop;
  for (const BarGroup& g : groups) {
    out += text(4, y + 12, g.label, "start", "group");
    y += kRow;
    for (const Bar& b : g.bars) {
      out += text(kLabel - 6, y + 11, b.label, "end");
      if (!plottable(b.value)) {  // no bar: a speedup of 0, Inf or NaN has no place on the axis
        out += text(x_of(0) + 4, y + 11, "- (no finite speedup)", "start", "val");
        y += kRow;
        continue;
      }
      double x0 = x_of(0), x1 = x_of(std::log10(b.value));
      out += "<rect x=\"" + f(std::min(x0, x1)) + "\" y=\"" + f(y + 2) + "\" width=\"" +
             f(std::max(1.0, std::abs(x1 - x0))) + "\" height=\"" + f(kRow - 5) + "\" fill=\"" +
             series_color(b.series) + "\"><title>" +
             esc(b.label + ": " + speedup_label(b.value) + " " + baseline) + "</title></rect>";
      out += text(std::max(x0, x1) + 4, y + 11, speedup_label(b.value), "start", "val");
      y += kRow;
    }
  }
  out += "<line class=\"one\" x1=\"" + f(x_of(0)) + "\" y1=\"" + f(kTop - 4) + "\" x2=\"" +
         f(x_of(0)) + "\" y2=\"" + f(height - 4) + "\"/>";
  out += "</svg>";
  return out;
}

std::string roofline(const Roofline& plot) {
  if (plot.points.empty()) return "";
  constexpr double kLeft = 58, kTop = 26, kPlotW = 460, kPlotH = 260, kBottom = 40;
  const double width = kLeft + kPlotW + 160, height = kTop + kPlotH + kBottom;
  std::vector<const RoofPoint*> shown;
  for (const RoofPoint& p : plot.points) {
    if (plottable(p.intensity) && plottable(p.gflops)) shown.push_back(&p);
  }
  const std::size_t left_out = plot.points.size() - shown.size();
  const double bw = plottable(plot.copy_gbps_best) ? plot.copy_gbps_best : 0;
  const double peak = plottable(plot.peak_gflops) ? plot.peak_gflops : 0;
  std::string out = "<svg class=\"chart roofline\" width=\"" + f(width) + "\" height=\"" +
                    f(height) + "\" viewBox=\"0 0 " + f(width) + " " + f(height) +
                    "\" role=\"img\"><title>" + esc("roofline: " + plot.title) + "</title>";
  out += "<rect class=\"frame\" x=\"" + f(kLeft) + "\" y=\"" + f(kTop) + "\" width=\"" + f(kPlotW) +
         "\" height=\"" + f(kPlotH) + "\"/>";
  out += text(kLeft + kPlotW / 2, height - 6, "arithmetic intensity (FLOP/byte)", "middle", "axis");
  out += "<text class=\"axis\" transform=\"translate(13," + f(kTop + kPlotH / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">GFLOP/s</text>";
  out += text(kLeft, 16, plot.title, "start", "group");
  if (shown.empty()) {  // no finite extent: the frame and a note, no axes
    out += text(kLeft + kPlotW / 2, kTop + kPlotH / 2, left_out_note(left_out, "point"), "middle",
                "note");
    return out + "</svg>";
  }
  if (left_out > 0)
    out += text(kLeft + 6, kTop + 14, left_out_note(left_out, "point"), "start", "note");

  // The extent in log10: the points, the ridge point and beyond, the SGEMM roof with room above.
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const RoofPoint* p : shown) {
    x_lo = std::min(x_lo, std::log10(p->intensity));
    x_hi = std::max(x_hi, std::log10(p->intensity));
    y_lo = std::min(y_lo, std::log10(p->gflops));
    y_hi = std::max(y_hi, std::log10(p->gflops));
  }
  if (bw > 0 && peak > 0) {
    x_hi = std::max(x_hi, std::log10(peak) - std::log10(bw) + std::log10(4.0));
    y_hi = std::max(y_hi, std::log10(peak));
  }
  const Decades xa(x_lo, x_hi), ya(y_lo, y_hi + std::log10(1.2));
  auto X = [&](double log_v) { return kLeft + xa.at(log_v) * kPlotW; };
  auto Y = [&](double log_v) { return kTop + kPlotH - ya.at(log_v) * kPlotH; };
  for (int e = xa.lo; e <= xa.hi; e += xa.step()) {
    out += "<line class=\"grid\" x1=\"" + f(X(e)) + "\" y1=\"" + f(kTop) + "\" x2=\"" + f(X(e)) +
           "\" y2=\"" + f(kTop + kPlotH) + "\"/>";
    out += text(X(e), kTop + kPlotH + 14, tick_label(e), "middle", "tick");
  }
  for (int e = ya.lo; e <= ya.hi; e += ya.step()) {
    out += "<line class=\"grid\" x1=\"" + f(kLeft) + "\" y1=\"" + f(Y(e)) + "\" x2=\"" +
           f(kLeft + kPlotW) + "\" y2=\"" + f(Y(e)) + "\"/>";
    out += text(kLeft - 5, Y(e) + 4, tick_label(e), "end", "tick");
  }
  // The roofs: min(intensity x copy bandwidth, SGEMM peak), sampled on the log axis.
  auto clamp_y = [&](double log_g) { return std::clamp(log_g, double(ya.lo), double(ya.hi)); };
  auto roof = [&](double gbps, const char* cls, const std::string& label) {
    if (!plottable(gbps)) return;
    std::string pts;
    for (int i = 0; i <= 64; ++i) {
      double log_ai = xa.lo + (xa.hi - xa.lo) * (i / 64.0);
      double log_g = std::log10(gbps) + log_ai;
      if (peak > 0) log_g = std::min(log_g, std::log10(peak));
      pts += f(X(log_ai)) + "," + f(Y(clamp_y(log_g))) + " ";
    }
    out += "<polyline class=\"" + std::string(cls) + "\" points=\"" + pts + "\"><title>" +
           esc(label) + "</title></polyline>";
  };
  roof(bw, "roof",
       "fastest copy " + number_label(bw) + " GB/s" +
           (peak > 0 ? ", SGEMM " + number_label(peak) + " GFLOP/s" : ""));
  const double worst = plot.copy_gbps_worst;
  if (bw > 0 && plottable(worst) && worst < bw * 0.9) {
    roof(worst, "roof2", "slowest copy " + number_label(worst) + " GB/s");
  }
  if (bw > 0) {
    double log_ai = xa.lo + std::log10(2.0);
    double log_g = clamp_y(std::log10(bw) + log_ai);
    out += text(X(log_ai) + 4, Y(log_g) - 6, number_label(bw, 3) + " GB/s", "start", "rooflabel");
  }
  if (peak > 0) {
    out += text(kLeft + kPlotW - 4, Y(clamp_y(std::log10(peak))) - 5,
                "SGEMM " + number_label(peak, 3) + " GFLOP/s", "end", "rooflabel");
  }
  for (const RoofPoint* p : shown) {
    out += "<circle cx=\"" + f(X(std::log10(p->intensity))) + "\" cy=\"" +
           f(Y(std::log10(p->gflops))) + "\" r=\"4\" fill=\"" + series_color(p->series) +
           "\"><title>" + esc(p->title) + "</title></circle>";
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
  std::vector<const TrendPoint*> shown;
  for (const TrendPoint& p : points) {
    if (std::isfinite(p.x) && plottable(p.seconds)) shown.push_back(&p);
  }
  std::string out = "<svg class=\"spark\" width=\"" + f(kW) + "\" height=\"" + f(kH) +
                    "\" viewBox=\"0 0 " + f(kW) + " " + f(kH) + "\" role=\"img\">";
  if (shown.empty()) {  // no finite extent: an empty line with a note
    return out + "<title>" + esc(left_out_note(points.size(), "time")) + "</title>" +
           text(kW / 2, kH / 2 + 4, "no finite times", "middle", "note") + "</svg>";
  }
  double lo = INFINITY, hi = 0;
  for (const TrendPoint* p : shown) {
    lo = std::min(lo, p->seconds);
    hi = std::max(hi, p->seconds);
  }
  // Times on a scale that starts at zero would flatten small changes; a 10% band at least.
  // Halves and differences keep every step finite up to the largest double.
  const double mid = lo / 2 + hi / 2;
  double span = std::max(hi - lo, mid * 0.1);
  if (!(span > 0)) span = 1;
  auto X = [&](double x) {
    if (!(std::isfinite(x_min) && std::isfinite(x_max) && x_max > x_min)) return kW / 2;
    double t = (x / 2 - x_min / 2) / (x_max / 2 - x_min / 2);
    return kPad + std::clamp(t, 0.0, 1.0) * (kW - 2 * kPad);
  };
  auto Y = [&](double s) { return kPad + (0.5 - (s - mid) / span / 1.15) * (kH - 2 * kPad); };
  if (shown.size() < points.size()) {
    out += "<title>" + esc(left_out_note(points.size() - shown.size(), "time")) + "</title>";
  }
  std::string pts;
  for (const TrendPoint* p : shown) pts += f(X(p->x)) + "," + f(Y(p->seconds)) + " ";
  out += "<polyline points=\"" + pts + "\"/>";
  for (std::size_t i = 0; i < shown.size(); ++i) {
    const TrendPoint& p = *shown[i];
    out += "<circle cx=\"" + f(X(p.x)) + "\" cy=\"" + f(Y(p.seconds)) + "\" r=\"" +
           (i + 1 == shown.size() ? "3" : "2") + "\"><title>" + esc(p.title) + "</title></circle>";
  }
  out += "</svg>";
  return out;
}

}  // namespace opbench::reports::charts
