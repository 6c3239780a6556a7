// Image file decoding (PNG, JPEG, BMP) with stb_image, to uint8 HWC with 1 or 3 channels; errors name
// the file and stb's reason.
//
// stb_image is compiled once per program, not here: see gcc/io/stb.hpp (gcc::toolkit provides it).
#pragma once
#include <cstdio>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../io/stb.hpp"

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

// Decodes a PNG/JPEG/BMP held in memory; `what` names the source in errors. channels: 1 (grey, via
// stb's luma rule) or 3 (grey images replicated to RGB, alpha dropped).
inline DecodedImage decode_image_memory(const uint8_t* bytes, std::size_t size, int channels, const std::string& what) {
  GCC_CHECK(channels == 1 || channels == 3, "decode_image: channels must be 1 or 3, got ", channels);
  GCC_CHECK(size > 0 && size < (std::size_t(1) << 31), "decode_image: '", what, "' is ", size,
            " bytes; expected a PNG, JPEG or BMP file (remove or replace it)");
  int w = 0, h = 0, c = 0;
  unsigned char* p = stbi_load_from_memory(bytes, static_cast<int>(size), &w, &h, &c, channels);
  if (!p) {
    const char* why = stbi_failure_reason();
    GCC_FAIL("decode_image: cannot decode '", what, "' (stb_image: ", (why ? why : "unknown error"),
             "); expected a valid PNG, JPEG or BMP file: the file is corrupt or of another format, remove or "
             "replace it");
  }
  DecodedImage img;
  img.height = h;
  img.width = w;
  img.channels = channels;
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

}  // namespace gcc
