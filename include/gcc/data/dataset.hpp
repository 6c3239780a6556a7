// ImageDataset: every reader's result (n uint8 HWC images of one size, labels, class names), plus the
// file helpers the readers share (exact reads, sizes, default folders, the "dataset root missing" error).
#pragma once
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/rng.hpp"

namespace gcc {

// n images of height x width x channels uint8, stored image after image, each row-major HWC.
// The pixels live either in `pixels` (readers of binary formats) or in a read-only memory-mapped
// decoded-image cache (`mapped`, folder datasets; `pixels` is then empty): always read them through
// data() / image(i). labels[i] is the class index in [0, class_names.size()), or -1 (unlabelled).
struct ImageDataset {
  int64_t n = 0, height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;             // [n, H, W, C] HWC uint8 (empty when `mapped` is set)
  std::vector<int> labels;                 // [n]
  std::vector<std::string> class_names;    // [K]
  std::string name;                        // e.g. "cifar10/all", for messages and logs
  std::shared_ptr<const uint8_t> mapped;   // [n, H, W, C] in a memory-mapped cache file, or null

  int64_t image_bytes() const { return height * width * channels; }
  int num_classes() const { return static_cast<int>(class_names.size()); }
  const uint8_t* data() const { return mapped ? mapped.get() : pixels.data(); }
  const uint8_t* image(int64_t i) const {
    GCC_CHECK(i >= 0 && i < n, "ImageDataset::image: index ", i, " out of range for '", name, "' (",
              n, " images)");
    return data() + i * image_bytes();
  }
  // Number of images per label (index = label; unlabelled images are not counted).
  std::vector<int64_t> class_counts() const {
    std::vector<int64_t> c(class_names.size(), 0);
    for (int l : labels)
      if (l >= 0 && l < static_cast<int>(c.size())) ++c[static_cast<std::size_t>(l)];
    return c;
  }
};

// Images first..first+count-1 of `a` as a new in-memory dataset (copies the pixels).
inline ImageDataset slice(const ImageDataset& a, int64_t first, int64_t count) {
  GCC_CHECK(first >= 0 && count >= 0 && first + count <= a.n, "slice: images [", first, ", ",
            first + count, ") out of range for '", a.name, "' (", a.n, " images)");
  ImageDataset r;
  r.n = count;
  r.height = a.height;
  r.width = a.width;
  r.channels = a.channels;
  r.class_names = a.class_names;
  r.name = a.name;
  r.labels.assign(a.labels.begin() + first, a.labels.begin() + first + count);
  const uint8_t* src = a.data() + first * a.image_bytes();
  r.pixels.assign(src, src + count * a.image_bytes());
  return r;
}

// Concatenation in the order given (all parts must share H, W, C); class names from the first part
// that has any. Copies the pixels.
inline ImageDataset concat(const std::vector<const ImageDataset*>& parts, const std::string& name) {
  GCC_CHECK(!parts.empty(), "concat: no datasets given for '", name, "'");
  ImageDataset r;
  r.height = parts[0]->height;
  r.width = parts[0]->width;
  r.channels = parts[0]->channels;
  r.name = name;
  int64_t total = 0;
  for (const ImageDataset* p : parts) {
    GCC_CHECK(p->height == r.height && p->width == r.width && p->channels == r.channels, "concat: '",
              p->name, "' holds ", p->height, "x", p->width, "x", p->channels, " images, '",
              parts[0]->name, "' holds ", r.height, "x", r.width, "x", r.channels);
    total += p->n;
    if (r.class_names.empty()) r.class_names = p->class_names;
  }
  r.n = total;
  r.pixels.resize(static_cast<std::size_t>(total * r.image_bytes()));
  r.labels.reserve(static_cast<std::size_t>(total));
  uint8_t* dst = r.pixels.data();
  for (const ImageDataset* p : parts) {
    const std::size_t bytes = static_cast<std::size_t>(p->n * p->image_bytes());
    if (bytes) std::memcpy(dst, p->data(), bytes);
    dst += bytes;
    r.labels.insert(r.labels.end(), p->labels.begin(), p->labels.end());
  }
  return r;
}

// `count` indices of [0, n) drawn without replacement by a permutation seeded with `seed`, in
// increasing order: the images random_subset keeps.
inline std::vector<int64_t> random_subset_indices(int64_t n, int64_t count, uint64_t seed) {
  GCC_CHECK(count > 0 && count <= n, "random_subset_indices: ", count, " indices asked of ", n);
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  Rng rng(seed ^ 0x5EED5EED5EED5EEDULL);  // its own stream, not the model's
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(rng.below(static_cast<uint64_t>(i + 1)))]);
  order.resize(static_cast<std::size_t>(count));
  std::sort(order.begin(), order.end());
  return order;
}

