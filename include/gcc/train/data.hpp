// TrainData: the image sets one end-to-end run uses (phase-1 set, phase-2 set, evaluation set) and the
// image identity of every training sample, loaded for a Config from the dataset readers.
//
// Identity keys the feature memory. For every dataset but STL-10 the phase-1 and phase-2 sets are the
// same and identity = index. STL-10 trains phase 1 on train+unlabelled+test (113,000) and phase 2 on
// train+test (13,000); the release keys its memory by position, so at the switch rows 5,000-12,999 hold
// unlabelled images' embeddings (SPEC §4 quirk). We key it by image identity (gcc::stl10_identity):
// test image t is memory row 105,000 + t in both phases, so the first phase-2 graph is built from the
// embeddings of the very images it describes.
#pragma once
#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "../data/cifar.hpp"
#include "../data/dataset.hpp"
#include "../data/idx.hpp"
#include "../data/imagenet_subset.hpp"
#include "../data/stl10.hpp"
#include "../data/tiny_imagenet.hpp"
#include "../data/user_images.hpp"
#include "config.hpp"
#include "presets.hpp"

namespace gcc {
namespace train {

struct TrainData {
  std::shared_ptr<const ImageDataset> phase1, phase2, eval;
  std::vector<int64_t> phase1_ids, phase2_ids;  // memory row of each sample (image identity)
  int64_t memory_rows = 0;                      // 1 + the largest identity
  // Index in the dataset as read (e.g. Fashion-MNIST's 70,000 "all" images) of each phase-1 image, when
  // the training set is the whole dataset or a subset of it (empty otherwise).
  std::vector<int64_t> phase1_source;

