// Dataset readers on small files written here in the exact official layouts (CIFAR-10/100 binary,
// STL-10 binary, IDX gz and plain, image folders, ImageNet subsets, Tiny-ImageNet), the bad inputs each
// must reject with a message naming the file, PIL-exact resizing, and the real Fashion-MNIST when installed.
#include <cstdio>
#include <string>
#include <vector>

#include "data_test_util.hpp"
#include "gcc/data/cifar.hpp"
#include "gcc/data/dataset.hpp"
#include "gcc/data/idx.hpp"
#include "gcc/data/image_cache.hpp"
#include "gcc/data/image_decode.hpp"
#include "gcc/data/image_folder.hpp"
#include "gcc/data/imagenet_subset.hpp"
#include "gcc/data/stl10.hpp"
#include "gcc/data/tiny_imagenet.hpp"
#include "gradcheck.hpp"

using gcc::ImageDataset;
using namespace gcc_test;

namespace {

// Pixel (ch, y, x) of CIFAR record r in file f.
uint8_t cifar_px(int f, int r, int ch, int y, int x) { return static_cast<uint8_t>((f * 11 + r * 31 + ch * 67 + y * 5 + x * 3) % 256); }

// A CIFAR binary file: `labels` holds label_bytes bytes per record.
std::vector<uint8_t> cifar_file(int f, const std::vector<std::vector<uint8_t>>& labels) {
  std::vector<uint8_t> b;
  for (std::size_t r = 0; r < labels.size(); ++r) {
    b.insert(b.end(), labels[r].begin(), labels[r].end());
    for (int ch = 0; ch < 3; ++ch)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) b.push_back(cifar_px(f, static_cast<int>(r), ch, y, x));
  }
  return b;
}

uint8_t px_of(const ImageDataset& d, int64_t i, int y, int x, int c) {
  return d.image(i)[(static_cast<int64_t>(y) * d.width + x) * d.channels + c];
}

// CIFAR-10 layout: data_batch_1 holds 3 records, data_batch_2..5 one each, test_batch 2.
void write_cifar10(const std::string& dir) {
  write_bytes(dir + "/data_batch_1.bin", cifar_file(1, {{3}, {9}, {0}}));
  for (int b = 2; b <= 5; ++b) write_bytes(dir + "/data_batch_" + std::to_string(b) + ".bin", cifar_file(b, {{uint8_t(b)}}));
  write_bytes(dir + "/test_batch.bin", cifar_file(6, {{7}, {1}}));
}

}  // namespace

TEST_CASE("read_cifar10: binary version, splits, HWC pixels, labels, names") {
  TempDir t;
  const std::string dir = t / "cifar10/cifar-10-batches-bin";
  write_cifar10(dir);
  const ImageDataset all = gcc::read_cifar10(dir, "all");
  CHECK(all.n == 9);
  CHECK(all.height == 32);
  CHECK(all.width == 32);
  CHECK(all.channels == 3);
  CHECK(all.pixels.size() == 9u * 3072u);
  CHECK(all.labels == std::vector<int>{3, 9, 0, 2, 3, 4, 5, 7, 1});
  CHECK(all.class_names.size() == 10);
  CHECK(all.class_names[0] == "airplane");
  CHECK(all.class_names[9] == "truck");
  // record 1 of data_batch_1, record 0 of batch 3 (index 4), record 1 of the test batch (index 8)
  CHECK(px_of(all, 1, 0, 0, 0) == cifar_px(1, 1, 0, 0, 0));
  CHECK(px_of(all, 1, 5, 17, 2) == cifar_px(1, 1, 2, 5, 17));
  CHECK(px_of(all, 4, 31, 30, 1) == cifar_px(3, 0, 1, 31, 30));
  CHECK(px_of(all, 8, 12, 3, 0) == cifar_px(6, 1, 0, 12, 3));

  const ImageDataset train = gcc::read_cifar10(dir, "train"), test = gcc::read_cifar10(dir, "test");
  CHECK(train.n == 7);
  CHECK(test.n == 2);
  CHECK(test.labels == std::vector<int>{7, 1});
  CHECK(px_of(test, 1, 12, 3, 0) == cifar_px(6, 1, 0, 12, 3));
  // the parent folder works too; batches.meta.txt names the classes when present
  write_text(dir + "/batches.meta.txt", "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n");
  const ImageDataset p = gcc::read_cifar10(t / "cifar10", "test");
  CHECK(p.n == 2);
  CHECK(p.class_names[9] == "j");
}

TEST_CASE("read_cifar10: bad inputs name the file and what was expected") {
  TempDir t;
  const std::string dir = t.path;
  write_cifar10(dir);
  // truncated: 3 records minus 5 bytes
  std::vector<uint8_t> b = cifar_file(1, {{3}, {9}, {0}});
  b.resize(b.size() - 5);
  write_bytes(dir + "/data_batch_1.bin", b);
  std::string m = error_of([&] { gcc::read_cifar10(dir, "train"); });
  CHECK(has(m, dir + "/data_batch_1.bin"));
  CHECK(has(m, "9214 bytes, not a positive multiple of the 3073-byte record"));
  CHECK(has(m, "truncated"));
  CHECK(has(m, "download_cifar10.sh"));
  // "test" does not read the truncated training batch
  CHECK(gcc::read_cifar10(dir, "test").n == 2);
  // a label out of range
  write_bytes(dir + "/data_batch_1.bin", cifar_file(1, {{3}, {12}}));
  m = error_of([&] { gcc::read_cifar10(dir, "train"); });
  CHECK(has(m, "record 1 has label 12, expected 0..9"));
  // a missing batch
  write_bytes(dir + "/data_batch_1.bin", cifar_file(1, {{3}}));
  std::remove((dir + "/data_batch_4.bin").c_str());
  m = error_of([&] { gcc::read_cifar10(dir, "all"); });
  CHECK(has(m, dir + "/data_batch_4.bin' is missing"));
  // a missing root names the script that fetches it
  m = error_of([&] { gcc::read_cifar10(t / "nowhere", "all"); });
  CHECK(has(m, t / "nowhere"));
  CHECK(has(m, "does not exist"));
  CHECK(has(m, "data_scripts/download_cifar10.sh"));
  m = error_of([&] { gcc::read_cifar10(dir, "valid"); });
  CHECK(has(m, "unknown split 'valid'"));
}

