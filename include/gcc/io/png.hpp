// PNG files with stb_image_write (compiled once per program, see gcc/io/stb.hpp): pixels to PNG bytes,
// written atomically (temp + rename), and the confusion matrix's heat-map (gcc/eval/confusion.hpp) as PNG.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../eval/confusion.hpp"
#include "atomic_file.hpp"
#include "stb.hpp"

namespace gcc {
namespace io {

namespace png_detail {
inline void append_bytes(void* ctx, void* data, int size) {
  auto* out = static_cast<std::vector<unsigned char>*>(ctx);
  const unsigned char* p = static_cast<const unsigned char*>(data);
  out->insert(out->end(), p, p + size);
}
}  // namespace png_detail

// PNG bytes of a width x height image, rows packed, `channels` bytes a pixel (1 grey, 2 grey + alpha,
// 3 RGB, 4 RGBA); `op` names the caller in errors.
inline std::vector<unsigned char> encode_png(const unsigned char* pixels, int width, int height, int channels,
                                             const char* op = "encode_png") {
  GCC_CHECK(channels >= 1 && channels <= 4, op, ": channels must be 1..4, got ", channels);
  GCC_CHECK(width >= 1 && height >= 1 && static_cast<int64_t>(width) * channels <= (int64_t(1) << 30),
            op, ": cannot encode a ", width, " x ", height, " image");
  std::vector<unsigned char> png;
  const int ok = stbi_write_png_to_func(&png_detail::append_bytes, &png, width, height, channels, pixels,
                                        width * channels);
  GCC_CHECK(ok != 0 && !png.empty(), op, ": PNG encoding of a ", width, " x ", height, " image failed");
  return png;
}

// encode_png, then the file at `path` replaced atomically; errors name `op` and the path.
inline void write_png(const std::string& path, const unsigned char* pixels, int width, int height, int channels,
                      const char* op = "write_png") {
  const std::vector<unsigned char> png = encode_png(pixels, width, height, channels, op);
  write_file_atomically(path, png.data(), png.size(), op);
}

}  // namespace io

// The confusion matrix's heat-map as PNG bytes (rows: true classes top to bottom, columns: predicted
// classes left to right, then "unmapped" if present; no text).
inline std::vector<unsigned char> confusion_png(const ConfusionMatrix& cm, int cell_px = 16) {
  int w = 0, h = 0;
  const std::vector<unsigned char> px = confusion_heatmap_rgb(cm, cell_px, &w, &h);
  return io::encode_png(px.data(), w, h, 3, "confusion_png");
}

inline void write_confusion_png(const std::string& path, const ConfusionMatrix& cm, int cell_px = 16) {
  const std::vector<unsigned char> png = confusion_png(cm, cell_px);
  io::write_file_atomically(path, png.data(), png.size(), "write_confusion_png");
}

}  // namespace gcc
