// Geometry of the views on uint8 HWC images: PIL's bilinear resize (antialiased when it shrinks),
// crop-then-resize (RandomResizedCrop's resample), centre crop, horizontal flip -- as torchvision on PIL.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "gcc/data/augment_image.hpp"

namespace gcc {
namespace data {

// A crop box in pixels: rows [top, top + height), columns [left, left + width).
struct CropBox {
  int top = 0, left = 0, height = 0, width = 0;
};

namespace pil {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Resample.c's fixed point for 8-bit images

inline double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

// Resample.c precompute_coeffs (bilinear, support 1, widened by the scale when shrinking) followed by
// normalize_coeffs_8bpc: for each output index, the first input index (bounds[2i]), the tap count
// (bounds[2i+1]) and `ksize` fixed-point weights. Returns ksize.
inline int bilinear_coeffs(int in_size, int out_size, std::vector<int>& bounds, std::vector<double>& kd,
                           std::vector<int32_t>& kk) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filterscale;
  const int ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  const std::size_t n = static_cast<std::size_t>(out_size) * static_cast<std::size_t>(ksize);
  bounds.resize(static_cast<std::size_t>(out_size) * 2);
  kd.resize(n);
  kk.resize(n);
  const double ss = 1.0 / filterscale;
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = muld(xx + 0.5, scale);
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double* k = &kd[static_cast<std::size_t>(xx) * ksize];
    double ww = 0.0;
    int x = 0;
    for (; x < xmax; ++x) {
      const double w = bilinear_filter((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (x = 0; x < xmax; ++x)
      if (ww != 0.0) k[x] /= ww;
    for (; x < ksize; ++x) k[x] = 0.0;
    bounds[static_cast<std::size_t>(xx) * 2] = xmin;
    bounds[static_cast<std::size_t>(xx) * 2 + 1] = xmax;
  }
  const double one = static_cast<double>(1 << kPrecisionBits);
  for (std::size_t i = 0; i < n; ++i)
    kk[i] = kd[i] < 0 ? static_cast<int32_t>(-0.5 + muld(kd[i], one)) : static_cast<int32_t>(0.5 + muld(kd[i], one));
  return ksize;
}

// Resample.c clip8 for the fixed-point sums: v >> 22 clamped to [0, 255] (branch-free, same values).
inline uint8_t clip8_fixed(int32_t v) {
  const int32_t x = v >> kPrecisionBits;
  return static_cast<uint8_t>(x < 0 ? 0 : x > 255 ? 255 : x);
}

// Makes every output read exactly ksize consecutive inputs (needs in_size >= ksize): the start moves
// left where PIL's taps would run past the end, and the weights move with it, zeros elsewhere.
// The sums are the same integers, so the results are PIL's; the inner loop gets a fixed length.
inline void uniform_taps(int in_size, int out_size, int ksize, std::vector<int>& bounds, std::vector<int32_t>& kk) {
  for (int xx = 0; xx < out_size; ++xx) {
    const int xmin = bounds[2 * static_cast<std::size_t>(xx)], n = bounds[2 * static_cast<std::size_t>(xx) + 1];
    const int start = std::min(xmin, in_size - ksize), shift = xmin - start;
    int32_t* k = &kk[static_cast<std::size_t>(xx) * ksize];
    if (shift > 0) {
      for (int j = n - 1; j >= 0; --j) k[j + shift] = k[j];
      for (int j = 0; j < shift; ++j) k[j] = 0;
    }
    for (int j = shift + n; j < ksize; ++j) k[j] = 0;
    bounds[2 * static_cast<std::size_t>(xx)] = start;
    bounds[2 * static_cast<std::size_t>(xx) + 1] = ksize;
  }
}

// Horizontal pass: out [rows, ow, C] <- rows of `in` (stride values apart), taps from bilinear_coeffs.
// K > 0: every output has exactly K taps (uniform_taps); K == 0: PIL's own tap counts.
template <int C, int K>
void resample_rows(const uint8_t* in, int64_t stride, int rows, uint8_t* out, int ow, const int* bounds,
                   const int32_t* kk, int ksize) {
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = in + y * stride;
    uint8_t* dst = out + static_cast<int64_t>(y) * ow * C;
    for (int xx = 0; xx < ow; ++xx) {
      const int xmin = bounds[2 * xx], taps = K > 0 ? K : bounds[2 * xx + 1];
      const int32_t* k = kk + static_cast<int64_t>(xx) * ksize;
      int32_t ss[C];
      for (int ch = 0; ch < C; ++ch) ss[ch] = 1 << (kPrecisionBits - 1);
      const uint8_t* p = src + xmin * C;
      for (int x = 0; x < taps; ++x)
        for (int ch = 0; ch < C; ++ch) ss[ch] += p[x * C + ch] * k[x];
      for (int ch = 0; ch < C; ++ch) dst[xx * C + ch] = clip8_fixed(ss[ch]);
    }
  }
}

// Vertical pass: out [oh, n] <- `in` rows of n values (stride values apart). Integer sums, so the
// row-at-a-time order gives PIL's values exactly.
inline void resample_columns(const uint8_t* in, int64_t stride, int64_t n, uint8_t* out, int oh, const int* bounds,
                             const int32_t* kk, int ksize, int32_t* acc /*[n]*/) {
  for (int yy = 0; yy < oh; ++yy) {
    const int ymin = bounds[2 * yy], ymax = bounds[2 * yy + 1];
    const int32_t* k = kk + static_cast<int64_t>(yy) * ksize;
    for (int64_t i = 0; i < n; ++i) acc[i] = 1 << (kPrecisionBits - 1);
    for (int y = 0; y < ymax; ++y) {
      const uint8_t* row = in + (ymin + y) * stride;
      const int32_t ky = k[y];
      for (int64_t i = 0; i < n; ++i) acc[i] += row[i] * ky;
    }
    uint8_t* o = out + yy * n;
    for (int64_t i = 0; i < n; ++i) o[i] = clip8_fixed(acc[i]);
  }
}

}  // namespace pil

// The box `box` of src resized to oh x ow with PIL's BILINEAR filter: torchvision's
// F.resized_crop(pil_image, top, left, height, width, [oh, ow]) = img.crop(box).resize((ow, oh)).
// (The crop comes first: PIL's own resize(box=...) would let the filter read pixels outside the box.)
// dst [oh, ow, c] <- src [h, w, c]; dst must not overlap src.
inline void resized_crop(const uint8_t* src, int h, int w, int c, CropBox box, uint8_t* dst, int oh, int ow) {
  check_image("resized_crop", src, h, w, c);
  GCC_CHECK(box.height > 0 && box.width > 0 && box.top >= 0 && box.left >= 0 && box.top + box.height <= h &&
                box.left + box.width <= w,
            "resized_crop: box (top ", box.top, ", left ", box.left, ", height ", box.height, ", width ", box.width,
            ") is not inside the ", h, "x", w, " image");
  GCC_CHECK(oh > 0 && ow > 0, "resized_crop: output size ", oh, "x", ow, " must be positive");
  const int64_t stride = static_cast<int64_t>(w) * c;
  const uint8_t* base = src + box.top * stride + static_cast<int64_t>(box.left) * c;
  const int64_t out_row = static_cast<int64_t>(ow) * c;
  const bool need_h = ow != box.width, need_v = oh != box.height;
  if (!need_h && !need_v) {  // PIL returns a copy
    for (int y = 0; y < oh; ++y) std::memcpy(dst + y * out_row, base + y * stride, static_cast<std::size_t>(out_row));
    return;
  }
  AugmentScratch& s = augment_scratch();
  int ybox_first = 0, ybox_last = box.height, ksize_v = 0;
  if (need_v) {
    ksize_v = pil::bilinear_coeffs(box.height, oh, s.bounds_y, s.coeff_d, s.coeff_y);
    ybox_first = s.bounds_y[0];
    ybox_last = s.bounds_y[static_cast<std::size_t>(oh) * 2 - 2] + s.bounds_y[static_cast<std::size_t>(oh) * 2 - 1];
  }
  const uint8_t* vin = base;  // what the vertical pass reads
  int64_t vstride = stride;
  if (need_h) {
    const int ksize_h = pil::bilinear_coeffs(box.width, ow, s.bounds_x, s.coeff_d, s.coeff_x);
    const int rows = ybox_last - ybox_first;
    uint8_t* hout = need_v ? grow(s.op_tmp, static_cast<std::size_t>(rows * out_row)) : dst;
    const uint8_t* hin = base + ybox_first * stride;
    const int* bx = s.bounds_x.data();
    const int32_t* kx = s.coeff_x.data();
    if (ksize_h == 3 && box.width >= 3) {  // enlarging (support 1): three taps, fixed-length loops
      pil::uniform_taps(box.width, ow, 3, s.bounds_x, s.coeff_x);
      if (c == 1)
        pil::resample_rows<1, 3>(hin, stride, rows, hout, ow, bx, kx, 3);
      else
        pil::resample_rows<3, 3>(hin, stride, rows, hout, ow, bx, kx, 3);
    } else if (c == 1) {
      pil::resample_rows<1, 0>(hin, stride, rows, hout, ow, bx, kx, ksize_h);
    } else {
      pil::resample_rows<3, 0>(hin, stride, rows, hout, ow, bx, kx, ksize_h);
    }
    if (!need_v) return;
    for (int i = 0; i < oh; ++i) s.bounds_y[static_cast<std::size_t>(i) * 2] -= ybox_first;
    vin = hout;
    vstride = out_row;
  }
  int32_t* acc = grow(s.op_acc, static_cast<std::size_t>(out_row));
  pil::resample_columns(vin, vstride, out_row, dst, oh, s.bounds_y.data(), s.coeff_y.data(), ksize_v, acc);
}

// PIL's resize to oh x ow (BILINEAR): dst [oh, ow, c] <- src [h, w, c].
inline void resize_bilinear(const uint8_t* src, int h, int w, int c, uint8_t* dst, int oh, int ow) {
  resized_crop(src, h, w, c, CropBox{0, 0, h, w}, dst, oh, ow);
}

// torchvision's Resize(size) with one int: the shorter side becomes `size`, the longer
// int(size * long / short) (truncated). Returns {new_h, new_w}.
inline std::array<int, 2> shorter_side_size(int h, int w, int size) {
  GCC_CHECK(h > 0 && w > 0 && size > 0, "shorter_side_size: image ", h, "x", w, ", size ", size);
  const int shorter = std::min(h, w), longer = std::max(h, w);
  const int new_long = static_cast<int>(static_cast<double>(static_cast<int64_t>(size) * longer) / shorter);
  return w <= h ? std::array<int, 2>{new_long, size} : std::array<int, 2>{size, new_long};
}

// torchvision's CenterCrop box (crop not larger than the image): top = round((h - ch) / 2) with Python's
// round (half to even), likewise left.
inline CropBox center_crop_box(int h, int w, int ch, int cw) {
  GCC_CHECK(ch > 0 && cw > 0 && ch <= h && cw <= w, "center_crop_box: crop ", ch, "x", cw,
            " does not fit in the ", h, "x", w, " image");
  return CropBox{static_cast<int>(std::nearbyint((h - ch) / 2.0)), static_cast<int>(std::nearbyint((w - cw) / 2.0)),
                 ch, cw};
}

// Copies a box out of src: dst [box.height, box.width, c] <- src [h, w, c].
inline void crop(const uint8_t* src, int h, int w, int c, CropBox box, uint8_t* dst) {
  check_image("crop", src, h, w, c);
  GCC_CHECK(box.height > 0 && box.width > 0 && box.top >= 0 && box.left >= 0 && box.top + box.height <= h &&
                box.left + box.width <= w,
            "crop: box (top ", box.top, ", left ", box.left, ", height ", box.height, ", width ", box.width,
            ") is not inside the ", h, "x", w, " image");
  const int64_t stride = static_cast<int64_t>(w) * c, row = static_cast<int64_t>(box.width) * c;
  for (int y = 0; y < box.height; ++y)
    std::memcpy(dst + y * row, src + (box.top + y) * stride + static_cast<int64_t>(box.left) * c,
                static_cast<std::size_t>(row));
}

// Horizontal flip in place (F.hflip): img [h, w, c].
inline void hflip(uint8_t* img, int h, int w, int c) {
  check_image("hflip", img, h, w, c);
  for (int y = 0; y < h; ++y) {
    uint8_t* row = img + static_cast<int64_t>(y) * w * c;
    for (int a = 0, b = w - 1; a < b; ++a, --b)
      for (int ch = 0; ch < c; ++ch) std::swap(row[a * c + ch], row[b * c + ch]);
  }
}

}  // namespace data
}  // namespace gcc