TEST_CASE("read_cifar100 / read_cifar20: coarse and fine labels, names, bad inputs") {
  TempDir t;
  const std::string dir = t / "cifar-100-binary";
  write_bytes(dir + "/train.bin", cifar_file(1, {{4, 30}, {19, 99}}));
  write_bytes(dir + "/test.bin", cifar_file(2, {{0, 7}}));
  const ImageDataset c20 = gcc::read_cifar20(t.path, "all");
  CHECK(c20.n == 3);
  CHECK(c20.labels == std::vector<int>{4, 19, 0});
  CHECK(c20.class_names.size() == 20);
  CHECK(c20.class_names[0] == "aquatic_mammals");
  CHECK(c20.class_names[19] == "vehicles_2");
  CHECK(px_of(c20, 1, 7, 8, 2) == cifar_px(1, 1, 2, 7, 8));
  CHECK(px_of(c20, 2, 31, 0, 0) == cifar_px(2, 0, 0, 31, 0));
  const ImageDataset fine = gcc::read_cifar100(dir, "train", false);
  CHECK(fine.labels == std::vector<int>{30, 99});
  CHECK(fine.class_names.size() == 100);
  std::string names;
  for (int i = 0; i < 20; ++i) names += "super" + std::to_string(i) + "\n";
  write_text(dir + "/coarse_label_names.txt", names);
  CHECK(gcc::read_cifar20(dir, "test").class_names[3] == "super3");
  write_text(dir + "/coarse_label_names.txt", "only\ntwo\n");
  CHECK(has(error_of([&] { gcc::read_cifar20(dir, "test"); }), "lists 2 class names, expected 20"));
  std::remove((dir + "/coarse_label_names.txt").c_str());
  // truncated by one byte; a coarse label >= 20
  std::vector<uint8_t> b = cifar_file(2, {{0, 7}});
  b.pop_back();
  write_bytes(dir + "/test.bin", b);
  std::string m = error_of([&] { gcc::read_cifar20(dir, "test"); });
  CHECK(has(m, dir + "/test.bin' is 3073 bytes, not a positive multiple of the 3074-byte record"));
  CHECK(has(m, "download_cifar100.sh"));
  write_bytes(dir + "/test.bin", cifar_file(2, {{20, 7}}));
  CHECK(has(error_of([&] { gcc::read_cifar20(dir, "test"); }), "has label 20, expected 0..19"));
  CHECK(has(error_of([&] { gcc::read_cifar20(t / "missing"); }), "data_scripts/download_cifar100.sh"));
}

namespace {

// STL-10 file byte of image k at (c, x, y) (column-major: x outer, y inner).
uint8_t stl_byte(int k, int c, int x, int y) { return static_cast<uint8_t>((k * 13 + c * 50 + x * 3 + y * 7) % 256); }
std::vector<uint8_t> stl_images(const std::vector<int>& ids) {
  std::vector<uint8_t> b;
  for (int k : ids)
    for (int c = 0; c < 3; ++c)
      for (int x = 0; x < 96; ++x)
        for (int y = 0; y < 96; ++y) b.push_back(stl_byte(k, c, x, y));
  return b;
}
// train: images 0, 1 (labels 3, 10 on disk); test: image 2 (label 1); unlabeled: images 3, 4.
void write_stl(const std::string& dir) {
  write_bytes(dir + "/train_X.bin", stl_images({0, 1}));
  write_bytes(dir + "/train_y.bin", {3, 10});
  write_bytes(dir + "/test_X.bin", stl_images({2}));
  write_bytes(dir + "/test_y.bin", {1});
  write_bytes(dir + "/unlabeled_X.bin", stl_images({3, 4}));
}

}  // namespace

