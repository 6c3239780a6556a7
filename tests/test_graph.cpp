// kNN graph (blocked top-k against a brute-force reference, tie rule), degree weights, kNN accuracy,
// non-finite features rejected, and the feature memory's ring of 4.
#include "gcc/graph/feature_memory.hpp"
#include "gcc/graph/knn.hpp"
#include "gradcheck.hpp"

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

TEST_CASE("knn_topk_inner_product equals brute force across block boundaries") {
  const int64_t n = 203, d = 8, k = 6;
  Tensor f = rand_tensor(Shape{n, d}, 41);
  for (int64_t block : {int64_t(1000), int64_t(64), int64_t(7)}) {
    gcc::KnnGraph g = gcc::knn_topk_inner_product(f, k, block);
    for (int64_t i = 0; i < n; ++i) {
      std::vector<std::pair<double, int64_t>> all;
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t c = 0; c < d; ++c) s += static_cast<double>(f.at({i, c})) * f.at({j, c});
        all.push_back({-s, j});
      }
      std::sort(all.begin(), all.end());
      for (int64_t j = 0; j < k; ++j) {
        REQUIRE_MESSAGE(g.at(i, j) == all[static_cast<size_t>(j)].second,
                        "block " << block << " row " << i << " rank " << j);
      }
    }
  }
}

TEST_CASE("knn ties rank the smaller index first; self comes first for unit vectors") {
  // Rows 0, 2, 4 identical; rows 1, 3 identical and orthogonal to them.
  Tensor f = Tensor::from_vector({1, 0, 0, 1, 1, 0, 0, 1, 1, 0}, Shape{5, 2});
  gcc::KnnGraph g = gcc::knn_topk_inner_product(f, 3, 2);
  CHECK(std::vector<int64_t>(g.index.begin(), g.index.begin() + 3) == std::vector<int64_t>{0, 2, 4});
  CHECK(std::vector<int64_t>(g.index.begin() + 12, g.index.begin() + 15) == std::vector<int64_t>{0, 2, 4});
  CHECK(std::vector<int64_t>(g.index.begin() + 3, g.index.begin() + 6) == std::vector<int64_t>{1, 3, 0});
}

TEST_CASE("degree weights of the symmetric graph with self-loops") {
  gcc::KnnGraph g;
  g.n = 4;
  g.k = 2;
  g.index = {0, 1, 1, 0, 2, 1, 3, 1};  // 0:{0,1} 1:{1,0} 2:{2,1} 3:{3,1}
  // d_0 = |{0,1}| = 2; d_1 = |{1,0} ∪ {0,2,3}| = 4; d_2 = |{2,1}| = 2; d_3 = 2
  std::vector<float> w = gcc::degree_weights(g);
  CHECK(w[0] == doctest::Approx(std::sqrt(1.5)));
  CHECK(w[1] == doctest::Approx(std::sqrt(0.75)));
  CHECK(w[2] == doctest::Approx(std::sqrt(1.5)));
  CHECK(w[3] == doctest::Approx(std::sqrt(1.5)));
  CHECK(gcc::knn_label_accuracy(g, {0, 0, 1, 0}) == doctest::Approx(3.0 / 4.0));
}

TEST_CASE("knn rejects non-finite features, naming the row") {
  Tensor f = rand_tensor(Shape{10, 4}, 42);
  f.at({7, 2}) = NAN;
  CHECK_THROWS_WITH_AS(gcc::knn_topk_inner_product(f, 3), doctest::Contains("feature row 7 holds a non-finite"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::knn_topk_inner_product(rand_tensor(Shape{4, 2}, 1), 5),
                       doctest::Contains("k = 5 must be in [1, N = 4]"), gcc::Error);
}

TEST_CASE("feature memory keeps the last 4 pushes and averages them") {
  gcc::FeatureMemory mem(3, 2);
  for (int t = 1; t <= 6; ++t) mem.push({1}, Tensor::from_vector({static_cast<float>(t), 0}, Shape{1, 2}));
  mem.push({0, 2}, Tensor::from_vector({1, 1, 2, 2}, Shape{2, 2}));
  Tensor m = mem.mean();
  CHECK(mem.stored(1) == 4);
  check_values(m, {1, 1, (3 + 4 + 5 + 6) / 4.f, 0, 2, 2}, 1e-6, 0, "means");
  CHECK_THROWS_WITH_AS(mem.push({3}, Tensor::zeros(Shape{1, 2})), doctest::Contains("sample id 3 outside [0, 3)"),
                       gcc::Error);
}
