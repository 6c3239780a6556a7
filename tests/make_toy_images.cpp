// make_toy_images OUT_DIR: deterministic toy data sets for tests/check_own_data.sh, the check that users'
// own data goes through the CLIs (--dataset folder | list | idx | npy). Three visually distinct classes
// (horizontal stripes, vertical stripes, a filled disc) with seeded jitter of position, brightness and
// stripe period, plus pixel noise; the same seed gives the same bytes on every run and machine. Also
// writes the bad inputs the CLIs must refuse (empty folder, broken PNG, mixed sizes or channels, .npy
// files of the wrong dtype, rank or length). Pure C++: PNGs with gcc::io::write_png, .npy with the
// toolkit's writers (write_npy_u8 for '|u1'), gzip'ed IDX files with zlib.
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "gcc/core/error.hpp"
#include "gcc/io/npy.hpp"
#include "gcc/io/png.hpp"

namespace {

namespace fs = std::filesystem;

constexpr int kClasses = 3;
const char* const kClassNames[kClasses] = {"class_a", "class_b", "class_c"};  // h-stripes, v-stripes, disc

// splitmix64: small, fast and the same on every platform (std:: distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t s_;
};

// One toy image: `size` x `size`, `channels` (1 grey, 3 RGB) bytes a pixel, rows packed.
struct Image {
  int size = 0, channels = 0;
  std::vector<unsigned char> px;
};

// Image number `index` of class `cls` at `size` x `size`: the jitter depends only on (cls, index), so the
// grey, RGB and 28x28 versions of one image show the same picture.
Image draw(int cls, int index, int size, int channels) {
  Rng rng(0x70C0FFEEull * 1000003ull + static_cast<uint64_t>(cls) * 100003ull + static_cast<uint64_t>(index));
  const double s = size / 32.0;
  const double bg = rng.uniform(0.05, 0.30), fg = rng.uniform(0.65, 1.0);
  const double period = rng.uniform(6.0, 10.0) * s, phase = rng.uniform(0.0, period);
  const double cx = size / 2.0 + rng.uniform(-5.0, 5.0) * s, cy = size / 2.0 + rng.uniform(-5.0, 5.0) * s;
  const double radius = rng.uniform(6.5, 10.0) * s;
  double gain[3] = {1.0, 1.0, 1.0};
  if (channels == 3)
    for (double& g : gain) g = rng.uniform(0.7, 1.0);
  Image img{size, channels, std::vector<unsigned char>(static_cast<std::size_t>(size) * size * channels)};
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      bool on = false;
      if (cls == 0) on = std::fmod(y + phase, period) < period / 2;
      if (cls == 1) on = std::fmod(x + phase, period) < period / 2;
      if (cls == 2) on = (x + 0.5 - cx) * (x + 0.5 - cx) + (y + 0.5 - cy) * (y + 0.5 - cy) <= radius * radius;
      const double grey = (on ? fg : bg) + rng.uniform(-0.08, 0.08);
      for (int c = 0; c < channels; ++c) {
        const double v = std::round(std::min(1.0, std::max(0.0, grey * gain[c])) * 255.0);
        img.px[(static_cast<std::size_t>(y) * size + x) * channels + c] = static_cast<unsigned char>(v);
      }
    }
  return img;
}

// Creates `dir` and its parents; an existing folder is reused.
void make_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  GCC_CHECK(!ec, "cannot create the folder '", dir.string(), "' (", ec.message(), ")");
}

void save_png(const fs::path& path, const Image& img) {
  gcc::io::write_png(path.string(), img.px.data(), img.size, img.size, img.channels, "make_toy_images");
}

// "img_007.png": three digits, so that byte order is numeric order.
std::string numbered(const char* stem, int i) {
  char name[64];
  std::snprintf(name, sizeof name, "%s_%03d.png", stem, i);
  return name;
}

void save_npy_u8(const fs::path& path, const std::vector<unsigned char>& v, const std::vector<int64_t>& shape) {
  gcc::io::io_detail::check_count("make_toy_images", path.string(), v.size(), shape);
  gcc::io::write_npy_u8(path.string(), v.data(), shape);
}

void save_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  GCC_CHECK(f.good(), "cannot write '", path.string(), "'");
}

// gzip-compressed file (zlib's gz header carries no time stamp: the bytes are reproducible).
void save_gzip(const fs::path& path, const std::string& bytes) {
  gzFile f = gzopen(path.string().c_str(), "wb9");
  GCC_CHECK(f != nullptr, "cannot open '", path.string(), "' for writing");
  const int wrote = gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  const int closed = gzclose(f);
  GCC_CHECK(wrote == static_cast<int>(bytes.size()) && closed == Z_OK, "cannot write the gzip file '",
            path.string(), "'");
}

