// Pictures of a run: training curves from its metrics.jsonl (loss terms, AGC terms, learning rate,
// accuracy) and a cluster gallery (each cluster's most confident images, its size and majority class).
// Glue between the run's files / ImageDataset and gcc/io's plot_png.hpp and gallery_png.hpp.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../data/dataset.hpp"
#include "../io/atomic_file.hpp"
#include "../io/gallery_png.hpp"
#include "../io/json.hpp"
#include "../io/metrics_log.hpp"
#include "../io/plot_png.hpp"

namespace gcc {
namespace train {

namespace pictures_detail {
// Member `key` of object j, inside member `sub` when sub is not empty ("eval" -> "acc"): false when it
// is absent; *v is NaN for null (a non-finite value written by MetricsLog) or anything not a number.
inline bool number_at(const io::Json& j, const std::string& sub, const std::string& key, double* v) {
  const io::Json* o = sub.empty() ? &j : j.find(sub);
  if (o == nullptr || !o->is_object()) return false;
  const io::Json* m = o->find(key);
  if (m == nullptr) return false;
  *v = m->is_number() ? m->number() : std::numeric_limits<double>::quiet_NaN();
  return true;
}

// The series `name` of (epoch, value) over the lines that have the member (no points: no series).
inline void add_series(io::CurvePanel& p, const std::vector<const io::Json*>& lines, const std::string& name,
                       const std::string& sub, const std::string& key) {
  io::CurveSeries s{name, {}};
  for (const io::Json* j : lines) {
    double v = 0.0;
    if (number_at(*j, sub, key, &v)) s.points.emplace_back(j->find("epoch")->number(), v);
  }
  if (!s.points.empty()) p.series.push_back(std::move(s));
}

inline std::string base_name(const std::string& path) {
  const std::size_t s = path.find_last_of('/');
  return s == std::string::npos ? path : path.substr(s + 1);
}
}  // namespace pictures_detail

// The panels of training_curves: "loss" (loss, rgc, agc), "AGC terms", "learning rate", "accuracy"
// (eval acc / nmi / ari / knn, graph-refresh knn) over the epoch lines (objects with a numeric "epoch");
// a panel without any series is left out, and each panel marks where phase 1 turns to phase 2.
inline std::vector<io::CurvePanel> training_curve_panels(const std::vector<io::Json>& json_lines) {
  using pictures_detail::add_series;
  std::vector<const io::Json*> lines;
  std::vector<io::CurveMarker> markers;
  double last_phase = 0.0;
  for (const io::Json& j : json_lines) {
    const io::Json* e = j.is_object() ? j.find("epoch") : nullptr;
    if (e == nullptr || !e->is_number()) continue;
    lines.push_back(&j);
    double phase = 0.0;
    if (pictures_detail::number_at(j, "", "phase", &phase) && phase == 2.0 && last_phase == 1.0)
      markers.push_back({e->number() - 0.5, "phase 2"});
    if (std::isfinite(phase) && phase > 0.0) last_phase = phase;
  }
  std::vector<io::CurvePanel> panels(4);
  panels[0].title = "loss";
  add_series(panels[0], lines, "loss", "", "loss");
  add_series(panels[0], lines, "rgc", "", "rgc");
  add_series(panels[0], lines, "agc", "", "agc");
  panels[1].title = "AGC terms";
  add_series(panels[1], lines, "consistency", "", "agc_consistency");
  add_series(panels[1], lines, "entropy", "", "agc_entropy");
  panels[2].title = "learning rate";
  add_series(panels[2], lines, "lr", "", "lr");
  panels[3].title = "accuracy";
  add_series(panels[3], lines, "acc", "eval", "acc");
  add_series(panels[3], lines, "nmi", "eval", "nmi");
  add_series(panels[3], lines, "ari", "eval", "ari");
  add_series(panels[3], lines, "eval knn acc", "eval", "knn_accuracy");
  add_series(panels[3], lines, "graph knn acc", "", "knn_accuracy");
  panels[3].y_min = 0.0;
  panels[3].y_max = 1.0;
  double first = 0.0, last = 0.0;  // the epochs of the file, the x range of every panel
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const double e = lines[i]->find("epoch")->number();
    first = i == 0 ? e : std::min(first, e);
    last = i == 0 ? e : std::max(last, e);
  }
  std::vector<io::CurvePanel> kept;
  for (io::CurvePanel& p : panels) {
    if (p.series.empty()) continue;
    p.x_label = "epoch";
    p.x_min = first;
    p.x_max = last;
    p.markers = markers;
    kept.push_back(std::move(p));
  }
  return kept;
}

// Reads the JSON-lines metrics of a run and writes its training curves to png_path (2 panels a row).
// Returns the names of the files written (the PNG's file name). Throws when the file has no epoch lines
// or none of the plotted members.
inline std::vector<std::string> write_training_curves_png(const std::string& metrics_jsonl,
                                                          const std::string& png_path) {
  GCC_CHECK(io::file_exists(metrics_jsonl), "write_training_curves_png: '", metrics_jsonl,
            "' does not exist; pass the metrics.jsonl of a run (gcc_train / gcc_selflabel write it)");
  const std::vector<io::Json> lines = io::read_json_lines(metrics_jsonl);
  bool any_epoch = false;
  for (const io::Json& j : lines) any_epoch = any_epoch || (j.is_object() && j.find("epoch") != nullptr);
  GCC_CHECK(any_epoch, "write_training_curves_png: '", metrics_jsonl, "' has no epoch lines (", lines.size(),
            " complete JSON lines, none with an \"epoch\" member); train at least one epoch first");
  const std::vector<io::CurvePanel> panels = training_curve_panels(lines);
  GCC_CHECK(!panels.empty(), "write_training_curves_png: the epoch lines of '", metrics_jsonl,
            "' hold none of loss, rgc, agc, agc_consistency, agc_entropy, lr, eval, knn_accuracy: nothing to plot");
  io::write_curves_png(png_path, panels);
  return {pictures_detail::base_name(png_path)};
}

// One cluster of a clustering: its size, its most probable members, its majority class.
struct ClusterSummary {
  int cluster = 0;
  int64_t size = 0;
  std::vector<int64_t> top;    // up to `top` members by probability of this cluster, descending (ties: lower index)
  int64_t labelled = 0;        // members with a label >= 0
  int majority_class = -1;     // most frequent label among them (ties: the lower label); -1 if none
  int64_t majority_count = 0;  // members with that label
};

// Summaries of clusters 0..K-1. predictions [N] in [0, K); probabilities [N, K] row-major, or null (then
// members in index order); labels [N] (-1 unlabelled) or empty.
inline std::vector<ClusterSummary> summarize_clusters(const std::vector<int>& predictions, const float* probabilities,
                                                      int64_t K, const std::vector<int>& labels, int top) {
  const int64_t n = static_cast<int64_t>(predictions.size());
  GCC_CHECK(K >= 1 && top >= 0, "summarize_clusters: need K >= 1 and top >= 0; got K=", K, ", top=", top);
  GCC_CHECK(labels.empty() || labels.size() == predictions.size(), "summarize_clusters: ", labels.size(),
            " labels for ", n, " predictions; pass one label per image (-1 unlabelled) or none");
  std::vector<std::vector<int64_t>> members(static_cast<std::size_t>(K));  // [K][size]
  std::vector<std::vector<int64_t>> votes(static_cast<std::size_t>(K));    // [K][classes]
  for (int64_t i = 0; i < n; ++i) {
    const int k = predictions[static_cast<std::size_t>(i)];
    GCC_CHECK(k >= 0 && k < K, "summarize_clusters: prediction ", k, " of image ", i, " is not a cluster in [0, ", K,
              "); predictions and K do not belong together");
    members[static_cast<std::size_t>(k)].push_back(i);
    const int l = labels.empty() ? -1 : labels[static_cast<std::size_t>(i)];
    if (l < 0) continue;
    std::vector<int64_t>& v = votes[static_cast<std::size_t>(k)];
    if (static_cast<int>(v.size()) <= l) v.resize(static_cast<std::size_t>(l) + 1, 0);
    ++v[static_cast<std::size_t>(l)];
  }
  std::vector<ClusterSummary> out(static_cast<std::size_t>(K));
  for (int64_t k = 0; k < K; ++k) {
    ClusterSummary& s = out[static_cast<std::size_t>(k)];
    std::vector<int64_t>& m = members[static_cast<std::size_t>(k)];
    s.cluster = static_cast<int>(k);
    s.size = static_cast<int64_t>(m.size());
    auto p = [&](int64_t i) {
      const float v = probabilities ? probabilities[i * K + k] : 0.0f;
      return std::isnan(v) ? -std::numeric_limits<float>::infinity() : v;
    };
    const std::size_t keep = std::min(m.size(), static_cast<std::size_t>(top));
    std::partial_sort(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(keep), m.end(),
                      [&](int64_t a, int64_t b) { return p(a) != p(b) ? p(a) > p(b) : a < b; });
    s.top.assign(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(keep));
    const std::vector<int64_t>& v = votes[static_cast<std::size_t>(k)];
    for (std::size_t c = 0; c < v.size(); ++c) {
      s.labelled += v[c];
      if (v[c] <= s.majority_count) continue;
      s.majority_count = v[c];
      s.majority_class = static_cast<int>(c);
    }
  }
  return out;
}

// "mostly 'Sneaker' 71%" (the class number when class_names lacks it; percent of the labelled
// members), or "" when the cluster has no labelled member.
inline std::string majority_caption(const ClusterSummary& s, const std::vector<std::string>& class_names) {
  if (s.majority_class < 0 || s.labelled == 0) return "";
  const std::size_t c = static_cast<std::size_t>(s.majority_class);
  const std::string name = c < class_names.size() ? class_names[c] : std::to_string(s.majority_class);
  const long pct = std::lround(100.0 * static_cast<double>(s.majority_count) / static_cast<double>(s.labelled));
  return "mostly '" + name + "' " + std::to_string(pct) + "%";
}

// The gallery's rows: clusters in index order, each with its per_row most confident images and its
// majority caption. With more than max_rows clusters only the max_rows biggest are kept (ties: lower
// index), still in index order.
inline std::vector<io::GalleryRow> gallery_rows(const std::vector<int>& predictions, const float* probabilities,
                                                int64_t K, const std::vector<int>& labels,
                                                const std::vector<std::string>& class_names, int per_row = 10,
                                                int max_rows = 60) {
  std::vector<ClusterSummary> s = summarize_clusters(predictions, probabilities, K, labels, per_row);
  if (max_rows >= 0 && static_cast<int64_t>(s.size()) > max_rows) {
    std::stable_sort(s.begin(), s.end(), [](const ClusterSummary& a, const ClusterSummary& b) { return a.size > b.size; });
    s.resize(static_cast<std::size_t>(max_rows));
    std::sort(s.begin(), s.end(), [](const ClusterSummary& a, const ClusterSummary& b) { return a.cluster < b.cluster; });
  }
  std::vector<io::GalleryRow> rows;
  for (const ClusterSummary& c : s) rows.push_back({c.cluster, c.size, c.top, majority_caption(c, class_names)});
  return rows;
}

// Writes the cluster gallery of a clustering of `images` to png_path: a header line, then one row per
// cluster (at most the 60 biggest; the header says when clusters were left out).
inline void write_cluster_gallery(const std::string& png_path, const ImageDataset& images,
                                  const std::vector<int>& predictions, const float* probabilities, int64_t K,
                                  const std::vector<int>& labels, const std::vector<std::string>& class_names,
                                  int per_row = 10) {
  GCC_CHECK(static_cast<int64_t>(predictions.size()) == images.n, "write_cluster_gallery: ", predictions.size(),
            " predictions for the ", images.n, " images of '", images.name, "'; nothing written to '", png_path, "'");
  constexpr int kMaxRows = 60;
  io::GalleryInput in;
  in.image = [&images](int64_t i) { return images.image(i); };
  in.height = static_cast<int>(images.height);
  in.width = static_cast<int>(images.width);
  in.channels = static_cast<int>(images.channels);
  in.per_row = per_row;
  in.rows = gallery_rows(predictions, probabilities, K, labels, class_names, per_row, kMaxRows);
  in.header = (images.name.empty() ? std::string("images") : images.name) + ": " + std::to_string(K) +
              " clusters of " + std::to_string(images.n) + " images, most confident first";
  if (K > kMaxRows) in.header += "\nonly the " + std::to_string(kMaxRows) + " biggest clusters are shown";
  io::write_cluster_gallery_png(png_path, in);
}

}  // namespace train
}  // namespace gcc
