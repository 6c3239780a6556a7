// The self-labelling strong view's operations (SCAN's data/augment.py, which GCC's release uses) on
// uint8 HWC images, as PIL computes them: autocontrast, equalize, solarize, posterize, sharpness,
// nearest-neighbour affine maps (rotate, shear, translate), and Cutout on the normalised tensor.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "gcc/data/augment_color.hpp"
#include "gcc/data/augment_image.hpp"

namespace gcc {
namespace data {

// PIL.ImageOps.autocontrast(img) (cutoff 0): per channel, the darkest value becomes 0 and the lightest
// 255 (lut = int(v * 255 / (hi - lo) - lo * 255 / (hi - lo)), clipped); a flat channel is kept. In place.
inline void autocontrast(uint8_t* img, int64_t pixels, int c) {
  check_pixels("autocontrast", img, pixels, c);
  for (int ch = 0; ch < c; ++ch) {
    int64_t hist[256] = {0};
    for (int64_t i = 0; i < pixels; ++i) ++hist[img[i * c + ch]];
    int lo = 0, hi = 255;
    while (lo < 255 && hist[lo] == 0) ++lo;
    while (hi > 0 && hist[hi] == 0) --hi;
    if (hi <= lo) continue;
    const double scale = 255.0 / (hi - lo);
    const double offset = -lo * scale;
    uint8_t lut[256];
    for (int v = 0; v < 256; ++v) {
      int x = static_cast<int>(pil::muld(v, scale) + offset);
      lut[v] = static_cast<uint8_t>(x < 0 ? 0 : x > 255 ? 255 : x);
    }
    for (int64_t i = 0; i < pixels; ++i) img[i * c + ch] = lut[img[i * c + ch]];
  }
}

// PIL.ImageOps.equalize(img): per channel, the cumulative histogram mapped to 0..255 in steps of
// (count - count of the last used value) // 255; a channel with one value (or step 0) is kept. In place.
inline void equalize(uint8_t* img, int64_t pixels, int c) {
  check_pixels("equalize", img, pixels, c);
  for (int ch = 0; ch < c; ++ch) {
    int64_t hist[256] = {0};
    for (int64_t i = 0; i < pixels; ++i) ++hist[img[i * c + ch]];
    int used = 0, last = 0;
    for (int v = 0; v < 256; ++v)
      if (hist[v]) {
        ++used;
        last = v;
      }
    if (used <= 1) continue;
    const int64_t step = (pixels - hist[last]) / 255;
    if (step == 0) continue;
    uint8_t lut[256];
    int64_t n = step / 2;
    for (int v = 0; v < 256; ++v) {
      const int64_t x = n / step;
      lut[v] = static_cast<uint8_t>(x > 255 ? 255 : x);  // (PIL's x never exceeds 255)
      n += hist[v];
    }
    for (int64_t i = 0; i < pixels; ++i) img[i * c + ch] = lut[img[i * c + ch]];
  }
}

// PIL.ImageOps.solarize(img, threshold): values v >= threshold become 255 - v. In place, n = pixels * c.
inline void solarize(uint8_t* img, int64_t n, double threshold) {
  GCC_CHECK(img != nullptr && n > 0, "solarize: empty image");
  uint8_t lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = static_cast<uint8_t>(v < threshold ? v : 255 - v);
  pil::apply_lut(img, n, lut);
}

// PIL.ImageOps.posterize(img, bits): keeps the top `bits` bits (1..8). In place, n = pixels * c.
inline void posterize(uint8_t* img, int64_t n, int bits) {
  GCC_CHECK(img != nullptr && n > 0, "posterize: empty image");
  GCC_CHECK(bits >= 1 && bits <= 8, "posterize: bits = ", bits, ", expected 1..8");
  const int mask = ~((1 << (8 - bits)) - 1);
  uint8_t lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = static_cast<uint8_t>(v & mask);
  pil::apply_lut(img, n, lut);
}

// PIL.ImageEnhance.Sharpness(img).enhance(factor): blend with the image smoothed by PIL's SMOOTH 3x3
// filter (1 1 1 / 1 5 1 / 1 1 1, / 13, float, border pixels copied). In place, img [h, w, c].
inline void enhance_sharpness(uint8_t* img, int h, int w, int c, double factor) {
  check_image("enhance_sharpness", img, h, w, c);
  const float f = pil::enhance_factor("enhance_sharpness", factor);
  if (h < 3 || w < 3) return;  // PIL's filter copies images smaller than the kernel: blend(x, x) = x
  const int64_t n = static_cast<int64_t>(h) * w * c, stride = static_cast<int64_t>(w) * c;
  uint8_t* smooth = grow(augment_scratch().op_tmp, static_cast<std::size_t>(n));
  std::memcpy(smooth, img, static_cast<std::size_t>(n));
  const float k_edge = 1.0f / 13.0f, k_mid = 5.0f / 13.0f;  // _imaging.c divides the float kernel by 13
  // Products of one uint8 value with one kernel weight: tabulated (each is one float rounding).
  float pe[256], pm[256];
  for (int v = 0; v < 256; ++v) {
    pe[v] = pil::mulf(static_cast<float>(v), k_edge);
    pm[v] = pil::mulf(static_cast<float>(v), k_mid);
  }
  for (int y = 1; y < h - 1; ++y) {
    const uint8_t* up = img + (y - 1) * stride;
    const uint8_t* mid = img + y * stride;
    const uint8_t* dn = img + (y + 1) * stride;
    uint8_t* out = smooth + y * stride;
    for (int64_t i = c; i < stride - c; ++i) {
      // Filter.c: ss = 0.5; ss += row(y+1); ss += row(y); ss += row(y-1), each row a*k0 + b*k1 + c*k2
      float ss = 0.5f;
      ss += (pe[dn[i - c]] + pe[dn[i]]) + pe[dn[i + c]];
      ss += (pe[mid[i - c]] + pm[mid[i]]) + pe[mid[i + c]];
      ss += (pe[up[i - c]] + pe[up[i]]) + pe[up[i + c]];
      out[i] = ss <= 0.f ? 0 : ss >= 255.f ? 255 : static_cast<uint8_t>(ss);
    }
  }
  for (int64_t i = 0; i < n; ++i) img[i] = pil::blend(smooth[i], img[i], f);
}

// PIL's Image.transform(size, AFFINE, a, NEAREST) with the output the size of the input: output pixel
// (x, y) takes the input pixel at (a0 (x+.5) + a1 (y+.5) + a2, a3 (x+.5) + a4 (y+.5) + a5), 0 outside.
// Geometry.c: a pure scale/translation (a1 == a3 == 0) goes through ImagingScaleAffine (double
// coordinates), anything else through affine_fixed (16.16 fixed point). dst [h, w, c] <- src [h, w, c].
inline void affine_nearest(const uint8_t* src, int h, int w, int c, const double a[6], uint8_t* dst) {
  check_image("affine_nearest", src, h, w, c);
  GCC_CHECK(src != dst, "affine_nearest: dst must not be src");
  const std::size_t px = static_cast<std::size_t>(c);
  std::memset(dst, 0, static_cast<std::size_t>(h) * w * px);
  if (a[1] == 0 && a[3] == 0) {  // ImagingScaleAffine
    double xo = a[2] + pil::muld(a[0], 0.5);
    double yo = a[5] + pil::muld(a[4], 0.5);
    int* xintab = grow(augment_scratch().bounds_x, static_cast<std::size_t>(w));
    int xmin = w, xmax = 0;
    for (int x = 0; x < w; ++x) {
      const int xin = xo < 0.0 ? -1 : static_cast<int>(xo);
      if (xin >= 0 && xin < w) {
        xmax = x + 1;
        if (x < xmin) xmin = x;
        xintab[x] = xin;
      }
      xo += a[0];
    }
    for (int y = 0; y < h; ++y) {
      const int yi = yo < 0.0 ? -1 : static_cast<int>(yo);
      if (yi >= 0 && yi < h) {
        const uint8_t* in = src + static_cast<int64_t>(yi) * w * c;
        uint8_t* out = dst + static_cast<int64_t>(y) * w * c;
        for (int x = xmin; x < xmax; ++x) std::memcpy(out + x * px, in + xintab[x] * px, px);
      }
      yo += a[4];
    }
    return;
  }
  auto fits = [&](int x, int y) {  // Geometry.c check_fixed
    return std::fabs(x * a[0] + y * a[1] + a[2]) < 32768.0 && std::fabs(x * a[3] + y * a[4] + a[5]) < 32768.0;
  };
  GCC_CHECK(fits(0, 0) && fits(w, h) && fits(0, h) && fits(w, 0), "affine_nearest: the map sends the ", h, "x", w,
            " image outside PIL's 16.16 fixed-point range (|coordinate| < 32768)");
  auto fix = [](double v) { return static_cast<int>(std::floor(pil::muld(v, 65536.0) + 0.5)); };
  const int a0 = fix(a[0]), a1 = fix(a[1]), a3 = fix(a[3]), a4 = fix(a[4]);
  int a2 = fix((a[2] + pil::muld(a[1], 0.5)) + pil::muld(a[0], 0.5));
  int a5 = fix((a[5] + pil::muld(a[4], 0.5)) + pil::muld(a[3], 0.5));
  for (int y = 0; y < h; ++y) {
    int xx = a2, yy = a5;
    uint8_t* out = dst + static_cast<int64_t>(y) * w * c;
    for (int x = 0; x < w; ++x) {
      const int xin = xx >> 16;
      if (xin >= 0 && xin < w) {
        const int yin = yy >> 16;
        if (yin >= 0 && yin < h) std::memcpy(out + x * px, src + (static_cast<int64_t>(yin) * w + xin) * c, px);
      }
      xx += a0;
      yy += a3;
    }
    a2 += a1;
    a5 += a4;
  }
}

namespace pil {
// Python's round(x, 15): correctly rounded to 15 decimals (via the C library's decimal conversion).
inline double round15(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15f", x);
  return std::strtod(buf, nullptr);
}
}  // namespace pil

// PIL's img.rotate(degrees) (counter-clockwise, about the centre (w/2, h/2), NEAREST, same size, 0
// outside). Angles that are multiples of 360 copy, multiples of 180 (and of 90 on square images) are
// exact transposes, as in PIL. dst [h, w, c] <- src [h, w, c].
inline void rotate(const uint8_t* src, int h, int w, int c, double degrees, uint8_t* dst) {
  check_image("rotate", src, h, w, c);
  GCC_CHECK(std::isfinite(degrees), "rotate: angle ", degrees, " is not finite");
  double angle = std::fmod(degrees, 360.0);  // Python's angle % 360.0: the sign of the divisor
  if (angle != 0.0 && angle < 0.0) angle += 360.0;
  const std::size_t px = static_cast<std::size_t>(c);
  if (angle == 0.0) {
    std::memcpy(dst, src, static_cast<std::size_t>(h) * w * px);
    return;
  }
  if (angle == 180.0 || ((angle == 90.0 || angle == 270.0) && w == h)) {  // Image.transpose
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        int sy, sx;
        if (angle == 180.0) {
          sy = h - 1 - y;
          sx = w - 1 - x;
        } else if (angle == 90.0) {  // ROTATE_90 (counter-clockwise)
          sy = x;
          sx = w - 1 - y;
        } else {  // ROTATE_270
          sy = h - 1 - x;
          sx = y;
        }
        std::memcpy(dst + (static_cast<int64_t>(y) * w + x) * c, src + (static_cast<int64_t>(sy) * w + sx) * c, px);
      }
    return;
  }
  const double cx = w / 2.0, cy = h / 2.0;
  const double t = -(angle * (3.141592653589793 / 180.0));  // -math.radians(angle)
  double m[6] = {pil::round15(std::cos(t)), pil::round15(std::sin(t)), 0.0,
                 pil::round15(-std::sin(t)), pil::round15(std::cos(t)), 0.0};
  const double m2 = (pil::muld(m[0], -cx) + pil::muld(m[1], -cy)) + m[2];
  const double m5 = (pil::muld(m[3], -cx) + pil::muld(m[4], -cy)) + m[5];
  m[2] = m2 + cx;
  m[5] = m5 + cy;
  affine_nearest(src, h, w, c, m, dst);
}

// SCAN's ShearX(v): Image.transform(AFFINE, (1, v, 0, 0, 1, 0)). dst [h, w, c] <- src [h, w, c].
inline void shear_x(const uint8_t* src, int h, int w, int c, double v, uint8_t* dst) {
  const double a[6] = {1, v, 0, 0, 1, 0};
  affine_nearest(src, h, w, c, a, dst);
}
// SCAN's ShearY(v): (1, 0, 0, v, 1, 0).
inline void shear_y(const uint8_t* src, int h, int w, int c, double v, uint8_t* dst) {
  const double a[6] = {1, 0, 0, v, 1, 0};
  affine_nearest(src, h, w, c, a, dst);
}
// SCAN's TranslateX with the shift in pixels (the release passes v * width): (1, 0, pixels, 0, 1, 0),
// i.e. the content moves left by `pixels`.
inline void translate_x(const uint8_t* src, int h, int w, int c, double pixels, uint8_t* dst) {
  const double a[6] = {1, 0, pixels, 0, 1, 0};
  affine_nearest(src, h, w, c, a, dst);
}
// SCAN's TranslateY with the shift in pixels (the release passes v * height): (1, 0, 0, 0, 1, pixels).
inline void translate_y(const uint8_t* src, int h, int w, int c, double pixels, uint8_t* dst) {
  const double a[6] = {1, 0, 0, 0, 1, pixels};
  affine_nearest(src, h, w, c, a, dst);
}

// The 14 operations of SCAN's augment_list(), in its order, with the ranges their value is drawn from.
enum class StrongOp : int {
  Identity = 0,
  AutoContrast,
  Equalize,
  Rotate,
  Solarize,
  Color,
  Contrast,
  Brightness,
  Sharpness,
  ShearX,
  TranslateX,
  TranslateY,
  Posterize,
  ShearY
};
constexpr int kNumStrongOps = 14;

struct StrongOpInfo {
  StrongOp op;
  const char* name;
  double lo, hi;      // value = U(lo, hi)
  bool random_sign;   // the release negates the value with p = 0.5 (rotate, shear, translate)
};
inline const StrongOpInfo& strong_op_info(StrongOp op) {
  static const StrongOpInfo table[kNumStrongOps] = {
      {StrongOp::Identity, "identity", 0, 1, false},        {StrongOp::AutoContrast, "autocontrast", 0, 1, false},
      {StrongOp::Equalize, "equalize", 0, 1, false},        {StrongOp::Rotate, "rotate", -30, 30, true},
      {StrongOp::Solarize, "solarize", 0, 256, false},      {StrongOp::Color, "color", 0.05, 0.95, false},
      {StrongOp::Contrast, "contrast", 0.05, 0.95, false},  {StrongOp::Brightness, "brightness", 0.05, 0.95, false},
      {StrongOp::Sharpness, "sharpness", 0.05, 0.95, false}, {StrongOp::ShearX, "shearx", -0.1, 0.1, true},
      {StrongOp::TranslateX, "translatex", -0.1, 0.1, true}, {StrongOp::TranslateY, "translatey", -0.1, 0.1, true},
      {StrongOp::Posterize, "posterize", 4, 8, false},      {StrongOp::ShearY, "sheary", -0.1, 0.1, true}};
  const int i = static_cast<int>(op);
  GCC_CHECK(i >= 0 && i < kNumStrongOps, "strong_op_info: operation ", i, " is not one of the 14");
  return table[i];
}

// Applies one strong operation with its value as the release passes it (after the sign flip;
// translate: a fraction of the width/height; posterize: bits = int(value)). `img` [h, w, c] holds the
// image before and after; `spare` is a buffer of the same size for the geometric operations.
inline void apply_strong_op(StrongOp op, double value, uint8_t* img, uint8_t* spare, int h, int w, int c) {
  const int64_t pixels = static_cast<int64_t>(h) * w, n = pixels * c;
  switch (op) {
    case StrongOp::Identity: return;
    case StrongOp::AutoContrast: autocontrast(img, pixels, c); return;
    case StrongOp::Equalize: equalize(img, pixels, c); return;
    case StrongOp::Solarize: solarize(img, n, value); return;
    case StrongOp::Posterize: posterize(img, n, static_cast<int>(value)); return;
    case StrongOp::Color: adjust_saturation(img, pixels, c, value); return;
    case StrongOp::Contrast: adjust_contrast(img, pixels, c, value); return;
    case StrongOp::Brightness: adjust_brightness(img, pixels, c, value); return;
    case StrongOp::Sharpness: enhance_sharpness(img, h, w, c, value); return;
    case StrongOp::Rotate: rotate(img, h, w, c, value, spare); break;
    case StrongOp::ShearX: shear_x(img, h, w, c, value, spare); break;
    case StrongOp::ShearY: shear_y(img, h, w, c, value, spare); break;
    case StrongOp::TranslateX: translate_x(img, h, w, c, value * w, spare); break;
    case StrongOp::TranslateY: translate_y(img, h, w, c, value * h, spare); break;
  }
  std::memcpy(img, spare, static_cast<std::size_t>(n));
}

// SCAN's Cutout(n_holes=1, length=L) on the normalised tensor: with `length` drawn in 1..L and a centre
// (cy, cx) drawn uniformly over the image, rows [cy - length/2, cy + length/2) and the same columns
// (integer halves, clipped to the image) are set to 0 in every channel. The release's hole is thus
// 2*floor(length/2) pixels wide: an odd length loses one pixel and length 1 removes nothing.
// img [c, h, w].
inline void cutout(float* img, int c, int h, int w, int length, int cy, int cx) {
  GCC_CHECK(length >= 0, "cutout: length ", length, " is negative");
  const int y1 = std::clamp(cy - length / 2, 0, h), y2 = std::clamp(cy + length / 2, 0, h);
  const int x1 = std::clamp(cx - length / 2, 0, w), x2 = std::clamp(cx + length / 2, 0, w);
  for (int ch = 0; ch < c; ++ch)
    for (int y = y1; y < y2; ++y) {
      float* row = img + (static_cast<int64_t>(ch) * h + y) * w;
      for (int x = x1; x < x2; ++x) row[x] = 0.f;
    }
}

}  // namespace data
}  // namespace gcc
