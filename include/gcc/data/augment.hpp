// The three views of SPEC §3 on uint8 HWC images, as torchvision 0.14 computes them on PIL images:
// SimCLR training view, evaluation view, self-labelling strong view (SCAN's, with Cutout).
//
// Each view is a small copyable object whose call operator has the loader's signature
//     void(const uint8_t* img /*[H, W, C] uint8*/, int h, int w, int c, gcc::Rng& rng, float* out)
// writing out [channels, S, S] normalised floats. Random choices come only from `rng` (so a view is
// deterministic given the Rng) and are split from the pixel work: sample() draws a *Draw record,
// apply() computes the image from it -- the tests check the draws statistically and the pixels
// against torchvision. Scratch memory is per thread (augment_scratch()): no allocation once warm.
//
// Channels: a view works in the image's own channel count and writes `channels` outputs. A grey image
// (c = 1) given to a 3-channel view is processed as grey and copied into the three outputs, which is
// what PIL gives for the L -> RGB converted image (every colour op keeps R = G = B on it: saturation
// and hue leave it unchanged, grayscale maps it to itself). An RGB image given to a 1-channel view is
// first converted to PIL's L.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>

#include "gcc/core/rng.hpp"
#include "gcc/data/augment_color.hpp"
#include "gcc/data/augment_image.hpp"
#include "gcc/data/augment_resample.hpp"
#include "gcc/data/augment_strong.hpp"

namespace gcc {
namespace data {

namespace detail {
inline void check_view_channels(const char* view, int c, int channels) {
  GCC_CHECK(c == 1 || c == 3, view, ": image has ", c, " channels, expected 1 (grey) or 3 (RGB)");
  GCC_CHECK(channels == 1 || channels == 3, view, ": the view writes ", channels, " channels, expected 1 or 3");
}
// The image the view works on: img itself, or its L conversion when the view writes one channel.
inline const uint8_t* working_image(const uint8_t* img, int h, int w, int& c, int channels) {
  if (c == 3 && channels == 1) {
    uint8_t* l = grow(augment_scratch().view_c, static_cast<std::size_t>(h) * w);
    rgb_to_luma(img, static_cast<int64_t>(h) * w, l);
    c = 1;
    return l;
  }
  return img;
}
}  // namespace detail

// torchvision's RandomResizedCrop.get_params: up to 10 tries of area = U(scale) * H * W and
// log-ratio = U(log ratio), w = round(sqrt(area * ratio)), h = round(sqrt(area / ratio)) (Python's
// round, half to even), accepted when 0 < w <= W and 0 < h <= H, then top = U{0..H-h}, left =
// U{0..W-w}; else the centre crop with the aspect ratio clamped to the range.
inline CropBox sample_resized_crop(int h, int w, Rng& rng, double scale_lo = 0.2, double scale_hi = 1.0,
                                   double ratio_lo = 3.0 / 4.0, double ratio_hi = 4.0 / 3.0) {
  GCC_CHECK(h > 0 && w > 0, "sample_resized_crop: image ", h, "x", w);
  GCC_CHECK(0 < scale_lo && scale_lo <= scale_hi && 0 < ratio_lo && ratio_lo <= ratio_hi,
            "sample_resized_crop: scale (", scale_lo, ", ", scale_hi, ") and ratio (", ratio_lo, ", ", ratio_hi,
            ") must be positive, increasing ranges");
  const double area = static_cast<double>(h) * w;
  const double log_lo = std::log(ratio_lo), log_hi = std::log(ratio_hi);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * rng.uniform(scale_lo, scale_hi);
    const double ar = std::exp(rng.uniform(log_lo, log_hi));
    const int cw = static_cast<int>(std::nearbyint(std::sqrt(target * ar)));
    const int ch = static_cast<int>(std::nearbyint(std::sqrt(target / ar)));
    if (0 < cw && cw <= w && 0 < ch && ch <= h) {
      const int top = static_cast<int>(rng.below(static_cast<uint64_t>(h - ch + 1)));
      const int left = static_cast<int>(rng.below(static_cast<uint64_t>(w - cw + 1)));
      return CropBox{top, left, ch, cw};
    }
  }
  const double in_ratio = static_cast<double>(w) / h;
  int cw = w, ch = h;
  if (in_ratio < ratio_lo) {
    ch = static_cast<int>(std::nearbyint(cw / ratio_lo));
  } else if (in_ratio > ratio_hi) {
    cw = static_cast<int>(std::nearbyint(ch * ratio_hi));
  }
  return CropBox{(h - ch) / 2, (w - cw) / 2, ch, cw};
}

// ------------------------------------------------------------------------------------------------
// SimCLR training view: RandomResizedCrop(S, scale, ratio, bilinear) -> flip p -> with p_jitter
// ColorJitter(b, c, s, h) in random order -> RandomGrayscale(p_gray) -> ToTensor -> Normalize.
struct SimclrParams {
  int size = 32;
  double scale_lo = 0.2, scale_hi = 1.0;
  double ratio_lo = 3.0 / 4.0, ratio_hi = 4.0 / 3.0;
  double flip_p = 0.5;
  double jitter_p = 0.8;
  double brightness = 0.4, contrast = 0.4, saturation = 0.4, hue = 0.1;  // 0 turns an op off
  double gray_p = 0.2;
  int channels = 3;
  std::array<float, 3> mean{}, std{};

