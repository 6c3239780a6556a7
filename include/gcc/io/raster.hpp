// A tiny RGB canvas for the toolkit's pictures (training curves, cluster galleries): rectangles, clipped
// lines, nearest-neighbour image blits and text in a built-in 5x7 bitmap font (printable ASCII 32..126).
// Writing the pixels is gcc/io/png.hpp's job: write_png(path, c.rgb.data(), c.width, c.height, 3).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"

namespace gcc {
namespace io {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};
inline constexpr Rgb kWhite{255, 255, 255};
inline constexpr Rgb kBlack{0, 0, 0};

namespace raster_detail {
// 5x7 glyphs of ASCII 32..126 in a 5x8 cell, one byte per column (left to right), bit 0 = top row;
// row 6 is the baseline, row 7 holds the descenders of g, j, p, q, y.
inline constexpr uint8_t kFont5x7[95][5] = {
    {0x00, 0x00, 0x00, 0x00, 0x00}, {0x00, 0x00, 0x5F, 0x00, 0x00}, {0x00, 0x07, 0x00, 0x07, 0x00},  //  !"
    {0x14, 0x7F, 0x14, 0x7F, 0x14}, {0x24, 0x2A, 0x7F, 0x2A, 0x12}, {0x23, 0x13, 0x08, 0x64, 0x62},  // #$%
    {0x36, 0x49, 0x55, 0x22, 0x50}, {0x00, 0x05, 0x03, 0x00, 0x00}, {0x00, 0x1C, 0x22, 0x41, 0x00},  // &'(
    {0x00, 0x41, 0x22, 0x1C, 0x00}, {0x14, 0x08, 0x3E, 0x08, 0x14}, {0x08, 0x08, 0x3E, 0x08, 0x08},  // )*+
    {0x00, 0x50, 0x30, 0x00, 0x00}, {0x08, 0x08, 0x08, 0x08, 0x08}, {0x00, 0x60, 0x60, 0x00, 0x00},  // ,-.
    {0x20, 0x10, 0x08, 0x04, 0x02}, {0x3E, 0x51, 0x49, 0x45, 0x3E}, {0x00, 0x42, 0x7F, 0x40, 0x00},  // /01
    {0x42, 0x61, 0x51, 0x49, 0x46}, {0x21, 0x41, 0x45, 0x4B, 0x31}, {0x18, 0x14, 0x12, 0x7F, 0x10},  // 234
    {0x27, 0x45, 0x45, 0x45, 0x39}, {0x3C, 0x4A, 0x49, 0x49, 0x30}, {0x01, 0x71, 0x09, 0x05, 0x03},  // 567
    {0x36, 0x49, 0x49, 0x49, 0x36}, {0x06, 0x49, 0x49, 0x29, 0x1E}, {0x00, 0x36, 0x36, 0x00, 0x00},  // 89:
    {0x00, 0x56, 0x36, 0x00, 0x00}, {0x08, 0x14, 0x22, 0x41, 0x00}, {0x14, 0x14, 0x14, 0x14, 0x14},  // ;<=
    {0x00, 0x41, 0x22, 0x14, 0x08}, {0x02, 0x01, 0x51, 0x09, 0x06}, {0x32, 0x49, 0x79, 0x41, 0x3E},  // >?@
    {0x7E, 0x11, 0x11, 0x11, 0x7E}, {0x7F, 0x49, 0x49, 0x49, 0x36}, {0x3E, 0x41, 0x41, 0x41, 0x22},  // ABC
    {0x7F, 0x41, 0x41, 0x22, 0x1C}, {0x7F, 0x49, 0x49, 0x49, 0x41}, {0x7F, 0x09, 0x09, 0x09, 0x01},  // DEF
    {0x3E, 0x41, 0x49, 0x49, 0x7A}, {0x7F, 0x08, 0x08, 0x08, 0x7F}, {0x00, 0x41, 0x7F, 0x41, 0x00},  // GHI
    {0x20, 0x40, 0x41, 0x3F, 0x01}, {0x7F, 0x08, 0x14, 0x22, 0x41}, {0x7F, 0x40, 0x40, 0x40, 0x40},  // JKL
    {0x7F, 0x02, 0x0C, 0x02, 0x7F}, {0x7F, 0x04, 0x08, 0x10, 0x7F}, {0x3E, 0x41, 0x41, 0x41, 0x3E},  // MNO
    {0x7F, 0x09, 0x09, 0x09, 0x06}, {0x3E, 0x41, 0x51, 0x21, 0x5E}, {0x7F, 0x09, 0x19, 0x29, 0x46},  // PQR
    {0x46, 0x49, 0x49, 0x49, 0x31}, {0x01, 0x01, 0x7F, 0x01, 0x01}, {0x3F, 0x40, 0x40, 0x40, 0x3F},  // STU
    {0x1F, 0x20, 0x40, 0x20, 0x1F}, {0x3F, 0x40, 0x38, 0x40, 0x3F}, {0x63, 0x14, 0x08, 0x14, 0x63},  // VWX
    {0x07, 0x08, 0x70, 0x08, 0x07}, {0x61, 0x51, 0x49, 0x45, 0x43}, {0x00, 0x7F, 0x41, 0x41, 0x00},  // YZ[
    {0x02, 0x04, 0x08, 0x10, 0x20}, {0x00, 0x41, 0x41, 0x7F, 0x00}, {0x04, 0x02, 0x01, 0x02, 0x04},  // \]^
    {0x40, 0x40, 0x40, 0x40, 0x40}, {0x00, 0x01, 0x02, 0x04, 0x00}, {0x20, 0x54, 0x54, 0x54, 0x78},  // _`a
    {0x7F, 0x48, 0x44, 0x44, 0x38}, {0x38, 0x44, 0x44, 0x44, 0x20}, {0x38, 0x44, 0x44, 0x48, 0x7F},  // bcd
    {0x38, 0x54, 0x54, 0x54, 0x18}, {0x08, 0x7E, 0x09, 0x01, 0x02}, {0x18, 0xA4, 0xA4, 0xA4, 0x7C},  // efg
    {0x7F, 0x08, 0x04, 0x04, 0x78}, {0x00, 0x44, 0x7D, 0x40, 0x00}, {0x40, 0x80, 0x84, 0x7D, 0x00},  // hij
    {0x7F, 0x10, 0x28, 0x44, 0x00}, {0x00, 0x41, 0x7F, 0x40, 0x00}, {0x7C, 0x04, 0x18, 0x04, 0x78},  // klm
    {0x7C, 0x08, 0x04, 0x04, 0x78}, {0x38, 0x44, 0x44, 0x44, 0x38}, {0xFC, 0x24, 0x24, 0x24, 0x18},  // nop
    {0x18, 0x24, 0x24, 0x24, 0xFC}, {0x7C, 0x08, 0x04, 0x04, 0x08}, {0x48, 0x54, 0x54, 0x54, 0x20},  // qrs
    {0x04, 0x3F, 0x44, 0x40, 0x20}, {0x3C, 0x40, 0x40, 0x20, 0x7C}, {0x1C, 0x20, 0x40, 0x20, 0x1C},  // tuv
    {0x3C, 0x40, 0x30, 0x40, 0x3C}, {0x44, 0x28, 0x10, 0x28, 0x44}, {0x1C, 0xA0, 0xA0, 0xA0, 0x7C},  // wxy
    {0x44, 0x64, 0x54, 0x4C, 0x44}, {0x00, 0x08, 0x36, 0x41, 0x00}, {0x00, 0x00, 0x7F, 0x00, 0x00},  // z{|
    {0x00, 0x41, 0x36, 0x08, 0x00}, {0x08, 0x04, 0x08, 0x10, 0x08}};                                 // }~

// The glyph of byte c; bytes outside 32..126 (control characters, UTF-8 sequences) draw as '?'.
inline const uint8_t* glyph(char c) {
  const int u = static_cast<unsigned char>(c);
  return kFont5x7[(u >= 32 && u <= 126) ? u - 32 : '?' - 32];
}

// Clips the segment to [lo, hi] on both axes (Liang-Barsky); false when nothing of it is inside.
inline bool clip_segment(double& x0, double& y0, double& x1, double& y1, double xlo, double xhi, double ylo,
                         double yhi) {
  double t0 = 0.0, t1 = 1.0;
  const double dx = x1 - x0, dy = y1 - y0;
  const double p[4] = {-dx, dx, -dy, dy}, q[4] = {x0 - xlo, xhi - x0, y0 - ylo, yhi - y0};
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0.0) {
      if (q[i] < 0.0) return false;
      continue;
    }
    const double t = q[i] / p[i];
    if (p[i] < 0.0) t0 = std::max(t0, t);
    else t1 = std::min(t1, t);
    if (t0 > t1) return false;
  }
  const double ax = x0 + t0 * dx, ay = y0 + t0 * dy;
  x1 = x0 + t1 * dx;
  y1 = y0 + t1 * dy;
  x0 = ax;
  y0 = ay;
  return true;
}
}  // namespace raster_detail