// `count` images of `d` drawn without replacement by a permutation seeded with `seed`, kept in
// increasing index order (copies the pixels).
inline ImageDataset random_subset(const ImageDataset& d, int64_t count, uint64_t seed) {
  GCC_CHECK(count > 0 && count <= d.n, "random_subset: ", count, " images asked of '", d.name, "' which has ", d.n);
  const std::vector<int64_t> order = random_subset_indices(d.n, count, seed);
  ImageDataset r;
  r.n = count;
  r.height = d.height;
  r.width = d.width;
  r.channels = d.channels;
  r.class_names = d.class_names;
  r.name = d.name + "[subset " + std::to_string(count) + "]";
  r.pixels.resize(static_cast<std::size_t>(count * d.image_bytes()));
  r.labels.resize(static_cast<std::size_t>(count));
  for (int64_t k = 0; k < count; ++k) {
    const int64_t i = order[static_cast<std::size_t>(k)];
    std::memcpy(r.pixels.data() + k * d.image_bytes(), d.image(i), static_cast<std::size_t>(d.image_bytes()));
    r.labels[static_cast<std::size_t>(k)] = i < static_cast<int64_t>(d.labels.size()) ? d.labels[static_cast<std::size_t>(i)] : -1;
  }
  return r;
}

// Grey <-> RGB: 1 -> 3 channels replicates the grey value (as PIL's convert("RGB")); 3 -> 1 uses
// PIL's convert("L") rule L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16. Returns a copy.
inline ImageDataset to_channels(const ImageDataset& a, int channels) {
  GCC_CHECK(channels == 1 || channels == 3, "to_channels: channels must be 1 or 3, got ", channels);
  GCC_CHECK(a.channels == 1 || a.channels == 3, "to_channels: '", a.name, "' has ", a.channels,
            " channels; only 1 and 3 are supported");
  if (a.channels == channels) return slice(a, 0, a.n);
  ImageDataset r;
  r.n = a.n;
  r.height = a.height;
  r.width = a.width;
  r.channels = channels;
  r.labels = a.labels;
  r.class_names = a.class_names;
  r.name = a.name;
  const int64_t px = a.n * a.height * a.width;
  r.pixels.resize(static_cast<std::size_t>(px * channels));
  const uint8_t* s = a.data();
  uint8_t* d = r.pixels.data();
  if (channels == 3) {
    for (int64_t i = 0; i < px; ++i) d[3 * i] = d[3 * i + 1] = d[3 * i + 2] = s[i];
  } else {
    for (int64_t i = 0; i < px; ++i)
      d[i] = static_cast<uint8_t>((s[3 * i] * 19595u + s[3 * i + 1] * 38470u + s[3 * i + 2] * 7471u +
                                   0x8000u) >> 16);
  }
  return r;
}

namespace data_detail {

inline bool path_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}
inline bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
inline bool is_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
// Size in bytes (follows symbolic links), or -1 when the file cannot be stat'ed.
inline int64_t file_size(const std::string& p) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_size);
}
// a/b; an absolute b is returned as is (list files may hold absolute paths).
inline std::string join(const std::string& a, const std::string& b) {
  if (a.empty() || (!b.empty() && b[0] == '/')) return b;
  return a.back() == '/' ? a + b : a + "/" + b;
}

// $GCC_DATA_DIR, else $XDG_CACHE_HOME/gcc-toolkit, else $HOME/.cache/gcc-toolkit: where the
// data_scripts put datasets by default (the same rule is in data_scripts/common.sh).
inline std::string default_data_dir() {
  if (const char* d = std::getenv("GCC_DATA_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return join(x, "gcc-toolkit");
  const char* h = std::getenv("HOME");
  return join(h && *h ? h : ".", ".cache/gcc-toolkit");
}

// The error for a dataset root that does not exist or lacks the expected files.
[[noreturn]] inline void missing_root(const std::string& reader, const std::string& root,
                                      const std::string& expected, const std::string& fetch) {
  GCC_FAIL(reader, ": dataset root '", root, "' ", (path_exists(root) ? "lacks " : "does not exist; expected "),
           expected, ". ", fetch);
}

// When `root/sub` holds `marker`, the data is one level down (the archive's top folder): use it.
inline std::string descend_if(const std::string& root, const std::string& sub, const std::string& marker) {
  if (!path_exists(join(root, marker)) && path_exists(join(join(root, sub), marker))) return join(root, sub);
  return root;
}

// Reads exactly `bytes` bytes at `offset` of `path` into dst; throws naming the file otherwise.
inline void read_exact(const std::string& reader, const std::string& path, int64_t offset, int64_t bytes,
                       void* dst) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  GCC_CHECK(f != nullptr, reader, ": cannot open '", path, "' for reading (", std::strerror(errno), ")");
  bool ok = std::fseek(f, static_cast<long>(offset), SEEK_SET) == 0;
  const std::size_t got = ok ? std::fread(dst, 1, static_cast<std::size_t>(bytes), f) : 0;
  std::fclose(f);
  GCC_CHECK(got == static_cast<std::size_t>(bytes), reader, ": '", path, "': read ", got, " of ", bytes,
            " bytes at offset ", offset, "; the file is truncated or unreadable");
}

// Non-empty lines of a text file, trailing whitespace (\r included) removed.
inline std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  GCC_CHECK(in.good(), "cannot open '", path, "' for reading");
  std::vector<std::string> lines;
  std::string s;
  while (std::getline(in, s)) {
    while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
      s.pop_back();
    if (!s.empty()) lines.push_back(s);
  }
  return lines;
}

}  // namespace data_detail
}  // namespace gcc
