// Decoded-image cache for folder datasets: decodes every listed image once, resizes it to S x S
// (PIL-exact antialiased bilinear), stores all of them in one uint8 file and memory-maps it later.
//
// Resize rule (= torchvision's Resize(S) then CenterCrop(S) on a PIL image): the shorter side becomes S,
// the longer int(S * long / short); bilinear with PIL's antialiasing (filter support scaled by the
// downscale factor, 22-bit fixed-point coefficients, horizontal pass first, uint8 between passes, so the
// result equals PIL's Image.resize(..., BILINEAR) bit for bit on the same decoded pixels); then the
// centre S x S crop at top = round((h - S) / 2), left = round((w - S) / 2) (round half to even, as
// Python's round). An image already S x S is kept as is. Checked bit-exact against torchvision 0.14 /
// Pillow 9.4 (500x375 -> 64, 96, 112, 300, 600). JPEG files are decoded by libjpeg-turbo, as PIL
// decodes them (data/jpeg_decode.hpp), so JPEG sources match torchvision too.
//
// Cache file (little-endian, one per dataset, size and channel count; written to a temp file and
// renamed into place, so it is either complete or absent):
//   char[8] "GCCIMG\0\0"; u32 version (1); u32 0x01020304 (byte-order check);
//   u64 n, height, width, channels; u64 source hash; u64 meta bytes; u64 pixel offset;
//   meta: i32 labels[n]; u32 K; K x (u32 length, bytes) class names; u32 length, bytes dataset name;
//   zero padding to the pixel offset (a multiple of 4096); uint8 pixels [n, S, S, C].
// The source hash covers the format version, S, C, and every listed image's relative path, byte size
// and label, in list order, plus the class names: when any of them changes the cache is rebuilt.
// A rebuild replaces the file by rename, so a process still mapping the old one keeps valid pixels;
// never truncate or rewrite a cache file in place while a program maps it (reads past the new end
// would fault). Delete a cache file at any time to force a rebuild.
#pragma once
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/parallel.hpp"
#include "dataset.hpp"
#include "image_decode.hpp"
#include "resample_pil.hpp"