  static SimclrParams from_preset(const ViewPreset& p) {
    SimclrParams s;
    s.size = p.train_size;
    s.channels = p.channels;
    s.mean = p.mean;
    s.std = p.std;
    return s;
  }
};

// The random choices of one SimCLR view. order holds ColorJitter's permutation of 0 brightness,
// 1 contrast, 2 saturation, 3 hue; factors are float32 as torchvision draws them.
struct SimclrDraw {
  CropBox box;
  bool flip = false;
  bool jitter = false;
  std::array<int, 4> order{{0, 1, 2, 3}};
  float brightness = 1.f, contrast = 1.f, saturation = 1.f, hue = 0.f;
  bool gray = false;
};

class SimclrView {
 public:
  SimclrView() : SimclrView(SimclrParams::from_preset(view_preset("cifar"))) {}
  explicit SimclrView(const SimclrParams& p) : p_(p), norm_(p.channels, p.mean.data(), p.std.data()) {
    GCC_CHECK(p.size > 0, "SimclrView: size ", p.size, " must be positive");
    GCC_CHECK(p.brightness >= 0 && p.contrast >= 0 && p.saturation >= 0 && p.hue >= 0 && p.hue <= 0.5,
              "SimclrView: jitter strengths brightness ", p.brightness, ", contrast ", p.contrast, ", saturation ",
              p.saturation, " must be >= 0 and hue ", p.hue, " in [0, 0.5]");
  }
  explicit SimclrView(const ViewPreset& preset) : SimclrView(SimclrParams::from_preset(preset)) {}

  const SimclrParams& params() const { return p_; }
  int size() const { return p_.size; }
  int channels() const { return p_.channels; }
  int64_t out_numel() const { return static_cast<int64_t>(p_.channels) * p_.size * p_.size; }

  SimclrDraw sample(int h, int w, Rng& rng) const {
    SimclrDraw d;
    d.box = sample_resized_crop(h, w, rng, p_.scale_lo, p_.scale_hi, p_.ratio_lo, p_.ratio_hi);
    d.flip = rng.uniform() < p_.flip_p;
    d.jitter = rng.uniform() < p_.jitter_p;
    if (d.jitter) {  // ColorJitter.get_params: a permutation, then the four factors in a fixed order
      for (int i = 3; i > 0; --i)
        std::swap(d.order[static_cast<std::size_t>(i)],
                  d.order[static_cast<std::size_t>(rng.below(static_cast<uint64_t>(i + 1)))]);
      d.brightness = static_cast<float>(rng.uniform(std::max(0.0, 1 - p_.brightness), 1 + p_.brightness));
      d.contrast = static_cast<float>(rng.uniform(std::max(0.0, 1 - p_.contrast), 1 + p_.contrast));
      d.saturation = static_cast<float>(rng.uniform(std::max(0.0, 1 - p_.saturation), 1 + p_.saturation));
      d.hue = static_cast<float>(rng.uniform(-p_.hue, p_.hue));
    }
    d.gray = rng.uniform() < p_.gray_p;
    return d;
  }

