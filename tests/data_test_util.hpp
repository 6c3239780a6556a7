// Helpers for the data tests: a self-deleting temporary folder, file writers (raw bytes, gzip, PNG and
// JPEG via stb_image_write) and the message of an expected gcc::Error.
#pragma once
#include <doctest/doctest.h>
#include <stdlib.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "gcc/core/error.hpp"
#include "gcc/io/stb.hpp"  // stb_image_write, compiled once in gcc::toolkit

namespace gcc_test {

// A fresh folder under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gcc_data_test_XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    REQUIRE(p != nullptr);
    path = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& rel) const { return path + "/" + rel; }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

inline void make_dirs(const std::string& p) { std::filesystem::create_directories(p); }

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) make_dirs(parent.string());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  REQUIRE(f.good());
}

inline void write_text(const std::string& path, const std::string& s) {
  write_bytes(path, std::vector<uint8_t>(s.begin(), s.end()));
}

inline void write_gz(const std::string& path, const std::vector<uint8_t>& b) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) make_dirs(parent.string());
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, b.data(), static_cast<unsigned>(b.size())) == static_cast<int>(b.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Encoded with stb_image_write's *_to_func API.
inline void append_bytes(void* ctx, void* data, int size) {
  auto* v = static_cast<std::vector<uint8_t>*>(ctx);
  v->insert(v->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}
// img [h, w, c] uint8 HWC
inline void write_png(const std::string& path, int h, int w, int c, const std::vector<uint8_t>& img) {
  std::vector<uint8_t> enc;
  REQUIRE(stbi_write_png_to_func(append_bytes, &enc, w, h, c, img.data(), w * c) != 0);
  write_bytes(path, enc);
}
inline void write_jpg(const std::string& path, int h, int w, int c, const std::vector<uint8_t>& img) {
  std::vector<uint8_t> enc;
  REQUIRE(stbi_write_jpg_to_func(append_bytes, &enc, w, h, c, img.data(), 95) != 0);
  write_bytes(path, enc);
}
inline void write_bmp(const std::string& path, int h, int w, int c, const std::vector<uint8_t>& img) {
  std::vector<uint8_t> enc;
  REQUIRE(stbi_write_bmp_to_func(append_bytes, &enc, w, h, c, img.data()) != 0);
  write_bytes(path, enc);
}

// The message of the gcc::Error that f throws ("" and a failed check when it throws none).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const gcc::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL_CHECK("expected gcc::Error, got another exception: " << e.what());
    return e.what();
  }
  FAIL_CHECK("expected a gcc::Error, nothing was thrown");
  return "";
}

inline bool has(const std::string& msg, const std::string& part) { return msg.find(part) != std::string::npos; }

}  // namespace gcc_test
