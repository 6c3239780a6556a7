// IDX readers (MNIST, Fashion-MNIST): an images file (magic 0x00000803, n x rows x cols uint8) and a
// labels file (magic 0x00000801, n uint8), each gzip-compressed or plain (zlib reads both).
#pragma once
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "dataset.hpp"

namespace gcc {

namespace data_detail {

// The whole decompressed content of a gzip (or plain) file, header checked by the caller.
class GzReader {
 public:
  GzReader(const std::string& reader, const std::string& path) : reader_(reader), path_(path) {
    f_ = gzopen(path.c_str(), "rb");
    GCC_CHECK(f_ != nullptr, reader, ": cannot open '", path, "' for reading (", std::strerror(errno), ")");
  }
  ~GzReader() {
    if (f_) gzclose(f_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads exactly `bytes` bytes, or throws naming the file and what was expected.
  void read(void* dst, int64_t bytes, const std::string& what) {
    auto* p = static_cast<uint8_t*>(dst);
    int64_t done = 0;
    while (done < bytes) {
      const unsigned ask = static_cast<unsigned>(std::min<int64_t>(bytes - done, 1 << 30));
      const int got = gzread(f_, p + done, ask);
      if (got < 0) {
        int code = 0;
        const char* msg = gzerror(f_, &code);
        GCC_FAIL(reader_, ": '", path_, "' is not a valid gzip/IDX file (zlib: ", msg, ") while reading ", what);
      }
      if (got == 0) break;
      done += got;
    }
    GCC_CHECK(done == bytes, reader_, ": '", path_, "' ends after ", done, " of the ", bytes, " bytes of ", what,
              ": the file is truncated");
  }
  // True when nothing follows the current position.
  bool at_end() {
    uint8_t b;
    return gzread(f_, &b, 1) == 0;
  }

 private:
  std::string reader_, path_;
  gzFile f_ = nullptr;
};

inline uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

inline std::string idx_file(const std::string& root, const std::string& stem) {
  const std::string gz = join(root, stem + ".gz");
  if (is_file(gz)) return gz;
  const std::string plain = join(root, stem);
  if (is_file(plain)) return plain;
  return gz;
}

}  // namespace data_detail

// One IDX pair: images [n, rows, cols] (1 channel) and labels [n] (each < class_names.size() when
// names are given; labels_path "" = unlabelled, every label -1). Either file may be gzip-compressed. Throws naming the file on a wrong magic, a
// count mismatch, a truncated file or trailing bytes.
inline ImageDataset read_idx(const std::string& images_path, const std::string& labels_path,
                             const std::vector<std::string>& class_names = {}, const std::string& name = "idx") {
  using namespace data_detail;
  const std::string r = "read_idx";
  ImageDataset ds;
  ds.name = name;
  ds.class_names = class_names;
  ds.channels = 1;
  {
    GzReader f(r, images_path);
    uint8_t h[16];
    f.read(h, 4, "the 4-byte magic number");
    const uint32_t magic = be32(h);
    GCC_CHECK(magic == 0x00000803u, r, ": '", images_path, "' starts with magic 0x", std::hex, magic, std::dec,
              ", expected 0x00000803 (IDX unsigned-byte images, 3 dimensions); is it the labels file or not an "
              "IDX file?");
    f.read(h + 4, 12, "the header (count, rows, cols)");
    ds.n = be32(h + 4);
    ds.height = be32(h + 8);
    ds.width = be32(h + 12);
    GCC_CHECK(ds.height > 0 && ds.width > 0 && ds.height <= 65536 && ds.width <= 65536, r, ": '", images_path,
              "' declares images of ", ds.height, "x", ds.width, " pixels: corrupt header");
    // In chunks, growing as the bytes arrive: a header that claims more images than the file holds
    // gives "truncated", not an allocation of what it claims.
    int64_t total = 0;
    const int64_t chunk = int64_t{1} << 26;
    GCC_CHECK(!__builtin_mul_overflow(ds.n, ds.height * ds.width, &total), r, ": '", images_path, "' declares ",
              ds.n, " images of ", ds.height, "x", ds.width, " pixels: more than any file holds, corrupt header");
    for (int64_t done = 0; done < total; done += chunk) {
      const int64_t m = std::min(chunk, total - done);
      ds.pixels.resize(static_cast<std::size_t>(done + m));
      f.read(ds.pixels.data() + done, m,
             std::to_string(ds.n) + " images of " + std::to_string(ds.height) + "x" + std::to_string(ds.width));
    }
    GCC_CHECK(f.at_end(), r, ": '", images_path, "' has bytes after the ", ds.n,
              " images its header declares: corrupt or not an IDX file");
  }
  if (labels_path.empty()) {  // unlabelled
    ds.labels.assign(static_cast<std::size_t>(ds.n), -1);
    ds.class_names.clear();
    return ds;
  }
  {
    GzReader f(r, labels_path);
    uint8_t h[8];
    f.read(h, 4, "the 4-byte magic number");
    const uint32_t magic = be32(h);
    GCC_CHECK(magic == 0x00000801u, r, ": '", labels_path, "' starts with magic 0x", std::hex, magic, std::dec,
              ", expected 0x00000801 (IDX unsigned-byte labels, 1 dimension); is it the images file or not an "
              "IDX file?");
    f.read(h + 4, 4, "the label count");
    const int64_t n = be32(h + 4);
    GCC_CHECK(n == ds.n, r, ": '", labels_path, "' holds ", n, " labels but '", images_path, "' holds ", ds.n,
              " images: the files do not belong together");
    std::vector<uint8_t> y(static_cast<std::size_t>(n));
    f.read(y.data(), n, std::to_string(n) + " labels");
    GCC_CHECK(f.at_end(), r, ": '", labels_path, "' has bytes after the ", n,
              " labels its header declares: corrupt or not an IDX file");
    ds.labels.assign(y.begin(), y.end());
    if (!class_names.empty())
      for (int64_t i = 0; i < n; ++i)
        GCC_CHECK(y[static_cast<std::size_t>(i)] < class_names.size(), r, ": '", labels_path, "' label ", i, " is ",
                  int(y[static_cast<std::size_t>(i)]), ", expected 0..", class_names.size() - 1);
  }
  return ds;
}

// Where Debian's dataset-fashion-mnist package installs Fashion-MNIST.
inline std::string default_fashion_mnist_root() { return "/usr/share/datasets/fashion-mnist"; }

// MNIST-layout folder: train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz),
// t10k-images-idx3-ubyte(.gz), t10k-labels-idx1-ubyte(.gz). split: "train" (60,000), "test"
// (10,000) or "all" (train then test, 70,000).
inline ImageDataset read_mnist_layout(const std::string& reader, const std::string& root, const std::string& split,
                                      const std::vector<std::string>& names, const std::string& name,
                                      const std::string& fetch) {
  using namespace data_detail;
  GCC_CHECK(split == "train" || split == "test" || split == "all", reader, ": unknown split '", split,
            "'; expected train, test or all");
  if (!is_dir(root) || !is_file(idx_file(root, "t10k-labels-idx1-ubyte")))
    missing_root(reader, root,
                 "the IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                 "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (gzip or plain)",
                 fetch);
  auto part = [&](const std::string& p) {
    return read_idx(idx_file(root, p + "-images-idx3-ubyte"), idx_file(root, p + "-labels-idx1-ubyte"), names,
                    name + "/" + (p == "t10k" ? "test" : p));
  };
  if (split == "train") return part("train");
  if (split == "test") return part("t10k");
  ImageDataset a = part("train"), b = part("t10k");
  return concat({&a, &b}, name + "/all");
}

// Fashion-MNIST (28x28 grey, 10 classes). root "" = default_fashion_mnist_root().
inline ImageDataset read_fashion_mnist(std::string root = "", const std::string& split = "train") {
  if (root.empty()) root = default_fashion_mnist_root();
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return read_mnist_layout("read_fashion_mnist", root, split, names, "fashion-mnist",
                           "Install Debian's package with: apt-get install dataset-fashion-mnist "
                           "(or sh data_scripts/install_deps.sh), or pass the folder holding the IDX files");
}

// MNIST (28x28 grey digits); root: the folder holding the four IDX files.
inline ImageDataset read_mnist(const std::string& root, const std::string& split = "train") {
  static const std::vector<std::string> names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  return read_mnist_layout("read_mnist", root, split, names, "mnist",
                           "Download the four IDX files of MNIST into that folder (gzip or plain)");
}

}  // namespace gcc
