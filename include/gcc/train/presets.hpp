// The one preset table: the release's settings (SPEC §3-§5) for its six datasets, end to end and
// self-labelling, and our CPU default "fashion-mnist" (tuned: trials in the README).
//
//   cifar-10, cifar-20    resnet18-cifar, batch 256, 32x32, K 10 / 20; self-labelling batch 1000, 200
//                         epochs, Cutout 16. CIFAR-20 normalises with CIFAR-100's statistics (the release).
//   stl-10                resnet18-stl, batch 96, 96x96, K 10; phase 1 on train+unlabelled+test (113,000),
//                         phase 2 and evaluation on train+test (13,000); self-labelling 500 / 100 / Cutout 32
//   imagenet-10, -dogs    resnet18-stl, batch 96, 96x96 (from 112 px), K 10 / 15; self-labelling as STL-10
//   tiny-imagenet         resnet34-stl, batch 128, 64x64, K 200; self-labelling as STL-10 (no release file)
//   auto                  your own images (folder, list, idx, npy): the fashion-mnist recipe, and a plan from
//                         the data and a time budget when the run starts (auto_plan.hpp)
//   fashion-mnist         the CPU default (not the release): 1-channel 28x28, ResNet-18 of base width 8 with
//                         the stem max-pool, trained on 20,000 images, evaluated on all 70,000; schedule, lr
//                         and phase-1 AGC tuned for a run of about 6 minutes on 2 cores; self-labelling 500 / 5
//                         epochs / Cutout 14.
//   fashion-mnist-gpu     the GPU proof run (README): Fashion-MNIST at full width -- 1-channel 28x28 (the
//                         images are grey), ResNet-18-cifar of base width 64 without the stem max-pool --
//                         with the release's optimiser and losses (lr 0.4, no phase-1 AGC), all 70,000
//                         images, a schedule compressed to 40 epochs (phase 2 after epoch 10, refresh every
//                         2 epochs, evaluation every 5); self-labelling 1000 / 50 epochs.
// All of them: SGD lr 0.4, momentum 0.9, wd 1e-4, cosine to lr·1e-3 over 1000 epochs, τ 0.1, λ 2, 5
// neighbours, refresh every 5 epochs from epoch 50; self-labelling Adam 5e-5 constant, threshold 0.98,
// class balancing, no EMA, 4 RandAugment ops -- except where the fashion-mnist preset says otherwise.
#pragma once
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../data/augment.hpp"
#include "config.hpp"

namespace gcc {
namespace train {

inline const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = {"cifar-10",      "cifar-20",      "stl-10",       "imagenet-10",
                                                 "imagenet-dogs", "tiny-imagenet", "fashion-mnist",
                                                 "fashion-mnist-gpu"};
  return names;
}

namespace detail {
inline void apply_views(Config& c, const std::string& family) {
  const data::ViewPreset v = data::view_preset(family);
  c.channels = v.channels;
  c.train_size = v.train_size;
  c.eval_resize = v.eval_resize;
  c.eval_crop = v.eval_crop;
  c.mean = v.mean;
  c.std = v.std;
  c.selflabel.cutout = v.cutout;
}
inline void selflabel_schedule(Config& c, int64_t batch, int epochs) {
  c.selflabel.batch_size = batch;
  c.selflabel.epochs = epochs;
}
// fashion-mnist-gpu from the fashion-mnist preset: its views (1 channel, no saturation / hue / grey), the
// release's network width, optimiser and losses, a 40-epoch schedule on all 70,000 images.
inline Config fashion_mnist_gpu(Config c) {
  c.preset = "fashion-mnist-gpu";
  c.base_width = 64;
  c.stem_maxpool = 0;
  c.final_avgpool = 0;
  c.train_subset = 0;
  c.eval_set = "all";
  c.batch_size = 256;
  c.epochs = 40;
  c.switch_epoch = 10;
  c.refresh_every = 2;
  c.lr = 0.4f;
  c.phase1_agc = false;
  c.eval_every = 5;
  c.loader_threads = 8;
  c.device = "auto";
  selflabel_schedule(c, 1000, 50);
  return c;
}
}  // namespace detail

// The preset of a dataset (any spelling canonical_dataset knows). Unknown names throw listing the known.
inline Config preset(const std::string& name) {
  Config c;
  if (canonical_dataset(name) == "fashion-mnist-gpu") return detail::fashion_mnist_gpu(preset("fashion-mnist"));
  const std::string d = canonical_dataset(name);
  c.preset = d;
  c.dataset = d;
  if (d == "cifar-10" || d == "cifar-20") {
    detail::apply_views(c, d);
    c.backbone = "resnet18-cifar";
    c.batch_size = 256;
    c.num_clusters = d == "cifar-10" ? 10 : 20;
    detail::selflabel_schedule(c, 1000, 200);
  } else if (d == "stl-10" || d == "imagenet-10" || d == "imagenet-dogs") {
    detail::apply_views(c, "stl");
    c.backbone = "resnet18-stl";
    c.batch_size = 96;
    c.num_clusters = d == "imagenet-dogs" ? 15 : 10;
    detail::selflabel_schedule(c, 500, 100);
  } else if (d == "tiny-imagenet") {
    detail::apply_views(c, "tiny");
    c.backbone = "resnet34-stl";
    c.batch_size = 128;
    c.num_clusters = 200;
    detail::selflabel_schedule(c, 500, 100);
  } else if (d == "fashion-mnist") {
    // Tuned on 2 cores (trials in the README): the release's settings merely shrunk stay below k-means on
    // the pixels (SPEC §8). What made the difference: a narrow network (base width 8, stem max-pool: ~3x
    // the images/s of width 16), AGC between the two views already in phase 1 (the cluster head trains
    // from the first step), lr 0.2, and as many images as the budget allows (20,000 for 16 phase-1 and 4
    // phase-2 epochs).
    detail::apply_views(c, "fashion-mnist");
    c.backbone = "resnet18-cifar";
    c.base_width = 8;
    c.stem_maxpool = 1;
    c.final_avgpool = 0;
    c.num_clusters = 10;
    c.train_subset = 20000;
    c.eval_set = "all";
    c.batch_size = 256;
    c.epochs = 20;
    c.switch_epoch = 15;
    c.refresh_every = 2;
    c.lr = 0.2f;
    c.phase1_agc = true;
    c.eval_every = 0;
    c.loader_threads = 1;
    c.saturation = 0;  // no-ops on grey images anyway
    c.hue = 0;
    c.gray_p = 0;
    detail::selflabel_schedule(c, 500, 5);
  } else if (d == "auto") {
    // A user's images (dataset folder / list / idx / npy): the fashion-mnist recipe (narrow ResNet-18,
    // phase-1 AGC, lr 0.2) with the data-dependent keys left to the plan (auto_plan.hpp) made when the
    // run starts: width, sizes, channels, batch, epochs, switch, refresh, subset, normalisation, K.
    c = preset("fashion-mnist");
    c.preset = "auto";
    c.dataset = "folder";
    c.auto_plan = true;
    c.data_stats = true;
    c.train_subset = 0;
  } else {
    std::string known;
    for (const std::string& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
    GCC_FAIL("unknown preset '", name, "'; known presets: ", known, ", auto (your own images)");
  }
  return c;
}

}  // namespace train
}  // namespace gcc
