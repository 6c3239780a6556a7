// Clustering metrics as the field computes them (SPEC §6): contingency table, Hungarian ACC and its
// cluster -> class mapping, top-5 ACC through that mapping, NMI and ARI exactly as scikit-learn 1.2.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "hungarian.hpp"

// kNN accuracy of the embeddings (fraction of the k nearest neighbours sharing a sample's class) is
// gcc::knn_label_accuracy in gcc/graph/knn.hpp; it is not repeated here.

namespace gcc {

// Counts of (cluster, class) pairs: row = predicted cluster, column = ground-truth class.
struct ContingencyTable {
  int num_clusters = 0, num_classes = 0;
  int64_t n = 0;                  // number of samples (sum of all counts)
  std::vector<int64_t> counts;    // [num_clusters, num_classes] row-major
  int64_t at(int cluster, int cls) const {
    return counts[static_cast<std::size_t>(cluster) * static_cast<std::size_t>(num_classes) + static_cast<std::size_t>(cls)];
  }
  std::vector<int64_t> cluster_sizes() const {  // [num_clusters] row sums
    std::vector<int64_t> s(static_cast<std::size_t>(num_clusters), 0);
    for (int k = 0; k < num_clusters; ++k)
      for (int c = 0; c < num_classes; ++c) s[static_cast<std::size_t>(k)] += at(k, c);
    return s;
  }
  std::vector<int64_t> class_sizes() const {  // [num_classes] column sums
    std::vector<int64_t> s(static_cast<std::size_t>(num_classes), 0);
    for (int k = 0; k < num_clusters; ++k)
      for (int c = 0; c < num_classes; ++c) s[static_cast<std::size_t>(c)] += at(k, c);
    return s;
  }
};

struct ClusteringMetrics {
  double acc = 0;                 // Hungarian accuracy: matches / N
  double nmi = 0;                 // normalized_mutual_info_score (arithmetic mean of the entropies)
  double ari = 0;                 // adjusted_rand_score
  double top5 = -1;               // top-5 ACC through `mapping`; -1 unless evaluated from probabilities
  std::vector<int> mapping;       // [num_clusters] class of each cluster, -1 if unmatched (clusters > classes)
  ContingencyTable contingency;   // [num_clusters, num_classes]
};

namespace detail {
inline void check_clustering_inputs(const char* op, const std::vector<int>& pred, const std::vector<int>& labels,
                                    int num_clusters, int num_classes) {
  GCC_CHECK(num_clusters >= 1, op, ": num_clusters must be >= 1, got ", num_clusters);
  GCC_CHECK(num_classes >= 1, op, ": num_classes must be >= 1, got ", num_classes);
  GCC_CHECK(pred.size() == labels.size(), op, ": ", pred.size(), " predictions but ", labels.size(), " labels");
  for (std::size_t i = 0; i < pred.size(); ++i) {
    GCC_CHECK(pred[i] >= 0 && pred[i] < num_clusters, op, ": pred[", i, "] = ", pred[i],
              " is outside the clusters [0, ", num_clusters, ")");
    GCC_CHECK(labels[i] >= 0 && labels[i] < num_classes, op, ": labels[", i, "] = ", labels[i],
              " is outside the classes [0, ", num_classes, ")");
  }
}

inline void check_mapping(const char* op, const std::vector<int>& mapping, int num_clusters, int num_classes) {
  GCC_CHECK(static_cast<int64_t>(mapping.size()) == num_clusters, op, ": mapping has ", mapping.size(),
            " entries for ", num_clusters, " clusters");
  for (std::size_t k = 0; k < mapping.size(); ++k)
    GCC_CHECK(mapping[k] >= -1 && mapping[k] < num_classes, op, ": mapping[", k, "] = ", mapping[k],
              " is neither -1 nor a class in [0, ", num_classes, ")");
}

// -sum p log p over the non-empty entries, as sklearn.metrics.cluster.entropy (0 for one group).
inline double sklearn_entropy(const std::vector<int64_t>& sizes, int64_t n) {
  int present = 0;
  for (int64_t s : sizes) present += s > 0;
  if (present <= 1) return 0.0;
  const double total = static_cast<double>(n), log_total = std::log(total);
  double h = 0;
  for (int64_t s : sizes)
    if (s > 0) h += (static_cast<double>(s) / total) * (std::log(static_cast<double>(s)) - log_total);
  return -h;
}
}  // namespace detail

// The [num_clusters, num_classes] table of counts; pred[i] in [0, num_clusters), labels[i] in [0, num_classes).
inline ContingencyTable contingency_table(const std::vector<int>& pred, const std::vector<int>& labels,
                                          int num_clusters, int num_classes) {
  detail::check_clustering_inputs("contingency_table", pred, labels, num_clusters, num_classes);
  ContingencyTable t;
  t.num_clusters = num_clusters;
  t.num_classes = num_classes;
  t.n = static_cast<int64_t>(pred.size());
  t.counts.assign(static_cast<std::size_t>(num_clusters) * static_cast<std::size_t>(num_classes), 0);
  for (std::size_t i = 0; i < pred.size(); ++i)
    ++t.counts[static_cast<std::size_t>(pred[i]) * static_cast<std::size_t>(num_classes) + static_cast<std::size_t>(labels[i])];
  return t;
}

// The one-to-one cluster -> class mapping that maximises the matches (exact linear sum assignment on
// the counts). With more clusters than classes the surplus clusters map to -1; with fewer, some
// classes receive no cluster. Empty clusters take part like any other.
inline std::vector<int> hungarian_mapping(const ContingencyTable& t) {
  GCC_CHECK(static_cast<int64_t>(t.counts.size()) == static_cast<int64_t>(t.num_clusters) * t.num_classes,
            "hungarian_mapping: table holds ", t.counts.size(), " counts for [", t.num_clusters, ", ",
            t.num_classes, "]");
  return linear_sum_assignment(t.counts, t.num_clusters, t.num_classes, /*maximize=*/true).row_to_col;
}

// Samples whose cluster maps to their class.
inline int64_t mapped_matches(const ContingencyTable& t, const std::vector<int>& mapping) {
  detail::check_mapping("mapped_matches", mapping, t.num_clusters, t.num_classes);
  int64_t m = 0;
  for (int k = 0; k < t.num_clusters; ++k)
    if (mapping[static_cast<std::size_t>(k)] >= 0) m += t.at(k, mapping[static_cast<std::size_t>(k)]);
  return m;
}

// ACC = matches / N through `mapping` (use hungarian_mapping for the field's ACC).
inline double clustering_accuracy(const ContingencyTable& t, const std::vector<int>& mapping) {
  GCC_CHECK(t.n > 0, "clustering_accuracy: no samples");
  return static_cast<double>(mapped_matches(t, mapping)) / static_cast<double>(t.n);
}
inline double clustering_accuracy(const ContingencyTable& t) { return clustering_accuracy(t, hungarian_mapping(t)); }

// NMI with arithmetic normalisation, MI / ((H(classes) + H(clusters)) / 2), natural log, computed term by
// term as scikit-learn's normalized_mutual_info_score (1.2). Empty rows/columns are ignored (sklearn
// only sees the ids that occur). Special cases as sklearn: both partitions a single group (or no
// samples) -> 1.0; otherwise MI == 0 (e.g. exactly one partition is a single group) -> 0.0; MI terms
// below machine epsilon in magnitude count as 0 and MI is clipped at 0.
inline double normalized_mutual_info(const ContingencyTable& t) {
  const std::vector<int64_t> a = t.class_sizes(), b = t.cluster_sizes();
  int n_classes = 0, n_clusters = 0;
  for (int64_t s : a) n_classes += s > 0;
  for (int64_t s : b) n_clusters += s > 0;
  if (n_classes == n_clusters && n_classes <= 1) return 1.0;
  double mi = 0;
  if (n_classes > 1 && n_clusters > 1) {
    const double total = static_cast<double>(t.n), log_total = std::log(total);
    const double eps = std::numeric_limits<double>::epsilon();
    // sklearn's order: classes (rows of its table) outer, clusters inner.
    for (int c = 0; c < t.num_classes; ++c)
      for (int k = 0; k < t.num_clusters; ++k) {
        const int64_t nij = t.at(k, c);
        if (nij == 0) continue;
        const double p = static_cast<double>(nij) / total;
        const int64_t outer = a[static_cast<std::size_t>(c)] * b[static_cast<std::size_t>(k)];
        const double log_outer = -std::log(static_cast<double>(outer)) + log_total + log_total;
        double term = p * (std::log(static_cast<double>(nij)) - log_total) + p * log_outer;
        if (std::fabs(term) < eps) term = 0.0;
        mi += term;
      }
    if (mi < 0) mi = 0;
  }
  if (mi == 0) return 0.0;
  const double h_true = detail::sklearn_entropy(a, t.n), h_pred = detail::sklearn_entropy(b, t.n);
  return mi / ((h_true + h_pred) / 2.0);
}

// Adjusted Rand index (Hubert & Arabie 1985) from the table's pair counts: with sum_ij = sum C(n_ij, 2),
// sum_a / sum_b the C(., 2) sums of the class / cluster sizes and total = C(N, 2), the pairs together in
// both (tp), only in the classes (fn), only in the clusters (fp) and in neither (tn) give
// ARI = 2 (tp tn - fn fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn)),
// which equals (sum_ij - sum_a sum_b / total) / ((sum_a + sum_b) / 2 - sum_a sum_b / total) and is the
// formula of scikit-learn's adjusted_rand_score. Computed in exact 128-bit integers and rounded once per
// operand, as sklearn does with Python integers, so the result is bit-identical. Special case as
// sklearn: identical partitions up to renaming (fn == fp == 0, which includes N <= 1) -> 1.0.
inline double adjusted_rand_index(const ContingencyTable& t) {
  using i128 = __int128;
  auto pairs = [](int64_t m) -> i128 { return static_cast<i128>(m) * (m - 1) / 2; };
  const std::vector<int64_t> a = t.class_sizes(), b = t.cluster_sizes();
  i128 sum_ij = 0, sum_a = 0, sum_b = 0;
  for (int64_t c : t.counts) sum_ij += pairs(c);
  for (int64_t s : a) sum_a += pairs(s);
  for (int64_t s : b) sum_b += pairs(s);
  const i128 tp = sum_ij, fn = sum_a - sum_ij, fp = sum_b - sum_ij, tn = pairs(t.n) - sum_a - sum_b + sum_ij;
  if (fn == 0 && fp == 0) return 1.0;
  const i128 num = tp * tn - fn * fp;
  const i128 den = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn);
  return 2.0 * static_cast<double>(num) / static_cast<double>(den);
}