TEST_CASE("read_stl10: column-major images transposed to HWC, labels 1..10 -> 0..9, split orders") {
  TempDir t;
  const std::string dir = t / "stl10_binary";
  write_stl(dir);
  const ImageDataset tr = gcc::read_stl10(t.path, "train");
  CHECK(tr.n == 2);
  CHECK(tr.height == 96);
  CHECK(tr.width == 96);
  CHECK(tr.channels == 3);
  CHECK(tr.labels == std::vector<int>{2, 9});
  CHECK(tr.class_names.size() == 10);
  CHECK(tr.class_names[7] == "monkey");
  // pixel (y, x, c) = file byte [c][x][y]
  CHECK(px_of(tr, 0, 0, 1, 0) == stl_byte(0, 0, 1, 0));
  CHECK(px_of(tr, 0, 1, 0, 0) == stl_byte(0, 0, 0, 1));
  CHECK(px_of(tr, 1, 10, 70, 2) == stl_byte(1, 2, 70, 10));
  CHECK(px_of(tr, 1, 95, 3, 1) == stl_byte(1, 1, 3, 95));

  const ImageDataset tt = gcc::read_stl10(dir, "train+test");
  CHECK(tt.n == 3);
  CHECK(tt.labels == std::vector<int>{2, 9, 0});
  CHECK(px_of(tt, 2, 40, 41, 1) == stl_byte(2, 1, 41, 40));
  const ImageDataset all = gcc::read_stl10(dir, "train+unlabeled+test");
  CHECK(all.n == 5);
  CHECK(all.labels == std::vector<int>{2, 9, -1, -1, 0});
  CHECK(px_of(all, 2, 5, 6, 0) == stl_byte(3, 0, 6, 5));
  CHECK(px_of(all, 3, 5, 6, 0) == stl_byte(4, 0, 6, 5));
  CHECK(px_of(all, 4, 5, 6, 0) == stl_byte(2, 0, 6, 5));
  const ImageDataset un = gcc::read_stl10(dir, "unlabeled");
  CHECK(un.n == 2);
  CHECK(un.labels == std::vector<int>{-1, -1});
  CHECK(gcc::read_stl10(dir, "test").n == 1);
  CHECK(gcc::read_stl10(dir, "train+unlabeled").n == 4);
  write_text(dir + "/class_names.txt", "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n");
  CHECK(gcc::read_stl10(dir, "test").class_names[9] == "j");
  // identity across the release's two orders (official sizes)
  CHECK(gcc::stl10_identity("train+test", 4999) == 4999);
  CHECK(gcc::stl10_identity("train+test", 5000) == 105000);
  CHECK(gcc::stl10_identity("train+unlabeled+test", 5000) == 5000);
  CHECK(gcc::stl10_identity("test", 7) == 105007);
}

TEST_CASE("read_stl10: files of the wrong size, bad labels, missing root") {
  TempDir t;
  const std::string dir = t.path;
  write_stl(dir);
  std::vector<uint8_t> x = stl_images({0, 1});
  x.push_back(0);
  write_bytes(dir + "/train_X.bin", x);
  std::string m = error_of([&] { gcc::read_stl10(dir, "train"); });
  CHECK(has(m, dir + "/train_X.bin' is 55297 bytes, not a positive multiple of 27648"));
  CHECK(has(m, "download_stl10.sh"));
  write_stl(dir);
  write_bytes(dir + "/train_y.bin", {3, 10, 4});
  m = error_of([&] { gcc::read_stl10(dir, "train+test"); });
  CHECK(has(m, dir + "/train_y.bin' is 3 bytes"));
  CHECK(has(m, "holds 2 images"));
  write_bytes(dir + "/train_y.bin", {3, 0});
  CHECK(has(error_of([&] { gcc::read_stl10(dir, "train"); }), "byte 1 is 0, expected a label 1..10"));
  write_stl(dir);
  std::remove((dir + "/unlabeled_X.bin").c_str());
  CHECK(gcc::read_stl10(dir, "train+test").n == 3);
  CHECK(has(error_of([&] { gcc::read_stl10(dir, "train+unlabeled+test"); }), dir + "/unlabeled_X.bin' is missing"));
  m = error_of([&] { gcc::read_stl10(t / "none"); });
  CHECK(has(m, "does not exist"));
  CHECK(has(m, "data_scripts/download_stl10.sh"));
  CHECK(has(error_of([&] { gcc::read_stl10(dir, "train+val"); }), "unknown split 'train+val'"));
}

namespace {

std::vector<uint8_t> idx_images(int n, int rows, int cols, uint32_t magic = 0x803) {
  std::vector<uint8_t> b = {uint8_t(magic >> 24), uint8_t(magic >> 16), uint8_t(magic >> 8), uint8_t(magic),
                            0, 0, 0, uint8_t(n), 0, 0, 0, uint8_t(rows), 0, 0, 0, uint8_t(cols)};
  for (int i = 0; i < n * rows * cols; ++i) b.push_back(static_cast<uint8_t>(i * 7 % 256));
  return b;
}
std::vector<uint8_t> idx_labels(const std::vector<uint8_t>& y) {
  std::vector<uint8_t> b(8 + y.size(), 0);  // (built element-wise: GCC 12 warns falsely on insert here)
  b[2] = 8;
  b[3] = 1;
  b[7] = static_cast<uint8_t>(y.size());
  for (std::size_t i = 0; i < y.size(); ++i) b[8 + i] = y[i];
  return b;
}

}  // namespace

