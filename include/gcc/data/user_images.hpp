// A user's own images as an ImageDataset: a folder (class sub-folders give labels; a flat folder has
// none), a list file, an IDX pair or a uint8 .npy array with optional labels. Sizes and channel counts
// are checked up front (every file's header), so a mixed folder fails naming the odd file before any
// decoding; files whose header cannot be read (data/image_decode.hpp read_image_header) are skipped and
// reported.
//
//   gcc::UserImagesOptions o;  o.kind = "folder";  o.path = "~/photos";
//   gcc::UserImages u = gcc::read_user_images(o);   // u.images, u.skipped, u.paths
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../core/parallel.hpp"
#include "../io/npy.hpp"
#include "dataset.hpp"
#include "idx.hpp"
#include "image_cache.hpp"
#include "image_folder.hpp"

namespace gcc {

struct UserImagesOptions {
  std::string kind;          // folder, list, idx or npy
  std::string path;          // the folder, the list file, the IDX images file or the .npy images array
  std::string labels_path;   // idx / npy: the labels file ("" = unlabelled)
  bool unlabelled = false;   // ignore labels (class sub-folders, list labels, the labels file)
  int image_size = 0;        // > 0: every image becomes S x S (shorter side to S, centre crop); 0: as stored
  int max_size = 0;          // with image_size 0: images whose shorter side exceeds this become max_size square
  bool use_cache = true;     // folder / list: keep decoded images in the image cache (image_cache.hpp)
  bool verbose = true;       // folder / list: one line on stderr when the cache is (re)built
};

struct UserImages {
  ImageDataset images;               // [N, H, W, C] uint8, labels -1 where unlabelled
  std::vector<std::string> paths;    // [N] the file of each image (folder, list), else "" (arrays)
  std::vector<std::string> skipped;  // files left out because their header could not be read
  bool labelled() const {
    for (int l : images.labels)
      if (l >= 0) return true;
    return false;
  }
};

inline const std::vector<std::string>& user_image_kinds() {
  static const std::vector<std::string> k = {"folder", "list", "idx", "npy"};
  return k;
}
inline bool is_user_image_kind(const std::string& kind) {
  const auto& k = user_image_kinds();
  return std::find(k.begin(), k.end(), kind) != k.end();
}

namespace data_detail {

inline std::string shape_list(const std::vector<int64_t>& shape) {
  std::string s;
  for (int64_t d : shape) s += (s.empty() ? "" : ", ") + std::to_string(d);
  return s;
}

struct ImageHeader {
  int height = 0, width = 0, channels = 0;  // channels as stored: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
  bool ok = false;
};
inline int colour_channels(int stored) { return stored <= 2 ? 1 : 3; }

// Every listed file's size and channel count from its header (in parallel).
inline std::vector<ImageHeader> read_headers(const ImageList& list) {
  std::vector<ImageHeader> h(list.entries.size());
  parallel_for(static_cast<int64_t>(h.size()), [&](int64_t i) {
    ImageHeader& x = h[static_cast<std::size_t>(i)];
    x.ok = read_image_header(join(list.root, list.entries[static_cast<std::size_t>(i)].path), x.width, x.height,
                             x.channels);
  });
  return h;
}

// The most common value of f over the readable headers.
template <typename F>
int most_common(const std::vector<ImageHeader>& h, F f) {
  std::vector<std::pair<int, int64_t>> counts;
  for (const ImageHeader& x : h) {
    if (!x.ok) continue;
    auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == f(x); });
    if (it == counts.end()) counts.emplace_back(f(x), 1);
    else ++it->second;
  }
  auto best = std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  return best == counts.end() ? 0 : best->first;
}