// Text metrics of the 5x7 font at an integer scale: each character advances 6 * scale pixels (5 of
// glyph, 1 of gap); a line of text is 8 * scale pixels tall (7 above the baseline, 1 of descenders).
inline int text_width(const std::string& s, int scale = 1) {
  return s.empty() ? 0 : (static_cast<int>(s.size()) * 6 - 1) * scale;
}
inline int text_height(int scale = 1) { return 8 * scale; }

// `s` cut (ending in "...") so that text_width(result, scale) <= max_px.
inline std::string fit_text(const std::string& s, int max_px, int scale = 1) {
  if (text_width(s, scale) <= max_px) return s;
  const int chars = std::max(0, (max_px / scale + 1) / 6 - 3);
  return s.substr(0, static_cast<std::size_t>(chars)) + "...";
}

// Usage:  gcc::io::Canvas c(320, 200);  c.line(0, 0, 319, 199, {200, 0, 0}, 2);  c.text(4, 4, "hi", kBlack, 2);
// Every drawing call clips to the canvas: coordinates outside it are fine.
struct Canvas {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // [height, width, 3] row-major

  Canvas() = default;
  Canvas(int w, int h, Rgb background = kWhite) : width(w), height(h) {
    GCC_CHECK(w >= 1 && h >= 1 && static_cast<int64_t>(w) * h <= (int64_t(1) << 26), "Canvas: cannot make a ", w,
              " x ", h, " canvas; each side must be >= 1 and the area at most 2^26 pixels (draw a smaller picture)");
    rgb.resize(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3);
    fill(background);
  }

