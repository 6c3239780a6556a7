// ImageNet-10 and ImageNet-Dogs (the GCC papers' ImageNet subsets): built from a user's ILSVRC-2012
// train folder and the WordNet-ID lists, or from a list file written by data_scripts/make_imagenet_subset.sh.
#pragma once
#include <string>
#include <vector>

#include "dataset.hpp"
#include "image_cache.hpp"
#include "image_folder.hpp"

namespace gcc {

enum class ImageNetSubset { imagenet10, imagenet_dogs };

// WordNet IDs in label order (both lists are sorted), and the ILSVRC-2012 class names.
inline const std::vector<std::string>& imagenet_subset_wnids(ImageNetSubset s) {
  static const std::vector<std::string> ten = {"n02056570", "n02085936", "n02128757", "n02690373", "n02692877",
                                               "n03095699", "n04254680", "n04285008", "n04467665", "n07747607"};
  static const std::vector<std::string> dogs = {"n02085936", "n02086646", "n02088238", "n02091467", "n02097130",
                                                "n02099601", "n02101388", "n02101556", "n02102177", "n02105056",
                                                "n02105412", "n02105855", "n02107142", "n02110958", "n02112137"};
  return s == ImageNetSubset::imagenet10 ? ten : dogs;
}
inline const std::vector<std::string>& imagenet_subset_names(ImageNetSubset s) {
  static const std::vector<std::string> ten = {"king penguin", "Maltese dog",   "snow leopard", "airliner",
                                               "airship",      "container ship", "soccer ball", "sports car",
                                               "trailer truck", "orange"};
  static const std::vector<std::string> dogs = {
      "Maltese dog",     "Blenheim spaniel", "basset",    "Norwegian elkhound",    "giant schnauzer",
      "golden retriever", "Brittany spaniel", "clumber",  "Welsh springer spaniel", "groenendael",
      "kelpie",          "Shetland sheepdog", "Doberman", "pug",                   "chow"};
  return s == ImageNetSubset::imagenet10 ? ten : dogs;
}
inline std::string imagenet_subset_id(ImageNetSubset s) {
  return s == ImageNetSubset::imagenet10 ? "imagenet10" : "imagenet-dogs";
}
// Where data_scripts/make_imagenet_subset.sh writes by default.
inline std::string default_imagenet_subset_root(ImageNetSubset s) {
  return data_detail::join(data_detail::default_data_dir(), imagenet_subset_id(s));
}

// The subset's image list. root may be
//   - a list file ("relative_path label" per line, paths relative to its folder),
//   - a folder holding <id>.txt (imagenet10.txt / imagenet-dogs.txt, as make_imagenet_subset.sh writes),
//   - a folder holding the WNID folders (an ILSVRC-2012 train folder, or the script's link tree): the
//     first `per_class` images of each class in sorted file-name order (1,300 as the papers use: 13,000
//     for ImageNet-10, 19,500 for ImageNet-Dogs); per_class = 0 takes all. A class with fewer images
//     than per_class is an error (nothing is silently dropped).
// "" = default_imagenet_subset_root(s).
inline ImageList imagenet_subset_list(ImageNetSubset s, std::string root = "", int per_class = 1300) {
  using namespace data_detail;
  const std::string id = imagenet_subset_id(s);
  const std::string reader = "imagenet_subset(" + id + ")";
  const std::string fetch = "Build it from your ILSVRC-2012 train folder with: data_scripts/make_imagenet_subset.sh --subset " +
                            id + " --train-dir /path/to/ILSVRC2012/train (it prints the path to pass)";
  if (root.empty()) root = default_imagenet_subset_root(s);
  const std::vector<std::string>& wnids = imagenet_subset_wnids(s);
  const std::vector<std::string>& names = imagenet_subset_names(s);
  if (is_file(root)) return read_image_list_file(root, "", names, id);
  if (is_file(join(root, id + ".txt"))) return read_image_list_file(join(root, id + ".txt"), "", names, id);
  if (!is_dir(root) || !is_dir(join(root, wnids[0])))
    missing_root(reader, root, "an ILSVRC-2012 train folder (" + wnids[0] + "/ ...) or " + id + ".txt", fetch);
  ImageList list;
  list.root = root;
  list.name = id;
  list.class_names = names;
  for (std::size_t c = 0; c < wnids.size(); ++c) {
    const std::string dir = join(root, wnids[c]);
    GCC_CHECK(is_dir(dir), reader, ": class folder '", dir, "' is missing from the ILSVRC-2012 train folder '", root,
              "'. ", fetch);
    std::vector<std::string> files = list_images_under(dir, root);
    GCC_CHECK(!files.empty(), reader, ": class folder '", dir, "' holds no image files (.JPEG, .png)");
    GCC_CHECK(per_class <= 0 || static_cast<int>(files.size()) >= per_class, reader, ": class folder '", dir,
              "' holds ", files.size(), " images, fewer than the ", per_class,
              " per class requested; pass per_class = 0 to take all images");
    const std::size_t take = per_class > 0 ? static_cast<std::size_t>(per_class) : files.size();
    for (std::size_t i = 0; i < take; ++i) list.entries.push_back(ImageEntry{files[i], static_cast<int>(c)});
  }
  return list;
}

// ImageNet-10 / ImageNet-Dogs as S x S x C images through the decoded-image cache. opt.size 0 = 112 (the
// release stores these subsets pre-resized at 112 px and trains on 96 px crops of them).
inline ImageDataset read_imagenet_subset(ImageNetSubset s, const std::string& root = "", ImageCacheOptions opt = {},
                                         int per_class = 1300) {
  if (opt.size == 0) opt.size = 112;
  return load_image_list(imagenet_subset_list(s, root, per_class), opt);
}
inline ImageDataset read_imagenet10(const std::string& root = "", const ImageCacheOptions& opt = {}) {
  return read_imagenet_subset(ImageNetSubset::imagenet10, root, opt);
}
inline ImageDataset read_imagenet_dogs(const std::string& root = "", const ImageCacheOptions& opt = {}) {
  return read_imagenet_subset(ImageNetSubset::imagenet_dogs, root, opt);
}

}  // namespace gcc
