// CIFAR-10 and CIFAR-100/CIFAR-20 readers for the official "binary version" archives (fixed-size
// records: label byte(s) then 3072 pixel bytes, R plane, G plane, B plane, each 32x32 row-major).
#pragma once
#include <string>
#include <vector>

#include "../core/parallel.hpp"
#include "dataset.hpp"

namespace gcc {

namespace data_detail {

inline const std::vector<std::string>& cifar10_names() {
  static const std::vector<std::string> n = {"airplane", "automobile", "bird",  "cat",  "deer",
                                             "dog",      "frog",       "horse", "ship", "truck"};
  return n;
}
inline const std::vector<std::string>& cifar20_names() {
  static const std::vector<std::string> n = {
      "aquatic_mammals",     "fish",
      "flowers",             "food_containers",
      "fruit_and_vegetables", "household_electrical_devices",
      "household_furniture", "insects",
      "large_carnivores",    "large_man-made_outdoor_things",
      "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
      "medium_mammals",      "non-insect_invertebrates",
      "people",              "reptiles",
      "small_mammals",       "trees",
      "vehicles_1",          "vehicles_2"};
  return n;
}

// Appends the records of one CIFAR binary file: each `label_bytes` label bytes then 3072 pixels
// (planar CHW 3x32x32). The label kept is byte `label_index` of the record, checked < num_classes.
inline void read_cifar_file(const std::string& reader, const std::string& path, int label_bytes,
                            int label_index, int num_classes, ImageDataset& ds, const std::string& fetch) {
  const int64_t rec = label_bytes + 3072;
  const int64_t size = file_size(path);
  GCC_CHECK(size >= 0, reader, ": '", path, "' is missing; the CIFAR binary version has it. ", fetch);
  GCC_CHECK(size > 0 && size % rec == 0, reader, ": '", path, "' is ", size, " bytes, not a positive multiple of the ",
            rec, "-byte record (", label_bytes, " label byte", (label_bytes > 1 ? "s" : ""),
            " + 3072 pixel bytes): the file is truncated or not the binary version. ", fetch);
  const int64_t count = size / rec;
  std::vector<uint8_t> raw(static_cast<std::size_t>(size));
  read_exact(reader, path, 0, size, raw.data());
  const int64_t first = ds.n;
  ds.n += count;
  ds.pixels.resize(static_cast<std::size_t>(ds.n * 3072));
  ds.labels.resize(static_cast<std::size_t>(ds.n));
  for (int64_t i = 0; i < count; ++i) {
    const int label = raw[static_cast<std::size_t>(i * rec + label_index)];
    GCC_CHECK(label < num_classes, reader, ": '", path, "' record ", i, " has label ", label, ", expected 0..",
              num_classes - 1, "; the file is corrupt or of another CIFAR version. ", fetch);
    ds.labels[static_cast<std::size_t>(first + i)] = label;
  }
  uint8_t* dst = ds.pixels.data() + first * 3072;
  parallel_for(count, [&](int64_t i) {
    const uint8_t* s = raw.data() + i * rec + label_bytes;
    uint8_t* d = dst + i * 3072;
    for (int p = 0; p < 1024; ++p) {
      d[3 * p] = s[p];
      d[3 * p + 1] = s[1024 + p];
      d[3 * p + 2] = s[2048 + p];
    }
  }, 256);
}

inline std::vector<std::string> names_or(const std::string& file, const std::vector<std::string>& fallback,
                                         std::size_t expect) {
  if (!is_file(file)) return fallback;
  std::vector<std::string> n = read_lines(file);
  GCC_CHECK(n.size() == expect, "cifar: '", file, "' lists ", n.size(), " class names, expected ", expect,
            "; remove it to use the standard names or re-download the archive");
  return n;
}

}  // namespace data_detail

// Default dataset roots (where data_scripts/download_*.sh unpack by default).
inline std::string default_cifar10_root() { return data_detail::join(data_detail::default_data_dir(), "cifar10"); }
inline std::string default_cifar100_root() { return data_detail::join(data_detail::default_data_dir(), "cifar100"); }

// CIFAR-10, binary version. root: the folder holding data_batch_1.bin .. data_batch_5.bin and
// test_batch.bin (or its parent holding cifar-10-batches-bin/); "" = default_cifar10_root().
// split: "train" (data_batch_1..5, 50,000), "test" (test_batch, 10,000) or "all" (train then test,
// 60,000: what the GCC release trains and evaluates on). Labels 0..9; names from batches.meta.txt.
inline ImageDataset read_cifar10(std::string root = "", const std::string& split = "all") {
  using namespace data_detail;
  const std::string fetch = "Fetch it with: data_scripts/download_cifar10.sh (it prints the path to pass)";
  if (root.empty()) root = default_cifar10_root();
  GCC_CHECK(split == "train" || split == "test" || split == "all", "read_cifar10: unknown split '", split,
            "'; expected train, test or all");
  root = descend_if(root, "cifar-10-batches-bin", "test_batch.bin");
  if (!is_dir(root) || !path_exists(join(root, "test_batch.bin")))
    missing_root("read_cifar10", root, "the CIFAR-10 binary version (data_batch_1.bin .. data_batch_5.bin, test_batch.bin)", fetch);
  ImageDataset ds;
  ds.height = ds.width = 32;
  ds.channels = 3;
  ds.name = "cifar10/" + split;
  std::vector<std::string> files;
  if (split != "test")
    for (int b = 1; b <= 5; ++b) files.push_back(join(root, "data_batch_" + std::to_string(b) + ".bin"));
  if (split != "train") files.push_back(join(root, "test_batch.bin"));
  for (const std::string& f : files) read_cifar_file("read_cifar10", f, 1, 0, 10, ds, fetch);
  ds.class_names = names_or(join(root, "batches.meta.txt"), cifar10_names(), 10);
  return ds;
}

// CIFAR-100, binary version: root holds train.bin (50,000) and test.bin (10,000) (or its parent holds
// cifar-100-binary/); "" = default_cifar100_root(). Records are 3074 bytes: coarse label, fine label,
// pixels. coarse = true gives CIFAR-20 (the 20 superclasses, what GCC clusters); false the 100 fine
// labels. split: "train", "test" or "all" (train then test, 60,000). Names from
// coarse_label_names.txt / fine_label_names.txt when present (standard names / numbers otherwise).
inline ImageDataset read_cifar100(std::string root = "", const std::string& split = "all", bool coarse = true) {
  using namespace data_detail;
  const std::string fetch = "Fetch it with: data_scripts/download_cifar100.sh (it prints the path to pass)";
  const std::string reader = coarse ? "read_cifar20" : "read_cifar100";
  if (root.empty()) root = default_cifar100_root();
  GCC_CHECK(split == "train" || split == "test" || split == "all", reader, ": unknown split '", split,
            "'; expected train, test or all");
  root = descend_if(root, "cifar-100-binary", "test.bin");
  if (!is_dir(root) || !path_exists(join(root, "test.bin")))
    missing_root(reader, root, "the CIFAR-100 binary version (train.bin, test.bin)", fetch);
  ImageDataset ds;
  ds.height = ds.width = 32;
  ds.channels = 3;
  ds.name = (coarse ? "cifar20/" : "cifar100/") + split;
  const int k = coarse ? 20 : 100;
  if (split != "test") read_cifar_file(reader, join(root, "train.bin"), 2, coarse ? 0 : 1, k, ds, fetch);
  if (split != "train") read_cifar_file(reader, join(root, "test.bin"), 2, coarse ? 0 : 1, k, ds, fetch);
  if (coarse) {
    ds.class_names = names_or(join(root, "coarse_label_names.txt"), cifar20_names(), 20);
  } else {
    std::vector<std::string> numbers;
    for (int i = 0; i < 100; ++i) numbers.push_back(std::to_string(i));
    ds.class_names = names_or(join(root, "fine_label_names.txt"), numbers, 100);
  }
  return ds;
}

// CIFAR-20 = CIFAR-100 with the coarse (superclass) label.
inline ImageDataset read_cifar20(const std::string& root = "", const std::string& split = "all") {
  return read_cifar100(root, split, true);
}

}  // namespace gcc
