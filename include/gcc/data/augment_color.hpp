// Colour operations of the views on uint8 HWC images, with torchvision's definitions on PIL images:
// brightness / contrast / saturation (PIL ImageEnhance), hue (HSV in uint8), grayscale (PIL "L").
#pragma once
#include <cmath>
#include <cstdint>

#include "gcc/data/augment_image.hpp"

namespace gcc {
namespace data {

namespace pil {

inline int clip8i(int v) { return v <= 0 ? 0 : v < 256 ? v : 255; }

// PIL's RGB -> HSV (Convert.c rgb2hsv, following colorsys), in its mix of float and double arithmetic,
// written without branches (random pixels would mispredict them). PIL's three cases, h = bc - gc in
// float and 2.0 + rc - bc, 4.0 + gc - rc in double then float, are all float(base + qa - qb) with
// base 0, 2 or 4: the quotients are floats in [0, 1] with at most 32 significant bits between them, so
// the double operations are exact and the one rounding to float is the same.
inline void rgb_to_hsv(int r, int g, int b, int& hh, int& ss, int& vv) {
  const int maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
  vv = maxc;
  const bool grey = minc == maxc;  // PIL: h = s = 0
  const float cr = static_cast<float>(grey ? 1 : maxc - minc);
  const float s = cr / static_cast<float>(grey ? 1 : maxc);
  const bool rmax = r == maxc, gmax = !rmax && g == maxc;
  const int na = rmax ? maxc - b : gmax ? maxc - r : maxc - g;  // bc, rc, gc numerators
  const int nb = rmax ? maxc - g : gmax ? maxc - b : maxc - r;  // gc, bc, rc numerators
  const double base = rmax ? 0.0 : gmax ? 2.0 : 4.0;
  const float h = static_cast<float>((base + static_cast<float>(na) / cr) - static_cast<float>(nb) / cr);
  // fmod(h / 6 + 1, 1): h / 6 + 1 lies in [5/6, 11/6], where fmod is one exact subtraction.
  double t = h / 6.0 + 1.0;
  t = t >= 1.0 ? t - 1.0 : t;
  const float hf = static_cast<float>(t);
  const int hv = clip8i(static_cast<int>(hf * 255.0)), sv = clip8i(static_cast<int>(s * 255.0));
  hh = grey ? 0 : hv;
  ss = grey ? 0 : sv;
}

// C's round() (half away from zero) for y >= 0, without a libm call: y - trunc(y) is exact.
inline int round_nonneg(double y) {
  const int64_t n = static_cast<int64_t>(y);
  return static_cast<int>(n + (y - static_cast<double>(n) >= 0.5));
}

// What PIL's hsv2rgb derives from H alone (the sector i = floor(H * 6 / 255), the fraction
// f = H * 6 / 255 - i as float), from S alone (fs = S / 255 as float) and from S and V (p), tabulated
// once with PIL's arithmetic.
struct HsvTables {
  int sector[256];
  float frac[256];
  float fs[256];
  uint8_t p[256][256];  // [s][v]: round(v (1 - fs)), clipped
};
inline const HsvTables& hsv_tables() {
  static HsvTables x;  // static storage (67 KB), filled once under the guard of `ready`
  static const bool ready = [] {
    for (int v = 0; v < 256; ++v) {
      const double h6 = static_cast<float>(v) * 6.0 / 255.0;
      const int i = static_cast<int>(std::floor(h6));
      x.sector[v] = i % 6;
      x.frac[v] = static_cast<float>(h6 - static_cast<float>(i));
      x.fs[v] = static_cast<float>(static_cast<float>(v) / 255.0);
    }
    for (int sv = 0; sv < 256; ++sv)
      for (int v = 0; v < 256; ++v)
        x.p[sv][v] =
            static_cast<uint8_t>(clip8i(round_nonneg(static_cast<double>(static_cast<float>(v)) * (1.0 - x.fs[sv]))));
    return true;
  }();
  (void)ready;
  return x;
}

// PIL's HSV -> RGB (Convert.c hsv2rgb):
//   p = round(v (1 - fs)), q = round(v (1 - fs f)), t = round(v (1 - fs (1 - f))), by sector.
// (fs * f is a float product widened to double: no multiply-add can fuse across the widening.)
inline void hsv_to_rgb(int h, int s, int v, uint8_t* out, const HsvTables& tab) {
  // (PIL returns (v, v, v) for s == 0; the formulas give that too: fs = 0 makes p = q = t = v.)
  static const uint8_t order[6][3] = {{0, 3, 1}, {2, 0, 1}, {1, 0, 3}, {1, 2, 0}, {3, 1, 0}, {0, 1, 2}};
  const float f = tab.frac[h], fs = tab.fs[s];
  const double fv = static_cast<float>(v);
  uint8_t vals[4];  // v, p, q, t
  vals[0] = static_cast<uint8_t>(v);
  vals[1] = tab.p[s][v];
  vals[2] = static_cast<uint8_t>(clip8i(round_nonneg(fv * (1.0 - static_cast<double>(fs * f)))));
  vals[3] = static_cast<uint8_t>(clip8i(round_nonneg(fv * (1.0 - muld(fs, 1.0 - f)))));
  const uint8_t* o = order[tab.sector[h]];
  out[0] = vals[o[0]];
  out[1] = vals[o[1]];
  out[2] = vals[o[2]];
}

inline float enhance_factor(const char* op, double factor) {
  GCC_CHECK(std::isfinite(factor) && factor >= 0.0, op, ": factor ", factor, " must be finite and non-negative");
  return static_cast<float>(factor);  // PIL's Image.blend takes the factor as a C float
}

// Mean of PIL's L image, rounded as ImageEnhance.Contrast does: int(mean + 0.5).
inline int luma_mean(const uint8_t* img, int64_t pixels, int c) {
  int64_t sum = 0;
  if (c == 1) {
    for (int64_t i = 0; i < pixels; ++i) sum += img[i];
  } else {
    for (int64_t i = 0; i < pixels; ++i) sum += luma(img[3 * i], img[3 * i + 1], img[3 * i + 2]);
  }
  return static_cast<int>(static_cast<double>(sum) / static_cast<double>(pixels) + 0.5);
}

inline void apply_lut(uint8_t* img, int64_t n, const uint8_t* lut) {
  for (int64_t i = 0; i < n; ++i) img[i] = lut[img[i]];
}

}  // namespace pil

inline void check_pixels(const char* op, const uint8_t* img, int64_t pixels, int c) {
  GCC_CHECK(img != nullptr && pixels > 0, op, ": empty image");
  GCC_CHECK(c == 1 || c == 3, op, ": image has ", c, " channels, expected 1 (grey) or 3 (RGB)");
}

// F.adjust_brightness (PIL ImageEnhance.Brightness): blend with black. In place, img [pixels, c].
inline void adjust_brightness(uint8_t* img, int64_t pixels, int c, double factor) {
  check_pixels("adjust_brightness", img, pixels, c);
  const float f = pil::enhance_factor("adjust_brightness", factor);
  uint8_t lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = pil::blend(0, v, f);
  pil::apply_lut(img, pixels * c, lut);
}

// F.adjust_contrast (PIL ImageEnhance.Contrast): blend with a flat image at the rounded mean of the
// image's L conversion. In place, img [pixels, c].
inline void adjust_contrast(uint8_t* img, int64_t pixels, int c, double factor) {
  check_pixels("adjust_contrast", img, pixels, c);
  const float f = pil::enhance_factor("adjust_contrast", factor);
  const int mean = pil::luma_mean(img, pixels, c);
  uint8_t lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = pil::blend(mean, v, f);
  pil::apply_lut(img, pixels * c, lut);
}

// F.adjust_saturation (PIL ImageEnhance.Color): blend each pixel with its L value. A grey image is
// its own L image, so c == 1 is left as it is. In place, img [pixels, c].
inline void adjust_saturation(uint8_t* img, int64_t pixels, int c, double factor) {
  check_pixels("adjust_saturation", img, pixels, c);
  const float f = pil::enhance_factor("adjust_saturation", factor);
  if (c == 1) return;
  // The blend's product depends only on d = v - L in [-255, 255]: tabulate it once.
  float prod[511];
  for (int d = -255; d <= 255; ++d) prod[d + 255] = pil::mulf(f, static_cast<float>(d));
  const bool interpolate = f >= 0.f && f <= 1.f;
  for (int64_t i = 0; i < pixels; ++i) {
    uint8_t* p = img + 3 * i;
    const int l = pil::luma(p[0], p[1], p[2]);
    for (int ch = 0; ch < 3; ++ch) {
      const float t = static_cast<float>(l) + prod[p[ch] - l + 255];
      p[ch] = interpolate ? static_cast<uint8_t>(t) : t <= 0.f ? 0 : t >= 255.f ? 255 : static_cast<uint8_t>(t);
    }
  }
}

// The uint8 hue shift torchvision's F.adjust_hue adds to PIL's H channel: np.uint8(hue_factor * 255),
// i.e. the product truncated toward zero, modulo 256.
inline int hue_shift(double hue_factor) {
  return static_cast<int>(static_cast<int64_t>(hue_factor * 255.0) & 255);
}

// F.adjust_hue on a PIL image: RGB -> HSV (uint8), H += hue_shift(factor) (mod 256), HSV -> RGB. The round
// trip is done even for a zero shift, as torchvision does. No-op for grey (c == 1). hue_factor in
// [-0.5, 0.5]. In place, img [pixels, c].
inline void adjust_hue(uint8_t* img, int64_t pixels, int c, double hue_factor) {
  check_pixels("adjust_hue", img, pixels, c);
  GCC_CHECK(hue_factor >= -0.5 && hue_factor <= 0.5, "adjust_hue: hue_factor ", hue_factor,
            " is not in [-0.5, 0.5]");
  if (c == 1) return;
  const int shift = hue_shift(hue_factor);
  const pil::HsvTables& tab = pil::hsv_tables();
  // Two passes over chunks of pixels: the branch-free RGB -> HSV loop vectorises on its own.
  constexpr int64_t kChunk = 256;
  uint8_t hh[kChunk], ss[kChunk], vv[kChunk];
  for (int64_t start = 0; start < pixels; start += kChunk) {
    const int64_t n = std::min(kChunk, pixels - start);
    uint8_t* p = img + 3 * start;
    for (int64_t i = 0; i < n; ++i) {
      int h, s, v;
      pil::rgb_to_hsv(p[3 * i], p[3 * i + 1], p[3 * i + 2], h, s, v);
      hh[i] = static_cast<uint8_t>(h + shift);  // mod 256
      ss[i] = static_cast<uint8_t>(s);
      vv[i] = static_cast<uint8_t>(v);
    }
    for (int64_t i = 0; i < n; ++i) pil::hsv_to_rgb(hh[i], ss[i], vv[i], p + 3 * i, tab);
  }
}

// F.rgb_to_grayscale(img, num_output_channels=3) on a PIL image (RandomGrayscale): PIL's L value in
// every channel. No-op for grey (c == 1). In place, img [pixels, c].
inline void rgb_to_grayscale(uint8_t* img, int64_t pixels, int c) {
  check_pixels("rgb_to_grayscale", img, pixels, c);
  if (c == 1) return;
  for (int64_t i = 0; i < pixels; ++i) {
    uint8_t* p = img + 3 * i;
    p[0] = p[1] = p[2] = pil::luma(p[0], p[1], p[2]);
  }
}

}  // namespace data
}  // namespace gcc
