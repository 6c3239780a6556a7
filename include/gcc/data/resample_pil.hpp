// PIL-exact image resizing for the folder readers and the decoded-image cache: Pillow's antialiased
// bilinear resampling (filter support scaled by the downscale factor, 22-bit fixed-point coefficients,
// horizontal pass first, uint8 between passes: bit-equal to Image.resize(..., BILINEAR)), and
// torchvision's Resize(S) + CenterCrop(S) on top of it (the rule is in image_cache.hpp's header comment).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../core/error.hpp"

namespace gcc {

namespace data_detail {

// ---- PIL's antialiased bilinear resampling (Pillow's Resample.c, 8 bits per channel) ----------------
constexpr int kPilPrecisionBits = 32 - 8 - 2;

struct PilCoeffs {
  int ksize = 0;
  std::vector<int> bounds;   // [out, 2]: first source index, count
  std::vector<int32_t> k;    // [out, ksize] fixed-point weights
};

inline PilCoeffs pil_bilinear_coeffs(int in_size, int out_size) {
  PilCoeffs c;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filterscale;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(static_cast<std::size_t>(out_size) * 2);
  c.k.assign(static_cast<std::size_t>(out_size) * c.ksize, 0);
  std::vector<double> w(static_cast<std::size_t>(c.ksize));
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      double t = (x + xmin - center + 0.5) * ss;
      if (t < 0) t = -t;
      w[static_cast<std::size_t>(x)] = t < 1.0 ? 1.0 - t : 0.0;
      ww += w[static_cast<std::size_t>(x)];
    }
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[static_cast<std::size_t>(x)] / ww : w[static_cast<std::size_t>(x)];
      c.k[static_cast<std::size_t>(xx) * c.ksize + x] =
          static_cast<int32_t>(v < 0 ? -0.5 + v * (1 << kPilPrecisionBits) : 0.5 + v * (1 << kPilPrecisionBits));
    }
    c.bounds[static_cast<std::size_t>(xx) * 2] = xmin;
    c.bounds[static_cast<std::size_t>(xx) * 2 + 1] = xmax;
  }
  return c;
}

inline uint8_t pil_clip8(int32_t v) {
  const int32_t s = v >> kPilPrecisionBits;
  return static_cast<uint8_t>(s < 0 ? 0 : (s > 255 ? 255 : s));
}

}  // namespace data_detail

// Resizes src [h, w, c] to dst [oh, ow, c] exactly as PIL's Image.resize((ow, oh), BILINEAR).
inline void resize_bilinear_pil(const uint8_t* src, int h, int w, int c, uint8_t* dst, int oh, int ow) {
  using namespace data_detail;
  GCC_CHECK(h > 0 && w > 0 && oh > 0 && ow > 0 && c > 0, "resize_bilinear_pil: sizes must be positive, got ", h, "x",
            w, " -> ", oh, "x", ow);
  const bool need_h = ow != w, need_v = oh != h;
  if (!need_h && !need_v) {
    std::memcpy(dst, src, static_cast<std::size_t>(h) * w * c);
    return;
  }
  const PilCoeffs ch = pil_bilinear_coeffs(w, ow), cv = pil_bilinear_coeffs(h, oh);
  // Horizontal pass over the source rows the vertical pass reads.
  int y_first = 0, y_last = h;
  if (need_v) {
    y_first = cv.bounds[0];
    y_last = cv.bounds[static_cast<std::size_t>(oh) * 2 - 2] + cv.bounds[static_cast<std::size_t>(oh) * 2 - 1];
  }
  const int th = y_last - y_first;
  std::vector<uint8_t> tmp;
  const uint8_t* mid = src + static_cast<std::size_t>(y_first) * w * c;  // [th, mw, c]
  int mw = w;
  if (need_h) {
    tmp.resize(static_cast<std::size_t>(th) * ow * c);
    for (int y = 0; y < th; ++y) {
      const uint8_t* row = src + static_cast<std::size_t>(y + y_first) * w * c;
      uint8_t* out = tmp.data() + static_cast<std::size_t>(y) * ow * c;
      for (int xx = 0; xx < ow; ++xx) {
        const int xmin = ch.bounds[static_cast<std::size_t>(xx) * 2], xn = ch.bounds[static_cast<std::size_t>(xx) * 2 + 1];
        const int32_t* k = ch.k.data() + static_cast<std::size_t>(xx) * ch.ksize;
        for (int ci = 0; ci < c; ++ci) {
          int32_t ss = 1 << (kPilPrecisionBits - 1);
          for (int x = 0; x < xn; ++x) ss += row[static_cast<std::size_t>(x + xmin) * c + ci] * k[x];
          out[static_cast<std::size_t>(xx) * c + ci] = pil_clip8(ss);
        }
      }
    }
    mid = tmp.data();
    mw = ow;
  }
  if (!need_v) {
    std::memcpy(dst, mid, static_cast<std::size_t>(oh) * mw * c);
    return;
  }
  const std::size_t rowlen = static_cast<std::size_t>(mw) * c;
  for (int yy = 0; yy < oh; ++yy) {
    const int ymin = cv.bounds[static_cast<std::size_t>(yy) * 2] - y_first, yn = cv.bounds[static_cast<std::size_t>(yy) * 2 + 1];
    const int32_t* k = cv.k.data() + static_cast<std::size_t>(yy) * cv.ksize;
    uint8_t* out = dst + static_cast<std::size_t>(yy) * rowlen;
    for (std::size_t j = 0; j < rowlen; ++j) {
      int32_t ss = 1 << (kPilPrecisionBits - 1);
      for (int y = 0; y < yn; ++y) ss += mid[static_cast<std::size_t>(y + ymin) * rowlen + j] * k[y];
      out[j] = pil_clip8(ss);
    }
  }
}

// torchvision's Resize(S) + CenterCrop(S) on a PIL image (rule in image_cache.hpp's header): src [h, w, c]
// -> dst [S, S, c].
inline void resize_shorter_center_crop(const uint8_t* src, int h, int w, int c, int S, uint8_t* dst) {
  GCC_CHECK(S > 0, "resize_shorter_center_crop: size must be positive, got ", S);
  int nh, nw;
  if (w <= h) {
    nw = S;
    nh = static_cast<int>(static_cast<double>(static_cast<int64_t>(S) * h) / w);
  } else {
    nh = S;
    nw = static_cast<int>(static_cast<double>(static_cast<int64_t>(S) * w) / h);
  }
  if (nh == S && nw == S) {
    resize_bilinear_pil(src, h, w, c, dst, S, S);
    return;
  }
  std::vector<uint8_t> r(static_cast<std::size_t>(nh) * nw * c);
  resize_bilinear_pil(src, h, w, c, r.data(), nh, nw);
  const int top = static_cast<int>(std::nearbyint((nh - S) / 2.0));
  const int left = static_cast<int>(std::nearbyint((nw - S) / 2.0));
  for (int y = 0; y < S; ++y)
    std::memcpy(dst + static_cast<std::size_t>(y) * S * c,
                r.data() + (static_cast<std::size_t>(y + top) * nw + left) * c, static_cast<std::size_t>(S) * c);
}

}  // namespace gcc
