// The automatic setup (preset auto): the data-dependent keys of a run chosen from the images (count, size,
// channels, labels), the device and a time budget (`minutes`), after measuring this machine's training
// speed on a few batches. Every number and the reason for it is returned as text to print; the planned
// Config has auto_plan false, so its config.yaml reproduces the run. How each number is chosen: README
// ("Your own images") and the comments of plan_schedule below.
//
//   std::vector<std::string> why;
//   cfg = gcc::train::plan_auto(cfg, images, &why);
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "../core/parallel.hpp"
#include "../data/user_images.hpp"
#include "data.hpp"
#include "end2end.hpp"

namespace gcc {
namespace train {

namespace plan_detail {

inline int64_t pow2_floor(double v) {
  int64_t p = 1;
  while (static_cast<double>(p * 2) <= v) p *= 2;
  return p;
}
inline std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

// Seconds per phase-1 training sample (two views, forward + backward + update) of `c` on this machine:
// the second of two epochs over three batches (the first warms up allocations and threads).
inline double measure_sample_seconds(const Config& c, const ImageDataset& full) {
  Config p = c;
  p.epochs = 3;
  p.switch_epoch = 2;  // epochs 0 and 1: phase 1, no refresh, no evaluation
  p.refresh_every = 1;
  p.eval_every = 0;
  p.train_subset = 0;
  const int64_t n = std::min<int64_t>(full.n, 3 * c.batch_size);
  auto probe = std::make_shared<const ImageDataset>(n < full.n ? random_subset(full, n, c.seed) : slice(full, 0, n));
  End2EndTrainer t(p, TrainData::single(probe));
  t.set_progress_output(nullptr);
  t.train_epoch();
  const EpochReport r = t.train_epoch();
  return r.samples > 0 ? r.seconds / static_cast<double>(r.samples) : 1e-3;
}

// Model, input size, channels, augmentation for grey images, K and normalisation from the images.
inline void plan_model(Config& c, const ImageDataset& d, std::vector<std::string>& why) {
  const bool cpu = parse_device(c.device).is_cpu();
  const int S = static_cast<int>(std::min(d.height, d.width));
  c.channels = static_cast<int>(d.channels);
  c.image_size = S;
  c.train_size = c.eval_resize = c.eval_crop = S;
  c.selflabel.strong_crop = 0;
  c.selflabel.cutout = S / 2;
  c.backbone = S <= 48 ? "resnet18-cifar" : "resnet18-stl";
  c.stem_maxpool = S <= 48 ? (S >= 24 ? 1 : 0) : -1;
  c.final_avgpool = 0;
  c.base_width = cpu ? 8 : (d.n < 20000 ? 32 : 64);
  if (c.channels == 1) {
    c.gray_p = 0;  // colour jitter's saturation and hue do nothing on grey images
    c.saturation = 0;
    c.hue = 0;
  } else {
    c.gray_p = 0.2;
    c.saturation = 0.4;
    c.hue = 0.1;
  }
  why.push_back(fmt("  input %.0f x %.0f px, %.0f channel(s): the images' size (stored at most 32 px on the CPU, 96 on a GPU)",
                    S, S, c.channels));
  why.push_back("  model: ResNet-18 (" + std::string(S <= 48 ? "CIFAR" : "STL") + " stem" +
               (c.stem_maxpool == 1 ? " with max-pool" : "") + ") of base width " + std::to_string(c.base_width) +
               (cpu ? ": the narrow network that trains ~3x the images/s of width 16 on a CPU (README trials)"
                    : ": the release's width 64 (32 below 20,000 images)"));
  int classes = 0;
  for (int l : d.labels) classes = std::max(classes, l + 1);
  if (classes >= 2) {
    c.num_clusters = classes;
    why.push_back("  K = " + std::to_string(classes) + ": the number of classes in the labels");
  } else {
    why.push_back("  K = " + std::to_string(c.num_clusters) + ": no labels; set --num-clusters K for another number");
  }
  if (c.data_stats) {
    std::vector<double> mean, stdev;
    pixel_stats(d, mean, stdev);
    for (std::size_t k = 0; k < 3; ++k) {
      const std::size_t j = std::min(k, mean.size() - 1);
      c.mean[k] = static_cast<float>(mean[j]);
      c.std[k] = static_cast<float>(std::max(stdev[j], 1e-3));
    }
    c.data_stats = false;
    why.push_back(fmt("  normalisation: mean %.4f, std %.4f (channel 0) measured on the images", c.mean[0], c.std[0]));
  }
}

// Phase 2 for the last quarter of c.epochs (at least one epoch), three neighbour refreshes in it, ten
// checkpoints in the run.
inline void plan_phases(Config& c) {
  const int p2 = std::max(1, static_cast<int>(std::lround(0.25 * c.epochs)));
  c.switch_epoch = std::max(0, c.epochs - p2 - 1);
  c.refresh_every = std::max(1, p2 / 3);
  c.checkpoint_every = std::max(1, c.epochs / 10);
}

// Batch, epochs, phase switch, refresh period and training subset for a budget of `train_seconds` at
// `t1` seconds per phase-1 sample (phase 2 draws six views per sample, three times phase 1's two).
inline void plan_schedule(Config& c, int64_t n, double t1, double train_seconds, std::vector<std::string>& why) {
  const double phase2_share = 0.25, cost = (1 - phase2_share) + phase2_share * 3;  // in phase-1 samples
  const double sample_epochs = std::max(1.0, train_seconds / (cost * t1));
  // At least 16 epochs (the feature memory and the graph need several passes): a larger set trains on
  // a seeded subset of what the budget allows and is evaluated on every image.
  const int64_t min_subset = std::min<int64_t>(n, 2000);
  const int64_t subset = std::clamp<int64_t>(static_cast<int64_t>(sample_epochs / 16), min_subset, n);
  c.train_subset = subset < n ? subset : 0;
  c.eval_set = "all";
  c.epochs = static_cast<int>(std::clamp(sample_epochs / static_cast<double>(subset), 4.0, 400.0));
  // About 1,500 optimiser steps or more: the batch is the largest power of two that keeps them, between
  // 64 and 256 (and at most a quarter of the images).
  const int64_t quarter = std::max<int64_t>(2, subset / 4);
  c.batch_size = std::min(quarter, std::clamp<int64_t>(pow2_floor(sample_epochs / 1500), 64, 256));
  plan_phases(c);
  c.eval_every = 0;
  const double steps = static_cast<double>(c.epochs) * std::ceil(static_cast<double>(subset) / static_cast<double>(c.batch_size));
  why.push_back(fmt("  measured: %.2f ms per training sample in phase 1 (two views; phase 2 takes ~3x: six views)", t1 * 1e3));
  why.push_back("  training on " + (subset < n ? std::to_string(subset) + " of the " + std::to_string(n) +
               " images (a seeded subset: at least 16 epochs fit the budget), evaluated on all of them" :
               "all " + std::to_string(n) + " images"));
  why.push_back(fmt("  batch %.0f, %.0f epochs (~%.0f optimiser steps): the budget / (images x time per sample), "
                    "batch as large as keeps >= 1,500 steps", static_cast<double>(c.batch_size), c.epochs, steps));
  why.push_back(fmt("  phase 2 (neighbours + AGC) after epoch %.0f (the last quarter), neighbours refreshed every %.0f "
                    "epoch(s)", c.switch_epoch + 1, c.refresh_every));
}

}  // namespace plan_detail

// The plan for `d` (every image the run sees, as stored for training) on cfg's device within cfg.minutes.
// Keys the caller wants to keep must be re-applied afterwards (gcc_train re-applies the command line).
inline Config plan_auto(const Config& cfg, const ImageDataset& d, std::vector<std::string>* why_out = nullptr) {
  GCC_CHECK(cfg.minutes > 0 && std::isfinite(cfg.minutes), "plan_auto: minutes = ", cfg.minutes,
            " is invalid; expected the training time budget in minutes, > 0 (e.g. --minutes 10)");
  GCC_CHECK(d.n >= 8, "plan_auto: '", d.name, "' holds ", d.n, " images; clustering needs at least 8");
  std::vector<std::string> why;
  Config c = cfg;
  c.auto_plan = false;
  why.push_back(plan_detail::fmt("plan for %.0f images of %.0f x %.0f", static_cast<double>(d.n), static_cast<double>(d.width),
                    static_cast<double>(d.height)) + " on " + parse_device(c.device).str() + " (" +
                std::to_string(num_threads()) + " threads), budget " + plan_detail::fmt("%.3g minutes:", c.minutes));
  plan_detail::plan_model(c, d, why);
  GCC_CHECK(c.num_clusters <= d.n, "plan_auto: K = ", c.num_clusters, " clusters for ", d.n, " images; expected K <= "
            "the number of images (--num-clusters)");
  c.batch_size = std::min<int64_t>(128, std::max<int64_t>(2, d.n / 4));
  const double t1 = plan_detail::measure_sample_seconds(c, d);
  // The evaluation (one view per image, forward only: ~t1/6 a sample, with k-means baselines and the
  // outputs, ~t1/4) and 12% of the budget are kept aside.
  const double budget = c.minutes * 60, train_seconds = std::max(0.2 * budget, 0.88 * budget - t1 / 4 * static_cast<double>(d.n));
  plan_detail::plan_schedule(c, d.n, t1, train_seconds, why);
  if (why_out) *why_out = why;
  return c;
}

}  // namespace train
}  // namespace gcc