// Top-k ACC through a cluster -> class mapping, the rule of SCAN/GCC's hungarian_evaluate: sample i
// counts as correct if labels[i] is the mapped class of one of its k most probable clusters. Ranking:
// descending probability, ties to the lower cluster index; unmapped clusters (-1) never match. With
// fewer than k clusters all clusters are taken. probs: [n, num_clusters] row-major, finite.
inline double top_k_accuracy(const float* probs, int64_t n, int num_clusters, const std::vector<int>& labels,
                             const std::vector<int>& mapping, int k = 5) {
  GCC_CHECK(n > 0, "top_k_accuracy: no samples");
  GCC_CHECK(num_clusters >= 1, "top_k_accuracy: num_clusters must be >= 1, got ", num_clusters);
  GCC_CHECK(k >= 1, "top_k_accuracy: k must be >= 1, got ", k);
  GCC_CHECK(static_cast<int64_t>(labels.size()) == n, "top_k_accuracy: ", labels.size(), " labels for ", n,
            " rows of probabilities");
  GCC_CHECK(static_cast<int64_t>(mapping.size()) == num_clusters, "top_k_accuracy: mapping has ", mapping.size(),
            " entries for ", num_clusters, " clusters");
  const int kk = k < num_clusters ? k : num_clusters;
  std::vector<int> order(static_cast<std::size_t>(num_clusters));
  int64_t hit = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = probs + i * num_clusters;
    for (int c = 0; c < num_clusters; ++c) {
      GCC_CHECK(std::isfinite(row[c]), "top_k_accuracy: probs[", i, ", ", c, "] = ", row[c], " is not finite");
      order[static_cast<std::size_t>(c)] = c;
    }
    // The kk most probable clusters, highest first; equal probabilities keep the lower cluster index.
    std::partial_sort(order.begin(), order.begin() + kk, order.end(),
                      [row](int a, int b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
    const int y = labels[static_cast<std::size_t>(i)];
    for (int j = 0; j < kk; ++j)
      if (mapping[static_cast<std::size_t>(order[static_cast<std::size_t>(j)])] == y) {
        ++hit;
        break;
      }
  }
  return static_cast<double>(hit) / static_cast<double>(n);
}

// The same from a [N, K] probability tensor (any device; copied to the CPU).
inline double top_k_accuracy(const Tensor& probs, const std::vector<int>& labels, const std::vector<int>& mapping,
                             int k = 5) {
  GCC_CHECK(probs.defined() && probs.dims() == 2, "top_k_accuracy: probs must be [N, K], got ",
            probs.defined() ? probs.shape().str() : std::string("an undefined tensor"));
  const Tensor p = probs.to(Device::cpu()).contiguous();
  return top_k_accuracy(p.data(), p.size(0), static_cast<int>(p.size(1)), labels, mapping, k);
}

// Predictions renamed to classes through the mapping (-1 for clusters without a class).
inline std::vector<int> apply_mapping(const std::vector<int>& pred, const std::vector<int>& mapping) {
  std::vector<int> out(pred.size());
  for (std::size_t i = 0; i < pred.size(); ++i) {
    GCC_CHECK(pred[i] >= 0 && pred[i] < static_cast<int>(mapping.size()), "apply_mapping: pred[", i, "] = ",
              pred[i], " is outside the clusters [0, ", mapping.size(), ")");
    out[i] = mapping[static_cast<std::size_t>(pred[i])];
  }
  return out;
}

// ACC (Hungarian), NMI and ARI of hard cluster assignments against ground-truth classes.
inline ClusteringMetrics evaluate(const std::vector<int>& pred, const std::vector<int>& labels, int num_clusters,
                                  int num_classes) {
  detail::check_clustering_inputs("evaluate", pred, labels, num_clusters, num_classes);
  GCC_CHECK(!pred.empty(), "evaluate: no samples");
  ClusteringMetrics m;
  m.contingency = contingency_table(pred, labels, num_clusters, num_classes);
  m.mapping = hungarian_mapping(m.contingency);
  m.acc = clustering_accuracy(m.contingency, m.mapping);
  m.nmi = normalized_mutual_info(m.contingency);
  m.ari = adjusted_rand_index(m.contingency);
  return m;
}

// The same from [N, K] cluster probabilities: pred = argmax (first maximum on ties, as torch.argmax),
// plus top-5 ACC through the Hungarian mapping.
inline ClusteringMetrics evaluate(const Tensor& probs, const std::vector<int>& labels, int num_classes) {
  GCC_CHECK(probs.defined() && probs.dims() == 2 && probs.size(1) >= 1, "evaluate: probs must be [N, K], got ",
            probs.defined() ? probs.shape().str() : std::string("an undefined tensor"));
  const Tensor p = probs.to(Device::cpu()).contiguous();
  const int64_t n = p.size(0);
  const int k = static_cast<int>(p.size(1));
  GCC_CHECK(static_cast<int64_t>(labels.size()) == n, "evaluate: ", labels.size(), " labels for probs ",
            p.shape().str());
  std::vector<int> pred(static_cast<std::size_t>(n));
  const float* d = p.data();
  for (int64_t i = 0; i < n; ++i) {
    int best = 0;
    for (int c = 0; c < k; ++c) {
      GCC_CHECK(std::isfinite(d[i * k + c]), "evaluate: probs[", i, ", ", c, "] = ", d[i * k + c], " is not finite");
      if (d[i * k + c] > d[i * k + best]) best = c;
    }
    pred[static_cast<std::size_t>(i)] = best;
  }
  ClusteringMetrics m = evaluate(pred, labels, k, num_classes);
  m.top5 = top_k_accuracy(d, n, k, labels, m.mapping, 5);
  return m;
}

}  // namespace gcc