  // One set for everything (identity = index).
  static TrainData single(std::shared_ptr<const ImageDataset> d, std::shared_ptr<const ImageDataset> eval = nullptr) {
    TrainData t;
    t.phase1 = t.phase2 = d;
    t.eval = eval ? eval : d;
    t.phase1_ids.resize(static_cast<std::size_t>(d->n));
    std::iota(t.phase1_ids.begin(), t.phase1_ids.end(), int64_t{0});
    t.phase2_ids = t.phase1_ids;
    t.memory_rows = d->n;
    return t;
  }
  void validate() const {
    GCC_CHECK(phase1 && phase2 && eval, "TrainData: a set is missing");
    GCC_CHECK(phase1->n > 0 && phase2->n > 0 && eval->n > 0, "TrainData: empty image set ('", phase1->name, "' ",
              phase1->n, ", '", phase2->name, "' ", phase2->n, ", '", eval->name, "' ", eval->n, " images)");
    GCC_CHECK(static_cast<int64_t>(phase1_ids.size()) == phase1->n && static_cast<int64_t>(phase2_ids.size()) == phase2->n,
              "TrainData: identity lists (", phase1_ids.size(), ", ", phase2_ids.size(), ") do not match the sets (",
              phase1->n, ", ", phase2->n, ")");
    for (int64_t id : phase1_ids) GCC_CHECK(id >= 0 && id < memory_rows, "TrainData: identity ", id, " outside [0, ", memory_rows, ")");
    for (int64_t id : phase2_ids) GCC_CHECK(id >= 0 && id < memory_rows, "TrainData: identity ", id, " outside [0, ", memory_rows, ")");
    GCC_CHECK(static_cast<int64_t>(eval->labels.size()) == eval->n, "TrainData: the evaluation set '", eval->name,
              "' has ", eval->labels.size(), " labels for ", eval->n, " images (use -1 for an unlabelled image)");
  }
};

// The largest side a user's images are stored at when the automatic plan chooses (image_size 0): 32 on
// the CPU (a 2-core machine trains ~10^6 views of 32 px in 10 minutes), 96 on a GPU (STL-10's size).
inline int auto_image_side(const Device& device) { return device.is_cpu() ? 32 : 96; }

// How cfg's user-image source is read (dataset folder / list / idx / npy).
inline UserImagesOptions user_images_options(const Config& cfg) {
  UserImagesOptions o;
  o.kind = cfg.dataset;
  o.path = cfg.data_root;
  o.labels_path = cfg.labels_file;
  o.unlabelled = cfg.unlabelled;
  o.image_size = cfg.image_size;
  if (cfg.auto_plan && cfg.image_size == 0) o.max_size = auto_image_side(parse_device(cfg.device));
  return o;
}

// Whether eval_set "test" is available: cifar-10 / cifar-20 (the 10,000 test images), stl-10 (8,000),
// fashion-mnist (10,000).
inline bool has_test_split(const std::string& dataset) {
  const std::string d = canonical_dataset(dataset);
  return d == "cifar-10" || d == "cifar-20" || d == "stl-10" || d == "fashion-mnist";
}

// The test split of cfg's dataset (see has_test_split; others throw naming the dataset).
inline std::shared_ptr<const ImageDataset> read_test_split(const Config& cfg) {
  const std::string d = canonical_dataset(cfg.dataset);
  GCC_CHECK(has_test_split(d), "eval_set test: the dataset '", cfg.dataset, "' has no test split; expected eval_set "
            "train or all (test exists for cifar-10, cifar-20, stl-10, fashion-mnist)");
  if (d == "cifar-10") return std::make_shared<const ImageDataset>(read_cifar10(cfg.data_root, "test"));
  if (d == "cifar-20") return std::make_shared<const ImageDataset>(read_cifar20(cfg.data_root, "test"));
  if (d == "stl-10") return std::make_shared<const ImageDataset>(read_stl10(cfg.data_root, "test"));
  return std::make_shared<const ImageDataset>(read_fashion_mnist(cfg.data_root, "test"));
}

// The training and evaluation sets from every image of a dataset: train_subset picks a seeded random
// subset to train on; eval_set "all" evaluates on every image, "train" on the training images, "test"
// on the test split (read here).
inline TrainData train_data_from(const Config& cfg, std::shared_ptr<const ImageDataset> full) {
  std::shared_ptr<const ImageDataset> tr = full;
  std::vector<int64_t> source(static_cast<std::size_t>(full->n));
  std::iota(source.begin(), source.end(), int64_t{0});
  if (cfg.train_subset > 0 && cfg.train_subset < full->n) {
    tr = std::make_shared<const ImageDataset>(random_subset(*full, cfg.train_subset, cfg.seed));
    source = random_subset_indices(full->n, cfg.train_subset, cfg.seed);
  }
  TrainData t = TrainData::single(tr, cfg.eval_set == "test" ? read_test_split(cfg) : cfg.eval_set == "all" ? full : tr);
  t.phase1_source = std::move(source);
  return t;
}

// Reads the dataset of `cfg` (cfg.data_root or the reader's default folder; a user's images) and applies
// train_subset / eval_set. Throws the reader's error (naming the folder and how to fetch the data) when
// it is missing.
inline TrainData load_train_data(const Config& cfg) {
  const std::string d = canonical_dataset(cfg.dataset);
  auto finish = [&](ImageDataset all) { return train_data_from(cfg, std::make_shared<const ImageDataset>(std::move(all))); };
  if (is_user_image_kind(d)) return finish(read_user_images(user_images_options(cfg)).images);
  if (d == "cifar-10") return finish(read_cifar10(cfg.data_root, "all"));
  if (d == "cifar-20") return finish(read_cifar20(cfg.data_root, "all"));
  if (d == "fashion-mnist") return finish(read_fashion_mnist(cfg.data_root, "all"));
  if (d == "tiny-imagenet") return finish(read_tiny_imagenet(cfg.data_root, "train"));
  if (d == "imagenet-10") return finish(read_imagenet10(cfg.data_root));
  if (d == "imagenet-dogs") return finish(read_imagenet_dogs(cfg.data_root));
  if (d == "stl-10") {
    GCC_CHECK(cfg.train_subset == 0, "load_train_data: train_subset is not supported for stl-10 (its phase-1 and "
              "phase-2 sets differ); set it to 0");
    auto big = std::make_shared<const ImageDataset>(read_stl10(cfg.data_root, "train+unlabeled+test"));
    const int64_t n_train = 5000, n_test = 8000, n_unl = big->n - n_train - n_test;
    GCC_CHECK(n_unl >= 0, "load_train_data: stl-10 holds ", big->n, " images, fewer than train + test (13,000)");
    ImageDataset tr = slice(*big, 0, n_train), te = slice(*big, n_train + n_unl, n_test);
    ImageDataset small = concat({&tr, &te}, "stl10/train+test");
    TrainData t;
    t.phase1 = big;
    t.phase2 = std::make_shared<const ImageDataset>(std::move(small));
    t.eval = cfg.eval_set == "test" ? read_test_split(cfg) : t.phase2;
    t.phase1_ids.resize(static_cast<std::size_t>(big->n));
    std::iota(t.phase1_ids.begin(), t.phase1_ids.end(), int64_t{0});
    for (int64_t i = 0; i < t.phase2->n; ++i) t.phase2_ids.push_back(stl10_identity("train+test", i, n_train, n_unl));
    t.memory_rows = big->n;
    return t;
  }
  std::string known;
  for (const std::string& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
  GCC_FAIL("load_train_data: unknown dataset '", cfg.dataset, "'; known datasets: ", known, "; your own images: "
           "folder, list, idx, npy (with --data-root)");
}

// The images self-labelling trains on and evaluates on: the end-to-end run's phase-2 set and evaluation
// set (eval_set test: the test split, SPEC §5). STL-10 reads only train+test (13,000), not the 113,000
// images of phase 1.
inline TrainData load_selflabel_data(const Config& cfg) {
  if (canonical_dataset(cfg.dataset) == "stl-10") {
    GCC_CHECK(cfg.train_subset == 0, "load_selflabel_data: train_subset is not supported for stl-10; set it to 0");
    auto both = std::make_shared<const ImageDataset>(read_stl10(cfg.data_root, "train+test"));
    return TrainData::single(both, cfg.eval_set == "test" ? read_test_split(cfg) : both);
  }
  return load_train_data(cfg);
}

}  // namespace train
}  // namespace gcc