TEST_CASE("read_idx: gzip and plain files, MNIST layout, Fashion-MNIST names") {
  TempDir t;
  write_gz(t / "gz/train-images-idx3-ubyte.gz", idx_images(3, 2, 4));
  write_gz(t / "gz/train-labels-idx1-ubyte.gz", idx_labels({5, 0, 9}));
  write_gz(t / "gz/t10k-images-idx3-ubyte.gz", idx_images(2, 2, 4));
  write_gz(t / "gz/t10k-labels-idx1-ubyte.gz", idx_labels({1, 2}));
  write_bytes(t / "plain/train-images-idx3-ubyte", idx_images(3, 2, 4));
  write_bytes(t / "plain/train-labels-idx1-ubyte", idx_labels({5, 0, 9}));
  write_bytes(t / "plain/t10k-images-idx3-ubyte", idx_images(2, 2, 4));
  write_bytes(t / "plain/t10k-labels-idx1-ubyte", idx_labels({1, 2}));

  const ImageDataset g = gcc::read_idx(t / "gz/train-images-idx3-ubyte.gz", t / "gz/train-labels-idx1-ubyte.gz");
  const ImageDataset p = gcc::read_idx(t / "plain/train-images-idx3-ubyte", t / "plain/train-labels-idx1-ubyte");
  CHECK(g.n == 3);
  CHECK(g.height == 2);
  CHECK(g.width == 4);
  CHECK(g.channels == 1);
  CHECK(g.labels == std::vector<int>{5, 0, 9});
  CHECK(g.pixels == p.pixels);
  CHECK(g.labels == p.labels);
  CHECK(px_of(g, 2, 1, 3, 0) == static_cast<uint8_t>((2 * 8 + 1 * 4 + 3) * 7 % 256));

  const ImageDataset f = gcc::read_fashion_mnist(t / "gz", "all");
  CHECK(f.n == 5);
  CHECK(f.labels == std::vector<int>{5, 0, 9, 1, 2});
  CHECK(f.class_names[0] == "T-shirt/top");
  CHECK(f.class_names[9] == "Ankle boot");
  const ImageDataset m = gcc::read_mnist(t / "plain", "test");
  CHECK(m.n == 2);
  CHECK(m.class_names[3] == "3");
  CHECK(gcc::read_mnist(t / "plain", "all").pixels == f.pixels);
  const ImageDataset rgb = gcc::to_channels(m, 3);
  CHECK(rgb.channels == 3);
  CHECK(px_of(rgb, 1, 1, 2, 0) == px_of(m, 1, 1, 2, 0));
  CHECK(px_of(rgb, 1, 1, 2, 2) == px_of(m, 1, 1, 2, 0));
}

TEST_CASE("read_idx: wrong magic, truncated gzip, count mismatch, trailing bytes, missing root") {
  TempDir t;
  write_gz(t / "img.gz", idx_images(3, 2, 4));
  write_gz(t / "lab.gz", idx_labels({5, 0, 9}));
  // the two files swapped: magic 0x801 where 0x803 is expected
  std::string m = error_of([&] { gcc::read_idx(t / "lab.gz", t / "img.gz"); });
  CHECK(has(m, t / "lab.gz' starts with magic 0x801, expected 0x00000803"));
  m = error_of([&] { gcc::read_idx(t / "img.gz", t / "img.gz"); });
  CHECK(has(m, t / "img.gz' starts with magic 0x803, expected 0x00000801"));
  write_bytes(t / "plain_bad", idx_images(3, 2, 4, 0x0804));
  CHECK(has(error_of([&] { gcc::read_idx(t / "plain_bad", t / "lab.gz"); }), "starts with magic 0x804"));
  // truncated gzip stream: the last third of the compressed bytes cut off
  std::vector<uint8_t> gz = read_bytes(t / "img.gz");
  gz.resize(gz.size() * 2 / 3);
  write_bytes(t / "cut.gz", gz);
  m = error_of([&] { gcc::read_idx(t / "cut.gz", t / "lab.gz"); });
  CHECK(has(m, t / "cut.gz"));
  CHECK((has(m, "truncated") || has(m, "not a valid gzip")));
  // truncated plain file
  std::vector<uint8_t> pl = idx_images(3, 2, 4);
  pl.resize(pl.size() - 1);
  write_bytes(t / "short", pl);
  CHECK(has(error_of([&] { gcc::read_idx(t / "short", t / "lab.gz"); }), "ends after 23 of the 24 bytes of 3 images of 2x4"));
  // count mismatch, trailing bytes, out-of-range label
  write_gz(t / "lab2.gz", idx_labels({5, 0}));
  CHECK(has(error_of([&] { gcc::read_idx(t / "img.gz", t / "lab2.gz"); }), "holds 2 labels but"));
  std::vector<uint8_t> extra = idx_labels({5, 0, 9});
  extra.push_back(1);
  write_gz(t / "lab3.gz", extra);
  CHECK(has(error_of([&] { gcc::read_idx(t / "img.gz", t / "lab3.gz"); }), "has bytes after the 3 labels"));
  CHECK(has(error_of([&] { gcc::read_idx(t / "img.gz", t / "lab.gz", {"a", "b"}); }), "label 0 is 5, expected 0..1"));
  m = error_of([&] { gcc::read_fashion_mnist(t / "nothing"); });
  CHECK(has(m, t / "nothing"));
  CHECK(has(m, "apt-get install dataset-fashion-mnist"));
  CHECK(has(error_of([&] { gcc::read_idx(t / "absent.gz", t / "lab.gz"); }), "cannot open '" + t / "absent.gz"));
}

namespace {

bool fashion_mnist_missing() {
  static const bool missing = [] {
    const bool m = !gcc::data_detail::is_file(gcc::default_fashion_mnist_root() + "/t10k-labels-idx1-ubyte.gz");
    if (m)
      std::fprintf(stderr,
                   "test_data_readers: Fashion-MNIST is not installed in %s (apt-get install "
                   "dataset-fashion-mnist): the real-data test is SKIPPED\n",
                   gcc::default_fashion_mnist_root().c_str());
    return m;
  }();
  return missing;
}

}  // namespace

