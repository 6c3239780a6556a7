// TrainData: the image sets one end-to-end run uses (phase-1 set, phase-2 set, evaluation set) and the
// image identity of every training sample, loaded for a TrainConfig from the dataset readers.
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

#include "../core/rng.hpp"
#include "../data/cifar.hpp"
#include "../data/dataset.hpp"
#include "../data/idx.hpp"
#include "../data/imagenet_subset.hpp"
#include "../data/stl10.hpp"
#include "../data/tiny_imagenet.hpp"
#include "config.hpp"

namespace gcc {
namespace train {

struct TrainData {
  std::shared_ptr<const ImageDataset> phase1, phase2, eval;
  std::vector<int64_t> phase1_ids, phase2_ids;  // memory row of each sample (image identity)
  int64_t memory_rows = 0;                      // 1 + the largest identity

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
    GCC_CHECK(!eval->labels.empty(), "TrainData: the evaluation set '", eval->name, "' has no labels");
  }
};

// `count` images of `d` drawn without replacement by a permutation seeded with `seed`, kept in
// increasing index order (copies the pixels).
inline ImageDataset random_subset(const ImageDataset& d, int64_t count, uint64_t seed) {
  GCC_CHECK(count > 0 && count <= d.n, "random_subset: ", count, " images asked of '", d.name, "' which has ", d.n);
  std::vector<int64_t> order(static_cast<std::size_t>(d.n));
  std::iota(order.begin(), order.end(), int64_t{0});
  Rng rng(seed ^ 0x5EED5EED5EED5EEDULL);  // its own stream, not the model's
  for (int64_t i = d.n - 1; i > 0; --i)
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(rng.below(static_cast<uint64_t>(i + 1)))]);
  order.resize(static_cast<std::size_t>(count));
  std::sort(order.begin(), order.end());
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

// Reads the dataset of `cfg` (cfg.data_root or the reader's default folder) and applies train_subset /
// eval_set. Throws the reader's error (naming the folder and how to fetch the data) when it is missing.
inline TrainData load_train_data(const TrainConfig& cfg) {
  const std::string d = canonical_dataset(cfg.dataset);
  auto finish = [&](ImageDataset all) {
    auto full = std::make_shared<const ImageDataset>(std::move(all));
    std::shared_ptr<const ImageDataset> tr = full;
    if (cfg.train_subset > 0 && cfg.train_subset < full->n)
      tr = std::make_shared<const ImageDataset>(random_subset(*full, cfg.train_subset, cfg.seed));
    return TrainData::single(tr, cfg.eval_set == "all" ? full : tr);
  };
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
    t.eval = t.phase2;
    t.phase1_ids.resize(static_cast<std::size_t>(big->n));
    std::iota(t.phase1_ids.begin(), t.phase1_ids.end(), int64_t{0});
    for (int64_t i = 0; i < t.phase2->n; ++i) t.phase2_ids.push_back(stl10_identity("train+test", i, n_train, n_unl));
    t.memory_rows = big->n;
    return t;
  }
  std::string known;
  for (const std::string& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
  GCC_FAIL("load_train_data: unknown dataset '", cfg.dataset, "'; known datasets: ", known);
}

}  // namespace train
}  // namespace gcc