  // out [channels, S, S] <- img [h, w, c] with the choices in d.
  void apply(const uint8_t* img, int h, int w, int c, const SimclrDraw& d, float* out) const {
    check_image("SimclrView", img, h, w, c);
    detail::check_view_channels("SimclrView", c, p_.channels);
    const uint8_t* src = detail::working_image(img, h, w, c, p_.channels);
    const int S = p_.size;
    const int64_t pixels = static_cast<int64_t>(S) * S;
    uint8_t* x = grow(augment_scratch().view_b, static_cast<std::size_t>(pixels * c));
    resized_crop(src, h, w, c, d.box, x, S, S);
    if (d.flip) hflip(x, S, S, c);
    if (d.jitter) {
      for (int fn : d.order) {  // ColorJitter skips an op whose strength is 0 (torchvision: None)
        if (fn == 0 && p_.brightness > 0) adjust_brightness(x, pixels, c, d.brightness);
        if (fn == 1 && p_.contrast > 0) adjust_contrast(x, pixels, c, d.contrast);
        if (fn == 2 && p_.saturation > 0) adjust_saturation(x, pixels, c, d.saturation);
        if (fn == 3 && p_.hue > 0) adjust_hue(x, pixels, c, d.hue);
      }
    }
    if (d.gray) rgb_to_grayscale(x, pixels, c);
    norm_.apply(x, S, S, c, static_cast<int64_t>(S) * c, out);
  }

  void operator()(const uint8_t* img, int h, int w, int c, Rng& rng, float* out) const {
    apply(img, h, w, c, sample(h, w, rng), out);
  }

 private:
  SimclrParams p_;
  Normalizer norm_;
};

// ------------------------------------------------------------------------------------------------
// Evaluation view: Resize(R) (shorter side to R, bilinear) -> CenterCrop(C) -> ToTensor -> Normalize.
// Deterministic; the Rng argument of the call operator is not used. C must fit in the resized image
// (torchvision would pad; no preset needs it).
struct EvalParams {
  int resize = 40, crop = 32;
  int channels = 3;
  std::array<float, 3> mean{}, std{};
  static EvalParams from_preset(const ViewPreset& p) {
    EvalParams e;
    e.resize = p.eval_resize;
    e.crop = p.eval_crop;
    e.channels = p.channels;
    e.mean = p.mean;
    e.std = p.std;
    return e;
  }
};

class EvalView {
 public:
  EvalView() : EvalView(EvalParams::from_preset(view_preset("cifar"))) {}
  explicit EvalView(const EvalParams& p) : p_(p), norm_(p.channels, p.mean.data(), p.std.data()) {
    GCC_CHECK(p.resize > 0 && p.crop > 0, "EvalView: resize ", p.resize, " and crop ", p.crop, " must be positive");
  }
  explicit EvalView(const ViewPreset& preset) : EvalView(EvalParams::from_preset(preset)) {}

  const EvalParams& params() const { return p_; }
  int size() const { return p_.crop; }
  int channels() const { return p_.channels; }
  int64_t out_numel() const { return static_cast<int64_t>(p_.channels) * p_.crop * p_.crop; }

