// JPEG decoding with libjpeg-turbo (Debian libjpeg62-turbo-dev), the decoder PIL uses (same IDCT and
// upsampling, so pixels equal torchvision's), continuously fuzzed upstream. It replaces stb_image's
// JPEG decoder, which reads and writes out of bounds on malformed Huffman tables (stb 2.27, Debian 12).
// Bounds on hostile files: the declared size is capped by the file's size before any allocation, a
// truncated file is an error (not a grey fill), and progressive files may hold at most 1000 scans.
#pragma once
#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <jerror.h>
#include <jpeglib.h>

namespace gcc {
namespace jpeg_detail {

// libjpeg's error manager, extended with where to jump and the message.
struct ErrorJump {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};
inline void on_error(j_common_ptr c) {
  ErrorJump* e = reinterpret_cast<ErrorJump*>(c->err);
  (*c->err->format_message)(c, e->message);
  std::longjmp(e->jump, 1);
}
// Warnings: a premature end of data is an error (PIL refuses truncated files too); others are ignored.
inline void on_message(j_common_ptr c, int level) {
  if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) on_error(c);
}
// Progressive files with very many scans make decoding slow without bound (a known decompression bomb).
constexpr int kMaxScans = 1000;
inline void on_progress(j_common_ptr c) {
  if (c->is_decompressor && reinterpret_cast<j_decompress_ptr>(c)->input_scan_number > kMaxScans) {
    c->err->msg_code = JERR_BAD_SCAN_SCRIPT;
    on_error(c);
  }
}

// Most pixels a JPEG of `bytes` bytes can hold: every 8x8 block of the first component costs at least
// one bit (its DC code), so at most 512 pixels per byte.
inline uint64_t max_pixels(std::size_t bytes) { return 512u * static_cast<uint64_t>(bytes) + 4096u; }

// The decode itself, free of C++ objects with destructors between setjmp and longjmp. Returns false
// with `why` set on any error; `out` gets height x width x stored channels (1 or 3) uint8.
inline bool decode(const uint8_t* bytes, std::size_t size, int* width, int* height, int* stored,
                   std::vector<uint8_t>* out, char* why) {
  jpeg_decompress_struct cinfo;
  ErrorJump err;
  jpeg_progress_mgr progress;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = &on_error;
  err.mgr.emit_message = &on_message;
  err.message[0] = '\0';
  if (setjmp(err.jump)) {
    std::snprintf(why, JMSG_LENGTH_MAX, "%s", err.message);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  progress.progress_monitor = &on_progress;
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, bytes, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  const uint64_t pixels = static_cast<uint64_t>(cinfo.image_width) * cinfo.image_height;
  if (pixels > max_pixels(size)) {
    std::snprintf(why, JMSG_LENGTH_MAX, "declares %ux%u pixels, more than %llu bytes of JPEG can hold",
                  cinfo.image_width, cinfo.image_height, static_cast<unsigned long long>(size));
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const int w = static_cast<int>(cinfo.output_width), h = static_cast<int>(cinfo.output_height);
  const int c = cinfo.output_components;
  out->resize(static_cast<std::size_t>(w) * h * c);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->data() + static_cast<std::size_t>(cinfo.output_scanline) * w * c;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (c == 4) {  // CMYK as Adobe stores it (inverted): RGB = stored colour x stored black / 255
    uint8_t* p = out->data();
    for (std::size_t i = 0, n = static_cast<std::size_t>(w) * h; i < n; ++i)
      for (int k = 0; k < 3; ++k) p[i * 3 + k] = static_cast<uint8_t>((p[i * 4 + k] * p[i * 4 + 3] + 127) / 255);
    out->resize(static_cast<std::size_t>(w) * h * 3);
  }
  *width = w;
  *height = h;
  *stored = c == 1 ? 1 : 3;
  return true;
}

}  // namespace jpeg_detail

// True when the bytes start like a JPEG file (SOI marker FF D8 FF).
inline bool looks_like_jpeg(const uint8_t* bytes, std::size_t size) {
  return size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
}

// Decodes a JPEG held in memory. On success `pixels` holds height x width x stored_channels (1 for a
// greyscale JPEG, else 3 RGB) and the result is empty; on failure the result is libjpeg's reason.
inline std::string decode_jpeg(const uint8_t* bytes, std::size_t size, int& width, int& height,
                               int& stored_channels, std::vector<uint8_t>& pixels) {
  char why[JMSG_LENGTH_MAX] = {0};
  if (jpeg_detail::decode(bytes, size, &width, &height, &stored_channels, &pixels, why)) return std::string();
  return why[0] ? std::string(why) : std::string("unknown libjpeg error");
}

// Reads only the header of a JPEG file: size and colour channels (1 grey, 3 colour). False when the
// file cannot be opened or its header is not a valid JPEG one.
inline bool read_jpeg_header(const std::string& path, int& width, int& height, int& channels) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  jpeg_decompress_struct cinfo;
  jpeg_detail::ErrorJump err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = &jpeg_detail::on_error;
  err.mgr.emit_message = &jpeg_detail::on_message;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    std::fclose(f);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, f);
  jpeg_read_header(&cinfo, TRUE);
  width = static_cast<int>(cinfo.image_width);
  height = static_cast<int>(cinfo.image_height);
  channels = cinfo.num_components == 1 ? 1 : 3;
  jpeg_destroy_decompress(&cinfo);
  std::fclose(f);
  return width > 0 && height > 0;
}

}  // namespace gcc
