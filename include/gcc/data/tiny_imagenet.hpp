// Tiny-ImageNet-200 reader for the official zip's layout (wnids.txt, words.txt,
// train/<wnid>/images/*.JPEG, val/images/*.JPEG + val/val_annotations.txt), through the image cache.
#pragma once
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dataset.hpp"
#include "image_cache.hpp"
#include "image_folder.hpp"

namespace gcc {

inline std::string default_tiny_imagenet_root() {
  return data_detail::join(data_detail::default_data_dir(), "tiny-imagenet");
}

// The image list of a Tiny-ImageNet split. root: the tiny-imagenet-200 folder (or its parent);
// "" = default_tiny_imagenet_root(). Classes are the WNIDs of wnids.txt in sorted order (as
// torchvision's ImageFolder over train/ numbers them); names are the first synonym in words.txt (the
// WNID when words.txt is absent). split "train": train/<wnid>/images/*.JPEG, classes in order, files
// sorted (100,000); "val": val/images/<file> labelled by val/val_annotations.txt, in that file's order
// (10,000). Every class must have train images, and every train folder must be in wnids.txt.
inline ImageList tiny_imagenet_list(std::string root = "", const std::string& split = "train") {
  using namespace data_detail;
  const std::string r = "read_tiny_imagenet";
  const std::string fetch = "Fetch it with: data_scripts/download_tiny_imagenet.sh (it prints the path to pass)";
  GCC_CHECK(split == "train" || split == "val", r, ": unknown split '", split, "'; expected train or val");
  if (root.empty()) root = default_tiny_imagenet_root();
  root = descend_if(root, "tiny-imagenet-200", "wnids.txt");
  if (!is_file(join(root, "wnids.txt")) || !is_dir(join(root, "train")))
    missing_root(r, root, "Tiny-ImageNet-200 (wnids.txt, words.txt, train/<wnid>/images/*.JPEG, val/)", fetch);
  std::vector<std::string> wnids = read_lines(join(root, "wnids.txt"));
  std::sort(wnids.begin(), wnids.end());
  GCC_CHECK(std::adjacent_find(wnids.begin(), wnids.end()) == wnids.end(), r, ": '", join(root, "wnids.txt"),
            "' lists a WNID twice");
  std::map<std::string, int> label_of;
  for (std::size_t i = 0; i < wnids.size(); ++i) label_of[wnids[i]] = static_cast<int>(i);
  for (const std::string& d : sub_folders(join(root, "train")))
    GCC_CHECK(label_of.count(d), r, ": train folder '", join(join(root, "train"), d), "' is not listed in '",
              join(root, "wnids.txt"), "'. ", fetch);

  ImageList list;
  list.root = root;
  list.name = "tiny-imagenet-" + split;
  std::map<std::string, std::string> words;
  if (is_file(join(root, "words.txt"))) {
    for (const std::string& line : read_lines(join(root, "words.txt"))) {
      const auto tab = line.find('\t');
      if (tab == std::string::npos) continue;
      std::string n = line.substr(tab + 1);
      const auto comma = n.find(',');
      if (comma != std::string::npos) n = n.substr(0, comma);
      words[line.substr(0, tab)] = n;
    }
  }
  for (const std::string& w : wnids) list.class_names.push_back(words.count(w) ? words[w] : w);

  if (split == "train") {
    for (std::size_t c = 0; c < wnids.size(); ++c) {
      const std::string dir = join(join(root, "train"), wnids[c]);
      const std::string images = join(dir, "images");
      GCC_CHECK(is_dir(images), r, ": '", images, "' is missing (class ", wnids[c], " of wnids.txt). ", fetch);
      std::vector<std::string> files = list_images_under(images, root);
      GCC_CHECK(!files.empty(), r, ": class folder '", images, "' holds no image files. ", fetch);
      for (std::string& f : files) list.entries.push_back(ImageEntry{std::move(f), static_cast<int>(c)});
    }
  } else {
    const std::string ann = join(join(root, "val"), "val_annotations.txt");
    GCC_CHECK(is_file(ann), r, ": '", ann, "' is missing; the val split needs it. ", fetch);
    int64_t line_no = 0;
    for (const std::string& line : read_lines(ann)) {
      ++line_no;
      const auto t1 = line.find('\t');
      const auto t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
      GCC_CHECK(t1 != std::string::npos, r, ": '", ann, "' line ", line_no, " is '", line,
                "'; expected \"file<TAB>wnid<TAB>box...\"");
      const std::string file = line.substr(0, t1);
      const std::string wnid = line.substr(t1 + 1, t2 == std::string::npos ? std::string::npos : t2 - t1 - 1);
      GCC_CHECK(label_of.count(wnid), r, ": '", ann, "' line ", line_no, " names WNID '", wnid,
                "', which wnids.txt does not list");
      list.entries.push_back(ImageEntry{"val/images/" + file, label_of[wnid]});
    }
    GCC_CHECK(!list.entries.empty(), r, ": '", ann, "' lists no images");
  }
  return list;
}

// Tiny-ImageNet as S x S x C images (opt.size 0 = 64, the native size: no resampling).
inline ImageDataset read_tiny_imagenet(const std::string& root = "", const std::string& split = "train",
                                       ImageCacheOptions opt = {}) {
  if (opt.size == 0) opt.size = 64;
  return load_image_list(tiny_imagenet_list(root, split), opt);
}

}  // namespace gcc
