// Line charts as PNG: a grid of small panels (title, legend, axes with 3-5 rounded tick labels, named
// series of (x, y) points where a NaN y breaks the line, dashed vertical markers). Deterministic pixels.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "png.hpp"
#include "raster.hpp"

namespace gcc {
namespace io {

struct CurveSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y) in drawing order; non-finite y: a gap
};
struct CurveMarker {
  double x = 0.0;
  std::string label;  // drawn at the top of the dashed line, e.g. "phase 2"
};
struct CurvePanel {
  std::string title, x_label;
  std::vector<CurveSeries> series;
  std::vector<CurveMarker> markers;
  double x_min = std::numeric_limits<double>::quiet_NaN();  // fixed x range when both are finite
  double x_max = std::numeric_limits<double>::quiet_NaN();  // (e.g. the same epochs in every panel)
  double y_min = std::numeric_limits<double>::quiet_NaN();  // fixed y range when both are finite
  double y_max = std::numeric_limits<double>::quiet_NaN();
};

// Ticks of an axis: `values` evenly spaced by a 1, 2 or 5 x 10^e step, at most max_ticks of them.
// extend: the range grows to the ticks around the data; else the ticks lie inside [lo, hi].
struct AxisTicks {
  double lo = 0.0, hi = 1.0, step = 1.0;
  std::vector<double> values;
  int decimals = 0;  // digits after the point in the labels
};

inline AxisTicks nice_ticks(double lo, double hi, bool extend, int max_ticks = 5) {
  GCC_CHECK(std::isfinite(lo) && std::isfinite(hi) && max_ticks >= 2, "nice_ticks: need a finite range and max_ticks >= 2; got [",
            lo, ", ", hi, "] and ", max_ticks);
  const double size = std::max(std::fabs(lo), std::fabs(hi));
  if (!(hi - lo > 1e-9 * size) || hi - lo < 1e-150) {  // one value (or a sliver): a range around it
    const double pad = size > 1e-150 ? size * 0.5 : 1.0;
    lo -= pad;
    hi += pad;
  }
  AxisTicks t;
  double mag = std::pow(10.0, std::floor(std::log10((hi - lo) / max_ticks)) - 1.0);
  for (int i = 0; i < 30; ++i) {
    const double s = mag * (i % 3 == 0 ? 1.0 : i % 3 == 1 ? 2.0 : 5.0);
    if (i % 3 == 2) mag *= 10.0;
    const double a = extend ? std::floor(lo / s + 1e-9) : std::ceil(lo / s - 1e-9);
    const double b = extend ? std::ceil(hi / s - 1e-9) : std::floor(hi / s + 1e-9);
    if (!(b - a + 1 <= max_ticks)) continue;
    t.step = s;
    t.lo = extend ? std::min(a * s, lo) : lo;
    t.hi = extend ? std::max(b * s, hi) : hi;
    for (double k = a; k <= b; k += 1.0) t.values.push_back(std::fabs(k) < 0.5 ? 0.0 : k * s);
    break;
  }
  t.decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(t.step) - 1e-9)));
  return t;
}

inline std::string tick_label(double v, const AxisTicks& t) {
  char buf[48];
  const double big = std::max(std::fabs(t.lo), std::fabs(t.hi));
  if (t.decimals > 5 || big >= 1e6) std::snprintf(buf, sizeof(buf), "%.3g", v);
  else std::snprintf(buf, sizeof(buf), "%.*f", t.decimals, v);
  return buf;
}