void append_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFF);
}

// OUT/folder/<class>/<class>_NNN.png: `per_class` grey 32x32 images per class.
void write_folder(const fs::path& dir, int per_class, int channels) {
  for (int c = 0; c < kClasses; ++c) {
    make_dir(dir / kClassNames[c]);
    for (int i = 0; i < per_class; ++i)
      save_png(dir / kClassNames[c] / numbered(kClassNames[c], i), draw(c, i, 32, channels));
  }
}

// OUT/flat/img_NNN.png: the folder set's 240 images in RGB, classes interleaved, no class folders.
void write_flat(const fs::path& dir, int per_class) {
  make_dir(dir);
  for (int i = 0; i < kClasses * per_class; ++i)
    save_png(dir / numbered("img", i), draw(i % kClasses, i / kClasses, 32, 3));
}

// OUT/list/list.txt ("img/img_NNN.png label" lines) + OUT/list/img/*.png, grey 32x32.
void write_list(const fs::path& dir, int count) {
  make_dir(dir / "img");
  std::string lines;
  for (int i = 0; i < count; ++i) {
    const std::string name = numbered("img", i);
    save_png(dir / "img" / name, draw(i % kClasses, i / kClasses, 32, 1));
    lines += "img/" + name + " " + std::to_string(i % kClasses) + "\n";
  }
  save_bytes(dir / "list.txt", lines);
}

// OUT/idx/images-idx3-ubyte.gz + labels-idx1-ubyte.gz: MNIST format, `count` images 28x28.
void write_idx(const fs::path& dir, int count) {
  make_dir(dir);
  std::string images, labels;
  append_be32(images, 0x00000803);
  append_be32(images, static_cast<uint32_t>(count));
  append_be32(images, 28);
  append_be32(images, 28);
  append_be32(labels, 0x00000801);
  append_be32(labels, static_cast<uint32_t>(count));
  for (int i = 0; i < count; ++i) {
    const Image img = draw(i % kClasses, i / kClasses, 28, 1);
    images.append(img.px.begin(), img.px.end());
    labels += static_cast<char>(i % kClasses);
  }
  save_gzip(dir / "images-idx3-ubyte.gz", images);
  save_gzip(dir / "labels-idx1-ubyte.gz", labels);
}

// OUT/npy/images.npy uint8 [count, 32, 32, 3] + labels.npy int64 [count].
void write_npy_set(const fs::path& dir, int count) {
  make_dir(dir);
  std::vector<unsigned char> images;
  std::vector<int64_t> labels;
  for (int i = 0; i < count; ++i) {
    const Image img = draw(i % kClasses, i / kClasses, 32, 3);
    images.insert(images.end(), img.px.begin(), img.px.end());
    labels.push_back(i % kClasses);
  }
  save_npy_u8(dir / "images.npy", images, {count, 32, 32, 3});
  gcc::io::write_npy((dir / "labels.npy").string(), labels);
}

// An empty folder; one that holds anything already is refused (the check needs it empty).
void write_empty(const fs::path& dir) {
  make_dir(dir);
  GCC_CHECK(fs::is_empty(dir), "'", dir.string(), "' exists and is not empty; remove it first");
}

// OUT/bad/one_broken/<class>/: `per_class` good grey PNGs per class, plus class_a/broken.png: the PNG
// signature followed by garbage, which no decoder accepts.
void write_one_broken(const fs::path& dir, int per_class) {
  write_folder(dir, per_class, 1);
  std::string junk = "\x89PNG\r\n\x1a\n";
  Rng rng(42);
  for (int i = 0; i < 200; ++i) junk += static_cast<char>(rng.next() & 0xFF);
  save_bytes(dir / kClassNames[0] / "broken.png", junk);
}

// OUT/bad/mixed_sizes/: `count` grey 32x32 images and odd_40x24.png (40 wide, 24 high), which sorts last.
void write_mixed_sizes(const fs::path& dir, int count) {
  make_dir(dir);
  for (int i = 0; i < count; ++i) save_png(dir / numbered("img", i), draw(i % kClasses, i / kClasses, 32, 1));
  const Image big = draw(2, 999, 40, 1);
  std::vector<unsigned char> cut;  // the top 24 rows of a 40x40 image
  cut.assign(big.px.begin(), big.px.begin() + 40 * 24);
  gcc::io::write_png((dir / "odd_40x24.png").string(), cut.data(), 40, 24, 1, "make_toy_images");
}