// Drops unreadable files (into u.skipped), checks one channel count, and one size unless resizing;
// returns the stored side S of the cache (the shorter side of the common size, or opt.image_size).
inline int check_folder_images(ImageList& list, const UserImagesOptions& opt, UserImages& u, int& channels) {
  const std::vector<ImageHeader> h = read_headers(list);
  std::vector<ImageEntry> kept;
  std::vector<ImageHeader> kept_h;
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (h[i].ok) {
      kept.push_back(list.entries[i]);
      kept_h.push_back(h[i]);
    } else {
      u.skipped.push_back(join(list.root, list.entries[i].path));
    }
  }
  GCC_CHECK(!kept.empty(), "read_user_images: none of the ", h.size(), " image files under '", list.root,
            "' can be read (the first: '", u.skipped.front(), "'); expected PNG, JPEG or BMP files");
  list.entries = std::move(kept);
  channels = colour_channels(most_common(kept_h, [](const ImageHeader& x) { return colour_channels(x.channels); }));
  const int hh = most_common(kept_h, [](const ImageHeader& x) { return x.height; });
  const int ww = most_common(kept_h, [](const ImageHeader& x) { return x.width; });
  for (std::size_t i = 0; i < kept_h.size(); ++i) {
    const std::string file = join(list.root, list.entries[i].path);
    GCC_CHECK(colour_channels(kept_h[i].channels) == channels, "read_user_images: '", file, "' has ",
              colour_channels(kept_h[i].channels) == 1 ? "1 channel (grey)" : "3 channels (colour)", " but most images of '",
              list.root, "' have ", channels, "; expected one channel count: convert the odd files or remove them");
    GCC_CHECK(opt.image_size > 0 || (kept_h[i].height == hh && kept_h[i].width == ww), "read_user_images: '", file,
              "' is ", kept_h[i].width, "x", kept_h[i].height, " pixels but most images of '", list.root, "' are ", ww,
              "x", hh, "; expected one size: pass --image-size S to resize every image to S x S, or remove the file");
  }
  const int side = std::min(hh, ww);
  return opt.image_size > 0 ? opt.image_size : opt.max_size > 0 ? std::min(side, opt.max_size) : side;
}

inline UserImages read_listed_images(ImageList list, const UserImagesOptions& opt) {
  UserImages u;
  int channels = 3;
  ImageCacheOptions co;
  co.size = check_folder_images(list, opt, u, channels);
  co.channels = channels;
  co.use_cache = opt.use_cache;
  co.verbose = opt.verbose;
  if (opt.unlabelled) {
    for (ImageEntry& e : list.entries) e.label = -1;
    list.class_names.clear();
  }
  u.images = load_image_list(list, co);
  for (const ImageEntry& e : list.entries) u.paths.push_back(join(list.root, e.path));
  return u;
}

// Labels from a .npy file: an integer array of n values >= -1 (-1 = unlabelled).
inline std::vector<int> read_npy_labels(const std::string& path, int64_t n) {
  const io::NpyArray a = io::read_npy(path);
  GCC_CHECK(a.descr != "<f4" && a.descr != "<f8", "read_user_images: '", path, "' holds ", a.descr, " values; expected "
            "integer labels (int64, int32 or uint8)");
  GCC_CHECK(a.shape.size() == 1 && a.shape[0] == n, "read_user_images: '", path, "' holds labels of shape [",
            shape_list(a.shape), "]; expected [", n, "], one per image");
  std::vector<int> labels;
  for (int64_t v : a.i64()) {
    GCC_CHECK(v >= -1 && v < (int64_t{1} << 30), "read_user_images: '", path, "' holds the label ", v,
              "; expected class indices 0, 1, ... (or -1 for an unlabelled image)");
    labels.push_back(static_cast<int>(v));
  }
  return labels;
}

inline ImageDataset read_npy_images(const std::string& path) {
  const io::NpyArray a = io::read_npy(path);
  GCC_CHECK(a.descr == "|u1", "read_user_images: '", path, "' holds ", a.descr, " values; expected uint8 pixels (|u1) "
            "of shape [N, H, W] or [N, H, W, C]: convert with numpy's .astype(np.uint8)");
  const std::size_t r = a.shape.size();
  GCC_CHECK(r == 3 || (r == 4 && (a.shape[3] == 1 || a.shape[3] == 3)), "read_user_images: '", path,
            "' has shape [", shape_list(a.shape), "]; expected [N, H, W] or [N, H, W, C] with C = 1 or 3");
  ImageDataset d;
  d.n = a.shape[0];
  d.height = a.shape[1];
  d.width = a.shape[2];
  d.channels = r == 4 ? a.shape[3] : 1;
  GCC_CHECK(d.n > 0 && d.height > 0 && d.width > 0, "read_user_images: '", path, "' holds no image (shape [",
            shape_list(a.shape), "])");
  d.pixels.assign(a.data.begin(), a.data.end());
  d.labels.assign(static_cast<std::size_t>(d.n), -1);
  return d;
}