namespace plot_detail {
// tab10, the matplotlib default cycle.
inline Rgb series_colour(std::size_t i) {
  static const Rgb p[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},   {148, 103, 189},
                            {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return p[i % 10];
}
constexpr int kPanelW = 520, kPanelH = 330;
constexpr Rgb kGrid{228, 228, 228}, kAxis{60, 60, 60}, kMarker{150, 150, 150};

struct Frame {  // the plot area of a panel, in canvas pixels, and its data ranges
  int left = 0, top = 0, right = 0, bottom = 0;
  AxisTicks xt, yt;
  int px(double x) const {
    return left + static_cast<int>(std::lround((x - xt.lo) / (xt.hi - xt.lo) * (right - left)));
  }
  int py(double y) const {
    const double f = std::clamp((y - yt.lo) / (yt.hi - yt.lo), -0.02, 1.02);
    return bottom - static_cast<int>(std::lround(f * (bottom - top)));
  }
};

// Finite data ranges of the panel's points (x over all points, y over finite y); markers count in x.
inline void data_range(const CurvePanel& p, double* x0, double* x1, double* y0, double* y1) {
  const double inf = std::numeric_limits<double>::infinity();
  *x0 = *y0 = inf;
  *x1 = *y1 = -inf;
  for (const CurveSeries& s : p.series)
    for (const auto& pt : s.points) {
      if (!std::isfinite(pt.first)) continue;
      *x0 = std::min(*x0, pt.first);
      *x1 = std::max(*x1, pt.first);
      if (!std::isfinite(pt.second)) continue;
      *y0 = std::min(*y0, pt.second);
      *y1 = std::max(*y1, pt.second);
    }
  for (const CurveMarker& m : p.markers) {
    *x0 = std::min(*x0, m.x);
    *x1 = std::max(*x1, m.x);
  }
}

// The legend, left to right with wrapping from (x, y); returns the height used.
inline int draw_legend(Canvas& c, const CurvePanel& p, int x, int y, int max_w) {
  if (p.series.empty()) return 0;
  int cx = x, cy = y;
  for (std::size_t i = 0; i < p.series.size(); ++i) {
    const int w = 18 + text_width(p.series[i].name) + 14;
    if (cx > x && cx + w > x + max_w) {
      cx = x;
      cy += 12;
    }
    c.fill_rect(cx, cy + 2, 14, 3, series_colour(i));
    c.text(cx + 18, cy, p.series[i].name, kBlack);
    cx += w;
  }
  return cy - y + 12;
}

inline void draw_axes(Canvas& c, const Frame& f, const std::string& x_label) {
  for (double v : f.yt.values) {
    const int y = f.py(v);
    c.line(f.left, y, f.right, y, kGrid);
    c.line(f.left - 4, y, f.left, y, kAxis);
    const std::string s = tick_label(v, f.yt);
    c.text(f.left - 7 - text_width(s), y - 3, s, kAxis);
  }
  for (double v : f.xt.values) {
    const int x = f.px(v);
    c.line(x, f.top, x, f.bottom, kGrid);
    c.line(x, f.bottom, x, f.bottom + 4, kAxis);
    const std::string s = tick_label(v, f.xt);
    c.text(x - text_width(s) / 2, f.bottom + 8, s, kAxis);
  }
  c.rect(f.left, f.top, f.right - f.left + 1, f.bottom - f.top + 1, kAxis);
  c.text((f.left + f.right - text_width(x_label)) / 2, f.bottom + 20, x_label, kAxis);
}

// One series: lines between consecutive finite points, a gap at each non-finite y; small squares on
// the points when there are few of them, and always on an isolated point.
inline void draw_series(Canvas& c, const Frame& f, const CurveSeries& s, Rgb colour) {
  const bool dots = s.points.size() <= 40;
  std::vector<std::pair<int, int>> run;
  auto flush = [&] {
    c.polyline(run, colour, 2);
    if (dots || run.size() == 1)
      for (const auto& q : run) c.fill_rect(q.first - 2, q.second - 2, 5, 5, colour);
    run.clear();
  };
  for (const auto& pt : s.points) {
    if (!std::isfinite(pt.first) || !std::isfinite(pt.second)) flush();
    else run.emplace_back(f.px(pt.first), f.py(pt.second));
  }
  flush();
}

inline void draw_panel(Canvas& c, const CurvePanel& p, int ox, int oy) {
  c.text(ox + 14, oy + 10, fit_text(p.title, kPanelW - 28, 2), kBlack, 2);
  const int legend_h = draw_legend(c, p, ox + 14, oy + 34, kPanelW - 28);
  Frame f;
  f.left = ox + 62;
  f.right = ox + kPanelW - 18;
  f.top = oy + 40 + legend_h;
  f.bottom = oy + kPanelH - 40;
  double x0, x1, y0, y1;
  data_range(p, &x0, &x1, &y0, &y1);
  if (!(x1 >= x0)) {
    c.text(ox + kPanelW / 2 - text_width("no data") / 2, (f.top + f.bottom) / 2, "no data", kMarker);
    return;
  }
  const bool fixed_x = std::isfinite(p.x_min) && std::isfinite(p.x_max) && p.x_max > p.x_min;
  const bool fixed_y = std::isfinite(p.y_min) && std::isfinite(p.y_max) && p.y_max > p.y_min;
  f.xt = fixed_x ? nice_ticks(p.x_min, p.x_max, false) : nice_ticks(x0, x1, false);
  f.yt = fixed_y ? nice_ticks(p.y_min, p.y_max, false) : nice_ticks(y1 >= y0 ? y0 : 0.0, y1 >= y0 ? y1 : 1.0, true);
  draw_axes(c, f, p.x_label);
  for (const CurveMarker& m : p.markers) {
    const int x = f.px(m.x);
    c.line(x, f.top, x, f.bottom, kMarker, 1, 4);
    c.text(x + 4, f.top + 4, m.label, kMarker);
  }
  for (std::size_t i = 0; i < p.series.size(); ++i) draw_series(c, f, p.series[i], series_colour(i));
}
}  // namespace plot_detail

// The panels drawn row by row, `columns` to a row, each 520 x 330 pixels on white.
inline Canvas draw_curves(const std::vector<CurvePanel>& panels, int columns = 2) {
  GCC_CHECK(!panels.empty(), "draw_curves: no panels to draw; pass at least one CurvePanel");
  GCC_CHECK(columns >= 1, "draw_curves: columns must be >= 1, got ", columns);
  const int n = static_cast<int>(panels.size()), cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  Canvas c(cols * plot_detail::kPanelW, rows * plot_detail::kPanelH);
  for (int i = 0; i < n; ++i)
    plot_detail::draw_panel(c, panels[static_cast<std::size_t>(i)], (i % cols) * plot_detail::kPanelW,
                            (i / cols) * plot_detail::kPanelH);
  return c;
}

// draw_curves, written as an RGB PNG at `path` (atomically: temp + rename).
inline void write_curves_png(const std::string& path, const std::vector<CurvePanel>& panels, int columns = 2) {
  const Canvas c = draw_curves(panels, columns);
  write_png(path, c.rgb.data(), c.width, c.height, 3, "write_curves_png");
}

}  // namespace io
}  // namespace gcc