  void apply(const uint8_t* img, int h, int w, int c, float* out) const {
    check_image("EvalView", img, h, w, c);
    detail::check_view_channels("EvalView", c, p_.channels);
    const uint8_t* src = detail::working_image(img, h, w, c, p_.channels);
    const std::array<int, 2> hw = shorter_side_size(h, w, p_.resize);
    const uint8_t* x = src;
    if (hw[0] != h || hw[1] != w) {
      uint8_t* r = grow(augment_scratch().view_b, static_cast<std::size_t>(hw[0]) * hw[1] * c);
      resize_bilinear(src, h, w, c, r, hw[0], hw[1]);
      x = r;
    }
    GCC_CHECK(p_.crop <= hw[0] && p_.crop <= hw[1], "EvalView: centre crop ", p_.crop, " is larger than the ",
              hw[0], "x", hw[1], " resized image (resize ", p_.resize, ")");
    const CropBox b = center_crop_box(hw[0], hw[1], p_.crop, p_.crop);
    const int64_t stride = static_cast<int64_t>(hw[1]) * c;
    norm_.apply(x + b.top * stride + static_cast<int64_t>(b.left) * c, p_.crop, p_.crop, c, stride, out);
  }
  void operator()(const uint8_t* img, int h, int w, int c, Rng& /*rng*/, float* out) const { apply(img, h, w, c, out); }

 private:
  EvalParams p_;
  Normalizer norm_;
};

// ------------------------------------------------------------------------------------------------
// Strong view (SCAN's "ours" strategy, GCC's self-labelling): RandomHorizontalFlip -> RandomCrop(C)
// (no padding: with the release's images already C x C it crops nothing) -> num_ops operations drawn
// with replacement from the 14, each with value U(lo, hi) and, for rotate/shear/translate, the sign
// flipped with p = 0.5 -> ToTensor -> Normalize -> Cutout(1 hole, length U{1..L}; see cutout()).
constexpr int kMaxStrongOps = 8;

struct StrongParams {
  int crop = 32;
  int num_ops = 4;
  int cutout = 16;  // L; 0 turns Cutout off
  int channels = 3;
  std::array<float, 3> mean{}, std{};
  static StrongParams from_preset(const ViewPreset& p) {
    StrongParams s;
    s.crop = p.strong_crop;
    s.cutout = p.cutout;
    s.channels = p.channels;
    s.mean = p.mean;
    s.std = p.std;
    return s;
  }
};

struct StrongDraw {
  bool flip = false;
  int top = 0, left = 0;  // RandomCrop's corner in the (flipped) image
  int num_ops = 0;
  std::array<StrongOp, kMaxStrongOps> ops{};
  std::array<double, kMaxStrongOps> values{};  // after the sign flip; translate: fraction of the size
  int cut_length = 0, cut_y = 0, cut_x = 0;    // Cutout's drawn length (0: none) and centre
};

class StrongView {
 public:
  StrongView() : StrongView(StrongParams::from_preset(view_preset("cifar"))) {}
  explicit StrongView(const StrongParams& p) : p_(p), norm_(p.channels, p.mean.data(), p.std.data()) {
    GCC_CHECK(p.crop > 0, "StrongView: crop ", p.crop, " must be positive");
    GCC_CHECK(p.num_ops >= 0 && p.num_ops <= kMaxStrongOps, "StrongView: num_ops ", p.num_ops, " not in 0..",
              kMaxStrongOps);
    GCC_CHECK(p.cutout >= 0, "StrongView: cutout length ", p.cutout, " must be >= 0");
  }
  explicit StrongView(const ViewPreset& preset) : StrongView(StrongParams::from_preset(preset)) {}

  const StrongParams& params() const { return p_; }
  int size() const { return p_.crop; }
  int channels() const { return p_.channels; }
  int64_t out_numel() const { return static_cast<int64_t>(p_.channels) * p_.crop * p_.crop; }

