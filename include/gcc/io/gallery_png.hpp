// A cluster gallery as PNG: one row per cluster, a label at the left ("cluster 3  n=812" and a caption
// such as "mostly 'Sneaker' 71%"), then the cluster's images given (most confident first) in cells of
// one size (integer nearest-neighbour scaling). Independent of the data layer: images come by accessor.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "png.hpp"
#include "raster.hpp"

namespace gcc {
namespace io {

struct GalleryRow {
  int cluster = 0;
  int64_t size = 0;               // members of the cluster (may exceed images.size())
  std::vector<int64_t> images;    // indices for GalleryInput::image, most confident first
  std::string caption_extra;      // lines under the "cluster k  n=..." line ('\n' separates lines)
};

struct GalleryInput {
  std::function<const uint8_t*(int64_t i)> image;  // image i: [height, width, channels] uint8, rows packed
  int height = 0, width = 0, channels = 0;         // channels 1 (grey) or 3 (RGB)
  std::vector<GalleryRow> rows;                    // drawn top to bottom in this order
  std::string header;                              // lines at the top ('\n' separates them; may be empty)
  int per_row = 10;                                // images drawn per row at most
  int min_cell = 48;   // smaller images are scaled up by an integer factor to at least this (28 -> 56)
  int max_cell = 128;  // bigger ones are scaled down by an integer factor to at most this
};

namespace gallery_detail {
constexpr int kMargin = 10, kLabelW = 300, kGap = 2, kRowGap = 8, kLine = 18;
constexpr Rgb kGrey{130, 130, 130}, kRule{215, 215, 215};

// Integer up / down factors that bring max(h, w) to within [min_cell, max_cell] where possible.
inline void cell_scale(const GalleryInput& in, int* up, int* down) {
  const int side = std::max(in.height, in.width);
  *up = std::max(1, (in.min_cell + side - 1) / side);
  *down = *up == 1 ? std::max(1, (side + in.max_cell - 1) / in.max_cell) : 1;
}

// The lines of `text` ('\n' separated) appended to `lines`.
inline std::vector<std::string> split_lines(const std::string& text, std::vector<std::string> lines = {}) {
  std::size_t b = 0;
  while (b < text.size()) {
    std::size_t e = text.find('\n', b);
    if (e == std::string::npos) e = text.size();
    lines.push_back(text.substr(b, e - b));
    b = e + 1;
  }
  return lines;
}
inline std::vector<std::string> label_lines(const GalleryRow& r) {
  return split_lines(r.caption_extra, {"cluster " + std::to_string(r.cluster) + "  n=" + std::to_string(r.size)});
}

inline void check_input(const GalleryInput& in) {
  GCC_CHECK(static_cast<bool>(in.image), "write_cluster_gallery_png: no image accessor given (GalleryInput::image)");
  GCC_CHECK(in.height >= 1 && in.width >= 1 && (in.channels == 1 || in.channels == 3),
            "write_cluster_gallery_png: images must be at least 1x1 with 1 or 3 channels; got ", in.height, "x",
            in.width, "x", in.channels);
  GCC_CHECK(in.per_row >= 1 && in.min_cell >= 1 && in.max_cell >= 1, "write_cluster_gallery_png: per_row, min_cell "
            "and max_cell must be >= 1; got ", in.per_row, ", ", in.min_cell, ", ", in.max_cell);
}

// One row with its top-left at (x, y), row_h tall.
inline void draw_row(Canvas& c, const GalleryInput& in, const GalleryRow& r, int x, int y, int row_h, int up,
                     int down) {
  const std::vector<std::string> lines = label_lines(r);
  for (std::size_t i = 0; i < lines.size(); ++i)
    c.text(x, y + static_cast<int>(i) * kLine, fit_text(lines[i], kLabelW - 12, 2), i == 0 ? kBlack : kGrey, 2);
  const int cw = static_cast<int>(int64_t(in.width) * up / down), ch = static_cast<int>(int64_t(in.height) * up / down);
  const int n = static_cast<int>(std::min<std::size_t>(r.images.size(), static_cast<std::size_t>(in.per_row)));
  if (n == 0) c.text(x + kLabelW, y + (row_h - text_height(2)) / 2, "(empty)", kGrey, 2);
  for (int j = 0; j < n; ++j) {
    const int64_t idx = r.images[static_cast<std::size_t>(j)];
    const uint8_t* px = in.image(idx);
    GCC_CHECK(px != nullptr, "write_cluster_gallery_png: the accessor gave no pixels for image ", idx, " (cluster ",
              r.cluster, ")");
    c.blit(px, in.height, in.width, in.channels, x + kLabelW + j * (cw + kGap), y + (row_h - ch) / 2, up, down);
  }
}
}  // namespace gallery_detail

// The gallery's pixels: header line, then one row per GalleryRow separated by thin rules.
inline Canvas draw_cluster_gallery(const GalleryInput& in) {
  using namespace gallery_detail;
  check_input(in);
  int up = 1, down = 1;
  cell_scale(in, &up, &down);
  const int cw = static_cast<int>(int64_t(in.width) * up / down), ch = static_cast<int>(int64_t(in.height) * up / down);
  std::vector<int> heights;  // [rows]
  for (const GalleryRow& r : in.rows)
    heights.push_back(std::max(ch, static_cast<int>(label_lines(r).size()) * kLine));
  const int width = 2 * kMargin + kLabelW + in.per_row * (cw + kGap);
  const std::vector<std::string> header = split_lines(in.header);
  const int header_h = header.empty() ? 0 : static_cast<int>(header.size()) * kLine + kRowGap;
  int64_t height = 2 * kMargin + header_h;
  for (int h : heights) height += h + kRowGap;
  if (in.rows.empty()) height += kLine;
  GCC_CHECK(height <= (int64_t(1) << 24), "write_cluster_gallery_png: ", in.rows.size(), " rows make a picture ",
            height, " pixels tall; show fewer rows");
  Canvas c(width, static_cast<int>(height));
  for (std::size_t i = 0; i < header.size(); ++i)
    c.text(kMargin, kMargin + static_cast<int>(i) * kLine, fit_text(header[i], width - 2 * kMargin, 2), kBlack, 2);
  if (in.rows.empty()) c.text(kMargin, kMargin + header_h, "(no clusters)", kGrey, 2);
  int y = kMargin + header_h;
  for (std::size_t i = 0; i < in.rows.size(); ++i) {
    if (i > 0) c.fill_rect(kMargin, y - kRowGap / 2, width - 2 * kMargin, 1, kRule);
    draw_row(c, in, in.rows[i], kMargin, y, heights[i], up, down);
    y += heights[i] + kRowGap;
  }
  return c;
}

// draw_cluster_gallery, written as an RGB PNG at `path` (atomically: temp + rename).
inline void write_cluster_gallery_png(const std::string& path, const GalleryInput& in) {
  Canvas c;
  try {
    c = draw_cluster_gallery(in);
  } catch (const Error& e) {
    GCC_FAIL(e.what(), "; nothing written to '", path, "'");
  }
  write_png(path, c.rgb.data(), c.width, c.height, 3, "write_cluster_gallery_png");
}

}  // namespace io
}  // namespace gcc