TEST_CASE("read_fashion_mnist: the real Debian files (counts, class balance, known pixels)" *
          doctest::skip(fashion_mnist_missing())) {
  MESSAGE("reading Fashion-MNIST from " << gcc::default_fashion_mnist_root());
  const ImageDataset tr = gcc::read_fashion_mnist("", "train");
  const ImageDataset te = gcc::read_fashion_mnist("", "test");
  CHECK(tr.n == 60000);
  CHECK(te.n == 10000);
  CHECK(tr.height == 28);
  CHECK(tr.width == 28);
  CHECK(tr.channels == 1);
  for (int64_t c : tr.class_counts()) CHECK(c == 6000);
  for (int64_t c : te.class_counts()) CHECK(c == 1000);
  // values read with numpy from the same gzip files
  CHECK(std::vector<int>(tr.labels.begin(), tr.labels.begin() + 10) == std::vector<int>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5});
  CHECK(std::vector<int>(te.labels.begin(), te.labels.begin() + 10) == std::vector<int>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7});
  CHECK(px_of(tr, 0, 14, 14, 0) == 217);
  CHECK(px_of(tr, 0, 5, 20, 0) == 23);
  CHECK(px_of(tr, 1, 10, 10, 0) == 252);
  CHECK(px_of(tr, 59999, 14, 14, 0) == 0);
  CHECK(px_of(tr, 12345, 20, 7, 0) == 191);
  CHECK(px_of(te, 0, 14, 14, 0) == 110);
  CHECK(px_of(te, 9999, 14, 14, 0) == 132);
  CHECK(px_of(te, 5000, 10, 18, 0) == 220);
  int64_t s = 0;
  for (int i = 0; i < 784; ++i) s += tr.image(0)[i];
  CHECK(s == 76247);
  const ImageDataset all = gcc::read_fashion_mnist("", "all");
  CHECK(all.n == 70000);
  CHECK(px_of(all, 60000, 14, 14, 0) == 110);
}

namespace {

// Deterministic HWC test pattern.
std::vector<uint8_t> pattern(int h, int w, int c, int seed = 0) {
  std::vector<uint8_t> v(static_cast<std::size_t>(h) * w * c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int ch = 0; ch < c; ++ch)
        v[(static_cast<std::size_t>(y) * w + x) * c + ch] = static_cast<uint8_t>((x * 37 + y * 91 + ch * 53 + x * y * 7 + seed) % 256);
  return v;
}

std::vector<int> as_ints(const std::vector<uint8_t>& v) { return std::vector<int>(v.begin(), v.end()); }

}  // namespace

TEST_CASE("resize: PIL-exact antialiased bilinear and torchvision Resize + CenterCrop") {
  // expected values: PIL 9.4 Image.resize(BILINEAR) / torchvision 0.14 Resize+CenterCrop on the same pattern
  const std::vector<uint8_t> a = pattern(13, 17, 3);
  std::vector<uint8_t> down(5 * 7 * 3);
  gcc::resize_bilinear_pil(a.data(), 13, 17, 3, down.data(), 5, 7);
  CHECK(as_ints(down) == std::vector<int>{107, 132, 142, 125, 131, 143, 126, 129, 134, 117, 130, 134, 119, 134, 127, 132, 145,
                                          102, 129, 117, 114, 122, 138, 125, 140, 138, 127, 142, 134, 124, 125, 128, 126, 138,
                                          135, 132, 119, 145, 131, 143, 144, 137, 118, 134, 135, 121, 128, 124, 144, 128, 125,
                                          126, 129, 113, 138, 106, 135, 130, 116, 144, 139, 136, 129, 145, 110, 128, 148, 120,
                                          133, 109, 134, 133, 132, 133, 132, 123, 120, 142, 145, 116, 147, 122, 123, 128, 152,
                                          117, 129, 126, 128, 103, 94,  144, 135, 120, 116, 161, 151, 112, 141, 147, 124, 129,
                                          118, 102, 105});
  const std::vector<uint8_t> g = pattern(4, 5, 1);
  std::vector<uint8_t> up(9 * 7);
  gcc::resize_bilinear_pil(g.data(), 4, 5, 1, up.data(), 9, 7);
  CHECK(as_ints(up) == std::vector<int>{0,   21,  48,  74,  100, 127, 148, 15,  37,  65,  92,  118, 128, 125, 56,  79,
                                        109, 138, 167, 130, 64,  96,  121, 149, 171, 202, 130, 18,  137, 164, 161, 104,
                                        137, 117, 71,  177, 206, 173, 36,  72,  103, 123, 118, 148, 142, 69,  107, 146,
                                        176, 45,  77,  106, 115, 156, 197, 229, 17,  50,  92,  133, 174, 216, 249});
  std::vector<uint8_t> rc(6 * 6 * 3);
  gcc::resize_shorter_center_crop(a.data(), 13, 17, 3, 6, rc.data());  // -> 6x7, left = round(0.5) = 0
  CHECK(as_ints(rc) == std::vector<int>{101, 131, 144, 122, 131, 147, 126, 128, 134, 113, 130, 136, 117, 135, 125, 139, 144, 94,
                                        124, 132, 131, 138, 140, 134, 140, 132, 125, 131, 125, 127, 133, 139, 141, 109, 143, 132,
                                        114, 150, 122, 129, 133, 110, 147, 136, 126, 117, 136, 114, 143, 116, 115, 132, 137, 134,
                                        129, 109, 142, 130, 118, 141, 128, 120, 130, 128, 126, 125, 131, 101, 150, 135, 105, 152,
                                        152, 116, 125, 148, 121, 124, 106, 141, 133, 139, 131, 134, 121, 130, 138, 147, 121, 142,
                                        148, 120, 129, 122, 132, 100, 91,  144, 134, 114, 116, 166, 158, 107, 143, 148, 123, 129});
  const std::vector<uint8_t> c = pattern(11, 20, 3);
  std::vector<uint8_t> rc2(4 * 4 * 3);
  gcc::resize_shorter_center_crop(c.data(), 11, 20, 3, 4, rc2.data());  // -> 4x7, left = round(1.5) = 2
  CHECK(as_ints(rc2) == std::vector<int>{122, 127, 135, 120, 130, 131, 126, 146, 109, 125, 121, 119, 133, 133, 122, 134,
                                         131, 125, 125, 140, 134, 143, 142, 132, 132, 128, 124, 132, 115, 128, 132, 109,
                                         146, 131, 133, 137, 125, 126, 140, 123, 138, 131, 143, 116, 150, 124, 115, 123});
  const std::vector<uint8_t> tall = pattern(17, 13, 3);
  std::vector<uint8_t> rc3(6 * 6 * 3);
  gcc::resize_shorter_center_crop(tall.data(), 17, 13, 3, 6, rc3.data());  // -> 7x6, top = 0
  CHECK(as_ints(rc3) == std::vector<int>{103, 132, 143, 124, 127, 144, 127, 140, 130, 111, 123, 143, 124, 126, 133, 119, 147, 118,
                                         119, 136, 127, 139, 138, 132, 143, 135, 126, 131, 130, 120, 129, 131, 130, 136, 143, 144,
                                         116, 143, 130, 119, 131, 119, 140, 130, 121, 133, 132, 120, 137, 120, 114, 135, 102, 140,
                                         136, 106, 130, 149, 116, 147, 114, 139, 116, 131, 122, 138, 119, 134, 134, 132, 100, 150,
                                         158, 117, 134, 141, 110, 115, 102, 150, 111, 112, 118, 166, 144, 126, 134, 135, 113, 149,
                                         126, 139, 108, 104, 143, 109, 96,  148, 86,  94,  146, 116, 124, 140, 115, 138, 135, 109});
  // same size: a copy
  std::vector<uint8_t> same(13 * 17 * 3);
  gcc::resize_bilinear_pil(a.data(), 13, 17, 3, same.data(), 13, 17);
  CHECK(same == a);
}