  StrongDraw sample(int h, int w, Rng& rng) const {
    GCC_CHECK(h >= p_.crop && w >= p_.crop, "StrongView: RandomCrop(", p_.crop, ") needs an image at least that "
              "large, got ", h, "x", w);
    StrongDraw d;
    d.flip = rng.uniform() < 0.5;
    if (h != p_.crop || w != p_.crop) {
      d.top = static_cast<int>(rng.below(static_cast<uint64_t>(h - p_.crop + 1)));
      d.left = static_cast<int>(rng.below(static_cast<uint64_t>(w - p_.crop + 1)));
    }
    d.num_ops = p_.num_ops;
    for (int k = 0; k < d.num_ops; ++k)  // random.choices(augment_list, k=n)
      d.ops[static_cast<std::size_t>(k)] = static_cast<StrongOp>(rng.below(kNumStrongOps));
    for (int k = 0; k < d.num_ops; ++k) {
      const StrongOpInfo& info = strong_op_info(d.ops[static_cast<std::size_t>(k)]);
      double v = rng.uniform(info.lo, info.hi);
      if (info.random_sign && rng.uniform() < 0.5) v = -v;
      d.values[static_cast<std::size_t>(k)] = v;
    }
    if (p_.cutout > 0) {
      d.cut_length = 1 + static_cast<int>(rng.below(static_cast<uint64_t>(p_.cutout)));
      d.cut_y = static_cast<int>(rng.below(static_cast<uint64_t>(p_.crop)));
      d.cut_x = static_cast<int>(rng.below(static_cast<uint64_t>(p_.crop)));
    }
    return d;
  }

  // out [channels, C, C] <- img [h, w, c] with the choices in d.
  void apply(const uint8_t* img, int h, int w, int c, const StrongDraw& d, float* out) const {
    check_image("StrongView", img, h, w, c);
    detail::check_view_channels("StrongView", c, p_.channels);
    const int C = p_.crop;
    GCC_CHECK(d.top >= 0 && d.left >= 0 && d.top + C <= h && d.left + C <= w, "StrongView: crop at (", d.top, ", ",
              d.left, ") of size ", C, " is not inside the ", h, "x", w, " image");
    GCC_CHECK(d.num_ops >= 0 && d.num_ops <= kMaxStrongOps, "StrongView: draw has ", d.num_ops, " operations");
    const uint8_t* src = detail::working_image(img, h, w, c, p_.channels);
    AugmentScratch& s = augment_scratch();
    const std::size_t n = static_cast<std::size_t>(C) * C * c;
    uint8_t* x = grow(s.view_a, n);
    uint8_t* spare = grow(s.view_b, n);
    // flip, then crop: x[y][j] = flipped[top + y][left + j] = src[top + y][w - 1 - left - j]
    const int64_t stride = static_cast<int64_t>(w) * c;
    for (int y = 0; y < C; ++y) {
      const uint8_t* row = src + (d.top + y) * stride;
      uint8_t* o = x + static_cast<int64_t>(y) * C * c;
      if (d.flip) {
        for (int j = 0; j < C; ++j)
          for (int ch = 0; ch < c; ++ch) o[j * c + ch] = row[(w - 1 - d.left - j) * c + ch];
      } else {
        std::memcpy(o, row + static_cast<int64_t>(d.left) * c, static_cast<std::size_t>(C) * c);
      }
    }
    for (int k = 0; k < d.num_ops; ++k)
      apply_strong_op(d.ops[static_cast<std::size_t>(k)], d.values[static_cast<std::size_t>(k)], x, spare, C, C, c);
    norm_.apply(x, C, C, c, static_cast<int64_t>(C) * c, out);
    if (d.cut_length > 0) cutout(out, p_.channels, C, C, d.cut_length, d.cut_y, d.cut_x);
  }

  void operator()(const uint8_t* img, int h, int w, int c, Rng& rng, float* out) const {
    apply(img, h, w, c, sample(h, w, rng), out);
  }

 private:
  StrongParams p_;
  Normalizer norm_;
};

}  // namespace data
}  // namespace gcc
