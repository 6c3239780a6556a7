// Evaluation: Hungarian assignment against brute force (square and rectangular, ties), a 300x300 run,
// ACC / NMI / ARI against scikit-learn literals, top-5 ACC, validation errors, confusion CSV and PNG.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <random>
#include <sstream>

#include "gcc/eval/confusion.hpp"
#include "gcc/eval/hungarian.hpp"
#include "gcc/eval/metrics.hpp"
#include "gcc/io/png.hpp"
#include "gcc/io/stb.hpp"  // stb_image decodes the PNG for the round trip
#include "gradcheck.hpp"

namespace {

// Brute force over all injective maps of the smaller side into the larger one (K <= 7 -> <= 5040).
template <typename T>
T brute_force_best(const std::vector<T>& cost, int rows, int cols, bool maximize) {
  const int big = std::max(rows, cols), small = std::min(rows, cols);
  std::vector<int> perm(static_cast<std::size_t>(big));
  std::iota(perm.begin(), perm.end(), 0);
  bool first = true;
  T best = 0;
  do {
    T s = 0;
    for (int i = 0; i < small; ++i) {
      const int r = rows <= cols ? i : perm[static_cast<std::size_t>(i)];
      const int c = rows <= cols ? perm[static_cast<std::size_t>(i)] : i;
      s += cost[static_cast<std::size_t>(r * cols + c)];
    }
    if (first || (maximize ? s > best : s < best)) best = s;
    first = false;
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

// The assignment is one-to-one, covers min(rows, cols) pairs and its total is the sum it claims.
template <typename T>
void check_valid(const gcc::LinearAssignment<T>& a, const std::vector<T>& cost, int rows, int cols) {
  REQUIRE(a.row_to_col.size() == static_cast<std::size_t>(rows));
  REQUIRE(a.col_to_row.size() == static_cast<std::size_t>(cols));
  int pairs = 0;
  T total = 0;
  for (int r = 0; r < rows; ++r) {
    const int c = a.row_to_col[static_cast<std::size_t>(r)];
    if (c < 0) continue;
    REQUIRE(c < cols);
    REQUIRE(a.col_to_row[static_cast<std::size_t>(c)] == r);
    total += cost[static_cast<std::size_t>(r * cols + c)];
    ++pairs;
  }
  int col_pairs = 0;
  for (int c = 0; c < cols; ++c) col_pairs += a.col_to_row[static_cast<std::size_t>(c)] >= 0;
  REQUIRE(pairs == std::min(rows, cols));
  REQUIRE(col_pairs == pairs);
  CHECK(total == a.total);
}

// splitmix64, reproduced in the Python generator below.
struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
};

struct SkCase {
  const char* name;
  int n, K, C, label_range, pred_range, noise, mult, shift, seed;
  double acc, nmi, ari;  // scikit-learn 1.2.1 / scipy 1.10.1 (Debian bookworm)
};

void make_case(const SkCase& c, std::vector<int>& labels, std::vector<int>& pred) {
  SplitMix g{static_cast<uint64_t>(c.seed)};
  labels.resize(static_cast<std::size_t>(c.n));
  pred.resize(static_cast<std::size_t>(c.n));
  for (int i = 0; i < c.n; ++i) {
    const int y = static_cast<int>(g.next() % static_cast<uint64_t>(c.label_range));
    int p;
    if (g.next() % 100 < static_cast<uint64_t>(c.noise))
      p = static_cast<int>(g.next() % static_cast<uint64_t>(c.pred_range));
    else
      p = (y * c.mult + c.shift) % c.K;
    labels[static_cast<std::size_t>(i)] = y;
    pred[static_cast<std::size_t>(i)] = p;
  }
}

/* The literals below were printed by this script with Debian's /usr/bin/python3 (python3-sklearn 1.2.1,
   scipy 1.10.1); ACC is scipy's linear_sum_assignment(maximize=True) on the [K, C] contingency / N.

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import normalized_mutual_info_score as nmi, adjusted_rand_score as ari
M = (1 << 64) - 1
def splitmix(seed):
    s = seed
    while True:
        s = (s + 0x9E3779B97F4A7C15) & M
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        yield z ^ (z >> 31)
def make(n, K, C, lr, pr, noise, mult, shift, seed):
    g = splitmix(seed); lab = []; pred = []
    for _ in range(n):
        y = next(g) % lr
        if next(g) % 100 < noise: p = next(g) % pr
        else: p = (y * mult + shift) % K
        lab.append(y); pred.append(p)
    return np.array(lab), np.array(pred)
cases = [("random10", 1000, 10, 10, 10, 10, 100, 1, 0, 1), ...]   # the parameters of kSkCases
for name, n, K, C, lr, pr, noise, mult, shift, seed in cases:
    y, p = make(n, K, C, lr, pr, noise, mult, shift, seed)
    cont = np.zeros((K, C), dtype=np.int64)
    np.add.at(cont, (p, y), 1)
    r, c = linear_sum_assignment(cont, maximize=True)
    acc = cont[r, c].sum() / n
    print('{"%s", %d, %d, %d, %d, %d, %d, %d, %d, %d, %.17g, %.17g, %.17g},' % (
        name, n, K, C, lr, pr, noise, mult, shift, seed, acc, nmi(y, p), ari(y, p)))
*/
// name, N, clusters K, classes C, labels drawn from [0, label_range), noise % of predictions drawn from
// [0, pred_range), the others (label * mult + shift) % K; seed; then sklearn's ACC, NMI, ARI.
const SkCase kSkCases[] = {
    {"random10", 1000, 10, 10, 10, 10, 100, 1, 0, 1, 0.152, 0.020178269322466937, 0.0012866707505200415},
    {"noisy10", 1000, 10, 10, 10, 10, 40, 3, 4, 2, 0.624, 0.37653596177714022, 0.3383142939267258},
    {"perfect_permuted", 1000, 10, 10, 10, 10, 0, 7, 3, 3, 1, 0.99999999999999978, 1},
    {"all_one_cluster", 1000, 10, 10, 10, 1, 100, 1, 0, 4, 0.114, 0, 0},
    {"k20_c15", 2000, 20, 15, 15, 20, 35, 1, 5, 5, 0.67449999999999999, 0.49581691831121377, 0.4592482181725443},
    {"k15_c20", 2000, 15, 20, 20, 15, 30, 1, 0, 6, 0.55449999999999999, 0.50467452650286093, 0.40277984222485852},
    {"k200_c180_empty_clusters", 5000, 200, 180, 180, 150, 30, 1, 7, 7, 0.70960000000000001, 0.77005138312861443,
     0.50509908636050183},
    {"absent_classes", 500, 10, 12, 9, 10, 50, 1, 1, 8, 0.55800000000000005, 0.32282035560706945, 0.27097250404527212},
    {"both_trivial", 50, 3, 4, 1, 1, 100, 1, 0, 9, 1, 1, 1},
    {"one_class_split", 50, 3, 4, 1, 3, 100, 1, 0, 10, 0.38, 0, 0},
    {"single_sample", 1, 2, 2, 2, 2, 50, 1, 0, 11, 1, 1, 1},
    {"n100k", 100000, 10, 10, 10, 10, 60, 9, 2, 12, 0.46062999999999998, 0.18577443967808846, 0.16055272591812769},
};

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// A fresh directory under the system's temp dir, removed at scope exit (not named TempDir: the data
// tests' gcc_test::TempDir shares this file's unity group).
struct EvalTempDir {
  std::filesystem::path path;
  EvalTempDir() {
    path = std::filesystem::temp_directory_path() /
           ("gcc_test_eval_" + std::to_string(::getpid()) + "_" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    std::filesystem::create_directories(path);
  }
  ~EvalTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

TEST_CASE("linear_sum_assignment equals brute force on random matrices up to 7x7, rectangular too") {
  std::mt19937_64 rng(2024);
  int checked = 0;
  for (int rows = 1; rows <= 7; ++rows)
    for (int cols = 1; cols <= 7; ++cols)
      for (int trial = 0; trial < 3; ++trial) {
        // int64: wide range, and a narrow one (0..2) that makes many optimal assignments tie.
        const int64_t range = trial == 0 ? 3 : 1000;
        std::uniform_int_distribution<int64_t> di(-range / 2, range);
        std::vector<int64_t> ci(static_cast<std::size_t>(rows * cols));
        for (auto& v : ci) v = di(rng);
        for (bool maximize : {false, true}) {
          const auto a = gcc::linear_sum_assignment(ci, rows, cols, maximize);
          check_valid(a, ci, rows, cols);
          CHECK_MESSAGE(a.total == brute_force_best(ci, rows, cols, maximize),
                        "int64 " << rows << "x" << cols << " trial " << trial << " maximize " << maximize);
        }
        std::uniform_real_distribution<double> dd(-5.0, 10.0);
        std::vector<double> cd(static_cast<std::size_t>(rows * cols));
        for (auto& v : cd) v = dd(rng);
        for (bool maximize : {false, true}) {
          const auto a = gcc::linear_sum_assignment(cd, rows, cols, maximize);
          check_valid(a, cd, rows, cols);
          CHECK_MESSAGE(std::fabs(a.total - brute_force_best(cd, rows, cols, maximize)) <= 1e-9,
                        "double " << rows << "x" << cols << " trial " << trial << " maximize " << maximize);
        }
        ++checked;
      }
  CHECK(checked == 7 * 7 * 3);
}

TEST_CASE("linear_sum_assignment: hand examples, empty and rectangular shapes, bad input") {
  // Classic 3x3: optimum 0->1, 1->0, 2->2 with cost 1 + 2 + 2 = 5.
  const std::vector<int64_t> c = {4, 1, 3, 2, 0, 5, 3, 2, 2};
  auto a = gcc::linear_sum_assignment(c, 3, 3);
  CHECK(a.total == 5);
  CHECK(a.row_to_col == std::vector<int>{1, 0, 2});
  // 2 rows, 4 columns (maximise): rows pick columns 3 and 0.
  const std::vector<double> w = {5, 1, 1, 6, 7, 1, 1, 6};
  auto b = gcc::linear_sum_assignment(w, 2, 4, true);
  CHECK(b.total == 13);
  CHECK(b.row_to_col == std::vector<int>{3, 0});
  CHECK(b.col_to_row == std::vector<int>{1, -1, -1, 0});
  // 4 rows, 2 columns: the transpose of the above.
  const std::vector<double> wt = {5, 7, 1, 1, 1, 1, 6, 6};
  auto bt = gcc::linear_sum_assignment(wt, 4, 2, true);
  CHECK(bt.total == 13);
  CHECK(bt.row_to_col == std::vector<int>{1, -1, -1, 0});
  CHECK(bt.col_to_row[0] == 3);
  CHECK(bt.col_to_row[1] == 0);
  auto e = gcc::linear_sum_assignment(std::vector<double>{}, 0, 3);
  CHECK(e.row_to_col.empty());
  CHECK(e.col_to_row == std::vector<int>{-1, -1, -1});
  CHECK_THROWS_WITH_AS(gcc::linear_sum_assignment(std::vector<double>{1, 2, 3}, 2, 2),
                       doctest::Contains("3 costs for a matrix [2, 2]"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::linear_sum_assignment(std::vector<double>{1, std::nan(""), 3, 4}, 2, 2),
                       doctest::Contains("cost[0, 1] = nan is not finite"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::linear_sum_assignment(std::vector<int64_t>{1, int64_t(1) << 50}, 1, 2),
                       doctest::Contains("exceeds 2^40"), gcc::Error);
}

TEST_CASE("linear_sum_assignment on 300x300 and 300x200 finishes and is optimal where known") {
  const int n = 300;
  std::mt19937_64 rng(7);
  // Planted optimum: cost 0 on a random permutation, 1..100 elsewhere.
  std::vector<int> perm(static_cast<std::size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::uniform_int_distribution<int64_t> di(1, 100);
  std::vector<int64_t> planted(static_cast<std::size_t>(n * n));
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c)
      planted[static_cast<std::size_t>(r * n + c)] = c == perm[static_cast<std::size_t>(r)] ? 0 : di(rng);
  const auto t0 = std::chrono::steady_clock::now();
  const auto a = gcc::linear_sum_assignment(planted, n, n);
  CHECK(a.total == 0);
  CHECK(a.row_to_col == perm);
  // Random doubles, square and rectangular: valid, and no 2-swap improves the result.
  std::uniform_real_distribution<double> dd(0.0, 1.0);
  for (int cols : {300, 200}) {
    std::vector<double> cd(static_cast<std::size_t>(n * cols));
    for (auto& v : cd) v = dd(rng);
    const auto b = gcc::linear_sum_assignment(cd, n, cols);
    check_valid(b, cd, n, cols);
    double worst_gain = 0;
    for (int r1 = 0; r1 < n; ++r1)
      for (int r2 = r1 + 1; r2 < n; ++r2) {
        const int c1 = b.row_to_col[static_cast<std::size_t>(r1)], c2 = b.row_to_col[static_cast<std::size_t>(r2)];
        if (c1 < 0 && c2 < 0) continue;
        auto at = [&](int r, int c) { return c < 0 ? 0.0 : cd[static_cast<std::size_t>(r * cols + c)]; };
        worst_gain = std::max(worst_gain, at(r1, c1) + at(r2, c2) - at(r1, c2) - at(r2, c1));
      }
    CHECK(worst_gain <= 1e-12);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("300x300 (int64) + 300x300 + 300x200 (double) assignments: " << secs << " s");
}

TEST_CASE("contingency table, Hungarian mapping and ACC on a hand example") {
  // 3 clusters, 2 classes: cluster 0 ~ class 1, cluster 2 ~ class 0, cluster 1 is left without a class.
  const std::vector<int> pred = {0, 0, 0, 1, 2, 2, 1, 0};
  const std::vector<int> labels = {1, 1, 0, 0, 0, 0, 1, 1};
  const gcc::ClusteringMetrics m = gcc::evaluate(pred, labels, 3, 2);
  CHECK(m.contingency.num_clusters == 3);
  CHECK(m.contingency.num_classes == 2);
  CHECK(m.contingency.n == 8);
  CHECK(m.contingency.counts == std::vector<int64_t>{1, 3, 1, 1, 2, 0});
  CHECK(m.mapping == std::vector<int>{1, -1, 0});
  CHECK(m.acc == 5.0 / 8.0);
  CHECK(gcc::apply_mapping(pred, m.mapping) == std::vector<int>{1, 1, 1, -1, 0, 0, -1, 1});
  CHECK(m.top5 == -1);
  // A cluster with no members still takes part in the assignment.
  const gcc::ClusteringMetrics e = gcc::evaluate({0, 0, 2, 2}, {1, 1, 0, 0}, 3, 3);
  CHECK(e.acc == 1.0);
  CHECK(e.mapping[0] == 1);
  CHECK(e.mapping[2] == 0);
  CHECK(e.mapping[1] == 2);
}

TEST_CASE("ACC, NMI and ARI agree with scikit-learn to 1e-12") {
  double worst[3] = {0, 0, 0};
  int ari_bit_identical = 0;
  for (const SkCase& c : kSkCases) {
    std::vector<int> labels, pred;
    make_case(c, labels, pred);
    const gcc::ClusteringMetrics m = gcc::evaluate(pred, labels, c.K, c.C);
    const double d[3] = {std::fabs(m.acc - c.acc), std::fabs(m.nmi - c.nmi), std::fabs(m.ari - c.ari)};
    CHECK_MESSAGE(d[0] <= 1e-12, c.name << ": ACC " << m.acc << " vs sklearn " << c.acc);
    CHECK_MESSAGE(d[1] <= 1e-12, c.name << ": NMI " << m.nmi << " vs sklearn " << c.nmi);
    CHECK_MESSAGE(d[2] <= 1e-12, c.name << ": ARI " << m.ari << " vs sklearn " << c.ari);
    for (int i = 0; i < 3; ++i) worst[i] = std::max(worst[i], d[i]);
    ari_bit_identical += m.ari == c.ari;
    // The mapping is one-to-one onto min(K, C) classes and reproduces ACC.
    std::vector<int> seen(static_cast<std::size_t>(c.C), 0);
    int mapped = 0;
    for (int k : m.mapping)
      if (k >= 0) {
        CHECK(++seen[static_cast<std::size_t>(k)] == 1);
        ++mapped;
      }
    CHECK(mapped == std::min(c.K, c.C));
    CHECK(gcc::clustering_accuracy(m.contingency, m.mapping) == m.acc);
  }
  MESSAGE("worst |difference| to sklearn: ACC " << worst[0] << ", NMI " << worst[1] << ", ARI " << worst[2]
                                                << "; ARI bit-identical in " << ari_bit_identical << " of "
                                                << std::size(kSkCases) << " cases");
  CHECK(ari_bit_identical == static_cast<int>(std::size(kSkCases)));
}

TEST_CASE("NMI and ARI special cases as scikit-learn") {
  auto t = [](std::vector<int> pred, std::vector<int> labels, int k, int c) {
    return gcc::contingency_table(pred, labels, k, c);
  };
  // Both partitions one group: 1.0; exactly one of them one group: 0.0.
  CHECK(gcc::normalized_mutual_info(t({2, 2, 2}, {1, 1, 1}, 3, 3)) == 1.0);
  CHECK(gcc::adjusted_rand_index(t({2, 2, 2}, {1, 1, 1}, 3, 3)) == 1.0);
  CHECK(gcc::normalized_mutual_info(t({0, 1, 2}, {1, 1, 1}, 3, 3)) == 0.0);
  CHECK(gcc::adjusted_rand_index(t({0, 1, 2}, {1, 1, 1}, 3, 3)) == 0.0);
  CHECK(gcc::normalized_mutual_info(t({0, 0, 0}, {0, 1, 2}, 3, 3)) == 0.0);
  // All singletons on both sides: identical partitions -> ARI 1 (sklearn's special case), NMI 1.
  CHECK(gcc::adjusted_rand_index(t({2, 0, 1}, {0, 1, 2}, 3, 3)) == 1.0);
  CHECK(gcc::normalized_mutual_info(t({2, 0, 1}, {0, 1, 2}, 3, 3)) == doctest::Approx(1.0).epsilon(1e-15));
  // No samples: both 1.0 (sklearn), while ACC of nothing is an error.
  const gcc::ContingencyTable empty = t({}, {}, 2, 2);
  CHECK(gcc::normalized_mutual_info(empty) == 1.0);
  CHECK(gcc::adjusted_rand_index(empty) == 1.0);
  CHECK_THROWS_WITH_AS(gcc::clustering_accuracy(empty), doctest::Contains("clustering_accuracy: no samples"),
                       gcc::Error);
  // Hand value: sklearn.metrics.adjusted_rand_score([0,0,1,1], [0,0,1,2]) = 0.5714285714285714;
  // normalized_mutual_info_score(...) = 0.7999999999999999.
  CHECK(gcc::adjusted_rand_index(t({0, 0, 1, 2}, {0, 0, 1, 1}, 3, 2)) == doctest::Approx(0.5714285714285714).epsilon(1e-14));
  CHECK(gcc::normalized_mutual_info(t({0, 0, 1, 2}, {0, 0, 1, 1}, 3, 2)) ==
        doctest::Approx(0.7999999999999999).epsilon(1e-14));
}

TEST_CASE("evaluate validates its inputs") {
  CHECK_THROWS_WITH_AS(gcc::evaluate({0, 1}, {0}, 2, 2), doctest::Contains("evaluate: 2 predictions but 1 labels"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::evaluate({0, 2}, {0, 1}, 2, 2),
                       doctest::Contains("evaluate: pred[1] = 2 is outside the clusters [0, 2)"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::evaluate({0, 1}, {-1, 1}, 2, 2),
                       doctest::Contains("evaluate: labels[0] = -1 is outside the classes [0, 2)"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::evaluate({0}, {0}, 0, 2), doctest::Contains("evaluate: num_clusters must be >= 1"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::evaluate({}, {}, 2, 2), doctest::Contains("evaluate: no samples"), gcc::Error);
  const gcc::ContingencyTable t = gcc::contingency_table({0, 1}, {0, 1}, 2, 2);
  CHECK_THROWS_WITH_AS(gcc::clustering_accuracy(t, {0}), doctest::Contains("mapping has 1 entries for 2 clusters"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::clustering_accuracy(t, {0, 2}),
                       doctest::Contains("mapping[1] = 2 is neither -1 nor a class in [0, 2)"), gcc::Error);
}

TEST_CASE("top-5 ACC through the mapping: hand example, ties, unmapped clusters, fewer than 5 clusters") {
  // 7 clusters, 7 classes, mapping k -> (k + 1) % 7 except cluster 6, which is unmapped.
  const std::vector<int> mapping = {1, 2, 3, 4, 5, 6, -1};
  // Row 0: top-5 clusters {6,5,4,3,2} -> classes {-,6,5,4,3}; label 3 -> hit.
  // Row 1: same ranking, label 1 (cluster 0, ranked 7th) -> miss.
  // Row 2: ties: clusters 0..6 all 1/7; top-5 by lower index = {0..4} -> classes {1..5}; label 5 hit, 6 miss.
  // Row 4: label 0 is only reachable through unmapped cluster 6, top ranked -> miss.
  const std::vector<float> p = {
      0.01f, 0.02f, 0.07f, 0.1f, 0.2f, 0.25f, 0.35f,   // 0
      0.01f, 0.02f, 0.07f, 0.1f, 0.2f, 0.25f, 0.35f,   // 1
      1 / 7.f, 1 / 7.f, 1 / 7.f, 1 / 7.f, 1 / 7.f, 1 / 7.f, 1 / 7.f,  // 2
      1 / 7.f, 1 / 7.f, 1 / 7.f, 1 / 7.f, 1 / 7.f, 1 / 7.f, 1 / 7.f,  // 3
      0.05f, 0.05f, 0.05f, 0.05f, 0.05f, 0.05f, 0.7f,  // 4
  };
  const std::vector<int> labels = {3, 1, 5, 6, 0};
  CHECK(gcc::top_k_accuracy(p.data(), 5, 7, labels, mapping, 5) == 2.0 / 5.0);
  CHECK(gcc::top_k_accuracy(p.data(), 5, 7, labels, mapping, 1) == 0.0);
  CHECK(gcc::top_k_accuracy(p.data(), 5, 7, labels, mapping, 7) == 4.0 / 5.0);
  // Same through a tensor.
  const gcc::Tensor pt = gcc::Tensor::from_vector(p, gcc::Shape{5, 7});
  CHECK(gcc::top_k_accuracy(pt, labels, mapping) == 2.0 / 5.0);
  // Fewer than 5 clusters: all are taken.
  const std::vector<float> q = {0.9f, 0.1f, 0.3f, 0.7f};
  CHECK(gcc::top_k_accuracy(q.data(), 2, 2, {1, 0}, {0, 1}, 5) == 1.0);
  CHECK_THROWS_WITH_AS(gcc::top_k_accuracy(q.data(), 2, 2, {1}, {0, 1}, 5),
                       doctest::Contains("top_k_accuracy: 1 labels for 2 rows"), gcc::Error);
  const std::vector<float> bad = {0.5f, std::nanf("")};
  CHECK_THROWS_WITH_AS(gcc::top_k_accuracy(bad.data(), 1, 2, {0}, {0, 1}, 5),
                       doctest::Contains("probs[0, 1] = nan is not finite"), gcc::Error);
}

TEST_CASE("evaluate from probabilities: argmax predictions and top-5") {
  // 6 samples, 6 clusters; argmax clusters {0,0,1,1,2,5}, classes {3,3,4,4,5,0}.
  std::vector<float> p(36, 0.0f);
  const int am[6] = {0, 0, 1, 1, 2, 5};
  for (int i = 0; i < 6; ++i) {
    for (int k = 0; k < 6; ++k) p[static_cast<std::size_t>(i * 6 + k)] = 0.01f * static_cast<float>(k + 1);
    p[static_cast<std::size_t>(i * 6 + am[i])] = 0.9f;
  }
  const std::vector<int> labels = {3, 3, 4, 4, 5, 0};
  const gcc::ClusteringMetrics m = gcc::evaluate(gcc::Tensor::from_vector(p, gcc::Shape{6, 6}), labels, 6);
  CHECK(m.acc == 1.0);
  CHECK(m.mapping[0] == 3);
  CHECK(m.mapping[1] == 4);
  CHECK(m.mapping[2] == 5);
  CHECK(m.mapping[5] == 0);
  CHECK(m.top5 == 1.0);
  CHECK(m.nmi == doctest::Approx(1.0).epsilon(1e-15));
  CHECK(m.ari == 1.0);
}

TEST_CASE("confusion matrix CSV: mapped columns, names quoted, unmapped column, normalised rows") {
  const std::vector<int> pred = {0, 0, 0, 1, 2, 2, 1, 0};
  const std::vector<int> labels = {1, 1, 0, 0, 0, 0, 1, 1};
  const gcc::ClusteringMetrics m = gcc::evaluate(pred, labels, 3, 2);  // mapping {1, -1, 0}
  const gcc::ConfusionMatrix cm = gcc::confusion_matrix(m);
  CHECK(cm.has_unmapped);
  CHECK(cm.cols() == 3);
  // True class 0: 2 samples predicted 0 (cluster 2), 1 predicted 1 (cluster 0), 1 unmapped (cluster 1).
  CHECK(cm.counts == std::vector<int64_t>{2, 1, 1, 0, 3, 1});
  CHECK(gcc::confusion_csv(cm, {"cat, wild", "dog"}) ==
        "class,\"cat, wild\",dog,unmapped\n\"cat, wild\",2,1,1\ndog,0,3,1\n");
  CHECK(gcc::confusion_csv(cm, {}, true) == "class,0,1,unmapped\n0,0.5,0.25,0.25\n1,0,0.75,0.25\n");
  CHECK_THROWS_WITH_AS(gcc::confusion_csv(cm, {"a"}), doctest::Contains("confusion_csv: 1 class names for 2 classes"),
                       gcc::Error);
  // Square case: no unmapped column.
  const gcc::ConfusionMatrix sq = gcc::confusion_matrix(gcc::evaluate({1, 0, 0}, {0, 1, 0}, 2, 2));
  CHECK_FALSE(sq.has_unmapped);
  CHECK(gcc::confusion_csv(sq) == "class,0,1\n0,1,1\n1,0,1\n");
}

TEST_CASE("confusion files: CSV and PNG written atomically, PNG decodes to the expected size and colours") {
  EvalTempDir dir;
  const std::vector<int> pred = {0, 0, 0, 1, 2, 2, 1, 0};
  const std::vector<int> labels = {1, 1, 0, 0, 0, 0, 1, 1};
  const gcc::ConfusionMatrix cm = gcc::confusion_matrix(gcc::evaluate(pred, labels, 3, 2));
  const std::string csv = (dir.path / "confusion.csv").string();
  const std::string png = (dir.path / "confusion.png").string();
  std::ofstream(csv) << "old contents";
  gcc::write_confusion_csv(csv, cm, {"a", "b"});
  CHECK(read_file(csv) == "class,a,b,unmapped\na,2,1,1\nb,0,3,1\n");
  gcc::write_confusion_png(png, cm, 16);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
    (void)e;
    ++files;
  }
  CHECK(files == 2);  // no temporary files left behind
  const std::string bytes = read_file(png);
  REQUIRE(bytes.size() > 8);
  CHECK(bytes.compare(1, 3, "PNG") == 0);
  int w = 0, h = 0, comp = 0;
  unsigned char* img = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(bytes.data()),
                                             static_cast<int>(bytes.size()), &w, &h, &comp, 3);
  REQUIRE(img != nullptr);
  CHECK(w == 3 * 16);
  CHECK(h == 2 * 16);
  CHECK(comp == 3);
  auto pix = [&](int x, int y, int ch) { return static_cast<int>(img[(y * w + x) * 3 + ch]); };
  // Row "b": 0 -> white-ish (247,251,255), 0.75 -> between the 4th and 5th stops; darker than 0.25.
  CHECK(pix(8, 24, 0) == 247);
  CHECK(pix(8, 24, 2) == 255);
  CHECK(pix(24, 24, 0) < pix(40, 24, 0));
  CHECK(pix(24, 24, 0) == 33);  // t = 0.75 is exactly the stop (33, 113, 181)
  // Cells are uniform blocks.
  CHECK(pix(16, 0, 1) == pix(31, 15, 1));
  stbi_image_free(img);
  // Errors name the path.
  const std::string missing = (dir.path / "no_such_dir" / "c.png").string();
  CHECK_THROWS_WITH_AS(gcc::write_confusion_png(missing, cm), doctest::Contains(missing.c_str()), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::write_confusion_csv(missing, cm), doctest::Contains("write_confusion_csv"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::confusion_png(cm, 0), doctest::Contains("cell size must be 1..256 px"), gcc::Error);
}
