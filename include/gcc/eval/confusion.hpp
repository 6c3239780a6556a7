// Confusion matrix of mapped clusters vs classes (rows: true class, columns: predicted class) as CSV
// (written atomically: temp + rename) and as the pixels of a row-normalised heat-map. The heat-map as a
// PNG file (confusion_png, write_confusion_png) is in gcc/io/png.hpp, with the toolkit (stb_image_write).
#pragma once
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../io/atomic_file.hpp"
#include "metrics.hpp"

namespace gcc {

// Counts of (true class, predicted class) after mapping each cluster to its class. With more clusters
// than classes, a last column "unmapped" counts the samples of the clusters without a class.
struct ConfusionMatrix {
  int num_classes = 0;
  bool has_unmapped = false;      // true iff some cluster maps to no class (clusters > classes)
  std::vector<int64_t> counts;    // [num_classes, cols()] row-major; rows: true class
  int cols() const { return num_classes + (has_unmapped ? 1 : 0); }
  int64_t at(int true_class, int col) const {
    return counts[static_cast<std::size_t>(true_class) * static_cast<std::size_t>(cols()) + static_cast<std::size_t>(col)];
  }
};

inline ConfusionMatrix confusion_matrix(const ContingencyTable& t, const std::vector<int>& mapping) {
  detail::check_mapping("confusion_matrix", mapping, t.num_clusters, t.num_classes);
  ConfusionMatrix cm;
  cm.num_classes = t.num_classes;
  for (int m : mapping) cm.has_unmapped = cm.has_unmapped || m < 0;
  const int cols = cm.cols();
  cm.counts.assign(static_cast<std::size_t>(t.num_classes) * static_cast<std::size_t>(cols), 0);
  for (int k = 0; k < t.num_clusters; ++k) {
    const int to = mapping[static_cast<std::size_t>(k)] >= 0 ? mapping[static_cast<std::size_t>(k)] : t.num_classes;
    for (int c = 0; c < t.num_classes; ++c)
      cm.counts[static_cast<std::size_t>(c) * static_cast<std::size_t>(cols) + static_cast<std::size_t>(to)] += t.at(k, c);
  }
  return cm;
}
inline ConfusionMatrix confusion_matrix(const ClusteringMetrics& m) { return confusion_matrix(m.contingency, m.mapping); }

namespace eval_detail {

inline std::string csv_field(const std::string& s) {  // RFC 4180 quoting where needed
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char ch : s) {
    if (ch == '"') q += '"';
    q += ch;
  }
  return q + "\"";
}

inline void check_class_names(const char* op, const ConfusionMatrix& cm, const std::vector<std::string>& names) {
  GCC_CHECK(names.empty() || static_cast<int64_t>(names.size()) == cm.num_classes, op, ": ", names.size(),
            " class names for ", cm.num_classes, " classes");
}

inline std::string class_name(const std::vector<std::string>& names, int c) {
  return names.empty() ? std::to_string(c) : names[static_cast<std::size_t>(c)];
}

// matplotlib's "Blues" sampled at 5 stops, linearly interpolated; t in [0, 1].
inline void blues(double t, unsigned char* rgb) {
  static const unsigned char stops[5][3] = {
      {247, 251, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181}, {8, 48, 107}};
  t = t < 0 ? 0 : (t > 1 ? 1 : t);
  const double x = t * 4.0;
  int i = static_cast<int>(x);
  if (i > 3) i = 3;
  const double f = x - i;
  for (int ch = 0; ch < 3; ++ch)
    rgb[ch] = static_cast<unsigned char>(std::lround(stops[i][ch] + f * (stops[i + 1][ch] - stops[i][ch])));
}

}  // namespace eval_detail

// CSV text: header "class,<name_0>,...,<name_C-1>[,unmapped]", then one row per true class starting
// with its name. Counts, or with normalize_rows each row divided by its sum (rows with no samples stay
// 0), printed with 17 significant digits. Empty class_names: the classes are named 0..C-1.
inline std::string confusion_csv(const ConfusionMatrix& cm, const std::vector<std::string>& class_names = {},
                                 bool normalize_rows = false) {
  eval_detail::check_class_names("confusion_csv", cm, class_names);
  std::ostringstream os;
  os.precision(17);
  os << "class";
  for (int c = 0; c < cm.num_classes; ++c) os << ',' << eval_detail::csv_field(eval_detail::class_name(class_names, c));
  if (cm.has_unmapped) os << ",unmapped";
  os << '\n';
  for (int r = 0; r < cm.num_classes; ++r) {
    os << eval_detail::csv_field(eval_detail::class_name(class_names, r));
    int64_t sum = 0;
    for (int c = 0; c < cm.cols(); ++c) sum += cm.at(r, c);
    for (int c = 0; c < cm.cols(); ++c) {
      os << ',';
      if (normalize_rows)
        os << (sum > 0 ? static_cast<double>(cm.at(r, c)) / static_cast<double>(sum) : 0.0);
      else
        os << cm.at(r, c);
    }
    os << '\n';
  }
  return os.str();
}

inline void write_confusion_csv(const std::string& path, const ConfusionMatrix& cm,
                                const std::vector<std::string>& class_names = {}, bool normalize_rows = false) {
  const std::string text = confusion_csv(cm, class_names, normalize_rows);
  io::write_file_atomically(path, text.data(), text.size(), "write_confusion_csv");
}

// RGB pixels [rows * cell_px, cols * cell_px, 3] of the heat-map: each cell's count over its row's sum
// (0 for an empty row) through a white-to-dark-blue colour map.
inline std::vector<unsigned char> confusion_heatmap_rgb(const ConfusionMatrix& cm, int cell_px, int* width,
                                                        int* height) {
  GCC_CHECK(cell_px >= 1 && cell_px <= 256, "confusion_heatmap: cell size must be 1..256 px, got ", cell_px);
  GCC_CHECK(cm.num_classes >= 1, "confusion_heatmap: empty confusion matrix");
  const int64_t w = static_cast<int64_t>(cm.cols()) * cell_px, h = static_cast<int64_t>(cm.num_classes) * cell_px;
  GCC_CHECK(w <= 32768 && h <= 32768, "confusion_heatmap: image of ", w, " x ", h,
            " px is too large; use a smaller cell size");
  std::vector<unsigned char> px(static_cast<std::size_t>(w * h * 3));
  for (int r = 0; r < cm.num_classes; ++r) {
    int64_t sum = 0;
    for (int c = 0; c < cm.cols(); ++c) sum += cm.at(r, c);
    for (int c = 0; c < cm.cols(); ++c) {
      unsigned char rgb[3];
      eval_detail::blues(sum > 0 ? static_cast<double>(cm.at(r, c)) / static_cast<double>(sum) : 0.0, rgb);
      for (int y = r * cell_px; y < (r + 1) * cell_px; ++y)
        for (int x = c * cell_px; x < (c + 1) * cell_px; ++x) {
          unsigned char* q = &px[static_cast<std::size_t>((y * w + x) * 3)];
          q[0] = rgb[0];
          q[1] = rgb[1];
          q[2] = rgb[2];
        }
    }
  }
  *width = static_cast<int>(w);
  *height = static_cast<int>(h);
  return px;
}

}  // namespace gcc
