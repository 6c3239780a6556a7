// Image file decoding to uint8 HWC with 1 or 3 channels: JPEG with libjpeg-turbo (data/jpeg_decode.hpp),
// PNG and BMP with stb_image; errors name the file and the decoder's reason. Hostile files: a declared
// size larger than the file's bytes can hold is refused before anything is allocated.
//
// stb_image is compiled once per program, not here: see gcc/io/stb.hpp (gcc::toolkit provides it).
#pragma once
#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../io/stb.hpp"
#include "jpeg_decode.hpp"

namespace gcc {

// One decoded image: height x width x channels uint8, row-major HWC.
struct DecodedImage {
  int height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

// True when the file name ends in .png, .jpg, .jpeg or .bmp (any case): the files the folder readers
// take, as torchvision's ImageFolder filters by extension.
inline bool is_image_file_name(const std::string& name) {
  const auto dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = name.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return ext == "png" || ext == "jpg" || ext == "jpeg" || ext == "bmp";
}

// Pixels [H*W*from] -> [H*W*to] for from, to in {1, 3}: grey replicated, or stb's luma rule.
inline std::vector<uint8_t> convert_channels(const std::vector<uint8_t>& px, int from, int to) {
  const std::size_t n = px.size() / static_cast<std::size_t>(from);
  std::vector<uint8_t> out(n * static_cast<std::size_t>(to));
  for (std::size_t i = 0; i < n; ++i) {
    if (to == 3) {
      out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = px[i];
    } else {
      const unsigned r = px[3 * i], g = px[3 * i + 1], b = px[3 * i + 2];
      out[i] = static_cast<uint8_t>((r * 77 + g * 150 + b * 29) >> 8);
    }
  }
  return out;
}

// Most pixels a PNG or BMP of `bytes` bytes can hold: deflate expands at most 1032:1, a 1-bit BMP
// holds 8 pixels per byte (a grey+alpha PNG pixel takes 2 bytes; the bound is generous).
inline uint64_t max_stb_pixels(std::size_t bytes) { return 1100u * static_cast<uint64_t>(bytes) + 4096u; }

// Checks a PNG's chunk structure before stb_image sees it: every chunk must lie inside the file and no
// IDAT chunk may be empty (stb 2.27 reallocates to a chunk's declared length before reading it, and
// memcpy's from a null buffer for an empty one). Returns the problem, or "" when the file is sound.
inline std::string png_chunk_problem(const uint8_t* bytes, std::size_t size) {
  std::size_t pos = 8;  // after the signature
  while (size - pos >= 12) {
    const uint32_t len = static_cast<uint32_t>(bytes[pos]) << 24 | static_cast<uint32_t>(bytes[pos + 1]) << 16 |
                         static_cast<uint32_t>(bytes[pos + 2]) << 8 | bytes[pos + 3];
    const std::string type(reinterpret_cast<const char*>(bytes) + pos + 4, 4);
    if (len > size - pos - 12)
      return "its " + type + " chunk declares " + std::to_string(len) + " bytes, more than the file holds (truncated?)";
    if (type == "IDAT" && len == 0) return "it holds an empty IDAT chunk";
    if (type == "IEND") return "";
    pos += 12 + len;
  }
  return "it ends before its IEND chunk (truncated?)";
}
inline bool looks_like_png(const uint8_t* bytes, std::size_t size) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  return size >= 8 && std::equal(sig, sig + 8, bytes);
}

// Decodes a PNG/JPEG/BMP held in memory; `what` names the source in errors. channels: 1 (grey, via
// stb's luma rule (77 R + 150 G + 29 B) / 256 for every format) or 3 (grey replicated to RGB, alpha
// dropped).
inline DecodedImage decode_image_memory(const uint8_t* bytes, std::size_t size, int channels, const std::string& what) {
  GCC_CHECK(channels == 1 || channels == 3, "decode_image: channels must be 1 or 3, got ", channels);
  GCC_CHECK(size > 0 && size < (std::size_t(1) << 31), "decode_image: '", what, "' is ", size,
            " bytes; expected a PNG, JPEG or BMP file (remove or replace it)");
  const char* fix = "; expected a valid PNG, JPEG or BMP file: the file is corrupt or of another format, remove or replace it";
  DecodedImage img;
  img.channels = channels;
  if (looks_like_jpeg(bytes, size)) {
    int stored = 0;
    const std::string why = decode_jpeg(bytes, size, img.width, img.height, stored, img.pixels);
    if (!why.empty()) GCC_FAIL("decode_image: cannot decode '", what, "' (libjpeg: ", why, ")", fix);
    if (stored != channels) img.pixels = convert_channels(img.pixels, stored, channels);
    return img;
  }
  if (looks_like_png(bytes, size)) {
    const std::string why = png_chunk_problem(bytes, size);
    if (!why.empty()) GCC_FAIL("decode_image: cannot decode '", what, "': ", why, fix);
  }
  int w = 0, h = 0, c = 0;
  if (stbi_info_from_memory(bytes, static_cast<int>(size), &w, &h, &c) &&
      static_cast<uint64_t>(w) * static_cast<uint64_t>(h) > max_stb_pixels(size))
    GCC_FAIL("decode_image: '", what, "' declares ", w, "x", h, " pixels, more than its ", size, " bytes can hold", fix);
  unsigned char* p = stbi_load_from_memory(bytes, static_cast<int>(size), &w, &h, &c, channels);
  if (!p) {
    const char* why = stbi_failure_reason();
    GCC_FAIL("decode_image: cannot decode '", what, "' (stb_image: ", (why ? why : "unknown error"), ")", fix);
  }
  img.height = h;
  img.width = w;
  img.pixels.assign(p, p + static_cast<std::size_t>(w) * h * channels);
  stbi_image_free(p);
  return img;
}

// Decodes the image file at `path` (see decode_image_memory).
inline DecodedImage decode_image_file(const std::string& path, int channels) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  GCC_CHECK(f != nullptr, "decode_image: cannot open '", path, "' for reading");
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  std::size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + got);
  const bool err = std::ferror(f) != 0;
  std::fclose(f);
  GCC_CHECK(!err, "decode_image: error reading '", path, "'");
  return decode_image_memory(bytes.data(), bytes.size(), channels, path);
}

// The size and stored channel count (1 grey, 2 grey+alpha, 3 colour, 4 RGBA) from an image file's
// header, without decoding it; false when the header is not a readable PNG, JPEG or BMP one.
inline bool read_image_header(const std::string& path, int& width, int& height, int& stored_channels) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  uint8_t magic[3] = {0, 0, 0};
  const std::size_t got = std::fread(magic, 1, 3, f);
  std::fclose(f);
  if (looks_like_jpeg(magic, got)) return read_jpeg_header(path, width, height, stored_channels);
  return stbi_info(path.c_str(), &width, &height, &stored_channels) != 0 && width > 0 && height > 0;
}

}  // namespace gcc