namespace gcc {

// One image of a folder dataset: its path relative to the list's root, and its label.
struct ImageEntry {
  std::string path;
  int label = -1;
};

// The images of a folder dataset, in dataset order.
struct ImageList {
  std::string root;                      // entries' paths are relative to this folder
  std::vector<ImageEntry> entries;
  std::vector<std::string> class_names;
  std::string name;                      // e.g. "imagenet10", used in messages and cache file names
};

// How a folder dataset becomes an ImageDataset.
struct ImageCacheOptions {
  int size = 0;              // S: every image becomes S x S (rule above); required
  int channels = 3;          // 3 (grey images replicated) or 1 (luma)
  bool use_cache = true;     // false: decode into memory on every call, no file
  std::string cache_path;    // "" = default_image_cache_path(list, size, channels)
  bool verbose = true;       // one line on stderr when a cache is (re)built
};

namespace data_detail {

constexpr uint32_t kCacheVersion = 1;
// The decoders whose pixels a cache holds (hashed into its key: caches written with stb_image's JPEG
// decoder, before libjpeg-turbo, are rebuilt).
constexpr const char* kCacheDecoders = "jpeg:libjpeg-turbo png,bmp:stb_image";
constexpr char kCacheMagic[8] = {'G', 'C', 'C', 'I', 'M', 'G', '\0', '\0'};

struct Fnv64 {
  uint64_t h = 1469598103934665603ULL;
  void bytes(const void* p, std::size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
  }
  void str(const std::string& s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
  void u64(uint64_t v) { bytes(&v, sizeof v); }
};

// Memory mapping, unmapped when the last ImageDataset using it goes away.
struct Mapping {
  void* addr = nullptr;
  std::size_t len = 0;
  Mapping(void* a, std::size_t l) : addr(a), len(l) {}
  ~Mapping() {
    if (addr) ::munmap(addr, len);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
};

inline std::string sanitize(const std::string& s) {
  std::string r;
  for (char ch : s) r += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_') ? ch : '-';
  return r.empty() ? "images" : r;
}

// Decodes and resizes images [first, first + count) of the list into dst [count, S, S, C], in parallel;
// throws the first failure (naming the file) after the chunk.
inline void decode_chunk(const ImageList& list, const ImageCacheOptions& opt, int64_t first, int64_t count,
                         uint8_t* dst) {
  const int64_t bytes = static_cast<int64_t>(opt.size) * opt.size * opt.channels;
  std::vector<std::string> errors(static_cast<std::size_t>(count));
  parallel_for(count, [&](int64_t i) {
    const ImageEntry& e = list.entries[static_cast<std::size_t>(first + i)];
    try {
      const DecodedImage img = decode_image_file(join(list.root, e.path), opt.channels);
      resize_shorter_center_crop(img.pixels.data(), img.height, img.width, img.channels, opt.size, dst + i * bytes);
    } catch (const std::exception& ex) {
      errors[static_cast<std::size_t>(i)] = ex.what();
    }
  });
  for (const std::string& m : errors)
    GCC_CHECK(m.empty(), m, " (image of dataset '", list.name, "'; fix or remove the file, the cache is rebuilt)");
}

inline void check_options(const ImageList& list, const ImageCacheOptions& opt) {
  GCC_CHECK(opt.size > 0, "load_image_list: '", list.name, "': ImageCacheOptions::size (the side S of the stored ",
            "S x S images) must be set, e.g. 96 or 112 for ImageNet-10, 64 for Tiny-ImageNet");
  GCC_CHECK(opt.channels == 1 || opt.channels == 3, "load_image_list: channels must be 1 or 3, got ", opt.channels);
  GCC_CHECK(!list.entries.empty(), "load_image_list: '", list.name, "' (root '", list.root, "') lists no images");
}

}  // namespace data_detail

// Hash of what a cache depends on: S, C, format version, each entry's path, byte size (stat'ed now;
// a missing file throws naming it) and label, and the class names.
inline uint64_t image_list_hash(const ImageList& list, int size, int channels) {
  using namespace data_detail;
  Fnv64 h;
  h.u64(kCacheVersion);
  h.str(kCacheDecoders);  // pixels decoded by other decoders are another cache
  h.u64(static_cast<uint64_t>(size));
  h.u64(static_cast<uint64_t>(channels));
  h.u64(list.entries.size());
  for (const ImageEntry& e : list.entries) {
    const std::string full = join(list.root, e.path);
    const int64_t bytes = file_size(full);
    GCC_CHECK(bytes >= 0, "image list '", list.name, "': '", full, "' is missing (", std::strerror(errno),
              "); re-create the list or restore the file");
    h.str(e.path);
    h.u64(static_cast<uint64_t>(bytes));
    h.u64(static_cast<uint64_t>(static_cast<int64_t>(e.label)));
  }
  h.u64(list.class_names.size());
  for (const std::string& n : list.class_names) h.str(n);
  return h.h;
}

// $GCC_CACHE_DIR, else <default data dir>/image-cache, then "<name>-<S>px-<C>c-<hash of the absolute
// root>.gccimg": one file per dataset location, size and channel count (replaced when stale).
inline std::string default_image_cache_path(const ImageList& list, int size, int channels) {
  using namespace data_detail;
  std::string dir;
  if (const char* d = std::getenv("GCC_CACHE_DIR"); d && *d) dir = d;
  else dir = join(default_data_dir(), "image-cache");
  std::error_code ec;
  std::string abs = std::filesystem::absolute(list.root, ec).lexically_normal().string();
  if (ec) abs = list.root;
  Fnv64 h;
  h.str(abs);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h.h));
  return join(dir, sanitize(list.name) + "-" + std::to_string(size) + "px-" + std::to_string(channels) + "c-" +
                       std::string(hex, 8) + ".gccimg");
}

// Maps the cache at `path` when it is complete and matches `hash`, S and C; returns false (and leaves
// `out` alone) when it is absent or stale. Throws only on an unreadable existing file.
inline bool map_image_cache(const std::string& path, uint64_t hash, int size, int channels, ImageDataset& out,
                            std::string* why_stale = nullptr) {
  using namespace data_detail;
  auto stale = [&](const std::string& why) {
    if (why_stale) *why_stale = why;
    return false;
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return stale("absent");
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  GCC_CHECK(::fstat(fd, &st) == 0, "image cache: cannot stat '", path, "' (", std::strerror(errno), ")");
  const uint64_t file_bytes = static_cast<uint64_t>(st.st_size);
  uint8_t head[72];
  if (file_bytes < sizeof head || ::pread(fd, head, sizeof head, 0) != static_cast<ssize_t>(sizeof head))
    return stale("shorter than its header");
  if (std::memcmp(head, kCacheMagic, 8) != 0) return stale("not a gcc-toolkit image cache (wrong magic)");
  uint32_t version, endian;
  uint64_t f[7];
  std::memcpy(&version, head + 8, 4);
  std::memcpy(&endian, head + 12, 4);
  std::memcpy(f, head + 16, sizeof f);
  if (version != kCacheVersion || endian != 0x01020304u) return stale("another format version or byte order");
  const uint64_t n = f[0], H = f[1], W = f[2], C = f[3], src_hash = f[4], meta = f[5], pix = f[6];
  if (H != static_cast<uint64_t>(size) || W != static_cast<uint64_t>(size) || C != static_cast<uint64_t>(channels))
    return stale("another image size or channel count");
  if (src_hash != hash) return stale("the image list changed");
  // Sizes checked against the file's size before any of them is multiplied or allocated (no overflow).
  const uint64_t image = H * W * C;  // S and C are the caller's (an int and 1 or 3): no overflow
  if (meta > file_bytes - sizeof head || pix < sizeof head + meta || pix > file_bytes ||
      n > (file_bytes - pix) / std::max<uint64_t>(image, 1) || file_bytes != pix + n * image)
    return stale("truncated");
  std::vector<uint8_t> m(static_cast<std::size_t>(meta));
  if (meta && ::pread(fd, m.data(), m.size(), sizeof head) != static_cast<ssize_t>(m.size())) return stale("truncated");
  std::size_t p = 0;
  auto take = [&](void* dst, std::size_t k) {
    if (p + k > m.size()) return false;
    std::memcpy(dst, m.data() + p, k);
    p += k;
    return true;
  };
  auto take_str = [&](std::string& s) {
    uint32_t len;
    if (!take(&len, 4) || p + len > m.size()) return false;
    s.assign(reinterpret_cast<const char*>(m.data() + p), len);
    p += len;
    return true;
  };
  ImageDataset ds;
  ds.labels.resize(static_cast<std::size_t>(n));
  if (n && !take(ds.labels.data(), static_cast<std::size_t>(n) * 4)) return stale("corrupt metadata");
  uint32_t k;
  if (!take(&k, 4) || k > (m.size() - p) / 4) return stale("corrupt metadata");  // 4 length bytes a name
  ds.class_names.resize(k);
  for (auto& s : ds.class_names)
    if (!take_str(s)) return stale("corrupt metadata");
  if (!take_str(ds.name)) return stale("corrupt metadata");
  void* addr = ::mmap(nullptr, static_cast<std::size_t>(file_bytes), PROT_READ, MAP_SHARED, fd, 0);
  GCC_CHECK(addr != MAP_FAILED, "image cache: cannot memory-map '", path, "' (", std::strerror(errno), ")");
  auto mapping = std::make_shared<Mapping>(addr, static_cast<std::size_t>(file_bytes));
  ds.n = static_cast<int64_t>(n);
  ds.height = static_cast<int64_t>(H);
  ds.width = static_cast<int64_t>(W);
  ds.channels = static_cast<int64_t>(C);
  ds.mapped = std::shared_ptr<const uint8_t>(mapping, static_cast<const uint8_t*>(addr) + pix);
  out = std::move(ds);
  return true;
}

// Decodes every image of `list` and writes the cache file atomically (temp file + rename).
inline void write_image_cache(const std::string& path, const ImageList& list, const ImageCacheOptions& opt,
                              uint64_t hash) {
  using namespace data_detail;
  check_options(list, opt);
  const std::filesystem::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path(), ec);
  GCC_CHECK(!ec, "image cache: cannot create the folder '", target.parent_path().string(), "' (", ec.message(),
            "); set ImageCacheOptions::cache_path or GCC_CACHE_DIR to a writable place");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  GCC_CHECK(f != nullptr, "image cache: cannot create '", tmp, "' (", std::strerror(errno),
            "); set ImageCacheOptions::cache_path or GCC_CACHE_DIR to a writable place");
  try {
    const uint64_t n = list.entries.size(), S = static_cast<uint64_t>(opt.size), C = static_cast<uint64_t>(opt.channels);
    std::vector<uint8_t> meta;
    auto put = [&](const void* p, std::size_t k) {
      const auto* b = static_cast<const uint8_t*>(p);
      meta.insert(meta.end(), b, b + k);
    };
    auto put_str = [&](const std::string& s) {
      const uint32_t len = static_cast<uint32_t>(s.size());
      put(&len, 4);
      put(s.data(), s.size());
    };
    for (const ImageEntry& e : list.entries) {
      const int32_t l = e.label;
      put(&l, 4);
    }
    const uint32_t k = static_cast<uint32_t>(list.class_names.size());
    put(&k, 4);
    for (const std::string& s : list.class_names) put_str(s);
    put_str(list.name);
    const uint64_t head_bytes = 72, pix = (head_bytes + meta.size() + 4095) / 4096 * 4096;
    uint8_t head[72] = {};
    std::memcpy(head, kCacheMagic, 8);
    const uint32_t version = kCacheVersion, endian = 0x01020304u;
    std::memcpy(head + 8, &version, 4);
    std::memcpy(head + 12, &endian, 4);
    const uint64_t fields[7] = {n, S, S, C, hash, static_cast<uint64_t>(meta.size()), pix};
    std::memcpy(head + 16, fields, sizeof fields);
    std::vector<uint8_t> pad(static_cast<std::size_t>(pix - head_bytes - meta.size()), 0);
    bool ok = std::fwrite(head, 1, sizeof head, f) == sizeof head &&
              std::fwrite(meta.data(), 1, meta.size(), f) == meta.size() &&
              std::fwrite(pad.data(), 1, pad.size(), f) == pad.size();
    const int64_t bytes = static_cast<int64_t>(S * S * C);
    const int64_t chunk = 512;
    std::vector<uint8_t> buf;
    for (int64_t s = 0; ok && s < static_cast<int64_t>(n); s += chunk) {
      const int64_t m = std::min<int64_t>(chunk, static_cast<int64_t>(n) - s);
      buf.resize(static_cast<std::size_t>(m * bytes));
      decode_chunk(list, opt, s, m, buf.data());
      ok = std::fwrite(buf.data(), 1, buf.size(), f) == buf.size();
    }
    ok = (std::fflush(f) == 0) && ok;
    ok = (::fsync(::fileno(f)) == 0) && ok;
    const int close_rc = std::fclose(f);
    f = nullptr;
    GCC_CHECK(ok && close_rc == 0, "image cache: writing '", tmp, "' failed (", std::strerror(errno),
              "); is the disk full? set ImageCacheOptions::cache_path or GCC_CACHE_DIR elsewhere");
    GCC_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "image cache: cannot rename '", tmp, "' to '", path, "' (",
              std::strerror(errno), ")");
  } catch (...) {
    if (f) std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
}

// The images of `list` as an ImageDataset of S x S x C: maps the cache when it is up to date, else
// decodes everything once, writes the cache and maps it (or, with use_cache = false, decodes into
// memory). Throws naming the file on a missing or undecodable image.
inline ImageDataset load_image_list(const ImageList& list, const ImageCacheOptions& opt) {
  using namespace data_detail;
  check_options(list, opt);
  ImageDataset ds;
  if (!opt.use_cache) {
    const int64_t n = static_cast<int64_t>(list.entries.size());
    ds.n = n;
    ds.height = ds.width = opt.size;
    ds.channels = opt.channels;
    ds.pixels.resize(static_cast<std::size_t>(n * ds.image_bytes()));
    decode_chunk(list, opt, 0, n, ds.pixels.data());
    for (const ImageEntry& e : list.entries) ds.labels.push_back(e.label);
    ds.class_names = list.class_names;
    ds.name = list.name;
    return ds;
  }
  const std::string path = opt.cache_path.empty() ? default_image_cache_path(list, opt.size, opt.channels) : opt.cache_path;
  const uint64_t hash = image_list_hash(list, opt.size, opt.channels);
  std::string why;
  if (map_image_cache(path, hash, opt.size, opt.channels, ds, &why)) return ds;
  if (opt.verbose)
    std::fprintf(stderr, "image cache: %s '%s' (%s): decoding %zu images at %dx%d once\n",
                 why == "absent" ? "building" : "rebuilding", path.c_str(), why.c_str(), list.entries.size(),
                 opt.size, opt.size);
  write_image_cache(path, list, opt, hash);
  GCC_CHECK(map_image_cache(path, hash, opt.size, opt.channels, ds, &why), "image cache: '", path,
            "' was just written but does not read back (", why, "); is another process writing it?");
  return ds;
}

}  // namespace gcc
