// Shared pieces of the augmentation pipelines (data/augment*.hpp): per-thread scratch buffers, PIL's
// rounding rules (products never fused, blend, RGB->L), ToTensor+Normalize as a lookup table, presets.
//
// Images are uint8, H x W x C row-major (HWC), C = 1 (grey, PIL "L") or 3 (RGB), as the readers give
// them; every step rounds to uint8 where PIL does, so the views match torchvision on PIL images.
#pragma once
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gcc/core/error.hpp"

namespace gcc {
namespace data {

// Per-thread scratch buffers. They grow to the largest image seen and never shrink, so a view
// allocates nothing once warm. view_* belong to the views (SimclrView, EvalView, StrongView); op_*
// to the building blocks (a building block never calls another one that uses the same buffer).
struct AugmentScratch {
  std::vector<uint8_t> view_a, view_b, view_c;
  std::vector<uint8_t> op_tmp;      // resample's horizontal pass, sharpness's smoothed image
  std::vector<int32_t> op_acc;      // resample's vertical accumulators
  std::vector<int> bounds_x, bounds_y;
  std::vector<double> coeff_d;
  std::vector<int32_t> coeff_x, coeff_y;
};
inline AugmentScratch& augment_scratch() {
  thread_local AugmentScratch s;
  return s;
}
template <typename T>
T* grow(std::vector<T>& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

namespace pil {

// A product rounded on its own, never fused into a multiply-add (a build with -march=native may
// contract a*b+c into an FMA): PIL built for baseline x86-64 rounds every product, and so must we to
// give the same uint8 values.
inline float mulf(float a, float b) {
  volatile float p = a * b;
  return p;
}
inline double muld(double a, double b) {
  volatile double p = a * b;
  return p;
}

// PIL's ImagingBlend on one 8-bit value (Image.blend(a, b, alpha), the core of ImageEnhance):
// a + alpha * (b - a) in float; truncated when 0 <= alpha <= 1, clipped to [0, 255] otherwise.
inline uint8_t blend(int a, int b, float alpha) {
  const float t = static_cast<float>(a) + mulf(alpha, static_cast<float>(b - a));
  if (alpha >= 0.f && alpha <= 1.f) return static_cast<uint8_t>(t);
  if (t <= 0.f) return 0;
  if (t >= 255.f) return 255;
  return static_cast<uint8_t>(t);
}

// PIL's RGB -> L (Convert.c): (19595 R + 38470 G + 7471 B + 0x8000) >> 16, i.e. ITU-R 601-2 luma
// R*299/1000 + G*587/1000 + B*114/1000 in 16-bit fixed point, rounded.
inline uint8_t luma(int r, int g, int b) {
  return static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

}  // namespace pil

inline void check_image(const char* op, const uint8_t* img, int h, int w, int c) {
  GCC_CHECK(img != nullptr, op, ": image pointer is null");
  GCC_CHECK(h > 0 && w > 0, op, ": image is ", h, "x", w, ", expected a positive height and width");
  GCC_CHECK(c == 1 || c == 3, op, ": image has ", c, " channels, expected 1 (grey) or 3 (RGB)");
}

// Converts an RGB image to PIL "L" (one channel): dst [H, W, 1] <- src [H, W, 3].
inline void rgb_to_luma(const uint8_t* src /*[H, W, 3]*/, int64_t pixels, uint8_t* dst /*[H, W, 1]*/) {
  for (int64_t i = 0; i < pixels; ++i) dst[i] = pil::luma(src[3 * i], src[3 * i + 1], src[3 * i + 2]);
}

// torchvision's ToTensor + Normalize in float32: ((u / 255) - mean) / std per channel, as a table of the
// 256 possible values per channel (the same float operations, so the same float results).
class Normalizer {
 public:
  Normalizer() = default;
  Normalizer(int channels, const float* mean, const float* std) : channels_(channels) {
    GCC_CHECK(channels == 1 || channels == 3, "Normalizer: ", channels, " channels, expected 1 or 3");
    for (int ch = 0; ch < channels; ++ch) {
      GCC_CHECK(std[ch] > 0.f, "Normalizer: std of channel ", ch, " is ", std[ch], ", expected > 0");
      for (int u = 0; u < 256; ++u) {
        const float x = static_cast<float>(u) / 255.0f;
        lut_[static_cast<std::size_t>(ch * 256 + u)] = (x - mean[ch]) / std[ch];
      }
    }
  }
  int channels() const { return channels_; }
  float value(int ch, int u) const { return lut_[static_cast<std::size_t>(ch * 256 + u)]; }

  // out [channels, H, W] <- img [H, W, cin], rows `stride` values apart (stride = W * cin when dense).
  // cin == channels, or cin == 1 with channels == 3 (a grey image given to a 3-channel network: PIL's
  // L -> RGB conversion copies the grey value into the three channels).
  void apply(const uint8_t* img, int h, int w, int cin, int64_t stride, float* out) const {
    GCC_CHECK(channels_ > 0, "Normalizer: used before it was given a mean and std");
    GCC_CHECK(cin == channels_ || (cin == 1 && channels_ == 3), "Normalizer: image has ", cin,
              " channels, the normalisation has ", channels_);
    const int64_t plane = static_cast<int64_t>(h) * w;
    for (int ch = 0; ch < channels_; ++ch) {
      const float* lut = &lut_[static_cast<std::size_t>(ch * 256)];
      const int src_ch = cin == 1 ? 0 : ch;
      float* o = out + ch * plane;
      for (int y = 0; y < h; ++y) {
        const uint8_t* row = img + y * stride + src_ch;
        for (int x = 0; x < w; ++x) o[x] = lut[row[x * cin]];
        o += w;
      }
    }
  }

 private:
  int channels_ = 0;
  std::array<float, 3 * 256> lut_{};
};

// What a dataset family's views look like (SPEC §3 for the release's six datasets).
struct ViewPreset {
  std::string name;
  int train_size = 0;    // S: SimCLR views are S x S (RandomResizedCrop size)
  int eval_resize = 0;   // R: the evaluation view resizes the shorter side to R ...
  int eval_crop = 0;     // C: ... and centre-crops C x C
  int strong_crop = 0;   // the strong view's RandomCrop size (no padding)
  int cutout = 0;        // L: the strong view's Cutout draws its length in 1..L
  int channels = 3;      // output channels: 3, or 1 for the grey Fashion-MNIST default
  std::array<float, 3> mean{}, std{};  // per output channel (the first `channels` are used)
};

// Presets by family name:
//   "cifar"  (also cifar10, cifar-10, cifar20, cifar-20, cifar100): S 32, eval (40, 32), strong crop 32,
//            Cutout 16, CIFAR mean/std -- the release's CIFAR-10/20 configs.
//   "stl"    (also stl10, stl-10, imagenet10, imagenet-10, imagenet_dogs, imagenet-dogs, dogs): S 96,
//            eval (112, 96), strong crop 96, Cutout 32, ImageNet mean/std -- the release's STL-10 and
//            ImageNet-10/Dogs configs.
//   "tiny"   (also tiny-imagenet, tiny_imagenet): S 64, eval (80, 64), strong crop 64, ImageNet mean/std;
//            Cutout 32 is our choice (the release has no self-labelling config for Tiny-ImageNet).
//   "fashion-mnist" (also fashion_mnist, fmnist): 28x28 grey, 1 channel, mean 0.2860, std 0.3530; S 28,
//            eval (28, 28) (the whole image), strong crop 28, Cutout 14 -- our choices for the CPU default,
//            not from the release.
inline ViewPreset view_preset(const std::string& family) {
  std::string f = family;
  std::transform(f.begin(), f.end(), f.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  const std::array<float, 3> cifar_mean{0.4914f, 0.4822f, 0.4465f}, cifar_std{0.2023f, 0.1994f, 0.2010f};
  const std::array<float, 3> inet_mean{0.485f, 0.456f, 0.406f}, inet_std{0.229f, 0.224f, 0.225f};
  ViewPreset p;
  if (f == "cifar" || f == "cifar10" || f == "cifar-10") {
    p = ViewPreset{"cifar", 32, 40, 32, 32, 16, 3, cifar_mean, cifar_std};
  } else if (f == "cifar20" || f == "cifar-20" || f == "cifar100" || f == "cifar-100") {
    // CIFAR-100's statistics, as the release's end2end_cifar20.yml (SPEC §3)
    p = ViewPreset{"cifar-20", 32, 40, 32, 32, 16, 3, {0.5071f, 0.4867f, 0.4408f}, {0.2675f, 0.2565f, 0.2761f}};
  } else if (f == "stl" || f == "stl10" || f == "stl-10" || f == "imagenet10" || f == "imagenet-10" ||
             f == "imagenet_dogs" || f == "imagenet-dogs" || f == "dogs") {
    p = ViewPreset{"stl", 96, 112, 96, 96, 32, 3, inet_mean, inet_std};
  } else if (f == "tiny" || f == "tiny-imagenet" || f == "tiny_imagenet") {
    p = ViewPreset{"tiny", 64, 80, 64, 64, 32, 3, inet_mean, inet_std};
  } else if (f == "fashion-mnist" || f == "fashion_mnist" || f == "fmnist") {
    p = ViewPreset{"fashion-mnist", 28, 28, 28, 28, 14, 1, {0.2860f, 0.f, 0.f}, {0.3530f, 1.f, 1.f}};
  } else {
    GCC_FAIL("view_preset: unknown dataset family '", family,
              "' (known: cifar, cifar-20, stl, tiny, fashion-mnist and their aliases cifar10, cifar100, stl10, "
              "imagenet10, imagenet_dogs, tiny-imagenet, fashion_mnist)");
  }
  return p;
}

}  // namespace data
}  // namespace gcc