TEST_CASE("image folder: ImageFolder order, grey -> 3 channels, resize to S, list files") {
  TempDir t;
  const std::string root = t / "folder";
  // class "cat": b.png (RGB 4x4), a.png (grey 4x4), sub/z.bmp; class "dog": c.png (RGB 8x6); notes ignored
  const std::vector<uint8_t> b = pattern(4, 4, 3, 1), a = pattern(4, 4, 1, 2), z = pattern(4, 4, 3, 3), c = pattern(8, 6, 3, 4);
  write_png(root + "/cat/b.png", 4, 4, 3, b);
  write_png(root + "/cat/a.PNG", 4, 4, 1, a);
  write_bmp(root + "/cat/sub/z.bmp", 4, 4, 3, z);
  write_png(root + "/dog/c.png", 8, 6, 3, c);
  write_text(root + "/dog/notes.txt", "not an image");
  write_text(root + "/readme.md", "files in the root are ignored");

  const gcc::ImageList list = gcc::list_image_folder(root, "pets");
  CHECK(list.class_names == std::vector<std::string>{"cat", "dog"});
  REQUIRE(list.entries.size() == 4);
  CHECK(list.entries[0].path == "cat/a.PNG");
  CHECK(list.entries[1].path == "cat/b.png");
  CHECK(list.entries[2].path == "cat/sub/z.bmp");
  CHECK(list.entries[3].path == "dog/c.png");
  CHECK(list.entries[3].label == 1);

  gcc::ImageCacheOptions o;
  o.size = 4;
  o.use_cache = false;
  const ImageDataset d = gcc::read_image_folder(root, o, "pets");
  CHECK(d.n == 4);
  CHECK(d.channels == 3);
  CHECK(d.labels == std::vector<int>{0, 0, 0, 1});
  CHECK(d.name == "pets");
  // grey replicated into 3 channels
  CHECK(px_of(d, 0, 2, 3, 0) == a[2 * 4 + 3]);
  CHECK(px_of(d, 0, 2, 3, 2) == a[2 * 4 + 3]);
  // RGB 4x4 kept exactly; BMP too
  CHECK(std::vector<uint8_t>(d.image(1), d.image(1) + 48) == b);
  CHECK(std::vector<uint8_t>(d.image(2), d.image(2) + 48) == z);
  // the 8x6 image: shorter side 6 -> 4, then the centre crop (same rule as resize_shorter_center_crop)
  std::vector<uint8_t> want(48);
  gcc::resize_shorter_center_crop(c.data(), 8, 6, 3, 4, want.data());
  CHECK(std::vector<uint8_t>(d.image(3), d.image(3) + 48) == want);
  // one channel
  o.channels = 1;
  const ImageDataset g = gcc::read_image_folder(root, o);
  CHECK(g.channels == 1);
  CHECK(px_of(g, 0, 1, 1, 0) == a[5]);

  // a list file: "relative_path label", paths relative to the list's folder by default
  write_text(root + "/list.txt", "# my subset\ndog/c.png 1\n\ncat/b.png 0\r\n");
  const gcc::ImageList l2 = gcc::read_image_list_file(root + "/list.txt", "", {"cat", "dog"});
  REQUIRE(l2.entries.size() == 2);
  CHECK(l2.entries[0].path == "dog/c.png");
  CHECK(l2.entries[1].label == 0);
  CHECK(l2.root == root);
  write_text(t / "bad.txt", "cat/b.png 1x\n");
  CHECK(has(error_of([&] { gcc::read_image_list_file(t / "bad.txt", root); }), "line 1: label '1x' is not a non-negative integer"));
  write_text(t / "bad2.txt", "cat/b.png 2\n");
  CHECK(has(error_of([&] { gcc::read_image_list_file(t / "bad2.txt", root, {"cat", "dog"}); }), "label 2 is out of range 0..1"));
}

