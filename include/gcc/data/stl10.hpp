// STL-10 reader for the official binary archive (stl10_binary/: *_X.bin images stored column-major
// 3x96x96, *_y.bin labels 1..10), with the splits and split combinations the GCC release uses.
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "../core/parallel.hpp"
#include "dataset.hpp"

namespace gcc {

inline std::string default_stl10_root() { return data_detail::join(data_detail::default_data_dir(), "stl10"); }

// STL-10, binary version. root: the folder holding train_X.bin, train_y.bin, test_X.bin, test_y.bin,
// unlabeled_X.bin and class_names.txt (or its parent holding stl10_binary/); "" = default_stl10_root().
// Images are transposed to HWC 96x96x3; labels 1..10 on disk become 0..9, unlabelled images get -1.
// split:
//   "train" (5,000), "test" (8,000), "unlabeled" (100,000), "train+unlabeled" (105,000),
//   "train+test" (13,000, train then test: the release's evaluation / phase-2 set),
//   "train+unlabeled+test" (113,000, train, then unlabelled, then test: the release's phase-1 set).
// Ordering quirk (SPEC §4): the release keys its feature memory by dataset index, so at the switch
// from the 113,000-image set to the 13,000-image set (first refresh, epoch 50) memory rows
// 5,000..12,999 hold embeddings of unlabelled images (indices 5,000..12,999 of the 113,000 order), not
// of the test images that have those indices in the 13,000 order. Index i < 5,000 is the same image in
// both orders; test image t is 105,000 + t in the first and 5,000 + t in the second. A trainer that
// keys the memory by image identity uses stl10_identity() below.
inline ImageDataset read_stl10(std::string root = "", const std::string& split = "train+test") {
  using namespace data_detail;
  const std::string fetch = "Fetch it with: data_scripts/download_stl10.sh (it prints the path to pass)";
  if (root.empty()) root = default_stl10_root();
  std::vector<std::string> parts;
  if (split == "train" || split == "test" || split == "unlabeled") parts = {split};
  else if (split == "train+test") parts = {"train", "test"};
  else if (split == "train+unlabeled") parts = {"train", "unlabeled"};
  else if (split == "train+unlabeled+test") parts = {"train", "unlabeled", "test"};
  else
    GCC_FAIL("read_stl10: unknown split '", split, "'; expected train, test, unlabeled, train+test, ",
             "train+unlabeled or train+unlabeled+test");
  root = descend_if(root, "stl10_binary", "train_X.bin");
  if (!is_dir(root) || !path_exists(join(root, "train_X.bin")))
    missing_root("read_stl10", root, "the STL-10 binary version (train_X.bin, train_y.bin, test_X.bin, test_y.bin, unlabeled_X.bin)", fetch);

  constexpr int64_t kImg = 3 * 96 * 96;
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (const std::string& p : parts) {
    const std::string xf = join(root, p + "_X.bin");
    const int64_t xs = file_size(xf);
    GCC_CHECK(xs >= 0, "read_stl10: '", xf, "' is missing; the STL-10 binary version has it. ", fetch);
    GCC_CHECK(xs > 0 && xs % kImg == 0, "read_stl10: '", xf, "' is ", xs, " bytes, not a positive multiple of ",
              kImg, " (one 3x96x96 uint8 image): the file is truncated or not the binary version. ", fetch);
    const int64_t c = xs / kImg;
    if (p != "unlabeled") {
      const std::string yf = join(root, p + "_y.bin");
      const int64_t ys = file_size(yf);
      GCC_CHECK(ys >= 0, "read_stl10: '", yf, "' is missing; the STL-10 binary version has it. ", fetch);
      GCC_CHECK(ys == c, "read_stl10: '", yf, "' is ", ys, " bytes (one label byte per image), but '", xf,
                "' holds ", c, " images: one of the two files is truncated. ", fetch);
    }
    counts.push_back(c);
    total += c;
  }

  ImageDataset ds;
  ds.n = total;
  ds.height = ds.width = 96;
  ds.channels = 3;
  ds.name = "stl10/" + split;
  ds.pixels.resize(static_cast<std::size_t>(total * kImg));
  ds.labels.assign(static_cast<std::size_t>(total), -1);
  int64_t first = 0;
  const int64_t chunk = 1024;  // images read and transposed at a time (28 MB)
  std::vector<uint8_t> raw;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const std::string xf = join(root, parts[k] + "_X.bin");
    for (int64_t s = 0; s < counts[k]; s += chunk) {
      const int64_t m = std::min(chunk, counts[k] - s);
      raw.resize(static_cast<std::size_t>(m * kImg));
      read_exact("read_stl10", xf, s * kImg, m * kImg, raw.data());
      uint8_t* dst = ds.pixels.data() + (first + s) * kImg;
      parallel_for(m, [&](int64_t i) {
        const uint8_t* src = raw.data() + i * kImg;  // [3][x=96][y=96]
        uint8_t* d = dst + i * kImg;                 // [y=96][x=96][3]
        for (int c = 0; c < 3; ++c)
          for (int x = 0; x < 96; ++x)
            for (int y = 0; y < 96; ++y) d[(y * 96 + x) * 3 + c] = src[c * 9216 + x * 96 + y];
      }, 64);
    }
    if (parts[k] != "unlabeled") {
      const std::string yf = join(root, parts[k] + "_y.bin");
      std::vector<uint8_t> y(static_cast<std::size_t>(counts[k]));
      read_exact("read_stl10", yf, 0, counts[k], y.data());
      for (int64_t i = 0; i < counts[k]; ++i) {
        GCC_CHECK(y[static_cast<std::size_t>(i)] >= 1 && y[static_cast<std::size_t>(i)] <= 10, "read_stl10: '", yf,
                  "' byte ", i, " is ", int(y[static_cast<std::size_t>(i)]),
                  ", expected a label 1..10: the file is corrupt. ", fetch);
        ds.labels[static_cast<std::size_t>(first + i)] = y[static_cast<std::size_t>(i)] - 1;
      }
    }
    first += counts[k];
  }
  const std::string names = join(root, "class_names.txt");
  if (is_file(names)) {
    ds.class_names = read_lines(names);
    GCC_CHECK(ds.class_names.size() == 10, "read_stl10: '", names, "' lists ", ds.class_names.size(),
              " class names, expected 10; remove it to use the standard names or re-download the archive");
  } else {
    ds.class_names = {"airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"};
  }
  return ds;
}

// Image identity across the STL-10 split combinations: a stable id per image (train t -> t,
// unlabelled u -> 5,000 + u, test t -> 105,000 + t; i.e. the index in the "train+unlabeled+test"
// order) for position i of `split` given the official sizes (5,000 / 100,000 / 8,000). Lets a trainer
// key its feature memory by image rather than by position (see the quirk noted at read_stl10).
inline int64_t stl10_identity(const std::string& split, int64_t i, int64_t n_train = 5000,
                              int64_t n_unlabeled = 100000) {
  if (split == "train" || split == "train+unlabeled" || split == "train+unlabeled+test") return i;
  if (split == "unlabeled") return n_train + i;
  if (split == "test") return n_train + n_unlabeled + i;
  if (split == "train+test") return i < n_train ? i : n_unlabeled + i;
  GCC_FAIL("stl10_identity: unknown split '", split, "'");
}

}  // namespace gcc