  bool inside(int x, int y) const { return x >= 0 && y >= 0 && x < width && y < height; }
  Rgb at(int x, int y) const {
    GCC_CHECK(inside(x, y), "Canvas::at: pixel (", x, ", ", y, ") is outside the ", width, " x ", height, " canvas");
    const uint8_t* p = &rgb[offset(x, y)];
    return Rgb{p[0], p[1], p[2]};
  }
  void set(int x, int y, Rgb c) {
    if (!inside(x, y)) return;
    uint8_t* p = &rgb[offset(x, y)];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
  void fill(Rgb c) { fill_rect(0, 0, width, height, c); }
  // The w x h rectangle with top-left corner (x, y), clipped.
  void fill_rect(int x, int y, int w, int h, Rgb c) {
    const int x0 = std::max(x, 0), y0 = std::max(y, 0);
    const int x1 = static_cast<int>(std::min<int64_t>(int64_t(x) + w, width));
    const int y1 = static_cast<int>(std::min<int64_t>(int64_t(y) + h, height));
    for (int yy = y0; yy < y1; ++yy)
      for (int xx = x0; xx < x1; ++xx) set(xx, yy, c);
  }
  // The 1-pixel outline of the w x h rectangle at (x, y).
  void rect(int x, int y, int w, int h, Rgb c) {
    fill_rect(x, y, w, 1, c);
    fill_rect(x, y + h - 1, w, 1, c);
    fill_rect(x, y, 1, h, c);
    fill_rect(x + w - 1, y, 1, h, c);
  }
  // Bresenham from (x0, y0) to (x1, y1), both ends drawn; each pixel a thickness x thickness square.
  // dash > 0: dash pixels on, dash pixels off along the line.
  void line(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1, int dash = 0) {
    const int t = std::max(thickness, 1);
    double ax = x0, ay = y0, bx = x1, by = y1;
    if (!raster_detail::clip_segment(ax, ay, bx, by, -t, width - 1.0 + t, -t, height - 1.0 + t)) return;
    int x = static_cast<int>(std::lround(ax)), y = static_cast<int>(std::lround(ay));
    const int xe = static_cast<int>(std::lround(bx)), ye = static_cast<int>(std::lround(by));
    const int dx = std::abs(xe - x), dy = -std::abs(ye - y), sx = x < xe ? 1 : -1, sy = y < ye ? 1 : -1;
    int err = dx + dy;
    for (int step = 0;; ++step) {
      if (dash <= 0 || (step / dash) % 2 == 0) fill_rect(x - (t - 1) / 2, y - (t - 1) / 2, t, t, c);
      if (x == xe && y == ye) break;
      const int e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y += sy;
      }
    }
  }
  // Lines through the points in order (a single point draws one dot).
  void polyline(const std::vector<std::pair<int, int>>& pts, Rgb c, int thickness = 1) {
    if (pts.size() == 1) line(pts[0].first, pts[0].second, pts[0].first, pts[0].second, c, thickness);
    for (std::size_t i = 1; i < pts.size(); ++i)
      line(pts[i - 1].first, pts[i - 1].second, pts[i].first, pts[i].second, c, thickness);
  }
  // A uint8 image [h, w, channels] (1 grey or 3 RGB, rows packed) drawn with its top-left at (x, y),
  // nearest-neighbour resized by up / down (integers >= 1): 28x28 with up 2 covers 56x56 pixels.
  void blit(const uint8_t* img, int h, int w, int channels, int x, int y, int up = 1, int down = 1) {
    GCC_CHECK(img != nullptr && h >= 1 && w >= 1 && (channels == 1 || channels == 3) && up >= 1 && down >= 1,
              "Canvas::blit: need a non-null image of at least 1x1 with 1 or 3 channels and scale factors >= 1; got ",
              h, "x", w, "x", channels, " up ", up, " down ", down);
    const int oh = static_cast<int>(int64_t(h) * up / down), ow = static_cast<int>(int64_t(w) * up / down);
    for (int i = std::max(0, -y); i < oh && y + i < height; ++i) {
      const uint8_t* row = img + static_cast<std::size_t>(int64_t(i) * down / up) * w * channels;
      for (int j = std::max(0, -x); j < ow && x + j < width; ++j) {
        const uint8_t* p = row + static_cast<std::size_t>(int64_t(j) * down / up) * channels;
        set(x + j, y + i, channels == 1 ? Rgb{p[0], p[0], p[0]} : Rgb{p[0], p[1], p[2]});
      }
    }
  }
  // Text with its top-left at (x, y), each font pixel a scale x scale square; one line ('\n' is drawn
  // as '?', as any byte outside printable ASCII).
  void text(int x, int y, const std::string& s, Rgb c, int scale = 1) {
    const int k = std::max(scale, 1);
    for (std::size_t i = 0; i < s.size(); ++i) {
      const uint8_t* g = raster_detail::glyph(s[i]);
      const int gx = x + static_cast<int>(i) * 6 * k;
      if (gx >= width) break;
      for (int col = 0; col < 5; ++col)
        for (int row = 0; row < 8; ++row)
          if ((g[col] >> row) & 1) fill_rect(gx + col * k, y + row * k, k, k, c);
    }
  }

 private:
  std::size_t offset(int x, int y) const {
    return (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) * 3;
  }
};

}  // namespace io
}  // namespace gcc