TEST_CASE("image folder: corrupt JPEG, empty class folder, missing root") {
  TempDir t;
  const std::string root = t / "f";
  write_png(root + "/a/x.png", 4, 4, 3, pattern(4, 4, 3));
  write_bytes(root + "/b/broken.jpg", {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01, 0x02, 0x03});
  gcc::ImageCacheOptions o;
  o.size = 4;
  o.use_cache = false;
  std::string m = error_of([&] { gcc::read_image_folder(root, o); });
  CHECK(has(m, root + "/b/broken.jpg"));
  CHECK(has(m, "cannot decode"));
  CHECK(has(m, "expected a valid PNG, JPEG or BMP file"));
  // the same through the cache: error, and no cache file or temp file left behind
  o.use_cache = true;
  o.cache_path = t / "cache/f.gccimg";
  o.verbose = false;
  m = error_of([&] { gcc::read_image_folder(root, o); });
  CHECK(has(m, root + "/b/broken.jpg"));
  CHECK(!std::filesystem::exists(t / "cache/f.gccimg"));
  CHECK(std::filesystem::is_empty(t / "cache"));
  // a PNG cut in half
  std::vector<uint8_t> png = read_bytes(root + "/a/x.png");
  png.resize(png.size() / 2);
  write_bytes(root + "/b/broken.jpg", png);
  write_bytes(root + "/b/half.png", png);
  std::remove((root + "/b/broken.jpg").c_str());
  o.use_cache = false;
  CHECK(has(error_of([&] { gcc::read_image_folder(root, o); }), root + "/b/half.png"));
  // an empty class folder (a non-image file does not count)
  std::remove((root + "/b/half.png").c_str());
  write_text(root + "/b/readme.txt", "x");
  m = error_of([&] { gcc::read_image_folder(root, o); });
  CHECK(has(m, "class folder '" + root + "/b' holds no image files"));
  m = error_of([&] { gcc::read_image_folder(t / "absent", o); });
  CHECK(has(m, t / "absent"));
  CHECK(has(m, "does not exist"));
  write_text(t / "flat/x.txt", "x");
  CHECK(has(error_of([&] { gcc::list_image_folder(t / "flat"); }), "has no sub-folders"));
  o.size = 0;
  write_png(t / "ok/c/x.png", 4, 4, 3, pattern(4, 4, 3));
  CHECK(has(error_of([&] { gcc::read_image_folder(t / "ok", o); }), "ImageCacheOptions::size"));
}

TEST_CASE("ImageNet-10 / ImageNet-Dogs: from a train folder (first per_class sorted) or a list file") {
  TempDir t;
  const std::string train = t / "ILSVRC2012/train";
  const auto& wnids = gcc::imagenet_subset_wnids(gcc::ImageNetSubset::imagenet10);
  CHECK(wnids.size() == 10);
  CHECK(gcc::imagenet_subset_wnids(gcc::ImageNetSubset::imagenet_dogs).size() == 15);
  CHECK(gcc::imagenet_subset_names(gcc::ImageNetSubset::imagenet_dogs).size() == 15);
  for (std::size_t c = 0; c < wnids.size(); ++c)
    for (int k = 2; k >= 0; --k)
      write_png(train + "/" + wnids[c] + "/" + wnids[c] + "_" + std::to_string(100 + k) + ".JPEG.png", 4, 4, 3,
                pattern(4, 4, 3, static_cast<int>(c * 3 + k)));
  write_png(train + "/n01440764/n01440764_1.png", 4, 4, 3, pattern(4, 4, 3));  // another class: ignored
  const gcc::ImageList l = gcc::imagenet_subset_list(gcc::ImageNetSubset::imagenet10, train, 2);
  REQUIRE(l.entries.size() == 20);
  CHECK(l.entries[0].path == "n02056570/n02056570_100.JPEG.png");
  CHECK(l.entries[1].path == "n02056570/n02056570_101.JPEG.png");
  CHECK(l.entries[19].label == 9);
  CHECK(l.class_names[0] == "king penguin");
  gcc::ImageCacheOptions o;
  o.size = 4;
  o.use_cache = false;
  const ImageDataset d = gcc::read_imagenet_subset(gcc::ImageNetSubset::imagenet10, train, o, 3);
  CHECK(d.n == 30);
  CHECK(std::vector<uint8_t>(d.image(4), d.image(4) + 48) == pattern(4, 4, 3, 1 * 3 + 1));
  std::string m = error_of([&] { gcc::imagenet_subset_list(gcc::ImageNetSubset::imagenet10, train, 4); });
  CHECK(has(m, "holds 3 images, fewer than the 4 per class"));
  m = error_of([&] { gcc::imagenet_subset_list(gcc::ImageNetSubset::imagenet_dogs, train, 2); });
  CHECK(has(m, "class folder '" + train + "/n02086646' is missing"));
  m = error_of([&] { gcc::imagenet_subset_list(gcc::ImageNetSubset::imagenet10, t / "none", 2); });
  CHECK(has(m, "data_scripts/make_imagenet_subset.sh --subset imagenet10"));
  // a prepared folder with imagenet10.txt (as make_imagenet_subset.sh writes)
  write_text(t / "prep/imagenet10.txt", "../ILSVRC2012/train/n07747607/n07747607_102.JPEG.png 9\n"
                                        "../ILSVRC2012/train/n02056570/n02056570_100.JPEG.png 0\n");
  const gcc::ImageList lf = gcc::imagenet_subset_list(gcc::ImageNetSubset::imagenet10, t / "prep");
  REQUIRE(lf.entries.size() == 2);
  CHECK(lf.entries[0].label == 9);
  const ImageDataset df = gcc::load_image_list(lf, o);
  CHECK(std::vector<uint8_t>(df.image(0), df.image(0) + 48) == pattern(4, 4, 3, 9 * 3 + 2));
  // a list file with absolute paths (make_imagenet_subset.sh without --links), given as a file
  write_text(t / "abs.txt", train + "/n02085936/n02085936_101.JPEG.png 1\n");
  const gcc::ImageList la = gcc::imagenet_subset_list(gcc::ImageNetSubset::imagenet10, t / "abs.txt");
  const ImageDataset da = gcc::load_image_list(la, o);
  CHECK(std::vector<uint8_t>(da.image(0), da.image(0) + 48) == pattern(4, 4, 3, 1 * 3 + 1));
}