// Every image to S x S (shorter side to S, centre crop; PIL's bilinear), in place.
inline void resize_images(ImageDataset& d, int S) {
  if (d.height == S && d.width == S) return;
  std::vector<uint8_t> out(static_cast<std::size_t>(d.n * S * S * d.channels));
  const int64_t per = static_cast<int64_t>(S) * S * d.channels;
  parallel_for(d.n, [&](int64_t i) {
    resize_shorter_center_crop(d.image(i), static_cast<int>(d.height), static_cast<int>(d.width),
                               static_cast<int>(d.channels), S, out.data() + i * per);
  });
  d.pixels = std::move(out);
  d.mapped.reset();
  d.height = d.width = S;
}

// Class names "0".."K-1" for labels up to K-1 (arrays carry no names).
inline void name_classes(ImageDataset& d) {
  int k = 0;
  for (int l : d.labels) k = std::max(k, l + 1);
  d.class_names.clear();
  for (int c = 0; c < k; ++c) d.class_names.push_back(std::to_string(c));
}

}  // namespace data_detail

// Reads the images `opt` describes (see the top of this file). Errors name the file and what was expected.
inline UserImages read_user_images(const UserImagesOptions& opt) {
  using namespace data_detail;
  GCC_CHECK(is_user_image_kind(opt.kind), "read_user_images: unknown kind '", opt.kind, "'; expected folder, list, idx or npy");
  GCC_CHECK(!opt.path.empty(), "read_user_images: no path given for the ", opt.kind, " source (--data-root)");
  GCC_CHECK(opt.image_size >= 0, "read_user_images: image_size ", opt.image_size, " must be >= 0");
  if (opt.kind == "folder") return read_listed_images(list_user_folder(opt.path, !opt.unlabelled, "folder"), opt);
  if (opt.kind == "list") return read_listed_images(read_image_list_file(opt.path, "", {}, "list"), opt);
  UserImages u;
  if (opt.kind == "idx") {
    u.images = read_idx(opt.path, opt.unlabelled ? "" : opt.labels_path, {}, "idx");
  } else {
    u.images = read_npy_images(opt.path);
    if (!opt.labels_path.empty() && !opt.unlabelled) u.images.labels = read_npy_labels(opt.labels_path, u.images.n);
  }
  GCC_CHECK(u.images.n > 0, "read_user_images: '", opt.path, "' holds no image");
  u.images.name = opt.kind;
  name_classes(u.images);
  const int side = static_cast<int>(std::min(u.images.height, u.images.width));
  if (opt.image_size > 0) resize_images(u.images, opt.image_size);
  else if (opt.max_size > 0 && side > opt.max_size) resize_images(u.images, opt.max_size);
  u.paths.assign(static_cast<std::size_t>(u.images.n), std::string());
  return u;
}

// Per-channel mean and standard deviation of the pixels in [0, 1] (the normalisation statistics of the
// data, as torchvision's Normalize takes them), over every image.
inline void pixel_stats(const ImageDataset& d, std::vector<double>& mean, std::vector<double>& stdev) {
  const int64_t C = d.channels, px = d.n * d.height * d.width;
  std::vector<double> s(static_cast<std::size_t>(C), 0.0), s2(static_cast<std::size_t>(C), 0.0);
  const uint8_t* p = d.data();
  for (int64_t i = 0; i < px; ++i)
    for (int64_t c = 0; c < C; ++c) {
      const double v = p[i * C + c] / 255.0;
      s[static_cast<std::size_t>(c)] += v;
      s2[static_cast<std::size_t>(c)] += v * v;
    }
  mean.assign(static_cast<std::size_t>(C), 0.0);
  stdev.assign(static_cast<std::size_t>(C), 0.0);
  for (std::size_t c = 0; c < static_cast<std::size_t>(C); ++c) {
    mean[c] = s[c] / static_cast<double>(px);
    stdev[c] = std::sqrt(std::max(0.0, s2[c] / static_cast<double>(px) - mean[c] * mean[c]));
  }
}

}  // namespace gcc
