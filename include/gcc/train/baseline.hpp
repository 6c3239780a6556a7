// The baseline beside every evaluation: k-means (k-means++, restarts, OpenBLAS distances) on the raw
// pixels and on the learned embeddings of the same images, scored like GCC (ACC/NMI/ARI over the
// labelled images) plus how far each agrees with GCC's clusters (NMI), so a user sees at once whether
// the deep model helped.
//
//   gcc::train::Baselines b = gcc::train::kmeans_baselines(images, eval_result, K, seed);
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "../data/dataset.hpp"
#include "../data/image_cache.hpp"
#include "../eval/kmeans.hpp"
#include "../eval/metrics.hpp"
#include "../io/json.hpp"
#include "evaluate.hpp"

namespace gcc {
namespace train {

struct BaselineFigures {
  std::string name;             // "k-means on pixels", "k-means on embeddings"
  bool done = false;
  ClusteringMetrics metrics;    // over the labelled images (acc = -1 without labels)
  double nmi_with_gcc = 0;      // NMI between its clusters and GCC's (every image)
  double inertia = 0, seconds = 0;
  int64_t dims = 0;             // feature dimension it clustered
  std::vector<int> assignment;  // [N]
};

struct Baselines {
  BaselineFigures pixels, embeddings;
};

namespace baseline_detail {

// The pixels as [N, D] floats in [0, 1]; images larger than 32 x 32 are first resized to 32 px (shorter
// side, centre crop) so that D stays <= 3,072.
inline std::vector<float> pixel_features(const ImageDataset& d, int64_t& dims) {
  const int side = static_cast<int>(std::min(d.height, d.width));
  if (d.height * d.width <= 32 * 32) {
    dims = d.image_bytes();
    return pixels_as_features(d.data(), d.n, d.image_bytes());
  }
  const int S = std::min(side, 32);
  dims = static_cast<int64_t>(S) * S * d.channels;
  std::vector<uint8_t> small(static_cast<std::size_t>(d.n * dims));
  for (int64_t i = 0; i < d.n; ++i)
    resize_shorter_center_crop(d.image(i), static_cast<int>(d.height), static_cast<int>(d.width),
                               static_cast<int>(d.channels), S, small.data() + i * dims);
  return pixels_as_features(small.data(), d.n, dims);
}

inline BaselineFigures run(const std::string& name, const float* x, int64_t n, int64_t d, const EvalResult& r, int64_t K,
                           uint64_t seed) {
  const auto t0 = std::chrono::steady_clock::now();
  BaselineFigures b;
  b.name = name;
  b.dims = d;
  KMeansOptions o;
  o.k = static_cast<int>(K);
  o.seed = seed;
  const KMeansResult km = kmeans(x, n, d, o);
  b.assignment = km.assignment;
  b.inertia = km.inertia;
  std::vector<int> pred, lab;
  for (int64_t i = 0; i < n; ++i) {
    const int l = r.labels[static_cast<std::size_t>(i)];
    if (l < 0) continue;
    pred.push_back(km.assignment[static_cast<std::size_t>(i)]);
    lab.push_back(l);
  }
  if (!lab.empty()) {
    const int classes = *std::max_element(lab.begin(), lab.end()) + 1;
    b.metrics = gcc::evaluate(pred, lab, static_cast<int>(K), std::max(classes, r.metrics.contingency.num_classes));
  } else {
    b.metrics.acc = b.metrics.nmi = b.metrics.ari = -1;
  }
  b.nmi_with_gcc = gcc::evaluate(km.assignment, r.predictions, static_cast<int>(K), static_cast<int>(K)).nmi;
  b.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  b.done = true;
  return b;
}

}  // namespace baseline_detail

// k-means with K clusters on the pixels of `images` and on r.embeddings (when computed), both for the
// images r was evaluated on (same order).
inline Baselines kmeans_baselines(const ImageDataset& images, const EvalResult& r, int64_t K, uint64_t seed) {
  GCC_CHECK(static_cast<int64_t>(r.predictions.size()) == images.n, "kmeans_baselines: an evaluation of ",
            r.predictions.size(), " images for a set of ", images.n);
  Baselines b;
  int64_t dims = 0;
  const std::vector<float> px = baseline_detail::pixel_features(images, dims);
  b.pixels = baseline_detail::run("k-means on pixels", px.data(), images.n, dims, r, K, seed);
  if (r.embeddings.defined())
    b.embeddings = baseline_detail::run("k-means on embeddings", r.embeddings.data(), images.n, r.embeddings.size(1), r, K, seed);
  return b;
}

inline io::JsonObject baseline_json(const BaselineFigures& b) {
  io::JsonObject o;
  if (b.metrics.acc >= 0) o.add("acc", b.metrics.acc).add("nmi", b.metrics.nmi).add("ari", b.metrics.ari);
  o.add("nmi_with_gcc", b.nmi_with_gcc).add("inertia", b.inertia).add("dims", b.dims).add("seconds", b.seconds);
  return o;
}

// "k-means on pixels: ACC 0.5123 NMI 0.4800 ARI 0.3500 (agrees with GCC: NMI 0.41)".
inline std::string baseline_summary(const BaselineFigures& b) {
  char buf[256];
  if (b.metrics.acc >= 0)
    std::snprintf(buf, sizeof buf, "%s: ACC %.4f NMI %.4f ARI %.4f (its clusters vs GCC's: NMI %.4f, %.1f s)", b.name.c_str(),
                  b.metrics.acc, b.metrics.nmi, b.metrics.ari, b.nmi_with_gcc, b.seconds);
  else
    std::snprintf(buf, sizeof buf, "%s: no labels to score; its clusters vs GCC's: NMI %.4f (%.1f s)", b.name.c_str(),
                  b.nmi_with_gcc, b.seconds);
  return buf;
}

}  // namespace train
}  // namespace gcc