TEST_CASE("Tiny-ImageNet: train and val splits of the official layout") {
  TempDir t;
  const std::string root = t / "tiny-imagenet-200";
  write_text(root + "/wnids.txt", "n09999999\nn01443537\n");  // unsorted on disk: labels follow sorted order
  write_text(root + "/words.txt", "n01443537\tgoldfish, Carassius auratus\nn09999999\tthing\nn00000001\tunused\n");
  for (int k = 0; k < 3; ++k) {
    write_jpg(root + "/train/n01443537/images/n01443537_" + std::to_string(k) + ".JPEG", 8, 8, 3, pattern(8, 8, 3, k));
    write_jpg(root + "/train/n09999999/images/n09999999_" + std::to_string(k) + ".JPEG", 8, 8, 1, pattern(8, 8, 1, k));
  }
  write_text(root + "/train/n01443537/n01443537_boxes.txt", "n01443537_0.JPEG\t0\t0\t8\t8\n");
  write_jpg(root + "/val/images/val_0.JPEG", 8, 8, 3, pattern(8, 8, 3, 7));
  write_jpg(root + "/val/images/val_1.JPEG", 8, 8, 3, pattern(8, 8, 3, 8));
  write_text(root + "/val/val_annotations.txt", "val_0.JPEG\tn09999999\t0\t0\t8\t8\nval_1.JPEG\tn01443537\t1\t1\t6\t6\n");

  const gcc::ImageList tl = gcc::tiny_imagenet_list(t.path, "train");
  CHECK(tl.class_names == std::vector<std::string>{"goldfish", "thing"});
  REQUIRE(tl.entries.size() == 6);
  CHECK(tl.entries[0].path == "train/n01443537/images/n01443537_0.JPEG");
  CHECK(tl.entries[5].label == 1);
  gcc::ImageCacheOptions o;
  o.size = 8;
  o.use_cache = false;
  const ImageDataset tr = gcc::read_tiny_imagenet(root, "train", o);
  CHECK(tr.n == 6);
  CHECK(tr.channels == 3);
  CHECK(tr.labels == std::vector<int>{0, 0, 0, 1, 1, 1});
  // JPEG is lossy: compare with a direct decode of the same file (native 8x8 = S: no resampling)
  const gcc::DecodedImage dec = gcc::decode_image_file(root + "/train/n09999999/images/n09999999_1.JPEG", 3);
  CHECK(std::vector<uint8_t>(tr.image(4), tr.image(4) + 192) == dec.pixels);
  CHECK(px_of(tr, 4, 3, 3, 0) == px_of(tr, 4, 3, 3, 2));  // grey JPEG -> 3 equal channels
  const ImageDataset va = gcc::read_tiny_imagenet(root, "val", o);
  CHECK(va.n == 2);
  CHECK(va.labels == std::vector<int>{1, 0});
  // bad inputs
  make_dirs(root + "/train/n05555555/images");
  std::string m = error_of([&] { gcc::tiny_imagenet_list(root, "train"); });
  CHECK(has(m, "train folder '" + root + "/train/n05555555' is not listed in '" + root + "/wnids.txt'"));
  std::filesystem::remove_all(root + "/train/n05555555");
  write_text(root + "/val/val_annotations.txt", "val_0.JPEG\tn07777777\t0\t0\t8\t8\n");
  CHECK(has(error_of([&] { gcc::tiny_imagenet_list(root, "val"); }), "names WNID 'n07777777'"));
  m = error_of([&] { gcc::read_tiny_imagenet(t / "none"); });
  CHECK(has(m, "data_scripts/download_tiny_imagenet.sh"));
}

TEST_CASE("ImageDataset helpers: slice, concat, to_channels, image() bounds") {
  ImageDataset a;
  a.n = 2;
  a.height = 1;
  a.width = 2;
  a.channels = 3;
  a.pixels = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  a.labels = {0, 1};
  a.class_names = {"x", "y"};
  a.name = "a";
  const ImageDataset s = gcc::slice(a, 1, 1);
  CHECK(s.pixels == std::vector<uint8_t>{7, 8, 9, 10, 11, 12});
  CHECK(s.labels == std::vector<int>{1});
  const ImageDataset c = gcc::concat({&a, &s}, "ac");
  CHECK(c.n == 3);
  CHECK(c.labels == std::vector<int>{0, 1, 1});
  const ImageDataset g = gcc::to_channels(a, 1);
  // PIL's L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16
  CHECK(int(g.pixels[0]) == (1 * 19595 + 2 * 38470 + 3 * 7471 + 0x8000) >> 16);
  CHECK_THROWS_WITH_AS(a.image(2), doctest::Contains("index 2 out of range for 'a' (2 images)"), gcc::Error);
  ImageDataset b = a;
  b.width = 1;
  b.pixels.resize(6);
  CHECK_THROWS_WITH_AS(gcc::concat({&a, &b}, "ab"), doctest::Contains("holds 1x1x3 images"), gcc::Error);
}