// OUT/bad/mixed_channels/: `count` grey 32x32 images and odd_rgb.png (32x32 RGB), which sorts last.
void write_mixed_channels(const fs::path& dir, int count) {
  make_dir(dir);
  for (int i = 0; i < count; ++i) save_png(dir / numbered("img", i), draw(i % kClasses, i / kClasses, 32, 1));
  save_png(dir / "odd_rgb.png", draw(2, 999, 32, 3));
}

// OUT/bad/float.npy (float32 [10, 8, 8]), rank2.npy (uint8 [10, 64]), labels_short.npy (int64 [count - 1]).
void write_bad_npy(const fs::path& dir, int count) {
  make_dir(dir);
  std::vector<float> f(10 * 8 * 8);
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(i % 256) / 255.0f;
  gcc::io::write_npy((dir / "float.npy").string(), f, {10, 8, 8});
  std::vector<unsigned char> u(10 * 64);
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = static_cast<unsigned char>(i * 7);
  save_npy_u8(dir / "rank2.npy", u, {10, 64});
  std::vector<int64_t> labels;
  for (int i = 0; i < count - 1; ++i) labels.push_back(i % kClasses);
  gcc::io::write_npy((dir / "labels_short.npy").string(), labels);
}

void say(const fs::path& where, const std::string& what) {
  std::cout << "make_toy_images: " << where.string() << ": " << what << "\n";
}

void write_all(const fs::path& out) {
  const int per_class = 80, total = kClasses * per_class;
  write_folder(out / "folder", per_class, 1);
  say(out / "folder", "240 grey 32x32 PNGs, 80 in each of class_a (h-stripes), class_b (v-stripes), class_c (disc)");
  write_flat(out / "flat", per_class);
  say(out / "flat", "the same 240 images in RGB, no class folders (unlabelled)");
  write_list(out / "list", 120);
  say(out / "list", "list.txt: 120 'img/img_NNN.png label' lines, grey 32x32 PNGs in img/");
  write_idx(out / "idx", total);
  say(out / "idx", "images-idx3-ubyte.gz (240 x 28 x 28) + labels-idx1-ubyte.gz (240 labels 0..2)");
  write_npy_set(out / "npy", total);
  say(out / "npy", "images.npy uint8 [240, 32, 32, 3] + labels.npy int64 [240]");
  write_empty(out / "bad" / "empty");
  say(out / "bad" / "empty", "an empty folder");
  write_one_broken(out / "bad" / "one_broken", 30);
  say(out / "bad" / "one_broken", "90 good grey PNGs in 3 class folders + class_a/broken.png (garbage)");
  write_mixed_sizes(out / "bad" / "mixed_sizes", 80);
  say(out / "bad" / "mixed_sizes", "80 grey 32x32 PNGs + odd_40x24.png");
  write_mixed_channels(out / "bad" / "mixed_channels", 20);
  say(out / "bad" / "mixed_channels", "20 grey 32x32 PNGs + odd_rgb.png (RGB)");
  write_bad_npy(out / "bad", total);
  say(out / "bad", "float.npy float32 [10, 8, 8], rank2.npy uint8 [10, 64], labels_short.npy int64 [239]");
}

const char* const kHelp =
    "usage: make_toy_images OUT_DIR\n"
    "\n"
    "Writes deterministic toy data sets for the CLIs' own-data sources (tests/check_own_data.sh):\n"
    "three classes (horizontal stripes, vertical stripes, a filled disc) with seeded jitter and noise.\n"
    "  OUT_DIR/folder/<class_a|class_b|class_c>/*.png  240 grey 32x32 images (--dataset folder)\n"
    "  OUT_DIR/flat/*.png                              the same 240 images in RGB, unlabelled\n"
    "  OUT_DIR/list/list.txt + list/img/*.png          120 'img/NAME.png label' lines (--dataset list)\n"
    "  OUT_DIR/idx/images-idx3-ubyte.gz, labels-idx1-ubyte.gz   240 x 28x28 MNIST format (--dataset idx)\n"
    "  OUT_DIR/npy/images.npy, labels.npy              uint8 [240,32,32,3], int64 [240] (--dataset npy)\n"
    "  OUT_DIR/bad/...                                 inputs the CLIs must refuse or warn about: empty/,\n"
    "      one_broken/ (90 good PNGs + a broken one), mixed_sizes/, mixed_channels/, float.npy,\n"
    "      rank2.npy, labels_short.npy (239 labels for npy/images.npy)\n"
    "Existing files are overwritten; the same command always writes the same bytes.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::cout << kHelp;
    return 0;
  }
  if (argc != 2 || argv[1][0] == '-') {
    std::cerr << "make_toy_images: expected one argument, the output folder\n" << kHelp;
    return 2;
  }
  try {
    write_all(fs::path(argv[1]));
  } catch (const std::exception& e) {
    std::cerr << "make_toy_images: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
